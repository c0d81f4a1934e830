// relay/include/tern/relay/clock.h
#pragma once
#include <chrono>
namespace tern::relay {
// Where the relay's components read time. Thread-safe; the real one reads the
// system clocks. Tests pass a ManualClock (tests/support) and advance it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  virtual std::chrono::system_clock::time_point system_now() const = 0;
};
// The process-wide real clock (never null, never destroyed).
const Clock& real_clock();
}  // namespace tern::relay
