#include "event_validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch_split.h"

namespace tern::relay {
namespace {

struct Case {
  const char* what;
  std::string text;
  std::string_view forced_type;  // a single-event endpoint's type
  std::string_view reason;       // empty: acceptable
};

TEST(EventValidationTest, EachEventIsJudgedFromItsTextAlone) {
  LimitsConfig limits;
  limits.max_event_bytes = 200;
  limits.max_json_depth = 4;
  const std::vector<Case> cases = {
      {"a track", R"({"type":"track","event":"E","userId":"u"})", "", ""},
      {"an identify with an anonymous id", R"({"type":"identify","anonymousId":"a"})", "", ""},
      {"a numeric user id", R"({"type":"identify","userId":42})", "", ""},
      {"the type from the path", R"({"event":"E","userId":"u"})", "track", ""},
      {"the path's type wins", R"({"type":"fly","event":"E","userId":"u"})", "track", ""},
      {"a null timestamp", R"({"type":"page","userId":"u","timestamp":null})", "", ""},
      {"a null context", R"({"type":"page","userId":"u","context":null})", "", ""},
      {"nesting at the limit", R"({"type":"page","userId":"u","p":[[[]]]})", "", ""},
      {"over max_event_bytes",
       R"({"type":"page","userId":"u","p":")" + std::string(200, 'x') + "\"}", "", "too_large"},
      {"nesting past the limit", R"({"type":"page","userId":"u","p":[[[[]]]]})", "", "json_depth"},
      {"a number outside double range", R"({"type":"page","userId":"u","n":-1e400})", "",
       "invalid_json"},
      {"a lone low surrogate", R"({"type":"page","userId":"u","s":"\udc00"})", "", "invalid_json"},
      {"invalid UTF-8", "{\"type\":\"page\",\"userId\":\"\xff\"}", "", "invalid_json"},
      {"a raw newline in a string", "{\"type\":\"page\",\"userId\":\"a\nb\"}", "", "invalid_json"},
      {"two values", R"({"type":"page","userId":"u"} {})", "", "invalid_json"},
      {"an array", R"([1,2])", "", "not_an_object"},
      {"a string", R"("hello")", "", "not_an_object"},
      {"type twice", R"({"type":"page","type":"track","userId":"u"})", "", "duplicate_key"},
      {"an escaped type", R"({"typ\u0065":"page","userId":"u"})", "", "escaped_key"},
      {"an escaped type next to a plain one", R"({"type":"page","typ\u0065":"x","userId":"u"})", "",
       "duplicate_key"},
      {"no type", R"({"userId":"u"})", "", "missing_type"},
      {"an unknown type", R"({"type":"fly","userId":"u"})", "", "invalid_type"},
      {"a type that is not a string", R"({"type":1,"userId":"u"})", "", "invalid_type"},
      {"a numeric messageId", R"({"type":"page","userId":"u","messageId":1})", "",
       "invalid_message_id"},
      {"an empty messageId", R"({"type":"page","userId":"u","messageId":""})", "",
       "invalid_message_id"},
      {"no user", R"({"type":"page"})", "", "missing_user"},
      {"an empty user id", R"({"type":"page","userId":""})", "", "missing_user"},
      {"an alias without userId", R"({"type":"alias","previousId":"p","anonymousId":"a"})", "",
       "missing_user"},
      {"an alias without previousId", R"({"type":"alias","userId":"u"})", "",
       "missing_previous_id"},
      {"a track without event", R"({"type":"track","userId":"u"})", "", "missing_event"},
      {"a track with an empty event", R"({"type":"track","event":"","userId":"u"})", "",
       "missing_event"},
      {"a group without groupId", R"({"type":"group","userId":"u"})", "", "missing_group_id"},
      {"a timestamp that is not ISO-8601", R"({"type":"page","userId":"u","timestamp":"today"})",
       "", "invalid_timestamp"},
      {"a numeric timestamp", R"({"type":"page","userId":"u","timestamp":1700000000})", "",
       "invalid_timestamp"},
      {"a context that is an array", R"({"type":"page","userId":"u","context":[]})", "",
       "invalid_context"},
  };
  simdjson::dom::parser parser;
  for (const Case& c : cases) {
    EventVerdict v = validate_event(c.text, c.forced_type, limits, parser);
    EXPECT_EQ(v.reason, c.reason) << c.what << ": " << c.text;
    if (c.reason == "invalid_json" || c.reason == "json_depth") {
      EXPECT_FALSE(v.detail.empty()) << c.what;
    }
  }
}

TEST(EventValidationTest, AnAcceptableEventReportsItsTypeMessageIdAndTimestamp) {
  LimitsConfig limits;
  simdjson::dom::parser parser;
  EventVerdict v = validate_event(
      R"({"type":"screen","userId":"u","messageId":"m-1","timestamp":"2024-03-01T12:00:00Z"})", "",
      limits, parser);
  ASSERT_TRUE(v.ok()) << v.reason;
  EXPECT_EQ(v.event.type, "screen");
  EXPECT_EQ(v.event.message_id, "m-1");
  ASSERT_TRUE(v.event.timestamp.has_value());
  EXPECT_EQ(*v.event.timestamp, *parse_iso8601("2024-03-01T12:00:00Z"));
  v = validate_event(R"({"type":"page","userId":"u"})", "", limits, parser);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.event.message_id.empty());
  EXPECT_FALSE(v.event.timestamp.has_value());
}

