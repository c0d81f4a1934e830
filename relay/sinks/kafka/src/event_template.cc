#include "event_template.h"

namespace tern::relay {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status bad(std::string_view text, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "template \"" + std::string(text) + "\": " + why);
}

// Appends a scalar's text; false for missing/null/object/array.
bool append_scalar(const simdjson::dom::element& e, std::string* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      out->append(s.data(), s.size());
      return !s.empty();
    }
    case simdjson::dom::element_type::INT64:
      *out += std::to_string(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:
      *out += std::to_string(e.get_uint64().value_unsafe());
      return true;
    case simdjson::dom::element_type::DOUBLE:
      *out += simdjson::to_string(e);
      return true;
    case simdjson::dom::element_type::BOOL:
      *out += e.get_bool().value_unsafe() ? "true" : "false";
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<EventTemplate> EventTemplate::parse(std::string_view text) {
  EventTemplate t;
  t.text_ = std::string(text);
  std::string lit;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        lit += '}';
        i += 2;
        continue;
      }
      return bad(text, "unmatched '}' (write '}}' for a literal brace)");
    }
    if (c != '{') {
      lit += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      lit += '{';
      i += 2;
      continue;
    }
    std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) return bad(text, "unclosed '{'");
    if (!lit.empty()) {
      t.parts_.push_back(Part{std::move(lit), {}});
      lit.clear();
    }
    Part part;
    std::string_view body = text.substr(i + 1, close - i - 1);
    std::size_t start = 0;
    for (;;) {
      std::size_t bar = body.find('|', start);
      std::string_view alt = trim(body.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
      if (alt.empty()) return bad(text, "empty alternative in {" + std::string(body) + "}");
      Alternative a;
      if (alt.front() == '\'') {
        if (alt.size() < 2 || alt.back() != '\'') return bad(text, "unterminated literal " + std::string(alt));
        a.kind = Alternative::kLiteral;
        a.literal = std::string(alt.substr(1, alt.size() - 2));
      } else if (alt == "source") {
        a.kind = Alternative::kSource;
      } else {
        a.kind = Alternative::kField;
        std::size_t s = 0;
        for (;;) {
          std::size_t dot = alt.find('.', s);
          std::string_view seg = alt.substr(s, dot == std::string_view::npos ? std::string_view::npos : dot - s);
          if (seg.empty()) return bad(text, "empty path segment in " + std::string(alt));
          a.path.emplace_back(seg);
          if (dot == std::string_view::npos) break;
          s = dot + 1;
        }
        t.needs_event_ = true;
      }
      part.alternatives.push_back(std::move(a));
      if (bar == std::string_view::npos) break;
      start = bar + 1;
    }
    t.parts_.push_back(std::move(part));
    i = close + 1;
  }
  if (!lit.empty()) t.parts_.push_back(Part{std::move(lit), {}});
  return t;
}

std::string EventTemplate::render(const simdjson::dom::element* event, std::string_view source) const {
  std::string out;
  for (const Part& p : parts_) {
    if (p.alternatives.empty()) {
      out += p.literal;
      continue;
    }
    for (const Alternative& a : p.alternatives) {
      if (a.kind == Alternative::kLiteral) {
        out += a.literal;
        break;
      }
      if (a.kind == Alternative::kSource) {
        if (source.empty()) continue;
        out.append(source.data(), source.size());
        break;
      }
      if (!event) continue;
      simdjson::dom::element cur = *event;
      bool found = true;
      for (const std::string& seg : a.path) {
        simdjson::dom::object obj;
        if (cur.get_object().get(obj) != simdjson::SUCCESS || obj.at_key(seg).get(cur) != simdjson::SUCCESS) {
          found = false;
          break;
        }
      }
      std::size_t before = out.size();
      if (found && append_scalar(cur, &out)) break;
      out.resize(before);
    }
  }
  return out;
}

}  // namespace tern::relay
