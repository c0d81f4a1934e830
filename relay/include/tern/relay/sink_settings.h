// SinkSettings: typed access to SinkConfig::settings for sink factories, with
// errors that name the sink and the key.
//
//   SinkSettings s(config);
//   std::size_t max_bytes = s.size("max_bytes", 128 << 20);
//   bool gzip = s.boolean("gzip", false);
//   if (Status st = s.finish(); !st) return st;   // bad values, unknown keys
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "tern/base/status.h"
#include "tern/relay/config.h"

namespace tern::relay {

class SinkSettings {
 public:
  explicit SinkSettings(const SinkConfig& config) : config_(config) {}

  std::string str(std::string_view key, std::string def);
  bool boolean(std::string_view key, bool def);  // true/false
  int64_t integer(std::string_view key, int64_t def, int64_t min, int64_t max);
  std::size_t size(std::string_view key, std::size_t def);  // 1048576, "512KiB", "1GB"
  std::chrono::milliseconds duration(std::string_view key,
                                     std::chrono::milliseconds def);  // "50ms", "1h"
  bool has(std::string_view key) const;

  // kInvalidArgument for the first bad value, else for the first key no
  // getter asked for; ok otherwise.
  Status finish() const;

 private:
  const std::string* find(std::string_view key);
  void fail(std::string_view key, const std::string& msg);

  const SinkConfig& config_;
  std::set<std::string, std::less<>> used_;
  std::string error_;
};

}  // namespace tern::relay
