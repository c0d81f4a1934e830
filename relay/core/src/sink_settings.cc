// SinkSettings: a sink's own settings, typed, with errors naming the sink and key.
#include "tern/relay/sink_settings.h"

#include <cerrno>
#include <cstdlib>

#include "units.h"

namespace tern::relay {

const std::string* SinkSettings::find(std::string_view key) {
  used_.insert(std::string(key));
  auto it = config_.settings.find(std::string(key));
  return it == config_.settings.end() ? nullptr : &it->second;
}

bool SinkSettings::has(std::string_view key) const {
  return config_.settings.count(std::string(key)) > 0;
}

void SinkSettings::fail(std::string_view key, const std::string& msg) {
  if (!error_.empty()) return;
  error_ = "sink \"" + config_.name + "\" (" + config_.type + "): " + std::string(key) + ": " + msg;
}

std::string SinkSettings::str(std::string_view key, std::string def) {
  const std::string* v = find(key);
  return v ? *v : def;
}

bool SinkSettings::boolean(std::string_view key, bool def) {
  const std::string* v = find(key);
  if (!v) return def;
  if (*v == "true") return true;
  if (*v == "false") return false;
  fail(key, "expected true or false, got \"" + *v + "\"");
  return def;
}

int64_t SinkSettings::integer(std::string_view key, int64_t def, int64_t min, int64_t max) {
  const std::string* v = find(key);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || errno != 0 || *end != '\0' || n < min || n > max) {
    fail(key, "expected an integer between " + std::to_string(min) + " and " + std::to_string(max) +
                  ", got \"" + *v + "\"");
    return def;
  }
  return n;
}

std::size_t SinkSettings::size(std::string_view key, std::size_t def) {
  const std::string* v = find(key);
  if (!v) return def;
  std::size_t n = 0;
  if (!parse_size(*v, &n) || n == 0) {
    fail(key, "expected a positive size like 1048576 or \"512KiB\", got \"" + *v + "\"");
    return def;
  }
  return n;
}

std::chrono::milliseconds SinkSettings::duration(std::string_view key,
                                                 std::chrono::milliseconds def) {
  const std::string* v = find(key);
  if (!v) return def;
  std::chrono::milliseconds d{0};
  if (!parse_duration(*v, &d)) {
    fail(key, "expected a duration like \"50ms\", \"10s\" or \"1h\", got \"" + *v + "\"");
    return def;
  }
  return d;
}

Status SinkSettings::finish() const {
  if (!error_.empty()) return Status(StatusCode::kInvalidArgument, error_);
  for (const auto& [k, v] : config_.settings) {
    if (!used_.count(k)) {
      return Status(StatusCode::kInvalidArgument, "sink \"" + config_.name + "\" (" + config_.type +
                                                      "): unknown setting \"" + k + "\"");
    }
  }
  return Status::ok();
}

}  // namespace tern::relay
