// s3_bench — the s3 sink (the data lake) against the file sink, through the
// same path kafka_bench measures: DurablePipeline::submit() → spool →
// SinkRunner → Sink::deliver(), in this process, with the same events and
// the same count.
//
// The store is moto's S3 server (the project's .venv, started here on a free
// loopback port, pinned with taskset to the CPU the bench does not use when
// there are two or more). Its CPU is not counted: CPU per event is this
// process's own user + system time (every pipeline thread: submit, spool
// committer, runner, the sink and its uploader threads, curl) over the timed
// events.
//
// Like is compared with like: the file sink writes gzip NDJSON at the same
// gzip_level as the s3 sink (both compress every byte once, both fdatasync
// what they make durable). A round submits N events in batches of 100 (ack
// mode memory, so the producer never waits) after a warm-up batch, and is
// timed until the sink has everything durable: for the file sink, until the
// runner counted every event delivered; for the s3 sink, until the store
// confirmed the last object and the runner's cursor reached the spool's end
// (the last object is sealed by max_object_age, which the time includes).
//
//   s3_bench [--events N] [--batch N] [--rounds R] [--object-bytes B]
//            [--object-age-ms MS] [--gzip-level L] [--python PATH] [--only s3|file]
//
// (--only runs one sink, for a profiler; its ratio is then meaningless.)
//
// Prints both sinks' figures, the ratio against the target (s3 CPU per
// event ≤ 1.3 × the file sink's), then one JSON line:
//   {"bench":"s3","events":N,"s3_eps":..,"s3_cpu_per_event_ns":..,
//    "file_eps":..,"file_cpu_per_event_ns":..,"ratio_cpu":..,...}

#include <curl/curl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/log.h"

namespace {

using namespace tern;
using namespace tern::relay;
using tern::bench::allowed_cpus;
using tern::bench::pin_self;
using tern::bench::process_cpu_s;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const char kBucket[] = "tern-bench";

// kafka_bench's event, so the figures compare across the two benches, but
// received now (`received_at`): the s3 sink partitions by receivedAt and seals
// an object at once when its hour has ended.
std::string make_event(int n, const std::string& received_at) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"type\":\"track\",\"event\":\"Product "
                "Viewed\",\"messageId\":\"01890000-0000-7000-8000-%012d\","
                "\"userId\":\"user-%d\",\"timestamp\":\"%s\",\"receivedAt\":"
                "\"%s\",\"properties\":{\"sku\":\"SKU-%d\",\"price\":%d.99,"
                "\"currency\":"
                "\"EUR\"},\"context\":{\"library\":{\"name\":\"tern-cpp\",\"version\":\"0.1.0\"}}}",
                n, n % 1000, received_at.c_str(), received_at.c_str(), n % 5000, n % 300);
  return buf;
}

size_t discard(char*, size_t s, size_t n, void*) { return s * n; }

// One request to moto (any key is accepted): its HTTP status, 0 when none.
long moto_request(const std::string& url, const char* method) {
  CURL* c = curl_easy_init();
  if (!c) return 0;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return code;
}

