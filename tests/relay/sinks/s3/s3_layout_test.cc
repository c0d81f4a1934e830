// The s3 sink's key layout and event times.
#include "s3_layout.h"

#include <gtest/gtest.h>

#include "tern/base/iso8601.h"

namespace tern::relay::s3 {
namespace {

SysTime at(const char* text) {
  auto t = base::parse_iso8601(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(SysTime{});
}

TEST(S3LayoutTest, ObjectKeysHaveTheDocumentedLayoutWithTwentyDigitSeqs) {
  Partition p = partition_at("web", at("2026-11-26T05:59:59.999Z"));
  EXPECT_EQ(object_key("events", p, "relay-1", 1, 1234),
            "events/web/dt=2026-11-26/hour=05/relay-1-00000000000000000001-00000000000000001234"
            ".ndjson.gz");
  EXPECT_EQ(manifest_key(p, "relay-1"), "_manifests/web/dt=2026-11-26/hour=05/relay-1.json");
  EXPECT_EQ(success_key("events", p, "relay-1"),
            "events/web/dt=2026-11-26/hour=05/_SUCCESS.relay-1");
  EXPECT_EQ(object_key("", p, "r", 2, 3),
            "web/dt=2026-11-26/hour=05/r-00000000000000000002-00000000000000000003.ndjson.gz");
}

TEST(S3LayoutTest, PartitionsAreUtcHoursOfTheTimeGiven) {
  Partition p = partition_at("s", at("2026-12-31T23:30:00+01:00"));
  EXPECT_EQ(p.date, "2026-12-31");
  EXPECT_EQ(p.hour, 22);
  p = partition_at("s", at("2026-12-31T23:30:00-01:00"));
  EXPECT_EQ(p.date, "2027-01-01");
  EXPECT_EQ(p.hour, 0);
  p = partition_at("s", at("2024-02-29T00:00:00Z"));
  EXPECT_EQ(p.date, "2024-02-29");
  EXPECT_EQ(hour_start(p), at("2024-02-29T00:00:00Z"));
  EXPECT_EQ(hour_end(p), at("2024-02-29T01:00:00.000Z"));
}

TEST(S3LayoutTest, BadTimestampsAreRefused) {
  for (const char* bad : {"", "2026-11-26", "2026-13-01T00:00:00Z", "2026-11-26T05:00:00Q",
                          "yesterday", "2026-11-26T25:00:00Z"}) {
    EXPECT_FALSE(base::parse_iso8601(bad).has_value()) << bad;
  }
}

TEST(S3LayoutTest, TheRelaysReceivedAtIsTheLastOne) {
  std::string e =
      "{\"properties\":{\"receivedAt\":\"1999-01-01T00:00:00Z\"},\"timestamp\":\"2026-11-26T04:"
      "00:00.000Z\",\"receivedAt\":\"2026-11-26T05:00:01.000Z\",\"context\":{\"sourceId\":\"s\"}}";
  EXPECT_EQ(received_at_of(e), "2026-11-26T05:00:01.000Z");
  EXPECT_EQ(received_at_of("{\"type\":\"track\"}"), "");
}

TEST(S3LayoutTest, TopLevelStringsIgnoreNestedMembersAndValues) {
  std::string e =
      "{\"properties\":{\"timestamp\":\"nested\",\"a\":[{\"timestamp\":\"deeper\"}]},"
      "\"event\":\"timestamp\",\"timestamp\" : \"2026-11-26T04:00:00.000Z\"}";
  EXPECT_EQ(top_level_string(e, "timestamp"), "2026-11-26T04:00:00.000Z");
  EXPECT_EQ(top_level_string("{\"x\":\"timestamp\"}", "timestamp"), "");
  EXPECT_EQ(top_level_string("{\"timestamp\":12}", "timestamp"), "");
  EXPECT_EQ(top_level_string("{\"a\":\"q\\\"x\",\"timestamp\":\"t\"}", "timestamp"), "t");
}

TEST(S3LayoutTest, OnlyThisRelaysObjectKeysAreRecognised) {
  Partition p = partition_at("web", at("2026-11-26T05:00:00Z"));
  EXPECT_TRUE(is_object_key_of("events", "r1", object_key("events", p, "r1", 5, 9)));
  EXPECT_FALSE(is_object_key_of("events", "r1", object_key("events", p, "r10", 5, 9)));
  EXPECT_FALSE(is_object_key_of("events", "r", object_key("events", p, "r1", 5, 9)));
  EXPECT_FALSE(is_object_key_of("other", "r1", object_key("events", p, "r1", 5, 9)));
  EXPECT_FALSE(is_object_key_of("", "r1", manifest_key(p, "r1")));
}

}  // namespace
}  // namespace tern::relay::s3
