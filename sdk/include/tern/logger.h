// Logger: where the SDK reports what it did and what went wrong.
//
// Contract: log() may be called from any SDK thread (the caller's thread for
// rejected events, the worker thread for storage and upload). An
// implementation must be thread-safe and must not call back into the Client.
// It must not throw.
#pragma once

#include <memory>
#include <string_view>

namespace tern {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

const char* log_level_name(LogLevel level) noexcept;

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
};

// Writes "tern [level] message" lines to stderr, at `min_level` and above.
std::shared_ptr<Logger> make_stderr_logger(LogLevel min_level = LogLevel::kWarn);

// Discards everything.
std::shared_ptr<Logger> make_null_logger();

}  // namespace tern
