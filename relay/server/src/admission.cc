#include "admission.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <new>
#include <type_traits>

namespace tern::relay {

namespace {

using Ticks = SteadyTime::duration::rep;
static_assert(std::is_integral_v<Ticks> && sizeof(Ticks) == 8,
              "DedupWindow stores steady-clock expiries as 64-bit ticks");

// now + window in ticks, saturated (a window of years must not overflow).
std::int64_t expiry_of(std::int64_t now, std::chrono::seconds window) {
  using Tick = SteadyTime::duration;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kTicksPerSecond =
      std::chrono::duration_cast<Tick>(std::chrono::seconds(1)).count();
  std::int64_t seconds = window.count();
  if (seconds <= 0) return now;
  if (seconds > (kMax - std::max<std::int64_t>(now, 0)) / kTicksPerSecond) return kMax;
  return now + seconds * kTicksPerSecond;
}

// The expiry of a slot of the old table that was moved to the new one or
// forgotten: never a real expiry (those are now + window, now >= 0).
constexpr std::int64_t kMovedOut = std::numeric_limits<std::int64_t>::min();

std::size_t next_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

int log2_of_pow2(std::size_t p) {
  int l = 0;
  while ((std::size_t{1} << l) < p) ++l;
  return l;
}

}  // namespace

std::uint64_t DedupWindow::key_of(std::string_view id) {
  auto h = static_cast<std::uint64_t>(std::hash<std::string_view>{}(id));
  return h == 0 ? 1 : h;
}

std::size_t DedupWindow::slots_for(std::size_t max_entries) {
  // Capped far beyond any memory a relay has, so 2 × max_entries cannot overflow.
  constexpr std::size_t kMaxEntries = std::size_t{1} << 60;
  return next_pow2(2 * std::min(std::max<std::size_t>(max_entries, 1), kMaxEntries));
}

DedupWindow::Table DedupWindow::Table::zeroed(std::size_t size) {
  Table t;
  t.slots.reset(static_cast<Slot*>(std::calloc(size, sizeof(Slot))));
  if (!t.slots) throw std::bad_alloc();
  t.size = size;
  t.mask = size - 1;
  t.shift = 64 - log2_of_pow2(size);
  return t;
}

std::size_t DedupWindow::Table::home(std::uint64_t key) const {
  // Fibonacci hashing: the high bits of key × 2^64/phi. std::hash may be the
  // identity on some platforms; the multiply spreads any key over the table.
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift) & mask;
}

std::size_t DedupWindow::Table::find(std::uint64_t key) const {
  std::size_t i = home(key);
  while (slots[i].key != 0 && slots[i].key != key) i = (i + 1) & mask;
  return i;
}

std::size_t DedupWindow::locate(std::uint64_t key) {
  std::size_t i = slots_.find(key);
  if (slots_.slots[i].key == key || old_.size == 0) return i;
  Slot& o = old_.slots[old_.find(key)];
  if (o.key == key && o.expiry != kMovedOut) {
    slots_.slots[i] = o;
    o.expiry = kMovedOut;
  }
  return i;
}

void DedupWindow::erase_at(std::size_t index) {
  // Backward shift: pull each later member of the cluster into the hole
  // unless that would put it before its home slot.
  Slot* s = slots_.slots.get();
  const std::size_t mask = slots_.mask;
  std::size_t hole = index;
  std::size_t j = index;
  for (;;) {
    j = (j + 1) & mask;
    if (s[j].key == 0) break;
    std::size_t displacement = (j - home(s[j].key)) & mask;
    std::size_t distance = (j - hole) & mask;
    if (displacement >= distance) {
      s[hole] = s[j];
      hole = j;
    }
  }
  s[hole] = Slot{0, 0};
  --count_;
}

void DedupWindow::move_old(std::size_t n) {
  const std::size_t end = std::min(old_.size, moved_ + n);
  for (; moved_ < end; ++moved_) {
    Slot& o = old_.slots[moved_];
    if (o.key == 0 || o.expiry == kMovedOut) continue;
    slots_.slots[slots_.find(o.key)] = o;
    o.expiry = kMovedOut;
  }
  if (moved_ == old_.size) {
    old_ = Table{};
    moved_ = 0;
  }
}

void DedupWindow::grow_table(std::size_t slots) {
  if (old_.size != 0) move_old(old_.size);  // finish the previous growth first
  Table bigger = Table::zeroed(slots);
  if (slots_.size < kIncrementalFrom) {
    for (std::size_t j = 0; j < slots_.size; ++j) {
      const Slot& s = slots_.slots[j];
      if (s.key != 0) bigger.slots[bigger.find(s.key)] = s;
    }
    slots_ = std::move(bigger);
    return;
  }
  // The doubled table holds half the load: it needs slots_.size / 2 more
  // insertions before it grows again, by when kMovesPerInsert per insertion
  // has moved all of the old one.
  old_ = std::move(slots_);
  slots_ = std::move(bigger);
  moved_ = 0;
}

bool DedupWindow::is_live(const Insertion& e) {
  const Slot& s = slots_.slots[locate(e.key)];
  return s.key == e.key && s.expiry == e.expiry;
}

