#include "tern/base/retry_after.h"

#include <cstdint>

namespace tern::base {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

int number(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// 1..12 for a month's name or its three-letter abbreviation, else 0.
int month_of(std::string_view t) {
  static constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                                 "may",       "june",     "july",     "august",
                                                 "september", "october",  "november", "december"};
  for (int m = 0; m < 12; ++m) {
    if (iequals(t, kMonths[m].substr(0, 3)) || iequals(t, kMonths[m])) return m + 1;
  }
  return 0;
}

bool is_weekday(std::string_view t) {
  static constexpr std::string_view kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
  for (auto d : kDays) {
    if (iequals(t, d.substr(0, 3)) || iequals(t, d)) return true;
  }
  return false;
}

// Howard Hinnant's days_from_civil.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Seconds since the Unix epoch of an HTTP date; nullopt if it is not one.
// Tokens (split at spaces, commas and dashes) are recognised by their shape,
// which covers the three forms: a weekday, a day, a month name, a year (four
// digits, or two in RFC 850's form), hh:mm:ss and the zone GMT.
std::optional<int64_t> parse_http_date(std::string_view s) {
  int day = -1, month = 0, year = -1, hh = -1, mm = -1, ss = -1;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == ',' || s[i] == '-' || s[i] == '\t') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != '-' && s[j] != '\t') ++j;
    std::string_view t = s.substr(i, j - i);
    i = j;
    if (t.find(':') != std::string_view::npos) {
      if (hh >= 0 || t.size() != 8 || t[2] != ':' || t[5] != ':' || !all_digits(t.substr(0, 2)) ||
          !all_digits(t.substr(3, 2)) || !all_digits(t.substr(6, 2))) {
        return std::nullopt;
      }
      hh = number(t.substr(0, 2));
      mm = number(t.substr(3, 2));
      ss = number(t.substr(6, 2));
    } else if (all_digits(t)) {
      if (t.size() == 4 && year < 0) {
        year = number(t);
      } else if (t.size() <= 2 && day < 0) {
        day = number(t);
      } else if (t.size() == 2 && year < 0 && month != 0) {
        int yy = number(t);  // RFC 850: a two-digit year
        year = yy < 70 ? 2000 + yy : 1900 + yy;
      } else {
        return std::nullopt;
      }
    } else if (int m = month_of(t); m != 0 && month == 0) {
      month = m;
    } else if (!is_weekday(t) && !iequals(t, "GMT") && !iequals(t, "UTC")) {
      return std::nullopt;
    }
  }
  if (day < 1 || month == 0 || year < 1970 || hh < 0 || hh > 23 || mm > 59 || ss > 60 ||
      day > days_in_month(year, month)) {
    return std::nullopt;
  }
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hh * 3600 + mm * 60 + ss;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) {
  std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  if (all_digits(v)) {
    if (v.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    return std::chrono::milliseconds(int64_t{number(v)} * 1000);
  }
  std::optional<int64_t> when = parse_http_date(v);
  if (!when) return std::nullopt;
  auto target = std::chrono::system_clock::time_point(std::chrono::seconds(*when));
  if (target <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(target - now);
}

std::optional<std::string_view> retry_after_header(std::string_view line) {
  constexpr std::string_view kName = "retry-after:";
  if (line.size() < kName.size() || !iequals(line.substr(0, kName.size()), kName)) {
    return std::nullopt;
  }
  return trim(line.substr(kName.size()));
}

}  // namespace tern::base
