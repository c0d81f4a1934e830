// HTTP Retry-After (RFC 9110 section 10.2.3): how long a server asked us to wait.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace tern::base {

// Parses a Retry-After value, relative to `now`: delta seconds ("120"), or an
// HTTP date in any of the three forms RFC 9110 allows (IMF-fixdate
// "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850, asctime). Surrounding whitespace
// is ignored. A date in the past is 0; more than nine digits of seconds is a
// year; nullopt for anything else (empty, garbage, an impossible date).
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// The value of a raw header line when it is a Retry-After header (the name
// matched case-insensitively, the value without surrounding whitespace or
// CRLF); nullopt for any other line. For curl's header callbacks.
std::optional<std::string_view> retry_after_header(std::string_view line);

}  // namespace tern::base
