#include "json_splice.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <functional>
#include <string>
#include <vector>

namespace tern::relay {
namespace {

// The spans scan_events finds for the elements of the array `text`.
bool scan_array_elements(std::string_view text, std::vector<Span>* out) {
  std::vector<ScannedEvent> events;
  std::size_t count = 0;
  out->clear();
  if (!scan_events(text, 0, &events, &count)) return false;
  for (std::size_t i = 0; i < count; ++i) out->push_back(events[i].span);
  return true;
}

// The members scan_events finds for the object `text` (spans relative to
// where the object starts).
bool scan_object_members(std::string_view text, std::vector<MemberSpan>* out) {
  std::vector<ScannedEvent> events;
  std::size_t count = 0;
  out->clear();
  if (!scan_events(text, 0, &events, &count) || count != 1 || !events[0].is_object) return false;
  *out = events[0].members;
  return true;
}

TEST(JsonSpliceTest, ScansArrayElementsWithNestedBracesAndEscapedQuotes) {
  std::string text = R"( [ {"a":"x\"]}"}, [1,[2]] ,"s\\",3 ,{"b":{"c":"}"}} ] )";
  std::vector<Span> spans;
  ASSERT_TRUE(scan_array_elements(text, &spans));
  ASSERT_EQ(spans.size(), 5u);
  EXPECT_EQ(spans[0].of(text), R"({"a":"x\"]}"})");
  EXPECT_EQ(spans[1].of(text), "[1,[2]]");
  EXPECT_EQ(spans[2].of(text), R"("s\\")");
  EXPECT_EQ(spans[3].of(text), "3");
  EXPECT_EQ(spans[4].of(text), R"({"b":{"c":"}"}})");
}

TEST(JsonSpliceTest, ScanEventsFindsEachEventsMembersAndItsFirstContextsMembersInOnePass) {
  std::string text =
      R"({"batch": [ {"type":"track","context":{"ip":"1.2.3.4","app":{"v":"}"}},"n":1},
    {"context":null,"context":{"x":1}} , 7, {"a\"context":{"q":1},"context":{ }} ] })";
  std::size_t begin = 0;
  ASSERT_TRUE(find_nth_member_value(text, 0, &begin));
  std::vector<ScannedEvent> events(5);  // reused entries past the count are left alone
  std::size_t count = 0;
  ASSERT_TRUE(scan_events(text, begin, &events, &count));
  ASSERT_EQ(count, 4u);

  const ScannedEvent& e0 = events[0];
  std::string_view t0 = e0.span.of(text);
  EXPECT_EQ(t0, R"({"type":"track","context":{"ip":"1.2.3.4","app":{"v":"}"}},"n":1})");
  ASSERT_EQ(e0.members.size(), 3u);
  EXPECT_EQ(e0.members[2].member.of(t0), R"("n":1)");
  ASSERT_EQ(e0.context, 1);
  std::string_view ctx = e0.members[1].value.of(t0);
  ASSERT_EQ(e0.context_members.size(), 2u);
  EXPECT_EQ(e0.context_members[0].member.of(ctx), R"("ip":"1.2.3.4")");
  EXPECT_EQ(e0.context_members[1].value.of(ctx), R"({"v":"}"})");

  // The first "context" is null: no context members, the second is not descended into.
  EXPECT_EQ(events[1].context, -1);
  EXPECT_TRUE(events[1].context_members.empty());
  EXPECT_EQ(events[1].members.size(), 2u);

  EXPECT_FALSE(events[2].is_object);
  EXPECT_EQ(events[2].span.of(text), "7");

  // A key that merely contains "context" is not the context.
  ASSERT_EQ(events[3].context, 1);
  EXPECT_TRUE(events[3].context_members.empty());
}

TEST(JsonSpliceTest, ScanEventsOfASingleObjectAndOfBrokenText) {
  std::vector<ScannedEvent> events;
  std::size_t count = 0;
  ASSERT_TRUE(scan_events(R"(  {"type":"identify"}  )", 0, &events, &count));
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(events[0].span.begin, 2u);
  EXPECT_EQ(events[0].members.size(), 1u);
  EXPECT_FALSE(scan_events(R"([{"a":"unterminated}])", 0, &events, &count));
  EXPECT_FALSE(scan_events(R"([{"a":1},)", 0, &events, &count));
  EXPECT_FALSE(scan_events("", 0, &events, &count));
}

