#include "tern/base/sha256.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace tern::base {
namespace {

// FIPS 180-2's examples and the empty string's digest.
TEST(Sha256Test, OneShotDigestsMatchTheStandardsExamples) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, PiecesGiveTheSameDigestAsTheWhole) {
  const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 digest;
  ASSERT_TRUE(digest.ok());
  for (size_t i = 0; i < text.size(); i += 7) {
    ASSERT_TRUE(digest.update(text.data() + i, std::min<size_t>(7, text.size() - i)));
  }
  std::string hex;
  ASSERT_TRUE(digest.finish(&hex));
  EXPECT_EQ(hex, sha256_hex(text));
}

TEST(Sha256Test, AFinishedDigestTakesNoMoreData) {
  Sha256 digest;
  std::string hex;
  ASSERT_TRUE(digest.finish(&hex));
  EXPECT_EQ(hex, sha256_hex(""));
  EXPECT_FALSE(digest.update("x", 1));
  EXPECT_FALSE(digest.finish(&hex));
}

}  // namespace
}  // namespace tern::base
