// The config reader on a parsed TOML document, for callers that build the
// document themselves (the control plane turns its JSON state into one) and
// report errors per key instead of per file line. Needs toml++.
#pragma once

#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "tern/base/status.h"
#include "tern/relay/config.h"

namespace tern::relay {

// The first error of a document, in parts.
struct ConfigError {
  std::string path;     // the key at fault: "sinks[0].batch_linger", "routes[1].sinks[0]"
  std::string message;  // without a location: "must not be empty"
};

struct ConfigReadOptions {
  // Refuse routes naming sources or sinks the document does not define.
  bool check_references = true;
  // Without [[sinks]]: one "file" sink; without [[routes]]: every source to every sink.
  bool fill_defaults = true;
};

// parse_config() on a parsed document (parse_config(text) is read_config of
// its parsed text with the default options). On failure, `error` (when given)
// receives the first error's key path and message.
Result<RelayConfig> read_config(const toml::table& root, std::string_view origin,
                                const ConfigReadOptions& options = {},
                                ConfigError* error = nullptr);

}  // namespace tern::relay
