// S3State: the s3 sink's durable record of sealed objects and markers.
#include "s3_state.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace tern::relay::s3 {
namespace {

Partition part(const std::string& source, int hour) {
  return Partition{source, "2026-11-26", hour};
}

ObjectRecord object(const Partition& p, uint64_t first, uint64_t last) {
  ObjectRecord o;
  o.partition = p;
  o.first_seq = first;
  o.last_seq = last;
  o.key = "events/" + p.source + "/dt=" + p.date + "/hour=" + std::to_string(p.hour) + "/r-" +
          std::to_string(first) + "-" + std::to_string(last) + ".ndjson.gz";
  o.events = last - first + 1;
  o.bytes = 1000 + first;
  o.sha256_hex = std::string(64, 'a');
  o.min_received_at = "2026-11-26T05:00:00.000Z";
  o.max_received_at = "2026-11-26T05:59:00.000Z";
  o.staging_path = "/tmp/x/" + std::to_string(first);
  return o;
}

class S3StateTest : public ::testing::Test {
 protected:
  std::unique_ptr<S3State> open() {
    auto s = S3State::open(dir_.file("s3/sink/state.db"));
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? std::move(*s) : nullptr;
  }
  tern::testing::TempDir dir_;
};

TEST_F(S3StateTest, SealedObjectsSurviveAReopenWithTheirRangesAndChecksums) {
  {
    auto s = open();
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 1, 10)));
    ASSERT_TRUE(s->record_sealed(object(part("app", 5), 3, 7)));
  }
  auto s = open();
  auto pending = s->pending_uploads();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].first_seq, 1u);
  EXPECT_EQ((*pending)[0].last_seq, 10u);
  EXPECT_EQ((*pending)[0].partition, part("web", 5));
  EXPECT_EQ((*pending)[0].sha256_hex, std::string(64, 'a'));
  EXPECT_EQ((*pending)[0].bytes, 1001u);
  EXPECT_EQ((*pending)[0].staging_path, "/tmp/x/1");
  EXPECT_EQ((*pending)[1].key, object(part("app", 5), 3, 7).key);
  EXPECT_FALSE((*pending)[1].uploaded);
}

TEST_F(S3StateTest, CoversAnswersForTheObjectsOfItsPartitionOnly) {
  {
    auto s = open();
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 10, 20)));
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 30, 40)));
  }
  auto s = open();  // the ranges come back from the database
  for (uint64_t seq : {10u, 15u, 20u, 30u, 40u})
    EXPECT_TRUE(s->covers(part("web", 5), seq).value()) << seq;
  for (uint64_t seq : {9u, 21u, 29u, 41u})
    EXPECT_FALSE(s->covers(part("web", 5), seq).value()) << seq;
  EXPECT_FALSE(s->covers(part("web", 6), 15).value());
  EXPECT_FALSE(s->covers(part("app", 5), 15).value());
}

TEST_F(S3StateTest, UploadedObjectsLeaveThePendingListAndUploadIdsAreKept) {
  {
    auto s = open();
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 1, 10)));
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 11, 20)));
    ASSERT_TRUE(s->set_upload_id(object(part("web", 5), 11, 20).key, "upload-1"));
    ASSERT_TRUE(s->mark_uploaded(object(part("web", 5), 1, 10).key));
    EXPECT_EQ(s->mark_uploaded("no/such/key").code(), StatusCode::kNotFound);
  }
  auto s = open();
  auto pending = s->pending_uploads();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].first_seq, 11u);
  EXPECT_EQ((*pending)[0].upload_id, "upload-1");
  auto all = s->objects_of(part("web", 5));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0].uploaded);
  EXPECT_FALSE((*all)[1].uploaded);
}

TEST_F(S3StateTest, MarkersAreRememberedPerPartition) {
  {
    auto s = open();
    ASSERT_TRUE(s->record_sealed(object(part("web", 4), 1, 10)));
    ASSERT_TRUE(s->record_sealed(object(part("web", 5), 11, 20)));
    ASSERT_TRUE(s->record_sealed(object(part("app", 5), 21, 22)));
    auto without = s->partitions_without_marker();
    ASSERT_TRUE(without);
    ASSERT_EQ(without->size(), 3u);
    EXPECT_EQ((*without)[0], part("web", 4));  // the oldest hour first
    ASSERT_TRUE(s->mark_marker_written(part("web", 4)));
    ASSERT_TRUE(s->mark_marker_written(part("web", 4)));  // again: no error
  }
  auto s = open();
  EXPECT_TRUE(s->marker_written(part("web", 4)).value());
  EXPECT_FALSE(s->marker_written(part("web", 5)).value());
  auto without = s->partitions_without_marker();
  ASSERT_TRUE(without);
  ASSERT_EQ(without->size(), 2u);
  EXPECT_EQ((*without)[0], part("app", 5));
  EXPECT_EQ((*without)[1], part("web", 5));
}

TEST_F(S3StateTest, ForgetThroughDropsOnlyUploadedObjectsWithAMarkerBehindTheCursor) {
  auto s = open();
  ObjectRecord a = object(part("web", 4), 1, 10);
  ObjectRecord b = object(part("web", 4), 11, 20);
  ObjectRecord c = object(part("web", 5), 21, 30);  // no marker
  ObjectRecord d = object(part("web", 4), 31, 40);  // past the cursor
  for (const auto* o : {&a, &b, &c, &d}) {
    ASSERT_TRUE(s->record_sealed(*o));
    ASSERT_TRUE(s->mark_uploaded(o->key));
  }
  ASSERT_TRUE(s->mark_marker_written(part("web", 4)));
  ASSERT_TRUE(s->forget_through(30));
  EXPECT_FALSE(s->covers(part("web", 4), 5).value());
  EXPECT_FALSE(s->covers(part("web", 4), 15).value());
  EXPECT_TRUE(s->covers(part("web", 5), 25).value());
  EXPECT_TRUE(s->covers(part("web", 4), 35).value());
  s.reset();
  s = open();
  auto left = s->objects_of(part("web", 4));
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().first_seq, 31u);
  EXPECT_TRUE(s->covers(part("web", 5), 25).value());
  EXPECT_FALSE(s->covers(part("web", 4), 5).value());
}

TEST_F(S3StateTest, ADatabaseThatCannotBeCreatedIsAnError) {
  auto s = S3State::open("/proc/no-such-dir/state.db");
  EXPECT_FALSE(s);
}

}  // namespace
}  // namespace tern::relay::s3
