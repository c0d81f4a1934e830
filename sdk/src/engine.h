// Engine: the state behind a Client, shared by the caller-side API and the
// one worker thread ("tern-worker").
//
// Threads: host threads call the record/flush/consent methods; only the
// worker touches the transport. The store is written by the worker (group
// commits, claims, acks, caps, identity), and by host threads only for
// Durability::kImmediate appends, consent/opt-out writes and consent purges
// (the store serialises them). The caller → worker hand-off is a bounded
// vector under mu_, held only for a push_back.
//
// Which lock guards what is written in Clang thread-safety annotations
// (thread_annotations.h), checked with -Wthread-safety in clang builds.
//
// The code is split by concern: this file's engine.cc (start, the hand-off,
// flush/consent/shutdown, the worker loop and its commits), event_builder.cc
// (record_dom / enqueue_raw / submit), uploader.cc (upload_one),
// lifecycle.cc (app_launched / app_foreground / app_background),
// flush_async.cc (flush_async and its completion on the worker),
// remote_settings.cc (the settings fetch) and session.cc (SessionTracker);
// config_check.cc validates the Config first.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "event_writer.h"
#include "remote_settings.h"
#include "retry_policy.h"
#include "session.h"
#include "store.h"
#include "tern/client.h"
#include "tern/config.h"
#include "tern/stats.h"
#include "thread_annotations.h"

namespace tern {

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  explicit Engine(Config config);
  ~Engine();

  Status start();

  // Caller side.
  Status record_dom(MessageType type, std::string_view primary, const nlohmann::json& object,
                    const EventOptions& options);
  Status enqueue_raw(const RawMessage& m);
  Status flush(std::chrono::milliseconds timeout) TERN_EXCLUDES(mu_);
  void reset();
  Status set_consent(Consent c) TERN_EXCLUDES(mu_, commit_mu_);
  Consent consent() const { return static_cast<Consent>(consent_.load()); }
  Status set_opt_out(bool v) TERN_EXCLUDES(mu_);
  bool opted_out() const { return opt_out_.load(); }
  std::string anonymous_id() const;
  std::string user_id() const;
  Status shutdown(std::chrono::milliseconds timeout) TERN_EXCLUDES(mu_);
  Stats stats() const;

  // flush_async.cc
  Status flush_async(std::chrono::milliseconds deadline, std::function<void(FlushResult)> done)
      TERN_EXCLUDES(mu_);
  // lifecycle.cc
  Status app_launched(std::string_view version, std::string_view build, std::string_view url,
                      std::string_view referrer);
  Status app_foreground();
  Status app_background();
  std::optional<int64_t> session_id() const;

 private:
  using KvPairs = std::vector<std::pair<std::string, std::string>>;
  // App state: kUnknown behaves as the foreground (a host that never calls
  // the lifecycle functions); kBackground starts no session.
  enum AppState : int { kAppUnknown = 0, kAppBackground = 1, kAppForeground = 2 };
  // An event the SDK records itself (lifecycle): never sampled out, counted
  // in Stats::lifecycle_events; `kv` is stored in the event's transaction.
  struct Internal {
    bool lifecycle = false;
    bool refresh_in_background = false;  // "Application Backgrounded": the timeout runs from it
    KvPairs kv;
  };
  // What hand_off() carries besides the event's text.
  struct HandOff {
    std::vector<std::string>* before = nullptr;  // events recorded just before it (Session Started)
    const SessionStamp* session = nullptr;       // its session state, persisted with it
    KvPairs* kv = nullptr;                       // kv pairs stored in its transaction
  };
  // What the launch found in the store (read once at start).
  struct Launch {
    std::optional<std::string> version, build;
    bool legacy = false;  // a queue from an SDK without lifecycle: an update, not an install
  };
  // A flush_async() in flight (worker-only once taken from the inbox).
  struct AsyncFlush {
    std::chrono::steady_clock::time_point deadline;
    std::function<void(FlushResult)> done;
    int64_t target = -1;  // the newest event id when the worker took it
  };
  struct Identity {
    std::string anonymous_id;
    std::string user_id;
    nlohmann::json traits = nlohmann::json::object();
  };
  using Batch = std::vector<StoredEvent>;
  enum class UploadResult { kNothing, kSent, kDropped, kBisected, kFailed };

