// tern-kafka-mock: librdkafka's mock Kafka cluster on loopback, for scripts
// and manual runs against the relay's kafka sink.
//
//   tern-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--seconds S]
//
// Prints "bootstrap=<host:port,...>" on its first line (flushed), then stays
// up until stdin closes, SIGTERM/SIGINT, or --seconds passed.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kafka_mock.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int usage() {
  std::fprintf(
      stderr,
      "usage: tern-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--seconds S]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  double seconds = 0;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(), 0;
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--brokers") {
      brokers = std::atoi(v.c_str());
      if (brokers < 1 || brokers > 16) return std::fprintf(stderr, "--brokers: 1..16\n"), 2;
    } else if (a == "--seconds") {
      seconds = std::atof(v.c_str());
    } else if (a == "--topic") {
      auto colon = v.find(':');
      int parts = colon == std::string::npos ? 4 : std::atoi(v.c_str() + colon + 1);
      if (parts < 1) return std::fprintf(stderr, "--topic: bad partition count\n"), 2;
      topics.emplace_back(v.substr(0, colon), parts);
    } else {
      return usage();
    }
  }
  auto mock = tern::testing::KafkaMock::start(brokers);
  if (!mock) {
    std::fprintf(stderr, "tern-kafka-mock: %s\n", mock.status().to_string().c_str());
    return 1;
  }
  for (const auto& [name, parts] : topics) {
    tern::Status st = (*mock)->create_topic(name, parts, std::min(3, brokers));
    if (!st) {
      std::fprintf(stderr, "tern-kafka-mock: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::printf("bootstrap=%s\n", (*mock)->bootstrap().c_str());
  std::fflush(stdout);

  auto until = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  bool stdin_open = true;
  while (!g_stop) {
    if (seconds > 0 && std::chrono::steady_clock::now() >= until) break;
    if (stdin_open) {
      pollfd p{0, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r > 0) {
        char buf[256];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n == 0) break;  // stdin closed: our parent is gone
        if (n < 0) stdin_open = false;
      } else if (r < 0 && errno != EINTR) {
        stdin_open = false;
      }
    } else {
      ::usleep(100 * 1000);
    }
  }
  return 0;
}
