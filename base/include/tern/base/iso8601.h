// ISO-8601 / RFC 3339 timestamps as both halves write them (event timestamps,
// sentAt, log lines).
#pragma once

#include <chrono>
#include <string>

namespace tern::base {

// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ": UTC, milliseconds, always 24 characters
// (a year outside 0000..9999 is clamped to it). Pure arithmetic: no syscall,
// no locale, no printf; the relay and the SDK call it once per event.
void append_iso8601_ms(std::string& out, std::chrono::system_clock::time_point t);

// The same, as a new string.
std::string format_iso8601_ms(std::chrono::system_clock::time_point t);

}  // namespace tern::base
