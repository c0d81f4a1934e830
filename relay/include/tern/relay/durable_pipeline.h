// The relay's Pipeline implementation: spool → router → one runner per sink.
//
//   tern::relay::Metrics metrics;
//   tern::relay::SinkRegistry registry;
//   (void)tern::relay::register_builtin_sinks(registry);
//   auto p = tern::relay::make_pipeline(config, metrics, registry);
//   if (!p) { log the error; exit }
//   ... hand (*p).get() to the server as a Pipeline& ...
//   (*p)->reload(new_config);                      // on SIGHUP
//   (*p)->stop(std::chrono::steady_clock::now() + 10s);  // on SIGTERM, after the server stopped
//
// Durability: every event accepted with ack mode local or sink is fsync'ed in
// the spool before `done` fires. Delivery is at-least-once: after a crash a
// sink may see again the events delivered since its cursor was last persisted
// (at most ~100 ms worth); events carry messageId for downstream dedup.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/clock.h"
#include "tern/relay/config.h"
#include "tern/relay/metrics.h"
#include "tern/relay/pipeline.h"
#include "tern/relay/sink_registry.h"
#include "tern/relay/spool.h"

namespace tern::relay {

class DurablePipeline : public Pipeline {
 public:
  // Refuses new submissions with kCancelled, commits what was accepted, lets
  // the sinks drain until `deadline`, closes them and persists every cursor.
  // What was not delivered stays in the spool for the next start.
  // kTimeout if some sink had not caught up by the deadline (nothing is lost).
  // Idempotent; the destructor calls it with a short deadline if needed.
  virtual Status stop(std::chrono::steady_clock::time_point deadline) = 0;

  // Applies a new configuration's sinks, routes, sources' ack modes and spool
  // cap without losing data. A sink whose name is new starts at the current
  // end of the spool; a removed sink's cursor is dropped; a sink whose
  // settings changed is closed and rebuilt at its cursor. data_dir and
  // spool.dir cannot change (kInvalidArgument). On any error nothing changes.
  // Routes change at one exact point of the spool: events committed before
  // it go where the old routes sent them, later ones where the new routes do.
  virtual Status reload(const RelayConfig& config) = 0;

  // Events committed to the spool that `sink` has not processed yet (0 for
  // an unknown sink): what deleting it now would discard.
  virtual uint64_t undelivered(std::string_view sink) const = 0;

  // What the console's overview shows of the pipeline right now.
  struct SinkState {
    std::string name;
    std::string type;
    bool up = false;
    std::string last_error;  // why it is not up (empty when up)
    uint64_t cursor = 0;     // the last sequence number it acknowledged
    uint64_t lag_events = 0;
    std::string dead_letter_path;
  };
  struct State {
    uint64_t last_seq = 0;  // the spool's last committed sequence number
    uint64_t spool_bytes = 0;
    uint64_t spool_max_bytes = 0;
    std::vector<SinkState> sinks;      // by name
    std::vector<std::string> sources;  // the configured sources' ids
  };
  virtual State state() const = 0;

  // A reader of the spool returning records with seq > after_seq, for the
  // tap (tap.h). Must not outlive the pipeline; stop() ends its reads.
  virtual std::unique_ptr<SpoolReader> reader(uint64_t after_seq) = 0;
};

// Opens (or creates) the spool under config.spool.dir (default
// <data_dir>/spool), recovers it after a crash, builds every sink through
// `registry` and starts their runners. `metrics` and `registry` must outlive
// the pipeline. Errors: kInvalidArgument (unknown sink type, bad sink
// settings, naming the sink), kIOError (spool cannot be opened),
// kFailedPrecondition (another relay owns the spool directory). `clock` is
// where the sinks and their runners read time (batch linger, retry backoff,
// file rotation age); it must outlive the pipeline. Deadlines passed to
// stop() are real std::chrono::steady_clock time whatever the clock.
Result<std::unique_ptr<DurablePipeline>> make_pipeline(const RelayConfig& config, Metrics& metrics,
                                                       SinkRegistry& registry,
                                                       const Clock& clock = real_clock());

}  // namespace tern::relay
