#include "request_handler.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "inflate.h"

namespace tern::relay {

class RequestScratch {
 public:
  simdjson::dom::parser parser;
  std::string inflated;
  std::vector<ScannedEvent> scanned;  // reused: their member vectors keep capacity
  std::size_t scanned_count = 0;
  EnrichScratch enrich;
  // An event that passed validation.
  struct Candidate {
    std::size_t index;
    std::string_view message_id;  // empty: none sent (one is generated)
    std::optional<SysTime> timestamp;
    std::string_view type;        // static text (kEventTypes or the path's type)
  };
  std::vector<Candidate> candidates;
  std::vector<std::string_view> ids;
  std::vector<char> is_new;

  // Buffers are reused across requests (of one I/O thread, see
  // thread_request_scratch), but one large request must not pin megabytes
  // to the thread for good.
  void trim() {
    constexpr std::size_t kKeep = 256 * 1024;
    if (parser.capacity() > kKeep) parser = simdjson::dom::parser();
    if (inflated.capacity() > kKeep) std::string().swap(inflated);
    if (scanned.size() > 4096) std::vector<ScannedEvent>().swap(scanned);
  }
};

std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> make_request_scratch() {
  return {new RequestScratch(), [](RequestScratch* s) { delete s; }};
}

RequestScratch& thread_request_scratch() {
  thread_local RequestScratch scratch;
  return scratch;
}

namespace {

constexpr std::string_view kEventTypes[] = {"track", "identify", "page", "screen", "group", "alias"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The path without the query, with one trailing slash tolerated.
std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
  return target;
}

// Bounded label values for the requests counter.
std::string_view path_label(std::string_view path) {
  static constexpr std::string_view kKnown[] = {
      "/v1/batch", "/v1/b", "/v1/import", "/v1/track", "/v1/t", "/v1/identify", "/v1/i",
      "/v1/page",  "/v1/p", "/v1/screen", "/v1/s",     "/v1/group", "/v1/g",     "/v1/alias",
      "/v1/a",     "/health", "/ready",   "/metrics"};
  for (std::string_view k : kKnown) {
    if (path == k) return k;
  }
  return "other";
}

// Empty for batch endpoints, the event type for single-event ones,
// "unknown" for anything else.
std::string_view ingest_type(std::string_view path) {
  if (path == "/v1/batch" || path == "/v1/b" || path == "/v1/import") return "";
  static constexpr std::pair<std::string_view, std::string_view> kSingle[] = {
      {"/v1/track", "track"},   {"/v1/t", "track"},   {"/v1/identify", "identify"},
      {"/v1/i", "identify"},    {"/v1/page", "page"}, {"/v1/p", "page"},
      {"/v1/screen", "screen"}, {"/v1/s", "screen"},  {"/v1/group", "group"},
      {"/v1/g", "group"},       {"/v1/alias", "alias"}, {"/v1/a", "alias"}};
  for (auto& [p, t] : kSingle) {
    if (path == p) return t;
  }
  return "unknown";
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

// The write key from `Authorization: Basic base64(key:)`; nullopt when the
// header is malformed.
std::optional<std::string> basic_auth_key(std::string_view header) {
  header = trim(header);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "basic ")) return std::nullopt;
  std::string decoded;
  if (!base64_decode(trim(header.substr(6)), &decoded)) return std::nullopt;
  auto colon = decoded.find(':');
  if (colon != std::string::npos) decoded.resize(colon);  // the password is ignored
  return decoded;
}

std::string uuid_v4() {
  thread_local std::mt19937_64 rng{[] {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    std::seed_seq seq{1, 2, 3, 4};  // fuzz builds only: the same ids in every run
#else
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
#endif
    return std::mt19937_64(seq);
  }()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & uint64_t{0xffffffffffff});
  return buf;
}

std::string error_body(std::string_view error, std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(&out, error);
  out += ",\"message\":";
  append_json_string(&out, message);
  out += '}';
  return out;
}

struct Rejection {
  std::size_t index;
  std::string_view reason;
};

std::string ingest_body(std::size_t accepted, const std::vector<Rejection>& rejected) {
  std::string out = "{\"accepted\":" + std::to_string(accepted) + ",\"rejected\":[";
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += "{\"index\":" + std::to_string(rejected[i].index) + ",\"reason\":\"";
    out += rejected[i].reason;
    out += "\"}";
  }
  out += "]}";
  return out;
}

HttpResponse make_error(int status, std::string_view error, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = error_body(error, message);
  return r;
}

// The top-level keys the relay reads or rewrites.
enum InterpretedKey : int {
  kTypeKey,
  kEventKey,
  kUserIdKey,
  kSentAtKey,
  kContextKey,
  kGroupIdKey,
  kWriteKeyKey,
  kTimestampKey,
  kMessageIdKey,
  kPreviousIdKey,
  kReceivedAtKey,
  kAnonymousIdKey,
  kOriginalTimestampKey,
  kInterpretedKeys
};

