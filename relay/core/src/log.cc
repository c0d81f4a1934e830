#include "tern/relay/log.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "tern/base/iso8601.h"
#include "tern/base/json_text.h"

namespace tern::relay::log {

void set_thread_name(std::string_view name) {
#ifdef __linux__
  char buf[16] = {};
  std::memcpy(buf, name.data(), std::min<std::size_t>(name.size(), sizeof buf - 1));
  pthread_setname_np(pthread_self(), buf);
#else
  (void)name;
#endif
}

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

struct Output {
  std::mutex mu;
  std::function<void(std::string_view)> fn;
};

Output& output() {
  // Leaked on purpose: logging must keep working during static destruction.
  static Output* o = new Output();
  return *o;
}

void write_stderr(std::string_view line) {
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void append_timestamp(std::string& out) {
  base::append_iso8601_ms(out, std::chrono::system_clock::now());
}

}  // namespace

const char* level_name(Level level) noexcept {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool parse_level(std::string_view text, Level* out) noexcept {
  Level l;
  if (text == "debug")
    l = Level::kDebug;
  else if (text == "info")
    l = Level::kInfo;
  else if (text == "warn" || text == "warning")
    l = Level::kWarn;
  else if (text == "error")
    l = Level::kError;
  else
    return false;
  if (out) *out = l;
  return true;
}

Field::Field(std::string_view key, std::string_view value) : key_(key) {
  base::append_json_string(json_, value);
}
Field::Field(std::string_view key, const char* value)
    : Field(key, std::string_view(value ? value : "")) {}
Field::Field(std::string_view key, const std::string& value)
    : Field(key, std::string_view(value)) {}
Field::Field(std::string_view key, bool value) : key_(key), json_(value ? "true" : "false") {}
Field::Field(std::string_view key, double value) : key_(key) {
  if (!std::isfinite(value)) {
    json_ = "null";  // JSON has no NaN/Inf
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  json_ = buf;
}

void set_level(Level level) noexcept {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}
Level level() noexcept { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

void set_output(std::function<void(std::string_view line)> out) {
  Output& o = output();
  std::lock_guard<std::mutex> lock(o.mu);
  o.fn = std::move(out);
}

std::string format(Level level, std::string_view msg, Fields fields) {
  std::string line;
  line.reserve(64 + msg.size() + fields.size() * 24);
  line += "{\"ts\":\"";
  append_timestamp(line);
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":";
  base::append_json_string(line, msg);
  for (const Field& f : fields) {
    line += ',';
    base::append_json_string(line, f.key());
    line += ':';
    line += f.json();
  }
  line += "}\n";
  return line;
}

void write(Level lvl, std::string_view msg, Fields fields) {
  if (!enabled(lvl)) return;
  std::string line = format(lvl, msg, fields);
  Output& o = output();
  std::lock_guard<std::mutex> lock(o.mu);
  if (o.fn) {
    o.fn(line);
  } else {
    write_stderr(line);
  }
}

}  // namespace tern::relay::log
