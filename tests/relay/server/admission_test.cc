#include "admission.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::relay {

// Reads DedupWindow's private layout, to check memory bounds and to build
// deliberate collisions in a small table.
class DedupWindowTestPeer {
 public:
  static std::size_t table_slots(const DedupWindow& d) { return d.slots_.size; }
  // A large table growing: its previous one is still being moved over.
  static bool moving(const DedupWindow& d) { return d.old_.size != 0; }
  static std::size_t ring_slots(const DedupWindow& d) { return d.ring_.size(); }
  static std::size_t home_of(const DedupWindow& d, std::string_view id) {
    return d.home(DedupWindow::key_of(id));
  }
};

namespace {

using namespace std::chrono_literals;
using Peer = DedupWindowTestPeer;

TEST(DedupWindowTest, DuplicateWithinWindowIsRefusedAndAfterItAccepted) {
  DedupWindow d;
  SteadyTime t0{};
  EXPECT_TRUE(d.insert("m1", t0, 10s, 100));
  EXPECT_FALSE(d.insert("m1", t0 + 9s, 10s, 100));
  EXPECT_TRUE(d.insert("m2", t0 + 9s, 10s, 100));
  EXPECT_TRUE(d.insert("m1", t0 + 11s, 10s, 100));
}

TEST(DedupWindowTest, InsertAllAnswersAsOneInsertPerIdInOrder) {
  DedupWindow batch, single;
  SteadyTime t0{};
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back("id-" + std::to_string(i % 2500));  // 500 repeats
  std::vector<std::string_view> views(ids.begin(), ids.end());
  std::vector<char> is_new;
  // Two calls: the second sees the first's ids (and repeats within itself).
  std::vector<std::string_view> first(views.begin(), views.begin() + 1000);
  std::vector<std::string_view> second(views.begin() + 1000, views.end());
  batch.insert_all(first, t0, 60s, 2000, &is_new);
  std::vector<char> answers(is_new);
  batch.insert_all(second, t0 + 1s, 60s, 2000, &is_new);
  answers.insert(answers.end(), is_new.begin(), is_new.end());
  ASSERT_EQ(answers.size(), views.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    bool expect = single.insert(views[i], i < 1000 ? t0 : t0 + 1s, 60s, 2000);
    EXPECT_EQ(answers[i] != 0, expect) << "id " << i << " " << views[i];
  }
  EXPECT_EQ(batch.size(), single.size());
  EXPECT_EQ(batch.size(), 2000u);  // bounded by max_entries, like insert()
}

TEST(DedupWindowTest, ExpiredIdsAreDroppedFromMemory) {
  DedupWindow d;
  SteadyTime t0{};
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(d.insert("a" + std::to_string(i), t0, 10s, 1000));
  EXPECT_EQ(d.size(), 50u);
  EXPECT_FALSE(d.insert("a49", t0 + 10s - 1ns, 10s, 1000));
  EXPECT_TRUE(d.insert("b", t0 + 10s, 10s, 1000));  // the window is [t, t + window)
  EXPECT_EQ(d.size(), 1u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(d.insert("a" + std::to_string(i), t0 + 10s, 10s, 1000));
}

TEST(DedupWindowTest, MemoryIsBoundedByEvictingTheOldest) {
  DedupWindow d;
  SteadyTime t0{};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(d.insert("m" + std::to_string(i), t0, 600s, 4));
  EXPECT_EQ(d.size(), 4u);
  EXPECT_TRUE(d.insert("m0", t0, 600s, 4));   // evicted: let through
  EXPECT_FALSE(d.insert("m9", t0, 600s, 4));  // still remembered
}

TEST(DedupWindowTest, ManyIdsPastMaxEntriesKeepTheNewestAndTheTableSmall) {
  DedupWindow d;
  SteadyTime t0{};
  constexpr int kMax = 300;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(d.insert("id" + std::to_string(i), t0, 600s, kMax));
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kMax));
  // Oldest remembered first: a duplicate check must not evict to make room.
  for (int i = 20000 - kMax; i < 20000; ++i) {
    EXPECT_FALSE(d.insert("id" + std::to_string(i), t0, 600s, kMax)) << i;
  }
  EXPECT_TRUE(d.insert("id" + std::to_string(20000 - kMax - 1), t0, 600s, kMax));  // forgotten
  // 300 ids at load <= 0.5 need 1024 slots, the initial table; no more.
  EXPECT_EQ(Peer::table_slots(d), 1024u);
  EXPECT_LE(Peer::ring_slots(d), 1024u);
}

TEST(DedupWindowTest, TableForASmallMaxEntriesIsSmallerThanTheDefaultStart) {
  DedupWindow d;
  for (int i = 0; i < 1000; ++i) d.insert(std::to_string(i), SteadyTime{}, 600s, 4);
  EXPECT_EQ(d.size(), 4u);
  EXPECT_EQ(Peer::table_slots(d), 8u);
}

