// Applier: what the admin API and the fleet follower change — the running
// relay (its pipeline and its ingest handler). Implemented by the relay
// program (relay/control/src/relay_applier.cc); tests may pass their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control_state.h"
#include "tern/base/status.h"
#include "tern/relay/config.h"

namespace tern::relay::control {

class Applier {
 public:
  virtual ~Applier() = default;

  // Validates `state` as a whole (to_relay_config with this relay's process
  // settings, and each sink's settings through the sink registry), appending
  // every error found. True when valid.
  virtual bool validate(const State& state, std::vector<FieldError>* errors) = 0;

  // Swaps `state` in while the relay serves: only changed sinks are rebuilt,
  // new and changed sinks are built first and on any error nothing changes
  // (the error says which resource failed). Thread-safe; serialised inside.
  virtual Status apply(const State& state) = 0;

  // The revision running now (0: none applied yet).
  virtual int64_t applied_revision() const = 0;

  // Events in the spool that `sink` has not delivered yet (0 for an unknown sink).
  virtual uint64_t undelivered(std::string_view sink) const = 0;
  // Counts `n` events discarded with a sink deleted by ?discard=true.
  virtual void count_discarded(std::string_view sink, uint64_t n) = 0;

  // Builds the sink `sink` (API JSON, secrets in clear) and opens it: a live
  // connection, then closes it. OK or what failed.
  virtual Status test_sink(const Json& sink) = 0;
};

}  // namespace tern::relay::control
