// ContextProvider: the facts about the device, app and OS that the platform
// knows and the SDK does not (context.app, context.device, context.os,
// context.locale, context.timezone, context.network, context.screen).
//
// Contract: context_json() is called once when the client starts and again
// after refresh() is requested; the SDK caches the text and splices it into
// every event, so the call is never on the hot path. It returns a JSON object
// as text (keys as in the Segment spec, e.g. {"app":{"name":"x"},"os":{...}});
// anything that is not a JSON object is ignored and logged. It may be called
// from any thread and must not throw.
#pragma once

#include <memory>
#include <string>

namespace tern {

class ContextProvider {
 public:
  virtual ~ContextProvider() = default;
  virtual std::string context_json() = 0;
};

// The built-in provider for desktop/IoT Linux and macOS: os.name and
// os.version from uname(), locale from LANG, timezone from TZ or /etc/localtime.
std::shared_ptr<ContextProvider> make_system_context_provider();

}  // namespace tern
