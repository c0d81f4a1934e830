// relay_bench: the relay rows (R1, R2, R3, R5) of the performance table in
// docs/architecture.md. Each figure is printed next to its baseline measured in the same run
// on the same machine, with the ratio and the target; the program ends with
// ONE JSON line holding every number.
//
//   R1  tern-relay events/s on one core: gzip batches of 100 realistic events
//       (unique messageIds, dedup on with its default window), file sink,
//       ack mode `local`, server.threads = 1, every relay thread pinned to
//       CPU 0 (sched affinity inherited at spawn), closed loop from the
//       load generator pinned to CPU 1. "Per core" = the relay confined to
//       one core; its CPU use over the run is printed so an idle core shows.
//                                    vs the same bodies, single thread, in this
//       process: zlib inflate + simdjson parse and per-event check (object,
//       string type and messageId) + write(2) of the inflated text to a file.
//       The relay also has its admin listener (idle), and R1 runs a second
//       time with fresh batches while one viewer reads the live tap
//       (GET /admin/v1/tap, read and discarded on a thread of this process):
//       r1_events_per_s_tap, and r1_tap_ratio = that / R1 with no tap open.
//   R2  HTTP req/s with ingest bypassed. tern-relay has no bench route that
//       skips ingest, so this is GET /health (its cheapest route) on a fresh
//       relay, closed loop        vs nginx (nginx-light, `return 200` with the
//       same 15-byte JSON body, worker_processes 1 = the relay's threads,
//       pinned to the same CPU, access_log off), same load.
//   R3  p99 answer latency, open loop at half of R1's rate (a fresh set of
//       unique batches), ack `local`, measured from each request's scheduled
//       send time                 vs nginx's p99 for the same bodies at the same
//       rate + 2 × fdatasync (median of many 256-byte appends + fdatasync in
//       the run directory, the file system of the relay's spool). Also
//       reported: the relay's group commits during R3 and how many took
//       over 5 ms (a slow fdatasync holds up every answer behind it).
//   R5  RSS per idle keep-alive connection: K connections each POST one
//       batch (the SDK's pattern) and stay open; (VmRSS after − before) / K of
//       a fresh relay that has answered one request (so its code is paged
//       in)                        vs the same for nginx (sum over its workers).
//   R4  (Kafka) is measured by bench/kafka_bench when that program is built:
//       relay_bench runs it when it sits next to this binary and merges its
//       JSON keys (kafka_eps, file_eps, ...) into the final line.
//
// Usage: relay_bench [--quick] [--dir DIR] [--relay PATH] [--nginx PATH] [--nice N]
//   --quick  shorter phases and fewer connections for R5 (about half the time)
//   --nice   run the bench, the load generator and the servers at this nice
//            level (e.g. -10, needs privilege) so other work on a shared
//            machine disturbs the figures less; the level is printed
//   --dir    where the run directory (spool, sink output, nginx prefix) goes;
//            default $TMPDIR or /tmp. Use a real disk: R3 includes fsync.
//   --relay  the tern-relay binary (default: the one built with this bench)
//   --nginx  the nginx binary (default: found in /usr/sbin or $PATH)
//
// A benchmark, not a test: a missed target is reported, never an exit failure.
// Exit status 1 only when a figure could not be measured at all.
//
// Why one file (about 1,200 lines): the rows share the run directory, the
// relay and nginx processes with their pinning, the page-cache handling and
// the final JSON line, and each row reads top to bottom next to its
// baseline; the load generator itself is in loadgen.{h,cc} and the shared
// helpers in bench_util.{h,cc}.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <dirent.h>
#include <simdjson.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "loadgen.h"

extern char** environ;

namespace {

// bench_util.h and loadgen.h: RunDir, BatchGenerator, run_load, ...
using namespace tern::bench;
using Clock = std::chrono::steady_clock;

constexpr int kEventsPerBatch = 100;
constexpr const char* kWriteKey = "wk_relay_bench";
// nginx's worker_connections. nginx allocates and touches its connection
// table for all of them at start, so R5 adds that static share (measured
// against a second nginx with kNginxSmallConnections) to its dynamic growth.
constexpr int kNginxConnections = 8192;
constexpr int kNginxSmallConnections = 256;

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// ---------------------------------------------------------------- process helpers

int cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

// Lets this thread run on any of `cpus` again (after pin_self).
bool pin_self_to(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

// utime + stime of the whole process (all threads), seconds.
double proc_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rp = text.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream ss(text.substr(rp + 2));
  std::string f;
  std::vector<std::string> fields;
  while (ss >> f) fields.push_back(f);
  // fields[0] is state (field 3); utime is field 14, stime field 15.
  if (fields.size() < 13) return 0;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / ticks;
}

pid_t proc_ppid(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rp = text.rfind(')');
  if (rp == std::string::npos || rp + 4 >= text.size()) return -1;
  std::istringstream ss(text.substr(rp + 2));
  std::string state;
  long ppid = -1;
  ss >> state >> ppid;
  return static_cast<pid_t>(ppid);
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    if (proc_ppid(static_cast<pid_t>(pid)) == parent) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

// A child process, pinned to `cpu` (inherited affinity), stopped with
// SIGTERM (then SIGKILL after 10 s) when destroyed.
class Child {
 public:
  static std::unique_ptr<Child> spawn(const std::vector<std::string>& args, int cpu,
                                      const std::string& stderr_path, bool pipe_stdout,
                                      std::string* why) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2] = {-1, -1};
    if (pipe_stdout && ::pipe2(fds, O_CLOEXEC) != 0) {
      *why = std::string("pipe: ") + std::strerror(errno);
      return nullptr;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (pipe_stdout)
      posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    else
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    // The child inherits this thread's affinity: pin, spawn, restore.
    cpu_set_t saved;
    CPU_ZERO(&saved);
    sched_getaffinity(0, sizeof saved, &saved);
    if (cpu >= 0) pin_self(cpu);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    sched_setaffinity(0, sizeof saved, &saved);
    posix_spawn_file_actions_destroy(&fa);
    if (pipe_stdout) ::close(fds[1]);
    if (rc != 0) {
      if (pipe_stdout) ::close(fds[0]);
      *why = "cannot start " + args[0] + ": " + std::strerror(rc);
      return nullptr;
    }
    std::unique_ptr<Child> c(new Child());
    c->pid_ = pid;
    c->out_ = fds[0];
    return c;
  }

  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first stdout line, waiting up to `timeout_ms`; empty on timeout/EOF.
  std::string read_line(int timeout_ms) {
    std::string line;
    auto start = Clock::now();
    while (out_ >= 0) {
      int left = timeout_ms - static_cast<int>(seconds_since(start) * 1000);
      if (left <= 0) break;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) break;
      char c;
      ssize_t n = ::read(out_, &c, 1);
      if (n <= 0) break;
      if (c == '\n') return line;
      line += c;
    }
    return {};
  }

