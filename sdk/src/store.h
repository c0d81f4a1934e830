// Store: the durable queue of serialised events plus a small key/value table
// (identity, consent, opt-out). The default is SqliteStore; tests use the
// in-memory fake in tests/support.
//
// Contract:
// - Every method is thread-safe (the worker calls most of them; Client's
//   consent/reset calls come from host threads) and never throws.
// - Events are kept oldest first by a monotonically increasing id.
// - append() is all-or-nothing: one transaction per call (group commit).
// - A batch is claimed with mark_attempt() and acked with remove(), each one
//   transaction, so a crash between them only means the batch is sent again
//   (the server deduplicates by messageId).
// - Failures come back as Status (kIOError, kFailedPrecondition, ...), never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tern/status.h"

namespace tern {

struct StoredEvent {
  int64_t id = 0;
  std::string body;              // the event's JSON text, exactly as appended
  int64_t created_ms = 0;        // wall time it was stored, Unix ms
  int attempts = 0;              // upload attempts that included it
  int64_t first_attempt_ms = 0;  // wall time of its first attempt, 0 if none
};

struct CapDrops {
  uint64_t by_age = 0;
  uint64_t by_events = 0;
  uint64_t by_bytes = 0;
  uint64_t total() const { return by_age + by_events + by_bytes; }
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status append(const std::vector<std::string>& bodies, int64_t created_ms) = 0;

  // append() and put() in ONE transaction: the bodies (may be empty) and the
  // key/value pairs are stored together or not at all (lifecycle events with
  // the app's version/build, events with the session state they changed).
  virtual Status append_and_put(const std::vector<std::string>& bodies, int64_t created_ms,
                                const std::vector<std::pair<std::string, std::string>>& pairs) = 0;

  // The id of the newest event ever appended (0 when none): ids only grow,
  // so "everything up to this id" names what is queued now. Must not wait
  // behind another call's disk I/O.
  virtual int64_t last_id() const = 0;

  // The oldest events, up to `max_events` and `max_bytes` (sum of body sizes);
  // at least one when the store is not empty.
  virtual Result<std::vector<StoredEvent>> read_oldest(std::size_t max_events,
                                                       std::size_t max_bytes) = 0;

  // Claims a batch: counts one attempt for each id and stamps the first attempt time.
  virtual Status mark_attempt(const std::vector<int64_t>& ids, int64_t now_ms) = 0;

  // Acks: deletes the ids (unknown ids are ignored).
  virtual Status remove(const std::vector<int64_t>& ids) = 0;

  // Deletes every event; returns how many there were.
  virtual Result<uint64_t> remove_all() = 0;

  // Drops events created before `min_created_ms`, then the oldest until at
  // most `max_events` and `max_bytes` remain.
  virtual Result<CapDrops> enforce_caps(std::size_t max_events, std::size_t max_bytes,
                                        int64_t min_created_ms) = 0;

  // Events and body bytes stored. Must not wait behind another call's disk
  // I/O: the worker reads them while holding its hand-off lock.
  virtual uint64_t count() const = 0;
  virtual uint64_t bytes() const = 0;

  virtual Result<std::optional<std::string>> get(const std::string& key) = 0;
  // Writes all pairs in one transaction.
  virtual Status put(const std::vector<std::pair<std::string, std::string>>& pairs) = 0;

  // Recovery done at open: how many times a corrupt file was moved aside,
  // and how many queued events it held (when they could be counted).
  virtual uint64_t corrupt_recoveries() const { return 0; }
  virtual uint64_t corrupt_events_lost() const { return 0; }
};

}  // namespace tern
