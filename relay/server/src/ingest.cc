// The ingest endpoints (/v1/batch and the single-event ones), in named
// phases. Each phase either lets the request go on or answers it:
//
//   authenticate  the write key from the Authorization header (before any
//                 decompression or parsing work), else from the body
//   decode        Content-Encoding, bounded by size and inflate ratio
//   parse         the whole body at once; when that fails, a batch is split
//                 and each event judged alone, so one event the parser
//                 refuses (a number outside double range, an escape that is
//                 not Unicode, nesting past max_json_depth) is listed by
//                 index and its neighbours go on
//   locate        the events' DOM elements and their original bytes
//   validate      each event alone (event_validation.h)
//   dedup         all of the request's messageIds at once
//   enrich        receivedAt, corrected timestamp, context.ip, sourceId
//   answer        submit to the pipeline; 200 with every rejection by index
//
// Only batch-level problems answer 4xx: a body that is not a JSON document,
// a limit of the whole request (body size, inflate ratio, events per batch,
// nesting so deep it is an attack rather than an event), a bad write key,
// or a batch with no acceptable event.
#include <simdjson.h>

#include <algorithm>

#include "batch_split.h"
#include "event_validation.h"
#include "http_text.h"
#include "inflate.h"
#include "request_handler.h"
#include "tern/base/base64.h"
#include "tern/base/uuid.h"

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
    ValidEvent event;
  };
  std::vector<Candidate> candidates;
  std::vector<std::string_view> ids;
  std::vector<char> is_new;
  std::vector<std::pair<std::string_view, uint64_t>> tally;  // rejections by reason
  // Only when a batch is judged event by event (rare: the body did not parse).
  simdjson::dom::parser event_parser;
  BatchSplit split;
  std::string rebuilt;

  // Buffers are reused across requests (of one I/O thread, see
  // thread_request_scratch), but one large request must not pin megabytes
  // to the thread for good.
  void trim() {
    constexpr std::size_t kKeep = 256 * 1024;
    if (parser.capacity() > kKeep) parser = simdjson::dom::parser();
    if (event_parser.capacity() > kKeep) event_parser = simdjson::dom::parser();
    if (inflated.capacity() > kKeep) std::string().swap(inflated);
    if (rebuilt.capacity() > kKeep) std::string().swap(rebuilt);
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

// Nesting past this is refused for the whole body, whatever max_json_depth
// allows an event: a document this deep is an attack, not a batch of events
// (simdjson's own default limit).
constexpr std::size_t kMaxDocumentDepth = 1024;

struct Rejection {
  std::size_t index;
  std::string_view reason;  // static text
  std::string_view detail;  // static text or empty
};

// What a rejection's reason means, for a person watching the live tap.
std::string_view reason_text(std::string_view reason) {
  static constexpr std::pair<std::string_view, std::string_view> kTexts[] = {
      {"too_large", "the event is larger than max_event_bytes"},
      {"not_an_object", "the event is not a JSON object"},
      {"missing_type", "the event has no \"type\""},
      {"invalid_type", "\"type\" is not track, identify, page, screen, group or alias"},
      {"invalid_message_id", "\"messageId\" is not a non-empty string"},
      {"missing_user", "the event has no \"userId\" or \"anonymousId\" (an alias needs userId)"},
      {"missing_previous_id", "an alias needs \"previousId\""},
      {"missing_event", "a track needs an \"event\" name"},
      {"missing_group_id", "a group needs \"groupId\""},
      {"invalid_timestamp", "\"timestamp\" is not an ISO 8601 time"},
      {"invalid_context", "\"context\" is not an object"},
      {"suppressed", "its userId is suppressed (a privacy request)"},
  };
  for (const auto& [r, text] : kTexts) {
    if (r == reason) return text;
  }
  return reason;
}

// Shows a rejected event on the live taps that asked for rejected events
// (nothing to do, one atomic load, when none did).
void offer_to_tap(TapHub* tap, std::string_view source, std::string_view type,
                  std::string_view reason, std::string_view detail, std::string_view text) {
  if (!tap || !tap->wants_rejected()) return;
  tap->offer_rejected(source, type, reason, detail.empty() ? reason_text(reason) : detail, text);
}

std::string ingest_body(std::size_t accepted, const std::vector<Rejection>& rejected) {
  std::string out = "{\"accepted\":" + std::to_string(accepted) + ",\"rejected\":[";
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += "{\"index\":" + std::to_string(rejected[i].index) + ",\"reason\":\"";
    out += rejected[i].reason;
    out += '"';
    if (!rejected[i].detail.empty()) {
      out += ",\"message\":";
      append_json_string(&out, rejected[i].detail);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

// The write key from `Authorization: Basic base64(key:)`; nullopt when the
// header is malformed.
std::optional<std::string> basic_auth_key(std::string_view header) {
  header = trim_ws(header);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "basic ")) return std::nullopt;
  std::string decoded;
  if (!base::base64_decode(trim_ws(header.substr(6)), &decoded)) return std::nullopt;
  auto colon = decoded.find(':');
  if (colon != std::string::npos) decoded.resize(colon);  // the password is ignored
  return decoded;
}

// The structural index of the document `parser` parsed last. simdjson keeps
// it in its parser implementation (a public member, documented as being
// there for benchmarking access); scan_events_indexed checks it against the
// text and the caller falls back to the byte scanner if it ever does not fit.
StructuralIndex structural_index(const simdjson::dom::parser& parser) {
  if (!parser.implementation) return {};
  return StructuralIndex{parser.implementation->structural_indexes.get(),
                         parser.implementation->n_structural_indexes};
}

// Parses `text` as the whole body: UTF-8, syntax, depth. max_json_depth
// bounds each event's nesting (the event object itself is level 1); a batch
// adds two levels (the body object and the array).
simdjson::error_code parse_document(simdjson::dom::parser& parser, bool is_batch,
                                    const LimitsConfig& limits, std::string& text,
                                    simdjson::dom::element* root, simdjson::dom::object* object) {
  const std::size_t want_depth =
      std::max<std::size_t>(limits.max_json_depth, 1) + (is_batch ? 2 : 0);
  if (parser.max_depth() != want_depth &&
      parser.allocate(std::max<std::size_t>(text.size(), 4096), want_depth) != simdjson::SUCCESS) {
    return simdjson::MEMALLOC;
  }
  text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  auto err = parser.parse(text.data(), text.size(), false).get(*root);
  if (err != simdjson::SUCCESS) return err;
  if (root->get_object().get(*object) != simdjson::SUCCESS) return simdjson::INCORRECT_TYPE;
  return simdjson::SUCCESS;
}

}  // namespace

