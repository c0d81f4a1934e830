#include "units.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tern::relay {

namespace {

// Splits "<number>[ ]<unit>": false unless the number is a finite,
// non-negative decimal (digits and '.').
bool split_quantity(std::string_view text, double* value, std::string_view* unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  std::string num(text.substr(0, i));
  *unit = text.substr(i);
  while (!unit->empty() && unit->front() == ' ') unit->remove_prefix(1);
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(num.c_str(), &end);
  return errno == 0 && end == num.c_str() + num.size() && std::isfinite(*value) && *value >= 0;
}

}  // namespace

bool parse_duration(std::string_view text, std::chrono::milliseconds* out) {
  double v;
  std::string_view unit;
  if (!split_quantity(text, &v, &unit) || unit.empty()) return false;
  double ms;
  if (unit == "us")
    ms = v / 1000.0;
  else if (unit == "ms")
    ms = v;
  else if (unit == "s")
    ms = v * 1000.0;
  else if (unit == "m" || unit == "min")
    ms = v * 60'000.0;
  else if (unit == "h")
    ms = v * 3'600'000.0;
  else if (unit == "d")
    ms = v * 86'400'000.0;
  else
    return false;
  if (ms > 1e15) return false;
  *out = std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
  return true;
}

bool parse_size(std::string_view text, std::size_t* out) {
  double v;
  std::string_view unit;
  if (!split_quantity(text, &v, &unit)) return false;
  double mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KB" || unit == "kB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  else if (unit == "TB")
    mult = 1e12;
  else if (unit == "KiB")
    mult = 1024.0;
  else if (unit == "MiB")
    mult = 1024.0 * 1024;
  else if (unit == "GiB")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "TiB")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return false;
  double bytes = v * mult;
  if (bytes > 9e18) return false;
  *out = static_cast<std::size_t>(std::llround(bytes));
  return true;
}

}  // namespace tern::relay
