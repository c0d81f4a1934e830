#include "engine.h"

#include <pthread.h>

#include <algorithm>

#include "sqlite_store.h"
#include "tern/base/gzip.h"
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

using SteadyTime = std::chrono::steady_clock::time_point;
constexpr SteadyTime kNever = SteadyTime::max();

std::string dump_object(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

// After the plugins: puts the SDK's messageId back unless the event has a
// non-empty string one, and its type back unless the event names one of the
// six Segment types (what the relay accepts).
void restore_sdk_fields(nlohmann::json& event, const std::string& message_id, const std::string& type) {
  auto it = event.find("messageId");
  if (it == event.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    event["messageId"] = message_id;
  }
  static const char* const kTypes[] = {"track", "identify", "page", "screen", "group", "alias"};
  it = event.find("type");
  bool valid_type = false;
  if (it != event.end() && it->is_string()) {
    for (const char* t : kTypes) valid_type = valid_type || it->get_ref<const std::string&>() == t;
  }
  if (!valid_type) event["type"] = type;
}
}  // namespace

Engine::Engine(Config config)
    : config_(std::move(config)), policy_(config_.backoff_base, config_.backoff_max) {}

Engine::~Engine() {
  if (worker_.joinable()) worker_.detach();  // unreachable: Client shuts down first
}

// ---------------------------------------------------------------- start

Status Engine::start() {
  const Config& c = config_;
  if (c.write_key.empty()) return Status(StatusCode::kInvalidArgument, "write_key is required");
  if (c.storage_path.empty() && !c.store) {
    return Status(StatusCode::kInvalidArgument, "storage_path is required");
  }
  if (c.endpoint.empty()) return Status(StatusCode::kInvalidArgument, "endpoint is required");
  if (c.max_event_bytes == 0 || c.max_batch_events == 0 || c.flush_at == 0 ||
      c.commit_max_events == 0 || c.max_pending_events == 0 || c.max_queue_events == 0 ||
      c.max_queue_bytes == 0 || c.max_attempts < 1) {
    return Status(StatusCode::kInvalidArgument, "limits must be positive");
  }
  if (c.max_batch_bytes < c.max_event_bytes + kBatchOverhead + c.max_batch_events) {
    return Status(StatusCode::kInvalidArgument,
                  "max_batch_bytes must hold one max_event_bytes event plus the batch envelope");
  }
  if (c.backoff_base.count() <= 0 || c.backoff_max < c.backoff_base) {
    return Status(StatusCode::kInvalidArgument, "need 0 < backoff_base <= backoff_max");
  }
  if (c.commit_window.count() < 0 || c.flush_interval.count() <= 0) {
    return Status(StatusCode::kInvalidArgument, "commit_window and flush_interval must be positive");
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
  if (fresh) id->anonymous_id = base::uuid_v4();
  identity_ = std::move(id);
  if (fresh) {
    Status s = store_->put({{kKeyAnonymousId, identity_->anonymous_id}});
    if (!s) return s;
  }

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
  ctx["library"] = {{"name", c.library_name},
                    {"version", c.library_version.empty() ? std::string(version()) : c.library_version}};
  try {
    context_text_ = dump_object(ctx);
  } catch (...) {
    context_text_ = dump_object(nlohmann::json{{"library", ctx["library"]}});
  }

  url_ = c.endpoint;
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  url_ += "/v1/batch";

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
  std::lock_guard<std::mutex> lock(identity_mu_);
  return identity_;
}

void Engine::set_identity(std::shared_ptr<const Identity> id) {
  {
    std::lock_guard<std::mutex> lock(identity_mu_);
    identity_ = std::move(id);
  }
  std::lock_guard<std::mutex> lock(mu_);
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

std::string Engine::merged_context(std::string_view override_json,
                                   const nlohmann::json* override_dom) const {
  nlohmann::json base = parse_json(context_text_);
  nlohmann::json parsed;
  if (!override_dom) {
    parsed = parse_json(override_json);
    override_dom = &parsed;
  }
  if (override_dom->is_object()) {
    for (auto it = override_dom->begin(); it != override_dom->end(); ++it) base[it.key()] = it.value();
  }
  return dump_object(base);
}

// ---------------------------------------------------------------- caller side


static Status validate_strings(std::initializer_list<std::string_view> fields) {
  for (auto f : fields) {
    if (!is_valid_utf8(f)) return Status(StatusCode::kInvalidArgument, "a string field is not valid UTF-8");
  }
  return Status::ok();
}

Status Engine::record_dom(MessageType type, std::string_view primary, const nlohmann::json& object,
                          const EventOptions& options) {
  try {
    if (Status g = gate(); !g) return g;
    if (!object.is_null() && !object.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    type == MessageType::kIdentify || type == MessageType::kGroup
                        ? "traits must be a JSON object or null"
                        : "properties must be a JSON object or null");
    }
    if (!options.context.is_null() && !options.context.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "context must be a JSON object or null");
    }
    if (!options.integrations.is_null() && !options.integrations.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    "integrations must be a JSON object or null");
    }
    std::string object_text, integrations_text;
    try {
      if (object.is_object()) object_text = dump_object(object);
      if (options.integrations.is_object()) integrations_text = dump_object(options.integrations);
    } catch (const nlohmann::json::exception&) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "a JSON string is not valid UTF-8");
    }
    RawMessage m;
    m.type = type;
    switch (type) {
      case MessageType::kTrack: m.event = primary; break;
      case MessageType::kScreen:
      case MessageType::kPage: m.name = primary; break;
      case MessageType::kIdentify:
      case MessageType::kAlias: m.user_id = primary; break;
      case MessageType::kGroup: m.group_id = primary; break;
    }
    if (type == MessageType::kIdentify || type == MessageType::kGroup) {
      m.traits_json = object_text;
    } else {
      m.properties_json = object_text;
    }
    if (type != MessageType::kIdentify && type != MessageType::kAlias) m.user_id = options.user_id;
    m.anonymous_id = options.anonymous_id;
    m.integrations_json = integrations_text;
    m.timestamp = options.timestamp;
    std::string context_text;
    if (options.context.is_object()) {
      try {
        context_text = merged_context({}, &options.context);
      } catch (const nlohmann::json::exception&) {
        return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "context is not valid UTF-8");
      }
    }
    return submit(m, context_text, type == MessageType::kIdentify ? &object : nullptr);
  } catch (const std::exception& e) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, std::string("unexpected error: ") + e.what());
  } catch (...) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, "unexpected error");
  }
}

