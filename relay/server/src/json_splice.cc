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
  __m128i hits =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
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
// From `pos`, skips the 16-byte blocks in which `Stops` flags no byte:
// returns the first flagged byte, or where fewer than 16 bytes are left.
template <unsigned (*Stops)(const char*)>
inline std::size_t next_stop(const char* base, std::size_t pos, std::size_t n) {
  for (; pos + 16 <= n; pos += 16) {
    if (unsigned m = Stops(base + pos)) return pos + static_cast<std::size_t>(__builtin_ctz(m));
  }
  return pos;
}
#endif

// `i` at the opening quote; returns the index past the closing quote.
std::size_t skip_string(std::string_view t, std::size_t i) {
  const char* base = t.data();
  const std::size_t n = t.size();
  std::size_t pos = i + 1;
  for (;;) {
#if defined(__SSE2__)
    pos = next_stop<string_stops>(base, pos, n);  // 16 bytes per step
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
    i = next_stop<container_stops>(base, i, n);
    if (i == n) break;
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
std::size_t scan_members(std::string_view t, std::size_t i, std::size_t base,
                         std::vector<MemberSpan>* out, std::string_view descend_key,
                         std::vector<MemberSpan>* descend_out, std::ptrdiff_t* descended) {
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
      value_end = c == '"'                 ? skip_string(t, i)
                  : (c == '{' || c == '[') ? skip_container(t, i)
                                           : skip_json_value(t, i);
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
    std::size_t end =
        e.is_object ? scan_members(t, at, at, &e.members, "context", &e.context_members, &e.context)
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

namespace {

// A walk over a structural index. Every function takes `k`, the index of
// the value's first token, and returns the index of the token after the
// value (or npos when the index runs out: it does not describe the text).
class TokenWalk {
 public:
  TokenWalk(std::string_view t, StructuralIndex index)
      : t_(t), pos_(index.positions), n_(index.count) {}

  std::size_t size() const { return n_; }
  char at(std::size_t k) const { return k < n_ && pos_[k] < t_.size() ? t_[pos_[k]] : '\0'; }
  std::size_t offset(std::size_t k) const { return pos_[k]; }

  // Where the value starting at token k ends (one past its last byte).
  // Scalars and strings end before the whitespace preceding the next token.
  std::size_t skip(std::size_t k, std::size_t* end) const {
    char c = at(k);
    if (c == '{' || c == '[') {
      std::size_t depth = 0;
      for (; k < n_; ++k) {
        char d = at(k);
        if (d == '{' || d == '[') {
          ++depth;
        } else if ((d == '}' || d == ']') && --depth == 0) {
          *end = pos_[k] + 1;
          return k + 1;
        }
      }
      return npos;
    }
    if (k + 1 >= n_) return npos;
    *end = trim_back(pos_[k + 1], pos_[k]);
    return k + 1;
  }

  // The members of the object at token k, as scan_members.
  std::size_t members(std::size_t k, std::size_t base, std::vector<MemberSpan>* out,
                      std::string_view descend_key, std::vector<MemberSpan>* descend_out,
                      std::ptrdiff_t* descended, std::size_t* end) const {
    if (at(k) != '{') return npos;
    ++k;
    if (at(k) == '}') {
      *end = pos_[k] + 1;
      return k + 1;
    }
    bool looked_for_key = descend_out == nullptr;
    while (k + 2 < n_) {
      if (at(k) != '"' || at(k + 1) != ':') return npos;
      MemberSpan m;
      std::size_t key_begin = pos_[k];
      std::size_t key_end = trim_back(pos_[k + 1], key_begin);  // past the closing quote
      if (key_end < key_begin + 2) return npos;
      m.key = t_.substr(key_begin + 1, key_end - key_begin - 2);
      m.member.begin = key_begin - base;
      k += 2;
      std::size_t value_begin = pos_[k];
      std::size_t value_end = 0;
      if (!looked_for_key && m.key == descend_key) {
        looked_for_key = true;  // only the first such member (the parser's rule)
        if (at(k) == '{') {
          descend_out->clear();
          k = members(k, value_begin, descend_out, {}, nullptr, nullptr, &value_end);
          *descended = static_cast<std::ptrdiff_t>(out->size());
        } else {
          k = skip(k, &value_end);
        }
      } else {
        k = skip(k, &value_end);
      }
      if (k == npos) return npos;
      m.value = Span{value_begin - base, value_end - base};
      m.member.end = value_end - base;
      out->push_back(m);
      char c = at(k);
      if (c == '}') {
        *end = pos_[k] + 1;
        return k + 1;
      }
      if (c != ',') return npos;
      ++k;
    }
    return npos;
  }

 private:
  std::size_t trim_back(std::size_t end, std::size_t floor) const {
    while (end > floor && end <= t_.size() && is_ws(t_[end - 1])) --end;
    return end;
  }

  std::string_view t_;
  const uint32_t* pos_;
  std::size_t n_;
};

}  // namespace

bool scan_events_indexed(std::string_view text, StructuralIndex index, std::ptrdiff_t batch_member,
                         std::vector<ScannedEvent>* events, std::size_t* count) {
  *count = 0;
  if (index.positions == nullptr || index.count == 0) return false;
  TokenWalk w(text, index);
  std::size_t k = 0;
  if (batch_member >= 0) {
    // Skip the root object's members before the batch.
    if (w.at(0) != '{') return false;
    k = 1;
    for (std::ptrdiff_t m = 0;; ++m) {
      if (w.at(k) != '"' || w.at(k + 1) != ':') return false;
      k += 2;
      if (m == batch_member) break;
      std::size_t end = 0;
      k = w.skip(k, &end);
      if (k == npos || w.at(k) != ',') return false;
      ++k;
    }
    if (w.at(k) != '[') return false;
  }
  auto scan_one = [&](std::size_t at_k) -> std::size_t {
    if (*count == events->size()) events->emplace_back();
    ScannedEvent& e = (*events)[(*count)++];
    e.members.clear();
    e.context_members.clear();
    e.context = -1;
    e.is_object = w.at(at_k) == '{';
    std::size_t begin = w.offset(at_k), end = 0;
    std::size_t next = e.is_object ? w.members(at_k, begin, &e.members, "context",
                                               &e.context_members, &e.context, &end)
                                   : w.skip(at_k, &end);
    e.span = Span{begin, end};
    return next;
  };
  if (batch_member < 0) return scan_one(0) != npos;
  ++k;  // past '['
  if (w.at(k) == ']') return true;
  for (;;) {
    k = scan_one(k);
    if (k == npos) return false;
    char c = w.at(k);
    if (c == ']') return true;
    if (c != ',') return false;
    ++k;
  }
}

bool find_nth_member_value(std::string_view t, std::size_t n, std::size_t* value_begin) {
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') return false;
  i = skip_ws(t, i + 1);
  for (std::size_t m = 0; i < t.size() && t[i] == '"'; ++m) {
    std::size_t key_end = skip_string(t, i);
    if (key_end == npos) return false;
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return false;
    i = skip_ws(t, i + 1);
    if (m == n) {
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

}  // namespace tern::relay
