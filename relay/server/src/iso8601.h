// ISO-8601 / RFC 3339 timestamps as Segment clients send them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "tern/base/iso8601.h"

namespace tern::relay {

using SysTime = std::chrono::system_clock::time_point;

// tern::base's parser (see tern/base/iso8601.h).
inline std::optional<SysTime> parse_iso8601(std::string_view text) {
  return base::parse_iso8601(text);
}

// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds): tern::base's formatter.
inline std::string format_iso8601_ms(SysTime t) { return base::format_iso8601_ms(t); }
// The same appended to `out`, with no string of its own (once per event).
inline void append_iso8601_ms(std::string& out, SysTime t) { base::append_iso8601_ms(out, t); }

}  // namespace tern::relay
