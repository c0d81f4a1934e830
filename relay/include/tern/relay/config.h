// RelayConfig: everything the relay is configured with, loaded from one TOML
// file (relay/tern-relay.example.toml documents every key) and command-line
// flags. Reloaded on SIGHUP: a config that fails to load or validate is
// refused and the running one stays.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/pipeline.h"

namespace tern::relay {

// The SDK settings of a source: its `settings` table in TOML (camelCase keys,
// as served), the admin API source's `settings` object. The relay serves them
// to apps at GET /v1/projects/{writeKey}/settings under "tern"; a value left
// unset is served as its default (the k* constants).
struct SourceSettings {
  static constexpr bool kEnabled = true;
  static constexpr double kSampleRate = 1.0;
  static constexpr int64_t kFlushAt = 20;
  static constexpr int64_t kFlushIntervalMs = 30'000;
  static constexpr int64_t kSessionTimeoutMs = 300'000;
  static constexpr int64_t kTtlSeconds = 86'400;

  std::optional<bool> enabled;                // enabled: false is the SDK's kill switch
  std::optional<double> sample_rate;          // sampleRate, 0..1 (per session)
  std::optional<int64_t> flush_at;            // flushAt, 1..10000 events
  std::optional<int64_t> flush_interval_ms;   // flushIntervalMs, >= 100
  std::optional<int64_t> session_timeout_ms;  // sessionTimeoutMs, >= 1000
  std::optional<int64_t> ttl_seconds;         // ttlSeconds, >= 60: how long a kill switch lasts
  // Every other key, passed through to the SDK as given: key -> its value as
  // JSON text (compact).
  std::map<std::string, std::string> extra;