// Random strings and nested containers of every length around the 16-byte
// steps of the vectorised scan: escapes, quotes and brackets inside strings
// at every offset. The spans are known from how the text was built.
TEST(JsonSpliceTest, SpansAreExactForRandomTextByteScannedOrIndexed) {
  uint32_t x = 2463534242u;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  auto random_string = [&] {
    static const char* kPieces[] = {"a", "b",   "\\\"", "\\\\", "{", "}",      "[",
                                    "]", "\\n", ",",    ":",    " ", "\\u00e9"};
    std::string out = "\"";
    int n = static_cast<int>(next() % 40);
    for (int i = 0; i < n; ++i) out += kPieces[next() % 13];
    return out + "\"";
  };
  std::function<std::string(int)> random_value = [&](int depth) -> std::string {
    switch (depth > 3 ? next() % 2 : next() % 4) {
      case 0:
        return random_string();
      case 1:
        return std::to_string(next() % 100000);
      case 2: {
        std::string out = "{";
        int n = static_cast<int>(next() % 4);
        for (int i = 0; i < n; ++i)
          out += (i ? "," : "") + random_string() + ":" + random_value(depth + 1);
        return out + "}";
      }
      default: {
        std::string out = "[";
        int n = static_cast<int>(next() % 4);
        for (int i = 0; i < n; ++i) out += (i ? ", " : "") + random_value(depth + 1);
        return out + "]";
      }
    }
  };
  for (int round = 0; round < 300; ++round) {
    std::string text = "[";
    std::vector<std::string> expected;
    int n = 1 + static_cast<int>(next() % 6);
    for (int i = 0; i < n; ++i) {
      std::string v = next() % 2 ? random_value(0)
                                 : "{\"k\":" + random_value(1) +
                                       ",\"context\":{\"ip\":" + random_string() + "}}";
      expected.push_back(v);
      text += (i ? "," : "") + std::string(next() % 3, ' ') + v;
    }
    text += "]";
    // The same through simdjson's structural index, with the array as the
    // "batch" member of a body (after another member, with whitespace).
    std::string body = "{ \"sentAt\" : \"x\" , \"batch\" : " + text + " }";
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
    std::vector<ScannedEvent> indexed;
    std::size_t indexed_count = 0;
    ASSERT_TRUE(scan_events_indexed(body,
                                    StructuralIndex{parser.implementation->structural_indexes.get(),
                                                    parser.implementation->n_structural_indexes},
                                    1, &indexed, &indexed_count))
        << body;
    ASSERT_EQ(indexed_count, expected.size()) << body;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(indexed[i].span.of(body), expected[i]) << body;
      EXPECT_EQ(indexed[i].is_object, expected[i][0] == '{');
      if (expected[i][0] != '{') continue;
      std::vector<ScannedEvent> bytewise;
      std::size_t one = 0;
      ASSERT_TRUE(scan_events(expected[i], 0, &bytewise, &one));
      ASSERT_EQ(indexed[i].members.size(), bytewise[0].members.size()) << expected[i];
      for (std::size_t m = 0; m < bytewise[0].members.size(); ++m) {
        EXPECT_EQ(indexed[i].members[m].key, bytewise[0].members[m].key);
        EXPECT_EQ(indexed[i].members[m].value.begin, bytewise[0].members[m].value.begin);
        EXPECT_EQ(indexed[i].members[m].value.end, bytewise[0].members[m].value.end);
        EXPECT_EQ(indexed[i].members[m].member.end, bytewise[0].members[m].member.end);
      }
      EXPECT_EQ(indexed[i].context, bytewise[0].context);
      ASSERT_EQ(indexed[i].context_members.size(), bytewise[0].context_members.size());
      for (std::size_t m = 0; m < bytewise[0].context_members.size(); ++m) {
        EXPECT_EQ(indexed[i].context_members[m].value.begin,
                  bytewise[0].context_members[m].value.begin);
        EXPECT_EQ(indexed[i].context_members[m].value.end,
                  bytewise[0].context_members[m].value.end);
      }
    }
    std::vector<ScannedEvent> events;
    std::size_t count = 0;
    ASSERT_TRUE(scan_events(text, 0, &events, &count)) << text;
    ASSERT_EQ(count, expected.size()) << text;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(events[i].span.of(text), expected[i]) << text;
      if (expected[i].rfind("{\"k\":", 0) == 0) {
        ASSERT_EQ(events[i].context, 1) << text;
        ASSERT_EQ(events[i].context_members.size(), 1u) << text;
        EXPECT_EQ(events[i].context_members[0].key, "ip");
      }
    }
  }
}

