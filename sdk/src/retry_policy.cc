#include "retry_policy.h"

#include <algorithm>

namespace tern {

UploadVerdict classify_http_status(int status_code) noexcept {
  if (status_code >= 200 && status_code < 300) return UploadVerdict::kSuccess;
  if (status_code == 400 || status_code == 413) return UploadVerdict::kBisect;
  return UploadVerdict::kRetry;
}

std::chrono::milliseconds RetryPolicy::ceiling(int failures) const noexcept {
  if (failures < 1) failures = 1;
  int64_t c = base_.count();
  for (int i = 1; i < failures && c < max_.count(); ++i) c *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(c, max_.count()));
}

std::chrono::milliseconds RetryPolicy::jittered(int failures, uint64_t random) const noexcept {
  auto c = static_cast<uint64_t>(ceiling(failures).count());
  return std::chrono::milliseconds(static_cast<int64_t>(random % (c + 1)));
}

std::chrono::milliseconds RetryPolicy::on_failure(
    Clock::time_point now, std::optional<std::chrono::milliseconds> retry_after,
    uint64_t random) noexcept {
  ++failures_;
  std::chrono::milliseconds delay = jittered(failures_, random);
  if (retry_after) delay = std::clamp(*retry_after, std::chrono::milliseconds(0), kMaxRetryAfter);
  next_attempt_ = now + delay;
  return delay;
}

void RetryPolicy::on_success() noexcept { failures_ = 0; }

}  // namespace tern
