// TapHub: the live tap behind GET /admin/v1/tap and the console's debugger
// (docs/tap.md says how it stays cheap).
//
// A tap is a reader of the spool, like a sink without a cursor: it sees each
// event as committed (after enrichment, with its source and sequence number),
// never holds back the spool's trimming, and adds nothing to the ingest path.
// Each open tap has its own thread, reader and filter, and a bounded queue of
// Server-Sent Events text for its viewer:
//   - matching events beyond `max_events_per_second` (and outside `sample`)
//     are skipped and counted ("sampled");
//   - when the viewer does not take its queue (slow or stalled) new messages
//     are dropped and counted ("slow_reader"); a reader that falls behind the
//     spool's retained records jumps to the end ("behind");
//   - the counts are told to the viewer in the stream as soon as there is
//     room: `event: dropped` + `data: {"dropped":N,"reason":"slow_reader"}`.
// Rejected events (filter.rejected) are offered by the server layer through
// offer_rejected(), which costs one relaxed atomic load when no tap wants them.
//
// The stream's text (one message per event, each `data:` one JSON line):
//   : tap open after seq 41                      (a comment, first)
//   id: 42
//   data: {"seq":42,"source":"web","type":"track","event":{...}}
//
//   data: {"rejected":true,"source":"web","type":"track","reason":"invalid_event",
//          "message":"...","event":{...} or "the text as received"}
//
//   event: dropped
//   data: {"dropped":17,"reason":"slow_reader"}
//
//   : keep-alive                                 (after 15 s with nothing to say)
//
// Metrics: tern_relay_tap_open (gauge), tern_relay_tap_messages_total,
// tern_relay_tap_dropped_total{reason=...}, tern_relay_tap_refused_total.
//
// Threads: every member is thread-safe. Lifetime: close() (or the destructor)
// ends every tap before the spool they read goes away.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/metrics.h"
#include "tern/relay/spool.h"

namespace tern::relay {

struct TapFilter {
  std::vector<std::string> sources;  // source ids; empty: every source
  std::vector<std::string> types;    // "track", ...; empty: every type
  std::vector<std::string> events;   // event names (a track's "event"); empty: every event
  bool rejected = false;             // also rejected events, with their reason
  double sample = 1.0;               // fraction of matching events shown, (0, 1]
  uint64_t limit = 0;                // the tap ends after this many events (0: never)
};

struct TapOptions {
  int max_taps = 4;                    // taps open at once; more are refused
  std::size_t queue_bytes = 1u << 20;  // per tap: text waiting for its viewer
  int max_events_per_second = 100;     // per tap; the rest are sampled out (<= 0: no cap)
  std::chrono::seconds heartbeat{15};  // a keep-alive comment after this much silence
};

// One open tap's text, pulled by its viewer (the HTTP layer).
class TapStream {
 public:
  using Deliver = std::function<void(std::string text, bool end)>;
  virtual ~TapStream() = default;
  // Calls `deliver` exactly once: with the queued text as soon as there is
  // some (or a keep-alive comment after the heartbeat), or with end = true
  // once the tap ended (its limit reached, cancel(), or the hub closing) and
  // its last text was taken. Inline or later from the tap's thread. One
  // next() at a time.
  virtual void next(Deliver deliver) = 0;
  // The viewer went away: ends the tap and frees its slot. Idempotent.
  virtual void cancel() = 0;
  // The text queued for the viewer now, in bytes: at most
  // TapOptions::queue_bytes (drop notices are written when it is taken).
  virtual std::size_t queued_bytes() const = 0;
};

class TapHub {
 public:
  // `open_reader(after_seq)` makes a spool reader returning records with
  // seq > after_seq; `last_seq()` is the spool's last committed sequence
  // number. Both must stay valid until close().
  TapHub(TapOptions options, Metrics& metrics,
         std::function<std::unique_ptr<SpoolReader>(uint64_t after_seq)> open_reader,
         std::function<uint64_t()> last_seq);
  ~TapHub();  // close()
  TapHub(const TapHub&) = delete;
  TapHub& operator=(const TapHub&) = delete;

  // A new tap starting after the last committed record. Errors:
  // kResourceExhausted when max_taps are open (the message says how many),
  // kInvalidArgument for a bad filter (sample outside (0, 1]),
  // kCancelled after close().
  Result<std::shared_ptr<TapStream>> open(TapFilter filter);

  // An event the server layer refused, offered to the taps that asked for
  // rejected events and match it. `event` is the event's text as received
  // (JSON or not); `message` says what is wrong with it.
  void offer_rejected(std::string_view source, std::string_view type, std::string_view reason,
                      std::string_view message, std::string_view event) {
    if (rejected_taps_.load(std::memory_order_relaxed) == 0) return;
    deliver_rejected(source, type, reason, message, event);
  }

  // Whether a tap wants rejected events now: callers skip the work of
  // describing one (its type, its text) when none does.
  bool wants_rejected() const { return rejected_taps_.load(std::memory_order_relaxed) != 0; }

  int open_taps() const;
  void set_options(TapOptions options);  // applies to taps opened later
  // Ends every tap (their viewers get end = true) and joins their threads.
  // Later open() calls fail with kCancelled. Idempotent.
  void close();

  struct Impl;

 private:
  void deliver_rejected(std::string_view source, std::string_view type, std::string_view reason,
                        std::string_view message, std::string_view event);
  std::atomic<int> rejected_taps_{0};
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay
