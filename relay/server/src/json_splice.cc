#include "json_splice.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tern::relay {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view t, std::size_t i) {
  while (i < t.size() && is_ws(t[i])) ++i;
  return i;
}

// Byte classes for the scanners: one table load per byte instead of a chain
// of compares (the scanners walk every byte of every event).
enum : unsigned char { kPlain = 0, kQuote = 1, kBackslash = 2, kOpen = 3, kClose = 4 };
struct ByteClasses {
  unsigned char c[256] = {};
  constexpr ByteClasses() {
    c[static_cast<unsigned char>('"')] = kQuote;
    c[static_cast<unsigned char>('\\')] = kBackslash;
    c[static_cast<unsigned char>('{')] = kOpen;
    c[static_cast<unsigned char>('[')] = kOpen;
    c[static_cast<unsigned char>('}')] = kClose;
    c[static_cast<unsigned char>(']')] = kClose;
  }
};
constexpr ByteClasses kClasses;

inline unsigned char class_of(char c) { return kClasses.c[static_cast<unsigned char>(c)]; }

#if defined(__SSE2__)
// Bit k set when p[k] is a quote or a backslash (16 bytes).
inline unsigned string_stops(const char* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  return static_cast<unsigned>(_mm_movemask_epi8(hits));
}
// Bit k set when p[k] is a quote, an opening or a closing bracket: '{' and
// '[' differ only in bit 0x20, as do '}' and ']'.
inline unsigned container_stops(const char* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
  __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                              _mm_or_si128(_mm_cmpeq_epi8(folded, _mm_set1_epi8('{')),
                                           _mm_cmpeq_epi8(folded, _mm_set1_epi8('}'))));
  return static_cast<unsigned>(_mm_movemask_epi8(hits));
}
#endif

// `i` at the opening quote; returns the index past the closing quote.
std::size_t skip_string(std::string_view t, std::size_t i) {
  const char* base = t.data();
  const std::size_t n = t.size();
  std::size_t pos = i + 1;
  for (;;) {
#if defined(__SSE2__)
    // 16 bytes per step while they are inside the text.
    while (pos + 16 <= n) {
      unsigned m = string_stops(base + pos);
      if (m == 0) {
        pos += 16;
        continue;
      }
      pos += static_cast<std::size_t>(__builtin_ctz(m));
      break;
    }
#endif
    while (pos < n && class_of(base[pos]) != kQuote && class_of(base[pos]) != kBackslash) ++pos;
    if (pos >= n) return npos;
    if (base[pos] == '"') return pos + 1;
    pos += 2;  // an escape: the next byte is taken as is
  }
}

// `i` at '{' or '['; returns the index past the matching close.
std::size_t skip_container(std::string_view t, std::size_t i) {
  const char* base = t.data();
  const std::size_t n = t.size();
  std::size_t depth = 0;
  while (i < n) {
#if defined(__SSE2__)
    if (i + 16 <= n) {
      unsigned m = container_stops(base + i);
      if (m == 0) {
        i += 16;
        continue;
      }
      i += static_cast<std::size_t>(__builtin_ctz(m));
    }
#endif
    unsigned char k = class_of(base[i]);
    if (k == kPlain || k == kBackslash) {  // a backslash only occurs inside strings
      ++i;
      continue;
    }
    if (k == kQuote) {
      i = skip_string(t, i);
      if (i == npos) return npos;
      continue;
    }
    if (k == kOpen) {
      ++depth;
    } else if (--depth == 0) {
      return i + 1;
    }
    ++i;
  }
  return npos;
}

// The members of the object at t[i] ('{'), appended to `out` with spans
// relative to t[base]; the value of the first member named `descend_key`,
// when an object, has its own members appended to `*descend_out` (spans
// relative to that value) in the same pass, and `*descended` is set to that
// member's index in `out`. Returns the index past the closing brace, or npos.
std::size_t scan_members(std::string_view t, std::size_t i, std::size_t base, std::vector<MemberSpan>* out,
                         std::string_view descend_key, std::vector<MemberSpan>* descend_out,
                         std::ptrdiff_t* descended) {
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == '}') return i + 1;
  bool looked_for_key = descend_out == nullptr;
  while (i < t.size()) {
    if (t[i] != '"') return npos;
    std::size_t key_end = skip_string(t, i);
    if (key_end == npos) return npos;
    MemberSpan m;
    m.key = t.substr(i + 1, key_end - i - 2);
    m.member.begin = i - base;
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return npos;
    i = skip_ws(t, i + 1);
    if (i >= t.size()) return npos;
    std::size_t value_end;
    if (!looked_for_key && m.key == descend_key) {
      looked_for_key = true;  // only the first such member (the parser's rule)
      if (t[i] == '{') {
        descend_out->clear();
        value_end = scan_members(t, i, i, descend_out, {}, nullptr, nullptr);
        *descended = static_cast<std::ptrdiff_t>(out->size());
      } else {
        value_end = skip_json_value(t, i);
      }
    } else {
      char c = t[i];
      value_end = c == '"' ? skip_string(t, i) : (c == '{' || c == '[') ? skip_container(t, i) : skip_json_value(t, i);
    }
    if (value_end == npos) return npos;
    m.value = Span{i - base, value_end - base};
    m.member.end = value_end - base;
    out->push_back(m);
    i = skip_ws(t, value_end);
    if (i >= t.size()) return npos;
    if (t[i] == '}') return i + 1;
    if (t[i] != ',') return npos;
    i = skip_ws(t, i + 1);
  }
  return npos;
}

}  // namespace

std::size_t skip_json_value(std::string_view t, std::size_t i) {
  i = skip_ws(t, i);
  if (i >= t.size()) return npos;
  char c = t[i];
  if (c == '"') return skip_string(t, i);
  if (c == '{' || c == '[') return skip_container(t, i);
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
  return scan_members(t, i, 0, out, {}, nullptr, nullptr) != npos;
}

bool scan_events(std::string_view t, std::size_t i, std::vector<ScannedEvent>* events,
                 std::size_t* count) {
  *count = 0;
  i = skip_ws(t, i);
  if (i >= t.size()) return false;
  auto scan_one = [&](std::size_t at) -> std::size_t {
    if (*count == events->size()) events->emplace_back();
    ScannedEvent& e = (*events)[(*count)++];
    e.members.clear();
    e.context_members.clear();
    e.context = -1;
    e.is_object = t[at] == '{';
    std::size_t end = e.is_object ? scan_members(t, at, at, &e.members, "context", &e.context_members, &e.context)
                                   : skip_json_value(t, at);
    e.span = Span{at, end};
    return end;
  };
  if (t[i] != '[') return scan_one(i) != npos;
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == ']') return true;
  while (i < t.size()) {
    std::size_t end = scan_one(i);
    if (end == npos) return false;
    i = skip_ws(t, end);
    if (i >= t.size()) return false;
    if (t[i] == ']') return true;
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
