// Application lifecycle (lifecycle.h): the launch decision, and the Engine's
// app_launched / app_foreground / app_background / session_id. They run on
// the host's thread and only hand events off: the stored version/build were
// read at start, and the new ones are written by the worker in the same
// transaction as the Installed/Updated event.
#include "lifecycle.h"

#include "engine.h"
#include "event_builder.h"
#include "text.h"

namespace tern {

namespace {
constexpr const char* kKeyAppVersion = "app.version";
constexpr const char* kKeyAppBuild = "app.build";
}  // namespace

LaunchEvent decide_launch(const std::optional<std::string>& stored_version,
                          const std::optional<std::string>& stored_build, bool legacy,
                          std::string_view version, std::string_view build) {
  LaunchEvent out;
  if (!stored_build && !legacy) {
    out.event = "Application Installed";
    out.properties = {{"version", std::string(version)}, {"build", std::string(build)}};
    return out;
  }
  if (stored_build && *stored_build == build) return out;
  out.event = "Application Updated";
  out.properties = {{"version", std::string(version)},
                    {"build", std::string(build)},
                    {"previous_version", nullptr},
                    {"previous_build", nullptr}};
  if (stored_build) {
    out.properties["previous_build"] = *stored_build;
    if (stored_version) out.properties["previous_version"] = *stored_version;
  }
  return out;
}

// The lifecycle calls answer kOk, kInvalidArgument or kCancelled (shut
// down): an event refused for another reason (opt-out, consent, a plugin, a
// full queue) is counted in Stats like any other, but is not the host's
// error to handle.
Status Engine::record_lifecycle(const char* event, const nlohmann::json& properties,
                                Internal internal) {
  try {
    internal.lifecycle = true;
    Status s = gate();
    if (!s) {
      hand_off_kv(std::move(internal.kv));
    } else {
      std::string props = dump_object(properties);
      RawMessage m;
      m.type = MessageType::kTrack;
      m.event = event;
      m.properties_json = props;
      s = submit(m, std::string(), nullptr, &internal);
    }
    if (s.code() == StatusCode::kCancelled) return s;
    return Status::ok();
  } catch (const std::exception& e) {
    return reject(DropReason::kInvalid, StatusCode::kInternal,
                  std::string("unexpected error: ") + e.what());
  } catch (...) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, "unexpected error");
  }
}

void Engine::request_settings_fetch() {
  if (!config_.fetch_settings) return;
  MutexLock lk(mu_);
  settings_fetch_requested_ = true;
  worker_idle_ = false;
  cv_.notify_one();
}

Status Engine::app_launched(std::string_view version, std::string_view build, std::string_view url,
                            std::string_view referrer) {
  if (!is_valid_utf8(version) || !is_valid_utf8(build) || !is_valid_utf8(url) ||
      !is_valid_utf8(referrer)) {
    return Status(StatusCode::kInvalidArgument, "app_launched: a string is not valid UTF-8");
  }
  if (!accepting_.load()) return Status(StatusCode::kCancelled, "the client is shut down");
  bool expected = false;
  if (!launched_.compare_exchange_strong(expected, true)) return Status::ok();  // once per process
  {
    MutexLock lock(lifecycle_mu_);
    app_version_ = std::string(version);
    app_build_ = std::string(build);
    launch_url_ = std::string(url);
    launch_referrer_ = std::string(referrer);
  }
  // Launched is not foreground: a process woken in the background stays there.
  int unknown = kAppUnknown;
  app_state_.compare_exchange_strong(unknown, kAppBackground);
  LaunchEvent launch = decide_launch(stored_launch_.version, stored_launch_.build,
                                     stored_launch_.legacy, version, build);
  Internal internal;
  internal.kv = {{kKeyAppVersion, std::string(version)}, {kKeyAppBuild, std::string(build)}};
  Status s;
  if (!launch.event.empty()) {
    s = record_lifecycle(launch.event.c_str(), launch.properties, std::move(internal));
  } else if (stored_launch_.version && *stored_launch_.version != version) {
    hand_off_kv(std::move(internal.kv));
  }
  // After the event: the worker commits it before the fetch (which may hang).
  request_settings_fetch();
  return s;
}

Status Engine::app_foreground() {
  if (!accepting_.load()) return Status(StatusCode::kCancelled, "the client is shut down");
  if (app_state_.exchange(kAppForeground) == kAppForeground) return Status::ok();
  const bool first = !foregrounded_.exchange(true);
  nlohmann::json props = nlohmann::json::object();
  props["from_background"] = !first;
  {
    MutexLock lock(lifecycle_mu_);
    std::string v = app_version_, b = app_build_;
    if (!launched_.load()) {  // the host did not say: what the last launch stored
      v = stored_launch_.version.value_or("");
      b = stored_launch_.build.value_or("");
    }
    if (!v.empty()) props["version"] = v;
    if (!b.empty()) props["build"] = b;
    if (first && !launch_url_.empty()) props["url"] = launch_url_;
    if (first && !launch_referrer_.empty()) props["referring_application"] = launch_referrer_;
  }
  Status s = record_lifecycle("Application Opened", props, Internal{});
  request_settings_fetch();
  return s;
}

Status Engine::app_background() {
  if (!accepting_.load()) return Status(StatusCode::kCancelled, "the client is shut down");
  if (app_state_.exchange(kAppBackground) == kAppBackground) return Status::ok();
  Internal internal;
  internal.refresh_in_background = true;
  return record_lifecycle("Application Backgrounded", nlohmann::json::object(),
                          std::move(internal));
}

std::optional<int64_t> Engine::session_id() const {
  if (!config_.track_sessions) return std::nullopt;
  return sessions_.current(to_unix_ms(clock_->wall()), settings_.session_timeout_ms());
}

}  // namespace tern
