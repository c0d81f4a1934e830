// The "stdout" sink: one event per line (NDJSON) on standard output, for
// development and for piping into another program. No settings.
// Delivery is acknowledged once the lines are written to fd 1 (no fsync:
// stdout is usually a pipe or a terminal).
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_stdout_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