TEST(DedupWindowTest, ForgottenIdIsAcceptedAgain) {
  DedupWindow d;
  SteadyTime t0{};
  EXPECT_TRUE(d.insert("m1", t0, 600s, 10));
  d.forget("m1");
  EXPECT_TRUE(d.insert("m1", t0, 600s, 10));
  EXPECT_FALSE(d.insert("m1", t0, 600s, 10));
  EXPECT_EQ(d.size(), 1u);
}

TEST(DedupWindowTest, ForgettingAnUnknownIdChangesNothing) {
  DedupWindow d;
  d.forget("never-seen");  // before any table exists
  EXPECT_TRUE(d.insert("m1", SteadyTime{}, 600s, 10));
  d.forget("m2");
  EXPECT_EQ(d.size(), 1u);
  EXPECT_FALSE(d.insert("m1", SteadyTime{}, 600s, 10));
}

TEST(DedupWindowTest, RepeatedForgetAndRetryKeepsMemoryBounded) {
  // Every submit failing: each id is remembered, then forgotten, then
  // retried. The eviction queue must not grow with the stale entries.
  DedupWindow d;
  SteadyTime t0{};
  for (int i = 0; i < 50000; ++i) {
    std::string id = "r" + std::to_string(i % 700);
    ASSERT_TRUE(d.insert(id, t0, 600s, 100));
    d.forget(id);
  }
  EXPECT_EQ(d.size(), 0u);
  EXPECT_LE(Peer::ring_slots(d), 1024u);
  EXPECT_EQ(Peer::table_slots(d), 256u);
}

TEST(DedupWindowTest, ReinsertedIdIsEvictedByItsNewestInsertion) {
  DedupWindow d;
  SteadyTime t0{};
  EXPECT_TRUE(d.insert("a", t0, 10s, 100));
  EXPECT_TRUE(d.insert("a", t0 + 10s, 10s, 100));  // expired, remembered again until t0 + 20 s
  EXPECT_TRUE(d.insert("b", t0 + 15s, 10s, 100));
  EXPECT_FALSE(d.insert("a", t0 + 19s, 10s, 100));
  EXPECT_EQ(d.size(), 2u);
  EXPECT_TRUE(d.insert("a", t0 + 20s, 10s, 100));
}

TEST(DedupWindowTest, GrowthAcrossManyInsertsKeepsEveryIdFindable) {
  DedupWindow d;
  SteadyTime t0{};
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(d.insert("g" + std::to_string(i), t0, 600s, 1'000'000));
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(Peer::table_slots(d), 262144u);  // doubled from 1024 up to load <= 0.5
  for (int i = 0; i < kN; ++i) {
    ASSERT_FALSE(d.insert("g" + std::to_string(i), t0, 600s, 1'000'000)) << i;
  }
  for (int i = 0; i < kN; i += 2) d.forget("g" + std::to_string(i));
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kN / 2));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(d.insert("g" + std::to_string(i), t0, 600s, 1'000'000), i % 2 == 0) << i;
  }
}

TEST(DedupWindowTest, IdsStayFindableWhileALargeTableMovesToItsDoubledSize) {
  // 32769 ids pass half of 65536 slots: the table doubles, and a table that
  // large moves its ids over a few per insertion instead of all at once.
  DedupWindow d;
  SteadyTime t0{};
  constexpr int kN = 32769 + 10;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(d.insert("w" + std::to_string(i), t0, 600s, 1'000'000));
  EXPECT_EQ(Peer::table_slots(d), 131072u);
  ASSERT_TRUE(Peer::moving(d));  // what follows runs against both tables
  for (int i = kN - 1; i >= 0; i -= 3) d.forget("w" + std::to_string(i));
  EXPECT_TRUE(Peer::moving(d));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(d.insert("w" + std::to_string(i), t0, 600s, 1'000'000), (kN - 1 - i) % 3 == 0) << i;
  }
  EXPECT_FALSE(Peer::moving(d));  // every id moved by now
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i)
    ASSERT_FALSE(d.insert("w" + std::to_string(i), t0, 600s, 1'000'000)) << i;
}

TEST(DedupWindowTest, IdsExpireWhileALargeTableMovesToItsDoubledSize) {
  DedupWindow d;
  SteadyTime t0{};
  constexpr int kN = 32769 + 10;
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(d.insert("x" + std::to_string(i), t0 + (i < kN / 2 ? 0s : 5s), 600s, 1'000'000));
  ASSERT_TRUE(Peer::moving(d));
  EXPECT_TRUE(d.insert("late", t0 + 601s, 600s, 1'000'000));  // the first half is past its window
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kN - kN / 2 + 1));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(d.insert("x" + std::to_string(i), t0 + 602s, 600s, 1'000'000), i < kN / 2) << i;
  }
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kN + 1));
}