// Whether `key`, already known to be as long as `literal`, is it: a memcmp
// of constant length, which the compiler turns into a few integer compares
// instead of a library call (this runs for every member of every event).
template <std::size_t N>
bool same_as(std::string_view key, const char (&literal)[N]) {
  return std::memcmp(key.data(), literal, N - 1) == 0;
}

// Which of the interpreted keys `key` is (as a bit, 1 << InterpretedKey), or 0.
uint32_t interpreted_key_bit(std::string_view key) {
  auto bit = [](InterpretedKey k) { return 1u << k; };
  switch (key.size()) {
    case 4: return same_as(key, "type") ? bit(kTypeKey) : 0;
    case 5: return same_as(key, "event") ? bit(kEventKey) : 0;
    case 6: return same_as(key, "userId") ? bit(kUserIdKey) : same_as(key, "sentAt") ? bit(kSentAtKey) : 0;
    case 7: return same_as(key, "context") ? bit(kContextKey) : same_as(key, "groupId") ? bit(kGroupIdKey) : 0;
    case 8: return same_as(key, "writeKey") ? bit(kWriteKeyKey) : 0;
    case 9:
      return same_as(key, "timestamp") ? bit(kTimestampKey) : same_as(key, "messageId") ? bit(kMessageIdKey) : 0;
    case 10:
      return same_as(key, "previousId") ? bit(kPreviousIdKey) : same_as(key, "receivedAt") ? bit(kReceivedAtKey) : 0;
    case 11: return same_as(key, "anonymousId") ? bit(kAnonymousIdKey) : 0;
    case 17: return same_as(key, "originalTimestamp") ? bit(kOriginalTimestampKey) : 0;
    default: return 0;
  }
}

// An event's interpreted members, found in one pass over its keys (the
// DOM's, decoded, alongside the scanned ones as written) instead of a lookup
// (a scan of every key) per member read, and judged for ambiguity in the same
// pass. The first of a duplicated key wins, as with simdjson's own lookup.
class InterpretedMembers {
 public:
  InterpretedMembers(simdjson::dom::object obj, const std::vector<MemberSpan>& members) {
    std::size_t k = 0;
    for (auto field : obj) {
      const uint32_t bit = interpreted_key_bit(field.key);
      const bool escaped =
          bit != 0 && k < members.size() && members[k].key.find('\\') != std::string_view::npos;
      ++k;
      if (bit == 0) continue;
      if (escaped) {
        if (first_escaped_ == 0) first_escaped_ = bit;
        continue;
      }
      if ((present_ & bit) != 0) {
        duplicate_ = true;
        continue;
      }
      present_ |= bit;
      values_[__builtin_ctz(bit)] = field.value;
    }
  }

  // Why the event's keys make it ambiguous, or empty:
  //   duplicate_key: a key the relay reads or rewrites is given twice. The
  //     relay (like simdjson) takes the first, most JSON libraries downstream
  //     take the last, so validation and routing could judge a different
  //     event than the sinks' consumers see.
  //   escaped_key: such a key is written with escapes ("typ\u0065"). The
  //     relay edits events by their keys as written, so it would miss it.
  // The first escaped one decides between the two when it is also given
  // plainly.
  std::string_view ambiguity() const {
    if (duplicate_) return "duplicate_key";
    if (first_escaped_ != 0) return (present_ & first_escaped_) != 0 ? "duplicate_key" : "escaped_key";
    return {};
  }
  // The member's value, or nullptr when the event does not have it.
  const simdjson::dom::element* get(InterpretedKey k) const {
    return (present_ & (1u << k)) != 0 ? &values_[k] : nullptr;
  }
  // A non-empty string, or a number (Segment's ids may be either).
  bool non_empty_id(InterpretedKey k) const {
    const simdjson::dom::element* v = get(k);
    if (!v) return false;
    if (v->is_string()) return !std::string_view(v->get_string().value_unsafe()).empty();
    return v->is_number();
  }

 private:
  uint32_t present_ = 0;        // interpreted keys given plainly
  uint32_t first_escaped_ = 0;  // the first one given with escapes
  bool duplicate_ = false;      // one given plainly twice
  simdjson::dom::element values_[kInterpretedKeys];
};

// The structural index of the document `parser` parsed last. simdjson keeps
// it in its parser implementation (a public member, documented as being
// there for benchmarking access); scan_events_indexed checks it against the
// text and the caller falls back to the byte scanner if it ever does not fit.
StructuralIndex structural_index(const simdjson::dom::parser& parser) {
  if (!parser.implementation) return {};
  return StructuralIndex{parser.implementation->structural_indexes.get(),
                         parser.implementation->n_structural_indexes};
}

