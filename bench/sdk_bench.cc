// sdk_bench: the SDK rows (S1–S8) of the performance table in docs/architecture.md.
//
// Every figure is printed next to its baseline measured in the same run on the
// same machine and file system, with the ratio and the target; the program
// ends with ONE JSON line holding every number (keys: see report()).
//
//   S1  track() p50 on the caller's thread, paced at 20k calls/s, while the
//       worker is busy retrying failed uploads (real libcurl against a refused
//       loopback port, 1 ms backoff, default caps)
//                                    vs snprintf of the same event text.
//       The client has sessions off (Config::track_sessions = false) and
//       makes no lifecycle calls, as before sessions existed.
//   M1  track() p50 as S1, with sessions and lifecycle on: the default
//       track_sessions, after app_launched() and app_foreground(), the
//       settings fetch off
//                                    vs S1's p50. S1 and M1 run in
//                                    alternating rounds (s1_rounds), each on
//                                    its own database, so noise hits both.
//   S2  track() p99 / p99.9          vs the same / one single-row WAL
//       synchronous=FULL commit (raw SQLite, same schema, same directory).
//   S3  durable events/s with group commit (Stats.stored), synchronous=FULL
//                                    vs raw prepared INSERT, 1000 rows per txn.
//   S4  wire bytes per event, a batch of 100 typical events captured from the
//       Transport                    vs zlib -6 of the same events as NDJSON.
//   S5  drain: store → gzip → POST to nginx (`return 200`) → delete
//                                    vs SELECT + gzip + DELETE loop, no HTTP
//                                    (best of 5 rounds each; skipped, and
//                                    said so, when nginx is not installed).
//   S6  upload attempts in 60 s with the collector down, 1k events/s tracked,
//       on a simulated clock running kS6Speed× faster than real time (the
//       SDK's Clock seam) and a transport that always fails
//                                    vs the configured backoff schedule.
//   S7  RSS added by the SDK with 100k events queued (forked child)
//                                    vs a bare SQLite connection on the same
//                                    DB after reading it (another child).
//   S8  stripped libtern.so          vs Debian's libcurl.so.4; beside it the
//       TERN_SMALL build of the same library (cmake/small.cmake: -Os, LTO,
//       gc-sections), built as <build>/small by the tern_small target in
//       non-sanitizer trees, or $TERN_BENCH_LIBTERN_SMALL.
//
// Usage: sdk_bench [--quick] [--dir DIR] [--only Sn|M1] [--rate N] [--verbose]
//   --quick    fewer iterations (a full run takes about a minute, --quick ~20 s).
//   --dir      where the temporary databases go (default $TMPDIR or /tmp); it
//              must be a real disk for the synchronous=FULL figures to mean much.
//   --only Sn  run one figure (S1, S2 and M1 run together; --only M1 is --only S1).
//   --rate N   S1's and M1's track() calls per second (default 20000).
//   --verbose  the SDK's log lines, and S6's attempt times, on stderr.
//
// It is a benchmark, not a test: it never fails on a missed target, it says so.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/client.h"
#include "tern/clock.h"
#include "tern/config.h"
#include "tern/context_provider.h"
#include "tern/logger.h"
#include "tern/transport.h"

#include "bench_util.h"

// Private: S6 opens the SQLite store itself, without fsync per commit.
#include "sqlite_store.h"

extern char** environ;

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using tern::bench::deflate_text;
using tern::bench::find_program;
using tern::bench::free_port;
using tern::bench::RunDir;
using tern::bench::seconds_since;

// ---------------------------------------------------------------- settings

bool g_verbose = false;  // --verbose: the SDK's log lines and S6's attempt times on stderr

struct Settings {
  bool quick = false;
  std::string dir;   // parent of the run's temp directory
  std::string only;  // --only S<n>: run just that figure (and its baseline)

  int s1_warmup = 10'000;
  int s1_calls = 200'000;
  int s1_rate = 20'000;  // track() calls per second, paced
  int s1_rounds = 4;     // S1 and M1 alternate in this many rounds (s1_calls split between them)
  int commit_samples = 300;
  int s3_events = 100'000;
  int s5_events = 30'000;
  int s5_rounds = 5;
  int s6_runs = 8;
  int s7_events = 100'000;  // the figure's definition: not reduced by --quick
};

// A byte cap the figures never reach (their queues hold < 100 MB), valid on
// 32-bit targets too.
constexpr std::size_t kBigQueueBytes = std::size_t{1} << 30;
constexpr int64_t kSlowCallNs = 100'000;  // S1: a track() call this slow is explained in the notes
constexpr int kS6Speed = 20;              // simulated seconds per real second
constexpr int kS6WindowMs = 60'000;       // the figure's 60 s
constexpr int kS6EventsPerSecond = 1000;  // the figure's 1k events/s
constexpr int kBackoffBaseMs = 500;       // the SDK's schedule: 0.5 s doubling...
constexpr int kBackoffMaxMs = 300'000;    // ...to 300 s, full jitter

// ---------------------------------------------------------------- small helpers

int64_t now_ns() {
  return duration_cast<nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

// Value at quantile q (0..1) of sorted samples (nearest rank).
int64_t quantile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

// A field of /proc/self/status in KiB: "VmRSS" (resident set size), or its
// parts "RssAnon" (heap, stacks: private) and "RssFile" (mapped files,
// mostly shared library pages other processes share).
long status_kb(const char* field) {
  return static_cast<long>(tern::bench::proc_status_kb(::getpid(), field));
}
long rss_kb() { return status_kb("VmRSS"); }

// A thread's scheduler accounting (/proc/.../schedstat): time on a CPU and
// time runnable but waiting for one, ns. Wall time minus both is time blocked
// (fsync, network, locks).
struct SchedStat {
  double cpu_s = 0;
  double runq_s = 0;
};
SchedStat read_schedstat(const std::string& file) {
  std::ifstream in(file);
  unsigned long long cpu = 0, runq = 0;
  in >> cpu >> runq;
  return {static_cast<double>(cpu) / 1e9, static_cast<double>(runq) / 1e9};
}
// The SDK worker thread(s) of this process, found by name.
SchedStat worker_schedstat() {
  SchedStat total;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "tern-worker") continue;
    SchedStat s = read_schedstat((task.path() / "schedstat").string());
    total.cpu_s += s.cpu_s;
    total.runq_s += s.runq_s;
  }
  return total;
}
long rss_anon_kb() { return status_kb("RssAnon"); }

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Runs argv to completion; true on exit status 0.
bool run_program(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

long file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long>(st.st_size);
}

std::string inflate_gzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return {};
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

void remove_db(const std::string& path) {
  for (const char* ext : {"", "-wal", "-shm", "-journal", ".lock"}) ::unlink((path + ext).c_str());
}

// ---------------------------------------------------------------- SDK seams for the bench

// A phone-like context (what a mobile binding's ContextProvider supplies), so
// event sizes and compressibility are those of real mobile events.
class MobileContext final : public tern::ContextProvider {
 public:
  std::string context_json() override {
    return R"({"app":{"name":"Tern Shop","version":"4.12.0","build":"4120","namespace":"dev.tern.shop"},)"
           R"("device":{"manufacturer":"Google","model":"Pixel 7","type":"android","id":"7f1c2a9e4b0d4e3f"},)"
           R"("os":{"name":"Android","version":"14"},"locale":"de-DE","timezone":"Europe/Berlin",)"
           R"("network":{"wifi":true,"cellular":false,"carrier":"Telekom"},"screen":{"width":1080,"height":2400,"density":2.625}})";
  }
};

// Answers every request like a server that is down (connection refused) and counts them.
class DownTransport final : public tern::Transport {
 public:
  explicit DownTransport(std::function<int64_t()> sim_now_ms)
      : sim_now_ms_(std::move(sim_now_ms)) {}
  tern::HttpResponse send(const tern::HttpRequest&) override {
    std::lock_guard<std::mutex> lock(mu_);
    attempt_ms_.push_back(sim_now_ms_());
    tern::HttpResponse r;
    r.status_code = 0;
    r.error = "connection refused (sdk_bench: collector down)";
    return r;
  }
  std::vector<int64_t> attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempt_ms_;
  }

 private:
  std::function<int64_t()> sim_now_ms_;
  mutable std::mutex mu_;
  std::vector<int64_t> attempt_ms_;
};

// Accepts everything (200 "{}") and keeps each request body as sent.
class CapturingTransport final : public tern::Transport {
 public:
  tern::HttpResponse send(const tern::HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    tern::HttpResponse r;
    r.status_code = 200;
    r.body = "{}";
    return r;
  }
  std::vector<tern::HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<tern::HttpRequest> requests_;
};

// Time that runs `speed` times faster than real time, from the moment it is
// made. Both clocks move together, so the SDK's timers (commit window, flush
// interval, backoff) all run fast and the worker's behaviour is unchanged.
class FastClock final : public tern::Clock {
 public:
  explicit FastClock(int speed)
      : speed_(speed), real0_(SteadyClock::now()), wall0_(std::chrono::system_clock::now()) {}
  std::chrono::system_clock::time_point wall() override {
    return wall0_ + duration_cast<std::chrono::system_clock::duration>(elapsed());
  }
  std::chrono::steady_clock::time_point monotonic() override { return real0_ + elapsed(); }
  int64_t elapsed_ms() const { return duration_cast<milliseconds>(elapsed()).count(); }

