// The C API (include/tern/tern.h) over tern::Client.
//
// One file on purpose (over 800 lines): it is the whole exported ABI, about a
// hundred entry points of a few lines each that share one set of argument
// checks, one status mapping (to_c_status) and one catch-all (guarded), in
// the order tern.h declares them; spreading them over files would only make
// that one pattern harder to check against the header.
//
// Every entry point is a thin adapter: check the C arguments, call the C++
// core, map tern::Status onto tern_status (to_c_status), and catch everything so
// that no exception crosses into C. Host vtables are wrapped in adapters that
// own `state` and call free_state from their destructor, so a hook lives
// exactly as long as the last options/client holding it.
#include "tern/tern.h"

#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "tern/client.h"
#include "tern/config.h"
#include "tern/context_provider.h"
#include "tern/logger.h"
#include "tern/plugin.h"
#include "tern/stats.h"
#include "tern/status.h"
#include "tern/transport.h"
#include "tern/version.h"
#include "text.h"  // sdk/src: the SDK's own UTF-8 check, one definition for both layers

// These C enums mirror the C++ ones value for value; these keep them in step.
// (tern_status does not: to_c_status maps it explicitly.)
static_assert(TERN_DROP_SHUTDOWN == static_cast<int>(tern::DropReason::kShutdown),
              "tern_drop_reason must mirror tern::DropReason");
static_assert(static_cast<int>(tern::DropReason::kCount) <= TERN_DROP_REASON_SLOTS,
              "tern_stats has no room for every drop reason");
static_assert(TERN_CONSENT_DENIED == static_cast<int>(tern::Consent::kDenied), "consent");
static_assert(TERN_DURABILITY_IMMEDIATE == static_cast<int>(tern::Durability::kImmediate),
              "durability");
static_assert(TERN_LOG_ERROR == static_cast<int>(tern::LogLevel::kError), "log level");
static_assert(TERN_FLUSH_SENT == static_cast<int>(tern::FlushResult::kSent) &&
                  TERN_FLUSH_TIMED_OUT == static_cast<int>(tern::FlushResult::kTimedOut) &&
                  TERN_FLUSH_CANCELLED == static_cast<int>(tern::FlushResult::kCancelled),
              "tern_flush_result must mirror tern::FlushResult");