  bool alive() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  pid_t pid() const { return pid_; }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 1000; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      sleep_ms(10);
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }

 private:
  Child() = default;
  pid_t pid_ = -1;
  int out_ = -1;
};

// One blocking GET on a fresh connection; the body, or empty on failure.
std::string http_get_body(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : out.substr(body + 4);
}

// Sum of a Prometheus counter over all its label sets; -1 when absent.
double metric_sum(const std::string& text, const std::string& name) {
  double sum = -1;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    if (sum < 0) sum = 0;
    sum += std::atof(line.c_str() + sp + 1);
  }
  return sum;
}

// One load phase against 127.0.0.1:`port`; `rate_rps` 0 = closed loop.
LoadOptions load_phase(uint16_t port, int connections, double warmup_s, double duration_s,
                       double rate_rps) {
  LoadOptions o;
  o.port = port;
  o.connections = connections;
  o.warmup_s = warmup_s;
  o.duration_s = duration_s;
  o.rate_rps = rate_rps;
  return o;
}

// Sends each of `requests` at most once, in order, as `o` says.
LoadResult run_requests(const LoadOptions& o, const std::vector<std::string>& requests) {
  return run_load(o, [&](uint64_t i) { return i < requests.size() ? &requests[i] : nullptr; });
}

// ---------------------------------------------------------------- the relay and nginx

struct Relay {
  std::unique_ptr<Child> child;
  uint16_t port = 0;
  uint16_t admin_port = 0;  // with an admin listener (start_relay's `admin`)
  std::string data_dir;

  std::string metrics() const { return http_get_body(port, "/metrics"); }
  double metric(const std::string& name) const { return metric_sum(metrics(), name); }
};

constexpr const char* kAdminToken = "tat_relay_bench";

// `admin`: with an admin listener too (loopback, port 0, token kAdminToken),
// for R1 with a live tap open.
std::unique_ptr<Relay> start_relay(const std::string& bin, const RunDir& dir,
                                   const std::string& name, int cpu, std::string* why,
                                   bool admin = false) {
  auto r = std::make_unique<Relay>();
  r->data_dir = dir.file(name);
  std::filesystem::create_directories(r->data_dir);
  std::string conf = dir.file(name + ".toml");
  {
    std::ofstream out(conf);
    // One I/O thread, so "per core" is one core; the embedded default's file
    // sink (plain NDJSON) and `local` ack, as a user would deploy it.
    out << "data_dir = \"" << r->data_dir << "\"\n"
        << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 1\n"
        << "[log]\nlevel = \"warn\"\n"
        << "[[sources]]\nid = \"bench\"\nwrite_keys = [\"" << kWriteKey
        << "\"]\nack_mode = \"local\"\n"
        << "[[sinks]]\nname = \"file\"\ntype = \"file\"\n";
  }
  std::vector<std::string> args = {bin, "--config", conf};
  if (admin) {
    std::string token_file = dir.file(name + ".admin-token");
    std::ofstream(token_file) << kAdminToken << "\n";
    args.insert(args.end(), {"--admin-listen", "127.0.0.1:0", "--admin-token-file", token_file});
  }
  r->child = Child::spawn(args, cpu, dir.file(name + ".stderr.log"), true, why);
  if (!r->child) return nullptr;
  std::string line = r->child->read_line(15000);
  const std::string prefix = "listening on ";
  if (line.compare(0, prefix.size(), prefix) != 0) {
    *why = "tern-relay did not print its listening line; stderr: " +
           read_text(dir.file(name + ".stderr.log")).substr(0, 600);
    return nullptr;
  }
  r->port = static_cast<uint16_t>(std::atoi(line.c_str() + line.rfind(':') + 1));
  if (admin) {
    const std::string admin_prefix = "admin listening on ";
    for (int i = 0; i < 5 && r->admin_port == 0; ++i) {
      line = r->child->read_line(15000);
      if (line.compare(0, admin_prefix.size(), admin_prefix) == 0)
        r->admin_port = static_cast<uint16_t>(std::atoi(line.c_str() + line.rfind(':') + 1));
    }
    if (r->admin_port == 0) {
      *why = "tern-relay did not print its admin listening line; stderr: " +
             read_text(dir.file(name + ".stderr.log")).substr(0, 600);
      return nullptr;
    }
  }
  return r;
}