// One ingest request on its way through the phases.
struct RequestHandler::IngestCall {
  IngestCall(HttpRequest& request, RequestScratch& scratch, const IngestConfig& config,
             std::string_view forced_type)
      : request(request),
        scratch(scratch),
        config(config),
        limits(config.relay.limits),
        forced_type(forced_type) {}

  HttpRequest& request;
  RequestScratch& scratch;
  const IngestConfig& config;
  const LimitsConfig& limits;
  std::string_view forced_type;  // a single-event endpoint's type; empty for a batch

  // authenticate
  std::optional<std::size_t> source_index;
  std::string write_key;
  // decode, parse
  std::string* json = nullptr;
  simdjson::dom::element root_element;
  simdjson::dom::object root;
  // When the batch was judged event by event: the client's index of each
  // event the rebuilt batch kept (empty: the batch is the client's own).
  std::vector<uint32_t> client_index;
  // locate
  std::string_view text;
  std::vector<simdjson::dom::element> events;
  std::optional<SysTime> sent_at;
  // validate, dedup, enrich
  std::vector<Rejection> rejected;
  DedupWindow* dedup = nullptr;
  Submission submission;
  std::size_t accepted = 0;
  std::string new_ids;  // the new messageIds, forgotten again if the submit fails
  std::vector<uint32_t> new_id_ends;

  bool is_batch() const { return forced_type.empty(); }
  const SourceConfig& source() const { return config.relay.sources[*source_index]; }
  std::size_t client_index_of(std::size_t i) const {
    return client_index.empty() ? i : client_index[i];
  }
};

HttpResponse RequestHandler::limit_refusal(int status, std::string_view limit,
                                           std::string_view message) {
  count_limit(limit);
  return make_error(status, limit, message);
}

HttpResponse RequestHandler::unauthorized(std::string_view message) {
  auth_failures_.inc();
  HttpResponse r = make_error(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"tern\"");
  return r;
}