Status Engine::enqueue_raw(const RawMessage& m) {
  try {
    if (Status g = gate(); !g) return g;
    for (std::string_view j : {m.properties_json, m.traits_json, m.context_json, m.integrations_json}) {
      if (!j.empty() && !is_json_object_text(j)) {
        return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                      "a JSON field is not one valid JSON object (or not valid UTF-8)");
      }
    }
    std::string context_text;
    if (!m.context_json.empty()) context_text = merged_context(m.context_json, nullptr);
    nlohmann::json traits;
    if (m.type == MessageType::kIdentify && !m.traits_json.empty()) {
      traits = parse_json(m.traits_json);
    }
    return submit(m, context_text, m.type == MessageType::kIdentify ? &traits : nullptr);
  } catch (const std::exception& e) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, std::string("unexpected error: ") + e.what());
  } catch (...) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, "unexpected error");
  }
}

Status Engine::submit(const RawMessage& m, const std::string& context_override,
                      const nlohmann::json* identify_traits) {
  if (Status s = validate_strings({m.event, m.name, m.user_id, m.anonymous_id, m.group_id, m.previous_id});
      !s) {
    return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, s.message());
  }
  switch (m.type) {
    case MessageType::kTrack:
      if (m.event.empty()) return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "track needs an event name");
      break;
    case MessageType::kScreen:
      if (m.name.empty()) return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "screen needs a name");
      break;
    case MessageType::kGroup:
      if (m.group_id.empty()) return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "group needs a group id");
      break;
    case MessageType::kAlias:
      if (m.user_id.empty()) return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "alias needs a new user id");
      break;
    case MessageType::kIdentify:
      if (m.user_id.empty() && m.traits_json.empty()) {
        return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "identify needs a user id or traits");
      }
      break;
    case MessageType::kPage: break;
  }

  auto id = identity();
  EventParts p;
  p.type = m.type;
  p.event = m.event;
  p.name = m.name;
  p.group_id = m.group_id;
  p.properties_json = m.properties_json;
  p.traits_json = m.traits_json;
  p.integrations_json = m.integrations_json;
  p.context_json = context_override.empty() ? std::string_view(context_text_) : std::string_view(context_override);
  p.anonymous_id = m.anonymous_id.empty() ? std::string_view(id->anonymous_id) : m.anonymous_id;
  std::string previous;
  if (m.type == MessageType::kIdentify) {
    p.user_id = m.user_id.empty() ? std::string_view(id->user_id) : m.user_id;
  } else if (m.type == MessageType::kAlias) {
    p.user_id = m.user_id;
    previous = !m.previous_id.empty() ? std::string(m.previous_id)
               : !id->user_id.empty() ? id->user_id
                                      : id->anonymous_id;
    p.previous_id = previous;
  } else {
    p.user_id = m.user_id.empty() ? std::string_view(id->user_id) : m.user_id;
  }
  auto wall = clock_->wall();
  p.now_ms = to_unix_ms(wall);
  p.timestamp = m.timestamp ? *m.timestamp : wall;

  std::string text;
  text.reserve(160 + p.context_json.size() + p.properties_json.size() + p.traits_json.size() +
               p.integrations_json.size() + p.event.size() + p.name.size() + p.user_id.size());
  write_event(text, p);

  if (!config_.plugins.empty()) {
    nlohmann::json dom = parse_json(text);
    // The SDK's own messageId (the idempotency key every retry relies on: the
    // relay would mint a fresh one per attempt) and type (how the relay
    // validates the event). A plugin may change them to other valid values;
    // one that removes them (e.g. tern_plugin_event_replace with an object
    // built from scratch) or makes them invalid gets these back.
    const std::string own_message_id = dom.value("messageId", std::string());
    const std::string own_type = dom.value("type", std::string());
    for (const auto& plugin : config_.plugins) {
      bool keep = false;
      try {
        keep = plugin->process(dom);
      } catch (...) {
        log(LogLevel::kWarn, "a plugin threw; the event is dropped");
        keep = false;
      }
      if (!keep) return reject(DropReason::kPlugin, StatusCode::kPermissionDenied, "dropped by a plugin");
    }
    if (!dom.is_object()) return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "a plugin made the event not an object");
    restore_sdk_fields(dom, own_message_id, own_type);
    try {
      text = dump_object(dom);
    } catch (...) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument, "a plugin produced invalid UTF-8");
    }
  }
  if (text.size() > config_.max_event_bytes) {
    return reject(DropReason::kTooLarge, StatusCode::kOutOfRange,
                  "event is " + std::to_string(text.size()) + " bytes, above max_event_bytes " +
                      std::to_string(config_.max_event_bytes));
  }

  // Identity changes take effect once the event is accepted by validation.
  if (m.type == MessageType::kIdentify || m.type == MessageType::kAlias) {
    auto next = std::make_shared<Identity>(*id);
    if (!m.user_id.empty()) next->user_id = std::string(m.user_id);
    if (identify_traits && identify_traits->is_object()) {
      for (auto it = identify_traits->begin(); it != identify_traits->end(); ++it) next->traits[it.key()] = it.value();
    }
    set_identity(std::move(next));
  }
  return hand_off(std::move(text));
}

