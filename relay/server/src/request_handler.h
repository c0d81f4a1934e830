// RequestHandler: everything the relay does with one HTTP request, with no
// I/O of its own (the Beast session reads and writes; the Pipeline stores).
// It routes, authenticates, applies limits, validates and enriches events,
// dedups and rate-limits them, submits them to the Pipeline and builds the
// answer. Unit-testable without sockets: feed it an HttpRequest, get an
// HttpResponse through `respond`.
//
// Endpoints (Segment HTTP Tracking API):
//   POST /v1/batch (/v1/b, /v1/import)   {"batch":[event,...],"sentAt":"..."}
//   POST /v1/track|identify|page|screen|group|alias (/v1/t,i,p,s,g,a): one event
//   OPTIONS *                             CORS preflight
//   GET /health, /ready, /metrics
//   GET /v1/projects/{writeKey}/settings  the source's SDK settings (source_settings.h)
//
// Enrichment, spliced into each event's original bytes:
//   - `receivedAt` (relay clock, ISO-8601 ms); a client-sent one is replaced.
//   - `timestamp`: when both the event's `timestamp` and a `sentAt` (the
//     batch's, else the event's own) are present, it becomes
//     receivedAt - (sentAt - timestamp), correcting device clock skew, and
//     the client's text is kept as `originalTimestamp`. Without sentAt the
//     timestamp is kept; without a timestamp it is set to receivedAt.
//   - `context.ip`: the socket peer, or for trusted proxies the right-most
//     untrusted X-Forwarded-For entry. A client-set context.ip is kept (as
//     Segment does): a server-side SDK may report its end user's address.
//   - `context.sourceId`: the id of the source the write key belongs to
//     (always the relay's; a client-sent one is replaced).
//   - `messageId`: generated (a random UUIDv4) when the client sent none.
//     Segment libraries always send one; it is the dedup key.
//   - `type`: for the single-event endpoints, set from the path.
//   - `writeKey` is removed from events so keys never reach sinks.
//
// Besides validation's reasons (event_validation.h), an event whose userId
// the control plane suppressed is rejected with reason "suppressed".
//
// Threads: handle() may be called concurrently from many sessions, each with
// its own RequestScratch. `respond` is called exactly once: inline, or later
// from a pipeline thread (the session must post it to its own strand).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "admission.h"
#include "client_ip.h"
#include "http_message.h"
#include "iso8601.h"
#include "json_splice.h"
#include "tern/base/status.h"
#include "tern/relay/config.h"
#include "tern/relay/metrics.h"
#include "tern/relay/pipeline.h"
#include "tern/relay/tap.h"

namespace tern::relay {

// The immutable view of the config the handler works from; swapped whole on
// SIGHUP (held by shared_ptr<const>, so a request in flight keeps its own).
struct IngestConfig {
  RelayConfig relay;
  std::unordered_map<std::string, std::size_t> source_by_key;  // write key -> sources index
  std::vector<IpRange> trusted_proxies;
  // relay.suppressed_user_ids, indexed: events with these userIds are
  // rejected (reason "suppressed").
  std::unordered_set<std::string> suppressed_user_ids;
};

// Validates what the handler needs (non-empty, unique write keys; trusted
// proxies parse) and indexes it.
Result<std::shared_ptr<const IngestConfig>> make_ingest_config(RelayConfig relay);

// Per-session reusable buffers and JSON parser (no allocation per request
// once warmed up).
std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> make_request_scratch();

// The calling thread's scratch (created on first use, freed at thread exit).
// The server passes this to handle(): parsing and enrichment run
// synchronously inside handle() and nothing reads the scratch after it
// returns (the pipeline callback owns its data), so one scratch per I/O
// thread serves all its connections, and an idle keep-alive connection holds
// no parser or body buffers. Not for re-entrant use on one thread.
RequestScratch& thread_request_scratch();

// Facts about one event the enricher needs besides its bytes.
struct EnrichInput {
  std::string_view received_at_text;  // format_iso8601_ms(received_at)
  SysTime received_at;
  std::optional<SysTime> sent_at;
  std::optional<SysTime> timestamp;  // the event's, parsed (absent: none sent)
  std::string_view ip;               // empty: do not set context.ip
  std::string_view source_id;
  std::string_view forced_type;           // non-empty: set `type` to this
  std::string_view generated_message_id;  // non-empty: add as messageId
};

// A text and its JSON string literal, re-encoded only when the text changes.
struct EncodedText {
  std::string text;
  std::string json;
  void set(std::string_view t) {
    if (t == text && !json.empty()) return;
    text.assign(t.data(), t.size());
    json.clear();
    append_json_string(&json, t);
  }
};

// Buffers enrich_event reuses from one event to the next.
struct EnrichScratch {
  struct {
    EncodedText ip, source_id, received_at;
  } fragments;
  std::vector<ScannedEvent> scanned;  // enrich_event's own scan
  std::vector<ObjectSplicer::Decision> decisions, context_decisions;
  std::string extras, context_extras;
};

// Splices the enrichment into `event_text` (a valid JSON object) and
// appends the result to `out`.
void enrich_event(std::string_view event_text, const EnrichInput& in, std::string* out,
                  EnrichScratch* scratch);
// The same for an event already scanned by scan_events (`event_text` is its
// span; `context` and the spans as scan_events left them).
void enrich_scanned(std::string_view event_text, const std::vector<MemberSpan>& members,
                    std::ptrdiff_t context, const std::vector<MemberSpan>& context_members,
                    const EnrichInput& in, std::string* out, EnrichScratch* scratch);

class RequestHandler : public HttpHandler {
 public:
  // `pipeline` and `metrics` must outlive the handler.
  RequestHandler(std::shared_ptr<const IngestConfig> config, Pipeline* pipeline, Metrics* metrics);