void RequestHandler::handle_ingest(HttpRequest& request, RequestScratch& scratch,
                                   const std::shared_ptr<const IngestConfig>& config,
                                   std::string_view type, const Respond& respond) {
  IngestCall call(request, scratch, *config, type);
  std::optional<HttpResponse> refusal;
  if (!(refusal = authenticate_header(call)) && !(refusal = decode_body(call)) &&
      !(refusal = parse_body(call)) && !(refusal = authenticate_body(call)) &&
      !(refusal = locate_events(call)) && !(refusal = rate_limit(call))) {
    validate_events(call);
    dedup_and_enrich(call);
    answer(call, respond);
  } else {
    respond(std::move(*refusal));
  }
  scratch.trim();
}

// ---- authenticate ----

std::optional<HttpResponse> RequestHandler::authenticate_header(IngestCall& call) {
  if (call.request.body.size() > call.limits.max_body_bytes) {
    return limit_refusal(413, "body_size", "request body exceeds max_body_bytes");
  }
  if (trim_ws(call.request.authorization).empty()) return std::nullopt;  // the body may have it
  auto key = basic_auth_key(call.request.authorization);
  if (!key || key->empty()) {
    return unauthorized(
        "malformed Authorization header (expected Basic with the write key as user)");
  }
  auto it = call.config.source_by_key.find(*key);
  if (it == call.config.source_by_key.end()) return unauthorized("unknown write key");
  call.source_index = it->second;
  call.write_key = std::move(*key);
  return std::nullopt;
}

std::optional<HttpResponse> RequestHandler::authenticate_body(IngestCall& call) {
  if (call.source_index) return std::nullopt;
  std::string_view body_key;
  if (call.root["writeKey"].get_string().get(body_key) != simdjson::SUCCESS || body_key.empty()) {
    return unauthorized("missing write key (HTTP Basic user name or body writeKey)");
  }
  auto it = call.config.source_by_key.find(std::string(body_key));
  if (it == call.config.source_by_key.end()) return unauthorized("unknown write key");
  call.source_index = it->second;
  call.write_key = std::string(body_key);
  return std::nullopt;
}

// ---- decode ----

std::optional<HttpResponse> RequestHandler::decode_body(IngestCall& call) {
  const LimitsConfig& limits = call.limits;
  call.json = &call.request.body;
  std::string_view encoding = trim_ws(call.request.content_encoding);
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip") || iequals(encoding, "deflate")) {
    InflateResult ir = inflate_bounded(call.request.body, !iequals(encoding, "deflate"),
                                       limits.max_decompressed_bytes, limits.max_inflate_ratio,
                                       &call.scratch.inflated);
    inflated_bytes_.inc(call.scratch.inflated.size());
    if (ir == InflateResult::kTooLarge) {
      return limit_refusal(413, "decompressed_size",
                           "decompressed body exceeds max_decompressed_bytes");
    }
    if (ir == InflateResult::kRatioTooHigh) {
      return limit_refusal(413, "inflate_ratio", "body inflates beyond max_inflate_ratio");
    }
    if (ir == InflateResult::kCorrupt) {
      return make_error(400, "invalid_encoding",
                        "body is not valid " + std::string(encoding) + " data");
    }
    call.json = &call.scratch.inflated;
  } else if (!encoding.empty() && !iequals(encoding, "identity")) {
    return make_error(415, "unsupported_encoding",
                      "Content-Encoding must be gzip, deflate or identity");
  }
  if (call.is_batch() && call.json->size() > limits.max_batch_bytes) {
    return limit_refusal(413, "batch_size", "batch exceeds max_batch_bytes");
  }
  return std::nullopt;
}

// ---- parse ----

std::optional<HttpResponse> RequestHandler::parse_body(IngestCall& call) {
  auto err = parse_document(call.scratch.parser, call.is_batch(), call.limits, *call.json,
                            &call.root_element, &call.root);
  if (err == simdjson::SUCCESS) return std::nullopt;
  if (err == simdjson::MEMALLOC) {
    return make_error(500, "internal", "cannot allocate the JSON parser");
  }
  if (call.is_batch() && err != simdjson::INCORRECT_TYPE) {
    // Perhaps only some events are bad: judge them one by one.
    bool rebuilt = false;
    if (auto refusal = judge_events_apart(call, &rebuilt)) return refusal;
    if (rebuilt) {
      err = parse_document(call.scratch.parser, true, call.limits, call.scratch.rebuilt,
                           &call.root_element, &call.root);
      if (err == simdjson::SUCCESS) {
        call.json = &call.scratch.rebuilt;
        return std::nullopt;
      }
      call.rejected.clear();  // the envelope itself is bad: refused whole below
      call.client_index.clear();
    }
  }
  if (err == simdjson::DEPTH_ERROR) {
    return limit_refusal(400, "json_depth", "JSON nesting exceeds max_json_depth");
  }
  if (err == simdjson::INCORRECT_TYPE) {
    return make_error(400, "invalid_json", "the body must be a JSON object");
  }
  return make_error(400, "invalid_json", simdjson::error_message(err));
}