TEST(JsonSpliceTest, RunsOfBackslashesBeforeQuotesAreCountedRight) {
  // `"\\"` ends after two backslashes; `"\\\""` holds an escaped
  // backslash and an escaped quote; `"\\\\"` two escaped backslashes.
  std::string text = R"(["\\","\\\"x","\\\\",""])";
  std::vector<Span> spans;
  ASSERT_TRUE(scan_array_elements(text, &spans));
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].of(text), R"("\\")");
  EXPECT_EQ(spans[1].of(text), R"("\\\"x")");
  EXPECT_EQ(spans[2].of(text), R"("\\\\")");
  EXPECT_EQ(spans[3].of(text), R"("")");
}

TEST(JsonSpliceTest, FindsTheNthMember) {
  std::string text = R"({"sentAt":"x","b":{"batch":1},"batch":[1,2],"batch":[3]})";
  std::size_t begin = 0;
  ASSERT_TRUE(find_nth_member_value(text, 2, &begin));
  EXPECT_EQ(text.substr(begin, 5), "[1,2]");
  EXPECT_FALSE(find_nth_member_value(text, 4, &begin));
  EXPECT_FALSE(find_nth_member_value("[1]", 0, &begin));
}

TEST(JsonSpliceTest, ScansEmptyArrayAndObject) {
  std::vector<Span> spans;
  EXPECT_TRUE(scan_array_elements(" [ ] ", &spans));
  EXPECT_TRUE(spans.empty());
  std::vector<MemberSpan> members;
  EXPECT_TRUE(scan_object_members("{}", &members));
  EXPECT_TRUE(members.empty());
}

TEST(JsonSpliceTest, ScansObjectMembersKeepingKeysAndValuesAsWritten) {
  std::string text = R"({ "k\"ey" : "v,}" , "n":-1.5e3,"o":{"x":[1,"]"]},"t":true,"z":null })";
  std::vector<MemberSpan> m;
  ASSERT_TRUE(scan_object_members(text, &m));
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].key, R"(k\"ey)");
  EXPECT_EQ(m[0].value.of(text), R"("v,}")");
  EXPECT_EQ(m[0].member.of(text), R"("k\"ey" : "v,}")");
  EXPECT_EQ(m[1].value.of(text), "-1.5e3");
  EXPECT_EQ(m[2].value.of(text), R"({"x":[1,"]"]})");
  EXPECT_EQ(m[3].value.of(text), "true");
  EXPECT_EQ(m[4].key, "z");
  EXPECT_EQ(m[4].value.of(text), "null");
}

TEST(JsonSpliceTest, RejectsTextItCannotFollow) {
  std::vector<MemberSpan> m;
  EXPECT_FALSE(scan_object_members(R"({"a":"unterminated)", &m));
  EXPECT_FALSE(scan_object_members("[1]", &m));
  std::vector<Span> s;
  EXPECT_FALSE(scan_array_elements("[1,2", &s));
}

TEST(JsonSpliceTest, SpliceKeepsDropsReplacesAndAppends) {
  std::string text = R"({"a":1, "b" :"two","c":[3]})";
  std::vector<MemberSpan> m;
  ASSERT_TRUE(scan_object_members(text, &m));
  std::vector<ObjectSplicer::Decision> d(3);
  d[1].action = ObjectSplicer::Action::kDrop;
  d[2].action = ObjectSplicer::Action::kReplace;
  d[2].value = "{\"x\":0}";
  std::string out;
  ObjectSplicer::splice_text(text, m, d, "\"new\":true", &out);
  EXPECT_EQ(out, R"({"a":1,"c":{"x":0},"new":true})");
}

TEST(JsonSpliceTest, SpliceIntoEmptyObject) {
  std::string out;
  ObjectSplicer::splice_text("{}", {}, {}, "\"a\":1,\"b\":2", &out);
  EXPECT_EQ(out, R"({"a":1,"b":2})");
}

TEST(JsonSpliceTest, AppendJsonStringEscapesQuotesBackslashesAndControls) {
  std::string out;
  append_json_string(&out, std::string("a\"b\\c\n\x01", 7));
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

}  // namespace
}  // namespace tern::relay