// A viewer of GET /admin/v1/tap on its own thread, reading and discarding
// what the tap sends until stop(): what the console's debugger costs.
class TapViewer {
 public:
  explicit TapViewer(uint16_t admin_port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{0, 200'000};  // so stop() is seen within 200 ms
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(admin_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = std::string("GET /admin/v1/tap HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                      "Authorization: Bearer " + kAdminToken + "\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return;
    thread_ = std::thread([this] {
      char buf[65536];
      while (!stop_.load()) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) bytes_ += static_cast<uint64_t>(n);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
      }
    });
  }
  ~TapViewer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

struct Nginx {
  std::unique_ptr<Child> child;
  uint16_t port = 0;

  // RSS of the workers (the processes holding connections), kB.
  long long worker_rss_kb() const {
    long long sum = 0;
    for (pid_t w : children_of(child->pid())) sum += std::max(0LL, proc_status_kb(w, "VmRSS"));
    return sum;
  }
};

std::unique_ptr<Nginx> start_nginx(const std::string& bin, const RunDir& dir,
                                   const std::string& name, int workers, int worker_connections,
                                   int cpu, std::string* why) {
  auto n = std::make_unique<Nginx>();
  n->port = static_cast<uint16_t>(
      std::max(0, tern::bench::free_port()));  // 0: none free; nginx fails to start
  std::string prefix = dir.file(name);
  std::filesystem::create_directories(prefix + "/tmp");
  std::string conf = prefix + "/nginx.conf";
  {
    std::ofstream out(conf);
    out << "daemon off;\nworker_processes " << workers << ";\nworker_rlimit_nofile 16384;\n"
        << "pid " << prefix << "/nginx.pid;\nerror_log " << prefix << "/error.log warn;\n"
        << "events { worker_connections " << worker_connections << "; }\n"
        << "http {\n  access_log off;\n  client_max_body_size 64m;\n  client_body_buffer_size 1m;\n"
        << "  client_body_temp_path " << prefix << "/tmp/body;\n  proxy_temp_path " << prefix
        << "/tmp/proxy;\n"
        << "  fastcgi_temp_path " << prefix << "/tmp/fastcgi;\n  uwsgi_temp_path " << prefix
        << "/tmp/uwsgi;\n"
        << "  scgi_temp_path " << prefix
        << "/tmp/scgi;\n  keepalive_requests 1000000;\n  keepalive_timeout 60s;\n"
        << "  server {\n    listen 127.0.0.1:" << n->port << ";\n"
        << "    location = /health { default_type application/json; return 200 "
           "'{\"status\":\"ok\"}'; }\n"
        << "    location / { default_type application/json; return 200 '{}'; }\n  }\n}\n";
  }
  n->child = Child::spawn({bin, "-p", prefix + "/", "-c", conf, "-e", prefix + "/error.log"}, cpu,
                          prefix + "/stderr.log", false, why);
  if (!n->child) return nullptr;
  for (int i = 0; i < 500; ++i) {
    if (!http_get_body(n->port, "/health").empty() && !children_of(n->child->pid()).empty())
      return n;
    if (!n->child->alive()) break;
    sleep_ms(10);
  }
  *why = "nginx did not start: " + read_text(prefix + "/error.log").substr(0, 600) +
         read_text(prefix + "/stderr.log").substr(0, 300);
  return nullptr;
}

// ---------------------------------------------------------------- bodies

// `count` complete POST requests of unique gzip batches, made on `threads`
// threads (before any server runs, so they compete with nothing measured).
std::vector<std::string> make_requests(uint16_t port, std::size_t count, uint64_t seed,
                                       int threads) {
  std::vector<std::string> out(count);
  std::string host = "127.0.0.1:" + std::to_string(port);
  std::vector<std::thread> pool;
  threads = std::max(1, threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      BatchGenerator gen(seed * 1000003u + static_cast<uint64_t>(t) + 1);
      for (std::size_t i = static_cast<std::size_t>(t); i < count;
           i += static_cast<std::size_t>(threads)) {
        out[i] = tern::bench::http_post(host, "/v1/batch", kWriteKey,
                                        gen.batch_gzip(kEventsPerBatch), true);
      }
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

// The body of a request text made by make_requests.
std::string_view body_of(const std::string& request) {
  auto p = request.find("\r\n\r\n");
  return std::string_view(request).substr(p + 4);
}

// Re-targets requests made for one port at another (the Host header only).
std::vector<std::string> retarget(const std::vector<std::string>& reqs, uint16_t from,
                                  uint16_t to) {
  std::vector<std::string> out;
  out.reserve(reqs.size());
  std::string a = "Host: 127.0.0.1:" + std::to_string(from) + "\r\n";
  std::string b = "Host: 127.0.0.1:" + std::to_string(to) + "\r\n";
  for (const auto& r : reqs) {
    std::string s = r;
    auto p = s.find(a);
    if (p != std::string::npos) s.replace(p, a.size(), b);
    out.push_back(std::move(s));
  }
  return out;
}

// ---------------------------------------------------------------- R1 baseline

// Both R1 runs write about a gigabyte. Once the page cache has filled the
// machine's memory, every new page written first costs a reclaim, so the
// run that comes second would pay for the first one's files. When the bench
// may (root), it starts each run with a clean page cache; otherwise it says
// so and the runs share whatever state the cache is in.
bool drop_page_cache() {
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, "1", 1) == 1;
  ::close(fd);
  return ok;
}

struct CeilingResult {
  double eps = 0;       // events per second of this thread's CPU time
  double wall_eps = 0;  // events per wall-clock second
  uint64_t events = 0;
  uint64_t bad = 0;
  std::string error;
};

// inflate + simdjson validate + write(2), single thread, same bodies, for at
// least `seconds` (whole passes over the bodies).
CeilingResult ceiling(const std::vector<std::string>& reqs, double seconds,
                      const std::string& path) {
  CeilingResult res;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    res.error = std::string("open: ") + std::strerror(errno);
    return res;
  }
  z_stream zs{};
  inflateInit2(&zs, 15 + 32);
  simdjson::dom::parser parser;
  std::string inflated;
  std::vector<char> chunk(1 << 16);
  auto start = Clock::now();
  double cpu_start = thread_cpu_s();
  double elapsed = 0;
  while (elapsed < seconds) {
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
      res.error = "cannot truncate the baseline file";
      break;
    }
    for (const auto& r : reqs) {
      std::string_view body = body_of(r);
      inflated.clear();
      inflateReset(&zs);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
      zs.avail_in = static_cast<uInt>(body.size());
      int rc = Z_OK;
      while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        inflated.append(chunk.data(), chunk.size() - zs.avail_out);
      }
      if (rc != Z_STREAM_END) {
        ++res.bad;
        continue;
      }
      simdjson::dom::element doc;
      if (parser.parse(inflated).get(doc) != simdjson::SUCCESS) {
        ++res.bad;
        continue;
      }
      simdjson::dom::array batch;
      if (doc["batch"].get(batch) != simdjson::SUCCESS) {
        ++res.bad;
        continue;
      }
      for (simdjson::dom::element ev : batch) {
        simdjson::dom::object obj;
        std::string_view type, mid;
        if (ev.get(obj) != simdjson::SUCCESS || obj["type"].get(type) != simdjson::SUCCESS ||
            obj["messageId"].get(mid) != simdjson::SUCCESS || type.empty() || mid.empty()) {
          ++res.bad;
          continue;
        }
        ++res.events;
      }
      std::size_t off = 0;
      while (off < inflated.size()) {
        ssize_t n = ::write(fd, inflated.data() + off, inflated.size() - off);
        if (n <= 0) {
          res.error = std::string("write: ") + std::strerror(errno);
          break;
        }
        off += static_cast<std::size_t>(n);
      }
      if (!res.error.empty()) break;
    }
    elapsed = seconds_since(start);
    if (!res.error.empty()) break;
  }
  inflateEnd(&zs);
  ::close(fd);
  ::unlink(path.c_str());
  double cpu = thread_cpu_s() - cpu_start;
  res.wall_eps = elapsed > 0 ? static_cast<double>(res.events) / elapsed : 0;
  res.eps = cpu > 0 ? static_cast<double>(res.events) / cpu : 0;
  return res;
}