// A batch body that did not parse whole: splits it into its events by its
// structure, parses each alone, and rebuilds the body (its other members
// byte for byte) with only the events that parse, into scratch.rebuilt.
// Sets *rebuilt when there is something to try again; answers when the
// batch as a whole must be refused.
std::optional<HttpResponse> RequestHandler::judge_events_apart(IngestCall& call, bool* rebuilt) {
  *rebuilt = false;
  RequestScratch& s = call.scratch;
  const std::string_view text(*call.json);
  const std::size_t max_depth =
      std::max<std::size_t>(kMaxDocumentDepth, call.limits.max_json_depth + 2);
  switch (split_batch(text, max_depth, &s.split)) {
    case SplitResult::kOk:
      break;
    case SplitResult::kTooDeep:
      return limit_refusal(400, "json_depth",
                           "JSON nesting is deeper than any batch of events may be");
    case SplitResult::kNotADocument:
      return std::nullopt;  // answered with the parser's own error
  }
  if (s.split.events.size() > call.limits.max_batch_events) {
    return limit_refusal(413, "batch_events", "batch has more than max_batch_events events");
  }
  call.rejected.clear();
  call.client_index.clear();
  s.rebuilt.assign(text.substr(0, s.split.batch_value.begin));
  s.rebuilt.push_back('[');
  for (std::size_t i = 0; i < s.split.events.size(); ++i) {
    std::string_view event = s.split.events[i].of(text);
    simdjson::dom::element ignored;
    // The body buffer holds SIMDJSON_PADDING bytes past its end (parse_document
    // reserved them), so an event inside it is parsed in place.
    EventVerdict verdict =
        parse_event(event, call.limits, s.event_parser, &ignored, /*padded=*/true);
    if (!verdict.ok()) {
      call.rejected.push_back(Rejection{i, verdict.reason, verdict.detail});
      offer_to_tap(tap_.load(std::memory_order_acquire),
                   call.source_index ? std::string_view(call.source().id) : std::string_view(),
                   call.forced_type, verdict.reason, verdict.detail, event);
      continue;
    }
    if (!call.client_index.empty()) s.rebuilt.push_back(',');
    s.rebuilt.append(event);
    call.client_index.push_back(static_cast<uint32_t>(i));
  }
  s.rebuilt.push_back(']');
  s.rebuilt.append(text.substr(s.split.batch_value.end));
  // Every event parsed alone: what failed is the body around them.
  *rebuilt = !call.rejected.empty();
  if (!*rebuilt) call.client_index.clear();
  return std::nullopt;
}

// ---- locate ----

std::optional<HttpResponse> RequestHandler::locate_events(IngestCall& call) {
  RequestScratch& s = call.scratch;
  call.text = std::string_view(call.json->data(), call.json->size());
  std::string_view sent_at_text;
  if (call.root["sentAt"].get_string().get(sent_at_text) == simdjson::SUCCESS) {
    call.sent_at = parse_iso8601(sent_at_text);  // an unparseable sentAt disables skew correction
  }
  std::ptrdiff_t batch_member = -1;
  if (call.is_batch()) {
    simdjson::dom::array batch;
    if (call.root["batch"].get_array().get(batch) != simdjson::SUCCESS) {
      return make_error(400, "missing_batch", "the body must have a \"batch\" array");
    }
    if (batch.size() > call.limits.max_batch_events) {
      return limit_refusal(413, "batch_events", "batch has more than max_batch_events events");
    }
    for (simdjson::dom::element e : batch) call.events.push_back(e);
    // The scanners take the member the parser found as "batch" (its first;
    // keys compared decoded, so "b\u0061tch" is the batch too).
    batch_member = 0;
    for (auto field : call.root) {
      if (field.key == "batch") break;
      ++batch_member;
    }
  } else {
    call.events.push_back(call.root_element);
  }
  // One pass over the bytes finds every event's span and members (and its
  // context's members) for the splicing below. The parser's own structural
  // index makes the scan token by token; the byte scanner is the fallback
  // should the index ever not match the text.
  bool scanned_ok = scan_events_indexed(call.text, structural_index(s.parser), batch_member,
                                        &s.scanned, &s.scanned_count) &&
                    s.scanned_count == call.events.size();
  if (!scanned_ok) {
    std::size_t begin = 0;
    scanned_ok =
        (batch_member < 0 ||
         find_nth_member_value(call.text, static_cast<std::size_t>(batch_member), &begin)) &&
        scan_events(call.text, begin, &s.scanned, &s.scanned_count);
  }
  if (!scanned_ok || s.scanned_count != call.events.size()) {
    return make_error(500, "internal", "event scanner disagrees with the parser");
  }
  return std::nullopt;
}