bool origin_allowed(const ServerConfig& server, std::string_view origin) {
  for (const std::string& o : server.cors_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

Result<std::shared_ptr<const IngestConfig>> make_ingest_config(RelayConfig relay) {
  auto config = std::make_shared<IngestConfig>();
  for (std::size_t i = 0; i < relay.sources.size(); ++i) {
    for (const std::string& key : relay.sources[i].write_keys) {
      if (key.empty()) {
        return Status(StatusCode::kInvalidArgument,
                      "source '" + relay.sources[i].id + "' has an empty write key");
      }
      if (!config->source_by_key.emplace(key, i).second) {
        return Status(StatusCode::kInvalidArgument,
                      "write key of source '" + relay.sources[i].id + "' is used by two sources");
      }
    }
  }
  for (const std::string& proxy : relay.server.trusted_proxies) {
    auto range = IpRange::parse(proxy);
    if (!range) return range.status();
    config->trusted_proxies.push_back(range.value());
  }
  config->relay = std::move(relay);
  return std::shared_ptr<const IngestConfig>(std::move(config));
}

namespace {

// Resets `v` to n kKeep decisions, keeping the value strings' capacity.
void reset_decisions(std::vector<ObjectSplicer::Decision>* v, std::size_t n) {
  if (v->size() < n) v->resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    (*v)[i].action = ObjectSplicer::Action::kKeep;
    (*v)[i].value.clear();
  }
}

void add_member(std::string* joined, std::string_view key_json, std::string_view value_json) {
  if (!joined->empty()) joined->push_back(',');
  joined->append(key_json);
  joined->push_back(':');
  joined->append(value_json);
}

void add_string_member(std::string* joined, std::string_view key_json, std::string_view value) {
  if (!joined->empty()) joined->push_back(',');
  joined->append(key_json);
  joined->push_back(':');
  append_json_string(joined, value);
}

}  // namespace

void enrich_event(std::string_view text, const EnrichInput& in, std::string* out,
                  EnrichScratch* scratch) {
  std::size_t count = 0;
  auto& scanned = scratch->scanned;
  if (!scan_events(text, 0, &scanned, &count) || count != 1 || !scanned[0].is_object) {
    scanned.resize(1);
    scanned[0] = ScannedEvent{};
    scanned[0].span = Span{0, text.size()};
  }
  const ScannedEvent& e = scanned[0];
  enrich_scanned(e.span.of(text), e.members, e.context, e.context_members, in, out, scratch);
}

void enrich_scanned(std::string_view text, const std::vector<MemberSpan>& members,
                    std::ptrdiff_t context, const std::vector<MemberSpan>& context_members,
                    const EnrichInput& in, std::string* out, EnrichScratch* scratch) {
  using Action = ObjectSplicer::Action;
  // The same for every event of a request: encoded once, not per event.
  auto& frag = scratch->fragments;
  frag.ip.set(in.ip);
  frag.source_id.set(in.source_id);
  frag.received_at.set(in.received_at_text);
  auto& decisions = scratch->decisions;
  reset_decisions(&decisions, members.size());
  // reset_decisions may leave extra entries past members.size(); splice only
  // reads decisions for existing members.
  const bool correct_skew = in.timestamp && in.sent_at;
  bool has_type = false, has_context = false;
  std::string_view original_timestamp;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const MemberSpan& m = members[k];
    auto& d = decisions[k];
    if (m.key == "receivedAt" || m.key == "writeKey" ||
        (m.key == "originalTimestamp" && correct_skew)) {
      d.action = Action::kDrop;
    } else if (m.key == "timestamp" && correct_skew) {
      SysTime corrected = in.received_at - (*in.sent_at - *in.timestamp);
      if (original_timestamp.empty()) original_timestamp = m.value.of(text);
      d.action = Action::kReplace;
      d.value.push_back('"');
      append_iso8601_ms(d.value, corrected);
      d.value.push_back('"');
    } else if (m.key == "type" && !in.forced_type.empty()) {
      has_type = true;
      d.action = Action::kReplace;
      append_json_string(&d.value, in.forced_type);
    } else if (m.key == "context") {
      if (has_context) {
        d.action = Action::kDrop;  // a duplicate key: the first one wins, as in the parser
        continue;
      }
      has_context = true;
      std::string_view value = m.value.of(text);
      // Not an object (null): replaced by the relay's own context.
      const bool is_object = static_cast<std::ptrdiff_t>(k) == context;
      static const std::vector<MemberSpan> kNone;
      const std::vector<MemberSpan>& inner = is_object ? context_members : kNone;
      reset_decisions(&scratch->context_decisions, inner.size());
      bool has_ip = false;
      for (std::size_t j = 0; j < inner.size(); ++j) {
        if (inner[j].key == "sourceId") scratch->context_decisions[j].action = Action::kDrop;
        if (inner[j].key == "ip") has_ip = true;
      }
      auto& extras = scratch->context_extras;
      extras.clear();
      if (!has_ip && !in.ip.empty()) add_member(&extras, "\"ip\"", frag.ip.json);
      add_member(&extras, "\"sourceId\"", frag.source_id.json);
      d.action = Action::kReplace;
      ObjectSplicer::splice_text(is_object ? value : std::string_view("{}"), inner,
                                 scratch->context_decisions, extras, &d.value);
    }
  }
  auto& extras = scratch->extras;
  extras.clear();
  if (!in.forced_type.empty() && !has_type) add_string_member(&extras, "\"type\"", in.forced_type);
  if (!in.generated_message_id.empty()) {
    add_string_member(&extras, "\"messageId\"", in.generated_message_id);
  }
  if (!in.timestamp) {
    add_member(&extras, "\"timestamp\"", frag.received_at.json);
  } else if (correct_skew && !original_timestamp.empty()) {
    add_member(&extras, "\"originalTimestamp\"", original_timestamp);
  }
  add_member(&extras, "\"receivedAt\"", frag.received_at.json);
  if (!has_context) {
    if (!extras.empty()) extras.push_back(',');
    extras.append("\"context\":{");
    if (!in.ip.empty()) {
      extras.append("\"ip\":");
      extras.append(frag.ip.json);
      extras.push_back(',');
    }
    extras.append("\"sourceId\":");
    extras.append(frag.source_id.json);
    extras.push_back('}');
  }
  ObjectSplicer::splice_text(text, members, decisions, extras, out);
}

