// Byte-level helpers over JSON text that a validating parser (simdjson)
// already accepted: find the spans of an array's elements or an object's
// members, and rebuild an event object by copying its original member bytes,
// replacing or dropping a few members and appending new ones. No DOM is
// re-serialised, so numbers, escapes and key order the client sent survive
// unchanged.
//
// Precondition for every function here: the text is valid JSON (these
// helpers do not validate; on text they cannot follow they return false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tern/base/json_text.h"

namespace tern::relay {

struct Span {
  std::size_t begin = 0;  // offsets into the scanned text
  std::size_t end = 0;    // one past the last byte
  std::string_view of(std::string_view text) const { return text.substr(begin, end - begin); }
};

struct MemberSpan {
  std::string_view key;  // the key as written, without quotes (escapes not decoded)
  Span member;           // `"key" : value`
  Span value;
};

// Index just past the JSON value starting at `i` (after leading whitespace),
// or npos when the text ends first.
std::size_t skip_json_value(std::string_view text, std::size_t i);

// One event as scan_events found it: its span in the scanned text, its
// top-level members and, when its first "context" member is an object, that
// object's members — all in one pass over the bytes.
struct ScannedEvent {
  Span span;  // in the scanned text
  bool is_object = false;
  std::vector<MemberSpan> members;          // spans relative to span.begin
  std::ptrdiff_t context = -1;              // index in `members` of the context object, or -1
  std::vector<MemberSpan> context_members;  // spans relative to that member's value
};

// Scans the value at text[i]: each element of an array, or the value itself
// otherwise, into (*events)[0..*count). Entries of `events` past *count are
// left for reuse (their vectors keep their capacity).
bool scan_events(std::string_view text, std::size_t i, std::vector<ScannedEvent>* events,
                 std::size_t* count);

// The byte offsets of a document's structural characters in order, as a
// validating parser's first stage found them (simdjson's stage 1): every
// { } [ ] , : and the first byte of every string, number, true, false and
// null. With them a scan steps from token to token instead of byte to byte.
struct StructuralIndex {
  const uint32_t* positions = nullptr;
  std::size_t count = 0;
};

// scan_events over a document with its structural index. `batch_member`
// >= 0: the events are the elements of the root object's member at that
// position (an array; the caller finds which member is "batch" from the
// parser, whose keys are decoded); < 0: the root value is the one event.
// Returns false when the index does not describe the text (the caller falls
// back to scan_events).
bool scan_events_indexed(std::string_view text, StructuralIndex index, std::ptrdiff_t batch_member,
                         std::vector<ScannedEvent>* events, std::size_t* count);

// Where the value of the root object's n-th member (from 0) starts.
bool find_nth_member_value(std::string_view text, std::size_t n, std::size_t* value_begin);

// Appends `s` to `out` as a JSON string literal (quotes included):
// tern::base::append_json_string, inline, for the callers that pass a pointer.
inline void append_json_string(std::string* out, std::string_view s) {
  base::append_json_string(*out, s);
}

// Builds a new object from `object_text` (an object): for each member, in
// the original order, the editor decides to keep its bytes, drop it, or
// replace its value; then the extra members (already formatted `"k":v` texts)
// are appended before the closing brace.
class ObjectSplicer {
 public:
  enum class Action { kKeep, kDrop, kReplace };
  struct Decision {
    Action action = Action::kKeep;
    std::string value;  // JSON text for kReplace
  };

  // `members` come from scan_events; decisions beyond decisions.size() are
  // kKeep. `extra_text` is empty or `"k1":v1,"k2":v2` (no leading or
  // trailing comma).
  static void splice_text(std::string_view object_text, const std::vector<MemberSpan>& members,
                          const std::vector<Decision>& decisions, std::string_view extra_text,
                          std::string* out);
};

}  // namespace tern::relay
