// The real clocks: the worker sleeps until its deadlines with them.
#pragma once

#include "tern/clock.h"

namespace tern {

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() override;
  std::chrono::steady_clock::time_point monotonic() override;
  bool is_real_steady_clock() const override { return true; }
};

}  // namespace tern
