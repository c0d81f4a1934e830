// flush_async: a flush that never blocks its caller. The caller only queues
// the request (no disk, no network); the worker commits what is pending,
// records the newest event id as the target, uploads, and calls the
// callback exactly once, on the worker thread: kSent once nothing up to the
// target is left, kTimedOut at the deadline, kCancelled at shutdown or when
// nothing may be sent (consent, opt-out, the settings' kill switch).
#include "engine.h"

namespace tern {

const char* flush_result_name(FlushResult result) noexcept {
  switch (result) {
    case FlushResult::kSent:
      return "sent";
    case FlushResult::kTimedOut:
      return "timed_out";
    case FlushResult::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Status Engine::flush_async(std::chrono::milliseconds deadline,
                           std::function<void(FlushResult)> done) {
  if (!done) return Status(StatusCode::kInvalidArgument, "flush_async needs a callback");
  if (deadline.count() < 0)
    return Status(StatusCode::kInvalidArgument, "flush_async: negative deadline");
  MutexLock lk(mu_);
  if (stop_ || worker_exited_) return Status(StatusCode::kCancelled, "the client is shut down");
  AsyncFlush a;
  a.deadline = clock_->monotonic() + deadline;
  a.done = std::move(done);
  async_inbox_.push_back(std::move(a));
  worker_idle_ = false;
  cv_.notify_one();
  return Status::ok();
}

void Engine::service_async_flushes(std::chrono::steady_clock::time_point now, bool cancel) {
  std::vector<std::pair<std::function<void(FlushResult)>, FlushResult>> finished;
  auto finish = [&](std::size_t i, FlushResult r) {
    finished.emplace_back(std::move(async_[i].done), r);
    async_.erase(async_.begin() + static_cast<std::ptrdiff_t>(i));
  };
  if (cancel) {
    while (!async_.empty()) finish(0, FlushResult::kCancelled);
  } else {
    if (async_check_) {
      async_check_ = false;
      // The oldest event still queued; everything before it is sent (or dropped).
      int64_t oldest = INT64_MAX;
      if (store_->count() > 0) {
        auto r = store_->read_oldest(1, 1);
        if (r && !r->empty()) oldest = r->front().id;
        if (!r) async_check_ = true;  // look again after the next step
      }
      for (std::size_t i = 0; i < async_.size();) {
        if (oldest > async_[i].target) {
          finish(i, FlushResult::kSent);
        } else {
          ++i;
        }
      }
    }
    for (std::size_t i = 0; i < async_.size();) {
      if (now >= async_[i].deadline) {
        finish(i, FlushResult::kTimedOut);
      } else {
        ++i;
      }
    }
  }
  for (auto& [done, result] : finished) {
    switch (result) {
      case FlushResult::kSent:
        async_sent_.fetch_add(1);
        break;
      case FlushResult::kTimedOut:
        async_timed_out_.fetch_add(1);
        break;
      case FlushResult::kCancelled:
        async_cancelled_.fetch_add(1);
        break;
    }
    if (result != FlushResult::kSent) {
      log(LogLevel::kDebug, std::string("background flush ") + flush_result_name(result));
    }
    try {
      done(result);
    } catch (...) {
      log(LogLevel::kWarn, "a flush_async callback threw; ignored");
    }
  }
}

}  // namespace tern
