#include "iso8601.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using std::chrono::milliseconds;

int64_t ms(SysTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

TEST(Iso8601Test, ParsesUtcWithMilliseconds) {
  auto t = parse_iso8601("2024-03-01T12:34:56.789Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(ms(*t), 1709296496789);
}

TEST(Iso8601Test, ParsesOffsetsFractionsAndNoZone) {
  EXPECT_EQ(ms(*parse_iso8601("2024-03-01T14:34:56+02:00")), 1709296496000);
  EXPECT_EQ(ms(*parse_iso8601("2024-03-01T10:04:56-0230")), 1709296496000);
  EXPECT_EQ(ms(*parse_iso8601("2024-03-01T12:34:56")), 1709296496000);
  EXPECT_EQ(ms(*parse_iso8601("2024-03-01 12:34:56.5z")), 1709296496500);
  EXPECT_EQ(ms(*parse_iso8601("2024-03-01T12:34:56.123456789Z")), 1709296496123);
  EXPECT_EQ(ms(*parse_iso8601("1970-01-01T00:00:00Z")), 0);
}

TEST(Iso8601Test, RefusesMalformedAndOutOfRange) {
  for (const char* bad :
       {"", "2024", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00Q", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+2",
        "not a date at all!!", "2024-01-01T00:00:00Zjunk"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
  EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00Z"));
}

TEST(Iso8601Test, FormatsUtcMillisecondsAndRoundTrips) {
  SysTime t{milliseconds(1709296496789)};
  EXPECT_EQ(format_iso8601_ms(t), "2024-03-01T12:34:56.789Z");
  EXPECT_EQ(format_iso8601_ms(SysTime{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(SysTime{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(ms(*parse_iso8601(format_iso8601_ms(t))), 1709296496789);
  std::string out = "\"";
  append_iso8601_ms(out, t);
  EXPECT_EQ(out, "\"2024-03-01T12:34:56.789Z");  // appended, the rest kept
}

}  // namespace
}  // namespace tern::relay
