// Per-source dedup of messageIds and per-write-key rate limiting.
//
// Threads: both classes are thread-safe (one mutex each; held for
// microseconds; DedupWindow's rare table growth or queue compaction is
// O(ids remembered)). Time is passed in, so tests drive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

using SteadyTime = std::chrono::steady_clock::time_point;

// Remembers messageIds seen within `window`, at most `max_entries` of them
// (past it the oldest are forgotten early: memory stays bounded, and a
// duplicate older than what fits is let through rather than refused).
// `max_entries` = 0 remembers nothing: every id is new.
class DedupWindow {
 public:
  // True when `id` is new (and now remembered); false for a duplicate.
  bool insert(std::string_view id, SteadyTime now, std::chrono::seconds window,
              std::size_t max_entries);
  // insert() for each of `ids` in order under one lock, their table slots
  // prefetched first; (*is_new)[i] is what insert(ids[i]) would return.
  void insert_all(const std::vector<std::string_view>& ids, SteadyTime now,
                  std::chrono::seconds window, std::size_t max_entries, std::vector<char>* is_new);
  // Forgets `id` (its submission failed, so a retry must not be taken for a duplicate).
  void forget(std::string_view id);
  std::size_t size() const;

 private:
  friend class DedupWindowTestPeer;  // tests inspect capacities and home slots

  // Ids are kept as a 64-bit hash (std::hash<std::string_view>), not as
  // copies: no allocation per id and no string compares. Two distinct ids
  // collide with probability ~2^-64 (hashes 0 and 1 share a key, since 0
  // marks an empty slot: still ~2^-63), so with n ids remembered a new id is
  // wrongly taken for a duplicate with probability about n / 2^63 (for
  // n = 10^6: ~1e-13 per event) — negligible next to the duplicates the
  // window exists to catch.
  static std::uint64_t key_of(std::string_view id);

  // A slot of the open-addressing table; key 0 = empty. Expiry is in
  // steady-clock ticks, so a slot is 16 bytes and a probe stays in one or
  // two cache lines.
  struct Slot {
    std::uint64_t key;
    std::int64_t expiry;
  };
  // An insertion, in insertion order, for eviction. It is stale (skipped)
  // when its key was forgotten or re-inserted since: the table's expiry for
  // the key no longer equals this one.
  struct Insertion {
    std::int64_t expiry;
    std::uint64_t key;
  };
  // A power-of-two array of slots, zeroed by calloc: a large one is fresh
  // pages the kernel zeroes as they are first touched, not a memset up front.
  struct Table {
    std::unique_ptr<Slot[], void (*)(void*)> slots{nullptr, &std::free};
    std::size_t size = 0;
    std::size_t mask = 0;
    int shift = 64;  // 64 - log2(size): home() takes the high bits
    static Table zeroed(std::size_t size);
    std::size_t home(std::uint64_t key) const;
    // Index of `key`'s slot, or of the empty slot where it would go.
    std::size_t find(std::uint64_t key) const;
  };

  // Slots the table starts with (16 KiB) on the first remembered id, so an
  // idle source with a large max_entries does not pay for it up front.
  static constexpr std::size_t kInitialSlots = 1024;
  static constexpr std::size_t kInitialRing = 1024;
  // Tables up to this many slots grow in one step; larger ones move their
  // slots to the doubled table a few per insertion, so no insertion waits
  // for a whole rehash (tens of ms at a million ids).
  static constexpr std::size_t kIncrementalFrom = std::size_t{1} << 16;
  static constexpr std::size_t kMovesPerInsert = 8;

  bool insert_locked(std::uint64_t key, std::int64_t now_ticks, std::chrono::seconds window,
                     std::size_t max_entries);
  // Drops expired insertions, then the oldest live ones until at most
  // `keep` ids remain.
  void expire(std::int64_t now, std::size_t keep);
  // Index in slots_ of `key` (moved over from old_ first if it was still
  // there), or of the empty slot where it would go.
  std::size_t locate(std::uint64_t key);
  std::size_t home(std::uint64_t key) const { return slots_.home(key); }
  // Removes the key at `index`, shifting its cluster back (no tombstones).
  void erase_at(std::size_t index);
  // Table capacity that keeps load <= 0.5 with `max_entries` ids.
  static std::size_t slots_for(std::size_t max_entries);
  void grow_table(std::size_t slots);
  // Moves up to `n` slots of old_ into slots_; frees old_ when done.
  void move_old(std::size_t n);
  void push_insertion(Insertion e);
  bool is_live(const Insertion& e);

  mutable std::mutex mu_;
  // Linear-probing hash table, power-of-two size; grown by doubling while
  // it would pass half full, never past slots_for(max_entries).
  Table slots_;
  // While a large table grows: the previous one, its slots [0, moved_)
  // already moved. A moved (or forgotten) slot keeps its key, so probes
  // still pass it, with expiry kMovedOut.
  Table old_;
  std::size_t moved_ = 0;
  std::size_t count_ = 0;  // ids remembered, in both tables
  // FIFO of insertions, a ring over a power-of-two vector. It grows only
  // while more than half of it is live, and is compacted (stale entries
  // dropped in place) only when at least half is stale, so neither happens
  // for nothing (it stays under ~4 × max_entries).
  std::vector<Insertion> ring_;
  std::size_t ring_head_ = 0;
  std::size_t ring_count_ = 0;
  std::size_t ring_stale_ = 0;  // entries of the ring that are stale
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
