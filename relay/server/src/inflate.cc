#include "inflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>

namespace tern::relay {
namespace {

constexpr std::size_t kChunk = 16 * 1024;

struct ZStream {
  z_stream s{};
  bool ok = false;
  explicit ZStream(bool gzip) { ok = inflateInit2(&s, gzip ? 15 + 16 : 15) == Z_OK; }
  ~ZStream() {
    if (ok) inflateEnd(&s);
  }
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;
};

}  // namespace

InflateResult inflate_bounded(std::string_view input, bool gzip, std::size_t max_output,
                              double max_ratio, std::string* out) {
  out->clear();
  ZStream z(gzip);
  if (!z.ok) return InflateResult::kCorrupt;
  z.s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.s.avail_in = static_cast<uInt>(input.size());
  // Output past `bound` is refused whatever it is, so inflation never goes
  // further than one byte beyond a limit: a bomb is cut off there.
  std::size_t ratio_bound = SIZE_MAX;
  if (max_ratio > 0) {
    ratio_bound = std::max(
        kRatioFloorBytes,
        static_cast<std::size_t>(std::min(max_ratio * static_cast<double>(input.size()), 1e18)));
  }
  const std::size_t bound = std::min(max_output, ratio_bound) + 1;
  // Few, large inflate() calls: zlib copies the tail of each call's output
  // into its window, so small chunks would copy every byte twice. gzip's
  // trailer states the size (mod 2^32; untrusted, hence only a first guess
  // within `bound`).
  std::size_t guess = input.size() * 4;
  if (gzip && input.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(input.data() + input.size() - 4);
    guess = std::size_t{t[0]} | std::size_t{t[1]} << 8 | std::size_t{t[2]} << 16 |
            std::size_t{t[3]} << 24;
  }
  std::size_t target = std::min(bound, std::max(guess + 64, kChunk));
  std::size_t used = 0;
  for (;;) {
    if (used == target) target = std::min(bound, std::max(target * 2, used + kChunk));
    out->resize(target);
    std::size_t room = std::min<std::size_t>(target - used, UINT32_MAX);
    z.s.next_out = reinterpret_cast<Bytef*>(&(*out)[used]);
    z.s.avail_out = static_cast<uInt>(room);
    int rc = inflate(&z.s, Z_NO_FLUSH);
    used += room - z.s.avail_out;
    out->resize(used);
    if (used > max_output) return InflateResult::kTooLarge;
    if (used > ratio_bound) return InflateResult::kRatioTooHigh;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal; anything else after the end is not.
      if (z.s.avail_in == 0) return InflateResult::kOk;
      if (!gzip || inflateReset(&z.s) != Z_OK) return InflateResult::kCorrupt;
      out->resize(target);
      continue;
    }
    if (rc == Z_BUF_ERROR && z.s.avail_in == 0) return InflateResult::kCorrupt;  // truncated
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateResult::kCorrupt;
    out->resize(target);
  }
}

}  // namespace tern::relay