RequestHandler::RequestHandler(std::shared_ptr<const IngestConfig> config, Pipeline* pipeline,
                               Metrics* metrics)
    : config_(std::move(config)),
      pipeline_(pipeline),
      metrics_(metrics),
      bytes_in_(metrics->counter("tern_relay_http_request_bytes_total", {},
                                 "Request body bytes received, as sent (compressed)")),
      auth_failures_(metrics->counter("tern_relay_auth_failures_total", {},
                                      "Requests refused for a missing or unknown write key")),
      inflated_bytes_(metrics->counter("tern_relay_http_inflated_bytes_total", {},
                                       "Bytes produced by decompressing request bodies (bounded per request by max_decompressed_bytes)")),
      latency_(metrics->histogram("tern_relay_http_request_duration_seconds", {},
                                  "Time from request read to answer ready")) {}

void RequestHandler::reload(std::shared_ptr<const IngestConfig> config) {
  std::lock_guard<std::mutex> lock(config_mu_);
  config_ = std::move(config);
}

std::shared_ptr<const IngestConfig> RequestHandler::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

void RequestHandler::count_limit(std::string_view limit) {
  metrics_->counter("tern_relay_limit_hits_total", "limit=\"" + std::string(limit) + "\"",
                    "Requests or events cut off by a limit, by limit")
      .inc();
}

void RequestHandler::count_rejected(std::string_view reason, uint64_t n) {
  metrics_->counter("tern_relay_events_rejected_total", "reason=\"" + std::string(reason) + "\"",
                    "Events refused, by reason")
      .inc(n);
}

DedupWindow& RequestHandler::dedup_for(const std::string& source_id) {
  std::lock_guard<std::mutex> lock(admission_mu_);
  auto& slot = dedup_[source_id];
  if (!slot) slot = std::make_unique<DedupWindow>();
  return *slot;
}

TokenBucket& RequestHandler::bucket_for(const std::string& write_key) {
  std::lock_guard<std::mutex> lock(admission_mu_);
  auto& slot = buckets_[write_key];
  if (!slot) slot = std::make_unique<TokenBucket>();
  return *slot;
}

HttpResponse RequestHandler::server_limit(ServerLimit limit, std::string_view path) {
  HttpResponse r;
  r.close = true;
  std::string_view name;
  switch (limit) {
    case ServerLimit::kHeaderSize:
      name = "header_size";
      r = make_error(431, "header_too_large", "request headers exceed the configured limit");
      break;
    case ServerLimit::kBodySize:
      name = "body_size";
      r = make_error(413, "body_too_large", "request body exceeds the configured limit");
      break;
    case ServerLimit::kReadTimeout:
      name = "read_timeout";
      r = make_error(408, "read_timeout", "the request was not received in time");
      break;
    case ServerLimit::kIdleTimeout:
      name = "idle_timeout";
      r = make_error(408, "idle_timeout", "the connection was idle too long");
      break;
  }
  r.close = true;
  count_limit(name);
  if (limit == ServerLimit::kHeaderSize || limit == ServerLimit::kBodySize) {
    metrics_
        ->counter("tern_relay_http_requests_total",
                  "path=\"" + std::string(path_label(path_of(path))) + "\",status=\"" +
                      std::to_string(r.status) + "\"",
                  "HTTP requests answered, by path and status")
        .inc();
  }
  return r;
}