// Median ms of a 256-byte append + fdatasync, `n` times, in `path`'s directory.
double fdatasync_median_ms(const std::string& path, int n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  std::vector<double> ms;
  char buf[256];
  std::memset(buf, 'x', sizeof buf);
  for (int i = 0; i < n; ++i) {
    auto t = Clock::now();
    if (::write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf) || ::fdatasync(fd) != 0)
      break;
    ms.push_back(seconds_since(t) * 1000);
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (ms.empty()) return -1;
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// ---------------------------------------------------------------- R5

struct RssResult {
  double bytes_per_conn = -1;
  long long before_kb = 0, after_kb = 0;
  int opened = 0;
  std::string error;
};

// Opens `reqs.size()` connections, one request each, kept idle; the RSS
// growth of `rss_kb()` divided by the count. `warm` is sent first on a
// connection of its own (then closed), so the code and buffers every request
// needs are resident before "before" is read: what is measured is the cost
// of the connections, not of the server's first request.
template <typename RssFn>
RssResult rss_per_connection(uint16_t port, const std::string& warm,
                             const std::vector<std::string>& reqs, RssFn rss_kb) {
  RssResult res;
  {
    std::string ignored;
    for (int fd : tern::bench::open_idle_connections("127.0.0.1", port, 1, warm, &ignored))
      ::close(fd);
  }
  sleep_ms(300);
  res.before_kb = rss_kb();
  std::vector<int> fds;
  std::string why;
  for (const auto& r : reqs) {
    auto one = tern::bench::open_idle_connections("127.0.0.1", port, 1, r, &why);
    if (one.empty()) break;
    fds.push_back(one[0]);
  }
  res.opened = static_cast<int>(fds.size());
  sleep_ms(500);  // let the server settle (buffers released after the answer)
  res.after_kb = rss_kb();
  for (int fd : fds) ::close(fd);
  if (res.opened < static_cast<int>(reqs.size())) {
    res.error = "only " + std::to_string(res.opened) + " of " + std::to_string(reqs.size()) +
                " connections opened: " + why;
  }
  if (res.opened > 0) {
    res.bytes_per_conn = static_cast<double>(res.after_kb - res.before_kb) * 1024.0 / res.opened;
  }
  return res;
}

// ---------------------------------------------------------------- output

void line(const char* id, const char* what, double v, const char* unit, const char* base_what,
          double base, double ratio, const char* target, bool met) {
  std::printf("%-3s %-44s %12.2f %-6s | baseline %-44s %12.2f | ratio %7.3f (target %s) %s\n", id,
              what, v, unit, base_what, base, ratio, target, met ? "MET" : "MISSED");
}

void step(const char* what) {
  std::fprintf(stderr, "relay_bench: %s\n", what);
  std::fflush(stderr);
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

// R4 hook: bench/kafka_bench (the Kafka engineer's program), when built next
// to this binary, is run and its final JSON line's keys are merged in.
nlohmann::ordered_json run_kafka_bench() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::string bin = std::filesystem::path(self).parent_path().string() + "/kafka_bench";
  if (::access(bin.c_str(), X_OK) != 0) {
    std::printf(
        "R4  (kafka_bench not built next to relay_bench: Kafka figure not measured here)\n");
    return {};
  }
  std::string cmd = bin + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string last, text;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) {
    std::string l = buf;
    text += l;
    if (!l.empty() && l[0] == '{') last = l;
  }
  int status = ::pclose(p);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::printf("R4  kafka_bench (exit %d):\n", rc);
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty() && l[0] != '{') std::printf("    %s\n", l.c_str());
  }
  auto j = nlohmann::ordered_json::parse(last, nullptr, false);
  return j.is_object() ? j : nlohmann::ordered_json();
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
#ifdef TERN_BENCH_RELAY
  std::string relay_bin = TERN_BENCH_RELAY;
#else
  std::string relay_bin;
