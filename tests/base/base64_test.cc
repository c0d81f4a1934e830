#include "tern/base/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::base {
namespace {

TEST(Base64Test, EncodesTheRfc4648Vectors) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {{"", ""},
                        {"f", "Zg=="},
                        {"fo", "Zm8="},
                        {"foo", "Zm9v"},
                        {"foob", "Zm9vYg=="},
                        {"fooba", "Zm9vYmE="},
                        {"foobar", "Zm9vYmFy"},
                        {"key:", "a2V5Og=="}};
  for (const Case& c : cases) {
    EXPECT_EQ(base64_encode(c.in), c.out) << c.in;
    std::string back;
    EXPECT_TRUE(base64_decode(c.out, &back)) << c.out;
    EXPECT_EQ(back, c.in);
  }
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    std::string in = all.substr(0, n);
    std::string back;
    ASSERT_TRUE(base64_decode(base64_encode(in), &back));
    EXPECT_EQ(back, in) << n;
  }
}

TEST(Base64Test, DecodesTheUrlSafeAlphabetAndMissingPadding) {
  struct Case {
    const char* in;
    std::string out;
  };
  const Case cases[] = {
      {"-_8", "\xfb\xff"},    // URL-safe for "+/8="
      {"+/8=", "\xfb\xff"},   // the same bytes, standard alphabet
      {"Zm8", "fo"},          // no padding
      {"Zm8=ignored", "fo"},  // decoding stops at '='
  };
  for (const Case& c : cases) {
    std::string back;
    EXPECT_TRUE(base64_decode(c.in, &back)) << c.in;
    EXPECT_EQ(back, c.out) << c.in;
  }
}

TEST(Base64Test, RejectsCharactersOutsideBothAlphabets) {
  for (const char* in : {"Zm 9v", "Zm9v\n", "Zm9v!", "Zm9v\xc3\xa9", "*"}) {
    std::string back;
    EXPECT_FALSE(base64_decode(in, &back)) << in;
  }
}

}  // namespace
}  // namespace tern::base
