#include "tern/relay/clock.h"
namespace tern::relay {
namespace {
class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point system_now() const override { return std::chrono::system_clock::now(); }
};
}  // namespace
const Clock& real_clock() {
  static const RealClock clock;
  return clock;
}
}  // namespace tern::relay