namespace {

// Messages of failed calls made without a valid client handle
// (tern_client_create, NULL handles), one per thread.
thread_local std::string t_last_error;

// The integer value of an enum received from C, read without an enum-typed
// load: a C caller may pass any int, which C++ would treat as out of range.
template <typename Enum>
int raw_value(const Enum& e) noexcept {
  static_assert(sizeof(Enum) == sizeof(int), "C API enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// --- Host hook adapters ----------------------------------------------------

// Owns a host vtable's `state`: free_state runs once, when the last holder
// (options or client config) lets go.
template <typename VTable>
class HostState {
 public:
  explicit HostState(const VTable& v) : v_(v) {}
  ~HostState() {
    if (v_.free_state != nullptr) v_.free_state(v_.state);
  }
  HostState(const HostState&) = delete;
  HostState& operator=(const HostState&) = delete;

 protected:
  VTable v_;
};

class HostLogger final : public tern::Logger, private HostState<tern_logger> {
 public:
  HostLogger(const tern_logger& v, tern::LogLevel min_level)
      : HostState(v), min_level_(min_level) {}

  void log(tern::LogLevel level, std::string_view message) override {
    if (level < min_level_) return;
    try {
      std::string text(message);  // the C callback gets a NUL-terminated copy
      v_.log(v_.state, static_cast<tern_log_level>(level), text.c_str(), text.size());
    } catch (...) {
      // A logger must not throw; losing one line is the only safe outcome.
    }
  }

 private:
  tern::LogLevel min_level_;
};

class HostContextProvider final : public tern::ContextProvider,
                                  private HostState<tern_context_provider> {
 public:
  explicit HostContextProvider(const tern_context_provider& v) : HostState(v) {}

  std::string context_json() override {
    try {
      const char* text = v_.context_json(v_.state);
      return text != nullptr ? std::string(text) : std::string("{}");
    } catch (...) {
      return "{}";
    }
  }
};

}  // namespace

struct tern_http_response {
  tern::HttpResponse response;
  bool status_set = false;
};

namespace {

class HostTransport final : public tern::Transport, private HostState<tern_transport> {
 public:
  explicit HostTransport(const tern_transport& v) : HostState(v) {}

  tern::HttpResponse send(const tern::HttpRequest& request) override {
    try {
      tern_http_request c_request;
      std::memset(&c_request, 0, sizeof c_request);
      c_request.struct_size = sizeof c_request;
      c_request.url = request.url.c_str();
      c_request.write_key = request.write_key.c_str();
      c_request.body = request.body.data();
      c_request.body_length = request.body.size();
      c_request.gzip = request.gzip ? 1 : 0;
      c_request.content_type = request.content_type.c_str();
      c_request.method = request.method.c_str();
      c_request.if_none_match =
          request.if_none_match.empty() ? nullptr : request.if_none_match.c_str();
      tern_http_response c_response;
      v_.send(v_.state, &c_request, &c_response);
      tern::HttpResponse out = std::move(c_response.response);
      if (out.status_code == 0 && out.error.empty()) {
        out.error = c_response.status_set ? "host transport: no HTTP answer"
                                          : "host transport reported no status";
      }
      return out;
    } catch (const std::exception& e) {
      tern::HttpResponse out;
      out.error = std::string("host transport adapter: ") + e.what();
      return out;
    } catch (...) {
      tern::HttpResponse out;
      out.error = "host transport adapter: unknown error";
      return out;
    }
  }
};

}  // namespace

struct tern_plugin_event {
  nlohmann::json* event;
};

namespace {

class HostPlugin final : public tern::Plugin, private HostState<tern_plugin> {
 public:
  explicit HostPlugin(const tern_plugin& v) : HostState(v) {}

  bool process(nlohmann::json& event) override {
    // The core validated every string, so replace never triggers; it only
    // keeps dump() from throwing.
    const std::string text = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    tern_plugin_event handle{&event};
    return v_.process(v_.state, text.c_str(), text.size(), &handle) != 0;
  }
};

}  // namespace

struct tern_options {
  tern::Config config;
};

struct tern_client {
  std::unique_ptr<tern::Client> client;

  // The last failure message per calling thread (see tern_client_last_error).
  // Node-based map: a thread's string never moves when others are added.
  mutable std::mutex errors_mu;
  mutable std::unordered_map<std::thread::id, std::string> errors;

  void set_error(std::string message) const {
    std::lock_guard<std::mutex> lock(errors_mu);
    errors[std::this_thread::get_id()] = std::move(message);
  }
  const char* error() const {
    std::lock_guard<std::mutex> lock(errors_mu);
    auto it = errors.find(std::this_thread::get_id());
    return it == errors.end() ? "" : it->second.c_str();
  }
};

namespace {

// Records `message` as the calling thread's last error (on the client when
// there is one) and returns `status`. Never throws.
tern_status fail(const tern_client* client, tern_status status, const char* message) noexcept {
  try {
    if (client != nullptr) {
      client->set_error(message);
    } else {
      t_last_error = message;
    }
  } catch (...) {
    // Out of memory while recording the message: the status still tells.
  }
  return status;
}

// tern::StatusCode (domain-neutral, shared with the relay) → tern_status
// (fixed forever). Each code the SDK returns has exactly one tern_status, the
// one the C API has always returned in that situation:
//   kInvalidArgument → TERN_INVALID_ARGUMENT  bad input
//   kOutOfRange → TERN_TOO_LARGE              an event above max_event_bytes
//   kResourceExhausted → TERN_QUEUE_FULL      the hand-off queue is full
//   kIOError → TERN_STORAGE                   SQLite failed (disk full, read-only, I/O)
//   kFailedPrecondition → TERN_LOCKED         another process owns the database
//   kCorruption → TERN_CORRUPT                the database was corrupt
//   kTimeout → TERN_TIMEOUT                   flush/shutdown missed its deadline
//   kCancelled → TERN_SHUTDOWN                the client is shut down
//   kPermissionDenied → TERN_DISABLED         opted out, consent denied, a plugin dropped it
//   kUnavailable → TERN_TRANSPORT             an upload failed
//   kInternal → TERN_INTERNAL                 a bug
// The SDK never returns kNotFound; it maps to TERN_NOT_FOUND should it ever
// come. kAborted (a stale revision, the relay's control plane only) maps to
// TERN_INTERNAL. TERN_UNAVAILABLE (a dependency is down) is not returned by
// this version: the SDK's only remote dependency is the upload, reported as
// TERN_TRANSPORT.
tern_status to_c_status(tern::StatusCode code) noexcept {
  switch (code) {
    case tern::StatusCode::kOk:
      return TERN_OK;
    case tern::StatusCode::kInvalidArgument:
      return TERN_INVALID_ARGUMENT;
    case tern::StatusCode::kOutOfRange:
      return TERN_TOO_LARGE;
    case tern::StatusCode::kResourceExhausted:
      return TERN_QUEUE_FULL;
    case tern::StatusCode::kIOError:
      return TERN_STORAGE;
    case tern::StatusCode::kFailedPrecondition:
      return TERN_LOCKED;
    case tern::StatusCode::kCorruption:
      return TERN_CORRUPT;
    case tern::StatusCode::kTimeout:
      return TERN_TIMEOUT;
    case tern::StatusCode::kCancelled:
      return TERN_SHUTDOWN;
    case tern::StatusCode::kPermissionDenied:
      return TERN_DISABLED;
    case tern::StatusCode::kUnavailable:
      return TERN_TRANSPORT;
    case tern::StatusCode::kInternal:
      return TERN_INTERNAL;
    case tern::StatusCode::kNotFound:
      return TERN_NOT_FOUND;
    case tern::StatusCode::kAborted:
      return TERN_INTERNAL;
  }
  return TERN_INTERNAL;
}

tern_status from(const tern_client* client, const tern::Status& status) noexcept {
  if (status.is_ok()) return TERN_OK;
  tern_status code = to_c_status(status.code());
  try {
    std::string message =
        status.message().empty() ? std::string(tern_status_str(code)) : status.message();
    return fail(client, code, message.c_str());
  } catch (...) {
    return fail(client, code, tern_status_str(code));
  }
}

// Runs `body` (returning tern_status) with the one catch-all of an entry point.
template <typename F>
tern_status guarded(const tern_client* client, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(client, TERN_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(client, TERN_INTERNAL, e.what());
  } catch (...) {
    return fail(client, TERN_INTERNAL, "unknown exception");
  }
}

tern_status bad_options() noexcept {
  return fail(nullptr, TERN_INVALID_ARGUMENT, "options is NULL");
}

tern_status set_string(tern_options* options, const char* value, const char* what,
                       std::string tern::Config::*field) noexcept {
  return guarded(nullptr, [&] {
    if (options == nullptr) return bad_options();
    if (value == nullptr) {
      return fail(nullptr, TERN_INVALID_ARGUMENT, (std::string(what) + " is NULL").c_str());
    }
    if (!tern::is_valid_utf8(value)) {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + " is not valid UTF-8").c_str());
    }
    options->config.*field = value;
    return TERN_OK;
  });
}

tern_status set_http_string(tern_options* options, const char* value, const char* what,
                            std::string tern::CurlTransportOptions::*field) noexcept {
  return guarded(nullptr, [&] {
    if (options == nullptr) return bad_options();
    if (value == nullptr || !tern::is_valid_utf8(value)) {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + " is NULL or not valid UTF-8").c_str());
    }
    options->config.http.*field = value;
    return TERN_OK;
  });
}

