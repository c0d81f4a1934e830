#include "tern/base/gzip.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::base {
namespace {

TEST(GzipTest, RoundTripsBodiesOfEverySize) {
  std::string json;
  for (int i = 0; i < 2000; ++i) json += "{\"event\":\"x\",\"seq\":" + std::to_string(i) + "}";
  std::string bytes;
  for (int i = 0; i < 70000; ++i) bytes.push_back(static_cast<char>((i * 7919) >> 3));
  for (const std::string& in : {std::string(), std::string("a"), json, bytes}) {
    for (int level : {-1, 0, 1, 6, 9}) {
      auto z = gzip_compress(in, level);
      ASSERT_TRUE(z.is_ok()) << z.status().to_string();
      ASSERT_GE(z->size(), 2u);
      EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // the gzip magic
      EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
      auto back = gzip_decompress(*z);
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      EXPECT_EQ(*back, in);
    }
  }
}

TEST(GzipTest, CompressIntoReusesTheCallersBuffer) {
  std::string out = "old contents";
  ASSERT_TRUE(gzip_compress_into("hello hello hello", 6, &out).is_ok());
  auto back = gzip_decompress(out);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, "hello hello hello");
}

TEST(GzipTest, DecompressStopsAtItsBound) {
  auto bomb = gzip_compress(std::string(1 << 20, 'a'));
  ASSERT_TRUE(bomb.is_ok());
  struct Case {
    std::size_t max_output;
    StatusCode code;
  };
  const Case cases[] = {{1024, StatusCode::kOutOfRange},
                        {(1 << 20) - 1, StatusCode::kOutOfRange},
                        {1 << 20, StatusCode::kOk}};
  for (const Case& c : cases) {
    EXPECT_EQ(gzip_decompress(*bomb, c.max_output).status().code(), c.code) << c.max_output;
  }
}

TEST(GzipTest, DecompressRefusesGarbageAndTruncatedData) {
  auto z = gzip_compress("a body long enough to be cut in the middle of its deflate stream");
  ASSERT_TRUE(z.is_ok());
  for (const std::string& in : {std::string("not gzip at all"), z->substr(0, z->size() / 2)}) {
    EXPECT_EQ(gzip_decompress(in).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace tern::base
