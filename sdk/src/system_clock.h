// The real clocks. The worker recognises this type: with it, it sleeps until
// its deadline; with any other Clock (a manual test clock) it re-reads the
// clock in short real-time slices, so advancing a manual clock wakes it.
#pragma once

#include "tern/clock.h"

namespace tern {

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() override;
  std::chrono::steady_clock::time_point monotonic() override;
};

}  // namespace tern
