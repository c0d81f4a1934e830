// Pipeline: the seam between the HTTP server layer and the durable core
// (spool, router, sink runners).
//
// The server layer authenticates, limits, validates, enriches and dedups a
// request's events, then submits the accepted ones here. The pipeline appends
// them to the spool and calls back when they are as durable as the source's
// ack mode asks.
//
// Threads: submit(), ready() and metrics are thread-safe. `done` is called
// exactly once, from a pipeline thread (never inside submit()), and must not
// block.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/spool.h"

namespace tern::relay {

enum class AckMode : int {
  kLocal = 0,   // after the spool's group-committed fsync (default)
  kSink = 1,    // after every routed sink acknowledged delivery
  kMemory = 2,  // immediately after the append is queued (lossy on crash)
};

const char* ack_mode_name(AckMode mode) noexcept;  // "local", "sink", "memory"

struct Submission {
  AckMode ack_mode = AckMode::kLocal;
  // The accepted events, enriched, in request order, each with its type
  // ("track", ...); the batch's source id is the source they came from.
  SpoolBatch events;
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;

  // `done` receives: kOk; kUnavailable when the spool is at its cap (answer
  // 503 with Retry-After; nothing was written); kCancelled when draining;
  // kIOError when the spool cannot write; kTimeout (sink ack mode only) when
  // the sinks did not acknowledge within the configured deadline — the
  // events are still durable in the spool.
  virtual void submit(Submission submission, std::function<void(Status)> done) = 0;

  // For /ready: spool writable and below its cap, and every sink healthy.
  // On false, `why` says what is wrong.
  virtual bool ready(std::string* why) const = 0;

  // Seconds a client should wait before retrying after kUnavailable.
  virtual int retry_after_seconds() const = 0;
};

}  // namespace tern::relay