TEST(DedupWindowTest, ForgettingInsideACollisionClusterKeepsTheRestFindable) {
  // max_entries 4 gives an 8-slot table. For every home slot h (so clusters
  // also wrap around the end): a and b both hash to h, c to h + 1 and e to
  // h + 3 (b lands on h + 1, c on h + 2, e on h + 3). Forgetting a must
  // shift b and c back one slot and leave e, which sits at its home, alone.
  for (std::size_t h = 0; h < 8; ++h) {
    DedupWindow probe;
    probe.insert("x", SteadyTime{}, 600s, 4);
    ASSERT_EQ(Peer::table_slots(probe), 8u);
    std::vector<std::string> at_h, at_h1, at_h3;
    for (int i = 0; at_h.size() < 2 || at_h1.empty() || at_h3.empty(); ++i) {
      std::string id = "k" + std::to_string(i);
      std::size_t home = Peer::home_of(probe, id);
      if (home == h) at_h.push_back(id);
      if (home == ((h + 1) & 7)) at_h1.push_back(id);
      if (home == ((h + 3) & 7)) at_h3.push_back(id);
    }
    const std::string a = at_h[0], b = at_h[1], c = at_h1[0], e = at_h3[0];

    DedupWindow d;
    SteadyTime t0{};
    for (const std::string& id : {a, b, c, e}) ASSERT_TRUE(d.insert(id, t0, 600s, 4));
    d.forget(a);
    EXPECT_EQ(d.size(), 3u);
    EXPECT_FALSE(d.insert(b, t0, 600s, 4)) << "h=" << h;
    EXPECT_FALSE(d.insert(c, t0, 600s, 4)) << "h=" << h;
    EXPECT_FALSE(d.insert(e, t0, 600s, 4)) << "h=" << h;
    d.forget(c);  // from the middle of what is left
    EXPECT_FALSE(d.insert(b, t0, 600s, 4)) << "h=" << h;
    EXPECT_FALSE(d.insert(e, t0, 600s, 4)) << "h=" << h;
    EXPECT_TRUE(d.insert(a, t0, 600s, 4)) << "h=" << h;
    EXPECT_TRUE(d.insert(c, t0, 600s, 4)) << "h=" << h;
    EXPECT_EQ(Peer::table_slots(d), 8u);
  }
}

TEST(DedupWindowTest, ZeroMaxEntriesRemembersNothing) {
  DedupWindow d;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(d.insert("m1", SteadyTime{}, 600s, 0));
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(Peer::table_slots(d), 0u);  // and allocates nothing
}

TEST(DedupWindowTest, LoweringMaxEntriesEvictsTheOldestDownToIt) {
  DedupWindow d;
  SteadyTime t0{};
  for (int i = 0; i < 10; ++i) d.insert("m" + std::to_string(i), t0, 600s, 100);
  EXPECT_TRUE(d.insert("n", t0, 600s, 3));  // a reload lowered the bound
  EXPECT_EQ(d.size(), 3u);
  EXPECT_FALSE(d.insert("m9", t0, 600s, 3));
  EXPECT_TRUE(d.insert("m7", t0, 600s, 3));
}

TEST(DedupWindowTest, HugeWindowDoesNotOverflow) {
  DedupWindow d;
  SteadyTime t0{};
  EXPECT_TRUE(d.insert("m1", t0, std::chrono::seconds(std::int64_t{1} << 62), 10));
  EXPECT_FALSE(d.insert("m1", t0 + std::chrono::hours(24 * 365 * 100), 600s, 10));
}

TEST(TokenBucketTest, AllowsBurstThenAsksToWaitThenRefills) {
  TokenBucket b;
  SteadyTime t0{};
  EXPECT_EQ(b.take(10, 5, 10, t0), 0);
  int wait = b.take(5, 5, 10, t0);
  EXPECT_EQ(wait, 1);
  EXPECT_EQ(b.take(5, 5, 10, t0 + 1s), 0);
}

TEST(TokenBucketTest, RequestLargerThanBurstPassesOnFullBucketAndLeavesDebt) {
  TokenBucket b;
  SteadyTime t0{};
  EXPECT_EQ(b.take(30, 10, 10, t0), 0);      // full bucket: allowed, 20 in debt
  EXPECT_EQ(b.take(1, 10, 10, t0 + 1s), 2);  // at -10 it needs 11 tokens: 1.1 s, rounded up
}

TEST(TokenBucketTest, ZeroRateMeansUnlimited) {
  TokenBucket b;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.take(1000, 0, 0, SteadyTime{}), 0);
}

}  // namespace
}  // namespace tern::relay
