// Small POSIX file helpers. Every failure comes back as a kIOError Status
// naming the call, the path and strerror(errno); none is swallowed (an fsync
// that fails means the data may not be on disk, and the caller must know).
#pragma once

#include <cstddef>
#include <string>

#include "tern/base/status.h"

namespace tern::base {

// mkdir -p (mode 0755); ok if the directories exist already.
Status make_dirs(const std::string& path);

// The directory part of `path` ("." if none, "/" for a file in the root).
std::string parent_dir(const std::string& path);

// fsync(2) on a directory, making renames and creations in it durable.
Status sync_dir(const std::string& dir);

// write(2) until all `n` bytes are written (EINTR retried). On failure errno
// still holds write's error, for callers that word their own message.
Status write_all(int fd, const char* data, std::size_t n);

}  // namespace tern::base
