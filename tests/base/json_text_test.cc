#include "tern/base/json_text.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::base {
namespace {

TEST(JsonTextTest, EscapesExactlyWhatJsonRequires) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"say \"hi\"", R"("say \"hi\"")"},
      {"back\\slash", R"("back\\slash")"},
      {"a/b", R"("a/b")"},  // '/' may stay as it is
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("nul\0here", 8), R"("nul\u0000here")"},
      {"\x01\x1f", R"("\u0001\u001f")"},
      {"\x7f", "\"\x7f\""},  // DEL is not a JSON control character
      {"caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.out);
    std::string out = "prefix:";
    append_json_string(out, c.in);
    EXPECT_EQ(out, "prefix:" + c.out);
    EXPECT_EQ(json_string(c.in), c.out);
  }
}

TEST(JsonTextTest, PassesInvalidUtf8ThroughUnchanged) {
  // Callers validate untrusted text first; escaping never rewrites bytes >= 0x80.
  const std::string bad = "\xff\xc3(\xed\xa0\x80";
  EXPECT_EQ(json_string(bad), "\"" + bad + "\"");
}

TEST(JsonTextTest, EscapesEveryControlCharacterAndNothingElseBelowDel) {
  for (int c = 0; c < 0x7f; ++c) {
    std::string s(1, static_cast<char>(c));
    std::string out = json_string(s);
    bool escaped = out.size() > 3;
    EXPECT_EQ(escaped, c < 0x20 || c == '"' || c == '\\') << "byte " << c;
  }
}

}  // namespace
}  // namespace tern::base