#endif
  std::string nginx_bin;
  int nice_level = 0;
  bool set_nice = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--nice" && i + 1 < argc) {
      nice_level = std::atoi(argv[++i]);
      set_nice = true;
    } else if ((a == "--dir" || a == "--relay" || a == "--nginx") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--dir")
        parent = v;
      else if (a == "--relay")
        relay_bin = v;
      else
        nginx_bin = v;
    } else {
      std::fprintf(
          stderr,
          "usage: relay_bench [--quick] [--dir DIR] [--relay PATH] [--nginx PATH] [--nice N]\n");
      return 2;
    }
  }
  if (relay_bin.empty() || ::access(relay_bin.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "relay_bench: tern-relay not found (%s); pass --relay PATH\n",
                 relay_bin.c_str());
    return 1;
  }
  if (nginx_bin.empty()) nginx_bin = find_program("nginx", {"/usr/sbin", "/usr/local/sbin"});
  signal(SIGPIPE, SIG_IGN);
  // Set before any thread or child exists: all of them inherit it.
  if (set_nice && setpriority(PRIO_PROCESS, 0, nice_level) != 0) {
    std::fprintf(stderr, "relay_bench: cannot set nice %d: %s (continuing at %d)\n", nice_level,
                 std::strerror(errno), getpriority(PRIO_PROCESS, 0));
  }
  // K idle connections on both ends need file descriptors.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);

  RunDir dir(parent, "tern-relay-bench");
  if (!dir.ok()) {
    std::fprintf(stderr, "relay_bench: cannot create a run directory in %s\n", parent.c_str());
    return 1;
  }
  auto bench_start = Clock::now();

  // Servers on the first allowed CPU, the load generator and baseline on the
  // second (when there is one): the figures are per core.
  std::vector<int> cpus = allowed_cpus();
  int server_cpu = cpus.empty() ? -1 : cpus[0];
  int load_cpu = cpus.size() > 1 ? cpus[1] : -1;
  int threads = cpu_count();

  const double warmup_s = quick ? 0.3 : 0.5;
  const double r1_s = quick ? 2.0 : 5.0;
  const double r2_s = quick ? 1.5 : 3.0;
  const double r3_s = quick ? 2.0 : 5.0;
  const int r1_conns = 64, r2_conns = 64, r3_conns = 64;
  const int k_idle = static_cast<int>(
      std::min<rlim_t>(quick ? 500 : 1000, rl.rlim_cur > 200 ? (rl.rlim_cur - 100) / 2 : 50));
  // Enough unique batches for R1 at up to ~200k events/s per core.
  const std::size_t r1_bodies = quick ? 3000 : 9000;

  std::printf(
      "relay_bench: tern-relay %s; servers on CPU %d, load generator on CPU %d; %s mode; "
      "load average %s on %d CPUs; nice %d\n",
      relay_bin.c_str(), server_cpu, load_cpu, quick ? "quick" : "full", loadavg().c_str(), threads,
      getpriority(PRIO_PROCESS, 0));

  // ------------------------------------------------------------ R1
  std::string why;
  step("starting tern-relay (R1/R3)");
  // With an admin listener (idle but for the second R1 run's tap).
  auto relay = start_relay(relay_bin, dir, "relay-r1", server_cpu, &why, /*admin=*/true);
  if (!relay) {
    std::fprintf(stderr, "relay_bench: %s\n", why.c_str());
    return 1;
  }
  step("generating unique gzip batches");
  auto gen_start = Clock::now();
  std::vector<std::string> r1_reqs = make_requests(relay->port, r1_bodies, 1, threads);
  std::size_t gz_bytes = 0, raw_events = r1_reqs.size() * kEventsPerBatch;
  for (const auto& r : r1_reqs) gz_bytes += body_of(r).size();
  std::printf(
      "bodies: %zu batches of %d events, %.0f B gzip per batch (%.1f B/event on the wire), made in "
      "%.1f s\n",
      r1_reqs.size(), kEventsPerBatch, static_cast<double>(gz_bytes) / r1_reqs.size(),
      static_cast<double>(gz_bytes) / raw_events, seconds_since(gen_start));
  pin_self(load_cpu);

  const bool cache_dropped = drop_page_cache();
  std::printf("page cache %s before each R1 run\n",
              cache_dropped ? "dropped" : "not dropped (needs root)");
  step("R1 baseline: inflate + simdjson + write(2)");
  CeilingResult ceil = ceiling(r1_reqs, quick ? 1.0 : 2.5, dir.file("ceiling.ndjson"));
  if (!ceil.error.empty() || ceil.bad) {
    std::fprintf(stderr, "relay_bench: baseline: %s (%llu bad batches/events)\n",
                 ceil.error.c_str(), static_cast<unsigned long long>(ceil.bad));
  }

  if (cache_dropped) drop_page_cache();
  step("R1 tern-relay closed loop");
  LoadOptions o1 = load_phase(relay->port, r1_conns, warmup_s, r1_s, 0);
  double cpu0 = proc_cpu_s(relay->child->pid());
  auto wall0 = Clock::now();
  LoadResult r1 = run_requests(o1, r1_reqs);
  double relay_cpu_load = proc_cpu_s(relay->child->pid()) - cpu0;
  double relay_wall = seconds_since(wall0);
  double relay_eps_wall = r1.rps() * kEventsPerBatch;
  double accepted = relay->metric("tern_relay_events_accepted_total");
  double dedup = relay->metric("tern_relay_events_deduplicated_total");
  double rejected = relay->metric("tern_relay_events_rejected_total");
  double commits = relay->metric("tern_relay_spool_commits_total");
  double delivered = relay->metric("tern_relay_sink_delivered_events_total");
  // Let the file sink catch up before R3 so its backlog does not load the core.
  auto catch_up = Clock::now();
  while (delivered >= 0 && delivered < accepted && seconds_since(catch_up) < 30) {
    sleep_ms(100);
    delivered = relay->metric("tern_relay_sink_delivered_events_total");
  }
  double catch_up_s = seconds_since(catch_up);
  // Per core: every event accepted (warm-up included) over the relay's CPU
  // time (all its threads, all confined to one CPU) from the first request
  // until the file sink had written the last event. Robust to other load
  // on the machine, like the baseline's thread CPU time.
  double relay_cpu = proc_cpu_s(relay->child->pid()) - cpu0;
  double relay_eps = ratio(std::max(0.0, accepted), relay_cpu);
  std::printf(
      "R1 run: %llu ok / %llu non-2xx / %llu errors in %.2f s measured = %.0f events/s wall clock; "
      "relay "
      "CPU %.0f%% of its core during the load, %.2f CPU-s in all until the sink caught up; p50 "
      "%.1f ms, p99 %.1f ms at %d connections; accepted %.0f, deduplicated %.0f, rejected %.0f "
      "events; %.0f spool commits (%.0f events each); file sink caught up %.1f s after the load\n",
      static_cast<unsigned long long>(r1.ok), static_cast<unsigned long long>(r1.non_2xx),
      static_cast<unsigned long long>(r1.errors), r1.measured_s, relay_eps_wall,
      100 * ratio(relay_cpu_load, relay_wall), relay_cpu, r1.percentile_us(50) / 1000,
      r1.percentile_us(99) / 1000, r1_conns, accepted, std::max(0.0, dedup),
      std::max(0.0, rejected), commits, ratio(accepted, commits), catch_up_s);
  if (!r1.first_error.empty()) std::printf("R1 first error: %s\n", r1.first_error.c_str());

  // ------------------------------------------------------------ R1, one tap open
  // The same load on the same relay (fresh batches: the first run's would
  // be deduplicated) while one viewer reads GET /admin/v1/tap: the tap's
  // thread reads the spool's recent commits and passes its rate cap's worth
  // of events; its CPU is the relay's. No tap: nothing on the ingest path.
  step("R1 generating batches for the run with a tap open");
  pin_self_to(cpus);
  std::vector<std::string> r1t_reqs = make_requests(relay->port, r1_bodies, 4, threads);
  pin_self(load_cpu);
  step("R1 tern-relay closed loop, one tap open");
  TapViewer tap(relay->admin_port);
  auto tap_wait = Clock::now();
  while (relay->metric("tern_relay_tap_open") < 1 && seconds_since(tap_wait) < 10) sleep_ms(20);
  const bool tap_opened = relay->metric("tern_relay_tap_open") >= 1;
  if (cache_dropped) drop_page_cache();
  const double accepted_t0 = relay->metric("tern_relay_events_accepted_total");
  const double tap_messages0 = relay->metric("tern_relay_tap_messages_total");
  double cpu_t0 = proc_cpu_s(relay->child->pid());
  LoadResult r1t = run_requests(o1, r1t_reqs);
  double accepted_t = relay->metric("tern_relay_events_accepted_total") - accepted_t0;
  double delivered_t = relay->metric("tern_relay_sink_delivered_events_total");
  auto catch_up_t = Clock::now();
  while (delivered_t >= 0 && delivered_t < accepted_t0 + accepted_t &&
         seconds_since(catch_up_t) < 30) {
    sleep_ms(100);
    delivered_t = relay->metric("tern_relay_sink_delivered_events_total");
  }
  double relay_cpu_t = proc_cpu_s(relay->child->pid()) - cpu_t0;
  double relay_eps_tap = tap_opened ? ratio(std::max(0.0, accepted_t), relay_cpu_t) : 0;
  double tap_messages = relay->metric("tern_relay_tap_messages_total") - tap_messages0;
  tap.stop();
  double r1_tap_ratio = ratio(relay_eps_tap, relay_eps);
  std::printf(
      "R1 with one tap open: %.0f events/CPU-s (%llu ok / %llu non-2xx / %llu errors, %.0f events "
      "accepted, %.2f CPU-s) vs %.0f with none: ratio %.3f; the tap showed %.0f events (%.0f KiB "
      "read by its viewer)%s\n",
      relay_eps_tap, static_cast<unsigned long long>(r1t.ok),
      static_cast<unsigned long long>(r1t.non_2xx), static_cast<unsigned long long>(r1t.errors),
      accepted_t, relay_cpu_t, relay_eps, r1_tap_ratio, tap_messages, tap.bytes() / 1024.0,
      tap_opened ? "" : " — THE TAP DID NOT OPEN");

  // ------------------------------------------------------------ R3
  // Half of the peak the relay actually delivered (wall clock), so R3 is a
  // load it can sustain on this machine as it is now.
  double r3_rate_eps = relay_eps_wall / 2;
  double r3_rps = r3_rate_eps / kEventsPerBatch;
  std::size_t r3_count = static_cast<std::size_t>(std::ceil(r3_rps * (warmup_s + r3_s))) + 16;
  step("R3 generating batches for the open loop");
  pin_self_to(cpus);
  std::vector<std::string> r3_reqs = make_requests(relay->port, r3_count, 3, threads);
  pin_self(load_cpu);
  step("R3 tern-relay open loop at half R1");
  LoadOptions o3 = load_phase(relay->port, r3_conns, warmup_s, r3_s, r3_rps);
  // The spool's group commits during R3, and how many took over 5 ms: every
  // answer waiting behind a slow fdatasync waits for all of it.
  const std::string kCommits = "tern_relay_spool_commit_seconds_count";
  const std::string kCommitsUnder5ms = "tern_relay_spool_commit_seconds_bucket{le=\"0.005\"}";
  double commits0 = relay->metric(kCommits), fast0 = relay->metric(kCommitsUnder5ms);
  LoadResult r3 = run_requests(o3, r3_reqs);
  double r3_commits = relay->metric(kCommits) - commits0;
  double r3_slow_commits = r3_commits - (relay->metric(kCommitsUnder5ms) - fast0);
  double relay_p99 = r3.percentile_us(99) / 1000;
  double relay_p50 = r3.percentile_us(50) / 1000;
  relay->child->stop();

  step("R3 fdatasync");
  double fsync_ms = fdatasync_median_ms(dir.file("fdatasync.probe"), quick ? 100 : 300);

  std::unique_ptr<Nginx> nginx;
  if (!nginx_bin.empty())
    nginx = start_nginx(nginx_bin, dir, "nginx", 1, kNginxConnections, server_cpu, &why);
  if (!nginx)
    std::printf("nginx unavailable (%s): R2, R3 and R5 baselines not measured\n", why.c_str());
  LoadResult n3;
  if (nginx) {
    step("R3 nginx open loop at the same rate");
    std::vector<std::string> n3_reqs = retarget(r3_reqs, relay->port, nginx->port);
    o3.port = nginx->port;
    n3 = run_requests(o3, n3_reqs);
  }
  double nginx_p99 = n3.percentile_us(99) / 1000;
  std::printf(
      "R3 run: %.0f req/s (%.0f events/s) open loop for %.1f s, %d connections: relay %llu ok / "
      "%llu "
      "non-2xx / %llu errors, p50 %.2f ms, p99 %.2f ms, %llu sent >1 ms late; nginx %llu ok, p50 "
      "%.2f ms, "
      "p99 %.2f ms; fdatasync median %.3f ms; relay spool commits %.0f, %.0f of them over 5 ms\n",
      r3_rps, r3_rate_eps, r3_s, r3_conns, static_cast<unsigned long long>(r3.ok),
      static_cast<unsigned long long>(r3.non_2xx), static_cast<unsigned long long>(r3.errors),
      relay_p50, relay_p99, static_cast<unsigned long long>(r3.late),
      static_cast<unsigned long long>(n3.ok), n3.percentile_us(50) / 1000, nginx_p99, fsync_ms,
      r3_commits, r3_slow_commits);

  // ------------------------------------------------------------ R5
  step("R5 idle keep-alive connections");
  pin_self_to(cpus);
  auto relay5 = start_relay(relay_bin, dir, "relay-r5", server_cpu, &why);
  RssResult rss_relay, rss_nginx;
  uint16_t relay5_port = relay5 ? relay5->port : 0;
  if (relay5) {
    std::vector<std::string> r5_reqs =
        make_requests(relay5->port, static_cast<std::size_t>(k_idle) + 1, 5, threads);
    std::string warm = r5_reqs.back();  // unique ids too: a full ingest
    r5_reqs.pop_back();
    pid_t pid = relay5->child->pid();
    rss_relay = rss_per_connection(relay5->port, warm, r5_reqs,
                                   [pid] { return proc_status_kb(pid, "VmRSS"); });
    if (nginx) {
      std::vector<std::string> n5_reqs = retarget(r5_reqs, relay5->port, nginx->port);
      std::string nwarm = retarget({warm}, relay5->port, nginx->port).front();
      Nginx* ng = nginx.get();
      rss_nginx =
          rss_per_connection(nginx->port, nwarm, n5_reqs, [ng] { return ng->worker_rss_kb(); });
    }
  } else {
    std::printf("R5: tern-relay did not start: %s\n", why.c_str());
  }
  // nginx's static per-connection share: idle worker RSS with a large vs a
  // small connection table.
  double nginx_static_per_conn = 0;
  if (nginx) {
    // Both fresh and idle, so neither holds memory from earlier traffic.
    auto small =
        start_nginx(nginx_bin, dir, "nginx-small", 1, kNginxSmallConnections, server_cpu, &why);
    auto big = start_nginx(nginx_bin, dir, "nginx-big", 1, kNginxConnections, server_cpu, &why);
    if (small && big) {
      sleep_ms(200);
      long long big_kb = big->worker_rss_kb(), small_kb = small->worker_rss_kb();
      nginx_static_per_conn = std::max(0.0, static_cast<double>(big_kb - small_kb) * 1024.0 /
                                                (kNginxConnections - kNginxSmallConnections));
    }
  }
  if (rss_nginx.bytes_per_conn >= 0) {
    std::printf(
        "R5 nginx: %.0f B per connection grown + %.0f B static share of its preallocated "
        "connection "
        "table (worker_connections %d vs %d)\n",
        rss_nginx.bytes_per_conn, nginx_static_per_conn, kNginxConnections, kNginxSmallConnections);
    rss_nginx.bytes_per_conn += nginx_static_per_conn;
  }
  // The same with one GET /health per connection: the bare cost of a
  // connection, without the buffers an ingest request leaves behind.
  RssResult rss_relay_get, rss_nginx_get;
  {
    auto relay5g = start_relay(relay_bin, dir, "relay-r5get", server_cpu, &why);
    if (relay5g) {
      std::vector<std::string> gets(
          static_cast<std::size_t>(k_idle),
          tern::bench::http_get("127.0.0.1:" + std::to_string(relay5g->port), "/health"));
      pid_t pid = relay5g->child->pid();
      rss_relay_get = rss_per_connection(relay5g->port, gets.front(), gets,
                                         [pid] { return proc_status_kb(pid, "VmRSS"); });
    }
    if (nginx) {
      std::vector<std::string> gets(
          static_cast<std::size_t>(k_idle),
          tern::bench::http_get("127.0.0.1:" + std::to_string(nginx->port), "/health"));
      Nginx* ng = nginx.get();
      rss_nginx_get =
          rss_per_connection(nginx->port, gets.front(), gets, [ng] { return ng->worker_rss_kb(); });
      if (rss_nginx_get.bytes_per_conn >= 0) rss_nginx_get.bytes_per_conn += nginx_static_per_conn;
    }
  }
  std::printf(
      "R5 run: %d connections, one gzip batch POST each, then idle: relay RSS %lld → %lld kB%s%s; "
      "nginx worker RSS %lld → %lld kB%s%s\n",
      rss_relay.opened, rss_relay.before_kb, rss_relay.after_kb,
      rss_relay.error.empty() ? "" : " — ", rss_relay.error.c_str(), rss_nginx.before_kb,
      rss_nginx.after_kb, rss_nginx.error.empty() ? "" : " — ", rss_nginx.error.c_str());
  std::printf(
      "R5 run, GET /health instead: relay %.0f B per connection, nginx %.0f B per connection\n",
      rss_relay_get.bytes_per_conn, rss_nginx_get.bytes_per_conn);

  // ------------------------------------------------------------ R2
  pin_self(load_cpu);
  LoadResult r2, n2;
  LoadOptions o2;
  o2.connections = r2_conns;
  o2.warmup_s = warmup_s;
  // Rounds alternate relay and nginx, and each keeps its best round, so a
  // burst of other work on the machine does not land on one side only.
  const int r2_rounds = quick ? 1 : 3;
  o2.duration_s = r2_s / r2_rounds;
  sleep_ms(300);  // let the relay settle after R5's connections closed
  for (int round = 0; round < r2_rounds; ++round) {
    if (relay5) {
      step("R2 tern-relay GET /health closed loop");
      std::string get =
          tern::bench::http_get("127.0.0.1:" + std::to_string(relay5_port), "/health");
      o2.port = relay5_port;
      LoadResult r = tern::bench::run_load(o2, [&](uint64_t) { return &get; });
      if (r.rps() >= r2.rps()) r2 = std::move(r);
    }
    if (nginx) {
      step("R2 nginx GET /health closed loop");
      std::string get =
          tern::bench::http_get("127.0.0.1:" + std::to_string(nginx->port), "/health");
      o2.port = nginx->port;
      LoadResult r = tern::bench::run_load(o2, [&](uint64_t) { return &get; });
      if (r.rps() >= n2.rps()) n2 = std::move(r);
    }
  }
  if (relay5) relay5->child->stop();
  if (nginx) nginx->child->stop();
  std::printf(
      "R2 run: GET /health, %d connections, best of %d rounds of %.1f s: relay %llu ok / %llu "
      "errors, p99 %.2f ms, load "
      "thread CPU %.0f%%; nginx %llu ok / %llu errors, p99 %.2f ms, load thread CPU %.0f%%\n",
      r2_conns, r2_rounds, o2.duration_s, static_cast<unsigned long long>(r2.ok),
      static_cast<unsigned long long>(r2.errors), r2.percentile_us(99) / 1000,
      100 * ratio(r2.load_cpu_s, r2.measured_s), static_cast<unsigned long long>(n2.ok),
      static_cast<unsigned long long>(n2.errors), n2.percentile_us(99) / 1000,
      100 * ratio(n2.load_cpu_s, n2.measured_s));

  step("R4 kafka_bench");
  // kafka_bench places its own threads: it must not inherit the load
  // generator's single CPU (its mock brokers, producer and pipeline would
  // then share one core, unlike when it runs alone).
  pin_self_to(cpus);
  nlohmann::ordered_json kafka = run_kafka_bench();

  // ------------------------------------------------------------ summary
  double r1_ratio = ratio(relay_eps, ceil.eps);
  double r2_ratio = ratio(r2.rps(), n2.rps());
  double r3_base = nginx_p99 + 2 * fsync_ms;
  double r3_ratio = ratio(relay_p99, r3_base);
  double r5_ratio = ratio(rss_relay.bytes_per_conn, rss_nginx.bytes_per_conn);
  bool r1_met = r1_ratio >= 0.5, r2_met = r2_ratio >= 0.5, r3_met = r3.ok > 0 && r3_ratio <= 3.0,
       r5_met = rss_relay.bytes_per_conn >= 0 && rss_nginx.bytes_per_conn > 0 && r5_ratio <= 16.0;
  std::string load_end = loadavg();
  double load1 = std::atof(load_end.c_str());
  std::printf("\nload average at the end %s%s\n", load_end.c_str(),
              load1 > threads
                  ? " — the machine is busy with other work: wall-clock figures (R2, R3) are "
                    "pessimistic; R1 is per CPU-second on both sides"
                  : "");
  line("R1", "relay events/CPU-s, gzip x100, file sink", relay_eps, "ev/s",
       "inflate+simdjson+write(2), per CPU-s", ceil.eps, r1_ratio, ">= 0.5", r1_met);
  line("R2", "relay req/s, GET /health (ingest bypassed)", r2.rps(), "req/s",
       "nginx return 200, same load", n2.rps(), r2_ratio, ">= 0.5", r2_met);
  line("R3", "relay p99 at half R1 rate, ack local", relay_p99, "ms",
       "nginx p99 same rate + 2 x fdatasync", r3_base, r3_ratio, "<= 3", r3_met);
  line("R5", "relay RSS per idle keep-alive connection", rss_relay.bytes_per_conn, "B",
       "nginx's, same run", rss_nginx.bytes_per_conn, r5_ratio, "<= 16", r5_met);
  std::printf("whole run %.0f s\n", seconds_since(bench_start));

  nlohmann::ordered_json j;
  j["bench"] = "relay_bench";
  j["quick"] = quick;
  j["relay_eps"] = std::round(relay_eps);
  j["ceiling_eps"] = std::round(ceil.eps);
  j["r1_ratio"] = std::round(r1_ratio * 1000) / 1000;
  j["relay_eps_wall"] = std::round(relay_eps_wall);
  j["ceiling_eps_wall"] = std::round(ceil.wall_eps);
  j["relay_cpu_util"] = std::round(ratio(relay_cpu_load, relay_wall) * 1000) / 1000;
  j["r1_events_per_s_tap"] = std::round(relay_eps_tap);
  j["r1_tap_ratio"] = std::round(r1_tap_ratio * 1000) / 1000;
  j["relay_http_rps"] = std::round(r2.rps());
  j["nginx_rps"] = std::round(n2.rps());
  j["r2_ratio"] = std::round(r2_ratio * 1000) / 1000;
  j["r2_route"] = "GET /health";
  j["p99_ms_half_load"] = std::round(relay_p99 * 1000) / 1000;
  j["nginx_p99_ms"] = std::round(nginx_p99 * 1000) / 1000;
  j["fdatasync_ms"] = std::round(fsync_ms * 1000) / 1000;
  j["r3_spool_commits"] = r3_commits;
  j["r3_spool_commits_over_5ms"] = r3_slow_commits;
  j["r3_rate_eps"] = std::round(r3_rate_eps);
  j["r3_ratio"] = std::round(r3_ratio * 1000) / 1000;
  j["rss_per_conn_bytes"] = std::round(rss_relay.bytes_per_conn);
  j["nginx_rss_per_conn_bytes"] = std::round(rss_nginx.bytes_per_conn);
  j["r5_ratio"] = std::round(r5_ratio * 1000) / 1000;
  j["r5_connections"] = rss_relay.opened;
  j["nginx_static_bytes_per_conn"] = std::round(nginx_static_per_conn);
  j["rss_per_conn_bytes_get"] = std::round(rss_relay_get.bytes_per_conn);
  j["nginx_rss_per_conn_bytes_get"] = std::round(rss_nginx_get.bytes_per_conn);
  j["loadavg_end"] = load_end;
  j["nice"] = getpriority(PRIO_PROCESS, 0);
  j["page_cache_dropped"] = cache_dropped;
  j["targets_met"] = {{"R1", r1_met}, {"R2", r2_met}, {"R3", r3_met}, {"R5", r5_met}};
  // R4's own figures keep their names; its other keys get an r4_ prefix.
  for (auto it = kafka.begin(); it != kafka.end(); ++it) {
    if (it.key() == "bench") continue;
    std::string key =
        it.key() == "kafka_eps" || it.key() == "file_eps" ? it.key() : "r4_" + it.key();
    if (!j.contains(key)) j[key] = it.value();
  }
  std::printf("%s\n", j.dump().c_str());
  bool measured = r1.ok > 0 && ceil.eps > 0 && r3.ok > 0;
  return measured ? 0 : 1;
}