  void handle(HttpRequest request, RequestScratch& scratch, Respond respond) override;

  // The answer (and counter) for a request the server cut short.
  // kReadTimeout/kIdleTimeout only count (there is no one left to answer).
  HttpResponse server_limit(ServerLimit limit, std::string_view path) override;
  LimitsConfig limits() const override { return config()->relay.limits; }

  // Atomically replaces the config; requests in flight finish with the old one.
  void reload(std::shared_ptr<const IngestConfig> config);
  std::shared_ptr<const IngestConfig> config() const;

  Metrics& metrics() { return *metrics_; }

  // Where rejected events are offered to the live tap (tap.h); null: nowhere.
  // The tap must outlive the handler's requests, or be unset first.
  void set_tap(TapHub* tap) { tap_.store(tap, std::memory_order_release); }

 private:
  // The ingest endpoints, in phases (ingest.cc). Each phase returns the
  // answer when it ends the request, nothing when the request goes on.
  struct IngestCall;
  void handle_ingest(HttpRequest& request, RequestScratch& scratch,
                     const std::shared_ptr<const IngestConfig>& config, std::string_view type,
                     const Respond& respond);
  std::optional<HttpResponse> authenticate_header(IngestCall& call);
  std::optional<HttpResponse> decode_body(IngestCall& call);
  std::optional<HttpResponse> parse_body(IngestCall& call);
  std::optional<HttpResponse> judge_events_apart(IngestCall& call, bool* rebuilt);
  std::optional<HttpResponse> authenticate_body(IngestCall& call);
  std::optional<HttpResponse> locate_events(IngestCall& call);
  std::optional<HttpResponse> rate_limit(IngestCall& call);
  void validate_events(IngestCall& call);
  void dedup_and_enrich(IngestCall& call);
  void answer(IngestCall& call, const Respond& respond);
  HttpResponse limit_refusal(int status, std::string_view limit, std::string_view message);
  HttpResponse unauthorized(std::string_view message);
  DedupWindow& dedup_for(const std::string& source_id);
  TokenBucket& bucket_for(const std::string& write_key);
  void count_limit(std::string_view limit, uint64_t n = 1);
  // Counts under the reason and, per source, under (source, reason); a
  // rejection before the source is known counts under source "".
  void count_rejected(std::string_view source, std::string_view reason, uint64_t n = 1);

  mutable std::mutex config_mu_;
  std::shared_ptr<const IngestConfig> config_;
  Pipeline* pipeline_;
  Metrics* metrics_;
  std::atomic<TapHub*> tap_{nullptr};

  std::mutex admission_mu_;  // guards the two maps (not the objects in them)
  std::unordered_map<std::string, std::unique_ptr<DedupWindow>> dedup_;
  std::unordered_map<std::string, std::unique_ptr<TokenBucket>> buckets_;

  Counter& bytes_in_;
  Counter& auth_failures_;
  Counter& inflated_bytes_;
  Histogram& latency_;
};

}  // namespace tern::relay
