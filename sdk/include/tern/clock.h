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
};

std::shared_ptr<Clock> make_system_clock();

}  // namespace tern
