// Structured JSON logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-26T04:31:02.123Z","level":"warn","msg":"sink failed","sink":"kafka","attempt":3}
//
// Usage:
//   tern::relay::log::info("listening", {{"addr", "127.0.0.1:8080"}, {"threads", 2}});
//   tern::relay::log::warn("spool full", {{"bytes", spool_bytes}});
//
// Threads: every function is thread-safe. Each line is written with a single
// write(2), so lines from different threads never interleave.
// Cost: a call below the current level returns after one relaxed atomic load.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace tern::relay::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

const char* level_name(Level level) noexcept;  // "debug", "info", "warn", "error"
// Parses "debug" / "info" / "warn" / "warning" / "error"; false if unknown.
bool parse_level(std::string_view text, Level* out) noexcept;

// One key/value pair of a log line. The value is stored already encoded as
// JSON (strings quoted and escaped; numbers and booleans bare).
class Field {
 public:
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const char* value);
  Field(std::string_view key, const std::string& value);
  Field(std::string_view key, bool value);
  Field(std::string_view key, double value);
  template <typename T,
            typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  Field(std::string_view key, T value) : key_(key), json_(std::to_string(value)) {}

  const std::string& key() const noexcept { return key_; }
  const std::string& json() const noexcept { return json_; }

 private:
  std::string key_;
  std::string json_;
};

using Fields = std::initializer_list<Field>;

// Lines below `level` are discarded. Default: kInfo.
void set_level(Level level) noexcept;
Level level() noexcept;
inline bool enabled(Level l) noexcept { return static_cast<int>(l) >= static_cast<int>(level()); }

// Replaces the output (default: write(2) to stderr). `out` receives each
// complete line including its trailing '\n'. Pass an empty function to restore
// stderr. Meant for tests and for embedding; not for the hot path.
void set_output(std::function<void(std::string_view line)> out);

// Names the calling thread (shown by top -H, ps -L, perf and debuggers;
// Linux keeps the first 15 bytes). Threads: the relay's own threads call it
// once at their start: tern-io, tern-spool, tern-callbacks, tern-sink-<name>.
void set_thread_name(std::string_view name);

// Formats one line (with trailing '\n') without writing it.
std::string format(Level level, std::string_view msg, Fields fields);

void write(Level level, std::string_view msg, Fields fields = {});
inline void debug(std::string_view msg, Fields fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, fields);
}
inline void info(std::string_view msg, Fields fields = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, msg, fields);
}
inline void warn(std::string_view msg, Fields fields = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, msg, fields);
}
inline void error(std::string_view msg, Fields fields = {}) { write(Level::kError, msg, fields); }

}  // namespace tern::relay::log