Status Engine::hand_off(std::string text) {
  if (config_.durability == Durability::kImmediate) return append_now(std::move(text));
  std::unique_lock<std::mutex> lk(mu_);
  if (stop_) {
    lk.unlock();
    return reject(DropReason::kShutdown, StatusCode::kCancelled, "the client is shut down");
  }
  if (pending_.size() >= config_.max_pending_events) {
    lk.unlock();
    return reject(DropReason::kQueueFull, StatusCode::kResourceExhausted, "the hand-off queue is full");
  }
  // The commit window opens with the first pending event (one clock read per window).
  if (pending_.empty()) first_pending_at_ = clock_->monotonic();
  pending_.push_back(std::move(text));
  pending_count_.fetch_add(1, std::memory_order_relaxed);
  enqueued_.fetch_add(1, std::memory_order_relaxed);
  // Wake the worker only when it must open a commit window or commit now:
  // at high rates this is one wake-up per window, not one per event.
  if (worker_idle_ || pending_.size() == config_.commit_max_events) {
    worker_idle_ = false;
    cv_.notify_one();
  }
  return Status::ok();
}

// Durability::kImmediate: the caller commits its own event (the store
// serialises writers), so track() never waits behind an upload in progress.
Status Engine::append_now(std::string text) {
  if (!accepting_.load()) return reject(DropReason::kShutdown, StatusCode::kCancelled, "the client is shut down");
  std::vector<std::string> one;
  one.push_back(std::move(text));
  std::unique_lock<std::mutex> commit_lock(commit_mu_);
  if (consent() == Consent::kDenied) {
    commit_lock.unlock();
    return reject(DropReason::kConsentDenied, StatusCode::kPermissionDenied, "consent denied");
  }
  Status s = store_->append(one, to_unix_ms(clock_->wall()));
  commit_lock.unlock();
  if (!s) {
    log(LogLevel::kWarn, "could not store an event (dropped): " + s.to_string());
    count_drop(DropReason::kStorageError);
    return s;
  }
  enqueued_.fetch_add(1, std::memory_order_relaxed);
  stored_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  caps_dirty_ = true;
  if (worker_idle_) {
    worker_idle_ = false;
    cv_.notify_one();
  }
  return Status::ok();
}

