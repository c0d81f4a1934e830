// Clang thread-safety annotations (-Wthread-safety) and the mutex types that
// carry them. On other compilers the macros expand to nothing.
//
// std::mutex carries no capability annotation with libstdc++, so state that a
// lock guards is guarded by a tern::Mutex and locked through tern::MutexLock.
#pragma once

#include <mutex>

#if defined(__clang__)
#define TERN_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TERN_THREAD_ANNOTATION(x)
#endif

#define TERN_CAPABILITY(x) TERN_THREAD_ANNOTATION(capability(x))
#define TERN_SCOPED_CAPABILITY TERN_THREAD_ANNOTATION(scoped_lockable)
#define TERN_GUARDED_BY(x) TERN_THREAD_ANNOTATION(guarded_by(x))
#define TERN_REQUIRES(...) TERN_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define TERN_EXCLUDES(...) TERN_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define TERN_ACQUIRE(...) TERN_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define TERN_RELEASE(...) TERN_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TERN_ACQUIRED_BEFORE(...) TERN_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))

namespace tern {

// A std::mutex the analysis knows as a capability.
class TERN_CAPABILITY("mutex") Mutex {
 public:
  void lock() TERN_ACQUIRE() { mu_.lock(); }
  void unlock() TERN_RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope (std::unique_lock underneath), and may release
// and re-take it in between. native() is for std::condition_variable waits:
// a wait gives the mutex back before it returns, so the analysis may go on
// treating it as held.
class TERN_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) TERN_ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() TERN_RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() TERN_ACQUIRE() { lock_.lock(); }
  void unlock() TERN_RELEASE() { lock_.unlock(); }
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace tern
