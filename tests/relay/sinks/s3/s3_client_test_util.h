// What the S3Client tests share (s3_client_test.cc against moto,
// s3_client_request_test.cc against a canned server): test bytes and files.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>
#include <random>
#include <string>

#include "s3_client.h"
#include "temp_dir.h"

namespace tern::relay::s3::client_test {

inline std::string pattern_bytes(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// A file under `dir` holding `bytes`; the descriptor stays open (read-only).
inline int write_temp(const testing::TempDir& dir, const std::string& name,
                      const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

inline std::string sha256_of(const std::string& bytes, const testing::TempDir& dir) {
  int fd = write_temp(dir, "hash-input", bytes);
  Result<std::string> h = sha256_file_range(fd, 0, bytes.size());
  ::close(fd);
  return h.is_ok() ? h.value() : std::string();
}

}  // namespace tern::relay::s3::client_test
