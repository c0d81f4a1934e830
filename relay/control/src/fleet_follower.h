// FleetFollower: a managed relay's link to its control plane
// (docs/control-plane.md, "Managed relays"). One thread long-polls
// GET /admin/v1/fleet/snapshot with If-None-Match and ?wait=, applies each
// new snapshot through `apply`, writes it to the cache file when applied
// (temp file, fsync, rename), mirrors it into the local store, and reports
// {relay_id, applied_revision, status, errors} with POST /admin/v1/fleet/reports.
// On failures it retries with jittered exponential backoff (0.5 s to 30 s).
// Exports tern_relay_config_revision and tern_relay_config_age_seconds.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "control_state.h"
#include "tern/base/status.h"
#include "tern/relay/metrics.h"

namespace tern::relay::control {

struct FollowerOptions {
  std::string control_url;  // "http://host:port" (https too)
  std::string token;        // a token with the relay scope
  std::string relay_id;
  std::map<std::string, std::string> labels;
  std::string version;
  std::string cache_path;  // <data_dir>/control/snapshot.json
  std::chrono::seconds wait{30};
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30'000};
  std::string ca_file;  // for https with a private CA; empty: the system's
};

class FleetFollower {
 public:
  // `apply` runs on the follower's thread; its status is what gets reported.
  // `on_applied` (optional) runs after a snapshot was applied and cached.
  FleetFollower(FollowerOptions options, std::function<Status(const State&)> apply,
                Metrics* metrics, std::function<void(const State&)> on_applied = {});
  ~FleetFollower();  // stop()

  // The cached snapshot, if the file exists; kCorruption for a damaged one
  // (the caller logs it and starts without).
  static Result<std::optional<State>> load_cache(const std::string& path);

  // Records `state` as applied at startup (from the cache) without
  // fetching: the revision it runs and the age reference.
  void booted_from(const State& state);

  void start();
  void stop();  // wakes a long poll in progress (curl's progress callback) and joins

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay::control
