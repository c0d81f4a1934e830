// tern-test-collector: runs TestCollector as a program for the JNI and Swift
// tests and scripts/run.sh.
//
//   tern-test-collector [--port N] [--max-seconds S] [--write-key KEY]
//                       [--fail-first N] [--retry-after SECONDS] [--fail-status CODE]
//                       [--poison EVENT] [--poison-mode 400|rejected] [--events-out FILE]
//
// Prints "listening on 127.0.0.1:PORT" as its first stdout line; on SIGTERM,
// SIGINT or after --max-seconds, prints one JSON summary line (requests,
// events, distinct_message_ids, duplicates, ...) and exits 0.
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "test_collector.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tern-test-collector [--port N] [--max-seconds S] [--write-key KEY]\n"
               "       [--fail-first N] [--retry-after SECONDS] [--fail-status CODE]\n"
               "       [--poison EVENT] [--poison-mode 400|rejected] [--events-out FILE]\n");
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  double max_seconds = 0;
  int fail_first = 0;
  int fail_status = 503;
  std::string retry_after = "1";
  std::string write_key, poison, events_out;
  tern::testing::PoisonMode poison_mode = tern::testing::PoisonMode::kBadRequest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port")
      port = std::atoi(next().c_str());
    else if (a == "--max-seconds")
      max_seconds = std::atof(next().c_str());
    else if (a == "--write-key")
      write_key = next();
    else if (a == "--fail-first")
      fail_first = std::atoi(next().c_str());
    else if (a == "--fail-status")
      fail_status = std::atoi(next().c_str());
    else if (a == "--retry-after")
      retry_after = next();
    else if (a == "--poison")
      poison = next();
    else if (a == "--poison-mode") {
      std::string m = next();
      poison_mode = m == "rejected" ? tern::testing::PoisonMode::kRejectList
                                    : tern::testing::PoisonMode::kBadRequest;
    } else if (a == "--events-out")
      events_out = next();
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "tern-test-collector: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "tern-test-collector: bad --port\n");
    return 2;
  }

  // Handle SIGTERM/SIGINT synchronously (block them before threads start).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto started = tern::testing::TestCollector::start(static_cast<uint16_t>(port));
  if (!started) {
    std::fprintf(stderr, "tern-test-collector: %s\n", started.status().to_string().c_str());
    return 1;
  }
  auto& collector = *started.value();
  if (!write_key.empty()) collector.require_write_key(write_key);
  if (!poison.empty()) collector.set_poison(poison, poison_mode);
  if (fail_first > 0) {
    tern::testing::ScriptedReply r;
    r.status = fail_status;
    r.body = R"({"error":"scripted failure"})";
    if (!retry_after.empty()) r.headers.push_back({"Retry-After", retry_after});
    collector.script(r, fail_first);
  }
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(collector.port()));
  std::fflush(stdout);

  struct timespec start {};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec wait = {0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (max_seconds > 0) {
      struct timespec now {};
      clock_gettime(CLOCK_MONOTONIC, &now);
      double elapsed =
          static_cast<double>(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
      if (elapsed >= max_seconds) break;
    }
  }
  collector.stop();
  if (!events_out.empty()) {
    std::ofstream out(events_out);
    for (const auto& e : collector.events()) out << e.dump() << '\n';
  }
  std::printf("%s\n", collector.summary_json().c_str());
  std::fflush(stdout);
  return 0;
}
