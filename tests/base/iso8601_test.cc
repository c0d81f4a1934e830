#include "tern/base/iso8601.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tern::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(Iso8601Test, FormatsUtcWithMillisecondsInTwentyFourCharacters) {
  struct Case {
    int64_t ms;
    const char* text;
  };
  const Case cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
      {951'782'400'123, "2000-02-29T00:00:00.123Z"},  // a leap day
      {1'709'296'496'789, "2024-03-01T12:34:56.789Z"},
      {1'795'661'999'999, "2026-11-26T02:59:59.999Z"},
      {9'214'646'400'000, "2262-01-01T00:00:00.000Z"},   // near the end of system_clock
      {-9'214'560'000'000, "1678-01-01T00:00:00.000Z"},  // and near its start
  };
  for (const Case& c : cases) {
    system_clock::time_point t{milliseconds(c.ms)};
    EXPECT_EQ(format_iso8601_ms(t), c.text) << c.ms;
    std::string out = "at ";
    append_iso8601_ms(out, t);
    EXPECT_EQ(out, std::string("at ") + c.text);
  }
}

}  // namespace
}  // namespace tern::base