// A count that must be at least 1.
tern_status set_count(tern_options* options, uint64_t value, const char* what,
                      std::size_t tern::Config::*field) noexcept {
  if (options == nullptr) return bad_options();
  if (value == 0 || value > static_cast<uint64_t>(SIZE_MAX)) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT, (std::string(what) + " must be > 0").c_str());
    });
  }
  options->config.*field = static_cast<std::size_t>(value);
  return TERN_OK;
}

// A duration that must be positive (or, with allow_zero, not negative).
template <typename Duration, typename Owner>
tern_status set_duration(tern_options* options, Owner* owner, int64_t value, const char* what,
                         Duration Owner::*field, bool allow_zero = false) noexcept {
  if (options == nullptr) return bad_options();
  if (value < 0 || (value == 0 && !allow_zero)) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + (allow_zero ? " must be >= 0" : " must be > 0")).c_str());
    });
  }
  // Past a century the core's clock arithmetic could overflow.
  if (Duration(static_cast<typename Duration::rep>(value)) > std::chrono::hours(24 * 365 * 100)) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + " is above 100 years").c_str());
    });
  }
  owner->*field = Duration(static_cast<typename Duration::rep>(value));
  return TERN_OK;
}

tern_status bad_client() noexcept { return fail(nullptr, TERN_INVALID_ARGUMENT, "client is NULL"); }

// True when a caller-supplied versioned struct is large enough to hold
// `field` (its struct_size says which version of the header it was built with).
#define TERN_HAS_FIELD(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)nullptr)->field))

tern_status apply_event_options(const tern_client* client, const tern_event_options* options,
                                tern::RawMessage& message) {
  if (options == nullptr) return TERN_OK;
  if (options->struct_size < sizeof(uint32_t)) {
    return fail(client, TERN_INVALID_ARGUMENT, "tern_event_options.struct_size is not set");
  }
  if (TERN_HAS_FIELD(options, tern_event_options, user_id) && options->user_id != nullptr) {
    message.user_id = options->user_id;
  }
  if (TERN_HAS_FIELD(options, tern_event_options, anonymous_id) &&
      options->anonymous_id != nullptr) {
    message.anonymous_id = options->anonymous_id;
  }
  if (TERN_HAS_FIELD(options, tern_event_options, context_json) &&
      options->context_json != nullptr) {
    message.context_json = options->context_json;
  }
  if (TERN_HAS_FIELD(options, tern_event_options, integrations_json) &&
      options->integrations_json != nullptr) {
    message.integrations_json = options->integrations_json;
  }
  if (TERN_HAS_FIELD(options, tern_event_options, timestamp_ms) && options->timestamp_ms != 0) {
    message.timestamp = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::milliseconds(options->timestamp_ms)));
  }
  return TERN_OK;
}

