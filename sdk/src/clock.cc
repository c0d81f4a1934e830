#include "system_clock.h"

namespace tern {

std::chrono::system_clock::time_point SystemClock::wall() {
  return std::chrono::system_clock::now();
}
std::chrono::steady_clock::time_point SystemClock::monotonic() {
  return std::chrono::steady_clock::now();
}

std::shared_ptr<Clock> make_system_clock() { return std::make_shared<SystemClock>(); }

}  // namespace tern
