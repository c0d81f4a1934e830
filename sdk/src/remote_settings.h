// Settings served by the relay: GET <endpoint>/v1/projects/<writeKey>/settings
// answers a Segment-shaped body whose "tern" block overrides a few Config
// values while it is in force. Engine::fetch_settings (remote_settings.cc)
// runs on the worker; the hot path reads only the atomics of
// EffectiveSettings.
//
// Stored in kv (one transaction per good answer): settings.body,
// settings.etag, settings.fetched_ms. At start the stored copy is applied
// before any fetch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tern/config.h"

namespace tern {

constexpr const char* kKeySettingsBody = "settings.body";
constexpr const char* kKeySettingsEtag = "settings.etag";
constexpr const char* kKeySettingsFetchedMs = "settings.fetched_ms";

// The "tern" block; a key that is absent or out of range is not set.
struct RemoteSettings {
  std::optional<bool> enabled;
  std::optional<double> sample_rate;          // 0..1
  std::optional<std::size_t> flush_at;        // 1..10000
  std::optional<int64_t> flush_interval_ms;   // >= 100
  std::optional<int64_t> session_timeout_ms;  // >= 1000
  std::optional<int64_t> ttl_seconds;         // >= 60
};

// nullopt when `body` is not a JSON object, or its "tern" member is not one.
std::optional<RemoteSettings> parse_remote_settings(std::string_view body);

// <base>/v1/projects/<write_key percent-encoded>/settings (trailing '/' of base dropped).
std::string settings_url(std::string_view base, std::string_view write_key);

// How long the kill switch holds when the settings name no ttlSeconds.
constexpr int64_t kDefaultSettingsTtlSeconds = 86400;

// What is in force now: the Config's values, overridden by the last applied
// settings. Written by whoever applies settings (start, the worker), read
// from any thread.
class EffectiveSettings {
 public:
  explicit EffectiveSettings(const Config& c);
  // Applies `s`, fetched at wall time `fetched_ms`.
  void apply(const RemoteSettings& s, int64_t fetched_ms);

  std::size_t flush_at() const { return flush_at_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds flush_interval() const {
    return std::chrono::milliseconds(flush_interval_ms_.load(std::memory_order_relaxed));
  }
  int64_t session_timeout_ms() const { return session_timeout_ms_.load(std::memory_order_relaxed); }
  // enabled: false, fetched at most ttl ago (and not in the future: a clock
  // set back cannot stretch it).
  bool kill_switch_active(int64_t now_ms) const {
    int64_t until = kill_until_ms_.load(std::memory_order_relaxed);
    return now_ms < until && now_ms >= kill_from_ms_.load(std::memory_order_relaxed);
  }
  int64_t kill_until_ms() const { return kill_until_ms_.load(std::memory_order_relaxed); }

 private:
  const std::size_t config_flush_at_;
  const int64_t config_flush_interval_ms_;
  const int64_t config_session_timeout_ms_;
  std::atomic<std::size_t> flush_at_;
  std::atomic<int64_t> flush_interval_ms_;
  std::atomic<int64_t> session_timeout_ms_;
  std::atomic<int64_t> kill_from_ms_{0};
  std::atomic<int64_t> kill_until_ms_{0};
};

}  // namespace tern