// moto's S3 server as a child process, killed when this goes away.
class Moto {
 public:
  // moto keeps nothing worth a graceful stop (and its server ignores SIGTERM).
  ~Moto() {
    if (pid_ > 0) {
      int st = 0;
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
  }

  // Starts `python -m moto.server` on a free port (under taskset -c `cpu`
  // when cpu >= 0 and taskset exists) and waits until it answers.
  bool start(const std::string& python, int cpu, const std::string& log, std::string* why) {
    int port = tern::bench::free_port();
    if (port <= 0) {
      *why = "no free port";
      return false;
    }
    endpoint_ = "http://127.0.0.1:" + std::to_string(port);
    std::vector<std::string> args;
    std::string taskset = tern::bench::find_program("taskset", {"/usr/bin", "/bin"});
    if (cpu >= 0 && !taskset.empty()) {
      args = {taskset, "-c", std::to_string(cpu)};
      pinned_ = cpu;
    }
    args.push_back(python);
    for (const char* a : {"-m", "moto.server", "-H", "127.0.0.1", "-p"}) args.emplace_back(a);
    args.push_back(std::to_string(port));
    pid_ = ::fork();
    if (pid_ < 0) {
      *why = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the bench, however it ends
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    auto limit = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < limit) {
      if (moto_request(endpoint_ + "/moto-api/data.json", "GET") == 200) return true;
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        *why =
            "moto exited (is moto[server] in " + python + "? scripts/install-deps.sh); see " + log;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *why = "moto did not answer in 30 s; see " + log;
    return false;
  }

  const std::string& endpoint() const { return endpoint_; }
  int pinned() const { return pinned_; }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
  int pinned_ = -1;
};

struct Round {
  double eps = -1;
  double cpu_per_event_ns = -1;
};

// One sink through a fresh pipeline: events/s and CPU ns per event over the
// events after the warm-up; eps < 0 on failure.
Round run_round(SinkConfig sink, int events, int warmup, int per_submit,
                const std::vector<std::string>& texts, bool wait_for_store) {
  Round out;
  tern::bench::RunDir run_dir(fs::temp_directory_path().string(), "tern-s3-bench");
  if (!run_dir.ok()) return out;
  Metrics metrics;
  SinkRegistry registry;
  if (!register_builtin_sinks(registry)) return out;
  RelayConfig c = default_config(run_dir.path(), {"bench-key"});
  c.spool.commit_window = std::chrono::milliseconds(2);
  c.control.relay_id = "bench";
  std::string name = sink.name;
  c.sinks = {std::move(sink)};
  RouteConfig route;
  route.sinks = {name};
  c.routes = {route};
  auto p = make_pipeline(c, metrics, registry);
  if (!p) {
    std::fprintf(stderr, "s3_bench: %s\n", p.status().to_string().c_str());
    return out;
  }
  const std::string label = "sink=\"" + name + "\"";
  Counter& delivered = metrics.counter("tern_relay_sink_delivered_events_total", label);
  Counter& dead = metrics.counter("tern_relay_sink_dead_lettered_events_total", label);
  Gauge& lag = metrics.gauge("tern_relay_sink_lag_events", label);
  auto submit_range = [&](int from, int to) {
    std::vector<std::future<Status>> acks;
    for (int i = from; i < to; i += per_submit) {
      Submission s;
      s.events = SpoolBatch("default");
      s.ack_mode = AckMode::kMemory;
      for (int j = i; j < std::min(to, i + per_submit); ++j)
        s.events.add("track", texts[static_cast<std::size_t>(j)]);
      auto done = std::make_shared<std::promise<Status>>();
      acks.push_back(done->get_future());
      (*p)->submit(std::move(s), [done](Status st) { done->set_value(std::move(st)); });
    }
    for (auto& a : acks) {
      Status st = a.get();
      if (!st) {
        std::fprintf(stderr, "s3_bench: submit: %s\n", st.to_string().c_str());
        return false;
      }
    }
    return true;
  };
  // Everything durable in the sink: delivered (taken) and, for a sink that
  // acknowledges itself, the cursor at the spool's end (objects confirmed).
  // The lag gauge is updated by the runner when it moves the cursor and
  // while idle: after the last delivery it first shows what the sink still
  // holds, then 0 once the store has confirmed it all. (A stale 0 from before
  // is not taken for the end: it must have been seen above 0 after the last
  // delivery, or have stayed 0 for 5 s.)
  auto wait_for = [&](uint64_t n) {
    auto limit = Clock::now() + std::chrono::seconds(600);
    bool held_seen = false;
    auto delivered_at = Clock::time_point::max();
    while (Clock::now() < limit) {
      if (delivered.value() + dead.value() >= n) {
        if (!wait_for_store) return true;
        if (delivered_at == Clock::time_point::max()) delivered_at = Clock::now();
        if (lag.value() > 0) held_seen = true;
        if (lag.value() == 0 &&
            (held_seen || Clock::now() - delivered_at >= std::chrono::seconds(5)))
          return true;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  };
  if (!submit_range(0, warmup) || !wait_for(static_cast<uint64_t>(warmup))) return out;
  const double cpu0 = process_cpu_s();
  const auto t0 = Clock::now();
  if (!submit_range(warmup, events)) return out;
  // This thread's polling is the bench's, not the relay's: not counted.
  const double poll0 = tern::bench::thread_cpu_s();
  bool complete = wait_for(static_cast<uint64_t>(events));
  const double polling = tern::bench::thread_cpu_s() - poll0;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = process_cpu_s() - cpu0 - polling;
  if (complete && delivered.value() == static_cast<uint64_t>(events)) {
    out.eps = (events - warmup) / secs;
    out.cpu_per_event_ns = cpu * 1e9 / (events - warmup);
  } else {
    std::fprintf(stderr, "s3_bench: %s delivered %llu of %d (dead-lettered %llu, lag %lld)\n",
                 name.c_str(), static_cast<unsigned long long>(delivered.value()), events,
                 static_cast<unsigned long long>(dead.value()),
                 static_cast<long long>(lag.value()));
  }
  if (std::getenv("S3_BENCH_VERBOSE")) {
    Counter& objects =
        metrics.counter("tern_relay_s3_objects_uploaded_total", "sink=\"" + name + "\"");
    Counter& bytes = metrics.counter("tern_relay_s3_bytes_uploaded_total", "sink=\"" + name + "\"");
    std::printf("  %s: %.2f s, %.2f CPU s, %llu objects, %llu bytes uploaded\n", name.c_str(), secs,
                cpu, static_cast<unsigned long long>(objects.value()),
                static_cast<unsigned long long>(bytes.value()));
  }
  (void)(*p)->stop(Clock::now() + std::chrono::seconds(30));
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: s3_bench [--events N] [--batch N] [--rounds R] [--object-bytes B]\n"
               "                [--object-age-ms MS] [--gzip-level L] [--python PATH]\n"
               "                [--only s3|file]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int events = 1000000;
  int batch = 1000;
  int rounds = 3;
  long long object_bytes = 8ll << 20;
  int object_age_ms = 1000;
  int gzip_level = 6;
  std::string python = TERN_BENCH_PYTHON;
  std::string only;  // "s3" or "file": run that sink alone (for profiling); no ratio
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (a == "--python") {
      python = value;
      continue;
    }
    if (a == "--only" && (value == "s3" || value == "file")) {
      only = value;
      continue;
    }
    long long v = std::atoll(value.c_str());
    if (v <= 0) return usage();
    if (a == "--events") {
      events = static_cast<int>(v);
    } else if (a == "--batch") {
      batch = static_cast<int>(v);
    } else if (a == "--rounds") {
      rounds = static_cast<int>(v);
    } else if (a == "--object-bytes") {
      object_bytes = v;
    } else if (a == "--object-age-ms") {
      object_age_ms = static_cast<int>(v);
    } else if (a == "--gzip-level" && v <= 9) {
      gzip_level = static_cast<int>(v);
    } else {
      return usage();
    }
  }
  log::set_level(log::Level::kError);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  // The bench on one CPU, moto on another when there are two.
  std::vector<int> cpus = allowed_cpus();
  int bench_cpu = -1, moto_cpu = -1;
  if (cpus.size() >= 2) {
    bench_cpu = cpus[0];
    moto_cpu = cpus[1];
    if (!pin_self(bench_cpu)) bench_cpu = -1;
  }
  tern::bench::RunDir moto_dir(fs::temp_directory_path().string(), "tern-s3-bench-moto");
  Moto moto;
  std::string why;
  if (!moto_dir.ok() || !moto.start(python, moto_cpu, moto_dir.file("moto.log"), &why)) {
    std::fprintf(stderr, "s3_bench: cannot start moto: %s\n", why.c_str());
    return 1;
  }
  if (moto_request(moto.endpoint() + "/" + kBucket, "PUT") != 200) {
    std::fprintf(stderr, "s3_bench: cannot create the bucket at %s\n", moto.endpoint().c_str());
    return 1;
  }

  char received_at[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(received_at, sizeof received_at, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
  std::vector<std::string> texts;
  texts.reserve(static_cast<std::size_t>(events));
  for (int i = 0; i < events; ++i) texts.push_back(make_event(i, received_at));

  const std::string level = std::to_string(gzip_level);
  auto sink = [&](const char* type) {
    SinkConfig s;
    s.name = std::string("bench-") + type;
    s.type = type;
    s.batch_max_events = static_cast<std::size_t>(batch);
    s.batch_max_bytes = 1 << 20;
    s.batch_linger = std::chrono::milliseconds(5);
    if (std::string(type) == "file") {
      s.settings = {{"gzip", "true"}, {"gzip_level", level}};
    } else {
      s.settings = {{"bucket", kBucket},
                    {"endpoint", moto.endpoint()},
                    {"path_style", "true"},
                    {"region", "us-east-1"},
                    {"access_key_id", "bench"},
                    {"secret_access_key", "bench-secret"},
                    {"gzip_level", level},
                    {"max_object_bytes", std::to_string(object_bytes)},
                    {"max_object_age", std::to_string(object_age_ms) + "ms"}};
    }
    return s;
  };

  // Best of R rounds each (least CPU per event, most events/s), alternating,
  // so both see the same machine state.
  Round best_s3{0, 0}, best_file{0, 0};
  auto keep_best = [](Round& best, const Round& r) {
    best.eps = std::max(best.eps, r.eps);
    if (best.cpu_per_event_ns <= 0 || r.cpu_per_event_ns < best.cpu_per_event_ns)
      best.cpu_per_event_ns = r.cpu_per_event_ns;
  };
  const int warmup = std::min(batch, events / 2);
  for (int r = 0; r < rounds; ++r) {
    Round f = only != "s3" ? run_round(sink("file"), events, warmup, 100, texts, false) : Round{};
    Round s = only != "file" ? run_round(sink("s3"), events, warmup, 100, texts, true) : Round{};
    if ((only != "s3" && f.eps < 0) || (only != "file" && s.eps < 0)) return 1;
    std::printf(
        "round %d: s3 %.0f events/s %.0f CPU ns/event, file %.0f events/s %.0f CPU ns/event\n",
        r + 1, s.eps, s.cpu_per_event_ns, f.eps, f.cpu_per_event_ns);
    keep_best(best_s3, s);
    keep_best(best_file, f);
  }
  const double ratio_cpu =
      best_file.cpu_per_event_ns > 0 ? best_s3.cpu_per_event_ns / best_file.cpu_per_event_ns : 0;
  const double ratio_eps = best_file.eps > 0 ? best_s3.eps / best_file.eps : 0;
  std::printf("s3 sink (moto%s), gzip level %d, objects of %lld bytes or %d ms:\n",
              moto.pinned() >= 0 ? (" on CPU " + std::to_string(moto.pinned())).c_str() : "",
              gzip_level, object_bytes, object_age_ms);
  std::printf("   %.0f events/s, %.0f ns of relay CPU per event\n", best_s3.eps,
              best_s3.cpu_per_event_ns);
  std::printf("file sink, gzip = true at the same level, same pipeline path (same run):\n");
  std::printf("   %.0f events/s, %.0f ns of relay CPU per event\n", best_file.eps,
              best_file.cpu_per_event_ns);
  std::printf("   CPU per event ratio %.2f (target <= 1.3), events/s ratio %.2f\n", ratio_cpu,
              ratio_eps);
  std::printf(
      "{\"bench\":\"s3\",\"events\":%d,\"batch\":%d,\"gzip_level\":%d,\"max_object_bytes\":%lld,"
      "\"max_object_age_ms\":%d,\"s3_eps\":%.0f,\"s3_cpu_per_event_ns\":%.0f,\"file_eps\":%.0f,"
      "\"file_cpu_per_event_ns\":%.0f,\"ratio_cpu\":%.3f,\"ratio_eps\":%.3f}\n",
      events, batch, gzip_level, object_bytes, object_age_ms, best_s3.eps, best_s3.cpu_per_event_ns,
      best_file.eps, best_file.cpu_per_event_ns, ratio_cpu, ratio_eps);
  return 0;
}
