// ISO-8601 / RFC 3339 timestamps as Segment clients send them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "tern/base/iso8601.h"

namespace tern::relay {

using SysTime = std::chrono::system_clock::time_point;

// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM]` ('t' or ' ' may
// separate date and time; no zone means UTC). Fractions beyond microseconds
// are truncated. Returns nullopt for anything else, including out-of-range
// fields (month 13, second 61) and years outside 1900..2100.
std::optional<SysTime> parse_iso8601(std::string_view text);

// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds): tern::base's formatter.
inline std::string format_iso8601_ms(SysTime t) { return base::format_iso8601_ms(t); }
// The same appended to `out`, with no string of its own (once per event).
inline void append_iso8601_ms(std::string& out, SysTime t) { base::append_iso8601_ms(out, t); }

}  // namespace tern::relay
