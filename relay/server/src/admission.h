// Per-source dedup of messageIds and per-write-key rate limiting.
//
// Threads: both classes are thread-safe (one mutex each; held for
// microseconds). Time is passed in, so tests drive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tern::relay {

using SteadyTime = std::chrono::steady_clock::time_point;

// Remembers messageIds seen within `window`, at most `max_entries` of them
// (past it the oldest are forgotten early: memory stays bounded, and a
// duplicate older than what fits is let through rather than refused).
class DedupWindow {
 public:
  // True when `id` is new (and now remembered); false for a duplicate.
  bool insert(std::string_view id, SteadyTime now, std::chrono::seconds window,
              std::size_t max_entries);
  // Forgets `id` (its submission failed, so a retry must not be taken for a duplicate).
  void forget(std::string_view id);
  std::size_t size() const;

 private:
  void expire(SteadyTime now, std::size_t max_entries);

  // Ids are kept as a 64-bit hash (std::hash<std::string_view>), not as
  // copies: one node allocation per new id instead of three, and no string
  // compares. Two distinct ids collide with probability ~2^-64, so with n ids
  // remembered a new id is wrongly taken for a duplicate with probability
  // about n / 2^64 (for n = 10^6: ~5e-14 per event) — negligible next to
  // the duplicates the window exists to catch.
  static std::uint64_t key_of(std::string_view id);
  // Up-front table size, capped so an idle source with a large
  // dedup_max_entries does not pay for it before it sees traffic.
  static constexpr std::size_t kReserveCap = 4096;

  mutable std::mutex mu_;
  // hash(id) -> expiry; `order_` keeps insertion order for eviction. A
  // forgotten id leaves a stale entry in `order_`, skipped when it reaches
  // the front.
  std::unordered_map<std::uint64_t, SteadyTime> seen_;
  std::deque<std::pair<SteadyTime, std::uint64_t>> order_;
};

// Token bucket: `rate` tokens/s up to `burst`. A request of n events is let
// through when the bucket holds min(n, burst) tokens; it then takes n (the
// bucket may go into debt, which later requests pay back by waiting).
class TokenBucket {
 public:
  // 0 when allowed; otherwise the seconds to wait before retrying (≥ 1).
  int take(double n, double rate, double burst, SteadyTime now);

 private:
  std::mutex mu_;
  bool started_ = false;
  double tokens_ = 0;
  SteadyTime last_{};
};

}  // namespace tern::relay
