#include "event_validation.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace tern::relay {
namespace {

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
    case 4:
      return same_as(key, "type") ? bit(kTypeKey) : 0;
    case 5:
      return same_as(key, "event") ? bit(kEventKey) : 0;
    case 6:
      return same_as(key, "userId")   ? bit(kUserIdKey)
             : same_as(key, "sentAt") ? bit(kSentAtKey)
                                      : 0;
    case 7:
      return same_as(key, "context")   ? bit(kContextKey)
             : same_as(key, "groupId") ? bit(kGroupIdKey)
                                       : 0;
    case 8:
      return same_as(key, "writeKey") ? bit(kWriteKeyKey) : 0;
    case 9:
      return same_as(key, "timestamp")   ? bit(kTimestampKey)
             : same_as(key, "messageId") ? bit(kMessageIdKey)
                                         : 0;
    case 10:
      return same_as(key, "previousId")   ? bit(kPreviousIdKey)
             : same_as(key, "receivedAt") ? bit(kReceivedAtKey)
                                          : 0;
    case 11:
      return same_as(key, "anonymousId") ? bit(kAnonymousIdKey) : 0;
    case 17:
      return same_as(key, "originalTimestamp") ? bit(kOriginalTimestampKey) : 0;
    default:
      return 0;
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
    if (first_escaped_ != 0) {
      return (present_ & first_escaped_) != 0 ? "duplicate_key" : "escaped_key";
    }
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

EventVerdict refuse(std::string_view reason, std::string_view detail = {}) {
  EventVerdict v;
  v.reason = reason;
  v.detail = detail;
  return v;
}

}  // namespace

EventVerdict validate_parsed_event(simdjson::dom::element event,
                                   const std::vector<MemberSpan>& members, std::size_t text_bytes,
                                   std::string_view forced_type, const LimitsConfig& limits) {
  if (text_bytes > limits.max_event_bytes) return refuse("too_large");
  simdjson::dom::object obj;
  if (event.get_object().get(obj) != simdjson::SUCCESS) return refuse("not_an_object");
  const InterpretedMembers member(obj, members);
  if (std::string_view why = member.ambiguity(); !why.empty()) return refuse(why);

  EventVerdict verdict;
  ValidEvent& valid = verdict.event;
  valid.type = forced_type;
  if (valid.type.empty()) {
    const simdjson::dom::element* t = member.get(kTypeKey);
    if (!t) return refuse("missing_type");
    std::string_view ts;
    const std::string_view* known = std::end(kEventTypes);
    if (t->get_string().get(ts) == simdjson::SUCCESS) {
      known = std::find(std::begin(kEventTypes), std::end(kEventTypes), ts);
    }
    if (known == std::end(kEventTypes)) return refuse("invalid_type");
    valid.type = *known;  // static text: it outlives the parser's buffers
  }
  if (const simdjson::dom::element* m = member.get(kMessageIdKey)) {
    if (m->get_string().get(valid.message_id) != simdjson::SUCCESS || valid.message_id.empty()) {
      return refuse("invalid_message_id");
    }
  }
  if (valid.type == "alias") {
    if (!member.non_empty_id(kUserIdKey)) return refuse("missing_user");
    if (!member.non_empty_id(kPreviousIdKey)) return refuse("missing_previous_id");
  } else if (!member.non_empty_id(kUserIdKey) && !member.non_empty_id(kAnonymousIdKey)) {
    return refuse("missing_user");
  }
  if (valid.type == "track") {
    std::string_view name;
    const simdjson::dom::element* e = member.get(kEventKey);
    if (!e || e->get_string().get(name) != simdjson::SUCCESS || name.empty()) {
      return refuse("missing_event");
    }
  }
  if (valid.type == "group" && !member.non_empty_id(kGroupIdKey)) return refuse("missing_group_id");
  if (const simdjson::dom::element* t = member.get(kTimestampKey); t && !t->is_null()) {
    std::string_view ts;
    if (t->get_string().get(ts) != simdjson::SUCCESS || !(valid.timestamp = parse_iso8601(ts))) {
      return refuse("invalid_timestamp");
    }
  }
  if (const simdjson::dom::element* c = member.get(kContextKey);
      c && !c->is_object() && !c->is_null()) {
    return refuse("invalid_context");
  }
  return verdict;
}

EventVerdict parse_event(std::string_view text, const LimitsConfig& limits,
                         simdjson::dom::parser& parser, simdjson::dom::element* out, bool padded) {
  if (text.size() > limits.max_event_bytes) return refuse("too_large");
  // The event object itself is level 1 of max_json_depth.
  const std::size_t depth = std::max<std::size_t>(limits.max_json_depth, 1);
  if (parser.max_depth() != depth &&
      parser.allocate(std::max<std::size_t>(text.size(), 4096), depth) != simdjson::SUCCESS) {
    return refuse("invalid_json", "cannot allocate the JSON parser");
  }
  auto err = parser.parse(text.data(), text.size(), /*realloc_if_needed=*/!padded).get(*out);
  if (err == simdjson::DEPTH_ERROR) return refuse("json_depth", simdjson::error_message(err));
  if (err != simdjson::SUCCESS) return refuse("invalid_json", simdjson::error_message(err));
  return {};
}

EventVerdict validate_event(std::string_view text, std::string_view forced_type,
                            const LimitsConfig& limits, simdjson::dom::parser& parser) {
  simdjson::dom::element event;
  EventVerdict parsed = parse_event(text, limits, parser, &event);
  if (!parsed.ok()) return parsed;
  std::vector<ScannedEvent> scanned;
  std::size_t count = 0;
  // The text parsed, so the byte scanner can follow it; it finds the keys as
  // written, which the ambiguity checks need.
  static const std::vector<MemberSpan> kNoMembers;
  const bool is_object =
      scan_events(text, 0, &scanned, &count) && count == 1 && scanned[0].is_object;
  return validate_parsed_event(event, is_object ? scanned[0].members : kNoMembers, text.size(),
                               forced_type, limits);
}

}  // namespace tern::relay