std::optional<HttpResponse> RequestHandler::rate_limit(IngestCall& call) {
  const SourceConfig& source = call.source();
  if (source.rate_limit_eps <= 0) return std::nullopt;
  int wait = bucket_for(call.write_key)
                 .take(static_cast<double>(call.events.size()), source.rate_limit_eps,
                       source.rate_limit_burst, call.request.received_steady);
  if (wait <= 0) return std::nullopt;
  count_limit("rate");
  HttpResponse r = make_error(429, "rate_limited", "write key over its rate limit");
  r.headers.emplace_back("Retry-After", std::to_string(wait));
  r.headers.emplace_back("X-Tern-Ack", ack_mode_name(source.ack_mode));
  return r;
}

// ---- validate ----

namespace {

// True when the event's userId (a string, or an integer as its decimal text)
// is one the control plane suppressed.
bool is_suppressed(simdjson::dom::element event,
                   const std::unordered_set<std::string>& suppressed) {
  if (suppressed.empty()) return false;
  simdjson::dom::element user_id;
  if (event["userId"].get(user_id) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (user_id.get(text) == simdjson::SUCCESS) return suppressed.count(std::string(text)) != 0;
  int64_t number = 0;
  if (user_id.get(number) == simdjson::SUCCESS) {
    return suppressed.count(std::to_string(number)) != 0;
  }
  return false;
}

}  // namespace

void RequestHandler::validate_events(IngestCall& call) {
  RequestScratch& s = call.scratch;
  s.candidates.clear();
  const std::size_t judged_apart = call.rejected.size();  // by the parse phase, in order
  for (std::size_t i = 0; i < call.events.size(); ++i) {
    const ScannedEvent& scanned = s.scanned[i];
    EventVerdict verdict =
        validate_parsed_event(call.events[i], scanned.members,
                              scanned.span.end - scanned.span.begin, call.forced_type, call.limits);
    if (verdict.ok() && is_suppressed(call.events[i], call.config.suppressed_user_ids)) {
      verdict.reason = "suppressed";
    }
    if (verdict.ok()) {
      s.candidates.push_back(RequestScratch::Candidate{i, verdict.event});
      continue;
    }
    call.rejected.push_back(Rejection{call.client_index_of(i), verdict.reason, verdict.detail});
    if (TapHub* tap = tap_.load(std::memory_order_acquire); tap && tap->wants_rejected()) {
      std::string_view type = verdict.event.type.empty() ? call.forced_type : verdict.event.type;
      std::string_view sent_type;
      if (type.empty() && call.events[i]["type"].get_string().get(sent_type) == simdjson::SUCCESS) {
        type = sent_type;
      }
      offer_to_tap(tap, call.source().id, type, verdict.reason, verdict.detail,
                   scanned.span.of(call.text));
    }
  }
  // Both runs are in index order: one merge puts the answer's list in order.
  std::inplace_merge(call.rejected.begin(), call.rejected.begin() + judged_apart,
                     call.rejected.end(),
                     [](const Rejection& a, const Rejection& b) { return a.index < b.index; });
  // Counted once per reason, not once per event: a batch of thousands of bad
  // events costs one counter update per reason.
  auto& tally = s.tally;
  tally.clear();
  for (const Rejection& r : call.rejected) {
    auto it = std::find_if(tally.begin(), tally.end(),
                           [&](const auto& t) { return t.first == r.reason; });
    if (it == tally.end()) {
      tally.emplace_back(r.reason, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [reason, n] : tally) {
    if (reason == "json_depth") count_limit("json_depth", n);
    if (reason == "too_large") count_limit("event_size", n);
    count_rejected(call.source().id, reason, n);
  }
}

// ---- dedup, enrich ----

void RequestHandler::dedup_and_enrich(IngestCall& call) {
  RequestScratch& s = call.scratch;
  const SourceConfig& source = call.source();
  // Dedup: all of the request's ids at once (one lock, the window's slots
  // prefetched together).
  s.ids.clear();
  for (const auto& c : s.candidates) {
    if (!c.event.message_id.empty()) s.ids.push_back(c.event.message_id);
  }
  call.dedup = &dedup_for(source.id);
  call.dedup->insert_all(s.ids, call.request.received_steady, source.dedup_window,
                         source.dedup_max_entries, &s.is_new);

  // Enrich the new events into one buffer for the request: their text plus
  // what enrichment adds (receivedAt, context.ip, sourceId, ...), about 160
  // bytes each.
  call.submission.ack_mode = source.ack_mode;
  call.submission.events = SpoolBatch(source.id);
  std::size_t text_bytes = 0;
  for (const auto& c : s.candidates)
    text_bytes += s.scanned[c.index].span.of(call.text).size() + 160;
  call.submission.events.reserve(s.candidates.size(), text_bytes);

  const std::string received_text = format_iso8601_ms(call.request.received_at);
  const std::string ip =
      client_ip(call.request.peer_ip, call.request.forwarded_for, call.config.trusted_proxies);
  std::size_t id_index = 0, duplicates = 0;
  for (const auto& c : s.candidates) {
    std::string generated;
    if (!c.event.message_id.empty()) {
      if (!s.is_new[id_index++]) {
        ++call.accepted;
        ++duplicates;
        continue;
      }
      call.new_ids.append(c.event.message_id);
      call.new_id_ends.push_back(static_cast<uint32_t>(call.new_ids.size()));
    } else {
      generated = base::uuid_v4();
    }
    const ScannedEvent& scanned = s.scanned[c.index];
    EnrichInput in;
    in.received_at_text = received_text;
    in.received_at = call.request.received_at;
    in.sent_at = call.sent_at;
    in.timestamp = c.event.timestamp;
    in.ip = ip;
    in.source_id = source.id;
    in.forced_type = call.forced_type;
    in.generated_message_id = generated;
    std::string& out = call.submission.events.begin_event(c.event.type);
    enrich_scanned(scanned.span.of(call.text), scanned.members, scanned.context,
                   scanned.context_members, in, &out, &s.enrich);
    call.submission.events.end_event();
    ++call.accepted;
  }
  if (duplicates > 0) {
    metrics_
        ->counter("tern_relay_events_deduplicated_total", "source=\"" + source.id + "\"",
                  "Events accepted as duplicates of a messageId seen within the window, not "
                  "stored again")
        .inc(duplicates);
  }
}

// ---- answer ----

void RequestHandler::answer(IngestCall& call, const Respond& respond) {
  const SourceConfig& source = call.source();
  const char* ack_name = ack_mode_name(source.ack_mode);
  if (call.accepted == 0) {
    HttpResponse r;
    r.status = 400;
    r.body = ingest_body(0, call.rejected);
    r.headers.emplace_back("X-Tern-Ack", ack_name);
    respond(std::move(r));
    return;
  }
  std::string ok_body = ingest_body(call.accepted, call.rejected);
  if (call.submission.events.empty()) {  // only duplicates: already stored
    HttpResponse r;
    r.body = std::move(ok_body);
    r.headers.emplace_back("X-Tern-Ack", ack_name);
    respond(std::move(r));
    return;
  }

  std::size_t submitted = call.submission.events.size();
  Counter& accepted_counter =
      metrics_->counter("tern_relay_events_accepted_total", "source=\"" + source.id + "\"",
                        "Events accepted and stored, by source");
  DedupWindow& dedup = *call.dedup;
  std::string source_id = source.id;
  pipeline_->submit(std::move(call.submission), [this, respond, ok_body = std::move(ok_body),
                                                 ack_name, submitted, &dedup, source_id,
                                                 new_ids = std::move(call.new_ids),
                                                 new_id_ends = std::move(call.new_id_ends),
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
    count_rejected(source_id,
                   status.code() == StatusCode::kUnavailable ? "spool_full"
                   : status.code() == StatusCode::kCancelled ? "shutting_down"
                                                             : "storage_error",
                   submitted);
    if (status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kCancelled) {
      r.status = 503;
      r.headers.emplace_back("Retry-After",
                             std::to_string(std::max(1, pipeline_->retry_after_seconds())));
      r.body =
          error_body(status.code() == StatusCode::kUnavailable ? "unavailable" : "shutting_down",
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