  void count_drop(DropReason r, uint64_t n = 1);
  Status reject(DropReason r, StatusCode code, std::string message);
  void log(LogLevel level, const std::string& message);
  Status gate();  // opt-out / consent / shutdown checks for event calls
  std::shared_ptr<const Identity> identity() const TERN_EXCLUDES(identity_mu_);
  void set_identity(std::shared_ptr<const Identity> id) TERN_EXCLUDES(identity_mu_, mu_);
  std::string merged_context(std::string_view override_json,
                             const nlohmann::json* override_dom) const;
  // Validates, serialises and hands off one event; JSON fields already checked.
  Status submit(const RawMessage& m, const std::string& context_override,
                const nlohmann::json* identify_traits, Internal* internal = nullptr);
  Status hand_off(std::string text, HandOff extra) TERN_EXCLUDES(mu_);
  // kv pairs without an event (a lifecycle event that was not recorded).
  void hand_off_kv(KvPairs kv) TERN_EXCLUDES(mu_);
  Status append_now(std::string text, HandOff extra) TERN_EXCLUDES(mu_, commit_mu_);
  bool has_pending() const TERN_REQUIRES(mu_) {
    return !pending_.empty() || !pending_kv_.empty() || pending_session_seq_ > 0;
  }
  // lifecycle.cc
  Status record_lifecycle(const char* event, const nlohmann::json& properties, Internal internal);
  void request_settings_fetch() TERN_EXCLUDES(mu_);

  // Worker side.
  void run() TERN_EXCLUDES(mu_);
  void commit_pending() TERN_REQUIRES(mu_);
  Status commit(const std::vector<std::string>& texts, uint64_t epoch, KvPairs kv,
                const SessionState* session, uint64_t session_seq) TERN_EXCLUDES(mu_, commit_mu_);
  // Adds the session row to `kv` when `seq` is newer than what was stored.
  void add_session_kv(KvPairs& kv, const SessionState* session, uint64_t seq)
      TERN_REQUIRES(commit_mu_);
  void persist_identity() TERN_EXCLUDES(identity_mu_);
  UploadResult upload_one() TERN_EXCLUDES(mu_);  // uploader.cc
  bool upload_allowed() const;
  bool upload_allowed(int64_t now_ms) const;  // also: no kill switch
  // flush_async.cc: completes what is done (sent, past its deadline, or
  // cancelled) and calls their callbacks. mu_ not held.
  void service_async_flushes(std::chrono::steady_clock::time_point now, bool cancel)
      TERN_EXCLUDES(mu_);
  // remote_settings.cc
  void load_settings();  // at start: the stored copy
  void apply_settings(const RemoteSettings& s, int64_t fetched_ms);
  void fetch_settings() TERN_EXCLUDES(mu_);
  void enforce_caps();
  void wait_until(MutexLock& lk, std::chrono::steady_clock::time_point deadline) TERN_REQUIRES(mu_);
  void complete_flush(Status s) TERN_REQUIRES(mu_);

  Config config_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<Logger> logger_;
  bool real_clock_ = true;
  std::string context_text_;  // {"library":...,...provider facts}, built once
  std::string url_;
  std::string settings_url_;
  EffectiveSettings settings_;
  SessionTracker sessions_;

  // Lifecycle.
  std::atomic<int> app_state_{kAppUnknown};
  std::atomic<bool> launched_{false};
  std::atomic<bool> foregrounded_{false};  // an Opened was recorded in this process
  Launch stored_launch_;                   // written by start() only
  mutable Mutex lifecycle_mu_;
  std::string app_version_ TERN_GUARDED_BY(lifecycle_mu_);
  std::string app_build_ TERN_GUARDED_BY(lifecycle_mu_);
  std::string launch_url_ TERN_GUARDED_BY(lifecycle_mu_);
  std::string launch_referrer_ TERN_GUARDED_BY(lifecycle_mu_);