struct SplitCase {
  const char* what;
  std::string text;
  SplitResult result;
  std::vector<std::string> events;  // for kOk
};

TEST(BatchSplitTest, SplitsByStructureAndRefusesWhatIsNotADocument) {
  const std::vector<SplitCase> cases = {
      {"events with bad content",
       R"({"sentAt":"x","batch":[{"n":1e400}, {"s":"\ud800"} ,3,"a]",[}]]})",
       SplitResult::kNotADocument,
       {}},
      {"bad content inside good structure",
       R"({"sentAt":"x","batch":[{"n":1e400}, {"s":"\ud800"} ,tru,"a]",[{}]]})",
       SplitResult::kOk,
       {R"({"n":1e400})", R"({"s":"\ud800"})", "tru", R"("a]")", "[{}]"}},
      {"an empty batch", R"( { "batch" : [ ] } )", SplitResult::kOk, {}},
      {"an escaped batch key", R"({"b\u0061tch":[{}]})", SplitResult::kOk, {"{}"}},
      {"the first batch wins", R"({"batch":[1],"batch":[2,3]})", SplitResult::kOk, {"1"}},
      {"a batch key in another member",
       R"({"x":{"batch":[9]},"batch":[1]})",
       SplitResult::kOk,
       {"1"}},
      {"no batch", R"({"events":[{}]})", SplitResult::kNotADocument, {}},
      {"a batch that is not an array", R"({"batch":{}})", SplitResult::kNotADocument, {}},
      {"not an object", R"([{}])", SplitResult::kNotADocument, {}},
      {"an unclosed string", R"({"batch":[{"a":"b}]})", SplitResult::kNotADocument, {}},
      {"a bracket closed by the wrong kind",
       R"({"batch":[{"a":[}]]})",
       SplitResult::kNotADocument,
       {}},
      {"a missing comma between events", R"({"batch":[{} {}]})", SplitResult::kNotADocument, {}},
      {"trailing bytes", R"({"batch":[{}]}x)", SplitResult::kNotADocument, {}},
      {"an empty element", R"({"batch":[{},,{}]})", SplitResult::kNotADocument, {}},
      {"too deep", R"({"batch":[[[[[]]]]]})", SplitResult::kTooDeep, {}},
      {"too deep outside the batch", R"({"c":[[[[[]]]]],"batch":[]})", SplitResult::kTooDeep, {}},
      {"just deep enough", R"({"batch":[[[[]]]]})", SplitResult::kOk, {"[[[]]]"}},
  };
  for (const SplitCase& c : cases) {
    BatchSplit split;
    SplitResult got = split_batch(c.text, 5, &split);
    EXPECT_EQ(static_cast<int>(got), static_cast<int>(c.result)) << c.what;
    if (got != SplitResult::kOk || c.result != SplitResult::kOk) continue;
    std::vector<std::string> events;
    for (const Span& s : split.events) events.emplace_back(s.of(c.text));
    EXPECT_EQ(events, c.events) << c.what;
    std::string_view batch = split.batch_value.of(c.text);
    EXPECT_TRUE(!batch.empty() && batch.front() == '[' && batch.back() == ']') << c.what;
  }
}

}  // namespace
}  // namespace tern::relay
