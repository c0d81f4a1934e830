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
  if (p.context_extra.empty()) {
    raw_field(out, ",\"context\":", p.context_json);
  } else {
    // context_json is one JSON object: its closing brace is its last
    // non-space byte; the extra keys go in before it.
    std::string_view ctx = p.context_json;
    while (!ctx.empty() && ctx.back() != '}') ctx.remove_suffix(1);
    out.append(",\"context\":");
    if (ctx.empty()) {
      out.push_back('{');
    } else {
      ctx.remove_suffix(1);
      out.append(ctx);
      std::size_t i = ctx.size();
      while (i > 0 &&
             (ctx[i - 1] == ' ' || ctx[i - 1] == '\n' || ctx[i - 1] == '\t' || ctx[i - 1] == '\r'))
        --i;
      if (i > 0 && ctx[i - 1] != '{') out.push_back(',');
    }
    out.append(p.context_extra);
    out.push_back('}');
  }
  raw_field(out, ",\"integrations\":", p.integrations_json);
  out.push_back('}');
}

}  // namespace tern
