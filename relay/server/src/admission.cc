#include "admission.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace tern::relay {

std::uint64_t DedupWindow::key_of(std::string_view id) {
  return static_cast<std::uint64_t>(std::hash<std::string_view>{}(id));
}

bool DedupWindow::insert(std::string_view id, SteadyTime now, std::chrono::seconds window,
                         std::size_t max_entries) {
  const std::uint64_t key = key_of(id);
  std::lock_guard<std::mutex> lock(mu_);
  expire(now, max_entries == 0 ? 0 : max_entries - 1);
  auto it = seen_.find(key);
  if (it != seen_.end() && it->second > now) return false;
  if (max_entries == 0) return true;
  if (seen_.empty() && order_.empty()) {
    // Sized once up front so a filling window does not stall on rehashes.
    seen_.reserve(std::min<std::size_t>(max_entries, kReserveCap));
  }
  SteadyTime expiry = now + window;
  if (it != seen_.end()) {
    it->second = expiry;
  } else {
    seen_.emplace(key, expiry);
  }
  order_.emplace_back(expiry, key);
  return true;
}

void DedupWindow::forget(std::string_view id) {
  const std::uint64_t key = key_of(id);
  std::lock_guard<std::mutex> lock(mu_);
  seen_.erase(key);
}

std::size_t DedupWindow::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.size();
}

void DedupWindow::expire(SteadyTime now, std::size_t max_entries) {
  while (!order_.empty()) {
    auto [expiry, key] = order_.front();
    auto it = seen_.find(key);
    bool stale = it == seen_.end() || it->second != expiry;  // forgotten or re-inserted later
    if (stale) {
      order_.pop_front();
      continue;
    }
    if (expiry <= now || seen_.size() > max_entries) {
      seen_.erase(it);
      order_.pop_front();
      continue;
    }
    break;
  }
}

int TokenBucket::take(double n, double rate, double burst, SteadyTime now) {
  if (rate <= 0) return 0;
  if (burst <= 0) burst = 2 * rate;
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) {
    started_ = true;
    tokens_ = burst;
    last_ = now;
  }
  double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst, tokens_ + elapsed * rate);
    last_ = now;
  }
  double need = std::min(n, burst);
  if (tokens_ >= need) {
    tokens_ -= n;
    return 0;
  }
  double wait = (need - tokens_) / rate;
  return std::max(1, static_cast<int>(std::ceil(wait)));
}

}  // namespace tern::relay
