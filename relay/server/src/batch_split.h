// Splitting a batch body that did not parse as a whole into its events, so
// that each event can be judged alone: one event with a number outside
// double range, a bad escape or nesting past max_json_depth must not cost
// its neighbours their place in the spool.
//
// The split follows the body's structure only (strings, brackets, the root
// object's members and the batch array's commas); it does not validate what
// is inside an event. It fails when that structure itself is broken (an
// unclosed string, a bracket closed by the wrong kind, trailing bytes): such
// a body is not a JSON document at all and is refused whole.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "json_splice.h"

namespace tern::relay {

struct BatchSplit {
  Span batch_value;          // the array: the value of the root's first "batch" member
  std::vector<Span> events;  // each of its elements, in order
};

enum class SplitResult {
  kOk,
  kNotADocument,  // the structure is broken, the root is not an object, or it has no batch array
  kTooDeep,       // nested deeper than max_document_depth: an attack, not an event
};

// Splits `text`. Keys are compared decoded ("b\u0061tch" is the batch), and
// the first "batch" member is the batch, as with the parser. Nesting is
// counted from the root object (level 1); the scan stops as soon as it
// passes `max_document_depth`, so its cost is bounded by the body's size.
SplitResult split_batch(std::string_view text, std::size_t max_document_depth, BatchSplit* out);

}  // namespace tern::relay