Status Engine::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (worker_exited_ || stop_) return Status(StatusCode::kCancelled, "the client is shut down");
  uint64_t mine = ++flush_requested_;
  cv_.notify_one();
  bool done = done_cv_.wait_for(lk, timeout, [&] { return flush_done_ >= mine || worker_exited_; });
  if (!done) return Status(StatusCode::kTimeout, "flush did not finish in time; the events stay queued");
  if (flush_done_ < mine) return Status(StatusCode::kCancelled, "the client is shut down");
  return flush_result_;
}

void Engine::reset() {
  auto next = std::make_shared<Identity>();
  next->anonymous_id = base::uuid_v4();
  set_identity(std::move(next));
}

Status Engine::set_consent(Consent c) {
  const char* text = c == Consent::kGranted ? "granted" : c == Consent::kDenied ? "denied" : "unknown";
  consent_ = static_cast<int>(c);
  Status persisted = store_->put({{kKeyConsent, text}});
  if (c == Consent::kDenied) {
    // commit_mu_ keeps a worker commit from landing rows after the purge.
    std::lock_guard<std::mutex> commit_lock(commit_mu_);
    uint64_t purged_pending = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
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
      log(LogLevel::kInfo, "consent denied: purged " + std::to_string(*r + purged_pending) + " events");
    } else {
      log(LogLevel::kError, "consent denied but the queue could not be purged: " + r.status().to_string());
      if (persisted) persisted = r.status();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_one();
  return persisted;
}

Status Engine::set_opt_out(bool v) {
  opt_out_ = v;
  Status s = store_->put({{kKeyOptOut, v ? "1" : "0"}});
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_one();
  return s;
}

Status Engine::shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (shutdown_called_) {
    if (worker_exited_ && worker_.joinable()) {
      lk.unlock();
      worker_.join();
      return Status::ok();
    }
    return worker_exited_ ? Status::ok() : Status(StatusCode::kTimeout, "the worker is still stopping");
  }
  shutdown_called_ = true;
  accepting_ = false;
  stop_ = true;
  shutdown_deadline_ = clock_->monotonic() + timeout;
  cv_.notify_one();
  bool exited = done_cv_.wait_for(lk, timeout, [&] { return worker_exited_; });
  lk.unlock();
  if (exited) {
    worker_.join();
    return Status::ok();
  }
  // The worker holds its own reference to this Engine; it finishes its
  // current step (at most the transport's timeouts) and exits on its own.
  worker_.detach();
  log(LogLevel::kWarn, "shutdown timed out; the worker stops after its current step");
  return Status(StatusCode::kTimeout, "shutdown did not finish in time; unsent events stay on disk");
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
  return s;
}

