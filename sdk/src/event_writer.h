// Serialises one Segment-spec event straight into text (no JSON DOM).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tern/client.h"

namespace tern {

// Every string field must already be valid UTF-8; every *_json field empty
// (absent) or the text of one JSON object.
struct EventParts {
  MessageType type = MessageType::kTrack;
  std::string_view event;
  std::string_view name;
  std::string_view user_id;
  std::string_view anonymous_id;
  std::string_view group_id;
  std::string_view previous_id;
  std::string_view properties_json;
  std::string_view traits_json;
  std::string_view context_json;
  // Keys the SDK adds inside the context object, without braces (e.g.
  // "sessionId":1), written after context_json's own keys; may be empty.
  std::string_view context_extra;
  std::string_view integrations_json;
  std::chrono::system_clock::time_point timestamp;
  int64_t now_ms = 0;  // for the UUIDv7 messageId
};

// Appends the event object to `out`.
void write_event(std::string& out, const EventParts& parts);

// The batch body: {"batch":[e1,e2,...],"sentAt":"..."}; `events` are joined as stored.
template <typename Range, typename Proj>
std::string write_batch(const Range& events, Proj body_of,
                        std::chrono::system_clock::time_point sent_at);

// Bytes write_batch adds around the events (plus one comma per extra event).
constexpr std::size_t kBatchOverhead =
    sizeof("{\"batch\":[],\"sentAt\":\"2000-01-01T00:00:00.000Z\"}");

}  // namespace tern

#include "tern/base/iso8601.h"
#include "text.h"

namespace tern {
template <typename Range, typename Proj>
std::string write_batch(const Range& events, Proj body_of,
                        std::chrono::system_clock::time_point sent_at) {
  std::size_t n = kBatchOverhead;
  for (const auto& e : events) n += body_of(e).size() + 1;
  std::string out;
  out.reserve(n);
  out.append("{\"batch\":[");
  bool first = true;
  for (const auto& e : events) {
    if (!first) out.push_back(',');
    first = false;
    out.append(body_of(e));
  }
  out.append("],\"sentAt\":\"");
  base::append_iso8601_ms(out, sent_at);
  out.append("\"}");
  return out;
}
}  // namespace tern