void RequestHandler::handle(HttpRequest request, RequestScratch& scratch, Respond respond) {
  auto config = this->config();
  const std::string_view path = path_of(request.target);
  const std::string label = "path=\"" + std::string(path_label(path)) + "\",status=\"";
  const bool cors = !request.origin.empty() && origin_allowed(config->relay.server, request.origin);
  std::string origin = request.origin;
  auto started = std::chrono::steady_clock::now();
  bytes_in_.inc(request.body.size());

  // Every answer goes through here: counted, timed, CORS headers added.
  Respond finish = [this, label, cors, origin, started,
                    respond = std::move(respond)](HttpResponse r) {
    if (cors) {
      r.headers.emplace_back("Access-Control-Allow-Origin", origin);
      r.headers.emplace_back("Vary", "Origin");
      r.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After, X-Tern-Ack");
    }
    metrics_->counter("tern_relay_http_requests_total", label + std::to_string(r.status) + "\"",
                      "HTTP requests answered, by path and status")
        .inc();
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)started;
    latency_.observe(0.0);  // fuzz builds only: no wall-clock time in the coverage
#else
    latency_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
#endif
    respond(std::move(r));
  };

  if (request.method == "OPTIONS") {
    HttpResponse r;
    if (!cors) {
      r = make_error(403, "cors_origin", "origin not allowed");
      finish(std::move(r));
      return;
    }
    r.status = 204;
    r.content_type.clear();
    r.headers.emplace_back("Access-Control-Allow-Methods", "POST, GET, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           request.access_control_request_headers.empty()
                               ? "Authorization, Content-Type, Content-Encoding"
                               : request.access_control_request_headers);
    r.headers.emplace_back("Access-Control-Max-Age", "86400");
    finish(std::move(r));
    return;
  }

  if (path == "/health" || path == "/ready" || path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse r = make_error(405, "method_not_allowed", "use GET");
      r.headers.emplace_back("Allow", "GET, HEAD");
      finish(std::move(r));
      return;
    }
    HttpResponse r;
    if (path == "/health") {
      r.body = "{\"status\":\"ok\"}";
    } else if (path == "/ready") {
      std::string why;
      if (pipeline_->ready(&why)) {
        r.body = "{\"ready\":true}";
      } else {
        r.status = 503;
        r.body = "{\"ready\":false,\"reason\":";
        append_json_string(&r.body, why);
        r.body += '}';
      }
    } else {
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics_->render();
    }
    finish(std::move(r));
    return;
  }

  std::string_view type = ingest_type(path);
  if (type == "unknown") {
    finish(make_error(404, "not_found", "no such endpoint"));
    return;
  }
  if (request.method != "POST") {
    HttpResponse r = make_error(405, "method_not_allowed", "use POST");
    r.headers.emplace_back("Allow", "POST, OPTIONS");
    finish(std::move(r));
    return;
  }
  handle_ingest(request, scratch, config, type, finish);
  scratch.trim();
}

