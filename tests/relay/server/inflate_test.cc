#include "inflate.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace tern::relay {
namespace {

using testing::gzip;
using testing::gzip_zeros;

TEST(InflateTest, InflatesGzipUnderTheCap) {
  // Pseudo-random letters: compresses about 2:1, well under the ratio limit.
  std::string text(300000, 'x');
  uint32_t x = 12345;
  for (char& c : text) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 26);
  }
  std::string out;
  EXPECT_EQ(inflate_bounded(gzip(text), true, 1 << 20, 100, &out), InflateResult::kOk);
  EXPECT_EQ(out, text);
}

TEST(InflateTest, GzipBombIsCutOffAtTheCapWithoutInflatingWhole) {
  std::string bomb = gzip_zeros(1ull << 30);  // 1 GiB of zeros, ~1 MB compressed
  std::string out;
  EXPECT_EQ(inflate_bounded(bomb, true, 4 << 20, 0, &out), InflateResult::kTooLarge);
  EXPECT_LE(out.size(), (4u << 20) + 1);
  EXPECT_LE(out.capacity(), 16u << 20);
}

TEST(InflateTest, TheSizeTheGzipTrailerClaimsIsOnlyAGuess) {
  // A bomb whose trailer claims 4 GiB (zlib checks the trailer only at the
  // end, which a bomb never reaches): still cut off at the cap.
  std::string bomb = gzip_zeros(1ull << 30);
  for (std::size_t i = bomb.size() - 4; i < bomb.size(); ++i) bomb[i] = '\xff';
  std::string out;
  EXPECT_EQ(inflate_bounded(bomb, true, 4 << 20, 0, &out), InflateResult::kTooLarge);
  EXPECT_LE(out.capacity(), 16u << 20);
  // A body whose trailer is too small for it inflates whole (the buffer
  // grows), and then fails zlib's own size check.
  std::string text(200000, 'q');
  std::string g = gzip(text);
  g[g.size() - 4] = 1;
  g[g.size() - 3] = g[g.size() - 2] = g[g.size() - 1] = 0;
  EXPECT_EQ(inflate_bounded(g, true, 1 << 20, 0, &out), InflateResult::kCorrupt);
  EXPECT_EQ(inflate_bounded(gzip(text), true, 1 << 20, 0, &out), InflateResult::kOk);
  EXPECT_EQ(out, text);
}

TEST(InflateTest, HighRatioIsCutOffPastTheFloor) {
  std::string body = gzip_zeros(1 << 20);  // ~1000:1
  std::string out;
  EXPECT_EQ(inflate_bounded(body, true, 64 << 20, 100, &out), InflateResult::kRatioTooHigh);
  // Small repetitive bodies stay under the floor and pass.
  EXPECT_EQ(inflate_bounded(gzip_zeros(32 * 1024), true, 64 << 20, 100, &out), InflateResult::kOk);
  EXPECT_EQ(out.size(), 32u * 1024);
}

TEST(InflateTest, CorruptAndTruncatedInputAreReported) {
  std::string out;
  EXPECT_EQ(inflate_bounded("not gzip at all", true, 1 << 20, 100, &out), InflateResult::kCorrupt);
  std::string g = gzip("{\"batch\":[]}");
  EXPECT_EQ(inflate_bounded(g.substr(0, g.size() - 6), true, 1 << 20, 100, &out),
            InflateResult::kCorrupt);
  EXPECT_EQ(inflate_bounded(g + "trailing", true, 1 << 20, 100, &out), InflateResult::kCorrupt);
}

TEST(InflateTest, ConcatenatedGzipMembersAreOneBody) {
  std::string out;
  EXPECT_EQ(inflate_bounded(gzip("abc") + gzip("def"), true, 1 << 20, 100, &out),
            InflateResult::kOk);
  EXPECT_EQ(out, "abcdef");
}

}  // namespace
}  // namespace tern::relay
