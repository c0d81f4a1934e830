// kafka_bench — R4 of docs/architecture.md's performance table: the Kafka sink's events/s
// against librdkafka's mock cluster (3 brokers on loopback, the real Kafka
// protocol), and the file sink's events/s in the same run, through the same
// path: DurablePipeline::submit() → spool → SinkRunner → Sink::deliver().
//
// Each round builds a fresh pipeline in a temp dir with one sink (same
// batching: batch_max_events, 1 MiB, 5 ms linger), submits N events as
// batches of 100 (ack mode memory, so the producer side never waits) and
// times until the runner's delivered counter reaches N. The first batch is a
// warm-up (connections, metadata, first file) and is not timed. Both sinks
// deliver in two phases (Sink::defers_durability): the file sink writes each
// batch and fdatasyncs once per group of batches, the Kafka sink produces each
// batch and waits once per group for every delivery report (acks=all,
// idempotent, lz4); the cursor moves only after that.
//
//   kafka_bench [--events N] [--batch N] [--rounds R]
//
// Prints both figures and the ratio (target ≥ 0.8), then one JSON line:
//   {"bench":"kafka","events":N,"kafka_eps":..,"file_eps":..,"ratio":..}
//
// relay_bench can reuse run_round() (one sink config → events/s through the
// pipeline) or run this program and read its last line.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "kafka_mock.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/log.h"

namespace {

using namespace tern;
using namespace tern::relay;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::string make_event(int n) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"type\":\"track\",\"event\":\"Product "
                "Viewed\",\"messageId\":\"01890000-0000-7000-8000-%012d\","
                "\"userId\":\"user-%d\",\"timestamp\":\"2026-11-26T05:00:00.000Z\",\"receivedAt\":"
                "\"2026-11-26T05:00:00.120Z\",\"properties\":{\"sku\":\"SKU-%d\",\"price\":%d.99,"
                "\"currency\":"
                "\"EUR\"},\"context\":{\"library\":{\"name\":\"tern-cpp\",\"version\":\"0.1.0\"}}}",
                n, n % 1000, n % 5000, n % 300);
  return buf;
}

// Events/s of one sink through a fresh pipeline; < 0 on failure.
// The first `warmup` events (connections, metadata, first file) are not
// timed; `after_warmup` runs between the two phases.
double run_round(SinkConfig sink, int events, int warmup, int per_submit,
                 const std::vector<std::string>& texts, const std::function<void()>& after_warmup) {
  tern::bench::RunDir run_dir(fs::temp_directory_path().string(), "tern-kafka-bench");
  if (!run_dir.ok()) return -1;
  const std::string& dir = run_dir.path();
  double eps = -1;
  {
    Metrics metrics;
    SinkRegistry registry;
    if (!register_builtin_sinks(registry)) return -1;
    RelayConfig c = default_config(dir, {"bench-key"});
    c.spool.commit_window = std::chrono::milliseconds(2);
    std::string name = sink.name;
    c.sinks = {std::move(sink)};
    RouteConfig route;
    route.sinks = {name};
    c.routes = {route};
    auto p = make_pipeline(c, metrics, registry);
    if (!p) {
      std::fprintf(stderr, "kafka_bench: %s\n", p.status().to_string().c_str());
      return -1;
    }
    Counter& delivered =
        metrics.counter("tern_relay_sink_delivered_events_total", "sink=\"" + name + "\"");
    Counter& dead =
        metrics.counter("tern_relay_sink_dead_lettered_events_total", "sink=\"" + name + "\"");
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
          std::fprintf(stderr, "kafka_bench: submit: %s\n", st.to_string().c_str());
          return false;
        }
      }
      return true;
    };
    auto wait_for = [&](uint64_t n) {
      auto limit = Clock::now() + std::chrono::seconds(300);
      while (delivered.value() + dead.value() < n && Clock::now() < limit) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    };
    if (!submit_range(0, warmup)) return -1;
    wait_for(static_cast<uint64_t>(warmup));
    if (after_warmup) after_warmup();
    auto t0 = Clock::now();
    if (!submit_range(warmup, events)) return -1;
    wait_for(static_cast<uint64_t>(events));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (delivered.value() == static_cast<uint64_t>(events)) {
      eps = (events - warmup) / secs;
    } else {
      std::fprintf(stderr, "kafka_bench: %s delivered %llu of %d (dead-lettered %llu)\n",
                   name.c_str(), static_cast<unsigned long long>(delivered.value()), events,
                   static_cast<unsigned long long>(dead.value()));
    }
    if (std::getenv("KAFKA_BENCH_VERBOSE")) {
      Histogram& h = metrics.histogram("tern_relay_sink_delivery_seconds", "sink=\"" + name + "\"");
      Counter& b = metrics.counter("tern_relay_sink_batches_total", "sink=\"" + name + "\"");
      std::printf("  %s: %llu batches, mean deliver() %.2f ms, %.2f s total in deliver()\n",
                  name.c_str(), static_cast<unsigned long long>(b.value()),
                  h.count() ? 1000 * h.sum() / h.count() : 0.0, h.sum());
    }
    (void)(*p)->stop(Clock::now() + std::chrono::seconds(10));
  }
  return eps;
}

