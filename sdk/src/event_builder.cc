// The event builder (event_builder.h): the caller-side path from a track() /
// identify() / ... call or a RawMessage to serialised text handed to the
// worker. Runs on the caller's thread and takes no engine lock until
// hand_off().
#include "event_builder.h"

#include "engine.h"
#include "text.h"

namespace tern {

namespace {

// After the plugins: puts the SDK's messageId back unless the event has a
// non-empty string one, and its type back unless the event names one of the
// six Segment types (what the relay accepts).
void restore_sdk_fields(nlohmann::json& event, const std::string& message_id,
                        const std::string& type) {
  auto it = event.find("messageId");
  if (it == event.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    event["messageId"] = message_id;
  }
  static const char* const kTypes[] = {"track", "identify", "page", "screen", "group", "alias"};
  it = event.find("type");
  bool valid_type = false;
  if (it != event.end() && it->is_string()) {
    for (const char* t : kTypes) valid_type = valid_type || it->get_ref<const std::string&>() == t;
  }
  if (!valid_type) event["type"] = type;
}

Refusal invalid(std::string message) {
  return Refusal{DropReason::kInvalid, StatusCode::kInvalidArgument, std::move(message)};
}

}  // namespace

std::string dump_object(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

std::optional<Refusal> check_message(const RawMessage& m) {
  for (std::string_view f :
       {m.event, m.name, m.user_id, m.anonymous_id, m.group_id, m.previous_id}) {
    if (!is_valid_utf8(f)) return invalid("a string field is not valid UTF-8");
  }
  switch (m.type) {
    case MessageType::kTrack:
      if (m.event.empty()) return invalid("track needs an event name");
      break;
    case MessageType::kScreen:
      if (m.name.empty()) return invalid("screen needs a name");
      break;
    case MessageType::kGroup:
      if (m.group_id.empty()) return invalid("group needs a group id");
      break;
    case MessageType::kAlias:
      if (m.user_id.empty()) return invalid("alias needs a new user id");
      break;
    case MessageType::kIdentify:
      if (m.user_id.empty() && m.traits_json.empty())
        return invalid("identify needs a user id or traits");
      break;
    case MessageType::kPage:
      break;
  }
  return std::nullopt;
}

std::optional<Refusal> run_plugins(const std::vector<std::shared_ptr<Plugin>>& plugins,
                                   std::string& text, Logger* logger) {
  if (plugins.empty()) return std::nullopt;
  nlohmann::json dom = parse_json(text);
  // The SDK's own messageId (the idempotency key every retry relies on: the
  // relay would mint a fresh one per attempt) and type (how the relay
  // validates the event). A plugin may change them to other valid values;
  // one that removes them (e.g. tern_plugin_event_replace with an object
  // built from scratch) or makes them invalid gets these back.
  const std::string own_message_id = dom.value("messageId", std::string());
  const std::string own_type = dom.value("type", std::string());
  for (const auto& plugin : plugins) {
    bool keep = false;
    try {
      keep = plugin->process(dom);
    } catch (...) {
      if (logger) logger->log(LogLevel::kWarn, "a plugin threw; the event is dropped");
      keep = false;
    }
    if (!keep)
      return Refusal{DropReason::kPlugin, StatusCode::kPermissionDenied, "dropped by a plugin"};
  }
  if (!dom.is_object()) return invalid("a plugin made the event not an object");
  restore_sdk_fields(dom, own_message_id, own_type);
  try {
    text = dump_object(dom);
  } catch (...) {
    return invalid("a plugin produced invalid UTF-8");
  }
  return std::nullopt;
}

std::string Engine::merged_context(std::string_view override_json,
                                   const nlohmann::json* override_dom) const {
  nlohmann::json base = parse_json(context_text_);
  nlohmann::json parsed;
  if (!override_dom) {
    parsed = parse_json(override_json);
    override_dom = &parsed;
  }
  if (override_dom->is_object()) {
    for (auto it = override_dom->begin(); it != override_dom->end(); ++it)
      base[it.key()] = it.value();
  }
  // Keys the SDK writes itself (submit): a caller's copy would be a duplicate.
  if (config_.track_sessions) {
    base.erase("sessionId");
    base.erase("sessionStart");
  }
  base.erase("sampleRate");
  return dump_object(base);
}

Status Engine::record_dom(MessageType type, std::string_view primary, const nlohmann::json& object,
                          const EventOptions& options) {
  try {
    if (Status g = gate(); !g) return g;
    if (!object.is_null() && !object.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    type == MessageType::kIdentify || type == MessageType::kGroup
                        ? "traits must be a JSON object or null"
                        : "properties must be a JSON object or null");
    }
    if (!options.context.is_null() && !options.context.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    "context must be a JSON object or null");
    }
    if (!options.integrations.is_null() && !options.integrations.is_object()) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    "integrations must be a JSON object or null");
    }
    std::string object_text, integrations_text;
    try {
      if (object.is_object()) object_text = dump_object(object);
      if (options.integrations.is_object()) integrations_text = dump_object(options.integrations);
    } catch (const nlohmann::json::exception&) {
      return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                    "a JSON string is not valid UTF-8");
    }
    RawMessage m;
    m.type = type;
    switch (type) {
      case MessageType::kTrack:
        m.event = primary;
        break;
      case MessageType::kScreen:
      case MessageType::kPage:
        m.name = primary;
        break;
      case MessageType::kIdentify:
      case MessageType::kAlias:
        m.user_id = primary;
        break;
      case MessageType::kGroup:
        m.group_id = primary;
        break;
    }
    if (type == MessageType::kIdentify || type == MessageType::kGroup) {
      m.traits_json = object_text;
    } else {
      m.properties_json = object_text;
    }
    if (type != MessageType::kIdentify && type != MessageType::kAlias) m.user_id = options.user_id;
    m.anonymous_id = options.anonymous_id;
    m.integrations_json = integrations_text;
    m.timestamp = options.timestamp;
    std::string context_text;
    if (options.context.is_object()) {
      try {
        context_text = merged_context({}, &options.context);
      } catch (const nlohmann::json::exception&) {
        return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                      "context is not valid UTF-8");
      }
    }
    return submit(m, context_text, type == MessageType::kIdentify ? &object : nullptr);
  } catch (const std::exception& e) {
    return reject(DropReason::kInvalid, StatusCode::kInternal,
                  std::string("unexpected error: ") + e.what());
  } catch (...) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, "unexpected error");
  }
}

