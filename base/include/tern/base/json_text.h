// JSON text: writing a string as a JSON string literal (RFC 8259).
//
// Inline: the relay escapes every event's fields during ingest, the SDK every
// property key; both call this in tight loops.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::base {

namespace json_text_detail {

// For each byte: 0 copy it as is; 'u' write \u00XX; else the letter after the
// backslash (\" \\ \b \f \n \r \t).
struct EscapeTable {
  char c[256];
  constexpr EscapeTable() : c() {
    for (int i = 0; i < 0x20; ++i) c[i] = 'u';
    c[static_cast<unsigned char>('"')] = '"';
    c[static_cast<unsigned char>('\\')] = '\\';
    c[static_cast<unsigned char>('\b')] = 'b';
    c[static_cast<unsigned char>('\f')] = 'f';
    c[static_cast<unsigned char>('\n')] = 'n';
    c[static_cast<unsigned char>('\r')] = 'r';
    c[static_cast<unsigned char>('\t')] = 't';
  }
};
inline constexpr EscapeTable kEscape{};

inline void append_escape(std::string& out, unsigned char byte, char how) {
  if (how != 'u') {
    const char two[2] = {'\\', how};
    out.append(two, 2);
    return;
  }
  constexpr char kHex[] = "0123456789abcdef";
  const char six[6] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xF]};
  out.append(six, 6);
}

}  // namespace json_text_detail

// Appends `s` to `out` as a JSON string literal, quotes included: `"`, `\`
// and the control characters U+0000..U+001F are escaped (the short forms
// where JSON has one, else \u00XX); every other byte is copied unchanged.
// Bytes >= 0x80 are not checked: valid UTF-8 in gives valid JSON out, and
// invalid UTF-8 passes through as it came (callers that take untrusted text
// validate it first).
inline void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;
  for (; p != end; ++p) {
    const auto byte = static_cast<unsigned char>(*p);
    const char how = json_text_detail::kEscape.c[byte];
    if (how == 0) continue;
    out.append(run, static_cast<std::size_t>(p - run));
    json_text_detail::append_escape(out, byte, how);
    run = p + 1;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out.push_back('"');
}

// The same, as a new string.
std::string json_string(std::string_view s);

}  // namespace tern::base
