// tern-fault-driver: the SDK side of the fault suite. Tracks events through a
// real tern::Client (SQLite store, libcurl transport) and appends the id of
// every event that track() accepted to a file, so the harness can reconcile
// the sink's output against it even when this process is killed with -9.
//
//   tern-fault-driver --endpoint URL --write-key KEY --db PATH --ids FILE
//                     [--prefix P] [--count N] [--rate EVENTS_PER_S]
//                     [--immediate] [--timeout-ms MS] [--stats FILE]
//                     [--backoff-base-ms MS] [--backoff-max-ms MS]
//                     [--request-timeout-ms MS] [--batch N]
//                     [--clock-skew-ms MS] [--clock-jump-ms MS --clock-jump-after N]
//                     [--max-page-count PAGES] [--max-attempts N]
//
// Each event is a track("Fault Event") whose properties.fid is
// "<prefix>-<n>": the reconciliation key. An id is written to --ids only
// after track() returned OK, with one write(2) per id (O_APPEND), so a kill
// can lose at most the id of the event being tracked (which then shows up in
// the sink as "unexpected", never as "missing").
//
// After tracking, the driver flushes until the queue is empty or --timeout-ms
// passes, shuts down, and writes the SDK's Stats JSON to --stats (and stdout).
// --count 0 only drains what an earlier (killed) run left in the database.
// Exit status: 0 when the queue drained, 1 otherwise, 2 on bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "sqlite_store.h"
#include "tern/client.h"
#include "tern/clock.h"

namespace {

using namespace std::chrono_literals;

// A device clock that is off by `skew` and jumps by `jump` once `jump_armed`
// is set: wall() moves, monotonic() does not (as on a phone whose user
// changes the time).
class SkewedClock final : public tern::Clock {
 public:
  SkewedClock(std::chrono::milliseconds skew, std::chrono::milliseconds jump)
      : skew_(skew), jump_(jump) {}
  std::chrono::system_clock::time_point wall() override {
    auto offset = skew_ + (jumped_.load(std::memory_order_relaxed) ? jump_ : 0ms);
    return std::chrono::system_clock::now() + offset;
  }
  std::chrono::steady_clock::time_point monotonic() override {
    return std::chrono::steady_clock::now();
  }
  // Only wall time jumps; the timers run on the real steady clock, as in production.
  bool is_real_steady_clock() const override { return true; }
  void jump() { jumped_.store(true, std::memory_order_relaxed); }

 private:
  std::chrono::milliseconds skew_, jump_;
  std::atomic<bool> jumped_{false};
};

bool parse_i64(const char* s, long long& out) {
  char* end = nullptr;
  out = std::strtoll(s, &end, 10);
  return end && *end == '\0' && end != s;
}

void usage() {
  std::fprintf(
      stderr,
      "usage: tern-fault-driver --endpoint URL --write-key KEY --db PATH --ids FILE\n"
      "         [--prefix P] [--count N] [--rate EVENTS_PER_S] [--immediate] [--timeout-ms MS]\n"
      "         [--stats FILE] [--backoff-base-ms MS] [--backoff-max-ms MS] [--request-timeout-ms "
      "MS]\n"
      "         [--batch N] [--clock-skew-ms MS] [--clock-jump-ms MS --clock-jump-after N]\n"
      "         [--max-page-count PAGES] [--max-attempts N]\n");
}

}  // namespace

