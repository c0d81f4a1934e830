#include "crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tern::relay {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  // The check value of CRC-32C (RFC 3720, iSCSI): "123456789" -> 0xE3069283.
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(0, "", 0), 0u);
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string data(4096 + 64, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 63u, 64u, 65u, 1000u, 4096u}) {
      ASSERT_EQ(crc32c(0, data.data() + offset, n), crc32c_portable(0, data.data() + offset, n))
          << "offset " << offset << " length " << n << " hardware " << crc32c_hardware();
    }
  }
}

TEST(Crc32cTest, ContinuingAChecksumEqualsChecksummingTheWhole) {
  std::string whole = "a spool record header and its event text, in two pieces";
  uint32_t once = crc32c(0, whole.data(), whole.size());
  for (std::size_t cut = 0; cut <= whole.size(); cut += 5) {
    uint32_t part = crc32c(0, whole.data(), cut);
    EXPECT_EQ(crc32c(part, whole.data() + cut, whole.size() - cut), once) << "cut " << cut;
    uint32_t pp = crc32c_portable(0, whole.data(), cut);
    EXPECT_EQ(crc32c_portable(pp, whole.data() + cut, whole.size() - cut), once) << "cut " << cut;
  }
}

TEST(Crc32cTest, DetectsASingleFlippedBit) {
  std::string text(300, 'x');
  uint32_t good = crc32c(0, text.data(), text.size());
  for (std::size_t i = 0; i < text.size(); i += 37) {
    std::string bad = text;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    EXPECT_NE(crc32c(0, bad.data(), bad.size()), good) << "byte " << i;
  }
}

}  // namespace
}  // namespace tern::relay