// The shared body of the six event calls.
tern_status enqueue(tern_client* client, tern::MessageType type, const char* subject,
                    const char* json, const tern_event_options* options) noexcept {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] {
    tern::RawMessage message;
    message.type = type;
    // A NULL subject reaches the core as empty, so that the core rejects and
    // counts it like any other invalid event.
    std::string_view text = subject != nullptr ? std::string_view(subject) : std::string_view();
    std::string_view body = json != nullptr ? std::string_view(json) : std::string_view();
    switch (type) {
      case tern::MessageType::kTrack:
        message.event = text;
        message.properties_json = body;
        break;
      case tern::MessageType::kScreen:
      case tern::MessageType::kPage:
        message.name = text;
        message.properties_json = body;
        break;
      case tern::MessageType::kIdentify:
        message.user_id = text;
        message.traits_json = body;
        break;
      case tern::MessageType::kGroup:
        message.group_id = text;
        message.traits_json = body;
        break;
      case tern::MessageType::kAlias:
        message.user_id = text;
        break;
    }
    tern_status st = apply_event_options(client, options, message);
    if (st != TERN_OK) return st;
    // identify/alias carry the new user id in user_id; an override in the
    // per-call options must not replace it.
    if ((type == tern::MessageType::kIdentify || type == tern::MessageType::kAlias)) {
      message.user_id = text;
    }
    return from(client, client->client->enqueue(message));
  });
}

tern_status copy_out(const tern_client* client, const std::string& value, char* buffer,
                     std::size_t capacity, std::size_t* length) {
  if (buffer == nullptr && capacity != 0) {
    return fail(client, TERN_INVALID_ARGUMENT, "buffer is NULL but capacity is not 0");
  }
  if (length != nullptr) *length = value.size();
  if (capacity != 0) {
    std::size_t n = value.size() < capacity - 1 ? value.size() : capacity - 1;
    std::memcpy(buffer, value.data(), n);
    buffer[n] = '\0';
  }
  return TERN_OK;
}

template <typename VTable>
tern_status check_vtable(const VTable* v, uint32_t current, bool has_callback,
                         const char* what) noexcept {
  if (v == nullptr) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT, (std::string(what) + " is NULL").c_str());
    });
  }
  if (v->version == 0 || v->version > current) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + ": unsupported version " + std::to_string(v->version) +
                   " (this library knows 1.." + std::to_string(current) + ")")
                      .c_str());
    });
  }
  if (!has_callback) {
    return guarded(nullptr, [&] {
      return fail(nullptr, TERN_INVALID_ARGUMENT,
                  (std::string(what) + ": callback is NULL").c_str());
    });
  }
  return TERN_OK;
}

}  // namespace

extern "C" {

const char* tern_status_str(tern_status status) {
  int v = raw_value(status);
  // Static text per tern_status, fixed like the numbers.
  static const char* const kText[] = {"ok",         "invalid argument", "too large",
                                      "queue full", "storage error",    "locked",
                                      "corrupt",    "timeout",          "shut down",
                                      "disabled",   "transport error",  "internal error",
                                      "not found",  "unavailable"};
  static_assert(sizeof(kText) / sizeof(kText[0]) == TERN_UNAVAILABLE + 1,
                "one text per tern_status");
  if (v < TERN_OK || v > TERN_UNAVAILABLE) return "unknown status";
  return kText[v];
}

const char* tern_version(void) { return TERN_VERSION_STRING; }

const char* tern_drop_reason_str(tern_drop_reason reason) {
  int v = raw_value(reason);
  if (v < 0 || v >= static_cast<int>(tern::DropReason::kCount)) return "unknown";
  return tern::drop_reason_name(static_cast<tern::DropReason>(v));
}

// --- HTTP response ---------------------------------------------------------

tern_status tern_http_response_set_status(tern_http_response* response, int status_code) {
  if (response == nullptr) return fail(nullptr, TERN_INVALID_ARGUMENT, "response is NULL");
  if (status_code != 0 && (status_code < 100 || status_code > 599)) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "status code must be 0 or 100-599");
  }
  response->response.status_code = status_code;
  response->status_set = true;
  return TERN_OK;
}

tern_status tern_http_response_set_retry_after_ms(tern_http_response* response,
                                                  int64_t milliseconds) {
  if (response == nullptr) return fail(nullptr, TERN_INVALID_ARGUMENT, "response is NULL");
  if (milliseconds < 0) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "retry-after must be >= 0 ms");
  }
  response->response.retry_after = std::chrono::milliseconds(milliseconds);
  return TERN_OK;
}

tern_status tern_http_response_set_retry_after_header(tern_http_response* response,
                                                      const char* value) {
  if (response == nullptr || value == nullptr) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "response or value is NULL");
  }
  return guarded(nullptr, [&] {
    auto parsed = tern::parse_retry_after(value, std::chrono::system_clock::now());
    if (parsed) response->response.retry_after = parsed;
    return TERN_OK;
  });
}

