#include "batch_split.h"

#include <string>

namespace tern::relay {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Follows the structure of one JSON value, checking that brackets pair up
// and strings close; scalars are taken as the bytes up to the next
// delimiter (the parser judges them later, event by event).
class StructureWalk {
 public:
  StructureWalk(std::string_view text, std::size_t max_depth) : t_(text), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }

  std::size_t skip_ws(std::size_t i) const {
    while (i < t_.size() && is_ws(t_[i])) ++i;
    return i;
  }

  // `i` at the opening quote; the index past the closing one, or npos.
  std::size_t string(std::size_t i) const {
    for (++i; i < t_.size(); ++i) {
      if (t_[i] == '\\') {
        ++i;
      } else if (t_[i] == '"') {
        return i + 1;
      }
    }
    return npos;
  }

  // The value at `i` (no leading whitespace), opened at nesting `depth`
  // (the level of the container holding it); the index past it, or npos.
  std::size_t value(std::size_t i, std::size_t depth) {
    if (i >= t_.size()) return npos;
    const char c = t_[i];
    if (c == '"') return string(i);
    if (c == '{' || c == '[') return container(i, depth);
    const std::size_t begin = i;
    while (i < t_.size() && !is_delimiter(t_[i])) ++i;
    return i == begin ? npos : i;
  }

 private:
  static bool is_delimiter(char c) {
    return is_ws(c) || c == ',' || c == ':' || c == '}' || c == ']' || c == '{' || c == '[' ||
           c == '"';
  }

  std::size_t container(std::size_t i, std::size_t depth) {
    closers_.clear();
    while (i < t_.size()) {
      const char c = t_[i];
      if (c == '"') {
        i = string(i);
        if (i == npos) return npos;
        continue;
      }
      if (c == '{' || c == '[') {
        closers_.push_back(c == '{' ? '}' : ']');
        if (depth + closers_.size() > max_depth_) {
          too_deep_ = true;
          return npos;
        }
      } else if (c == '}' || c == ']') {
        if (closers_.empty() || closers_.back() != c) return npos;
        closers_.pop_back();
        if (closers_.empty()) return i + 1;
      }
      ++i;
    }
    return npos;
  }

  std::string_view t_;
  std::size_t max_depth_;
  std::string closers_;
  bool too_deep_ = false;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether the key as written (without its quotes) decodes to "batch".
bool decodes_to_batch(std::string_view raw) {
  if (raw == "batch") return true;
  std::string decoded;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      decoded.push_back(raw[i]);
    } else if (i + 5 < raw.size() && raw[i + 1] == 'u') {
      int v = 0;
      for (std::size_t k = 2; k < 6; ++k) {
        const int h = hex_value(raw[i + k]);
        if (h < 0) return false;
        v = v * 16 + h;
      }
      if (v >= 0x80) return false;  // "batch" is ASCII
      decoded.push_back(static_cast<char>(v));
      i += 5;
    } else if (i + 1 < raw.size() && raw[i + 1] == '/') {
      decoded.push_back('/');
      ++i;
    } else {
      return false;  // any other escape decodes to something that is not a letter
    }
    if (decoded.size() > 5) return false;
  }
  return decoded == "batch";
}

}  // namespace

SplitResult split_batch(std::string_view t, std::size_t max_document_depth, BatchSplit* out) {
  out->events.clear();
  out->batch_value = Span{};
  StructureWalk walk(t, max_document_depth);
  auto broken = [&] {
    return walk.too_deep() ? SplitResult::kTooDeep : SplitResult::kNotADocument;
  };
  std::size_t i = walk.skip_ws(0);
  if (i >= t.size() || t[i] != '{' || max_document_depth < 1) return SplitResult::kNotADocument;
  i = walk.skip_ws(i + 1);
  bool found = false;
  if (i < t.size() && t[i] == '}') return SplitResult::kNotADocument;  // no batch
  for (;;) {
    if (i >= t.size() || t[i] != '"') return SplitResult::kNotADocument;
    const std::size_t key_end = walk.string(i);
    if (key_end == npos) return SplitResult::kNotADocument;
    const std::string_view key = t.substr(i + 1, key_end - i - 2);
    i = walk.skip_ws(key_end);
    if (i >= t.size() || t[i] != ':') return SplitResult::kNotADocument;
    i = walk.skip_ws(i + 1);
    if (!found && decodes_to_batch(key)) {
      found = true;
      if (i >= t.size() || t[i] != '[') return SplitResult::kNotADocument;
      if (max_document_depth < 2) return SplitResult::kTooDeep;
      out->batch_value.begin = i;
      i = walk.skip_ws(i + 1);
      if (i < t.size() && t[i] == ']') {
        ++i;
      } else {
        for (;;) {
          const std::size_t end = walk.value(i, 2);
          if (end == npos) return broken();
          out->events.push_back(Span{i, end});
          i = walk.skip_ws(end);
          if (i >= t.size()) return SplitResult::kNotADocument;
          if (t[i] == ']') {
            ++i;
            break;
          }
          if (t[i] != ',') return SplitResult::kNotADocument;
          i = walk.skip_ws(i + 1);
        }
      }
      out->batch_value.end = i;
    } else {
      const std::size_t end = walk.value(i, 1);
      if (end == npos) return broken();
      i = end;
    }
    i = walk.skip_ws(i);
    if (i >= t.size()) return SplitResult::kNotADocument;
    if (t[i] == '}') break;
    if (t[i] != ',') return SplitResult::kNotADocument;
    i = walk.skip_ws(i + 1);
  }
  if (walk.skip_ws(i + 1) != t.size()) return SplitResult::kNotADocument;  // trailing bytes
  return found ? SplitResult::kOk : SplitResult::kNotADocument;
}

}  // namespace tern::relay
