// Plugin: enriches, filters or drops an event before it is stored.
//
// Contract: process() runs on the caller's thread, inside track()/identify()/...,
// so it must be fast and thread-safe. It receives the event as a JSON object
// and may modify it (messageId and type may change to other valid values; if
// a plugin removes them or makes them invalid, the SDK puts its own back, so
// a retry keeps its idempotency key). Returning false drops the event (counted as
// DropReason::kPlugin). It must not throw; an exception is caught, logged and
// the event is dropped. Plugins run in the order they were added, and only
// when at least one is configured (the fast path without plugins builds the
// event text directly, without a JSON DOM).
#pragma once

#include <nlohmann/json.hpp>

namespace tern {

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual bool process(nlohmann::json& event) = 0;
};

}  // namespace tern