tern_status tern_http_response_set_body(tern_http_response* response, const void* body,
                                        size_t length) {
  if (response == nullptr || (body == nullptr && length != 0)) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "response is NULL, or body is NULL with a length");
  }
  return guarded(nullptr, [&] {
    response->response.body.assign(static_cast<const char*>(body), length);
    return TERN_OK;
  });
}

tern_status tern_http_response_set_error(tern_http_response* response, const char* error) {
  if (response == nullptr || error == nullptr) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "response or error is NULL");
  }
  return guarded(nullptr, [&] {
    response->response.error = error;
    return TERN_OK;
  });
}

tern_status tern_http_response_set_etag(tern_http_response* response, const char* etag) {
  if (response == nullptr || etag == nullptr) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "response or etag is NULL");
  }
  return guarded(nullptr, [&] {
    response->response.etag = etag;
    return TERN_OK;
  });
}

// --- Options ---------------------------------------------------------------

tern_options* tern_options_new(void) {
  try {
    return new tern_options();
  } catch (...) {
    return nullptr;
  }
}

void tern_options_free(tern_options* options) {
  try {
    delete options;
  } catch (...) {
    // A host free_state that throws is the host's bug; never let it out.
  }
}

tern_status tern_options_set_endpoint(tern_options* options, const char* url) {
  return set_string(options, url, "endpoint", &tern::Config::endpoint);
}
tern_status tern_options_set_write_key(tern_options* options, const char* write_key) {
  return set_string(options, write_key, "write key", &tern::Config::write_key);
}
tern_status tern_options_set_storage_path(tern_options* options, const char* path) {
  return set_string(options, path, "storage path", &tern::Config::storage_path);
}
tern_status tern_options_set_flush_at(tern_options* options, uint64_t events) {
  return set_count(options, events, "flush_at", &tern::Config::flush_at);
}
tern_status tern_options_set_flush_interval_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, ms,
                      "flush_interval_ms", &tern::Config::flush_interval);
}
tern_status tern_options_set_max_event_bytes(tern_options* options, uint64_t bytes) {
  return set_count(options, bytes, "max_event_bytes", &tern::Config::max_event_bytes);
}
tern_status tern_options_set_max_batch_bytes(tern_options* options, uint64_t bytes) {
  return set_count(options, bytes, "max_batch_bytes", &tern::Config::max_batch_bytes);
}
tern_status tern_options_set_max_batch_events(tern_options* options, uint64_t events) {
  return set_count(options, events, "max_batch_events", &tern::Config::max_batch_events);
}
tern_status tern_options_set_max_queue_events(tern_options* options, uint64_t events) {
  return set_count(options, events, "max_queue_events", &tern::Config::max_queue_events);
}
tern_status tern_options_set_max_queue_bytes(tern_options* options, uint64_t bytes) {
  return set_count(options, bytes, "max_queue_bytes", &tern::Config::max_queue_bytes);
}
tern_status tern_options_set_max_event_age_s(tern_options* options, int64_t seconds) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, seconds,
                      "max_event_age_s", &tern::Config::max_event_age);
}
tern_status tern_options_set_durability(tern_options* options, tern_durability durability) {
  if (options == nullptr) return bad_options();
  const int v = raw_value(durability);
  if (v != TERN_DURABILITY_GROUP_COMMIT && v != TERN_DURABILITY_IMMEDIATE) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "unknown durability");
  }
  options->config.durability = static_cast<tern::Durability>(v);
  return TERN_OK;
}
tern_status tern_options_set_commit_window_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, ms,
                      "commit_window_ms", &tern::Config::commit_window, /*allow_zero=*/true);
}
tern_status tern_options_set_commit_max_events(tern_options* options, uint64_t events) {
  return set_count(options, events, "commit_max_events", &tern::Config::commit_max_events);
}
tern_status tern_options_set_max_pending_events(tern_options* options, uint64_t events) {
  return set_count(options, events, "max_pending_events", &tern::Config::max_pending_events);
}
tern_status tern_options_set_backoff_base_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, ms,
                      "backoff_base_ms", &tern::Config::backoff_base);
}
tern_status tern_options_set_backoff_max_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, ms,
                      "backoff_max_ms", &tern::Config::backoff_max);
}
tern_status tern_options_set_max_batch_age_s(tern_options* options, int64_t seconds) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, seconds,
                      "max_batch_age_s", &tern::Config::max_batch_age);
}
tern_status tern_options_set_max_attempts(tern_options* options, int32_t attempts) {
  if (options == nullptr) return bad_options();
  if (attempts <= 0) return fail(nullptr, TERN_INVALID_ARGUMENT, "max_attempts must be > 0");
  options->config.max_attempts = attempts;
  return TERN_OK;
}
tern_status tern_options_set_gzip(tern_options* options, int enabled) {
  if (options == nullptr) return bad_options();
  options->config.gzip = enabled != 0;
  return TERN_OK;
}
tern_status tern_options_set_default_consent(tern_options* options, tern_consent consent) {
  if (options == nullptr) return bad_options();
  const int v = raw_value(consent);
  if (v < TERN_CONSENT_UNKNOWN || v > TERN_CONSENT_DENIED) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "unknown consent value");
  }
  options->config.default_consent = static_cast<tern::Consent>(v);
  return TERN_OK;
}
tern_status tern_options_set_library_name(tern_options* options, const char* name) {
  return set_string(options, name, "library name", &tern::Config::library_name);
}
tern_status tern_options_set_library_version(tern_options* options, const char* version) {
  return set_string(options, version, "library version", &tern::Config::library_version);
}
tern_status tern_options_set_track_sessions(tern_options* options, int enabled) {
  if (options == nullptr) return bad_options();
  options->config.track_sessions = enabled != 0;
  return TERN_OK;
}
tern_status tern_options_set_session_timeout_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config : nullptr, ms,
                      "session_timeout_ms", &tern::Config::session_timeout);
}
tern_status tern_options_set_session_events(tern_options* options, int enabled) {
  if (options == nullptr) return bad_options();
  options->config.session_events = enabled != 0;
  return TERN_OK;
}
tern_status tern_options_set_fetch_settings(tern_options* options, int enabled) {
  if (options == nullptr) return bad_options();
  options->config.fetch_settings = enabled != 0;
  return TERN_OK;
}
tern_status tern_options_set_settings_endpoint(tern_options* options, const char* url) {
  return set_string(options, url, "settings endpoint", &tern::Config::settings_endpoint);
}
tern_status tern_options_set_http_connect_timeout_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config.http : nullptr, ms,
                      "http_connect_timeout_ms", &tern::CurlTransportOptions::connect_timeout);
}
tern_status tern_options_set_http_request_timeout_ms(tern_options* options, int64_t ms) {
  return set_duration(options, options != nullptr ? &options->config.http : nullptr, ms,
                      "http_request_timeout_ms", &tern::CurlTransportOptions::request_timeout);
}
tern_status tern_options_set_http_verify_tls(tern_options* options, int verify) {
  if (options == nullptr) return bad_options();
  options->config.http.verify_tls = verify != 0;
  return TERN_OK;
}
tern_status tern_options_set_http_ca_bundle(tern_options* options, const char* path) {
  return set_http_string(options, path, "CA bundle", &tern::CurlTransportOptions::ca_bundle);
}
tern_status tern_options_set_http_user_agent(tern_options* options, const char* user_agent) {
  return set_http_string(options, user_agent, "user agent",
                         &tern::CurlTransportOptions::user_agent);
}

