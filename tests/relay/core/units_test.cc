#include "units.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using namespace std::chrono_literals;

std::size_t size_of(std::string_view text) {
  std::size_t v = 0;
  EXPECT_TRUE(parse_size(text, &v)) << text;
  return v;
}

std::chrono::milliseconds duration_of(std::string_view text) {
  std::chrono::milliseconds v{0};
  EXPECT_TRUE(parse_duration(text, &v)) << text;
  return v;
}

TEST(UnitsTest, SizesAreDecimalOrBinaryWithAnOptionalSpace) {
  EXPECT_EQ(size_of("1048576"), 1048576u);
  EXPECT_EQ(size_of("512B"), 512u);
  EXPECT_EQ(size_of("32KB"), 32'000u);
  EXPECT_EQ(size_of("32kB"), 32'000u);
  EXPECT_EQ(size_of("512KiB"), 512u * 1024);
  EXPECT_EQ(size_of("1 GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(size_of("1.5MB"), 1'500'000u);
}

TEST(UnitsTest, MalformedOrAbsurdSizesAreRefused) {
  std::size_t v = 7;
  for (std::string_view bad : {"", "KiB", "12 parsecs", "-1", "1e3", "1.2.3KB", "99999999TB"}) {
    EXPECT_FALSE(parse_size(bad, &v)) << bad;
  }
  EXPECT_EQ(v, 7u);  // untouched
}

TEST(UnitsTest, DurationsNeedAUnit) {
  EXPECT_EQ(duration_of("250ms"), 250ms);
  EXPECT_EQ(duration_of("2s"), 2s);
  EXPECT_EQ(duration_of("1.5m"), 90s);
  EXPECT_EQ(duration_of("5 min"), 5min);
  EXPECT_EQ(duration_of("1h"), 1h);
  EXPECT_EQ(duration_of("7d"), 168h);
  EXPECT_EQ(duration_of("1500us"), 2ms);  // rounded to milliseconds
  std::chrono::milliseconds v{7};
  for (std::string_view bad : {"", "10", "s", "10 fortnights", "-1s", "1e3s", "99999999999d"}) {
    EXPECT_FALSE(parse_duration(bad, &v)) << bad;
  }
  EXPECT_EQ(v, 7ms);
}

}  // namespace
}  // namespace tern::relay
