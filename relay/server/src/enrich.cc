// Enrichment: the relay's additions spliced into an event's original bytes
// (see request_handler.h for what is added and why).
#include <string>
#include <string_view>
#include <vector>

#include "request_handler.h"

namespace tern::relay {

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

}  // namespace tern::relay