Status Engine::enqueue_raw(const RawMessage& m) {
  try {
    if (Status g = gate(); !g) return g;
    for (std::string_view j :
         {m.properties_json, m.traits_json, m.context_json, m.integrations_json}) {
      if (!j.empty() && !is_json_object_text(j)) {
        return reject(DropReason::kInvalid, StatusCode::kInvalidArgument,
                      "a JSON field is not one valid JSON object (or not valid UTF-8)");
      }
    }
    std::string context_text;
    if (!m.context_json.empty()) context_text = merged_context(m.context_json, nullptr);
    nlohmann::json traits;
    if (m.type == MessageType::kIdentify && !m.traits_json.empty()) {
      traits = parse_json(m.traits_json);
    }
    return submit(m, context_text, m.type == MessageType::kIdentify ? &traits : nullptr);
  } catch (const std::exception& e) {
    return reject(DropReason::kInvalid, StatusCode::kInternal,
                  std::string("unexpected error: ") + e.what());
  } catch (...) {
    return reject(DropReason::kInvalid, StatusCode::kInternal, "unexpected error");
  }
}

Status Engine::submit(const RawMessage& m, const std::string& context_override,
                      const nlohmann::json* identify_traits, Internal* internal) {
  if (auto refusal = check_message(m)) {
    return reject(refusal->reason, refusal->code, std::move(refusal->message));
  }
  auto wall = clock_->wall();
  const int64_t now_ms = to_unix_ms(wall);
  auto id = identity();
  // Identity changes take effect once the event is accepted by validation
  // (also when the kill switch keeps it from being recorded).
  auto update_identity = [&] {
    if (m.type != MessageType::kIdentify && m.type != MessageType::kAlias) return;
    auto next = std::make_shared<Identity>(*id);
    if (!m.user_id.empty()) next->user_id = std::string(m.user_id);
    if (identify_traits && identify_traits->is_object()) {
      for (auto it = identify_traits->begin(); it != identify_traits->end(); ++it)
        next->traits[it.key()] = it.value();
    }
    set_identity(std::move(next));
  };
  // Settings' kill switch: not captured, counted; kOk (the app did nothing wrong).
  if (settings_.kill_switch_active(now_ms)) {
    kill_switch_refused_.fetch_add(1, std::memory_order_relaxed);
    update_identity();
    if (internal) hand_off_kv(std::move(internal->kv));
    return Status::ok();
  }

  const bool exempt = internal || m.type == MessageType::kIdentify || m.type == MessageType::kAlias;
  const bool background = app_state_.load(std::memory_order_relaxed) == kAppBackground;
  SessionStamp session = sessions_.on_event(now_ms, config_.track_sessions, !background,
                                            internal && internal->refresh_in_background,
                                            settings_.session_timeout_ms(), id->anonymous_id);
  if (!session.keep && !exempt) {
    sampled_out_.fetch_add(1, std::memory_order_relaxed);
    if (session.start) sessions_.start_refused(session.id);
    return Status::ok();
  }

  EventParts p;
  p.type = m.type;
  p.event = m.event;
  p.name = m.name;
  p.group_id = m.group_id;
  p.properties_json = m.properties_json;
  p.traits_json = m.traits_json;
  p.integrations_json = m.integrations_json;
  p.context_json = context_override.empty() ? std::string_view(context_text_)
                                            : std::string_view(context_override);
  p.anonymous_id = m.anonymous_id.empty() ? std::string_view(id->anonymous_id) : m.anonymous_id;
  std::string previous;
  if (m.type == MessageType::kIdentify) {
    p.user_id = m.user_id.empty() ? std::string_view(id->user_id) : m.user_id;
  } else if (m.type == MessageType::kAlias) {
    p.user_id = m.user_id;
    previous = !m.previous_id.empty() ? std::string(m.previous_id)
               : !id->user_id.empty() ? id->user_id
                                      : id->anonymous_id;
    p.previous_id = previous;
  } else {
    p.user_id = m.user_id.empty() ? std::string_view(id->user_id) : m.user_id;
  }
  p.now_ms = now_ms;
  p.timestamp = m.timestamp ? *m.timestamp : wall;

  // "Session Ended" / "Session Started" (Config::session_events) go before
  // the session's first event; then Session Started is that first event.
  std::vector<std::string> before;
  if (session.start && config_.session_events) {
    auto session_event = [&](const char* name, const SessionStamp& stamp,
                             const std::string& props) -> std::optional<Refusal> {
      EventParts e;
      e.type = MessageType::kTrack;
      e.event = name;
      e.properties_json = props;
      e.context_json = context_text_;
      e.anonymous_id = id->anonymous_id;
      e.user_id = id->user_id;
      e.now_ms = now_ms;
      e.timestamp = wall;
      char extra[kSessionContextMax];
      e.context_extra = std::string_view(extra, write_session_context(extra, stamp, false));
      std::string text;
      write_event(text, e);
      if (auto refusal = run_plugins(config_.plugins, text, logger_.get())) return refusal;
      before.push_back(std::move(text));
      return std::nullopt;
    };
    if (session.ended_id != 0) {
      SessionStamp ended = session;
      ended.id = session.ended_id;
      ended.start = false;
      (void)session_event("Session Ended", ended,
                          "{\"sessionId\":" + std::to_string(session.ended_id) + "}");
    }
    (void)session_event("Session Started", session, "{}");
    session.start = false;
  }

  char extra[kSessionContextMax];
  p.context_extra = std::string_view(extra, write_session_context(extra, session, exempt));

  std::string text;
  text.reserve(160 + p.context_json.size() + p.context_extra.size() + p.properties_json.size() +
               p.traits_json.size() + p.integrations_json.size() + p.event.size() + p.name.size() +
               p.user_id.size());
  write_event(text, p);

  auto refuse = [&](DropReason reason, StatusCode code, std::string message) {
    if (session.start || !before.empty()) sessions_.start_refused(session.id);
    if (internal) hand_off_kv(std::move(internal->kv));
    return reject(reason, code, std::move(message));
  };
  if (auto refusal = run_plugins(config_.plugins, text, logger_.get())) {
    return refuse(refusal->reason, refusal->code, std::move(refusal->message));
  }
  if (text.size() > config_.max_event_bytes) {
    return refuse(DropReason::kTooLarge, StatusCode::kOutOfRange,
                  "event is " + std::to_string(text.size()) + " bytes, above max_event_bytes " +
                      std::to_string(config_.max_event_bytes));
  }

  update_identity();
  HandOff extra_out;
  if (!before.empty()) extra_out.before = &before;
  if (session.seq > 0) extra_out.session = &session;
  if (internal && !internal->kv.empty()) extra_out.kv = &internal->kv;
  const bool had_start = session.start || !before.empty();
  Status s = hand_off(std::move(text), extra_out);
  if (!s) {
    if (had_start) sessions_.start_refused(session.id);
    if (internal) hand_off_kv(std::move(internal->kv));  // what hand_off did not take
    return s;
  }
  if (internal && internal->lifecycle) lifecycle_events_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

}  // namespace tern
