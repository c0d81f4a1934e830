#include "tern/base/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tern::base {
namespace {

// xxxxxxxx-xxxx-Vxxx-Nxxx-xxxxxxxxxxxx, lower-case hex, version V, variant 10xx.
bool is_uuid(const std::string& s, char version) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash != (c == '-')) return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[14] == version && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

TEST(UuidTest, EveryKindHasItsVersionAndTheRfcVariant) {
  for (int i = 0; i < 1000; ++i) {
    std::string v4 = uuid_v4();
    std::string v7 = uuid_v7(1'700'000'000'000 + i);
    ASSERT_TRUE(is_uuid(v4, '4')) << v4;
    ASSERT_TRUE(is_uuid(v7, '7')) << v7;
  }
}

TEST(UuidTest, V7StartsWithItsMillisecondTimestamp) {
  struct Case {
    int64_t ms;
    const char* prefix;
  };
  const Case cases[] = {{0, "00000000-0000-7"},
                        {1'700'000'000'000, "018bcfe5-6800-7"},
                        {0xFFFFFFFFFFFF, "ffffffff-ffff-7"}};
  for (const Case& c : cases) {
    std::string id = uuid_v7(c.ms);
    EXPECT_EQ(id.substr(0, 15), c.prefix) << id;
    std::string appended = "x";
    append_uuid_v7(appended, c.ms);
    EXPECT_EQ(appended.substr(0, 16), std::string("x") + c.prefix);
  }
}

TEST(UuidTest, IdsDoNotRepeat) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    ids.insert(uuid_v4());
    ids.insert(uuid_v7(42));
  }
  EXPECT_EQ(ids.size(), 20000u);
}

}  // namespace
}  // namespace tern::base
