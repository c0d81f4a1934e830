// RequestHandler: routing, CORS, the operational endpoints and the
// answers' bookkeeping. The ingest endpoints' phases are in ingest.cc.
#include "request_handler.h"

#include <string>

#include "http_text.h"
#include "source_settings.h"

namespace tern::relay {

namespace {

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
      "/v1/batch", "/v1/b",     "/v1/import", "/v1/track",  "/v1/t",  "/v1/identify",
      "/v1/i",     "/v1/page",  "/v1/p",      "/v1/screen", "/v1/s",  "/v1/group",
      "/v1/g",     "/v1/alias", "/v1/a",      "/health",    "/ready", "/metrics"};
  for (std::string_view k : kKnown) {
    if (path == k) return k;
  }
  // One label for every key's settings: keys are many, and not for metrics.
  if (settings_path_write_key(path)) return "/v1/projects/{writeKey}/settings";
  return "other";
}

// Empty for batch endpoints, the event type for single-event ones,
// "unknown" for anything else.
std::string_view ingest_type(std::string_view path) {
  if (path == "/v1/batch" || path == "/v1/b" || path == "/v1/import") return "";
  static constexpr std::pair<std::string_view, std::string_view> kSingle[] = {
      {"/v1/track", "track"},   {"/v1/t", "track"},     {"/v1/identify", "identify"},
      {"/v1/i", "identify"},    {"/v1/page", "page"},   {"/v1/p", "page"},
      {"/v1/screen", "screen"}, {"/v1/s", "screen"},    {"/v1/group", "group"},
      {"/v1/g", "group"},       {"/v1/alias", "alias"}, {"/v1/a", "alias"}};
  for (auto& [p, t] : kSingle) {
    if (path == p) return t;
  }
  return "unknown";
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
  config->suppressed_user_ids.insert(relay.suppressed_user_ids.begin(),
                                     relay.suppressed_user_ids.end());
  config->relay = std::move(relay);
  return std::shared_ptr<const IngestConfig>(std::move(config));
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
                                       "Bytes produced by decompressing request bodies (bounded "
                                       "per request by max_decompressed_bytes)")),
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

void RequestHandler::count_limit(std::string_view limit, uint64_t n) {
  metrics_
      ->counter("tern_relay_limit_hits_total", "limit=\"" + std::string(limit) + "\"",
                "Requests or events cut off by a limit, by limit")
      .inc(n);
}

void RequestHandler::count_rejected(std::string_view source, std::string_view reason, uint64_t n) {
  metrics_
      ->counter("tern_relay_events_rejected_total", "reason=\"" + std::string(reason) + "\"",
                "Events refused, by reason")
      .inc(n);
  std::string labels = "source=";
  append_json_string(&labels, source);
  labels += ",reason=\"";
  labels += reason;
  labels += '"';
  metrics_
      ->counter("tern_relay_source_events_rejected_total", labels,
                "Events refused, by source and reason (source \"\" before it is known)")
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
      r.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After, X-Tern-Ack, ETag");
    }
    metrics_
        ->counter("tern_relay_http_requests_total", label + std::to_string(r.status) + "\"",
                  "HTTP requests answered, by path and status")
        .inc();
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)started;
    latency_.observe(0.0);  // fuzz builds only: no wall-clock time in the coverage
#else
    latency_.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
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

  if (auto key = settings_path_write_key(path)) {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse r = make_error(405, "method_not_allowed", "use GET");
      r.headers.emplace_back("Allow", "GET, HEAD");
      finish(std::move(r));
      return;
    }
    HttpResponse r = answer_source_settings(*config, request, *key);
    if (r.status == 404) auth_failures_.inc();
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
}

}  // namespace tern::relay
