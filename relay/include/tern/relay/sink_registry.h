// SinkRegistry: sink types by name ("file", "kafka", ...), each with a factory
// that builds an instance from its SinkConfig. A plain object, filled
// explicitly by register_builtin_sinks() (builtin_sinks.h) and by tests with
// their own sinks; no static registration.
//
// Threads: add() during setup only; create() and contains() are const and
// safe to call concurrently once setup is done.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/clock.h"
#include "tern/relay/config.h"
#include "tern/relay/metrics.h"
#include "tern/relay/sink.h"

namespace tern::relay {

// What a factory gets besides its SinkConfig. Logging goes through the
// process-wide structured logger (tern/relay/log.h).
struct SinkContext {
  std::string data_dir;        // RelayConfig::data_dir; default outputs live below it
  Metrics* metrics = nullptr;  // never null; outlives the sink
  // Where the sink reads time (e.g. the file sink's rotation age); never null,
  // outlives the sink. Tests pass a ManualClock.
  const Clock* clock = &real_clock();
  // This relay's id (--relay-id; by default "<hostname>-<ingest port>"), for
  // names that must differ between relays writing to one place (s3 keys).
  std::string relay_id{};
  // A connection test (the admin API's POST /sinks/{name}:test): open() and
  // health() check the destination; a sink with durable state of its own
  // (s3) must leave that state alone, a live instance of the same sink may
  // be using it.
  bool probe = false;
};

// Validates config.settings (unknown or bad settings are kInvalidArgument
// naming the key) and builds an unopened sink. No I/O beyond what validation
// needs: the runner calls open() with retry.
using SinkFactory =
    std::function<Result<std::unique_ptr<Sink>>(const SinkConfig& config, const SinkContext& ctx)>;

class SinkRegistry {
 public:
  // kInvalidArgument for an empty name, a null factory or a name already added.
  Status add(std::string type, SinkFactory factory);
  // kNotFound for an unknown type, worded as the config file's errors:
  // `FILE:LINE:COL: sinks[N].type: unknown sink type "x" (known: file, stdout)`
  // (`sink "name": ...` for a sink not read from a file). Otherwise whatever
  // the factory returns.
  Result<std::unique_ptr<Sink>> create(const SinkConfig& config, const SinkContext& ctx) const;
  bool contains(std::string_view type) const;
  std::vector<std::string> types() const;  // sorted

 private:
  std::map<std::string, SinkFactory, std::less<>> factories_;
};

}  // namespace tern::relay
