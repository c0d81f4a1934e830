#include "text.h"

#include <nlohmann/json.hpp>

namespace tern {

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      unsigned char cc = p[i];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default: {
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(buf, 6);
      }
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

namespace {
// Howard Hinnant's civil_from_days.
void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

inline void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

int64_t to_unix_ms(std::chrono::system_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void append_iso8601(std::string& out, std::chrono::system_clock::time_point t) {
  int64_t ms = to_unix_ms(t);
  int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  int64_t rem = ms - days * 86400000;
  int y;
  unsigned mo, d;
  civil_from_days(days, y, mo, d);
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  unsigned hh = static_cast<unsigned>(rem / 3600000);
  unsigned mi = static_cast<unsigned>(rem / 60000 % 60);
  unsigned ss = static_cast<unsigned>(rem / 1000 % 60);
  unsigned mss = static_cast<unsigned>(rem % 1000);
  char buf[24];
  put2(buf, static_cast<unsigned>(y) / 100);
  put2(buf + 2, static_cast<unsigned>(y) % 100);
  buf[4] = '-';
  put2(buf + 5, mo);
  buf[7] = '-';
  put2(buf + 8, d);
  buf[10] = 'T';
  put2(buf + 11, hh);
  buf[13] = ':';
  put2(buf + 14, mi);
  buf[16] = ':';
  put2(buf + 17, ss);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + mss / 100);
  put2(buf + 21, mss % 100);
  buf[23] = 'Z';
  out.append(buf, 24);
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  std::string s;
  append_iso8601(s, t);
  return s;
}

bool is_json_object_text(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  if (i == text.size() || text[i] != '{') return false;
  try {
    // accept() runs the SAX parser without building a DOM; its lexer rejects
    // ill-formed UTF-8 inside strings.
    return nlohmann::json::accept(text);
  } catch (...) {
    return false;
  }
}

}  // namespace tern
