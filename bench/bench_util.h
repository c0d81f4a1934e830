// Helpers the benchmark programs share: the run directory, finding and
// reaching helper programs (nginx), /proc readings, zlib. Plain POSIX and
// zlib, so every bench compiles it in a second.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tern::bench {

// Seconds of steady-clock time since `t0`.
double seconds_since(std::chrono::steady_clock::time_point t0);
// CPU seconds the calling thread has used.
double thread_cpu_s();
// This process's user + system CPU seconds (every thread).
double process_cpu_s();

// The CPUs this process may use, in order (affinity mask at start).
std::vector<int> allowed_cpus();
// Pins the calling thread to `cpu`; false when that fails or cpu < 0.
bool pin_self(int cpu);

// The first executable `name` in `extra_dirs`, then in $PATH; "" if none.
std::string find_program(const std::string& name, const std::vector<std::string>& extra_dirs);
// A free loopback TCP port (bound, then released: nothing listens on it);
// -1 when none could be bound.
int free_port();

// A field of /proc/<pid>/status in KiB ("VmRSS", "RssAnon", ...); -1 when
// the process or the field is gone.
long long proc_status_kb(pid_t pid, const char* field);

// The whole of a (small) file; "" when it cannot be read.
std::string read_text(const std::string& path);

// `in` deflated at zlib `level`: with the gzip wrapper (an HTTP body with
// Content-Encoding: gzip) or the zlib one. "" on failure.
std::string deflate_text(const std::string& in, int level, bool gzip_wrapper);

// A fresh directory <parent>/<name>-XXXXXX for one run, removed with
// everything in it when destroyed. ok() is false when it could not be made.
class RunDir {
 public:
  RunDir(const std::string& parent, const std::string& name);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace tern::bench
