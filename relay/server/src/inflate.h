// Bounded decompression of request bodies (gzip, deflate): a gzip bomb is
// cut off as soon as its output passes the cap, without inflating it whole.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::relay {

enum class InflateResult {
  kOk,
  kTooLarge,      // output passed `max_output`
  kRatioTooHigh,  // output passed `max_ratio` × input (beyond kRatioFloorBytes)
  kCorrupt,       // not valid gzip/zlib data, or truncated
};

// Below this many output bytes the ratio is not enforced: a tiny body of
// repetitive JSON legitimately compresses more than 100:1.
inline constexpr std::size_t kRatioFloorBytes = 64 * 1024;

// Inflates `input` into `out` (cleared first). `gzip`: gzip framing;
// otherwise zlib ("deflate" content-coding). Never inflates more than one
// byte past max_output or the ratio bound. `out`'s capacity is reused
// across calls.
InflateResult inflate_bounded(std::string_view input, bool gzip, std::size_t max_output,
                              double max_ratio, std::string* out);

}  // namespace tern::relay