  bool operator==(const SourceSettings& o) const {
    return enabled == o.enabled && sample_rate == o.sample_rate && flush_at == o.flush_at &&
           flush_interval_ms == o.flush_interval_ms && session_timeout_ms == o.session_timeout_ms &&
           ttl_seconds == o.ttl_seconds && extra == o.extra;
  }
  bool operator!=(const SourceSettings& o) const { return !(*this == o); }
};

struct SourceConfig {
  std::string id;  // source id, stamped into events as context.sourceId... see enrichment
  std::vector<std::string> write_keys;  // keys that authenticate as this source
  AckMode ack_mode = AckMode::kLocal;
  double rate_limit_eps = 0;    // token bucket rate per write key, events/s; 0 = unlimited
  double rate_limit_burst = 0;  // bucket size; 0 = 2 × rate
  std::chrono::seconds dedup_window{600};
  std::size_t dedup_max_entries = 1'000'000;  // memory bound of the dedup set
  SourceSettings settings;                    // served to SDKs (see SourceSettings)
};

struct LimitsConfig {
  std::size_t max_body_bytes = 512 * 1024;  // compressed, as received
  std::size_t max_decompressed_bytes = 4 * 1024 * 1024;
  double max_inflate_ratio = 100.0;  // decompressed / compressed
  std::size_t max_batch_events = 2'500;
  std::size_t max_event_bytes = 32 * 1024;
  std::size_t max_batch_bytes = 500 * 1024;  // decompressed JSON batch
  std::size_t max_json_depth = 32;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive idle
  std::chrono::milliseconds read_timeout{10'000};      // one request, headers to end of body
  std::chrono::milliseconds sink_ack_timeout{10'000};  // ack mode "sink"
};

struct TlsConfig {
  bool enabled = false;
  std::string cert_file;
  std::string key_file;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  int threads = 0;  // 0: one per core
  TlsConfig tls;
  std::vector<std::string> trusted_proxies;  // IPs whose X-Forwarded-For is believed
  std::vector<std::string> cors_origins = {"*"};
};

struct SpoolConfig {
  std::string dir;                                // default: <data-dir>/spool
  std::size_t max_bytes = 1024ull * 1024 * 1024;  // past it: 503 + Retry-After, /ready fails
  std::chrono::milliseconds commit_window{0};     // extra group-commit wait; 0: none
  std::size_t memory_tail_bytes = 16u << 20;      // recent commits kept for the sinks; 0: off
  int retry_after_seconds = 5;
};

struct SinkConfig {
  std::string name;  // unique instance name, e.g. "events-file"
  std::string type;  // registry name: "file", "stdout", "kafka", "http", "postgres"
  // Where the config file sets `type` ("FILE:LINE:COL: sinks[N].type"), so an
  // unknown type is reported as every other config error is; empty for a sink
  // not read from a file. Not part of the sink's identity on reload.
  std::string type_origin;
  std::size_t batch_max_events = 500;
  std::size_t batch_max_bytes = 1024 * 1024;
  std::chrono::milliseconds batch_linger{50};
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{30'000};
  std::string dead_letter_path;  // default: <data-dir>/dead-letter/<name>.ndjson
  // Type-specific settings, flattened "key" -> value text (nested tables as
  // "a.b"); each sink parses and validates its own.
  std::map<std::string, std::string> settings;
};

struct RouteConfig {
  std::vector<std::string> sources;  // empty: every source
  std::vector<std::string> types;    // event types; empty: every type
  std::vector<std::string> sinks;    // sink instance names

  bool operator==(const RouteConfig& o) const {
    return sources == o.sources && types == o.types && sinks == o.sinks;
  }
  bool operator!=(const RouteConfig& o) const { return !(*this == o); }
};

struct LogConfig {
  std::string level = "info";
};

// [admin]: the admin API's listener (docs/control-plane.md); off when empty.
struct AdminConfig {
  std::string listen;
  std::string token_file;  // the bootstrap token's file (else $TERN_ADMIN_TOKEN, else generated)
  int max_taps = 4;        // live taps (GET /admin/v1/tap) open at once
  int tap_max_events_per_second = 100;  // per tap; more matching events are sampled out
};

// [control]: managed mode, following a control relay's state.
struct ControlConfig {
  std::string url;  // empty: not managed
  std::string token_file;
  std::string relay_id;                       // default: default_relay_id()
  std::map<std::string, std::string> labels;  // reported to the control plane
};

struct RelayConfig {
  std::string data_dir = "./tern-data";
  AdminConfig admin;
  ControlConfig control;
  ServerConfig server;
  LimitsConfig limits;
  SpoolConfig spool;
  LogConfig log;
  std::vector<SourceConfig> sources;
  std::vector<SinkConfig> sinks;    // default: one "file" sink under <data-dir>/events
  std::vector<RouteConfig> routes;  // default: every source to every sink
  // userIds whose events are dropped at ingest (reason "suppressed"), for
  // privacy requests; set by the control plane (not a TOML key).
  std::vector<std::string> suppressed_user_ids;
};

// Parses TOML text (`origin` names it in errors). Fills defaults, validates
// (unknown keys, duplicate names, routes naming unknown sinks, bad values) and
// returns a clear error naming the key.
Result<RelayConfig> parse_config(std::string_view toml_text, std::string_view origin);
Result<RelayConfig> load_config_file(const std::string& path);

// The settings a SIGHUP reload does not apply (they take effect at the next
// start), by key ("server.listen", "spool.commit_window", ...), in file order,
// for those that differ between `running` and `next`. data_dir and spool.dir
// are not among them: a reload that changes them is refused.
std::vector<std::string> settings_needing_restart(const RelayConfig& running,
                                                  const RelayConfig& next);

// The embedded default: one source "default" with `write_keys`, a file sink
// under <data_dir>/events, every source routed to it.
RelayConfig default_config(std::string data_dir, std::vector<std::string> write_keys);

// "<hostname>-<port>", the port taken from `listen` ("0.0.0.0:8080"): what
// a relay calls itself when --relay-id is not given. Stable across restarts
// when the port is configured.
std::string default_relay_id(const std::string& listen);

// config.control.relay_id, else default_relay_id(config.server.listen).
std::string relay_id_of(const RelayConfig& config);

}  // namespace tern::relay
