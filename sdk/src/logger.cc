#include "tern/logger.h"

#include <cstdio>
#include <mutex>
#include <string>

namespace tern {

const char* log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

namespace {

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min) : min_(min) {}
  void log(LogLevel level, std::string_view message) override {
    if (level < min_) return;
    std::string line = "tern [";
    line += log_level_name(level);
    line += "] ";
    line.append(message.data(), message.size());
    line += '\n';
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

 private:
  LogLevel min_;
  std::mutex mu_;
};

class NullLogger final : public Logger {
 public:
  void log(LogLevel, std::string_view) override {}
};

}  // namespace

std::shared_ptr<Logger> make_stderr_logger(LogLevel min_level) {
  return std::make_shared<StderrLogger>(min_level);
}

std::shared_ptr<Logger> make_null_logger() { return std::make_shared<NullLogger>(); }

}  // namespace tern