tern_status tern_options_set_logger(tern_options* options, const tern_logger* logger,
                                    tern_log_level min_level) {
  if (options == nullptr) return bad_options();
  tern_status st = check_vtable(logger, TERN_LOGGER_VERSION,
                                logger != nullptr && logger->log != nullptr, "logger");
  if (st != TERN_OK) return st;
  const int level = raw_value(min_level);
  if (level < TERN_LOG_DEBUG || level > TERN_LOG_ERROR) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "unknown log level");
  }
  return guarded(nullptr, [&] {
    // make_shared before anything can fail after it: from here on the
    // adapter owns the state.
    options->config.logger =
        std::make_shared<HostLogger>(*logger, static_cast<tern::LogLevel>(level));
    return TERN_OK;
  });
}

tern_status tern_options_set_context_provider(tern_options* options,
                                              const tern_context_provider* provider) {
  if (options == nullptr) return bad_options();
  tern_status st =
      check_vtable(provider, TERN_CONTEXT_PROVIDER_VERSION,
                   provider != nullptr && provider->context_json != nullptr, "context provider");
  if (st != TERN_OK) return st;
  return guarded(nullptr, [&] {
    options->config.context_provider = std::make_shared<HostContextProvider>(*provider);
    return TERN_OK;
  });
}

tern_status tern_options_set_transport(tern_options* options, const tern_transport* transport) {
  if (options == nullptr) return bad_options();
  tern_status st = check_vtable(transport, TERN_TRANSPORT_VERSION,
                                transport != nullptr && transport->send != nullptr, "transport");
  if (st != TERN_OK) return st;
  return guarded(nullptr, [&] {
    options->config.transport = std::make_shared<HostTransport>(*transport);
    return TERN_OK;
  });
}

tern_status tern_options_add_plugin(tern_options* options, const tern_plugin* plugin) {
  if (options == nullptr) return bad_options();
  tern_status st = check_vtable(plugin, TERN_PLUGIN_VERSION,
                                plugin != nullptr && plugin->process != nullptr, "plugin");
  if (st != TERN_OK) return st;
  return guarded(nullptr, [&] {
    auto adapter = std::make_shared<HostPlugin>(*plugin);  // owns the state from here
    options->config.plugins.push_back(std::move(adapter));
    return TERN_OK;
  });
}

