// ISO-8601 / RFC 3339 timestamps as both halves write them (event timestamps,
// sentAt, log lines).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tern::base {

// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ": UTC, milliseconds, always 24 characters
// (a year outside 0000..9999 is clamped to it). Pure arithmetic: no syscall,
// no locale, no printf; the relay and the SDK call it once per event.
void append_iso8601_ms(std::string& out, std::chrono::system_clock::time_point t);

// The same, as a new string.
std::string format_iso8601_ms(std::chrono::system_clock::time_point t);

// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM]` ('t' or ' ' may
// separate date and time; no zone means UTC). Fractions beyond microseconds
// are truncated. Returns nullopt for anything else, including out-of-range
// fields (month 13, second 61) and years outside 1900..2100 (so that the
// difference of two parsed times never overflows).
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

}  // namespace tern::base
