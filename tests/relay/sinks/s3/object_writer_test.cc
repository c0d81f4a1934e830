// ObjectWriter: the s3 sink's deterministic gzip NDJSON staging files.
#include "object_writer.h"

#include <openssl/sha.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace tern::relay::s3 {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&zs);
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : d) {
    s += kHex[c >> 4];
    s += kHex[c & 0xf];
  }
  return s;
}

std::vector<std::string> events(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) {
    v.push_back("{\"type\":\"track\",\"messageId\":\"m-" + std::to_string(i) +
                "\",\"properties\":{\"n\":" + std::to_string(i * 7919 % 1000) +
                "},\"receivedAt\":\"2026-11-26T05:00:01.000Z\"}");
  }
  return v;
}

std::string write_object(const std::string& path, const std::vector<std::string>& evs,
                         std::unique_ptr<ObjectWriter>* keep = nullptr) {
  auto w = ObjectWriter::create(path, 6);
  EXPECT_TRUE(w) << w.status().to_string();
  for (const auto& e : evs) EXPECT_TRUE((*w)->add(e));
  EXPECT_TRUE((*w)->finish());
  std::string bytes = read_file(path);
  if (keep) *keep = std::move(*w);
  return bytes;
}

TEST(ObjectWriterTest, TheSameEventsGiveByteIdenticalFiles) {
  tern::testing::TempDir dir;
  auto evs = events(20000);
  std::string a = write_object(dir.file("a.gz"), evs);
  std::string b = write_object(dir.file("b.gz"), evs);
  ASSERT_GT(a.size(), 100u);
  EXPECT_EQ(a, b);
  // A fixed header: gzip magic, deflate, no flags, mtime 0, OS unknown.
  const std::string header("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  EXPECT_EQ(a.substr(0, 10), header);
}

TEST(ObjectWriterTest, GunzipGivesBackOneLinePerEvent) {
  tern::testing::TempDir dir;
  auto evs = events(5000);
  evs.push_back("{\"a\":\n1}");  // a raw newline (whitespace in JSON) stays on one line
  std::string text = gunzip(write_object(dir.file("o.gz"), evs));
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), evs.size());
  for (std::size_t i = 0; i + 1 < evs.size(); ++i) ASSERT_EQ(lines[i], evs[i]);
  EXPECT_EQ(lines.back(), "{\"a\": 1}");
  EXPECT_EQ(text.back(), '\n');
}

TEST(ObjectWriterTest, SizeAndSha256DescribeTheFileOnDisk) {
  tern::testing::TempDir dir;
  std::unique_ptr<ObjectWriter> w;
  std::string bytes = write_object(dir.file("o.gz"), events(3000), &w);
  EXPECT_EQ(w->size(), bytes.size());
  EXPECT_EQ(w->sha256_hex(), sha256_hex(bytes));
  EXPECT_EQ(w->events(), 3000u);
  EXPECT_EQ(w->path(), dir.file("o.gz"));
  EXPECT_LE(w->compressed_bytes(), w->size());
}

TEST(ObjectWriterTest, CompressedBytesGrowAsEventsAreAddedAndNeverPassTheFinalSize) {
  tern::testing::TempDir dir;
  auto w = ObjectWriter::create(dir.file("o.gz"), 6);
  ASSERT_TRUE(w);
  uint64_t last = (*w)->compressed_bytes();
  bool grew = false;
  for (const auto& e : events(40000)) {
    ASSERT_TRUE((*w)->add(e));
    ASSERT_GE((*w)->compressed_bytes(), last);
    grew = grew || (*w)->compressed_bytes() > last;
    last = (*w)->compressed_bytes();
  }
  EXPECT_TRUE(grew) << "compressed_bytes() must follow the stream, not only finish()";
  EXPECT_GT((*w)->uncompressed_bytes(), last);
  ASSERT_TRUE((*w)->finish());
  EXPECT_GE((*w)->size(), last);
}

TEST(ObjectWriterTest, AnObjectWithNoEventsIsAnEmptyGzipFile) {
  tern::testing::TempDir dir;
  EXPECT_EQ(gunzip(write_object(dir.file("o.gz"), {})), "");
}

TEST(ObjectWriterTest, AFileThatCannotBeCreatedIsAnIOError) {
  auto w = ObjectWriter::create("/nonexistent-dir/o.gz", 6);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.status().code(), StatusCode::kIOError);
  EXPECT_NE(w.status().message().find("/nonexistent-dir/o.gz"), std::string::npos);
}

}  // namespace
}  // namespace tern::relay::s3
