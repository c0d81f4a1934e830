// parse_retry_after (tern/transport.h): every transport's Retry-After, the
// built-in one's and those a host injects through the C API. It needs no
// HTTP library, so it is here and not in a transport.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tern/transport.h"

namespace tern {

namespace {

// Exactly `width` decimal digits (1 or 2 when width is 0: asctime's day).
bool read_number(std::string_view s, std::size_t width, int* out) {
  if (width ? s.size() != width : (s.empty() || s.size() > 2)) return false;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int month_number(std::string_view name) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (name == kMonths[i]) return i + 1;
  }
  return 0;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

// An HTTP-date (RFC 9110, 5.6.7) in any of its three forms:
//   Sun, 06 Nov 1994 08:49:37 GMT    (IMF-fixdate)
//   Sunday, 06-Nov-94 08:49:37 GMT   (obsolete RFC 850; 70-99 are 19xx)
//   Sun Nov  6 08:49:37 1994         (obsolete asctime)
// The weekday is not checked against the date.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  const std::vector<std::string_view> t = split_spaces(s);
  int day = 0, month = 0, year = 0;
  std::string_view clock;
  auto ends_with_comma = [](std::string_view w) { return w.size() > 1 && w.back() == ','; };
  if (t.size() == 6 && ends_with_comma(t[0]) && t[5] == "GMT") {
    if (!read_number(t[1], 2, &day) || !read_number(t[3], 4, &year)) return std::nullopt;
    month = month_number(t[2]);
    clock = t[4];
  } else if (t.size() == 4 && ends_with_comma(t[0]) && t[3] == "GMT") {
    std::string_view d = t[1];  // 06-Nov-94
    if (d.size() != 9 || d[2] != '-' || d[6] != '-') return std::nullopt;
    if (!read_number(d.substr(0, 2), 2, &day) || !read_number(d.substr(7, 2), 2, &year))
      return std::nullopt;
    year += year >= 70 ? 1900 : 2000;
    month = month_number(d.substr(3, 3));
    clock = t[2];
  } else if (t.size() == 5) {
    if (!read_number(t[2], 0, &day) || !read_number(t[4], 4, &year)) return std::nullopt;
    month = month_number(t[1]);
    clock = t[3];
  } else {
    return std::nullopt;
  }
  int hour = 0, minute = 0, second = 0;
  if (clock.size() != 8 || clock[2] != ':' || clock[5] != ':' ||
      !read_number(clock.substr(0, 2), 2, &hour) || !read_number(clock.substr(3, 2), 2, &minute) ||
      !read_number(clock.substr(6, 2), 2, &second)) {
    return std::nullopt;
  }
  if (month == 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  const int64_t secs =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& raw, std::chrono::system_clock::time_point now) {
  std::size_t b = 0, e = raw.size();
  while (b < e && std::isspace(static_cast<unsigned char>(raw[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(raw[e - 1]))) --e;
  if (b == e) return std::nullopt;
  std::string v = raw.substr(b, e - b);
  if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (v.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    return std::chrono::milliseconds(std::stoll(v) * 1000);
  }
  auto target = parse_http_date(v);
  if (!target) return std::nullopt;
  if (*target <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*target - now);
}

}  // namespace tern
