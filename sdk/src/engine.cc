// Engine (engine.h): start-up, the caller → worker hand-off, flush, consent,
// opt-out and shutdown, and the worker loop with its commits. The event
// builder is in event_builder.cc, the uploader in uploader.cc.
#include "engine.h"

#include <pthread.h>

#include <algorithm>

#include "config_check.h"
#include "default_transport.h"
#include "event_builder.h"
#include "sqlite_store.h"
#include "tern/base/uuid.h"
#include "tern/version.h"
#include "text.h"

namespace tern {

namespace {
constexpr const char* kKeyAnonymousId = "anonymous_id";
constexpr const char* kKeyUserId = "user_id";
constexpr const char* kKeyTraits = "traits";
constexpr const char* kKeyConsent = "consent";
constexpr const char* kKeyOptOut = "opt_out";
constexpr const char* kKeySession = "session";
constexpr const char* kKeyAppVersion = "app.version";
constexpr const char* kKeyAppBuild = "app.build";
// Written when this SDK made the database: a database without app.build and
// without this key was made by an SDK without lifecycle (a legacy queue).
constexpr const char* kKeyNewInstall = "app.new_install";

using SteadyTime = std::chrono::steady_clock::time_point;
constexpr SteadyTime kNever = SteadyTime::max();
}  // namespace

Engine::Engine(Config config)
    : config_(std::move(config)),
      settings_(config_),
      policy_(config_.backoff_base, config_.backoff_max) {}

Engine::~Engine() {
  if (worker_.joinable()) worker_.detach();  // unreachable: Client shuts down first
}

// ---------------------------------------------------------------- start

Status Engine::start() {
  const Config& c = config_;
  if (Status s = validate_config(c); !s) return s;
  if (!c.transport && !have_default_transport()) {
    return Status(StatusCode::kInvalidArgument,
                  "transport is required: this build of the SDK has no default transport "
                  "(TERN_TRANSPORT=none); set Config::transport (tern_options_set_transport)");
  }
  clock_ = c.clock ? c.clock : make_system_clock();
  real_clock_ = clock_->is_real_steady_clock();
  logger_ = c.logger ? c.logger : make_stderr_logger();
  // The default transport (and with it curl_global_init and OpenSSL) is made
  // by the worker before its first upload: an app that only queues, or
  // whose consent is unknown, never pays for it.
  transport_ = c.transport;
  if (c.store) {
    store_ = c.store;
  } else {
    SqliteStoreOptions so;
    so.path = c.storage_path;
    auto r = SqliteStore::open(so);
    if (!r) return r.status();
    store_ = std::shared_ptr<Store>(std::move(r).value());
  }
  if (store_->corrupt_recoveries() > 0) {
    corrupt_recoveries_ = store_->corrupt_recoveries();
    count_drop(DropReason::kCorruptDb, store_->corrupt_events_lost());
    log(LogLevel::kWarn, "corrupt database moved aside; started a fresh one (" +
                             std::to_string(store_->corrupt_events_lost()) + " events lost)");
  }

  // Identity, consent, opt-out.
  auto id = std::make_shared<Identity>();
  auto get = [&](const char* key) -> std::optional<std::string> {
    auto r = store_->get(key);
    if (!r) {
      log(LogLevel::kWarn, "cannot read " + std::string(key) + ": " + r.status().to_string());
      return std::nullopt;
    }
    return *r;
  };
  if (auto v = get(kKeyAnonymousId)) id->anonymous_id = *v;
  if (auto v = get(kKeyUserId)) id->user_id = *v;
  if (auto v = get(kKeyTraits)) {
    auto j = parse_json(*v);
    if (j.is_object()) id->traits = std::move(j);
  }
  consent_ = static_cast<int>(c.default_consent);
  if (auto v = get(kKeyConsent)) {
    if (*v == "granted") consent_ = static_cast<int>(Consent::kGranted);
    if (*v == "denied") consent_ = static_cast<int>(Consent::kDenied);
    if (*v == "unknown") consent_ = static_cast<int>(Consent::kUnknown);
  }
  if (auto v = get(kKeyOptOut)) opt_out_ = (*v == "1");
  bool fresh = id->anonymous_id.empty();
  // Lifecycle: what the last launch stored; a database that existed before
  // this SDK (identity or events, no marker, no build) is a legacy queue.
  stored_launch_.version = get(kKeyAppVersion);
  stored_launch_.build = get(kKeyAppBuild);
  const bool marked = get(kKeyNewInstall).has_value();
  stored_launch_.legacy = !stored_launch_.build && !marked && (!fresh || store_->count() > 0);
  const bool mark_new = !stored_launch_.build && !marked && !stored_launch_.legacy;
  if (config_.track_sessions) {
    if (auto v = get(kKeySession)) {
      if (auto st = session_from_json(*v)) sessions_.restore(*st);
    }
  }
  if (fresh) id->anonymous_id = base::uuid_v4();
  const std::string anonymous_id = id->anonymous_id;
  {
    MutexLock lock(identity_mu_);  // no other thread yet; for the analysis
    identity_ = std::move(id);
  }
  if (fresh || mark_new) {
    KvPairs first;
    if (fresh) first.emplace_back(kKeyAnonymousId, anonymous_id);
    if (mark_new) first.emplace_back(kKeyNewInstall, "1");
    Status s = store_->put(first);
    if (!s) return s;
  }
  load_settings();

  // context: library + provider facts, serialised once.
  nlohmann::json ctx = nlohmann::json::object();
  auto provider = c.context_provider ? c.context_provider : make_system_context_provider();
  std::string provided = provider->context_json();
  if (!provided.empty()) {
    auto j = parse_json(provided);
    if (j.is_object()) {
      ctx = std::move(j);
    } else {
      log(LogLevel::kWarn, "ContextProvider returned something that is not a JSON object; ignored");
    }
  }
  // The SDK owns these context keys (sessions, sampling).
  for (const char* k : {"sessionId", "sessionStart", "sampleRate"}) ctx.erase(k);
  ctx["library"] = {
      {"name", c.library_name},
      {"version", c.library_version.empty() ? std::string(version()) : c.library_version}};
  try {
    context_text_ = dump_object(ctx);
  } catch (...) {
    context_text_ = dump_object(nlohmann::json{{"library", ctx["library"]}});
  }

  url_ = c.endpoint;
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  url_ += "/v1/batch";
  settings_url_ =
      settings_url(c.settings_endpoint.empty() ? c.endpoint : c.settings_endpoint, c.write_key);

  accepting_ = true;
  last_upload_ = clock_->monotonic();
  auto self = shared_from_this();
  worker_ = std::thread([self] { self->run(); });
  return Status::ok();
}

// ---------------------------------------------------------------- helpers

void Engine::count_drop(DropReason r, uint64_t n) {
  if (n) dropped_[static_cast<std::size_t>(r)].fetch_add(n, std::memory_order_relaxed);
}

Status Engine::reject(DropReason r, StatusCode code, std::string message) {
  count_drop(r);
  log(LogLevel::kDebug, std::string("event dropped (") + drop_reason_name(r) + "): " + message);
  return Status(code, std::move(message));
}

void Engine::log(LogLevel level, const std::string& message) {
  if (logger_) logger_->log(level, message);
}

std::shared_ptr<const Engine::Identity> Engine::identity() const {
  MutexLock lock(identity_mu_);
  return identity_;
}

void Engine::set_identity(std::shared_ptr<const Identity> id) {
  {
    MutexLock lock(identity_mu_);
    identity_ = std::move(id);
  }
  MutexLock lock(mu_);
  identity_dirty_ = true;
  cv_.notify_one();
}

std::string Engine::anonymous_id() const { return identity()->anonymous_id; }
std::string Engine::user_id() const { return identity()->user_id; }

Status Engine::gate() {
  if (!accepting_.load(std::memory_order_acquire)) {
    return reject(DropReason::kShutdown, StatusCode::kCancelled, "the client is shut down");
  }
  if (opt_out_.load(std::memory_order_relaxed)) {
    return reject(DropReason::kOptOut, StatusCode::kPermissionDenied, "the user opted out");
  }
  if (consent_.load(std::memory_order_relaxed) == static_cast<int>(Consent::kDenied)) {
    return reject(DropReason::kConsentDenied, StatusCode::kPermissionDenied, "consent denied");
  }
  return Status::ok();
}

// ---------------------------------------------------------------- hand-off (caller side)

Status Engine::hand_off(std::string text, HandOff extra) {
  if (config_.durability == Durability::kImmediate) return append_now(std::move(text), extra);
  const std::size_t n = 1 + (extra.before ? extra.before->size() : 0);
  MutexLock lk(mu_);
  if (stop_) {
    lk.unlock();
    return reject(DropReason::kShutdown, StatusCode::kCancelled, "the client is shut down");
  }
  if (pending_.size() + n > config_.max_pending_events) {
    lk.unlock();
    return reject(DropReason::kQueueFull, StatusCode::kResourceExhausted,
                  "the hand-off queue is full");
  }
  // The commit window opens with the first pending event (one clock read per window).
  if (!has_pending()) first_pending_at_ = clock_->monotonic();
  const std::size_t before_size = pending_.size();
  if (extra.before) {
    for (auto& t : *extra.before) pending_.push_back(std::move(t));
  }
  pending_.push_back(std::move(text));
  if (extra.session && extra.session->seq > pending_session_seq_) {
    pending_session_ = extra.session->snapshot;
    pending_session_seq_ = extra.session->seq;
  }
  if (extra.kv) {
    for (auto& kv : *extra.kv) pending_kv_.push_back(std::move(kv));
  }
  pending_count_.fetch_add(n, std::memory_order_relaxed);
  enqueued_.fetch_add(n, std::memory_order_relaxed);
  // Wake the worker only when it must open a commit window or commit now:
  // at high rates this is one wake-up per window, not one per event.
  if (worker_idle_ ||
      (before_size < config_.commit_max_events && pending_.size() >= config_.commit_max_events)) {
    worker_idle_ = false;
    cv_.notify_one();
  }
  return Status::ok();
}

void Engine::hand_off_kv(KvPairs kv) {
  if (kv.empty()) return;
  MutexLock lk(mu_);
  if (!has_pending()) first_pending_at_ = clock_->monotonic();
  for (auto& p : kv) pending_kv_.push_back(std::move(p));
  if (worker_idle_) {
    worker_idle_ = false;
    cv_.notify_one();
  }
}

// Durability::kImmediate: the caller commits its own event (the store
// serialises writers), so track() never waits behind an upload in progress.
Status Engine::append_now(std::string text, HandOff extra) {
  if (!accepting_.load())
    return reject(DropReason::kShutdown, StatusCode::kCancelled, "the client is shut down");
  std::vector<std::string> texts;
  if (extra.before) texts = std::move(*extra.before);
  texts.push_back(std::move(text));
  KvPairs kv;
  if (extra.kv) kv = std::move(*extra.kv);
  MutexLock commit_lock(commit_mu_);
  if (consent() == Consent::kDenied) {
    if (!kv.empty()) (void)store_->put(kv);  // the app's version/build still count
    commit_lock.unlock();
    return reject(DropReason::kConsentDenied, StatusCode::kPermissionDenied, "consent denied");
  }
  if (extra.session) add_session_kv(kv, &extra.session->snapshot, extra.session->seq);
  Status s = store_->append_and_put(texts, to_unix_ms(clock_->wall()), kv);
  commit_lock.unlock();
  if (!s) {
    log(LogLevel::kWarn, "could not store an event (dropped): " + s.to_string());
    count_drop(DropReason::kStorageError, texts.size());
    return s;
  }
  enqueued_.fetch_add(texts.size(), std::memory_order_relaxed);
  stored_.fetch_add(texts.size(), std::memory_order_relaxed);
  MutexLock lock(mu_);
  caps_dirty_ = true;
  if (worker_idle_) {
    worker_idle_ = false;
    cv_.notify_one();
  }
  return Status::ok();
}

// ---------------------------------------------------------------- flush, consent, shutdown

Status Engine::flush(std::chrono::milliseconds timeout) {
  MutexLock lk(mu_);
  if (worker_exited_ || stop_) return Status(StatusCode::kCancelled, "the client is shut down");
  uint64_t mine = ++flush_requested_;
  cv_.notify_one();
  bool done = done_cv_.wait_for(lk.native(), timeout, [&]() TERN_REQUIRES(mu_) {
    return flush_done_ >= mine || worker_exited_;
  });
  if (!done)
    return Status(StatusCode::kTimeout, "flush did not finish in time; the events stay queued");
  if (flush_done_ < mine) return Status(StatusCode::kCancelled, "the client is shut down");
  return flush_result_;
}

void Engine::reset() {
  auto next = std::make_shared<Identity>();
  next->anonymous_id = base::uuid_v4();
  set_identity(std::move(next));
}

Status Engine::set_consent(Consent c) {
  const char* text = c == Consent::kGranted  ? "granted"
                     : c == Consent::kDenied ? "denied"
                                             : "unknown";
  consent_ = static_cast<int>(c);
  Status persisted = store_->put({{kKeyConsent, text}});
  if (c == Consent::kDenied) {
    // commit_mu_ keeps a worker commit from landing rows after the purge.
    MutexLock commit_lock(commit_mu_);
    uint64_t purged_pending = 0;
    {
      MutexLock lock(mu_);
      ++purge_epoch_;
      purged_pending = pending_.size();
      pending_count_.fetch_sub(purged_pending);
      pending_.clear();
      batches_invalid_ = true;
    }
    count_drop(DropReason::kConsentDenied, purged_pending);
    auto r = store_->remove_all();
    if (r) {
      count_drop(DropReason::kConsentDenied, *r);
      log(LogLevel::kInfo,
          "consent denied: purged " + std::to_string(*r + purged_pending) + " events");
    } else {
      log(LogLevel::kError,
          "consent denied but the queue could not be purged: " + r.status().to_string());
      if (persisted) persisted = r.status();
    }
  }
  MutexLock lock(mu_);
  cv_.notify_one();
  return persisted;
}

Status Engine::set_opt_out(bool v) {
  opt_out_ = v;
  Status s = store_->put({{kKeyOptOut, v ? "1" : "0"}});
  MutexLock lock(mu_);
  cv_.notify_one();
  return s;
}

Status Engine::shutdown(std::chrono::milliseconds timeout) {
  MutexLock lk(mu_);
  if (shutdown_called_) {
    if (worker_exited_ && worker_.joinable()) {
      lk.unlock();
      worker_.join();
      return Status::ok();
    }
    return worker_exited_ ? Status::ok()
                          : Status(StatusCode::kTimeout, "the worker is still stopping");
  }
  shutdown_called_ = true;
  accepting_ = false;
  stop_ = true;
  shutdown_deadline_ = clock_->monotonic() + timeout;
  cv_.notify_one();
  bool exited =
      done_cv_.wait_for(lk.native(), timeout, [&]() TERN_REQUIRES(mu_) { return worker_exited_; });
  lk.unlock();
  if (exited) {
    worker_.join();
    return Status::ok();
  }
  // The worker holds its own reference to this Engine; it finishes its
  // current step (at most the transport's timeouts) and exits on its own.
  worker_.detach();
  log(LogLevel::kWarn, "shutdown timed out; the worker stops after its current step");
  return Status(StatusCode::kTimeout,
                "shutdown did not finish in time; unsent events stay on disk");
}

Stats Engine::stats() const {
  Stats s;
  s.enqueued = enqueued_.load();
  s.stored = stored_.load();
  s.sent = sent_.load();
  s.retried = retried_.load();
  s.attempts = attempts_.load();
  s.batches_sent = batches_sent_.load();
  for (std::size_t i = 0; i < s.dropped_by_reason.size(); ++i) {
    s.dropped_by_reason[i] = dropped_[i].load();
    s.dropped += s.dropped_by_reason[i];
  }
  if (store_) {
    s.queue_depth = store_->count();
    s.queue_bytes = store_->bytes();
  }
  s.pending = pending_count_.load();
  s.bytes_sent = bytes_sent_.load();
  s.corrupt_db_recoveries = corrupt_recoveries_.load();
  s.lifecycle_events = lifecycle_events_.load();
  s.sessions_started = sessions_.started();
  s.settings_fetched = settings_fetched_.load();
  s.settings_not_modified = settings_not_modified_.load();
  s.settings_failed = settings_failed_.load();
  s.sampled_out = sampled_out_.load();
  s.kill_switch_refused = kill_switch_refused_.load();
  s.background_flushes_sent = async_sent_.load();
  s.background_flushes_timed_out = async_timed_out_.load();
  s.background_flushes_cancelled = async_cancelled_.load();
  return s;
}

// ---------------------------------------------------------------- worker

bool Engine::upload_allowed() const {
  return consent_.load() == static_cast<int>(Consent::kGranted) && !opt_out_.load();
}

bool Engine::upload_allowed(int64_t now_ms) const {
  return upload_allowed() && !settings_.kill_switch_active(now_ms);
}

void Engine::wait_until(MutexLock& lk, SteadyTime deadline) {
  if (real_clock_) {
    if (deadline == kNever) {
      cv_.wait(lk.native());
    } else {
      cv_.wait_until(lk.native(), deadline);
    }
    return;
  }
  // Injected clock: its time can jump (a manual clock's advance()), so
  // re-read it in short real-time slices.
  auto slice = std::chrono::milliseconds(1);
  if (deadline != kNever) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_->monotonic());
    if (left < slice) slice = std::max(left, std::chrono::milliseconds(0));
  }
  if (slice.count() > 0) cv_.wait_for(lk.native(), slice);
}

