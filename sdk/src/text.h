// Text helpers for the hot path: UTF-8 validation and JSON object checks
// without a DOM. (JSON string escaping and ISO-8601 timestamps are in
// tern::base: tern/base/json_text.h, tern/base/iso8601.h.)
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tern {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// Milliseconds since the Unix epoch.
int64_t to_unix_ms(std::chrono::system_clock::time_point t) noexcept;

// True when `text` is exactly one JSON object (RFC 8259; surrounding
// whitespace allowed; nesting at most kMaxJsonDepth), with valid UTF-8
// strings. A hand-written validator: no DOM, no allocation.
constexpr int kMaxJsonDepth = 256;
bool is_json_object_text(std::string_view text) noexcept;

// Parses JSON text into a DOM; a discarded value (is_discarded()) on any
// error. The SDK's one parse entry point (one parser instantiation: size).
nlohmann::json parse_json(std::string_view text) noexcept;

}  // namespace tern
