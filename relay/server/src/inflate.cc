#include "inflate.h"

#include <zlib.h>

#include <algorithm>

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
  double ratio_cap = max_ratio > 0 ? max_ratio * static_cast<double>(input.size()) : 0;
  for (;;) {
    std::size_t used = out->size();
    out->resize(used + kChunk);
    z.s.next_out = reinterpret_cast<Bytef*>(&(*out)[used]);
    z.s.avail_out = static_cast<uInt>(kChunk);
    int rc = inflate(&z.s, Z_NO_FLUSH);
    out->resize(used + (kChunk - z.s.avail_out));
    if (out->size() > max_output) return InflateResult::kTooLarge;
    if (ratio_cap > 0 && out->size() > kRatioFloorBytes &&
        static_cast<double>(out->size()) > ratio_cap) {
      return InflateResult::kRatioTooHigh;
    }
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal; anything else after the end is not.
      if (z.s.avail_in == 0) return InflateResult::kOk;
      if (!gzip || inflateReset(&z.s) != Z_OK) return InflateResult::kCorrupt;
      continue;
    }
    if (rc == Z_BUF_ERROR && z.s.avail_in == 0) return InflateResult::kCorrupt;  // truncated
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateResult::kCorrupt;
  }
}

}  // namespace tern::relay
