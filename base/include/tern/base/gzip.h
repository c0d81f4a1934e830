// gzip (RFC 1952) in one call, with zlib: request bodies both halves send,
// and the bounded decompression that reads them back.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tern/base/status.h"

namespace tern::base {

// Compresses `input` into one gzip member at `level` (zlib's 0..9, -1 its
// default) in `*out`, replacing its contents but keeping its capacity (a
// caller that sends many bodies reuses one buffer). kInternal if zlib fails.
Status gzip_compress_into(std::string_view input, int level, std::string* out);

// The same, as a new string.
Result<std::string> gzip_compress(std::string_view input, int level = 6);

// Decompresses a gzip (or zlib) stream. kOutOfRange past `max_output` bytes
// (a small body cannot expand without bound), kInvalidArgument for data that
// is not gzip/zlib or is truncated.
Result<std::string> gzip_decompress(std::string_view input, std::size_t max_output = 256u << 20);

}  // namespace tern::base