void Engine::complete_flush(Status s) {
  flush_done_ = flush_requested_;
  flush_result_ = std::move(s);
  done_cv_.notify_all();
}

// Commits what track() handed off, with mu_ released meanwhile. The caller's
// MutexLock stays valid: mu_ is held again on return.
void Engine::commit_pending() {
  std::vector<std::string> batch;
  batch.swap(pending_);
  KvPairs kv;
  kv.swap(pending_kv_);
  const SessionState session = pending_session_;
  const uint64_t session_seq = pending_session_seq_;
  pending_session_seq_ = 0;
  const uint64_t epoch = purge_epoch_;
  mu_.unlock();
  (void)commit(batch, epoch, std::move(kv), &session, session_seq);
  // Free the strings before re-taking mu_: track() never waits behind it.
  std::vector<std::string>().swap(batch);
  mu_.lock();
}

void Engine::run() {
  pthread_setname_np(pthread_self(), "tern-worker");
  MutexLock lk(mu_);
  bool window_open = false;
  SteadyTime commit_deadline{};
  for (;;) {
    SteadyTime now = clock_->monotonic();
    const bool flush_pending = flush_requested_ > flush_done_;
    if (has_pending()) {
      if (!window_open) {
        window_open = true;
        commit_deadline = first_pending_at_ + config_.commit_window;
      }
      if (stop_ || flush_pending || !async_inbox_.empty() || settings_fetch_requested_ ||
          pending_.size() >= config_.commit_max_events || now >= commit_deadline) {
        window_open = false;
        commit_pending();
        continue;
      }
    }
    if (caps_dirty_) {
      caps_dirty_ = false;
      lk.unlock();
      enforce_caps();
      lk.lock();
      continue;
    }
    if (identity_dirty_) {
      identity_dirty_ = false;
      lk.unlock();
      persist_identity();
      lk.lock();
      continue;
    }
    if (batches_invalid_) {
      batches_.clear();
      batches_invalid_ = false;
    }
    if (!async_inbox_.empty()) {
      // What is queued now (everything handed off before is committed above).
      const int64_t target = store_->last_id();
      for (auto& a : async_inbox_) {
        a.target = target;
        async_.push_back(std::move(a));
      }
      async_inbox_.clear();
      async_check_ = true;
    }
    if (settings_fetch_requested_ && !stop_) {
      settings_fetch_requested_ = false;
      if (config_.fetch_settings &&
          (!settings_attempted_ || now - last_settings_attempt_ >= config_.settings_min_interval)) {
        settings_attempted_ = true;
        last_settings_attempt_ = now;
        lk.unlock();
        fetch_settings();
        lk.lock();
        continue;
      }
    }
    const int64_t now_ms = to_unix_ms(clock_->wall());
    const bool allowed = upload_allowed(now_ms);
    const uint64_t queued = store_->count();
    if (!async_.empty() && !stop_) {
      lk.unlock();
      service_async_flushes(now, !allowed);
      lk.lock();
    }
    if (stop_) {
      // Last uploads while the shutdown deadline allows; the rest stays on disk.
      while (allowed && queued > 0 && policy_.may_attempt(now) && now < shutdown_deadline_) {
        lk.unlock();
        UploadResult r = upload_one();
        lk.lock();
        if (r == UploadResult::kFailed || r == UploadResult::kNothing) break;
        now = clock_->monotonic();
      }
      if (flush_pending) complete_flush(Status(StatusCode::kCancelled, "the client is shut down"));
      for (auto& a : async_inbox_) async_.push_back(std::move(a));
      async_inbox_.clear();
      if (!async_.empty()) {
        lk.unlock();
        service_async_flushes(now, true);
        lk.lock();
      }
      break;
    }
    if (flush_pending) {
      if (!allowed) {
        complete_flush(Status(StatusCode::kPermissionDenied,
                              opt_out_.load() ? "the user opted out: nothing is uploaded"
                              : upload_allowed()
                                  ? "the settings' kill switch is on: nothing is uploaded"
                                  : "consent is not granted: nothing is uploaded"));
        continue;
      }
      if (queued == 0) {
        complete_flush(Status::ok());
        continue;
      }
    }
    const auto flush_interval = settings_.flush_interval();
    const bool due = allowed && queued > 0 &&
                     (flush_pending || !async_.empty() || !batches_.empty() ||
                      policy_.consecutive_failures() > 0 || queued >= settings_.flush_at() ||
                      now >= last_upload_ + flush_interval);
    if (due && policy_.may_attempt(now)) {
      if (!pending_.empty()) {
        // Commit first: an upload blocks this thread for up to the request
        // timeout, and events handed off meanwhile are not durable until it returns.
        window_open = false;
        commit_pending();
        continue;
      }
      lk.unlock();
      UploadResult r = upload_one();
      lk.lock();
      if (r != UploadResult::kFailed) async_check_ = true;
      if (r == UploadResult::kFailed && flush_requested_ > flush_done_) {
        complete_flush(Status(StatusCode::kUnavailable, last_error_));
      }
      continue;
    }
    SteadyTime deadline = kNever;
    if (window_open) deadline = commit_deadline;
    if (allowed && queued > 0) {
      SteadyTime upload_at = due ? policy_.next_attempt()
                                 : std::max(policy_.next_attempt(), last_upload_ + flush_interval);
      deadline = std::min(deadline, upload_at);
    }
    for (const auto& a : async_) deadline = std::min(deadline, a.deadline);
    if (queued > 0 && settings_.kill_switch_active(now_ms)) {
      // Wake when the kill switch lapses: uploads resume.
      deadline =
          std::min(deadline, now + std::chrono::milliseconds(settings_.kill_until_ms() - now_ms));
    }
    worker_idle_ = !window_open;
    if (!real_clock_) clock_->on_worker_wait(now, deadline);
    wait_until(lk, deadline);
    worker_idle_ = false;
  }
  worker_exited_ = true;
  done_cv_.notify_all();
}

