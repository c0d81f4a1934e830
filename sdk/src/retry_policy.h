// The SDK's one retry policy, as a pure unit (no I/O, no threads, time is a
// parameter) so that it is tested with a manual clock in no wall time.
//
//  - 2xx: success (a 200 body may still list rejected events).
//  - 400 and 413: the batch holds a poison event: bisect it; a single
//    rejected event is dropped (DropReason::kServerRejected).
//  - network errors (status 0), 408, 429, 5xx and every other status: retry
//    with exponential backoff and full jitter: the n-th consecutive failure
//    waits uniform[0, min(max, base * 2^(n-1))]. A Retry-After from the
//    server replaces the drawn delay. The wait applies to the whole
//    pipeline (one upload in flight per store), and new events never cut it
//    short.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace tern {

enum class UploadVerdict { kSuccess, kBisect, kRetry };

UploadVerdict classify_http_status(int status_code) noexcept;

class RetryPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  RetryPolicy(std::chrono::milliseconds base, std::chrono::milliseconds max) noexcept
      : base_(base), max_(max) {}

  // The ceiling of the delay after `failures` consecutive failures (>= 1).
  std::chrono::milliseconds ceiling(int failures) const noexcept;
  // Full jitter: `random` mapped uniformly onto [0, ceiling(failures)].
  std::chrono::milliseconds jittered(int failures, uint64_t random) const noexcept;

  // Records a failed attempt at `now`. `retry_after` (from the server) wins
  // over the drawn delay; it is capped at kMaxRetryAfter as a sanity bound.
  // Returns the chosen delay.
  std::chrono::milliseconds on_failure(Clock::time_point now,
                                       std::optional<std::chrono::milliseconds> retry_after,
                                       uint64_t random) noexcept;
  void on_success() noexcept;

  // Whether an attempt may start at `now`, and when the next one may.
  bool may_attempt(Clock::time_point now) const noexcept { return now >= next_attempt_; }
  Clock::time_point next_attempt() const noexcept { return next_attempt_; }
  int consecutive_failures() const noexcept { return failures_; }

  static constexpr std::chrono::milliseconds kMaxRetryAfter{24 * 3600 * 1000};

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  int failures_ = 0;
  Clock::time_point next_attempt_{};
};

}  // namespace tern