  mutable Mutex identity_mu_;
  std::shared_ptr<const Identity> identity_ TERN_GUARDED_BY(identity_mu_);

  std::atomic<int> consent_{static_cast<int>(Consent::kGranted)};
  std::atomic<bool> opt_out_{false};
  std::atomic<bool> accepting_{false};

  // Hand-off and worker coordination.
  Mutex commit_mu_ TERN_ACQUIRED_BEFORE(mu_);  // orders commits against consent purges
  mutable Mutex mu_;
  std::condition_variable cv_;       // wakes the worker
  std::condition_variable done_cv_;  // wakes flush/shutdown waiters
  // serialised events not yet committed
  std::vector<std::string> pending_ TERN_GUARDED_BY(mu_);
  KvPairs pending_kv_ TERN_GUARDED_BY(mu_);  // committed with pending_
  // The newest session state of the pending events (seq 0: none).
  SessionState pending_session_ TERN_GUARDED_BY(mu_);
  uint64_t pending_session_seq_ TERN_GUARDED_BY(mu_) = 0;
  uint64_t stored_session_seq_ TERN_GUARDED_BY(commit_mu_) = 0;
  std::vector<AsyncFlush> async_inbox_ TERN_GUARDED_BY(mu_);
  bool settings_fetch_requested_ TERN_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point first_pending_at_ TERN_GUARDED_BY(mu_){};
  bool worker_idle_ TERN_GUARDED_BY(mu_) = false;  // waiting with no commit window open
  bool stop_ TERN_GUARDED_BY(mu_) = false;
  bool worker_exited_ TERN_GUARDED_BY(mu_) = false;
  bool shutdown_called_ TERN_GUARDED_BY(mu_) = false;
  bool identity_dirty_ TERN_GUARDED_BY(mu_) = false;
  bool batches_invalid_ TERN_GUARDED_BY(mu_) = false;
  uint64_t purge_epoch_ TERN_GUARDED_BY(mu_) = 0;  // bumped by a consent purge
  bool caps_dirty_ TERN_GUARDED_BY(mu_) = false;   // kImmediate appends happened: enforce the caps
  uint64_t flush_requested_ TERN_GUARDED_BY(mu_) = 0;
  uint64_t flush_done_ TERN_GUARDED_BY(mu_) = 0;
  Status flush_result_ TERN_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point shutdown_deadline_ TERN_GUARDED_BY(mu_){};
  // Joined or detached by shutdown(), outside mu_ (the worker takes mu_ to exit).
  std::thread worker_;

  // Worker-only state.
  RetryPolicy policy_;
  std::deque<Batch> batches_;
  std::chrono::steady_clock::time_point last_upload_{};
  std::string last_error_;
  std::vector<AsyncFlush> async_;  // in flight, targets set
  bool async_check_ = false;       // the queue changed: see which are sent
  bool settings_attempted_ = false;
  std::chrono::steady_clock::time_point last_settings_attempt_{};
  std::string settings_etag_;

  // Counters.
  std::atomic<uint64_t> enqueued_{0}, stored_{0}, sent_{0}, retried_{0}, attempts_{0},
      batches_sent_{0}, bytes_sent_{0}, pending_count_{0};
  std::array<std::atomic<uint64_t>, static_cast<std::size_t>(DropReason::kCount)> dropped_{};
  std::atomic<uint64_t> corrupt_recoveries_{0};
  std::atomic<uint64_t> lifecycle_events_{0}, settings_fetched_{0}, settings_not_modified_{0},
      settings_failed_{0}, sampled_out_{0}, kill_switch_refused_{0}, async_sent_{0},
      async_timed_out_{0}, async_cancelled_{0};
};

}  // namespace tern