void Engine::add_session_kv(KvPairs& kv, const SessionState* session, uint64_t seq) {
  if (!session || seq <= stored_session_seq_) return;
  stored_session_seq_ = seq;
  kv.emplace_back(kKeySession, session_to_json(*session));
}

Status Engine::commit(const std::vector<std::string>& texts, uint64_t epoch, KvPairs kv,
                      const SessionState* session, uint64_t session_seq) {
  MutexLock commit_lock(commit_mu_);
  bool purged;
  {
    MutexLock lock(mu_);
    purged = purge_epoch_ != epoch;
  }
  add_session_kv(kv, session, session_seq);
  if (purged) {  // consent was denied after these were handed off: the kv pairs still count
    pending_count_.fetch_sub(texts.size());
    count_drop(DropReason::kConsentDenied, texts.size());
    if (!kv.empty()) (void)store_->put(kv);
    return Status(StatusCode::kPermissionDenied, "consent denied");
  }
  Status s = store_->append_and_put(texts, to_unix_ms(clock_->wall()), kv);
  pending_count_.fetch_sub(texts.size());
  if (s) {
    stored_.fetch_add(texts.size());
    enforce_caps();
  } else {
    // Log before counting: whoever sees the count can also find the reason.
    log(LogLevel::kWarn,
        "could not store " + std::to_string(texts.size()) + " events (dropped): " + s.to_string());
    count_drop(DropReason::kStorageError, texts.size());
  }
  return s;
}

void Engine::persist_identity() {
  auto id = identity();
  std::string traits;
  try {
    traits = dump_object(id->traits);
  } catch (...) {
    traits = "{}";
  }
  Status s = store_->put(
      {{kKeyAnonymousId, id->anonymous_id}, {kKeyUserId, id->user_id}, {kKeyTraits, traits}});
  if (!s) log(LogLevel::kWarn, "could not persist identity: " + s.to_string());
}

void Engine::enforce_caps() {
  int64_t min_created =
      to_unix_ms(clock_->wall()) -
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.max_event_age).count();
  auto r = store_->enforce_caps(config_.max_queue_events, config_.max_queue_bytes, min_created);
  if (!r) {
    log(LogLevel::kWarn, "could not enforce queue caps: " + r.status().to_string());
    return;
  }
  if (r->total() == 0) return;
  count_drop(DropReason::kCapAge, r->by_age);
  count_drop(DropReason::kCapEvents, r->by_events);
  count_drop(DropReason::kCapBytes, r->by_bytes);
  log(LogLevel::kWarn,
      "queue cap reached: dropped the oldest " + std::to_string(r->total()) + " events");
}
}  // namespace tern
