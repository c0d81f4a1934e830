#include "json_splice.h"

#include <algorithm>
#include <cstring>

namespace tern::relay {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view t, std::size_t i) {
  while (i < t.size() && is_ws(t[i])) ++i;
  return i;
}

// `i` at the opening quote; returns the index past the closing quote.
// Most JSON strings are short: scan them inline; long ones (property
// values, user agents) jump from quote to quote with memchr. A quote
// preceded by an odd run of backslashes is escaped.
std::size_t skip_string(std::string_view t, std::size_t i) {
  const char* base = t.data();
  const std::size_t n = t.size();
  std::size_t pos = i + 1;
  const std::size_t inline_end = std::min(n, pos + 32);
  while (pos < inline_end) {
    char c = base[pos];
    if (c == '\\') {
      pos += 2;
      continue;
    }
    if (c == '"') return pos + 1;
    ++pos;
  }
  while (pos < n) {
    const void* hit = std::memchr(base + pos, '"', n - pos);
    if (!hit) return npos;
    std::size_t q = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
    std::size_t backslashes = 0;
    while (q - backslashes > i + 1 && base[q - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return q + 1;
    pos = q + 1;
  }
  return npos;
}

}  // namespace

std::size_t skip_json_value(std::string_view t, std::size_t i) {
  i = skip_ws(t, i);
  if (i >= t.size()) return npos;
  char c = t[i];
  if (c == '"') return skip_string(t, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      char d = t[i];
      if (d == '"') {
        i = skip_string(t, i);
        if (i == npos) return npos;
        continue;
      }
      if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return npos;
  }
  // number, true, false, null
  while (i < t.size() && !is_ws(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
  return i;
}

bool scan_array_elements(std::string_view t, std::vector<Span>* out) {
  out->clear();
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '[') return false;
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == ']') return true;
  while (i < t.size()) {
    std::size_t end = skip_json_value(t, i);
    if (end == npos) return false;
    out->push_back(Span{i, end});
    i = skip_ws(t, end);
    if (i >= t.size()) return false;
    if (t[i] == ']') return true;
    if (t[i] != ',') return false;
    i = skip_ws(t, i + 1);
  }
  return false;
}

bool scan_object_members(std::string_view t, std::vector<MemberSpan>* out) {
  out->clear();
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') return false;
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == '}') return true;
  while (i < t.size()) {
    if (t[i] != '"') return false;
    std::size_t key_end = skip_string(t, i);
    if (key_end == npos) return false;
    MemberSpan m;
    m.key = t.substr(i + 1, key_end - i - 2);
    m.member.begin = i;
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return false;
    i = skip_ws(t, i + 1);
    std::size_t value_end = skip_json_value(t, i);
    if (value_end == npos) return false;
    m.value = Span{i, value_end};
    m.member.end = value_end;
    out->push_back(m);
    i = skip_ws(t, value_end);
    if (i >= t.size()) return false;
    if (t[i] == '}') return true;
    if (t[i] != ',') return false;
    i = skip_ws(t, i + 1);
  }
  return false;
}

bool find_member_value(std::string_view t, std::string_view key, std::size_t* value_begin) {
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') return false;
  i = skip_ws(t, i + 1);
  while (i < t.size() && t[i] == '"') {
    std::size_t key_end = skip_string(t, i);
    if (key_end == npos) return false;
    std::string_view k = t.substr(i + 1, key_end - i - 2);
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return false;
    i = skip_ws(t, i + 1);
    if (k == key) {
      *value_begin = i;
      return true;
    }
    i = skip_json_value(t, i);
    if (i == npos) return false;
    i = skip_ws(t, i);
    if (i >= t.size() || t[i] != ',') return false;
    i = skip_ws(t, i + 1);
  }
  return false;
}

void append_json_string(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void ObjectSplicer::splice_text(std::string_view text, const std::vector<MemberSpan>& members,
                                const std::vector<Decision>& decisions, std::string_view extra_text,
                                std::string* out) {
  out->push_back('{');
  bool first = true;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const MemberSpan& m = members[k];
    const Decision* d = k < decisions.size() ? &decisions[k] : nullptr;
    Action action = d ? d->action : Action::kKeep;
    if (action == Action::kDrop) continue;
    if (!first) out->push_back(',');
    first = false;
    if (action == Action::kKeep) {
      out->append(m.member.of(text));
    } else {
      // Keep the key bytes exactly as written, swap the value.
      out->append(text.substr(m.member.begin, m.value.begin - m.member.begin));
      out->append(d->value);
    }
  }
  if (!extra_text.empty()) {
    if (!first) out->push_back(',');
    out->append(extra_text);
  }
  out->push_back('}');
}

void ObjectSplicer::splice(std::string_view text, const std::vector<MemberSpan>& members,
                           const std::vector<Decision>& decisions,
                           const std::vector<std::string>& extra_members, std::string* out) {
  std::string joined;
  for (const std::string& extra : extra_members) {
    if (!joined.empty()) joined.push_back(',');
    joined.append(extra);
  }
  splice_text(text, members, decisions, joined, out);
}

}  // namespace tern::relay