void RequestHandler::handle_ingest(HttpRequest& request, RequestScratch& scratch,
                                   const std::shared_ptr<const IngestConfig>& config,
                                   std::string_view type, const Respond& respond) {
  const LimitsConfig& limits = config->relay.limits;
  auto limit_error = [&](int status, std::string_view limit, std::string_view message) {
    count_limit(limit);
    HttpResponse r = make_error(status, limit, message);
    respond(std::move(r));
  };
  auto unauthorized = [&](std::string_view message) {
    auth_failures_.inc();
    HttpResponse r = make_error(401, "unauthorized", message);
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"tern\"");
    respond(std::move(r));
  };

  if (request.body.size() > limits.max_body_bytes) {
    limit_error(413, "body_size", "request body exceeds max_body_bytes");
    return;
  }

  // Authenticate by header first: a bad header key is refused before any
  // decompression or parsing work.
  std::optional<std::size_t> source_index;
  std::string write_key;
  if (!trim(request.authorization).empty()) {
    auto key = basic_auth_key(request.authorization);
    if (!key || key->empty()) {
      unauthorized("malformed Authorization header (expected Basic with the write key as user)");
      return;
    }
    auto it = config->source_by_key.find(*key);
    if (it == config->source_by_key.end()) {
      unauthorized("unknown write key");
      return;
    }
    source_index = it->second;
    write_key = std::move(*key);
  }

  // Decode the body.
  std::string* json = &request.body;
  std::string_view encoding = trim(request.content_encoding);
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip") || iequals(encoding, "deflate")) {
    std::size_t cap = limits.max_decompressed_bytes;
    InflateResult ir = inflate_bounded(request.body, !iequals(encoding, "deflate"), cap,
                                       limits.max_inflate_ratio, &scratch.inflated);
    inflated_bytes_.inc(scratch.inflated.size());
    if (ir == InflateResult::kTooLarge) {
      limit_error(413, "decompressed_size", "decompressed body exceeds max_decompressed_bytes");
      return;
    }
    if (ir == InflateResult::kRatioTooHigh) {
      limit_error(413, "inflate_ratio", "body inflates beyond max_inflate_ratio");
      return;
    }
    if (ir == InflateResult::kCorrupt) {
      respond(make_error(400, "invalid_encoding", "body is not valid " + std::string(encoding) + " data"));
      return;
    }
    json = &scratch.inflated;
  } else if (!encoding.empty() && !iequals(encoding, "identity")) {
    respond(make_error(415, "unsupported_encoding", "Content-Encoding must be gzip, deflate or identity"));
    return;
  }
  if (type.empty() && json->size() > limits.max_batch_bytes) {
    limit_error(413, "batch_size", "batch exceeds max_batch_bytes");
    return;
  }

  // Parse and validate the whole document once (UTF-8, syntax, depth).
  // max_json_depth bounds each event's nesting (the event object itself is
  // level 1); a batch adds two levels (the body object and the array).
  std::size_t want_depth = std::max<std::size_t>(limits.max_json_depth, 1) + (type.empty() ? 2 : 0);
  auto& parser = scratch.parser;
  if (parser.max_depth() != want_depth) {
    if (parser.allocate(std::max<std::size_t>(json->size(), 4096), want_depth) != simdjson::SUCCESS) {
      respond(make_error(500, "internal", "cannot allocate the JSON parser"));
      return;
    }
  }
  json->reserve(json->size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  auto perr = parser.parse(json->data(), json->size(), false).get(root);
  if (perr == simdjson::DEPTH_ERROR) {
    limit_error(400, "json_depth", "JSON nesting exceeds max_json_depth");
    return;
  }
  if (perr != simdjson::SUCCESS) {
    respond(make_error(400, "invalid_json", simdjson::error_message(perr)));
    return;
  }
  simdjson::dom::object root_object;
  if (root.get_object().get(root_object) != simdjson::SUCCESS) {
    respond(make_error(400, "invalid_json", "the body must be a JSON object"));
    return;
  }

  if (!source_index) {
    std::string_view body_key;
    if (root_object["writeKey"].get_string().get(body_key) != simdjson::SUCCESS || body_key.empty()) {
      unauthorized("missing write key (HTTP Basic user name or body writeKey)");
      return;
    }
    auto it = config->source_by_key.find(std::string(body_key));
    if (it == config->source_by_key.end()) {
      unauthorized("unknown write key");
      return;
    }
    source_index = it->second;
    write_key = std::string(body_key);
  }
  const SourceConfig& source = config->relay.sources[*source_index];
  const char* ack_name = ack_mode_name(source.ack_mode);

  // Locate the events: their DOM elements and their original bytes.
  std::string_view text(json->data(), json->size());
  std::vector<simdjson::dom::element> events;
  std::optional<SysTime> sent_at;
  std::string_view sent_at_text;
  if (root_object["sentAt"].get_string().get(sent_at_text) == simdjson::SUCCESS) {
    sent_at = parse_iso8601(sent_at_text);  // an unparseable sentAt disables skew correction
  }
  // One pass over the bytes finds every event's span and members (and its
  // context's members) for the splicing below.
  bool scanned_ok = false;
  if (type.empty()) {
    simdjson::dom::array batch;
    if (root_object["batch"].get_array().get(batch) != simdjson::SUCCESS) {
      respond(make_error(400, "missing_batch", "the body must have a \"batch\" array"));
      return;
    }
    if (batch.size() > limits.max_batch_events) {
      limit_error(413, "batch_events", "batch has more than max_batch_events events");
      return;
    }
    for (simdjson::dom::element e : batch) events.push_back(e);
  } else {
    events.push_back(root);
  }
  // The scanners take the member the parser found as "batch" (its first;
  // keys compared decoded, so "b\u0061tch" is the batch too). The parser's
  // own structural index makes the scan token by token; the byte scanner is
  // the fallback should the index ever not match the text.
  std::ptrdiff_t batch_member = -1;
  if (type.empty()) {
    batch_member = 0;
    for (auto field : root_object) {
      if (field.key == "batch") break;
      ++batch_member;
    }
  }
  scanned_ok = scan_events_indexed(text, structural_index(parser), batch_member, &scratch.scanned,
                                   &scratch.scanned_count) &&
               scratch.scanned_count == events.size();
  if (!scanned_ok) {
    std::size_t begin = 0;
    scanned_ok = (batch_member < 0 || find_nth_member_value(text, static_cast<std::size_t>(batch_member), &begin)) &&
                 scan_events(text, begin, &scratch.scanned, &scratch.scanned_count);
  }
  if (!scanned_ok || scratch.scanned_count != events.size()) {
    respond(make_error(500, "internal", "event scanner disagrees with the parser"));
    return;
  }

  if (source.rate_limit_eps > 0) {
    int wait = bucket_for(write_key)
                   .take(static_cast<double>(events.size()), source.rate_limit_eps,
                         source.rate_limit_burst, request.received_steady);
    if (wait > 0) {
      count_limit("rate");
      HttpResponse r = make_error(429, "rate_limited", "write key over its rate limit");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      r.headers.emplace_back("X-Tern-Ack", ack_name);
      respond(std::move(r));
      return;
    }
  }

  // Validate, dedup and enrich each event.
  const std::string received_text = format_iso8601_ms(request.received_at);
  const std::string ip = client_ip(request.peer_ip, request.forwarded_for, config->trusted_proxies);
  DedupWindow& dedup = dedup_for(source.id);
  Submission submission;
  submission.ack_mode = source.ack_mode;
  submission.events = SpoolBatch(source.id);
  std::vector<Rejection> rejected;
  std::size_t accepted = 0, duplicates = 0;
  // Pass 1: validate. The events that pass are candidates.
  using Candidate = RequestScratch::Candidate;
  auto& candidates = scratch.candidates;
  candidates.clear();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const ScannedEvent& scanned = scratch.scanned[i];
    std::string_view raw = scanned.span.of(text);
    auto reject = [&](std::string_view reason) {
      rejected.push_back(Rejection{i, reason});
      count_rejected(reason);
    };
    if (raw.size() > limits.max_event_bytes) {
      count_limit("event_size");
      reject("too_large");
      continue;
    }
    simdjson::dom::object obj;
    if (events[i].get_object().get(obj) != simdjson::SUCCESS) {
      reject("not_an_object");
      continue;
    }
    const InterpretedMembers member(obj, scratch.scanned[i].members);
    if (std::string_view why = member.ambiguity(); !why.empty()) {
      reject(why);
      continue;
    }
    std::string_view event_type = type;
    if (event_type.empty()) {
      const simdjson::dom::element* t = member.get(kTypeKey);
      if (!t) {
        reject("missing_type");
        continue;
      }
      std::string_view ts;
      const std::string_view* known = std::end(kEventTypes);
      if (t->get_string().get(ts) == simdjson::SUCCESS) {
        known = std::find(std::begin(kEventTypes), std::end(kEventTypes), ts);
      }
      if (known == std::end(kEventTypes)) {
        reject("invalid_type");
        continue;
      }
      event_type = *known;  // static text: it outlives the parser's buffers
    }
    std::string_view message_id;
    bool has_message_id = false;
    if (const simdjson::dom::element* m = member.get(kMessageIdKey)) {
      if (m->get_string().get(message_id) != simdjson::SUCCESS || message_id.empty()) {
        reject("invalid_message_id");
        continue;
      }
      has_message_id = true;
    }
    if (event_type == "alias") {
      if (!member.non_empty_id(kUserIdKey)) {
        reject("missing_user");
        continue;
      }
      if (!member.non_empty_id(kPreviousIdKey)) {
        reject("missing_previous_id");
        continue;
      }
    } else if (!member.non_empty_id(kUserIdKey) && !member.non_empty_id(kAnonymousIdKey)) {
      reject("missing_user");
      continue;
    }
    if (event_type == "track") {
      std::string_view name;
      const simdjson::dom::element* e = member.get(kEventKey);
      if (!e || e->get_string().get(name) != simdjson::SUCCESS || name.empty()) {
        reject("missing_event");
        continue;
      }
    }
    if (event_type == "group" && !member.non_empty_id(kGroupIdKey)) {
      reject("missing_group_id");
      continue;
    }
    std::optional<SysTime> timestamp;
    if (const simdjson::dom::element* t = member.get(kTimestampKey); t && !t->is_null()) {
      std::string_view ts;
      if (t->get_string().get(ts) != simdjson::SUCCESS || !(timestamp = parse_iso8601(ts))) {
        reject("invalid_timestamp");
        continue;
      }
    }
    if (const simdjson::dom::element* c = member.get(kContextKey); c && !c->is_object() && !c->is_null()) {
      reject("invalid_context");
      continue;
    }
    candidates.push_back(Candidate{i, has_message_id ? message_id : std::string_view(), timestamp, event_type});
  }

  // Pass 2: dedup, all of the request's ids at once (one lock, the window's
  // slots prefetched together).
  auto& ids = scratch.ids;
  ids.clear();
  for (const Candidate& c : candidates) {
    if (!c.message_id.empty()) ids.push_back(c.message_id);
  }
  auto& is_new = scratch.is_new;
  dedup.insert_all(ids, request.received_steady, source.dedup_window, source.dedup_max_entries, &is_new);
  // The new ids, remembered now, are forgotten if the submit fails.
  std::string new_ids;
  std::vector<uint32_t> new_id_ends;

  // Pass 3: enrich the new events.
  EnrichScratch& enrich_scratch = scratch.enrich;
  std::size_t id_index = 0;
  {
    // One buffer for the request's events: their text plus what enrichment
    // adds (receivedAt, context.ip, sourceId, ...), about 160 bytes.
    std::size_t text_bytes = 0;
    for (const Candidate& c : candidates) text_bytes += scratch.scanned[c.index].span.of(text).size() + 160;
    submission.events.reserve(candidates.size(), text_bytes);
  }
  for (const Candidate& c : candidates) {
    std::string generated;
    if (!c.message_id.empty()) {
      if (!is_new[id_index++]) {
        ++accepted;
        ++duplicates;
        continue;
      }
      new_ids.append(c.message_id);
      new_id_ends.push_back(static_cast<uint32_t>(new_ids.size()));
    } else {
      generated = uuid_v4();
    }
    const ScannedEvent& scanned = scratch.scanned[c.index];
    EnrichInput in;
    in.received_at_text = received_text;
    in.received_at = request.received_at;
    in.sent_at = sent_at;
    in.timestamp = c.timestamp;
    in.ip = ip;
    in.source_id = source.id;
    in.forced_type = type;
    in.generated_message_id = generated;
    std::string_view raw = scanned.span.of(text);
    std::string& out = submission.events.begin_event(c.type);
    enrich_scanned(raw, scanned.members, scanned.context, scanned.context_members, in, &out,
                   &enrich_scratch);
    submission.events.end_event();
    ++accepted;
  }

  if (duplicates > 0) {
    metrics_
        ->counter("tern_relay_events_deduplicated_total", "source=\"" + source.id + "\"",
                  "Events accepted as duplicates of a messageId seen within the window, not stored again")
        .inc(duplicates);
  }

  if (accepted == 0) {
    HttpResponse r;
    r.status = 400;
    r.body = ingest_body(0, rejected);
    r.headers.emplace_back("X-Tern-Ack", ack_name);
    respond(std::move(r));
    return;
  }
  std::string ok_body = ingest_body(accepted, rejected);
  if (submission.events.empty()) {  // only duplicates: already stored
    HttpResponse r;
    r.body = std::move(ok_body);
    r.headers.emplace_back("X-Tern-Ack", ack_name);
    respond(std::move(r));
    return;
  }

  std::size_t submitted = submission.events.size();
  Counter& accepted_counter =
      metrics_->counter("tern_relay_events_accepted_total", "source=\"" + source.id + "\"",
                        "Events accepted and stored, by source");
  pipeline_->submit(
      std::move(submission),
      [this, respond, ok_body = std::move(ok_body), ack_name, submitted, &dedup,
       new_ids = std::move(new_ids), new_id_ends = std::move(new_id_ends),
       &accepted_counter](Status status) mutable {
        HttpResponse r;
        r.headers.emplace_back("X-Tern-Ack", ack_name);
        if (status.is_ok() || status.code() == StatusCode::kTimeout) {
          accepted_counter.inc(submitted);
          // kTimeout (ack mode "sink"): durable in the spool, the sinks are
          // late. 202 tells the client it need not resend.
          r.status = status.is_ok() ? 200 : 202;
          r.body = std::move(ok_body);
          respond(std::move(r));
          return;
        }
        // Nothing was stored: let a retry of these messageIds through.
        for (std::size_t k = 0, begin = 0; k < new_id_ends.size(); begin = new_id_ends[k++]) {
          dedup.forget(std::string_view(new_ids).substr(begin, new_id_ends[k] - begin));
        }
        count_rejected(status.code() == StatusCode::kUnavailable ? "spool_full"
                       : status.code() == StatusCode::kShutdown  ? "shutting_down"
                                                                 : "storage_error",
                       submitted);
        if (status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kShutdown) {
          r.status = 503;
          r.headers.emplace_back("Retry-After", std::to_string(std::max(1, pipeline_->retry_after_seconds())));
          r.body = error_body(status.code() == StatusCode::kUnavailable ? "unavailable" : "shutting_down",
                              status.message());
        } else {
          r.status = 500;
          r.headers.emplace_back("Retry-After", "1");
          r.body = error_body("storage_error", status.message());
        }
        respond(std::move(r));
      });
}

}  // namespace tern::relay
