// The "file" sink: NDJSON files, one event per line, rotated by size and age,
// optionally gzip-compressed. The relay's embedded default.
//
// Settings (SinkConfig::settings):
//   dir        output directory            (default <data_dir>/events)
//   prefix     file name prefix            (default: the sink's name)
//   max_bytes  rotate at this file size    (default "128MiB")
//   max_age    rotate a file this old      (default "1h")
//   gzip       write .ndjson.gz            (default false)
//   gzip_level 1..9                        (default 6)
//
// Files: the file being written is <dir>/<prefix>-<UTC yyyymmddThhmmssZ>-<n>.ndjson[.gz].open;
// on rotation or close it is finished (gzip trailer written) and renamed
// without ".open", so a reader only ever picks up complete files. A ".open"
// file left by a crash is renamed at the next open() (for gzip it ends at the
// last acknowledged batch, each batch being Z_SYNC_FLUSH'ed).
//
// Durability: deliver() writes the batch and fdatasyncs before returning ok.
// A file older than max_age is also rotated when the sink is idle (health()).
// Age and the file names' UTC stamp come from SinkContext::clock.
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_file_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
