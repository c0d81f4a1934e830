// Validation of one event, as a pure function: no I/O, no state, no clock.
// The request handler judges every event of a batch alone with it, so one
// bad event is listed by index and its neighbours are stored.
//
// Reasons (static text, each counted in tern_relay_events_rejected_total):
//   too_large            the event's text is over limits.max_event_bytes
//   json_depth           nested deeper than limits.max_json_depth (the event
//                        object itself is level 1)
//   invalid_json         not JSON on its own: bad syntax, a number outside
//                        double range, an escape that is not valid Unicode,
//                        a control character in a string, invalid UTF-8
//   not_an_object        JSON, but not an object
//   duplicate_key        a key the relay reads or rewrites is given twice
//   escaped_key          such a key is written with escapes ("typ\u0065")
//   missing_type, invalid_type, invalid_message_id, missing_user,
//   missing_previous_id, missing_event, missing_group_id,
//   invalid_timestamp, invalid_context: the Segment spec's required fields
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "iso8601.h"
#include "json_splice.h"
#include "tern/relay/config.h"

namespace tern::relay {

// The Segment spec's event types.
inline constexpr std::string_view kEventTypes[] = {"track",  "identify", "page",
                                                   "screen", "group",    "alias"};

// What validation learned of an acceptable event (views into the parser's
// buffers, except `type`, which is static text from kEventTypes).
struct ValidEvent {
  std::string_view type;
  std::string_view message_id;  // empty: none sent (the relay generates one)
  std::optional<SysTime> timestamp;
};

// The verdict on one event: `reason` is empty when it is acceptable.
struct EventVerdict {
  std::string_view reason;
  // For the parse-level reasons (json_depth, invalid_json): the parser's own
  // words, static text; empty otherwise.
  std::string_view detail;
  ValidEvent event;

  bool ok() const { return reason.empty(); }
};

// Judges an event that is already parsed: `event` is its DOM element,
// `members` its top-level members as scan_events found them (keys as
// written, in the same order as the DOM's), `text_bytes` the size of its
// text. `forced_type` is the type a single-event endpoint takes from its
// path (empty for a batch). Checks the size, then the fields.
EventVerdict validate_parsed_event(simdjson::dom::element event,
                                   const std::vector<MemberSpan>& members, std::size_t text_bytes,
                                   std::string_view forced_type, const LimitsConfig& limits);

// Judges one event from its text alone: size, parse (UTF-8, syntax, numbers,
// escapes, depth), then the fields. `parser` is working memory (its
// allocation is reused; its previous document is invalidated).
EventVerdict validate_event(std::string_view text, std::string_view forced_type,
                            const LimitsConfig& limits, simdjson::dom::parser& parser);

// Only the size and parse checks of validate_event: the reason an event's
// text cannot be taken into a batch, or an empty verdict when it can.
// `padded`: the caller guarantees simdjson::SIMDJSON_PADDING readable bytes
// past the text's end (e.g. it lies inside a larger reserved buffer), so it
// is parsed in place instead of copied.
EventVerdict parse_event(std::string_view text, const LimitsConfig& limits,
                         simdjson::dom::parser& parser, simdjson::dom::element* out,
                         bool padded = false);

}  // namespace tern::relay