 private:
  nanoseconds elapsed() const { return (SteadyClock::now() - real0_) * speed_; }
  const int speed_;
  const SteadyClock::time_point real0_;
  const std::chrono::system_clock::time_point wall0_;
};

// ---------------------------------------------------------------- events

// The S1–S3 event: one typical e-commerce track call.
const char* const kEventName = "Product Added";
nlohmann::json typical_properties() {
  return {{"product_id", "sku-48213"},
          {"name", "Trail Running Shoe"},
          {"price", 89.95},
          {"currency", "EUR"},
          {"quantity", 1},
          {"category", "footwear"}};
}

// A varied stream of typical events for S4/S5 (names, products, prices,
// screens), deterministic for a given seed.
struct TypicalEvent {
  std::string name;
  nlohmann::json properties;
};

std::vector<TypicalEvent> typical_events(std::size_t n, uint32_t seed) {
  static const char* const kNames[] = {"Product Viewed",    "Product Added",   "Cart Viewed",
                                       "Checkout Started",  "Order Completed", "Products Searched",
                                       "Promotion Clicked", "Screen Viewed"};
  static const char* const kCategories[] = {"footwear", "outdoor", "books",
                                            "kitchen",  "toys",    "garden"};
  static const char* const kProducts[] = {"Trail Running Shoe", "Rain Jacket", "Cast Iron Pan",
                                          "Wooden Train Set",   "Garden Hose", "Paperback Novel"};
  static const char* const kScreens[] = {"Home", "Search",   "Product",
                                         "Cart", "Checkout", "Account"};
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  std::vector<TypicalEvent> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    TypicalEvent e;
    e.name = kNames[pick(8)];
    char sku[16];
    std::snprintf(sku, sizeof sku, "sku-%05u", static_cast<unsigned>(rng() % 100000));
    if (e.name == "Screen Viewed") {
      e.properties = {{"screen", kScreens[pick(6)]},
                      {"previous", kScreens[pick(6)]},
                      {"load_ms", static_cast<int>(rng() % 900 + 50)}};
    } else if (e.name == "Products Searched") {
      e.properties = {{"query", std::string(kCategories[pick(6)]) + " " + kProducts[pick(6)]},
                      {"results", static_cast<int>(rng() % 200)}};
    } else {
      e.properties = {{"product_id", sku},
                      {"name", kProducts[pick(6)]},
                      {"price", static_cast<double>(rng() % 20000 + 99) / 100.0},
                      {"currency", "EUR"},
                      {"quantity", static_cast<int>(rng() % 3 + 1)},
                      {"category", kCategories[pick(6)]},
                      {"position", static_cast<int>(rng() % 24)}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

tern::Config base_config(const std::string& db) {
  tern::Config c;
  c.write_key = "bench-write-key";
  c.storage_path = db;
  c.logger =
      g_verbose ? tern::make_stderr_logger(tern::LogLevel::kDebug) : tern::make_null_logger();
  c.context_provider = std::make_shared<MobileContext>();
  return c;
}

std::unique_ptr<tern::Client> make_client(tern::Config config, const char* what) {
  auto r = tern::Client::create(std::move(config));
  if (!r) {
    std::fprintf(stderr, "sdk_bench: %s: Client::create failed: %s\n", what,
                 r.status().to_string().c_str());
    return nullptr;
  }
  return std::move(r).value();
}

// Polls `pred` every millisecond until it holds or `timeout` passes.
bool wait_for(const std::function<bool()>& pred, milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (!pred()) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// ---------------------------------------------------------------- raw SQLite for the baselines

// The SDK store's schema and pragmas (sdk/src/sqlite_store.cc), so the
// baselines write the same row shape with the same durability.
const char* const kSchema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS events("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " first_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    " body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_created ON events(created_ms);"
    "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

class Db {
 public:
  explicit Db(const std::string& path, bool with_schema = true) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::fprintf(stderr, "sdk_bench: cannot open %s: %s\n", path.c_str(), sqlite3_errmsg(db_));
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    if (with_schema) exec(kSchema);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  bool ok() const { return db_ != nullptr; }
  sqlite3* get() const { return db_; }
  bool exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) std::fprintf(stderr, "sdk_bench: sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return rc == SQLITE_OK;
  }

 private:
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "sdk_bench: prepare %s: %s\n", sql, sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// ---------------------------------------------------------------- the snprintf baseline

// The S1 event serialised with one snprintf: the same fields and values the
// SDK writes (type, messageId, timestamp, anonymousId, event, properties,
// context). The field values are given, not computed: a pure formatting cost.
struct SnprintfEvent {
  std::string anonymous_id = "3b0a7c52-9d1e-4f6b-8a2c-5e7d9f1b3c4a";
  std::string context;
  char buf[2048];
  int format(uint64_t i) {
    return std::snprintf(
        buf, sizeof buf,
        "{\"type\":\"track\",\"messageId\":\"%08x-%04x-7%03x-%04x-%012" PRIx64
        "\",\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"anonymousId\":\"%s\",\"event\":"
        "\"%s\","
        "\"properties\":{\"product_id\":\"%s\",\"name\":\"%s\",\"price\":%.2f,\"currency\":\"%s\","
        "\"quantity\":%d,\"category\":\"%s\"},\"context\":%s}",
        static_cast<unsigned>(i >> 16), static_cast<unsigned>(i & 0xffff),
        static_cast<unsigned>(i & 0xfff), static_cast<unsigned>(0x8000 | (i & 0x3fff)),
        static_cast<uint64_t>(i * 0x9e3779b97f4a7c15ULL & 0xffffffffffffULL), 2026, 11, 26, 4, 41,
        static_cast<int>(i % 60), static_cast<int>(i % 1000), anonymous_id.c_str(), kEventName,
        "sku-48213", "Trail Running Shoe", 89.95, "EUR", 1, "footwear", context.c_str());
  }
};

// ---------------------------------------------------------------- results

// Where the drain loops spent their wall time, summed over rounds.
struct DrainProfile {
  double sdk_wall = 0, sdk_cpu = 0, sdk_runq = 0;     // the SDK worker
  double base_wall = 0, base_cpu = 0, base_runq = 0;  // the baseline loop
  double full_wall = 0, full_cpu = 0,
         full_runq = 0;  // the baseline loop with FULL-synchronous deletes
};

struct Results {
  // S1/S2
  std::optional<double> track_p50, track_p99, track_p999, track_max;
  std::optional<double> serialize_p50, serialize_p99;
  std::optional<double> enqueue_raw_p50;
  std::optional<double> single_commit_ns;
  uint64_t s1_rejected = 0, s1_attempts = 0;
  long s1_voluntary_switches = 0, s1_involuntary_switches = 0;
  // Calls slower than kSlowCallNs, and how many of them slept (blocked on a
  // lock) or were preempted (since the previous slow call: an upper bound).
  long s1_slow = 0, s1_slow_blocked = 0, s1_slow_preempted = 0;
  int s1_rounds = 0, s1_round_calls = 0, s1_round_warmup = 0;
  std::vector<double> s1_round_p50;  // each round's p50, sessions off
  // M1: track() with sessions and lifecycle on, interleaved with S1
  std::optional<double> track_sessions_p50, track_sessions_p99;
  std::vector<double> m1_round_p50;
  uint64_t m1_rejected = 0, m1_attempts = 0, m1_sessions_started = 0, m1_lifecycle_events = 0;
  bool m1_session_live = false;
  // S3
  std::optional<double> durable_eps, sqlite_baseline_eps;
  // S4
  std::optional<double> wire_bpe, gzip_bpe;
  std::optional<double> raw_bpe;
  std::size_t wire_requests = 0, wire_events = 0;
  // S5
  std::optional<double> drain_eps, drain_baseline_eps;
  std::string drain_skipped;
  std::vector<std::pair<double, double>> drain_rounds;
  DrainProfile drain_profile;
  std::optional<double> drain_full_baseline_eps;  // the baseline with FULL-synchronous deletes
  // S6
  std::optional<double> attempts_down, attempts_schedule, attempts_jitter_mean, attempts_jitter_p99;
  std::optional<double> attempts_jitter_sd_of_mean;  // spread of a mean over that many runs
  std::vector<int> attempts_runs;
  // S7
  std::optional<double> rss_added_kb, rss_sqlite_kb;
  std::optional<double> rss_global_init_kb, rss_create_kb;      // parts of rss_added_kb
  std::optional<double> rss_added_anon_kb, rss_sqlite_anon_kb;  // private (RssAnon) parts
  // S8
  std::optional<double> lib_bytes, lib_unstripped_bytes, libcurl_bytes;
  std::optional<double> lib_bytes_small;
};

std::optional<double> ratio(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

void line(const char* id, const std::string& figure, const std::optional<double>& value,
          const char* unit, const std::string& baseline, const std::optional<double>& base_value,
          const std::optional<double>& r, const std::string& target, std::optional<bool> holds,
          const char* label = nullptr) {
  auto num = [](const std::optional<double>& v) {
    if (!v) return std::string("n/a");
    char b[64];
    if (std::fabs(*v) >= 100 || *v == std::floor(*v)) {
      std::snprintf(b, sizeof b, "%.0f", *v);
    } else {
      std::snprintf(b, sizeof b, "%.2f", *v);
    }
    return std::string(b);
  };
  char rb[32] = "n/a";
  if (r) std::snprintf(rb, sizeof rb, "%.3fx", *r);
  std::printf("%-3s %-44s %12s %-5s | %-40s %12s | %9s  target %-22s %s\n", id, figure.c_str(),
              num(value).c_str(), unit, baseline.c_str(), num(base_value).c_str(), rb,
              target.c_str(),
              label    ? label
              : !holds ? "SKIPPED"
              : *holds ? "HOLDS"
                       : "MISSES");
}

// ---------------------------------------------------------------- S2 baseline: one FULL commit

void measure_single_commit(const Settings& st, const RunDir& dir, Results& res) {
  std::string path = dir.file("commit.db");
  Db db(path);
  if (!db.ok()) return;
  Stmt ins(db.get(), "INSERT INTO events(created_ms,size,body) VALUES(?,?,?)");
  SnprintfEvent ev;
  ev.context = MobileContext().context_json();
  std::vector<int64_t> ns;
  for (int i = 0; i < st.commit_samples + 10; ++i) {
    int n = ev.format(static_cast<uint64_t>(i));
    int64_t t0 = now_ns();
    sqlite3_bind_int64(ins.get(), 1, 1764132000000 + i);
    sqlite3_bind_int64(ins.get(), 2, n);
    sqlite3_bind_text(ins.get(), 3, ev.buf, n, SQLITE_STATIC);
    int rc = sqlite3_step(ins.get());  // autocommit: one transaction, one WAL commit
    sqlite3_reset(ins.get());
    int64_t t1 = now_ns();
    if (rc != SQLITE_DONE) {
      std::fprintf(stderr, "sdk_bench: single commit: %s\n", sqlite3_errmsg(db.get()));
      return;
    }
    if (i >= 10) ns.push_back(t1 - t0);
  }
  std::sort(ns.begin(), ns.end());
  res.single_commit_ns = static_cast<double>(quantile(ns, 0.5));
}

// ---------------------------------------------------------------- S1/S2: track() latency

// One variant of S1's client, measured in rounds: every timed call of every
// round, and what the caller's thread and the worker did meanwhile.
struct TrackSamples {
  std::vector<int64_t> ns;        // every round's timed calls
  std::vector<double> round_p50;  // each round's own p50
  uint64_t rejected = 0, attempts = 0;
  long voluntary = 0, involuntary = 0;
  long slow = 0, slow_blocked = 0, slow_preempted = 0;
  uint64_t sessions_started = 0, lifecycle_events = 0;
  bool session_live = false;  // the client had a session when its last round ended
};

// One round of S1 calls against a client on `path` (a new Client each round;
// the database, and with it the queue and the session, carries over). Both
// variants use a real libcurl transport against the refused loopback `port`,
// retried every millisecond or so, so the worker is continuously claiming,
// gzipping, failing and committing. `sessions` false: the client as before
// sessions existed (track_sessions off, no lifecycle calls). `sessions` true:
// the default track_sessions, after app_launched() and app_foreground(), the
// settings fetch off (the figure is the caller's path, not the fetch).
// `raw` (optional): after the round, the binding path's p50 (enqueue()).
bool track_round(const Settings& st, const std::string& path, int port, bool sessions, int warmup,
                 int calls, TrackSamples& out, std::optional<double>* raw) {
  tern::Config c = base_config(path);
  c.endpoint = "http://127.0.0.1:" + std::to_string(port);
  c.http.connect_timeout = milliseconds(1000);
  c.http.request_timeout = milliseconds(2000);
  c.backoff_base = milliseconds(1);
  c.backoff_max = milliseconds(1);
  c.max_attempts = 1'000'000'000;
  c.track_sessions = sessions;
  c.fetch_settings = false;
  auto client = make_client(c, sessions ? "M1" : "S1");
  if (!client) return false;
  if (sessions) {
    tern::Status l = client->app_launched("4.12.0", "4120");
    tern::Status f = client->app_foreground();
    if (!l || !f) {
      std::fprintf(stderr, "sdk_bench: M1: app_launched/app_foreground failed: %s\n",
                   (!l ? l : f).to_string().c_str());
      return false;
    }
  }
  const nlohmann::json props = typical_properties();  // the caller's DOM, built once
  std::vector<int64_t> round;
  round.reserve(static_cast<std::size_t>(calls));
  out.ns.reserve(out.ns.size() + static_cast<std::size_t>(calls));
  const int64_t interval = 1'000'000'000LL / st.s1_rate;
  int64_t next = now_ns();
  // The thread's switch counters are read only at the start and after a slow
  // call (a syscall before every call would slow the calls measured). The
  // pacing spin never sleeps, so a voluntary switch since the last reading
  // means a track() call slept: blocked on a lock.
  rusage ru0{}, ru1{}, before{}, after{};
  for (int i = 0; i < warmup + calls; ++i) {
    while (now_ns() < next) {
    }
    next += interval;
    if (i == warmup) {
      ::getrusage(RUSAGE_THREAD, &ru0);
      before = ru0;
    }
    int64_t t0 = now_ns();
    tern::Status s = client->track(kEventName, props);
    int64_t t1 = now_ns();
    if (i < warmup) continue;
    if (!s) ++out.rejected;
    round.push_back(t1 - t0);
    if (t1 - t0 >= kSlowCallNs) {
      ::getrusage(RUSAGE_THREAD, &after);
      ++out.slow;
      if (after.ru_nvcsw > before.ru_nvcsw) {
        ++out.slow_blocked;
      } else if (after.ru_nivcsw > before.ru_nivcsw) {
        ++out.slow_preempted;
      }
      before = after;
    }
  }
  ::getrusage(RUSAGE_THREAD, &ru1);
  // The pacing loop spins and never sleeps: a voluntary switch means track()
  // blocked (a lock), an involuntary one that the scheduler preempted us.
  out.voluntary += ru1.ru_nvcsw - ru0.ru_nvcsw;
  out.involuntary += ru1.ru_nivcsw - ru0.ru_nivcsw;
  tern::Stats stats = client->stats();
  out.attempts += stats.attempts;
  out.sessions_started += stats.sessions_started;
  out.lifecycle_events += stats.lifecycle_events;
  out.session_live = client->session_id().has_value();

  // For information: the binding path (already-serialised JSON, no DOM).
  if (raw) {
    const std::string props_text = props.dump();
    tern::RawMessage m;
    m.type = tern::MessageType::kTrack;
    m.event = kEventName;
    m.properties_json = props_text;
    std::vector<int64_t> raw_ns;
    raw_ns.reserve(static_cast<std::size_t>(st.s1_calls / 4));
    next = now_ns();
    for (int i = 0; i < st.s1_calls / 4; ++i) {
      while (now_ns() < next) {
      }
      next += interval;
      int64_t t0 = now_ns();
      tern::Status s = client->enqueue(m);
      int64_t t1 = now_ns();
      if (s) raw_ns.push_back(t1 - t0);
    }
    std::sort(raw_ns.begin(), raw_ns.end());
    if (!raw_ns.empty()) *raw = static_cast<double>(quantile(raw_ns, 0.5));
  }
  (void)client->shutdown(milliseconds(2000));
  client.reset();

  out.ns.insert(out.ns.end(), round.begin(), round.end());
  std::sort(round.begin(), round.end());
  out.round_p50.push_back(static_cast<double>(quantile(round, 0.5)));
  return true;
}

void measure_track_latency(const Settings& st, const RunDir& dir, Results& res) {
  // Baseline: snprintf of the same event, timed per call exactly like track().
  {
    SnprintfEvent ev;
    ev.context = MobileContext().context_json();
    std::vector<int64_t> ns;
    ns.reserve(static_cast<std::size_t>(st.s1_calls));
    uint64_t sink = 0;
    for (int i = 0; i < st.s1_warmup + st.s1_calls; ++i) {
      int64_t t0 = now_ns();
      int n = ev.format(static_cast<uint64_t>(i));
      int64_t t1 = now_ns();
      sink += static_cast<uint64_t>(n) + static_cast<unsigned char>(ev.buf[n / 2]);
      if (i >= st.s1_warmup) ns.push_back(t1 - t0);
    }
    if (sink == 42) std::printf(" ");  // keeps the formatting observable
    std::sort(ns.begin(), ns.end());
    res.serialize_p50 = static_cast<double>(quantile(ns, 0.5));
    res.serialize_p99 = static_cast<double>(quantile(ns, 0.99));
  }

  // S1 (sessions off) and M1 (sessions and lifecycle on), interleaved: round
  // r runs one then the other, alternating which goes first, so a noisy
  // neighbour or a slow stretch of the disk hits both alike. Each variant
  // keeps its own database across rounds. The figures are the p50 of all of a
  // variant's timed calls; the per-round ratios are in the notes.
  const std::string path = dir.file("track.db");
  const std::string path_sessions = dir.file("track-sessions.db");
  const int port = free_port();
  const int rounds = std::max(1, st.s1_rounds);
  const int calls = std::max(1, st.s1_calls / rounds);
  const int warmup = std::max(2000, st.s1_warmup / rounds);
  TrackSamples off, on;
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool sessions = (k == 0) == (r % 2 == 1);
      const bool last_off = !sessions && r == rounds - 1;
      if (!track_round(st, sessions ? path_sessions : path, port, sessions, warmup, calls,
                       sessions ? on : off, last_off ? &res.enqueue_raw_p50 : nullptr)) {
        return;
      }
    }
  }
  remove_db(path);
  remove_db(path_sessions);

  res.s1_rejected = off.rejected;
  res.s1_attempts = off.attempts;
  res.s1_voluntary_switches = off.voluntary;
  res.s1_involuntary_switches = off.involuntary;
  res.s1_slow = off.slow;
  res.s1_slow_blocked = off.slow_blocked;
  res.s1_slow_preempted = off.slow_preempted;
  std::sort(off.ns.begin(), off.ns.end());
  res.track_p50 = static_cast<double>(quantile(off.ns, 0.5));
  res.track_p99 = static_cast<double>(quantile(off.ns, 0.99));
  res.track_p999 = static_cast<double>(quantile(off.ns, 0.999));
  res.track_max = static_cast<double>(off.ns.back());

  std::sort(on.ns.begin(), on.ns.end());
  res.track_sessions_p50 = static_cast<double>(quantile(on.ns, 0.5));
  res.track_sessions_p99 = static_cast<double>(quantile(on.ns, 0.99));
  res.m1_rejected = on.rejected;
  res.m1_attempts = on.attempts;
  res.m1_sessions_started = on.sessions_started;
  res.m1_lifecycle_events = on.lifecycle_events;
  res.m1_session_live = on.session_live;
  res.m1_round_p50 = on.round_p50;
  res.s1_round_p50 = off.round_p50;
  res.s1_rounds = rounds;
  res.s1_round_calls = calls;
  res.s1_round_warmup = warmup;
}

// ---------------------------------------------------------------- S3: durable events/s

void measure_durable(const Settings& st, const RunDir& dir, Results& res) {
  const int n = st.s3_events;
  // SDK: group commit (defaults: 20 ms / 256 events), synchronous=FULL (the
  // store's default). Consent unknown: events are stored, never sent, so the
  // worker does nothing but commit.
  {
    std::string path = dir.file("durable.db");
    tern::Config c = base_config(path);
    c.default_consent = tern::Consent::kUnknown;
    c.max_queue_events = static_cast<std::size_t>(n) * 2;
    c.max_queue_bytes = kBigQueueBytes;
    c.max_pending_events = static_cast<std::size_t>(n);
    auto client = make_client(c, "S3");
    if (!client) return;
    const nlohmann::json props = typical_properties();
    auto t0 = SteadyClock::now();
    uint64_t rejected = 0;
    for (int i = 0; i < n; ++i) {
      if (!client->track(kEventName, props)) ++rejected;
    }
    bool done =
        wait_for([&] { return client->stats().stored + rejected >= static_cast<uint64_t>(n); },
                 milliseconds(120'000));
    double secs = seconds_since(t0);
    auto stats = client->stats();
    if (!done || rejected) {
      std::fprintf(stderr, "sdk_bench: S3: stored %" PRIu64 " of %d (rejected %" PRIu64 ")\n",
                   stats.stored, n, rejected);
    }
    res.durable_eps = static_cast<double>(stats.stored) / secs;
    (void)client->shutdown(milliseconds(2000));
    client.reset();
    remove_db(path);
  }
  // Baseline: raw prepared INSERT of the same row shape, 1000 rows per
  // transaction, same schema and pragmas, same directory.
  {
    std::string path = dir.file("durable-baseline.db");
    Db db(path);
    if (!db.ok()) return;
    Stmt ins(db.get(), "INSERT INTO events(created_ms,size,body) VALUES(?,?,?)");
    SnprintfEvent ev;
    ev.context = MobileContext().context_json();
    auto t0 = SteadyClock::now();
    for (int i = 0; i < n;) {
      db.exec("BEGIN IMMEDIATE");
      for (int k = 0; k < 1000 && i < n; ++k, ++i) {
        int len = ev.format(static_cast<uint64_t>(i));
        sqlite3_bind_int64(ins.get(), 1, 1764132000000 + i / 1000);
        sqlite3_bind_int64(ins.get(), 2, len);
        sqlite3_bind_text(ins.get(), 3, ev.buf, len, SQLITE_STATIC);
        if (sqlite3_step(ins.get()) != SQLITE_DONE) {
          std::fprintf(stderr, "sdk_bench: S3 baseline: %s\n", sqlite3_errmsg(db.get()));
          return;
        }
        sqlite3_reset(ins.get());
      }
      db.exec("COMMIT");
    }
    res.sqlite_baseline_eps = n / seconds_since(t0);
    remove_db(path);
  }
}

// ---------------------------------------------------------------- S4: wire bytes per event

void measure_wire(const RunDir& dir, Results& res) {
  constexpr std::size_t kBatch = 100;
  std::string path = dir.file("wire.db");
  auto transport = std::make_shared<CapturingTransport>();
  tern::Config c = base_config(path);
  c.transport = transport;
  c.flush_at = 10'000;  // only flush() uploads: one batch of exactly 100
  auto client = make_client(c, "S4");
  if (!client) return;
  for (const auto& e : typical_events(kBatch, 4)) {
    if (!client->track(e.name, e.properties)) {
      std::fprintf(stderr, "sdk_bench: S4: track rejected an event\n");
      return;
    }
  }
  tern::Status f = client->flush(milliseconds(10'000));
  (void)client->shutdown(milliseconds(2000));
  client.reset();
  remove_db(path);
  auto reqs = transport->requests();
  if (!f || reqs.empty()) {
    std::fprintf(stderr, "sdk_bench: S4: flush: %s, %zu requests\n", f.to_string().c_str(),
                 reqs.size());
    return;
  }
  std::size_t wire = 0, events = 0;
  std::string ndjson, raw;
  for (const auto& r : reqs) {
    wire += r.body.size();
    std::string body = r.gzip ? inflate_gzip(r.body) : r.body;
    raw += body;
    // ordered_json keeps each event's keys and text as the SDK wrote them.
    auto j = nlohmann::ordered_json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("batch")) {
      std::fprintf(stderr, "sdk_bench: S4: a request body is not a batch\n");
      return;
    }
    for (const auto& e : j["batch"]) {
      ndjson += e.dump();
      ndjson += '\n';
      ++events;
    }
  }
  if (events != kBatch || reqs.size() != 1) {
    std::fprintf(
        stderr,
        "sdk_bench: S4: expected one request of %zu events, got %zu requests / %zu events\n",
        kBatch, reqs.size(), events);
  }
  std::string z = deflate_text(ndjson, 6, false);
  res.wire_bpe = static_cast<double>(wire) / static_cast<double>(events);
  res.gzip_bpe = static_cast<double>(z.size()) / static_cast<double>(events);
  res.raw_bpe = static_cast<double>(raw.size()) / static_cast<double>(events);
  res.wire_requests = reqs.size();
  res.wire_events = events;
}

// ---------------------------------------------------------------- S5: drain through nginx

// nginx-light as a child process on a loopback port: `return 200` for every
// POST, bodies read and discarded, no access log.
class Nginx {
 public:
  static std::unique_ptr<Nginx> start(const RunDir& dir, std::string* why) {
    std::string bin =
        find_program("nginx", {"/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"});
    if (bin.empty()) {
      *why = "nginx not found (Debian package nginx-light)";
      return nullptr;
    }
    std::unique_ptr<Nginx> n(new Nginx());
    n->port_ = free_port();
    std::string prefix = dir.file("nginx");
    std::filesystem::create_directories(prefix + "/tmp");
    std::string conf = prefix + "/nginx.conf";
    {
      std::ofstream out(conf);
      out << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          << "pid " << prefix << "/nginx.pid;\nerror_log " << prefix << "/error.log warn;\n"
          << "events { worker_connections 256; }\n"
          << "http {\n  access_log off;\n  client_max_body_size 64m;\n  client_body_buffer_size "
             "1m;\n"
          << "  client_body_temp_path " << prefix << "/tmp/body;\n  proxy_temp_path " << prefix
          << "/tmp/proxy;\n"
          << "  fastcgi_temp_path " << prefix << "/tmp/fastcgi;\n  uwsgi_temp_path " << prefix
          << "/tmp/uwsgi;\n"
          << "  scgi_temp_path " << prefix << "/tmp/scgi;\n  keepalive_requests 100000;\n"
          << "  server {\n    listen 127.0.0.1:" << n->port_ << ";\n"
          << "    location / { default_type application/json; return 200 '{}'; }\n  }\n}\n";
    }
    std::vector<std::string> args = {bin,  "-p", prefix + "/",         "-c",
                                     conf, "-e", prefix + "/error.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork/exec rather than posix_spawn: the child asks for SIGTERM when
    // the bench dies, so a crashed or killed run leaves no nginx behind.
    std::string err_path = prefix + "/stderr.log";
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      *why = "cannot fork for nginx: " + std::string(std::strerror(errno));
      return nullptr;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(127);
      int out = ::open("/dev/null", O_WRONLY);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) ::dup2(out, 1);
      if (err >= 0) ::dup2(err, 2);
      ::execv(bin.c_str(), argv.data());
      _exit(127);
    }
    n->pid_ = pid;
    if (!wait_for([&] { return can_connect(n->port_); }, milliseconds(5000))) {
      std::ifstream err(prefix + "/stderr.log");
      std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
      *why = "nginx did not start listening: " + text;
      return nullptr;
    }
    return n;
  }
  ~Nginx() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 3000; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(milliseconds(1));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  Nginx() = default;
  pid_t pid_ = -1;
  int port_ = -1;
};

// Drains the database at `path` without HTTP: SELECT 500 events (the SDK's
// max_batch_events), wrap them as a batch, gzip level 6 (as the SDK), and
// DELETE them (one range DELETE, one WAL transaction per batch). The delete
// commits with synchronous=NORMAL, or FULL when `full_sync`: an ack needs no
// fsync of its own (losing it to a power cut only resends the batch, which the
// server deduplicates), and the SDK's store acks that way since 4f90da4, so
// NORMAL is the like-for-like baseline; FULL is the naive durable loop, kept
// for comparison. Returns events/s (0: failed, `why` set).
double drain_loop(const std::string& path, bool full_sync, double* wall, double* cpu, double* runq,
                  std::string* why) {
  Db db(path, false);
  if (!db.ok()) {
    *why = "cannot open a copy of the drain database";
    return 0;
  }
  db.exec(full_sync ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  Stmt sel(db.get(), "SELECT id,body FROM events ORDER BY id LIMIT 500");
  Stmt del(db.get(), "DELETE FROM events WHERE id<=?");
  uint64_t drained = 0;
  auto t0 = SteadyClock::now();
  SchedStat m0 = read_schedstat("/proc/thread-self/schedstat");
  for (;;) {
    std::string body = "{\"batch\":[";
    int64_t last = -1;
    int rows = 0;
    while (sqlite3_step(sel.get()) == SQLITE_ROW) {
      if (rows++) body += ',';
      last = sqlite3_column_int64(sel.get(), 0);
      body.append(reinterpret_cast<const char*>(sqlite3_column_text(sel.get(), 1)),
                  static_cast<std::size_t>(sqlite3_column_bytes(sel.get(), 1)));
    }
    sqlite3_reset(sel.get());
    if (rows == 0) break;
    body += "],\"sentAt\":\"2026-11-26T04:41:00.000Z\"}";
    std::string z = deflate_text(body, 6, true);
    if (z.empty()) {
      *why = "zlib failed";
      return 0;
    }
    db.exec("BEGIN IMMEDIATE");
    sqlite3_bind_int64(del.get(), 1, last);
    sqlite3_step(del.get());
    sqlite3_reset(del.get());
    db.exec("COMMIT");
    drained += static_cast<uint64_t>(rows);
  }
  double secs = seconds_since(t0);
  SchedStat m1 = read_schedstat("/proc/thread-self/schedstat");
  *wall += secs;
  *cpu += m1.cpu_s - m0.cpu_s;
  *runq += m1.runq_s - m0.runq_s;
  return static_cast<double>(drained) / secs;
}

// One round: fill a queue of n events, copy the database, drain it with the
// SDK through nginx, then drain the copy with the baseline loop.
// Returns {sdk, baseline, baseline with FULL-synchronous deletes} in
// events/s, or an empty vector (why set).
std::vector<double> drain_round(int n, const Nginx& nginx, const RunDir& dir, int round,
                                DrainProfile* profile, std::string* why) {
  std::string path = dir.file("drain-" + std::to_string(round) + ".db");
  auto configure = [&](tern::Config& c) {
    c.max_queue_events = static_cast<std::size_t>(n) * 2;
    c.max_queue_bytes = kBigQueueBytes;
    c.max_pending_events = static_cast<std::size_t>(n);
    c.endpoint = nginx.url();
  };
  std::vector<double> out;
  // Fill: consent unknown, so everything stays queued on disk.
  {
    tern::Config c = base_config(path);
    configure(c);
    c.default_consent = tern::Consent::kUnknown;
    auto client = make_client(c, "S5 fill");
    if (!client) {
      *why = "Client::create failed";
      return {};
    }
    for (const auto& e : typical_events(static_cast<std::size_t>(n), 5))
      (void)client->track(e.name, e.properties);
    if (!wait_for([&] { return client->stats().stored >= static_cast<uint64_t>(n); },
                  milliseconds(120'000))) {
      *why = "could not fill the queue";
      return {};
    }
    (void)client->shutdown(milliseconds(5000));
  }
  // The baseline drains an identical copy of the database.
  std::string copy = dir.file("drain-baseline-" + std::to_string(round) + ".db");
  std::string copy2 = dir.file("drain-baseline-full-" + std::to_string(round) + ".db");
  for (const std::string& to : {copy, copy2}) {
    for (const char* ext : {"", "-wal"}) {
      std::error_code ec;
      if (std::filesystem::exists(path + ext)) {
        std::filesystem::copy_file(path + ext, to + ext,
                                   std::filesystem::copy_options::overwrite_existing, ec);
      }
    }
  }
  // SDK: store → gzip → POST (libcurl, keep-alive) → delete, until empty.
  {
    tern::Config c = base_config(path);
    configure(c);
    c.default_consent = tern::Consent::kGranted;
    auto client = make_client(c, "S5 drain");
    if (!client) {
      *why = "Client::create failed";
      return {};
    }
    auto t0 = SteadyClock::now();
    SchedStat w0 = worker_schedstat();
    tern::Status f = client->flush(milliseconds(120'000));
    double secs = seconds_since(t0);
    SchedStat w1 = worker_schedstat();
    profile->sdk_wall += secs;
    profile->sdk_cpu += w1.cpu_s - w0.cpu_s;
    profile->sdk_runq += w1.runq_s - w0.runq_s;
    auto stats = client->stats();
    if (!f || stats.sent != static_cast<uint64_t>(n)) {
      std::fprintf(stderr, "sdk_bench: S5: flush %s, sent %" PRIu64 " of %d\n",
                   f.to_string().c_str(), stats.sent, n);
    }
    out.push_back(static_cast<double>(stats.sent) / secs);
    (void)client->shutdown(milliseconds(2000));
  }
  remove_db(path);
  // Baseline, then the same loop with FULL-synchronous deletes.
  double base =
      drain_loop(copy, false, &profile->base_wall, &profile->base_cpu, &profile->base_runq, why);
  if (base <= 0) return {};
  out.push_back(base);
  double full =
      drain_loop(copy2, true, &profile->full_wall, &profile->full_cpu, &profile->full_runq, why);
  if (full <= 0) return {};
  out.push_back(full);
  remove_db(copy2);
  remove_db(copy);
  return out;
}

// Best of several rounds for each side: the machine is shared, and a round
// that lost the CPU to a neighbour says nothing about either loop.
void measure_drain(const Settings& st, const RunDir& dir, Results& res) {
  std::string why;
  auto nginx = Nginx::start(dir, &why);
  if (!nginx) {
    res.drain_skipped = why;
    return;
  }
  for (int round = 0; round < st.s5_rounds; ++round) {
    std::vector<double> r = drain_round(st.s5_events, *nginx, dir, round, &res.drain_profile, &why);
    if (r.size() != 3) {
      res.drain_skipped = why;
      return;
    }
    res.drain_rounds.push_back({r[0], r[1]});
    res.drain_full_baseline_eps = std::max(res.drain_full_baseline_eps.value_or(0), r[2]);
    res.drain_eps = std::max(res.drain_eps.value_or(0), r[0]);
    res.drain_baseline_eps = std::max(res.drain_baseline_eps.value_or(0), r[1]);
  }
}

// ---------------------------------------------------------------- S6: attempts with the collector
// down

// Attempts the policy allows in the window, the first at `first_ms`: without
// jitter (each wait at its ceiling, base·2^(n−1) capped at max), and the mean
// and p99 with full jitter (each wait uniform in [0, ceiling]) by simulation.
struct ScheduleCount {
  int no_jitter = 0;
  double jitter_mean = 0;
  double jitter_var = 0;
  int jitter_p99 = 0;
};

ScheduleCount schedule_attempts(int64_t first_ms, int64_t window_ms) {
  auto ceiling = [](int failures) {
    int64_t c = kBackoffBaseMs;
    for (int i = 1; i < failures && c < kBackoffMaxMs; ++i) c *= 2;
    return std::min<int64_t>(c, kBackoffMaxMs);
  };
  ScheduleCount out;
  for (int64_t t = first_ms, f = 1; t < window_ms; t += ceiling(static_cast<int>(f++)))
    ++out.no_jitter;
  std::mt19937_64 rng(6);
  constexpr int kTrials = 200'000;
  std::vector<int> counts(kTrials);
  double sum = 0, sum_sq = 0;
  for (int k = 0; k < kTrials; ++k) {
    int count = 0;
    for (int64_t t = first_ms, f = 1; t < window_ms; ++f) {
      ++count;
      t += static_cast<int64_t>(rng() % static_cast<uint64_t>(ceiling(static_cast<int>(f)) + 1));
    }
    counts[static_cast<std::size_t>(k)] = count;
    sum += count;
    sum_sq += static_cast<double>(count) * count;
  }
  std::sort(counts.begin(), counts.end());
  out.jitter_mean = sum / kTrials;
  out.jitter_var = sum_sq / kTrials - out.jitter_mean * out.jitter_mean;
  out.jitter_p99 = counts[static_cast<std::size_t>(kTrials * 0.99)];
  return out;
}

void measure_attempts(const Settings& st, const RunDir& dir, Results& res) {
  double sum_attempts = 0, sum_sched = 0, sum_mean = 0, sum_p99 = 0, sum_var = 0;
  int runs = 0;
  for (int run = 0; run < st.s6_runs; ++run) {
    std::string path = dir.file("down-" + std::to_string(run) + ".db");
    auto clock = std::make_shared<FastClock>(kS6Speed);
    auto transport = std::make_shared<DownTransport>([clock] { return clock->elapsed_ms(); });
    tern::Config c = base_config(path);
    c.clock = clock;
    c.transport = transport;
    // The real SQLite store, but synchronous=NORMAL: on a clock running
    // kS6Speed times fast, each fsync (ms of real time) would last kS6Speed
    // times longer in simulated time, keep the worker committing and delay
    // its retries, flattering the figure. Durability is not what S6 measures.
    {
      tern::SqliteStoreOptions so;
      so.path = path;
      so.synchronous_full = false;
      auto store = tern::SqliteStore::open(so);
      if (!store) {
        std::fprintf(stderr, "sdk_bench: S6: %s\n", store.status().to_string().c_str());
        return;
      }
      c.store = std::shared_ptr<tern::Store>(std::move(store).value());
    }
    c.backoff_base = milliseconds(kBackoffBaseMs);
    c.backoff_max = milliseconds(kBackoffMaxMs);
    auto client = make_client(c, "S6");
    if (!client) return;
    // The window starts once the client is up (opening it took simulated time too).
    const int64_t start = clock->elapsed_ms();
    const int64_t end = start + kS6WindowMs;
    // 1k events per simulated second, for the simulated window.
    const nlohmann::json props = typical_properties();
    int64_t tracked = 0;
    for (;;) {
      int64_t sim = clock->elapsed_ms();
      if (sim >= end) break;
      int64_t due = (sim - start) * kS6EventsPerSecond / 1000;
      for (; tracked < due; ++tracked) (void)client->track(kEventName, props);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::vector<int64_t> at = transport->attempts();
    (void)client->shutdown(
        milliseconds(0));  // no last-chance upload counted: attempts were read above
    client.reset();
    remove_db(path);
    int in_window = static_cast<int>(
        std::count_if(at.begin(), at.end(), [&](int64_t t) { return t >= start && t < end; }));
    if (g_verbose) {
      std::fprintf(stderr,
                   "sdk_bench: S6 run %d: attempts at simulated ms since the window opened:", run);
      for (int64_t t : at) std::fprintf(stderr, " %" PRId64, t - start);
      std::fprintf(stderr, "\n");
    }
    if (in_window == 0) {
      std::fprintf(stderr, "sdk_bench: S6: no upload attempt at all in the window\n");
      continue;
    }
    auto first = std::find_if(at.begin(), at.end(), [&](int64_t t) { return t >= start; });
    ScheduleCount sched = schedule_attempts(*first - start, kS6WindowMs);
    res.attempts_runs.push_back(in_window);
    sum_attempts += in_window;
    sum_sched += sched.no_jitter;
    sum_mean += sched.jitter_mean;
    sum_p99 += sched.jitter_p99;
    sum_var += sched.jitter_var;
    ++runs;
  }
  if (runs == 0) return;
  res.attempts_down = sum_attempts / runs;
  res.attempts_schedule = sum_sched / runs;
  res.attempts_jitter_mean = sum_mean / runs;
  res.attempts_jitter_p99 = sum_p99 / runs;
  res.attempts_jitter_sd_of_mean = std::sqrt(sum_var) / runs;
}

// ---------------------------------------------------------------- S7: RSS with 100k events queued

// Runs `f` in a forked child and returns the numbers it wrote back (empty
// when the child failed: `f` returns an empty vector for that).
std::vector<double> in_child(const std::function<std::vector<double>()>& f) {
  constexpr std::size_t kMax = 8;
  int fds[2];
  if (::pipe(fds) != 0) return {};
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    ::close(fds[0]);
    std::vector<double> v = f();
    v.resize(std::min(v.size(), kMax));
    ssize_t want = static_cast<ssize_t>(v.size() * sizeof(double));
    ssize_t w = v.empty() ? 0 : ::write(fds[1], v.data(), static_cast<std::size_t>(want));
    _exit(!v.empty() && w == want ? 0 : 1);
  }
  ::close(fds[1]);
  double buf[kMax];
  ssize_t r = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (r <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
  return std::vector<double>(buf, buf + r / static_cast<ssize_t>(sizeof(double)));
}

void measure_rss(const Settings& st, const RunDir& dir, Results& res) {
  const int n = st.s7_events;
  std::string path = dir.file("rss.db");
  // Child 1: the SDK. Events are tracked in chunks of 1000 and the caller
  // waits for each chunk to be stored, as an app would produce them: the RSS
  // is that of 100k events queued on disk, not of a 100k-string burst in the
  // hand-off queue. Steps are recorded to show where the memory goes.
  std::vector<double> sdk = in_child([&]() -> std::vector<double> {
    long before = rss_kb(), before_anon = rss_anon_kb();
    tern::global_init();  // libcurl + OpenSSL process-wide init (Client::create does it too)
    long inited = rss_kb();
    tern::Config c = base_config(path);
    c.default_consent = tern::Consent::kUnknown;  // queued, not sent
    c.max_queue_events = static_cast<std::size_t>(n) * 2;
    c.max_queue_bytes = kBigQueueBytes;
    auto client = make_client(c, "S7");
    if (!client) return {};
    long created = rss_kb();
    const nlohmann::json props = typical_properties();
    for (int i = 0; i < n; i += 1000) {
      for (int k = 0; k < 1000 && i + k < n; ++k) (void)client->track(kEventName, props);
      if (!wait_for(
              [&] {
                return client->stats().stored >= static_cast<uint64_t>(std::min(n, i + 1000));
              },
              milliseconds(30'000))) {
        return {};
      }
    }
    if (client->stats().queue_depth != static_cast<uint64_t>(n)) return {};
    long after = rss_kb(), after_anon = rss_anon_kb();
    return {static_cast<double>(after - before), static_cast<double>(inited - before),
            static_cast<double>(created - inited), static_cast<double>(after_anon - before_anon)};
  });
  if (sdk.size() == 4) {
    res.rss_added_kb = sdk[0];
    res.rss_global_init_kb = sdk[1];
    res.rss_create_kb = sdk[2];
    res.rss_added_anon_kb = sdk[3];
  }
  // Child 2: a bare SQLite connection on the same database, after reading every row.
  std::vector<double> bare = in_child([&]() -> std::vector<double> {
    long before = rss_kb(), before_anon = rss_anon_kb();
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return {};
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT id,created_ms,size,body FROM events ORDER BY id", -1, &s,
                       nullptr);
    uint64_t rows = 0, bytes = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      ++rows;
      bytes += static_cast<uint64_t>(sqlite3_column_bytes(s, 3));
    }
    sqlite3_finalize(s);
    long after = rss_kb(), after_anon = rss_anon_kb();
    sqlite3_close(db);
    if (rows != static_cast<uint64_t>(n) || bytes == 0) return {};
    return {static_cast<double>(after - before), static_cast<double>(after_anon - before_anon)};
  });
  if (bare.size() == 2) {
    res.rss_sqlite_kb = bare[0];
    res.rss_sqlite_anon_kb = bare[1];
  }
  remove_db(path);
}

// ---------------------------------------------------------------- S8: library size

void measure_lib_size(const RunDir& dir, Results& res) {
  char curl[4096];
  ssize_t len = ::readlink("/usr/lib/x86_64-linux-gnu/libcurl.so.4", curl, sizeof curl - 1);
  std::string curl_path = "/usr/lib/x86_64-linux-gnu/libcurl.so.4";
  if (len > 0) {
    curl[len] = '\0';
    curl_path =
        curl[0] == '/' ? std::string(curl) : "/usr/lib/x86_64-linux-gnu/" + std::string(curl);
  }
  if (long s = file_size(curl_path); s > 0) res.libcurl_bytes = static_cast<double>(s);
#ifdef TERN_BENCH_LIBTERN
  std::string lib = TERN_BENCH_LIBTERN;
  std::string strip = find_program("strip", {"/usr/bin"});
  std::string out = dir.file("libtern.stripped.so");
  if (long s = file_size(lib); s > 0) res.lib_unstripped_bytes = static_cast<double>(s);
  if (!strip.empty() && run_program({strip, "--strip-all", "-o", out, lib})) {
    if (long s = file_size(out); s > 0) res.lib_bytes = static_cast<double>(s);
  } else {
    std::fprintf(stderr, "sdk_bench: S8: cannot strip %s\n", lib.c_str());
  }
#else
  std::fprintf(stderr, "sdk_bench: S8: libtern.so (the C API) is not part of this build\n");
#endif
  // The TERN_SMALL build (already stripped at link; stripped again so that
  // both figures are measured the same way).
  std::string small;
#ifdef TERN_BENCH_LIBTERN_SMALL
  small = TERN_BENCH_LIBTERN_SMALL;
#endif
  if (const char* env = std::getenv("TERN_BENCH_LIBTERN_SMALL"); env != nullptr && *env != '\0')
    small = env;
  std::string small_strip = find_program("strip", {"/usr/bin"});
  std::string small_out = dir.file("libtern.small.stripped.so");
  if (small.empty()) {
    std::fprintf(stderr,
                 "sdk_bench: S8: no TERN_SMALL libtern.so (sanitizer trees build none; see "
                 "cmake/small.cmake)\n");
  } else if (!small_strip.empty() &&
             run_program({small_strip, "--strip-all", "-o", small_out, small})) {
    if (long s = file_size(small_out); s > 0) res.lib_bytes_small = static_cast<double>(s);
  } else {
    std::fprintf(stderr, "sdk_bench: S8: cannot strip %s\n", small.c_str());
  }
}

// ---------------------------------------------------------------- report

std::optional<bool> at_most(const std::optional<double>& r, double limit) {
  if (!r) return std::nullopt;
  return *r <= limit;
}
std::optional<bool> at_least(const std::optional<double>& r, double limit) {
  if (!r) return std::nullopt;
  return *r >= limit;
}

nlohmann::json num(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

void report(const Settings& st, const Results& r) {
  std::printf("\nsdk_bench%s — figure | same-run baseline | ratio vs target\n",
              st.quick ? " --quick" : "");
  auto r1 = ratio(r.track_p50, r.serialize_p50);
  line("S1", "track() p50, worker busy, uploads failing", r.track_p50, "ns",
       "snprintf of the same event, p50", r.serialize_p50, r1, "<= 5x", at_most(r1, 5));
  auto rm1 = ratio(r.track_sessions_p50, r.track_p50);
  line("M1", "track() p50, sessions + lifecycle on", r.track_sessions_p50, "ns",
       "S1's track() p50, sessions off, same run", r.track_p50, rm1, "<= 1.1x", at_most(rm1, 1.1));
  auto r2a = ratio(r.track_p99, r.serialize_p50);
  line("S2", "track() p99", r.track_p99, "ns", "snprintf of the same event, p50", r.serialize_p50,
       r2a, "<= 50x", at_most(r2a, 50));
  auto r2b = ratio(r.track_p999, r.single_commit_ns);
  line("S2", "track() p99.9", r.track_p999, "ns", "one single-row WAL FULL commit, p50",
       r.single_commit_ns, r2b, "<= 0.5x", at_most(r2b, 0.5));
  auto r3 = ratio(r.durable_eps, r.sqlite_baseline_eps);
  line("S3", "durable events/s, group commit, FULL", r.durable_eps, "ev/s",
       "prepared INSERT, 1000 rows/txn", r.sqlite_baseline_eps, r3, ">= 0.5x", at_least(r3, 0.5));
  auto r4 = ratio(r.wire_bpe, r.gzip_bpe);
  line("S4", "wire bytes/event, batch of 100", r.wire_bpe, "B",
       "zlib -6 of the same events as NDJSON", r.gzip_bpe, r4, "<= 1.15x", at_most(r4, 1.15));
  auto r5 = ratio(r.drain_eps, r.drain_baseline_eps);
  line("S5", "drain: store→gzip→POST nginx→delete", r.drain_eps, "ev/s",
       "SELECT+gzip+DELETE, no HTTP, NORMAL", r.drain_baseline_eps, r5, ">= 0.6x",
       at_least(r5, 0.6));
  auto r6 = ratio(r.attempts_down, r.attempts_schedule);
  // Full jitter draws each wait from [0, ceiling]: the no-jitter count is the
  // fewest attempts the configured policy can make (a floor, not the target).
  line("S6", "attempts in 60 s, collector down, 1k ev/s", r.attempts_down, "",
       "no-jitter schedule (floor)", r.attempts_schedule, r6, ">= 1.0x", at_least(r6, 1.0));
  auto r6j = ratio(r.attempts_down, r.attempts_jitter_mean);
  // A count drawn from a random schedule: equal to its expectation within
  // noise is what a correct policy gives, so say that rather than flip a coin.
  const bool s6_within_noise =
      r.attempts_down && r.attempts_jitter_mean && r.attempts_jitter_sd_of_mean &&
      at_most(r6j, 1.0) != std::optional<bool>(true) &&
      *r.attempts_down <= *r.attempts_jitter_mean + 2 * *r.attempts_jitter_sd_of_mean;
  line("S6", "  (same, vs the full-jitter expectation)", r.attempts_down, "",
       "schedule with full jitter, mean", r.attempts_jitter_mean, r6j, "<= 1.0x", at_most(r6j, 1.0),
       s6_within_noise ? "MATCHES (within 2 sd)" : nullptr);
  std::optional<double> r7, allowance;
  if (r.rss_added_kb && r.rss_sqlite_kb) {
    allowance = 1.5 * *r.rss_sqlite_kb + 1024;
    r7 = ratio(r.rss_added_kb, r.rss_sqlite_kb);
  }
  line("S7", "RSS added by the SDK, 100k events queued", r.rss_added_kb, "KiB",
       "bare SQLite connection, same DB", r.rss_sqlite_kb, r7, "<= 1.5x + 1 MiB",
       r.rss_added_kb && allowance ? std::optional<bool>(*r.rss_added_kb <= *allowance)
                                   : std::nullopt);
  auto r8 = ratio(r.lib_bytes, r.libcurl_bytes);
  line("S8", "stripped libtern.so", r.lib_bytes, "B", "Debian libcurl.so.4", r.libcurl_bytes, r8,
       "<= 0.55x", at_most(r8, 0.55));
  auto r8s = ratio(r.lib_bytes_small, r.libcurl_bytes);
  line("S8", "  (same, TERN_SMALL build)", r.lib_bytes_small, "B", "Debian libcurl.so.4",
       r.libcurl_bytes, r8s, "<= 0.55x", at_most(r8s, 0.55));

  std::printf("\nnotes:\n");
  std::printf("  S1: %d calls paced at %d/s after %d warm-up calls; %" PRIu64
              " rejected; worker made %" PRIu64
              " failed upload attempts meanwhile; max %.0f ns;"
              " snprintf p99 %.0f ns; enqueue(RawMessage) p50 %.0f ns\n",
              st.s1_calls, st.s1_rate, st.s1_warmup, r.s1_rejected, r.s1_attempts,
              r.track_max.value_or(0), r.serialize_p99.value_or(0), r.enqueue_raw_p50.value_or(0));
  std::printf(
      "      caller thread during the timed calls: %ld voluntary context switches (track() "
      "blocked),"
      " %ld involuntary (preempted)\n",
      r.s1_voluntary_switches, r.s1_involuntary_switches);
  std::printf(
      "      %ld calls took >= %.0f us: %ld slept in track() (blocked on a lock), %ld were "
      "preempted"
      " (at most), %ld neither\n",
      r.s1_slow, kSlowCallNs / 1e3, r.s1_slow_blocked, r.s1_slow_preempted,
      r.s1_slow - r.s1_slow_blocked - r.s1_slow_preempted);
  std::optional<double> m1_median_round;
  if (!r.m1_round_p50.empty() && r.m1_round_p50.size() == r.s1_round_p50.size()) {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < r.m1_round_p50.size(); ++i) {
      if (r.s1_round_p50[i] > 0) ratios.push_back(r.m1_round_p50[i] / r.s1_round_p50[i]);
    }
    std::sort(ratios.begin(), ratios.end());
    if (!ratios.empty()) m1_median_round = ratios[ratios.size() / 2];
    std::printf(
        "  M1: %d rounds of %d timed calls (after %d warm-up calls) per variant, S1 and M1"
        " alternating;\n      round p50s, S1/M1 ns:",
        r.s1_rounds, r.s1_round_calls, r.s1_round_warmup);
    for (std::size_t i = 0; i < r.m1_round_p50.size(); ++i) {
      std::printf(" %.0f/%.0f", r.s1_round_p50[i], r.m1_round_p50[i]);
    }
    std::printf("; median round ratio %.3fx\n", m1_median_round.value_or(0));
    std::printf(
        "      M1 client: track_sessions on, app_launched + app_foreground, settings fetch off;"
        " %" PRIu64 " sessions started, %" PRIu64
        " lifecycle events, session live at the end: %s;"
        "\n      %" PRIu64 " rejected; %" PRIu64 " failed upload attempts; p99 %.0f ns\n",
        r.m1_sessions_started, r.m1_lifecycle_events, r.m1_session_live ? "yes" : "NO",
        r.m1_rejected, r.m1_attempts, r.track_sessions_p99.value_or(0));
  }
  std::printf(
      "  S3: %d events; S4: %zu request(s) carrying %zu events, uncompressed %.0f B/event\n",
      st.s3_events, r.wire_requests, r.wire_events, r.raw_bpe.value_or(0));
  std::printf("  S5: %d events per round, best of rounds (SDK/baseline ev/s):", st.s5_events);
  for (const auto& d : r.drain_rounds) std::printf(" %.0f/%.0f", d.first, d.second);
  std::printf("%s%s\n", r.drain_skipped.empty() ? "" : "; SKIPPED: ", r.drain_skipped.c_str());
  {
    const DrainProfile& p = r.drain_profile;
    std::printf(
        "      wall time split (all rounds): SDK worker %.2f s = on-CPU %.2f + waiting for a CPU "
        "%.2f + blocked"
        " (fsync, HTTP) %.2f;\n      baseline %.2f s = on-CPU %.2f + waiting for a CPU %.2f + "
        "blocked %.2f\n",
        p.sdk_wall, p.sdk_cpu, p.sdk_runq, p.sdk_wall - p.sdk_cpu - p.sdk_runq, p.base_wall,
        p.base_cpu, p.base_runq, p.base_wall - p.base_cpu - p.base_runq);
    if (!r.drain_rounds.empty()) {
      std::vector<double> ratios;
      for (const auto& d : r.drain_rounds) ratios.push_back(d.first / d.second);
      std::sort(ratios.begin(), ratios.end());
      std::printf(
          "      per-round ratios: median %.2fx, range %.2fx .. %.2fx (best-of on each side is the "
          "figure)\n",
          ratios[ratios.size() / 2], ratios.front(), ratios.back());
    }
    if (p.sdk_cpu > 0) {
      std::printf(
          "      on-CPU time, which neighbours on a shared machine disturb less than wall time: "
          "the baseline"
          " needs %.2fx the SDK worker's\n",
          p.base_cpu / p.sdk_cpu);
    }
    std::printf(
        "      the baseline deletes with synchronous=NORMAL (an ack needs no fsync; the SDK's acks "
        "neither);"
        " with FULL\n      it drains %.0f ev/s (SDK ratio vs that: %.2fx); on-CPU %.2f s, waiting "
        "for a CPU"
        " %.2f s, blocked %.2f s\n",
        r.drain_full_baseline_eps.value_or(0),
        r.drain_eps && r.drain_full_baseline_eps ? *r.drain_eps / *r.drain_full_baseline_eps : 0.0,
        p.full_cpu, p.full_runq, p.full_wall - p.full_cpu - p.full_runq);
  }
  std::printf("  S6: %zu runs on a %dx simulated clock, attempts per run:", r.attempts_runs.size(),
              kS6Speed);
  for (int a : r.attempts_runs) std::printf(" %d", a);
  std::printf(
      ".\n      Full-jitter expectation %.2f (sd of a mean of this many runs %.2f; one run's p99 "
      "%.1f)."
      " Full jitter waits uniform[0, ceiling],\n      so the no-jitter schedule (every wait at its "
      "ceiling) is"
      " the FEWEST attempts the policy can make, not an upper bound.\n      Measured minus "
      "expected: %+.2f"
      " attempts (%s 2 sd of the mean).\n",
      r.attempts_jitter_mean.value_or(0), r.attempts_jitter_sd_of_mean.value_or(0),
      r.attempts_jitter_p99.value_or(0),
      r.attempts_down.value_or(0) - r.attempts_jitter_mean.value_or(0),
      r.attempts_down && r.attempts_jitter_mean && r.attempts_jitter_sd_of_mean &&
              *r.attempts_down - *r.attempts_jitter_mean <= 2 * *r.attempts_jitter_sd_of_mean
          ? "within"
          : "MORE than");
  std::printf(
      "  S7: allowance 1.5 x baseline + 1024 KiB = %.0f KiB; of the SDK's RSS, tern::global_init()"
      " (libcurl+OpenSSL) %.0f KiB,\n      Client::create (store open, transport, worker) %.0f "
      "KiB, the rest"
      " while queueing\n",
      r.rss_sqlite_kb ? 1.5 * *r.rss_sqlite_kb + 1024 : 0.0, r.rss_global_init_kb.value_or(0),
      r.rss_create_kb.value_or(0));
  std::printf(
      "      private memory only (RssAnon, without shared library pages): SDK %.0f KiB vs bare "
      "SQLite %.0f KiB\n",
      r.rss_added_anon_kb.value_or(0), r.rss_sqlite_anon_kb.value_or(0));
  std::printf("  S8: unstripped %.0f B\n", r.lib_unstripped_bytes.value_or(0));

  nlohmann::ordered_json j;
  j["bench"] = "sdk_bench";
  j["quick"] = st.quick;
  j["track_p50_ns"] = num(r.track_p50);
  j["track_p99_ns"] = num(r.track_p99);
  j["track_p999_ns"] = num(r.track_p999);
  j["serialize_baseline_ns"] = num(r.serialize_p50);
  j["single_commit_ns"] = num(r.single_commit_ns);
  j["durable_eps"] = num(r.durable_eps);
  j["sqlite_baseline_eps"] = num(r.sqlite_baseline_eps);
  j["wire_bytes_per_event"] = num(r.wire_bpe);
  j["gzip_baseline_bytes_per_event"] = num(r.gzip_bpe);
  j["drain_eps"] = num(r.drain_eps);
  j["drain_baseline_eps"] = num(r.drain_baseline_eps);
  j["drain_full_sync_baseline_eps"] = num(r.drain_full_baseline_eps);
  if (!r.drain_rounds.empty()) {
    std::vector<double> ratios;
    for (const auto& d : r.drain_rounds) ratios.push_back(d.first / d.second);
    std::sort(ratios.begin(), ratios.end());
    j["drain_median_round_ratio"] = ratios[ratios.size() / 2];
  }
  j["drain_cpu_ratio"] = r.drain_profile.sdk_cpu > 0
                             ? nlohmann::json(r.drain_profile.base_cpu / r.drain_profile.sdk_cpu)
                             : nlohmann::json(nullptr);
  j["attempts_collector_down"] = num(r.attempts_down);
  // The configured schedule is full jitter (docs/architecture.md), so its expected count
  // is the baseline; the no-jitter count is the fewest attempts it can make.
  j["attempts_schedule"] = num(r.attempts_jitter_mean);
  j["attempts_schedule_no_jitter"] = num(r.attempts_schedule);
  j["attempts_ratio"] = num(ratio(r.attempts_down, r.attempts_jitter_mean));
  j["rss_added_kb"] = num(r.rss_added_kb);
  j["rss_sqlite_baseline_kb"] = num(r.rss_sqlite_kb);
  j["rss_global_init_kb"] = num(r.rss_global_init_kb);
  j["rss_added_anon_kb"] = num(r.rss_added_anon_kb);
  j["rss_sqlite_baseline_anon_kb"] = num(r.rss_sqlite_anon_kb);
  j["lib_bytes"] = num(r.lib_bytes);
  j["lib_bytes_small"] = num(r.lib_bytes_small);
  j["libcurl_bytes"] = num(r.libcurl_bytes);
  j["track_slow_calls"] = r.s1_slow;
  j["track_slow_calls_blocked"] = r.s1_slow_blocked;
  j["s1_ratio"] = num(r1);
  j["s2_p99_ratio"] = num(r2a);
  j["s2_p999_ratio"] = num(r2b);
  j["s3_ratio"] = num(r3);
  j["s4_ratio"] = num(r4);
  j["s5_ratio"] = num(r5);
  j["s6_ratio"] = num(r6);
  j["s6_jitter_ratio"] = num(r6j);
  j["s7_ratio"] = num(r7);
  j["s8_ratio"] = num(r8);
  j["track_p50_ns_sessions"] = num(r.track_sessions_p50);
  j["sessions_ratio"] = num(rm1);
  j["sessions_median_round_ratio"] = num(m1_median_round);
  if (!r.drain_skipped.empty()) j["drain_skipped"] = r.drain_skipped;
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Settings st;
  const char* tmp = std::getenv("TMPDIR");
  st.dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      st.quick = true;
    } else if (a == "--verbose") {
      g_verbose = true;
    } else if (a == "--only" && i + 1 < argc) {
      st.only = argv[++i];
      if (st.only == "M1") st.only = "S1";  // M1 runs with S1
      if (st.only.size() != 2 || st.only[0] != 'S' || st.only[1] < '1' || st.only[1] > '8') {
        std::fprintf(stderr, "sdk_bench: --only takes S1 .. S8 or M1, not %s\n", st.only.c_str());
        return 2;
      }
    } else if (a == "--rate" && i + 1 < argc) {
      st.s1_rate = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--dir" && i + 1 < argc) {
      st.dir = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--quick] [--dir DIR] [--only S1..S8|M1] [--rate N] [--verbose]\n",
                  argv[0]);
      return 0;
    } else {
      std::fprintf(stderr, "sdk_bench: unknown argument %s (try --help)\n", a.c_str());
      return 2;
    }
  }
  if (st.quick) {
    st.s1_warmup = 5'000;
    st.s1_calls = 100'000;
    st.s1_rounds = 2;
    st.commit_samples = 100;
    st.s3_events = 30'000;
    st.s5_events = 10'000;
    st.s5_rounds = 1;
    st.s6_runs = 3;
  }
  ::signal(SIGPIPE, SIG_IGN);
  RunDir dir(st.dir, "tern-sdk-bench");
  if (!dir.ok()) {
    std::fprintf(stderr, "sdk_bench: cannot create a directory under %s: %s\n", st.dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  Results res;
  auto step = [](const char* what) {
    std::printf("... %s\n", what);
    std::fflush(stdout);
  };
  // S7 first: its children fork from a parent that has not yet used the SDK,
  // so process-wide state (libcurl/OpenSSL init, heap) is charged to the SDK.
  auto want = [&](const char* id) { return st.only.empty() || st.only == id; };
  if (want("S7")) {
    step("S7 RSS with 100k events queued");
    measure_rss(st, dir, res);
  }
  if (want("S8")) {
    step("S8 library sizes");
    measure_lib_size(dir, res);
  }
  if (want("S1") || want("S2")) {
    step("S2 baseline: single-row FULL commits");
    measure_single_commit(st, dir, res);
    step("S1/S2/M1 track() latency with failing uploads, sessions off and on");
    measure_track_latency(st, dir, res);
  }
  if (want("S3")) {
    step("S3 durable events/s");
    measure_durable(st, dir, res);
  }
  if (want("S4")) {
    step("S4 wire bytes per event");
    measure_wire(dir, res);
  }
  if (want("S5")) {
    step("S5 drain through nginx");
    measure_drain(st, dir, res);
  }
  if (want("S6")) {
    step("S6 attempts with the collector down");
    measure_attempts(st, dir, res);
  }
  report(st, res);
  return 0;
}
