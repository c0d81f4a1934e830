// gzip (RFC 1952) compression of upload bodies with zlib.
#pragma once

#include <string>
#include <string_view>

#include "tern/status.h"

namespace tern {

// Compresses `input` into a gzip member at `level` (zlib's 0..9, -1 default).
Result<std::string> gzip_compress(std::string_view input, int level = 6);

// Decompresses a gzip (or zlib) stream; fails past `max_output` bytes.
Result<std::string> gzip_decompress(std::string_view input, std::size_t max_output = 256u << 20);

}  // namespace tern
