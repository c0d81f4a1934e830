// Stats: what the SDK did, readable at any time from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tern {

// Why an event was dropped. Values are stable (the C API exposes them by
// index): add new reasons before kCount, never renumber.
enum class DropReason : int {
  kInvalid = 0,    // rejected by track(): bad name, bad JSON, bad UTF-8
  kTooLarge = 1,   // above max_event_bytes
  kQueueFull = 2,  // the in-memory hand-off queue was full
  kCapEvents = 3,  // oldest dropped: the store held max_queue_events
  kCapBytes = 4,   // oldest dropped: the store held max_queue_bytes
  kCapAge = 5,     // older than max_event_age while still queued
  kServerRejected =
      6,  // the server rejected it (400/413 isolated by bisection, or listed as rejected)
  kRetryBudget = 7,     // its batch exceeded max_batch_age or max_attempts
  kStorageError = 8,    // SQLite could not store it (disk full, read-only, I/O)
  kCorruptDb = 9,       // lost with a corrupt database file that was moved aside
  kConsentDenied = 10,  // purged or refused because consent was denied
  kOptOut = 11,         // refused because the user opted out
  kPlugin = 12,         // a plugin dropped it
  kShutdown = 13,       // tracked after shutdown()
  kCount
};

const char* drop_reason_name(DropReason reason) noexcept;

struct Stats {
  uint64_t enqueued = 0;      // accepted by track() and friends
  uint64_t stored = 0;        // committed to the store
  uint64_t sent = 0;          // acknowledged by the server (2xx)
  uint64_t retried = 0;       // upload attempts that failed and will be retried
  uint64_t attempts = 0;      // upload attempts (requests) made
  uint64_t batches_sent = 0;  // successful requests
  uint64_t dropped = 0;       // sum of dropped_by_reason
  std::array<uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped_by_reason{};
  uint64_t queue_depth = 0;            // events in the store, not yet sent
  uint64_t queue_bytes = 0;            // their size in bytes
  uint64_t pending = 0;                // events handed to the worker, not yet stored
  uint64_t bytes_sent = 0;             // request bodies on the wire (after gzip), all attempts
  uint64_t corrupt_db_recoveries = 0;  // times a corrupt database was moved aside
  uint64_t lifecycle_events = 0;       // Application Installed/Updated/Opened/Backgrounded recorded
  uint64_t sessions_started = 0;
  uint64_t settings_fetched = 0;         // 200 answers applied
  uint64_t settings_not_modified = 0;    // 304 answers
  uint64_t settings_failed = 0;          // failed or malformed fetches (the last good copy stays)
  uint64_t sampled_out = 0;              // events not recorded because their session is sampled out
  uint64_t kill_switch_refused = 0;      // events not captured while settings said enabled: false
  uint64_t background_flushes_sent = 0;  // flush_async() outcomes
  uint64_t background_flushes_timed_out = 0;
  uint64_t background_flushes_cancelled = 0;

  uint64_t dropped_for(DropReason r) const {
    return dropped_by_reason[static_cast<std::size_t>(r)];
  }
  // One JSON object, e.g. for logs or the example CLI.
  std::string to_json() const;
};

}  // namespace tern
