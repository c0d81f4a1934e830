// SinkHarness: a real relay pipeline (spool, router, sink runner, dead-letter
// file) around one sink under test, in a temp dir. Shared by the kafka, http
// and postgres sink tests.
#pragma once

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temp_dir.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/durable_pipeline.h"
#include "wait_until.h"

namespace tern::relay::testing {

// One Segment-style event: user u<n % users>, type track, event name `name`.
inline std::string test_event(int n, int users = 10, const std::string& name = "Clicked",
                              const std::string& type = "track") {
  return "{\"type\":\"" + type + "\",\"event\":\"" + name + "\",\"messageId\":\"m-" +
         std::to_string(n) + "\",\"userId\":\"u" + std::to_string(n % users) +
         "\",\"timestamp\":\"2026-11-26T05:00:00.000Z\"," +
         "\"receivedAt\":\"2026-11-26T05:00:01.000Z\",\"properties\":{\"n\":" + std::to_string(n) +
         "}}";
}

class SinkHarness {
 public:
  explicit SinkHarness(SinkConfig sink) {
    (void)register_builtin_sinks(registry_);
    config_ = default_config(dir_.path(), {"key"});
    config_.spool.commit_window = std::chrono::milliseconds(1);
    if (sink.batch_linger == std::chrono::milliseconds(50))
      sink.batch_linger = std::chrono::milliseconds(2);
    sink.backoff_base = std::chrono::milliseconds(20);
    sink.backoff_max = std::chrono::milliseconds(200);
    name_ = sink.name;
    config_.sinks = {std::move(sink)};
    RouteConfig route;
    route.sinks = {name_};
    config_.routes = {route};
  }
  ~SinkHarness() { (void)stop(std::chrono::seconds(5)); }

  RelayConfig& config() { return config_; }
  const std::string& dir() const { return dir_.path(); }

  Status start() {
    auto p = make_pipeline(config_, metrics_, registry_);
    if (!p) return p.status();
    pipeline_ = std::move(*p);
    return Status::ok();
  }

  Status stop(std::chrono::milliseconds within) {
    if (!pipeline_) return Status::ok();
    Status st = pipeline_->stop(std::chrono::steady_clock::now() + within);
    pipeline_.reset();
    return st;
  }

  // Appends `events` durably to the spool (ack mode local).
  Status submit(std::vector<std::string> events, const std::string& source = "default") {
    Submission s;
    s.events = SpoolBatch(source);
    for (const auto& e : events) {
      // Each event's type routes it, as the server's validation would give it.
      auto doc = nlohmann::json::parse(e, nullptr, /*allow_exceptions=*/false);
      std::string type = doc.is_object() && doc.contains("type") && doc["type"].is_string()
                             ? doc["type"].get<std::string>()
                             : std::string();
      s.events.add(type, e);
    }
    std::promise<Status> done;
    auto f = done.get_future();
    pipeline_->submit(std::move(s), [&](Status st) { done.set_value(std::move(st)); });
    return f.get();
  }

  bool ready(std::string* why) const { return pipeline_ && pipeline_->ready(why); }

  uint64_t counter(const char* family) { return metrics_.counter(family, label()).value(); }
  uint64_t delivered() { return counter("tern_relay_sink_delivered_events_total"); }
  uint64_t dead_lettered() { return counter("tern_relay_sink_dead_lettered_events_total"); }
  uint64_t failures() { return counter("tern_relay_sink_failures_total"); }
  // delivered + dead-lettered reaches n within `timeout`.
  bool wait_handled(uint64_t n, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return tern::testing::wait_until([&] { return delivered() + dead_lettered() >= n; }, timeout);
  }

  std::vector<std::string> dead_letters() const {
    std::vector<std::string> v;
    std::ifstream in(dir_.path() + "/dead-letter/" + name_ + ".ndjson");
    std::string line;
    while (std::getline(in, line)) v.push_back(line);
    return v;
  }

  Metrics& metrics() { return metrics_; }

 private:
  std::string label() const { return "sink=\"" + name_ + "\""; }

  tern::testing::TempDir dir_;
  Metrics metrics_;
  SinkRegistry registry_;
  RelayConfig config_;
  std::string name_;
  std::unique_ptr<DurablePipeline> pipeline_;
};

}  // namespace tern::relay::testing