void DedupWindow::push_insertion(Insertion e) {
  if (ring_count_ == ring_.size()) {
    std::size_t ring_mask = ring_.size() - 1;
    if (!ring_.empty() && 2 * ring_stale_ >= ring_count_) {
      // Full and at least half stale: drop the stale insertions in place
      // (order kept), so compaction is amortised O(1) per insertion.
      std::size_t kept = 0;
      for (std::size_t r = 0; r < ring_count_; ++r) {
        const Insertion& x = ring_[(ring_head_ + r) & ring_mask];
        if (is_live(x)) ring_[(ring_head_ + kept++) & ring_mask] = x;
      }
      ring_count_ = kept;
      ring_stale_ = 0;
    }
    if (ring_count_ == ring_.size()) {
      std::vector<Insertion> bigger(ring_.empty() ? kInitialRing : 2 * ring_.size());
      for (std::size_t r = 0; r < ring_count_; ++r) bigger[r] = ring_[(ring_head_ + r) & ring_mask];
      ring_.swap(bigger);
      ring_head_ = 0;
    }
  }
  ring_[(ring_head_ + ring_count_) & (ring_.size() - 1)] = e;
  ++ring_count_;
}

bool DedupWindow::insert(std::string_view id, SteadyTime now, std::chrono::seconds window,
                         std::size_t max_entries) {
  const std::uint64_t key = key_of(id);
  std::lock_guard<std::mutex> lock(mu_);
  return insert_locked(key, now.time_since_epoch().count(), window, max_entries);
}

void DedupWindow::insert_all(const std::vector<std::string_view>& ids, SteadyTime now,
                             std::chrono::seconds window, std::size_t max_entries,
                             std::vector<char>* is_new) {
  thread_local std::vector<std::uint64_t> keys;
  keys.clear();
  for (std::string_view id : ids) keys.push_back(key_of(id));
  is_new->assign(ids.size(), 0);
  const std::int64_t now_ticks = now.time_since_epoch().count();
  std::lock_guard<std::mutex> lock(mu_);
  // A large window is far bigger than the CPU caches: each lookup is a cache
  // miss. Touching every home slot first lets those misses overlap.
  // While a large table grows, a new id is looked for in the old one too.
  if (slots_.size != 0) {
    for (std::uint64_t key : keys) __builtin_prefetch(&slots_.slots[home(key)]);
  }
  if (old_.size != 0) {
    for (std::uint64_t key : keys) __builtin_prefetch(&old_.slots[old_.home(key)]);
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    (*is_new)[k] = insert_locked(keys[k], now_ticks, window, max_entries) ? 1 : 0;
  }
}

bool DedupWindow::insert_locked(std::uint64_t key, std::int64_t now_ticks,
                                std::chrono::seconds window, std::size_t max_entries) {
  if (old_.size != 0) move_old(kMovesPerInsert);
  expire(now_ticks, max_entries);
  std::size_t i = slots_.size == 0 ? 0 : locate(key);
  const bool present = slots_.size != 0 && slots_.slots[i].key == key;
  // A present id may be expired yet not evicted when the window was
  // shortened by a reload (later insertions expire sooner): then it is new.
  if (present && slots_.slots[i].expiry > now_ticks) return false;
  if (max_entries == 0) return true;
  const std::int64_t expiry = expiry_of(now_ticks, window);
  if (present) {
    slots_.slots[i].expiry = expiry;  // its older insertion turns stale
    ++ring_stale_;
  } else {
    // Room for the new id is made only now, so a duplicate of the oldest
    // remembered id is still caught when the window is full.
    if (count_ >= max_entries) expire(now_ticks, max_entries - 1);
    if (slots_.size == 0) {
      grow_table(std::min(kInitialSlots, slots_for(max_entries)));
    } else if (2 * (count_ + 1) > slots_.size && slots_.size < slots_for(max_entries)) {
      grow_table(2 * slots_.size);
    }
    i = slots_.find(key);
    slots_.slots[i] = Slot{key, expiry};
    ++count_;
  }
  push_insertion(Insertion{expiry, key});
  return true;
}

void DedupWindow::forget(std::string_view id) {
  const std::uint64_t key = key_of(id);
  std::lock_guard<std::mutex> lock(mu_);
  if (slots_.size == 0) return;
  std::size_t i = locate(key);
  if (slots_.slots[i].key != key) return;
  erase_at(i);
  ++ring_stale_;  // its insertion
}

std::size_t DedupWindow::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void DedupWindow::expire(std::int64_t now, std::size_t keep) {
  const std::size_t ring_mask = ring_.size() - 1;
  while (ring_count_ > 0) {
    const Insertion& front = ring_[ring_head_];
    // Nothing to drop: the front is not due (a stale front may wait; it is
    // skipped whenever it comes due). Checked before the table lookup, which
    // is a cache miss in a large window.
    if (front.expiry > now && count_ <= keep) break;
    std::size_t i = locate(front.key);
    const bool live = slots_.slots[i].key == front.key && slots_.slots[i].expiry == front.expiry;
    if (live) {
      erase_at(i);
    } else if (ring_stale_ > 0) {
      --ring_stale_;
    }
    ring_head_ = (ring_head_ + 1) & ring_mask;
    --ring_count_;
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