// ---------------------------------------------------------------- worker

bool Engine::upload_allowed() const {
  return consent_.load() == static_cast<int>(Consent::kGranted) && !opt_out_.load();
}

void Engine::wait_until(std::unique_lock<std::mutex>& lk, SteadyTime deadline) {
  if (real_clock_) {
    if (deadline == kNever) {
      cv_.wait(lk);
    } else {
      cv_.wait_until(lk, deadline);
    }
    return;
  }
  // Injected clock: its time can jump (a manual clock's advance()), so
  // re-read it in short real-time slices.
  auto slice = std::chrono::milliseconds(1);
  if (deadline != kNever) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_->monotonic());
    if (left < slice) slice = std::max(left, std::chrono::milliseconds(0));
  }
  if (slice.count() > 0) cv_.wait_for(lk, slice);
}

void Engine::complete_flush(Status s) {
  flush_done_ = flush_requested_;
  flush_result_ = std::move(s);
  done_cv_.notify_all();
}

void Engine::run() {
  pthread_setname_np(pthread_self(), "tern-worker");
  std::unique_lock<std::mutex> lk(mu_);
  bool window_open = false;
  SteadyTime commit_deadline{};
  // Commits what track() handed off, with mu_ released meanwhile (`lk` is
  // held on entry and on return).
  auto commit_pending = [&] {
    std::vector<std::string> batch;
    batch.swap(pending_);
    window_open = false;
    const uint64_t epoch = purge_epoch_;
    lk.unlock();
    (void)commit(batch, epoch);
    // Free the strings before re-taking mu_: track() never waits behind it.
    std::vector<std::string>().swap(batch);
    lk.lock();
  };
  for (;;) {
    SteadyTime now = clock_->monotonic();
    const bool flush_pending = flush_requested_ > flush_done_;
    if (!pending_.empty()) {
      if (!window_open) {
        window_open = true;
        commit_deadline = first_pending_at_ + config_.commit_window;
      }
      if (stop_ || flush_pending || pending_.size() >= config_.commit_max_events || now >= commit_deadline) {
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
    const bool allowed = upload_allowed();
    const uint64_t queued = store_->count();
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
      break;
    }
    if (flush_pending) {
      if (!allowed) {
        complete_flush(Status(StatusCode::kPermissionDenied,
                              opt_out_.load() ? "the user opted out: nothing is uploaded"
                                              : "consent is not granted: nothing is uploaded"));
        continue;
      }
      if (queued == 0) {
        complete_flush(Status::ok());
        continue;
      }
    }
    const bool due = allowed && queued > 0 &&
                     (flush_pending || !batches_.empty() || policy_.consecutive_failures() > 0 ||
                      queued >= config_.flush_at || now >= last_upload_ + config_.flush_interval);
    if (due && policy_.may_attempt(now)) {
      if (!pending_.empty()) {
        // Commit first: an upload blocks this thread for up to the request
        // timeout, and events handed off meanwhile are not durable until it returns.
        commit_pending();
        continue;
      }
      lk.unlock();
      UploadResult r = upload_one();
      lk.lock();
      if (r == UploadResult::kFailed && flush_requested_ > flush_done_) {
        complete_flush(Status(StatusCode::kUnavailable, last_error_));
      }
      continue;
    }
    SteadyTime deadline = kNever;
    if (window_open) deadline = commit_deadline;
    if (allowed && queued > 0) {
      SteadyTime upload_at = due ? policy_.next_attempt()
                                 : std::max(policy_.next_attempt(), last_upload_ + config_.flush_interval);
      deadline = std::min(deadline, upload_at);
    }
    worker_idle_ = !window_open;
    if (!real_clock_) clock_->on_worker_wait(now, deadline);
    wait_until(lk, deadline);
    worker_idle_ = false;
  }
  worker_exited_ = true;
  done_cv_.notify_all();
}

Status Engine::commit(const std::vector<std::string>& texts, uint64_t epoch) {
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  bool purged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    purged = purge_epoch_ != epoch;
  }
  if (purged) {  // consent was denied after these were handed off
    pending_count_.fetch_sub(texts.size());
    count_drop(DropReason::kConsentDenied, texts.size());
    return Status(StatusCode::kPermissionDenied, "consent denied");
  }
  Status s = store_->append(texts, to_unix_ms(clock_->wall()));
  pending_count_.fetch_sub(texts.size());
  if (s) {
    stored_.fetch_add(texts.size());
    enforce_caps();
  } else {
    // Log before counting: whoever sees the count can also find the reason.
    log(LogLevel::kWarn, "could not store " + std::to_string(texts.size()) + " events (dropped): " + s.to_string());
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
  Status s = store_->put({{kKeyAnonymousId, id->anonymous_id}, {kKeyUserId, id->user_id}, {kKeyTraits, traits}});
  if (!s) log(LogLevel::kWarn, "could not persist identity: " + s.to_string());
}

void Engine::enforce_caps() {
  int64_t min_created = to_unix_ms(clock_->wall()) -
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
  log(LogLevel::kWarn, "queue cap reached: dropped the oldest " + std::to_string(r->total()) + " events");
}

Engine::UploadResult Engine::upload_one() {
  if (batches_.empty()) {
    enforce_caps();
    std::size_t budget = config_.max_batch_bytes - kBatchOverhead - config_.max_batch_events;
    auto r = store_->read_oldest(config_.max_batch_events, budget);
    if (!r) {
      last_error_ = r.status().to_string();
      log(LogLevel::kWarn, "could not read a batch: " + last_error_);
      policy_.on_failure(clock_->monotonic(), std::nullopt, base::random_u64());
      return UploadResult::kFailed;
    }
    if (r->empty()) return UploadResult::kNothing;
    batches_.push_back(std::move(r).value());
  }
  Batch& batch = batches_.front();
  std::vector<int64_t> ids;
  ids.reserve(batch.size());
  for (const auto& e : batch) ids.push_back(e.id);

  // Retry budget: attempts, and age since the batch was first attempted.
  const int64_t now_ms = to_unix_ms(clock_->wall());
  int max_attempts_seen = 0;
  int64_t first_attempt = 0;
  for (const auto& e : batch) {
    max_attempts_seen = std::max(max_attempts_seen, e.attempts);
    if (e.first_attempt_ms && (!first_attempt || e.first_attempt_ms < first_attempt)) first_attempt = e.first_attempt_ms;
  }
  const int64_t max_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.max_batch_age).count();
  if (max_attempts_seen >= config_.max_attempts || (first_attempt && now_ms - first_attempt > max_age_ms)) {
    Status s = store_->remove(ids);
    if (!s) log(LogLevel::kWarn, "could not delete an expired batch: " + s.to_string());
    count_drop(DropReason::kRetryBudget, batch.size());
    log(LogLevel::kWarn, "dropped a batch of " + std::to_string(batch.size()) + " events after " +
                             std::to_string(max_attempts_seen) + " attempts (retry budget)");
    batches_.pop_front();
    return UploadResult::kDropped;
  }

  // The attempt is recorded in the store (one transaction, the "claim")
  // before a retry is sent, and after a first attempt only if it fails: a
  // batch that goes through on its first try costs no claim write. A crash
  // during a first attempt forgets at most that one attempt.
  const bool retrying = std::any_of(batch.begin(), batch.end(), [](const StoredEvent& e) { return e.attempts > 0; });
  auto claim = [&] {
    if (Status s = store_->mark_attempt(ids, now_ms); !s) {
      log(LogLevel::kWarn, "could not record an upload attempt: " + s.to_string());
    }
  };
  if (retrying) claim();
  for (auto& e : batch) {
    ++e.attempts;
    if (!e.first_attempt_ms) e.first_attempt_ms = now_ms;
  }

  std::string body = write_batch(batch, [](const StoredEvent& e) -> const std::string& { return e.body; },
                                 clock_->wall());
  HttpRequest req;
  req.url = url_;
  req.write_key = config_.write_key;
  req.gzip = config_.gzip;
  if (config_.gzip) {
    auto z = base::gzip_compress(body);
    if (z) {
      req.body = std::move(z).value();
    } else {
      req.gzip = false;
      req.body = std::move(body);
    }
  } else {
    req.body = std::move(body);
  }
  attempts_.fetch_add(1);
  bytes_sent_.fetch_add(req.body.size());
  if (!transport_) transport_ = make_curl_transport(config_.http);
  HttpResponse resp = transport_->send(req);
  last_upload_ = clock_->monotonic();

  {
    std::lock_guard<std::mutex> lock(mu_);
    if (batches_invalid_) {  // consent was denied meanwhile: the rows are gone
      batches_.clear();
      batches_invalid_ = false;
      return UploadResult::kDropped;
    }
  }

  switch (classify_http_status(resp.status_code)) {
    case UploadVerdict::kSuccess: {
      std::vector<bool> rejected(batch.size(), false);
      uint64_t n_rejected = 0;
      if (resp.body.find("rejected") != std::string::npos) {
        auto j = parse_json(resp.body);
        if (j.is_object() && j.contains("rejected") && j["rejected"].is_array()) {
          for (const auto& item : j["rejected"]) {
            if (!item.is_object() || !item.contains("index") || !item["index"].is_number_integer()) continue;
            auto idx = item["index"].get<int64_t>();
            if (idx < 0 || static_cast<std::size_t>(idx) >= batch.size() || rejected[idx]) continue;
            rejected[idx] = true;
            ++n_rejected;
            std::string reason = item.contains("reason") && item["reason"].is_string()
                                     ? item["reason"].get<std::string>() : "unspecified";
            log(LogLevel::kWarn, "the server rejected an event: " + reason);
          }
        }
      }
      Status s = store_->remove(ids);
      if (!s) log(LogLevel::kWarn, "sent, but could not delete the batch (it may be sent again): " + s.to_string());
      sent_.fetch_add(batch.size() - n_rejected);
      count_drop(DropReason::kServerRejected, n_rejected);
      batches_sent_.fetch_add(1);
      batches_.pop_front();
      policy_.on_success();
      return UploadResult::kSent;
    }
    case UploadVerdict::kBisect: {
      policy_.on_success();  // the server answered: no backoff, narrow it down
      if (batch.size() == 1) {
        Status s = store_->remove(ids);
        if (!s) log(LogLevel::kWarn, "could not delete a rejected event: " + s.to_string());
        count_drop(DropReason::kServerRejected, 1);
        log(LogLevel::kWarn, "the server rejected an event with HTTP " + std::to_string(resp.status_code) +
                                 "; it is dropped");
        batches_.pop_front();
        return UploadResult::kDropped;
      }
      std::size_t half = batch.size() / 2;
      Batch second(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(half)),
                   std::make_move_iterator(batch.end()));
      batch.resize(half);
      batches_.insert(batches_.begin() + 1, std::move(second));
      return UploadResult::kBisected;
    }
    case UploadVerdict::kRetry:
      break;
  }
  if (!retrying) claim();
  retried_.fetch_add(1);
  last_error_ = resp.status_code == 0 ? "network error: " + resp.error
                                      : "HTTP " + std::to_string(resp.status_code);
  auto delay = policy_.on_failure(clock_->monotonic(), resp.retry_after, base::random_u64());
  log(LogLevel::kWarn, "upload failed (" + last_error_ + "); retrying in " + std::to_string(delay.count()) + " ms");
  return UploadResult::kFailed;
}

}  // namespace tern
