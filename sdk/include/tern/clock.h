// Clock: the SDK's source of time, injectable so that retry and backoff tests
// take no wall time.
//
// Contract: both functions are thread-safe and never throw. wall() stamps
// events (`timestamp`, `sentAt`); monotonic() drives timers (group-commit
// window, flush interval, backoff).
#pragma once

#include <chrono>
#include <memory>

namespace tern {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point wall() = 0;
  virtual std::chrono::steady_clock::time_point monotonic() = 0;

  // True when monotonic() is std::chrono::steady_clock itself (offset-free),
  // so the worker may sleep until a deadline on the real steady clock. False
  // (the default) for a clock whose time can jump or run at another speed,
  // e.g. a manual test clock: the worker then re-reads it every millisecond.
  virtual bool is_real_steady_clock() const { return false; }

  // Called by the SDK's worker, only for a clock that is not the real steady
  // clock, each time it has done everything due at monotonic time `now` and
  // is about to wait for `deadline` (time_point::max() when nothing is
  // scheduled). A hook for test clocks: a manual clock uses it to let a test
  // wait until the worker is blocked before it advances time. Called with
  // the worker's lock held: it must return promptly and not call back into
  // the SDK. Default: does nothing.
  virtual void on_worker_wait(std::chrono::steady_clock::time_point now,
                              std::chrono::steady_clock::time_point deadline) {
    (void)now;
    (void)deadline;
  }
};

std::shared_ptr<Clock> make_system_clock();

}  // namespace tern
