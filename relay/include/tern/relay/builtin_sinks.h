// The sinks compiled into this build (file and stdout always; kafka, http and
// postgres when their CMake options are on). Link tern::relay_sinks.
#pragma once

#include "tern/base/status.h"
#include "tern/relay/sink_registry.h"

namespace tern::relay {

// Adds every built-in sink type to `registry`. Fails (naming it) if a type is
// already present.
Status register_builtin_sinks(SinkRegistry& registry);

}  // namespace tern::relay
