// StatsHistory: the short history behind the console's overview, kept by
// the relay itself so the page needs no Prometheus. Once a second a thread
// reads the counters the relay keeps anyway (events accepted and rejected by
// source and reason, events delivered and dead-lettered by sink) and the
// pipeline's state, and stores the differences in a ring of per-second
// slots (`window` of them, 15 minutes by default). Ingest pays nothing for it.
//
// Sink lag in seconds comes from the same ring: the time since the spool
// first held an event the sink has not acknowledged (the second at which the
// spool's last sequence number passed the sink's cursor), 0 when caught up.
//
// overview_json(), the body of GET /admin/v1/overview:
// {
//   "now": "2026-12-06T15:04:05Z", "interval_seconds": 1, "window_seconds": 900,
//   "sources": [{"id": "web",
//                "accepted_per_second": [0, 3, ...],   // oldest first, newest last
//                "rejected_per_second": [0, 0, ...],
//                "accepted_total": 1234,               // since the relay started
//                "rejected_total": 5,
//                "rejected_by_reason": {"invalid_event": 5}}],   // since start
//   "sinks": [{"name": "archive", "type": "file", "up": true, "last_error": "",
//              "delivered_per_second": [...], "delivered_total": 1200,
//              "dead_lettered_total": 0, "lag_events": 34, "lag_seconds": 2}],
//   "spool": {"bytes": 1048576, "max_bytes": 1073741824, "last_seq": 1234,
//             "bytes_per_second": [...]}                 // its depth, sampled
// }
// Every array has the same length: the seconds recorded so far, at most
// window_seconds. Sources are those configured or seen in the counters
// (rejections before a source is known count under "").
//
// Added to that shape: each source's "configured" (false for one only seen
// in the counters), each sink's "dead_lettered_per_second" and "removed"
// (true while a sink no longer configured still has non-zero seconds).
// A sink's lag_seconds only looks back over the window: a sink behind for
// longer shows the window's age.
//
// Memory: window slots of a few counters per source and per sink (8 bytes
// each), fixed when the series first appears; a source or sink no longer
// configured drops out once its seconds are all zero.
//
// Threads: thread-safe. start() once; stop() (or the destructor) joins.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "tern/relay/clock.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/metrics.h"

namespace tern::relay {

class StatsHistory {
 public:
  // `metrics` and `pipeline` must outlive the history (or its stop() and
  // the last overview_json(), which reads the pipeline's state as it is).
  StatsHistory(Metrics& metrics, const DurablePipeline& pipeline,
               std::chrono::seconds window = std::chrono::seconds(900));
  // As above, reading the time of each sample, of lag and of "now" from
  // `clock` (tests pass a ManualClock); it must outlive the history. The
  // sampling thread still ticks in real time.
  StatsHistory(Metrics& metrics, const DurablePipeline& pipeline, std::chrono::seconds window,
               const Clock& clock);
  ~StatsHistory();
  StatsHistory(const StatsHistory&) = delete;
  StatsHistory& operator=(const StatsHistory&) = delete;

  void start();  // the sampling thread, once a second
  void stop();   // idempotent

  // Takes one sample now, as the thread does each second (for tests, which
  // do not start the thread).
  void sample_now();

  std::string overview_json() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay
