// wait_until(): a bounded poll on a condition the code under test must reach,
// the replacement for "sleep, then look". Shared by the SDK and relay tests.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace tern::testing {

// Polls `pred` every millisecond of real time until it holds (true) or
// `timeout` passes (false, after one last look).
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace tern::testing
