// Sink: a destination the relay fans events out to (file, stdout, kafka, http,
// postgres). Sinks register by name in a SinkRegistry (sink_registry.h).
//
// Contract:
// - Each sink instance is driven by one SinkRunner thread of its own: open(),
//   deliver(), health() and close() are never called concurrently for one
//   instance, so a sink needs no locking of its own state. A slow or dead sink
//   only stalls its own runner.
// - deliver() receives records in spool order and must keep that order.
//   It returns when the batch is durable in the destination (file written,
//   Kafka delivery reports received, COPY committed), or failed.
// - A retryable failure (destination down, timeout) is a non-ok `status`:
//   the runner retries the whole batch with backoff; nothing is lost.
// - A record the destination permanently refuses is listed in `rejected`
//   with the reason; the runner writes it to the sink's dead-letter file and
//   moves on. The other records of the batch count as delivered.
// - Two-phase delivery (optional): a sink whose durable step is costly
//   (fdatasync, waiting for Kafka's delivery reports) returns true from
//   defers_durability(). Its deliver() then only hands the batch over, and
//   flush() makes every batch delivered since the last flush() durable. The
//   runner delivers the batches the spool already holds one after another,
//   up to a bound, calls flush() when it runs out of them or reaches the
//   bound, and moves the cursor only after flush() succeeds. Rejections from
//   flush() index into those batches taken together, in delivery order.
//   After a failed deliver() or flush() the sink may have lost anything not
//   flushed: the runner delivers all of it again (refusals reported again
//   are written to the dead-letter file again: at least once, like events).
// - Self-acknowledging delivery (optional): a sink that gathers events into
//   large objects over minutes (s3) returns true from acknowledges_itself().
//   Its deliver() takes the batch over: ok means taken (the sink now holds
//   the records; they need not be durable yet), and the runner does not
//   keep them. pending() returns the smallest sequence number the sink has
//   taken and not yet made durable (nullopt: nothing held). The runner moves
//   the cursor to just before it (or, with nothing held, past every record
//   it has read), asking after every deliver() and at least every 250 ms
//   while idle. A failed deliver() is retried with the same records: the
//   sink takes a record it already took at most once (by seq). After a
//   restart the runner delivers again from the cursor; records the sink made
//   durable past the cursor are the sink's to recognise and skip (it keeps
//   its own durable state). On stop the runner stops once it has delivered
//   what the spool held and calls close(), after which pending() is asked
//   once more: what is still held stays in the spool for the next start.
// - No method throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"

namespace tern::relay {

struct SinkRecord {
  uint64_t seq = 0;            // the spool's sequence number (monotonic)
  std::string_view source_id;  // the source (write key's owner) it came from
  std::string_view event;      // the enriched event, one JSON object as text
};

struct SinkRejection {
  std::size_t index = 0;  // into the batch passed to deliver()
  std::string reason;
};

struct DeliveryResult {
  Status status;                        // non-ok: retry the whole batch later
  std::vector<SinkRejection> rejected;  // permanent refusals (only with an ok status)
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Connects / opens files. A non-ok status is retried with backoff.
  virtual Status open() = 0;
  virtual DeliveryResult deliver(const std::vector<SinkRecord>& batch) = 0;
  // Two-phase delivery (see above); by default deliver() is durable on return.
  virtual bool defers_durability() const { return false; }
  virtual DeliveryResult flush() { return {}; }
  // Self-acknowledging delivery (see above).
  virtual bool acknowledges_itself() const { return false; }
  virtual std::optional<uint64_t> pending() { return std::nullopt; }
  // Is the destination reachable right now (for /ready)? Cheap; no I/O that blocks long.
  virtual Status health() = 0;
  // Flushes and releases resources; bounded by the deadline.
  virtual Status close(std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace tern::relay
