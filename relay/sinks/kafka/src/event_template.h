// EventTemplate: the Kafka sink's topic and key templates.
//
// Syntax: literal text with `{...}` placeholders. A placeholder lists one or
// more alternatives separated by `|`; the first one that yields a non-empty
// value wins:
//   source            the source id the event came from (write key's owner)
//   type, event, userId, anonymousId, messageId, ...   a top-level event field
//   context.app.name  a dotted path into nested objects
//   'text'            a literal fallback, e.g. {type|'other'}
// Strings render as-is (unescaped), numbers as written, booleans as
// true/false; objects, arrays, null and missing fields are empty. `{{` and
// `}}` are literal braces.
//   "events.{type}"  "{source}"  "{userId|anonymousId}"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "tern/base/status.h"

namespace tern::relay {

class EventTemplate {
 public:
  EventTemplate() = default;
  // kInvalidArgument naming the problem (unbalanced brace, empty alternative).
  static Result<EventTemplate> parse(std::string_view text);

  // True when no placeholder needs the event (only literals and {source}).
  bool needs_event() const { return needs_event_; }
  bool empty() const { return parts_.empty(); }
  const std::string& text() const { return text_; }

  // Reused between renders: simdjson's on-demand parser reads only the
  // fields a placeholder names (no DOM is built for the whole event).
  struct Scratch {
    simdjson::ondemand::parser parser;
    std::string padded;  // the event text with simdjson's padding after it
  };

  // `event` is the event's JSON text (unused when !needs_event()).
  std::string render(std::string_view event, std::string_view source, Scratch* scratch) const;

 private:
  struct Alternative {
    enum Kind { kLiteral, kSource, kField } kind = kLiteral;
    std::string literal;
    std::vector<std::string> path;  // kField
  };
  struct Part {
    std::string literal;                    // when alternatives is empty
    std::vector<Alternative> alternatives;  // a placeholder
  };

  std::string text_;
  std::vector<Part> parts_;
  bool needs_event_ = false;
};

}  // namespace tern::relay
