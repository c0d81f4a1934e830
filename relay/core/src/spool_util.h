// POSIX I/O and clock waits shared by the spool's writer and reader.
// Private to the spool.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tern/relay/clock.h"

namespace tern::relay::spool_util {

// "<what> <path>: <strerror(errno)>".
std::string errno_text(const char* what, const std::string& path);

// pread(2) of up to n bytes at `off` (fewer at the end of the file: *got says
// how many). False on an error (errno set); EINTR is retried.
bool read_full(int fd, char* buf, std::size_t n, uint64_t off, std::size_t* got);
// pwrite(2) of all n bytes at `off`. False on an error (errno set).
bool write_full(int fd, const char* buf, std::size_t n, uint64_t off);
// pwritev(2) of every buffer of `iov` in order from `off`; `iov` is used up.
bool write_full_v(int fd, std::vector<iovec>& iov, uint64_t off);

// Waits on `cv` (whose mutex `lock` holds) until `done()` holds or `deadline`
// has passed on `clock`; returns done(). Time is read from `clock` only, so
// a test clock decides when the deadline has passed. The clock cannot wake
// a waiter: a test clock's advance is seen at the next notify of `cv`, or
// once the time that was left has passed for real.
template <typename Done>
bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, const Clock& clock,
                std::chrono::steady_clock::time_point deadline, Done done) {
  // Bounds one wait (a far deadline would overflow the real clock's).
  constexpr std::chrono::steady_clock::duration kLongestWait = std::chrono::hours(24);
  while (!done()) {
    const auto now = clock.steady_now();
    if (now >= deadline) return done();
    cv.wait_for(lock, std::min(deadline - now, kLongestWait));
  }
  return true;
}

}  // namespace tern::relay::spool_util
