// ManualClock: a tern::relay::Clock whose time moves only when the test calls
// advance(), so linger, backoff and rotation-age tests take no wall time (a
// 30 s backoff passes in one advance(30s)).
//
// Waking: the relay's components re-read a clock that is not real_clock()
// every few milliseconds of real time while they wait on it
// (SinkRunner::kJumpyClockRecheck), so an advance takes effect at once.
//
// Negative assertions ("no retry before the backoff"): after advance(), call
// wait_for_reads(n) — it returns once the clock was read n more times, i.e.
// once the component looked at the new time and decided — then assert.
// Meant for one component reading the clock at a time. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "tern/relay/clock.h"

namespace tern::relay::testing {

class ManualClock final : public Clock {
 public:
  // Starts at the real clocks' present, or with the wall clock at `system_start`.
  ManualClock()
      : steady_(std::chrono::steady_clock::now()), system_(std::chrono::system_clock::now()) {}
  explicit ManualClock(std::chrono::system_clock::time_point system_start)
      : steady_(std::chrono::steady_clock::now()), system_(system_start) {}

  std::chrono::steady_clock::time_point steady_now() const override {
    std::lock_guard<std::mutex> g(mu_);
    count_read();
    return steady_;
  }
  std::chrono::system_clock::time_point system_now() const override {
    std::lock_guard<std::mutex> g(mu_);
    count_read();
    return system_;
  }

  // Moves both clocks forward by `d`.
  void advance(std::chrono::steady_clock::duration d) {
    std::lock_guard<std::mutex> g(mu_);
    steady_ += d;
    system_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

  // Blocks until the clock has been read `n` more times than when this call
  // began (each read after it sees every advance() before it). False after
  // `timeout` of real time.
  bool wait_for_reads(uint64_t n,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t target = reads_ + n;
    return cv_.wait_for(l, timeout, [&] { return reads_ >= target; });
  }

 private:
  void count_read() const {
    ++reads_;
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable uint64_t reads_ = 0;
  std::chrono::steady_clock::time_point steady_;
  std::chrono::system_clock::time_point system_;
};

}  // namespace tern::relay::testing