tern_status tern_plugin_event_replace(tern_plugin_event* event, const char* json, size_t length) {
  if (event == nullptr || json == nullptr) {
    return fail(nullptr, TERN_INVALID_ARGUMENT, "event or json is NULL");
  }
  return guarded(nullptr, [&] {
    nlohmann::json parsed =
        nlohmann::json::parse(json, json + length, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return fail(nullptr, TERN_INVALID_ARGUMENT, "replacement is not a JSON object");
    }
    *event->event = std::move(parsed);
    return TERN_OK;
  });
}

tern_status tern_options_clear_hooks(tern_options* options) {
  if (options == nullptr) return bad_options();
  return guarded(nullptr, [&] {
    options->config.plugins.clear();
    options->config.logger.reset();
    options->config.context_provider.reset();
    options->config.transport.reset();
    return TERN_OK;
  });
}

// --- Client ----------------------------------------------------------------

tern_status tern_client_create(const tern_options* options, tern_client** out) {
  if (out == nullptr) return fail(nullptr, TERN_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (options == nullptr) return bad_options();
  return guarded(nullptr, [&] {
    auto created = tern::Client::create(options->config);
    if (!created) return from(nullptr, created.status());
    auto handle = std::make_unique<tern_client>();
    handle->client = std::move(created).value();
    *out = handle.release();
    return TERN_OK;
  });
}

void tern_client_destroy(tern_client* client) {
  try {
    delete client;
  } catch (...) {
    // ~Client does not throw; a host free_state might. Never let it out.
  }
}

const char* tern_client_last_error(const tern_client* client) {
  if (client == nullptr) return t_last_error.c_str();
  try {
    return client->error();
  } catch (...) {
    return "";
  }
}

tern_status tern_client_track(tern_client* client, const char* event, const char* properties_json,
                              const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kTrack, event, properties_json, options);
}
tern_status tern_client_identify(tern_client* client, const char* user_id, const char* traits_json,
                                 const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kIdentify, user_id, traits_json, options);
}
tern_status tern_client_screen(tern_client* client, const char* name, const char* properties_json,
                               const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kScreen, name, properties_json, options);
}
tern_status tern_client_page(tern_client* client, const char* name, const char* properties_json,
                             const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kPage, name, properties_json, options);
}
tern_status tern_client_group(tern_client* client, const char* group_id, const char* traits_json,
                              const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kGroup, group_id, traits_json, options);
}
tern_status tern_client_alias(tern_client* client, const char* new_user_id,
                              const tern_event_options* options) {
  return enqueue(client, tern::MessageType::kAlias, new_user_id, nullptr, options);
}

tern_status tern_client_flush(tern_client* client, int64_t timeout_ms) {
  if (client == nullptr) return bad_client();
  if (timeout_ms < 0) return fail(client, TERN_INVALID_ARGUMENT, "timeout_ms must be >= 0");
  return guarded(client, [&] {
    return from(client, client->client->flush(std::chrono::milliseconds(timeout_ms)));
  });
}

tern_status tern_client_flush_async(tern_client* client, int64_t deadline_ms,
                                    tern_flush_callback callback, void* user_data) {
  if (client == nullptr) return bad_client();
  if (callback == nullptr) return fail(client, TERN_INVALID_ARGUMENT, "callback is NULL");
  if (deadline_ms < 0) return fail(client, TERN_INVALID_ARGUMENT, "deadline_ms must be >= 0");
  return guarded(client, [&] {
    return from(client, client->client->flush_async(
                            std::chrono::milliseconds(deadline_ms),
                            [callback, user_data](tern::FlushResult result) {
                              callback(static_cast<tern_flush_result>(result), user_data);
                            }));
  });
}

tern_status tern_client_app_launched(tern_client* client, const char* version, const char* build,
                                     const char* url, const char* referrer) {
  if (client == nullptr) return bad_client();
  if (version == nullptr || build == nullptr) {
    return fail(client, TERN_INVALID_ARGUMENT, "version or build is NULL");
  }
  const char* const texts[] = {version, build, url, referrer};
  for (const char* text : texts) {
    if (text != nullptr && !tern::is_valid_utf8(text)) {
      return fail(client, TERN_INVALID_ARGUMENT, "version, build, url or referrer is not UTF-8");
    }
  }
  return guarded(client, [&] {
    return from(client, client->client->app_launched(
                            version, build, url != nullptr ? url : std::string_view(),
                            referrer != nullptr ? referrer : std::string_view()));
  });
}

tern_status tern_client_app_foreground(tern_client* client) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] { return from(client, client->client->app_foreground()); });
}

tern_status tern_client_app_background(tern_client* client) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] { return from(client, client->client->app_background()); });
}

