// ObjectWriter: one object of the s3 sink being built — a gzip NDJSON stream
// written to a staging file on local disk as events arrive, so memory stays
// flat whatever the object's size and however long the bucket is away.
//
// The gzip stream is deterministic: a fixed header (no name, mtime 0, OS
// 255), a fixed level, no flush points — the same events in the same order
// give the same bytes, which is what makes a retried upload of a range write
// the same object.
//
// finish() writes the trailer, fdatasyncs the file and knows the object's
// size and SHA-256 (computed over the compressed bytes as they are written).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tern/base/status.h"

namespace tern::relay::s3 {

class ObjectWriter {
 public:
  // Creates (truncates) `path`. kIOError when it cannot.
  static Result<std::unique_ptr<ObjectWriter>> create(std::string path, int gzip_level);
  ~ObjectWriter();  // closes the file if still open (does not delete it)
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // Appends `event` and a newline.
  Status add(std::string_view event);
  // Compressed bytes the object will have at least (written so far).
  uint64_t compressed_bytes() const;
  uint64_t uncompressed_bytes() const;
  uint64_t events() const;
  // Trailer, fdatasync, close. After it: size() and sha256_hex().
  Status finish();
  uint64_t size() const;
  const std::string& sha256_hex() const;
  const std::string& path() const;

 private:
  ObjectWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay::s3
