#include "event_writer.h"

#include "tern/base/json_text.h"
#include "tern/base/uuid.h"
#include "text.h"

namespace tern {

const char* message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::kTrack:
      return "track";
    case MessageType::kIdentify:
      return "identify";
    case MessageType::kScreen:
      return "screen";
    case MessageType::kPage:
      return "page";
    case MessageType::kGroup:
      return "group";
    case MessageType::kAlias:
      return "alias";
  }
  return "track";
}

namespace {
inline void str_field(std::string& out, const char* key_with_quotes_colon, std::string_view v) {
  if (v.empty()) return;
  out.append(key_with_quotes_colon);
  base::append_json_string(out, v);
}
inline void raw_field(std::string& out, const char* key_with_quotes_colon, std::string_view v) {
  if (v.empty()) return;
  out.append(key_with_quotes_colon);
  out.append(v);
}
}  // namespace

void write_event(std::string& out, const EventParts& p) {
  out.append("{\"type\":\"");
  out.append(message_type_name(p.type));
  out.append("\",\"messageId\":\"");
  base::append_uuid_v7(out, p.now_ms);
  out.append("\",\"timestamp\":\"");
  base::append_iso8601_ms(out, p.timestamp);
  out.push_back('"');
  str_field(out, ",\"anonymousId\":", p.anonymous_id);
  str_field(out, ",\"userId\":", p.user_id);
  str_field(out, ",\"event\":", p.event);
  str_field(out, ",\"name\":", p.name);
  str_field(out, ",\"groupId\":", p.group_id);
  str_field(out, ",\"previousId\":", p.previous_id);
  raw_field(out, ",\"properties\":", p.properties_json);
  raw_field(out, ",\"traits\":", p.traits_json);
  raw_field(out, ",\"context\":", p.context_json);
  raw_field(out, ",\"integrations\":", p.integrations_json);
  out.push_back('}');
}

}  // namespace tern