tern_status tern_client_session_id(const tern_client* client, int64_t* out) {
  if (client == nullptr) return bad_client();
  if (out == nullptr) return fail(client, TERN_INVALID_ARGUMENT, "out is NULL");
  return guarded(client, [&] {
    *out = client->client->session_id().value_or(0);
    return TERN_OK;
  });
}

tern_status tern_client_reset(tern_client* client) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] {
    client->client->reset();
    return TERN_OK;
  });
}

tern_status tern_client_shutdown(tern_client* client, int64_t timeout_ms) {
  if (client == nullptr) return bad_client();
  if (timeout_ms < 0) return fail(client, TERN_INVALID_ARGUMENT, "timeout_ms must be >= 0");
  return guarded(client, [&] {
    return from(client, client->client->shutdown(std::chrono::milliseconds(timeout_ms)));
  });
}

tern_status tern_client_set_consent(tern_client* client, tern_consent consent) {
  if (client == nullptr) return bad_client();
  const int v = raw_value(consent);
  if (v < TERN_CONSENT_UNKNOWN || v > TERN_CONSENT_DENIED) {
    return fail(client, TERN_INVALID_ARGUMENT, "unknown consent value");
  }
  return guarded(client, [&] {
    return from(client, client->client->set_consent(static_cast<tern::Consent>(v)));
  });
}

tern_status tern_client_consent(const tern_client* client, tern_consent* out) {
  if (client == nullptr) return bad_client();
  if (out == nullptr) return fail(client, TERN_INVALID_ARGUMENT, "out is NULL");
  return guarded(client, [&] {
    *out = static_cast<tern_consent>(client->client->consent());
    return TERN_OK;
  });
}

tern_status tern_client_set_opt_out(tern_client* client, int opted_out) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] { return from(client, client->client->set_opt_out(opted_out != 0)); });
}

tern_status tern_client_opted_out(const tern_client* client, int* out) {
  if (client == nullptr) return bad_client();
  if (out == nullptr) return fail(client, TERN_INVALID_ARGUMENT, "out is NULL");
  return guarded(client, [&] {
    *out = client->client->opted_out() ? 1 : 0;
    return TERN_OK;
  });
}

tern_status tern_client_anonymous_id(const tern_client* client, char* buffer, size_t capacity,
                                     size_t* length) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] {
    return copy_out(client, client->client->anonymous_id(), buffer, capacity, length);
  });
}

tern_status tern_client_user_id(const tern_client* client, char* buffer, size_t capacity,
                                size_t* length) {
  if (client == nullptr) return bad_client();
  return guarded(client, [&] {
    return copy_out(client, client->client->user_id(), buffer, capacity, length);
  });
}

tern_status tern_client_stats(const tern_client* client, tern_stats* stats) {
  if (client == nullptr) return bad_client();
  if (stats == nullptr) return fail(client, TERN_INVALID_ARGUMENT, "stats is NULL");
  if (stats->struct_size < offsetof(tern_stats, enqueued)) {
    return fail(client, TERN_INVALID_ARGUMENT, "tern_stats.struct_size is not set");
  }
  return guarded(client, [&] {
    const tern::Stats s = client->client->stats();
    tern_stats full;
    std::memset(&full, 0, sizeof full);
    full.enqueued = s.enqueued;
    full.stored = s.stored;
    full.sent = s.sent;
    full.retried = s.retried;
    full.attempts = s.attempts;
    full.batches_sent = s.batches_sent;
    full.dropped = s.dropped;
    full.queue_depth = s.queue_depth;
    full.queue_bytes = s.queue_bytes;
    full.pending = s.pending;
    full.bytes_sent = s.bytes_sent;
    full.corrupt_db_recoveries = s.corrupt_db_recoveries;
    for (std::size_t i = 0; i < s.dropped_by_reason.size(); ++i) {
      full.dropped_by_reason[i] = s.dropped_by_reason[i];
    }
    full.lifecycle_events = s.lifecycle_events;
    full.sessions_started = s.sessions_started;
    full.settings_fetched = s.settings_fetched;
    full.settings_not_modified = s.settings_not_modified;
    full.settings_failed = s.settings_failed;
    full.sampled_out = s.sampled_out;
    full.kill_switch_refused = s.kill_switch_refused;
    full.background_flushes_sent = s.background_flushes_sent;
    full.background_flushes_timed_out = s.background_flushes_timed_out;
    full.background_flushes_cancelled = s.background_flushes_cancelled;
    // Fill what the caller's (possibly older, smaller) struct has room for.
    const uint32_t size = stats->struct_size;
    const std::size_t n = size < sizeof full ? size : sizeof full;
    const std::size_t head = offsetof(tern_stats, enqueued);
    std::memcpy(reinterpret_cast<char*>(stats) + head, reinterpret_cast<const char*>(&full) + head,
                n - head);
    return TERN_OK;
  });
}

}  // extern "C"
