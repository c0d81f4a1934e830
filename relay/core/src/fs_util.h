// Small POSIX file helpers shared by the core (spool, dead-letter files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tern/status.h"

namespace tern::relay::fs {

// mkdir -p.
Status make_dirs(const std::string& path);
// The directory part of `path` ("." if none).
std::string parent_dir(const std::string& path);
// fsync(2) on a directory, making renames/creations in it durable.
Status sync_dir(const std::string& dir);
// write(2) until everything is written or an error (EINTR retried).
bool write_all(int fd, const char* data, std::size_t n);

}  // namespace tern::relay::fs
