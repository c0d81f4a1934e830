#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "event_writer.h"
#include "fakes.h"
#include "tern/base/gzip.h"
#include "tern/base/iso8601.h"
#include "tern/base/json_text.h"
#include "tern/base/uuid.h"
#include "text.h"

namespace tern {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST(Utf8Test, RejectsIllFormedText) {
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("ok\xff"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
}

TEST(JsonStringTest, EscapedTextParsesBackToTheOriginal) {
  std::string original = "quote\" backslash\\ newline\n tab\t ctl\x01 caf\xc3\xa9";
  std::string out;
  base::append_json_string(out, original);
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), original);
}

TEST(JsonObjectTextTest, AcceptsOnlyOneValidObject) {
  EXPECT_TRUE(is_json_object_text(R"({"a":1,"b":[true,null]})"));
  EXPECT_TRUE(is_json_object_text("  {}  "));
  EXPECT_FALSE(is_json_object_text("[1,2]"));
  EXPECT_FALSE(is_json_object_text("{\"a\":}"));
  EXPECT_FALSE(is_json_object_text("{} {}"));
  EXPECT_FALSE(is_json_object_text("{\"a\":\"\xff\"}"));
  EXPECT_FALSE(is_json_object_text(""));
}

TEST(JsonObjectTextTest, AgreesWithNlohmannOnTrickyInputs) {
  const char* cases[] = {
      R"({"n":-0.5e+10,"z":0,"e":1E3})",
      R"({"n":01})",
      R"({"n":1.})",
      R"({"n":-})",
      R"({"n":.5})",
      R"({"s":"\u00e9\ud83d\ude00"})",
      R"({"s":"\ud83d"})",
      R"({"s":"\ude00"})",
      R"({"s":"\x"})",
      "{\"s\":\"tab\there\"}",
      R"({"a":[1,2,]})",
      R"({"a":[]}  )",
      R"({,})",
      R"({"a" 1})",
      R"({"a":tru})",
      R"({"a":null,"b":false,"c":true})",
      R"({"k":{"k":{"k":[{"x":"y"}]}}})",
      R"({"a":1}x)",
  };
  for (const char* c : cases) {
    bool expected = nlohmann::json::accept(c);
    EXPECT_EQ(is_json_object_text(c), expected) << c;
  }
}

TEST(JsonObjectTextTest, RefusesNumbersBeyondADoublesRange) {
  // Receivers (simdjson at the relay, nlohmann) refuse them; found by fuzz_event_serialiser.
  EXPECT_FALSE(is_json_object_text(R"({"a":1e400})"));
  EXPECT_FALSE(is_json_object_text(R"({"a":-2.5E+309})"));
  EXPECT_FALSE(is_json_object_text("{\"a\":" + std::string(400, '9') + "}"));
  EXPECT_TRUE(is_json_object_text(
      R"({"a":1e308,"b":-1.5e-400,"c":0.5e2,"d":123456789012345678901234567890})"));
}

TEST(JsonObjectTextTest, RefusesNestingBeyondTheDepthLimit) {
  std::string ok =
      "{\"a\":" + std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']') + "}";
  EXPECT_TRUE(is_json_object_text(ok));
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(is_json_object_text(deep));  // and no stack overflow
}

TEST(ParseJsonTest, ReturnsDiscardedInsteadOfThrowing) {
  EXPECT_TRUE(parse_json("{\"a\":").is_discarded());
  EXPECT_EQ(parse_json(R"({"a":[1]})")["a"][0], 1);
}

TEST(Iso8601Test, FormatsUtcWithMilliseconds) {
  using namespace std::chrono;
  EXPECT_EQ(base::format_iso8601_ms(system_clock::time_point(milliseconds(0))),
            "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(base::format_iso8601_ms(system_clock::time_point(milliseconds(951782400123))),
            "2000-02-29T00:00:00.123Z");
  EXPECT_EQ(base::format_iso8601_ms(system_clock::time_point(milliseconds(1795661999999))),
            "2026-11-26T02:59:59.999Z");
}

TEST(UuidV7Test, HasVersionVariantAndTimestamp) {
  const int64_t ms = 1795661999999;
  std::string id = base::uuid_v7(ms);
  ASSERT_TRUE(testing::is_uuid(id, '7')) << id;
  std::string hex = id.substr(0, 8) + id.substr(9, 4);
  EXPECT_EQ(std::stoll(hex, nullptr, 16), ms);
}

TEST(UuidV7Test, IdsAreUniqueAndSortByTime) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(base::uuid_v7(1000));
  EXPECT_EQ(ids.size(), 10000u);
  EXPECT_LT(base::uuid_v7(1000), base::uuid_v7(1001));
}

TEST(UuidV4Test, HasVersionFour) {
  std::string id = base::uuid_v4();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_TRUE(testing::is_uuid(id, '4')) << id;
}

TEST(GzipTest, RoundTrips) {
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "{\"event\":\"x\",\"seq\":" + std::to_string(i) + "}";
  auto z = base::gzip_compress(input);
  ASSERT_TRUE(z.is_ok());
  EXPECT_LT(z.value().size(), input.size() / 4);
  EXPECT_EQ(static_cast<unsigned char>(z.value()[0]), 0x1f);  // gzip magic
  auto back = base::gzip_decompress(z.value());
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back.value(), input);
}

TEST(GzipTest, DecompressRefusesGarbageAndBombs) {
  EXPECT_FALSE(base::gzip_decompress("not gzip at all").is_ok());
  auto z = base::gzip_compress(std::string(1 << 20, 'a'));
  ASSERT_TRUE(z.is_ok());
  EXPECT_EQ(base::gzip_decompress(z.value(), 1024).status().code(), StatusCode::kOutOfRange);
}

TEST(EventWriterTest, WritesSegmentFieldsAndOmitsEmptyOnes) {
  EventParts p;
  p.type = MessageType::kTrack;
  p.event = "Clicked \"Buy\"";
  p.anonymous_id = "anon-1";
  p.properties_json = R"({"price":9.5})";
  p.context_json = R"({"library":{"name":"tern-cpp","version":"0.1.0"}})";
  p.timestamp = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795661999999));
  p.now_ms = 1795661999999;
  std::string text;
  write_event(text, p);
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["type"], "track");
  EXPECT_EQ(j["event"], "Clicked \"Buy\"");
  EXPECT_EQ(j["anonymousId"], "anon-1");
  EXPECT_EQ(j["timestamp"], "2026-11-26T02:59:59.999Z");
  EXPECT_EQ(j["properties"]["price"], 9.5);
  EXPECT_EQ(j["context"]["library"]["name"], "tern-cpp");
  EXPECT_EQ(j["messageId"].get<std::string>().size(), 36u);
  EXPECT_FALSE(j.contains("userId"));
  EXPECT_FALSE(j.contains("traits"));
}

TEST(EventWriterTest, BatchJoinsStoredTextAndStampsSentAt) {
  std::vector<std::string> events = {R"({"a":1})", R"({"b":2})"};
  std::string body = write_batch(
      events, [](const std::string& s) -> const std::string& { return s; },
      std::chrono::system_clock::time_point(std::chrono::milliseconds(0)));
  EXPECT_EQ(body, R"({"batch":[{"a":1},{"b":2}],"sentAt":"1970-01-01T00:00:00.000Z"})");
  EXPECT_LE(body.size() - events[0].size() - events[1].size(), kBatchOverhead + 1);
}

}  // namespace
}  // namespace tern