int usage() {
  std::fprintf(stderr, "usage: kafka_bench [--events N] [--batch N] [--rounds R]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int events = 1000000;  // ~1 s per round: long enough to hide the ramp
  int batch = 1000;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    int v = std::atoi(argv[++i]);
    if (v <= 0) return usage();
    if (a == "--events") {
      events = v;
    } else if (a == "--batch") {
      batch = v;
    } else if (a == "--rounds") {
      rounds = v;
    } else {
      return usage();
    }
  }
  log::set_level(log::Level::kError);
  auto mock = tern::testing::KafkaMock::start(3);
  if (!mock) {
    std::fprintf(stderr, "kafka_bench: %s\n", mock.status().to_string().c_str());
    return 1;
  }
  if (!(*mock)->create_topic("bench", 6, 3)) return 1;
  std::vector<std::string> texts;
  texts.reserve(static_cast<std::size_t>(events));
  for (int i = 0; i < events; ++i) texts.push_back(make_event(i));

  auto sink = [&](const char* type) {
    SinkConfig s;
    s.name = std::string("bench-") + type;
    s.type = type;
    s.batch_max_events = static_cast<std::size_t>(batch);
    s.batch_max_bytes = 1 << 20;
    s.batch_linger = std::chrono::milliseconds(5);
    if (std::string(type) == "kafka") {
      s.settings = {{"brokers", (*mock)->bootstrap()}, {"topic", "bench"}, {"linger", "2ms"}};
    }
    return s;
  };
  // Best of R rounds each, alternating, so both see the same machine state.
  double best_kafka = 0, best_file = 0;
  for (int r = 0; r < rounds; ++r) {
    const int warmup = std::min(batch, events / 2);
    double f = run_round(sink("file"), events, warmup, 100, texts, nullptr);
    // librdkafka's mock broker leaves Nagle on (real brokers set
    // TCP_NODELAY), which stalls a second response in flight on one
    // connection by the client's delayed ACK (~40 ms): set it as a broker would.
    double k = run_round(sink("kafka"), events, warmup, 100, texts,
                         [&] { (void)(*mock)->set_nodelay_on_broker_connections(); });
    if (f < 0 || k < 0) return 1;
    std::printf("round %d: kafka %.0f events/s, file %.0f events/s\n", r + 1, k, f);
    best_kafka = std::max(best_kafka, k);
    best_file = std::max(best_file, f);
  }
  double ratio = best_file > 0 ? best_kafka / best_file : 0;
  std::printf("R4 kafka sink (mock cluster, 3 brokers): %.0f events/s\n", best_kafka);
  std::printf("   file sink, same pipeline path:        %.0f events/s\n", best_file);
  std::printf("   ratio %.2f (target >= 0.8)\n", ratio);
  std::printf(
      "{\"bench\":\"kafka\",\"events\":%d,\"batch\":%d,\"kafka_eps\":%.0f,\"file_eps\":%.0f,"
      "\"ratio\":%.3f}\n",
      events, batch, best_kafka, best_file, ratio);
  return 0;
}
