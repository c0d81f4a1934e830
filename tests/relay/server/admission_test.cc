#include "admission.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using namespace std::chrono_literals;

TEST(DedupWindowTest, DuplicateWithinWindowIsRefusedAndAfterItAccepted) {
  DedupWindow d;
  SteadyTime t0{};
  EXPECT_TRUE(d.insert("m1", t0, 10s, 100));
  EXPECT_FALSE(d.insert("m1", t0 + 9s, 10s, 100));
  EXPECT_TRUE(d.insert("m2", t0 + 9s, 10s, 100));
  EXPECT_TRUE(d.insert("m1", t0 + 11s, 10s, 100));
}

TEST(DedupWindowTest, MemoryIsBoundedByEvictingTheOldest) {
  DedupWindow d;
  SteadyTime t0{};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(d.insert("m" + std::to_string(i), t0, 600s, 4));
  EXPECT_EQ(d.size(), 4u);
  EXPECT_TRUE(d.insert("m0", t0, 600s, 4));   // evicted: let through
  EXPECT_FALSE(d.insert("m9", t0, 600s, 4));  // still remembered
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
  EXPECT_EQ(b.take(30, 10, 10, t0), 0);   // full bucket: allowed, 20 in debt
  EXPECT_EQ(b.take(1, 10, 10, t0 + 1s), 2);  // at -10 it needs 11 tokens: 1.1 s, rounded up
}

TEST(TokenBucketTest, ZeroRateMeansUnlimited) {
  TokenBucket b;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.take(1000, 0, 0, SteadyTime{}), 0);
}

}  // namespace
}  // namespace tern::relay