int main(int argc, char** argv) {
  tern::Config config;
  std::string ids_path, stats_path, prefix = "e";
  long long count = 0, rate = 0, timeout_ms = 20000, backoff_base = 50, backoff_max = 1000;
  long long request_timeout = 2000, batch = 50, skew = 0, jump = 0, jump_after = -1, max_pages = 0;
  long long max_attempts = 100;
  bool immediate = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tern-fault-driver: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&](long long& out) {
      const char* v = value();
      if (!parse_i64(v, out)) {
        std::fprintf(stderr, "tern-fault-driver: %s wants an integer, got '%s'\n", a.c_str(), v);
        std::exit(2);
      }
    };
    if (a == "--endpoint")
      config.endpoint = value();
    else if (a == "--write-key")
      config.write_key = value();
    else if (a == "--db")
      config.storage_path = value();
    else if (a == "--ids")
      ids_path = value();
    else if (a == "--stats")
      stats_path = value();
    else if (a == "--prefix")
      prefix = value();
    else if (a == "--count")
      number(count);
    else if (a == "--rate")
      number(rate);
    else if (a == "--timeout-ms")
      number(timeout_ms);
    else if (a == "--backoff-base-ms")
      number(backoff_base);
    else if (a == "--backoff-max-ms")
      number(backoff_max);
    else if (a == "--request-timeout-ms")
      number(request_timeout);
    else if (a == "--batch")
      number(batch);
    else if (a == "--clock-skew-ms")
      number(skew);
    else if (a == "--clock-jump-ms")
      number(jump);
    else if (a == "--clock-jump-after")
      number(jump_after);
    else if (a == "--max-page-count")
      number(max_pages);
    else if (a == "--max-attempts")
      number(max_attempts);
    else if (a == "--immediate")
      immediate = true;
    else {
      std::fprintf(stderr, "tern-fault-driver: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (config.write_key.empty() || config.storage_path.empty() || ids_path.empty() || count < 0 ||
      batch <= 0) {
    usage();
    return 2;
  }

  config.flush_at = static_cast<std::size_t>(batch);
  config.max_batch_events = static_cast<std::size_t>(batch);
  config.flush_interval = 50ms;
  config.backoff_base = std::chrono::milliseconds(backoff_base);
  config.backoff_max = std::chrono::milliseconds(backoff_max);
  config.max_attempts = static_cast<int>(max_attempts);
  config.http.connect_timeout = std::chrono::milliseconds(std::min(request_timeout, 1000LL));
  config.http.request_timeout = std::chrono::milliseconds(request_timeout);
  config.max_pending_events =
      std::max<std::size_t>(config.max_pending_events, static_cast<std::size_t>(count) + 1);
  config.max_queue_events =
      std::max<std::size_t>(config.max_queue_events, static_cast<std::size_t>(count) + 1);
  if (immediate) config.durability = tern::Durability::kImmediate;
  config.logger = tern::make_stderr_logger(tern::LogLevel::kWarn);
  auto clock = std::make_shared<SkewedClock>(std::chrono::milliseconds(skew),
                                             std::chrono::milliseconds(jump));
  config.clock = clock;
  if (max_pages > 0) {
    // The SQLite store with a page cap: SQLITE_FULL, as on a full disk.
    tern::SqliteStoreOptions so;
    so.path = config.storage_path;
    so.max_page_count = static_cast<int>(max_pages);
    auto store = tern::SqliteStore::open(so);
    if (!store) {
      std::fprintf(stderr, "tern-fault-driver: %s\n", store.status().to_string().c_str());
      return 1;
    }
    config.store = std::shared_ptr<tern::Store>(std::move(store).value());
  }

  int ids_fd = ::open(ids_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ids_fd < 0) {
    std::fprintf(stderr, "tern-fault-driver: %s: %s\n", ids_path.c_str(), std::strerror(errno));
    return 1;
  }
  auto created = tern::Client::create(config);
  if (!created) {
    std::fprintf(stderr, "tern-fault-driver: %s\n", created.status().to_string().c_str());
    ::close(ids_fd);
    return 1;
  }
  auto client = std::move(created).value();

  const auto start = std::chrono::steady_clock::now();
  for (long long i = 0; i < count; ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000LL / rate));
    if (i == jump_after) clock->jump();
    std::string fid = prefix + "-" + std::to_string(i);
    nlohmann::json props = {{"fid", fid}, {"seq", i}, {"price", 9.99}, {"tags", {"a", "b"}}};
    tern::Status s = client->track("Fault Event", props);
    if (s) {
      fid += '\n';
      if (::write(ids_fd, fid.data(), fid.size()) != static_cast<ssize_t>(fid.size())) {
        std::fprintf(stderr, "tern-fault-driver: cannot record an id: %s\n", std::strerror(errno));
      }
    }
  }
  ::close(ids_fd);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  tern::Status flushed;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      flushed = tern::Status(tern::StatusCode::kTimeout, "deadline passed");
      break;
    }
    flushed = client->flush(left);
    if (flushed.code() != tern::StatusCode::kUnavailable) break;
    std::this_thread::sleep_for(10ms);  // the SDK's own backoff decides when to retry
  }
  if (!flushed) std::fprintf(stderr, "tern-fault-driver: flush: %s\n", flushed.to_string().c_str());
  tern::Status down = client->shutdown(2000ms);
  if (!down) std::fprintf(stderr, "tern-fault-driver: shutdown: %s\n", down.to_string().c_str());
  tern::Stats stats = client->stats();
  client.reset();
  std::string json = stats.to_json();
  std::printf("%s\n", json.c_str());
  if (!stats_path.empty()) {
    FILE* f = std::fopen(stats_path.c_str(), "w");
    if (f) {
      std::fprintf(f, "%s\n", json.c_str());
      std::fclose(f);
    }
  }
  return stats.queue_depth == 0 && stats.pending == 0 ? 0 : 1;
}
