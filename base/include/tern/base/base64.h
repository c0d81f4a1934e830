// Base64 (RFC 4648), as HTTP Basic authentication uses it.
#pragma once

#include <string>
#include <string_view>

namespace tern::base {

// The standard alphabet (A-Z a-z 0-9 + /) with '=' padding.
std::string base64_encode(std::string_view in);

// Decodes `in` into `*out` (replacing its contents). Lenient, because HTTP
// clients differ: both the standard and the URL-safe alphabet (- _) are
// accepted, padding is optional and decoding stops at the first '=', and
// leftover bits of a final partial group are ignored. False on any other
// character (whitespace included); `*out` then holds a prefix.
bool base64_decode(std::string_view in, std::string* out);

}  // namespace tern::base
