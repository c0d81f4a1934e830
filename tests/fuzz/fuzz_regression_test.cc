// Unit tests for defects the fuzz targets found (their inputs are also in
// corpus/<target>/regression-*).
#include <gtest/gtest.h>

#include "iso8601.h"

namespace tern::relay {
namespace {

// fuzz_request_handler / fuzz_event_validator: a device timestamp in year
// 5056 overflowed the nanosecond time_point (UBSan: signed overflow).
TEST(FuzzRegressionTest, TimestampsOutsideTheRepresentableYearsAreUnparseable) {
  EXPECT_FALSE(parse_iso8601("5056-11-25T23:00:00Z").has_value());
  EXPECT_FALSE(parse_iso8601("9999-12-31T23:59:59.999Z").has_value());
  EXPECT_FALSE(parse_iso8601("0001-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(parse_iso8601("1899-12-31T23:59:59Z").has_value());
  ASSERT_TRUE(parse_iso8601("2100-12-31T23:59:59Z").has_value());
  ASSERT_TRUE(parse_iso8601("1900-01-01T00:00:00Z").has_value());
  EXPECT_EQ(format_iso8601_ms(*parse_iso8601("2025-11-26T00:00:00.123Z")),
            "2025-11-26T00:00:00.123Z");
}

}  // namespace
}  // namespace tern::relay
