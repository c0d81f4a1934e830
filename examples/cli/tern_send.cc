// tern-send: tracks N events through the Tern SDK, flushes, and prints the
// SDK's stats as one JSON line. Exit status 0 only when every event was sent.
//
//   tern-send --endpoint URL --write-key KEY --db PATH --count N
//             [--timeout-ms MS] [--rate EVENTS_PER_S] [--no-gzip] [--insecure]
//             [--immediate] [--batch N] [--verbose]
//
// The events cycle through every type (track, identify, screen, page, group,
// alias) with varied properties. --rate 0 (the default) tracks at full speed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tern/client.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tern-send --endpoint URL --write-key KEY --db PATH --count N\n"
               "                 [--timeout-ms MS] [--rate EVENTS_PER_S] [--no-gzip] [--insecure]\n"
               "                 [--immediate] [--batch N] [--verbose]\n");
}

bool parse_u64(const char* s, unsigned long long& out) {
  char* end = nullptr;
  out = std::strtoull(s, &end, 10);
  return end && *end == '\0' && *s != '-';
}

}  // namespace

int main(int argc, char** argv) {
  tern::Config config;
  unsigned long long count = 0, timeout_ms = 30000, rate = 0, batch = 0;
  bool verbose = false, have_endpoint = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tern-send: %s needs a value\n", a.c_str());
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&](unsigned long long& out) {
      const char* v = value();
      if (!parse_u64(v, out)) {
        std::fprintf(stderr, "tern-send: %s wants a non-negative integer, got '%s'\n", a.c_str(),
                     v);
        std::exit(2);
      }
    };
    if (a == "--endpoint") {
      config.endpoint = value();
      have_endpoint = true;
    } else if (a == "--write-key") {
      config.write_key = value();
    } else if (a == "--db") {
      config.storage_path = value();
    } else if (a == "--count") {
      number(count);
    } else if (a == "--timeout-ms") {
      number(timeout_ms);
    } else if (a == "--rate") {
      number(rate);
    } else if (a == "--batch") {
      number(batch);
    } else if (a == "--no-gzip") {
      config.gzip = false;
    } else if (a == "--insecure") {
      config.http.verify_tls = false;
    } else if (a == "--immediate") {
      config.durability = tern::Durability::kImmediate;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "tern-send: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (!have_endpoint || config.write_key.empty() || config.storage_path.empty()) {
    std::fprintf(stderr, "tern-send: --endpoint, --write-key and --db are required\n");
    usage();
    return 2;
  }
  if (batch > 0) {
    config.flush_at = batch;
    config.max_batch_events = batch;
  }
  config.max_pending_events = std::max<std::size_t>(config.max_pending_events, count + 1);
  config.max_queue_events = std::max<std::size_t>(config.max_queue_events, count + 1);
  config.logger =
      tern::make_stderr_logger(verbose ? tern::LogLevel::kDebug : tern::LogLevel::kWarn);
  config.http.connect_timeout =
      std::chrono::milliseconds(std::min<unsigned long long>(timeout_ms, 10000));
  config.http.request_timeout =
      std::chrono::milliseconds(std::min<unsigned long long>(timeout_ms, 30000));

  auto created = tern::Client::create(config);
  if (!created) {
    std::fprintf(stderr, "tern-send: %s\n", created.status().to_string().c_str());
    return 1;
  }
  auto client = std::move(created).value();

  const auto start = std::chrono::steady_clock::now();
  uint64_t rejected = 0;
  for (unsigned long long i = 0; i < count; ++i) {
    if (rate > 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000ull / rate));
    }
    nlohmann::json props = {{"seq", i},
                            {"price", 9.99 + static_cast<double>(i % 7)},
                            {"currency", "EUR"},
                            {"tags", {"a", "b"}},
                            {"ok", i % 2 == 0}};
    tern::Status s;
    switch (i % 12) {
      case 6:
        s = client->identify("user-" + std::to_string(i / 12), {{"plan", "pro"}, {"seq", i}});
        break;
      case 7:
        s = client->screen("Checkout", props);
        break;
      case 8:
        s = client->page("Pricing", props);
        break;
      case 9:
        s = client->group("org-" + std::to_string(i % 5), {{"name", "Acme"}, {"seq", i}});
        break;
      case 11:
        s = client->alias("member-" + std::to_string(i / 12));
        break;
      default:
        s = client->track("Item Purchased", props);
        break;
    }
    if (!s) {
      ++rejected;
      if (verbose) std::fprintf(stderr, "tern-send: event %llu: %s\n", i, s.to_string().c_str());
    }
  }

  // Flush until everything is sent or the deadline passes: a failed attempt
  // is retried by the SDK's own backoff, so flushing again simply waits for it.
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
    if (verbose)
      std::fprintf(stderr, "tern-send: flush: %s; waiting for the retry\n",
                   flushed.to_string().c_str());
  }
  if (!flushed) std::fprintf(stderr, "tern-send: flush: %s\n", flushed.to_string().c_str());
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  tern::Status down = client->shutdown(std::max(left, std::chrono::milliseconds(100)));
  if (!down) std::fprintf(stderr, "tern-send: shutdown: %s\n", down.to_string().c_str());

  tern::Stats stats = client->stats();
  std::printf("%s\n", stats.to_json().c_str());
  std::fflush(stdout);
  bool all_sent = rejected == 0 && stats.enqueued == count && stats.dropped == 0 &&
                  stats.queue_depth == 0 && stats.pending == 0 && stats.sent >= count;
  return all_sent ? 0 : 1;
}
