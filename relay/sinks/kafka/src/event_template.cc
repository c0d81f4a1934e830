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

// Appends the scalar at `v`; false for null, objects, arrays, empty strings
// and anything that does not parse.
bool append_scalar(simdjson::ondemand::value v, std::string* out) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return false;
  switch (type) {
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return false;
      out->append(s.data(), s.size());
      return !s.empty();
    }
    case simdjson::ondemand::json_type::number: {
      std::string_view raw = trim(v.raw_json_token());
      while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.remove_suffix(1);
      out->append(raw.data(), raw.size());
      return !raw.empty();
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return false;
      *out += b ? "true" : "false";
      return true;
    }
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
      std::string_view alt = trim(
          body.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
      if (alt.empty()) return bad(text, "empty alternative in {" + std::string(body) + "}");
      Alternative a;
      if (alt.front() == '\'') {
        if (alt.size() < 2 || alt.back() != '\'')
          return bad(text, "unterminated literal " + std::string(alt));
        a.kind = Alternative::kLiteral;
        a.literal = std::string(alt.substr(1, alt.size() - 2));
      } else if (alt == "source") {
        a.kind = Alternative::kSource;
      } else {
        a.kind = Alternative::kField;
        std::size_t s = 0;
        for (;;) {
          std::size_t dot = alt.find('.', s);
          std::string_view seg =
              alt.substr(s, dot == std::string_view::npos ? std::string_view::npos : dot - s);
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

std::string EventTemplate::render(std::string_view event, std::string_view source,
                                  Scratch* scratch) const {
  std::string out;
  simdjson::ondemand::document doc;
  bool have_doc = false;
  if (needs_event_) {
    scratch->padded.assign(event.data(), event.size());
    scratch->padded.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::padded_string_view text(scratch->padded.data(), event.size(), scratch->padded.size());
    have_doc = scratch->parser.iterate(text).get(doc) == simdjson::SUCCESS;
  }
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
      if (!have_doc) continue;
      doc.rewind();
      simdjson::ondemand::value cur;
      bool found = doc.find_field_unordered(a.path.front()).get(cur) == simdjson::SUCCESS;
      for (std::size_t k = 1; found && k < a.path.size(); ++k) {
        found = cur.find_field_unordered(a.path[k]).get(cur) == simdjson::SUCCESS;
      }
      std::size_t before = out.size();
      if (found && append_scalar(cur, &out)) break;
      out.resize(before);
    }
  }
  return out;
}

}  // namespace tern::relay
