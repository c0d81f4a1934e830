// The event builder: what turns a caller's message into the one line of JSON
// the worker stores. Engine::record_dom / enqueue_raw / submit (event_builder.cc)
// check the message, fill in identity, context and timestamps, serialise it
// (event_writer.h), run the plugins and put back what the SDK owns.
//
// These helpers are pure: no locks, no store, no counters. A refusal says
// which drop counter the caller charges and what the caller of track() sees.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/client.h"
#include "tern/logger.h"
#include "tern/plugin.h"
#include "tern/stats.h"
#include "tern/status.h"

namespace tern {

struct Refusal {
  DropReason reason;
  StatusCode code;
  std::string message;
};

// Serialises a JSON value; throws nlohmann::json::exception on invalid UTF-8.
std::string dump_object(const nlohmann::json& j);

// The fields a message type cannot do without (track: an event name; screen:
// a name; group: a group id; alias: a new user id; identify: a user id or
// traits), and valid UTF-8 in every string field.
std::optional<Refusal> check_message(const RawMessage& m);

// Runs `plugins` in order over the serialised event `text`, which is replaced
// by what they leave. A plugin that returns false or throws drops the event
// (a throw is logged as a warning to `logger`, which may be null). Afterwards
// the SDK's messageId and type are put back unless the event still has a
// non-empty string messageId and one of the six Segment types.
std::optional<Refusal> run_plugins(const std::vector<std::shared_ptr<Plugin>>& plugins,
                                   std::string& text, Logger* logger);

}  // namespace tern
