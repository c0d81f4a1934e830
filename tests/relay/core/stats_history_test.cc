// StatsHistory driven by sample_now() between counter increments, with a
// ManualClock for the seconds and a fake pipeline for the sinks and spool.
#include "tern/relay/stats_history.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <future>
#include <map>

#include "fake_durable_pipeline.h"
#include "manual_clock.h"
#include "scripted_sink.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeDurablePipeline;
using testing::ManualClock;

using Seconds = std::vector<uint64_t>;

class StatsHistoryTest : public ::testing::Test {
 protected:
  StatsHistoryTest() { make(900s); }

  void make(std::chrono::seconds window) {
    history = std::make_unique<StatsHistory>(metrics, pipeline, window, clock);
  }

  Counter& accepted(const std::string& source) {
    return metrics.counter("tern_relay_events_accepted_total", "source=\"" + source + "\"");
  }
  Counter& rejected(const std::string& source, const std::string& reason) {
    return metrics.counter("tern_relay_source_events_rejected_total",
                           "source=\"" + source + "\",reason=\"" + reason + "\"");
  }
  Counter& delivered(const std::string& sink) {
    return metrics.counter("tern_relay_sink_delivered_events_total", sink_label(sink));
  }
  Counter& dead_lettered(const std::string& sink) {
    return metrics.counter("tern_relay_sink_dead_lettered_events_total", sink_label(sink));
  }

  // One second passes, then the history samples.
  void second() {
    clock.advance(1s);
    history->sample_now();
  }

  json overview() {
    json j = json::parse(history->overview_json(), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << history->overview_json();
    return j;
  }

  static const json* find(const json& list, const char* key, const std::string& value) {
    for (const auto& item : list) {
      if (item.value(key, "") == value) return &item;
    }
    return nullptr;
  }

  static DurablePipeline::SinkState sink(std::string name, uint64_t cursor, uint64_t last_seq) {
    DurablePipeline::SinkState s;
    s.name = std::move(name);
    s.type = "file";
    s.up = true;
    s.cursor = cursor;
    s.lag_events = last_seq > cursor ? last_seq - cursor : 0;
    return s;
  }

  Metrics metrics;
  FakeDurablePipeline pipeline;
  ManualClock clock{std::chrono::system_clock::time_point(1796569445s)};  // 2026-12-06T15:04:05Z
  std::unique_ptr<StatsHistory> history;
};

TEST_F(StatsHistoryTest, EachSecondRecordsTheEventsAcceptedAndRejectedPerSource) {
  accepted("web").inc(3);
  rejected("web", "invalid_event").inc(1);
  second();
  accepted("web").inc(2);
  second();
  rejected("web", "too_large").inc(4);
  rejected("web", "invalid_event").inc(1);
  second();

  json o = overview();
  ASSERT_EQ(o["sources"].size(), 1u) << o.dump();
  const json& web = o["sources"][0];
  EXPECT_EQ(web["id"], "web");
  EXPECT_EQ(web["accepted_per_second"].get<Seconds>(), (Seconds{3, 2, 0}));
  EXPECT_EQ(web["rejected_per_second"].get<Seconds>(), (Seconds{1, 0, 5}));
  EXPECT_EQ(web["accepted_total"], 5);
  EXPECT_EQ(web["rejected_total"], 6);
  EXPECT_EQ(web["rejected_by_reason"], json({{"invalid_event", 2}, {"too_large", 4}}));
  EXPECT_EQ(o["interval_seconds"], 1);
  EXPECT_EQ(o["window_seconds"], 900);
}

TEST_F(StatsHistoryTest, EventsCountedBeforeTheHistoryBeganAreInTotalsButNotInItsSeconds) {
  accepted("web").inc(100);
  make(900s);
  accepted("web").inc(1);
  second();
  const json web = overview()["sources"][0];
  EXPECT_EQ(web["accepted_per_second"].get<Seconds>(), (Seconds{1}));
  EXPECT_EQ(web["accepted_total"], 101);
}

TEST_F(StatsHistoryTest, ConfiguredSourcesShowWithZerosAndRejectionsOfNoKnownSourceUnderEmptyId) {
  pipeline.edit([](auto& s) { s.sources = {"ios", "web"}; });
  rejected("", "unauthorized").inc(2);
  second();
  json o = overview();
  ASSERT_EQ(o["sources"].size(), 3u) << o.dump();
  const json* unknown = find(o["sources"], "id", "");
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ((*unknown)["rejected_per_second"].get<Seconds>(), (Seconds{2}));
  EXPECT_EQ((*unknown)["configured"], false);
  const json* ios = find(o["sources"], "id", "ios");
  ASSERT_NE(ios, nullptr);
  EXPECT_EQ((*ios)["accepted_per_second"].get<Seconds>(), (Seconds{0}));
  EXPECT_EQ((*ios)["accepted_total"], 0);
  EXPECT_EQ((*ios)["rejected_by_reason"], json::object());
  EXPECT_EQ((*ios)["configured"], true);
}

TEST_F(StatsHistoryTest, SinksShowDeliveredPerSecondTheirStateAndLag) {
  pipeline.edit([](auto& s) {
    s.last_seq = 10;
    s.sinks = {sink("archive", 10, 10), sink("kafka", 4, 10)};
    s.sinks[1].type = "kafka";
    s.sinks[1].up = false;
    s.sinks[1].last_error = "kafka: broker down";
  });
  delivered("archive").inc(10);
  delivered("kafka").inc(4);
  second();
  delivered("archive").inc(5);
  dead_lettered("archive").inc(1);
  pipeline.edit([](auto& s) {
    s.last_seq = 16;
    s.sinks[0] = sink("archive", 16, 16);
    s.sinks[1].lag_events = 12;
  });
  second();

  json o = overview();
  ASSERT_EQ(o["sinks"].size(), 2u) << o.dump();
  const json& archive = o["sinks"][0];
  EXPECT_EQ(archive["name"], "archive");
  EXPECT_EQ(archive["type"], "file");
  EXPECT_EQ(archive["up"], true);
  EXPECT_EQ(archive["last_error"], "");
  EXPECT_EQ(archive["delivered_per_second"].get<Seconds>(), (Seconds{10, 5}));
  EXPECT_EQ(archive["delivered_total"], 15);
  EXPECT_EQ(archive["dead_lettered_total"], 1);
  EXPECT_EQ(archive["lag_events"], 0);
  EXPECT_EQ(archive["lag_seconds"], 0);
  const json& kafka = o["sinks"][1];
  EXPECT_EQ(kafka["name"], "kafka");
  EXPECT_EQ(kafka["type"], "kafka");
  EXPECT_EQ(kafka["up"], false);
  EXPECT_EQ(kafka["last_error"], "kafka: broker down");
  EXPECT_EQ(kafka["delivered_per_second"].get<Seconds>(), (Seconds{4, 0}));
  EXPECT_EQ(kafka["lag_events"], 12);
}

TEST_F(StatsHistoryTest, LagSecondsCountFromTheSecondTheSpoolPassedTheSinksCursor) {
  pipeline.edit([](auto& s) {
    s.last_seq = 5;
    s.sinks = {sink("kafka", 5, 5)};
  });
  second();  // caught up
  second();
  pipeline.edit([](auto& s) {
    s.last_seq = 8;  // events 6..8 arrive; the sink stops at 5
    s.sinks = {sink("kafka", 5, 8)};
  });
  second();  // the first second the spool is past the cursor
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 0);
  for (int i = 0; i < 4; ++i) second();
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 4);
  clock.advance(500ms);  // between samples too
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 4);
  // The sink takes 6 and 7: it is behind since the same second.
  pipeline.edit([](auto& s) { s.sinks = {sink("kafka", 7, 8)}; });
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 4);
  // Caught up: no lag, whatever the history says.
  pipeline.edit([](auto& s) { s.sinks = {sink("kafka", 8, 8)}; });
  EXPECT_EQ(overview()["sinks"][0]["lag_events"], 0);
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 0);
}

TEST_F(StatsHistoryTest, ASinkBehindForLongerThanTheWindowShowsTheWindowsAge) {
  make(3s);
  pipeline.edit([](auto& s) {
    s.last_seq = 9;
    s.sinks = {sink("kafka", 2, 9)};
  });
  for (int i = 0; i < 10; ++i) second();
  // Only the last 3 seconds are kept: the oldest of them is 2 s old.
  EXPECT_EQ(overview()["sinks"][0]["lag_seconds"], 2);
}

TEST_F(StatsHistoryTest, TheWindowKeepsTheNewestSecondsAndEveryArrayHasTheSameLength) {
  make(3s);
  pipeline.edit([](auto& s) {
    s.sources = {"web"};
    s.sinks = {sink("archive", 0, 0)};
  });
  for (uint64_t n = 1; n <= 5; ++n) {
    accepted("web").inc(n);
    delivered("archive").inc(n * 10);
    pipeline.edit([n](auto& s) { s.spool_bytes = n * 100; });
    if (n == 5) rejected("ios", "too_large").inc(7);  // a source first seen now
    second();
  }
  json o = overview();
  EXPECT_EQ(o["window_seconds"], 3);
  const json* web = find(o["sources"], "id", "web");
  const json* ios = find(o["sources"], "id", "ios");
  ASSERT_TRUE(web && ios) << o.dump();
  EXPECT_EQ((*web)["accepted_per_second"].get<Seconds>(), (Seconds{3, 4, 5}));
  EXPECT_EQ((*web)["accepted_total"], 15);
  EXPECT_EQ((*ios)["rejected_per_second"].get<Seconds>(), (Seconds{0, 0, 7}));
  EXPECT_EQ((*ios)["accepted_per_second"].get<Seconds>(), (Seconds{0, 0, 0}));
  EXPECT_EQ(o["sinks"][0]["delivered_per_second"].get<Seconds>(), (Seconds{30, 40, 50}));
  EXPECT_EQ(o["spool"]["bytes_per_second"].get<Seconds>(), (Seconds{300, 400, 500}));
  for (const auto& list : {o["sources"], o["sinks"]}) {
    for (const auto& item : list) {
      for (const auto& [key, value] : item.items()) {
        if (value.is_array()) {
          EXPECT_EQ(value.size(), 3u) << key << " " << o.dump();
        }
      }
    }
  }
}

TEST_F(StatsHistoryTest, ASourceNoLongerConfiguredDropsOutOnceItsSecondsAreAllZero) {
  make(3s);
  pipeline.edit([](auto& s) { s.sources = {"old", "web"}; });
  accepted("old").inc(2);
  second();
  pipeline.edit([](auto& s) { s.sources = {"web"}; });  // "old" removed
  second();
  second();
  ASSERT_NE(find(overview()["sources"], "id", "old"), nullptr) << "its 2 events are still shown";
  second();  // they fall out of the window
  json o = overview();
  EXPECT_EQ(find(o["sources"], "id", "old"), nullptr) << o.dump();
  EXPECT_NE(find(o["sources"], "id", "web"), nullptr);
}

TEST_F(StatsHistoryTest, ARemovedSinkIsShownAsRemovedUntilItsSecondsAreAllZero) {
  make(2s);
  pipeline.edit([](auto& s) { s.sinks = {sink("archive", 0, 0), sink("old", 0, 0)}; });
  delivered("old").inc(3);
  second();
  pipeline.edit([](auto& s) { s.sinks = {sink("archive", 0, 0)}; });
  second();
  json o = overview();
  const json* old = find(o["sinks"], "name", "old");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ((*old)["removed"], true);
  EXPECT_EQ((*old)["up"], false);
  EXPECT_EQ((*old)["delivered_per_second"].get<Seconds>(), (Seconds{3, 0}));
  second();
  EXPECT_EQ(find(overview()["sinks"], "name", "old"), nullptr);
  EXPECT_EQ(overview()["sinks"].size(), 1u);
}

TEST_F(StatsHistoryTest, TheSpoolShowsItsBytesCapAndLastSequenceNumber) {
  pipeline.edit([](auto& s) {
    s.last_seq = 1234;
    s.spool_bytes = 1048576;
    s.spool_max_bytes = 1073741824;
  });
  second();
  json spool = overview()["spool"];
  EXPECT_EQ(spool["bytes"], 1048576);
  EXPECT_EQ(spool["max_bytes"], 1073741824);
  EXPECT_EQ(spool["last_seq"], 1234);
  EXPECT_EQ(spool["bytes_per_second"].get<Seconds>(), (Seconds{1048576}));
}

TEST_F(StatsHistoryTest, NowIsTheWallClockInUtcAndNothingIsRecordedBeforeTheFirstSample) {
  json o = overview();
  EXPECT_EQ(o["now"], "2026-12-06T15:04:05Z");
  EXPECT_EQ(o["sources"], json::array());
  EXPECT_EQ(o["sinks"], json::array());
  EXPECT_EQ(o["spool"]["bytes_per_second"], json::array());
  second();
  EXPECT_EQ(overview()["now"], "2026-12-06T15:04:06Z");
}

TEST_F(StatsHistoryTest, AStartedHistorySamplesEverySecondAndStopsPromptly) {
  StatsHistory real(metrics, pipeline);
  accepted("web").inc(3);
  real.start();
  ASSERT_TRUE(tern::testing::wait_until(
      [&] { return json::parse(real.overview_json())["sources"].size() == 1; }, 5s));
  EXPECT_EQ(json::parse(real.overview_json())["sources"][0]["accepted_total"], 3);
  auto began = std::chrono::steady_clock::now();
  real.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 500ms);
  real.stop();  // idempotent
}

// The same history over a real pipeline: the counters it reads are the ones
// the sink runners keep.
TEST(StatsHistoryWithAPipelineTest, ShowsWhatTheSinksDeliveredAndDeadLettered) {
  tern::testing::TempDir dir;
  Metrics metrics;
  SinkRegistry registry;
  auto scripts = std::make_shared<std::map<std::string, std::shared_ptr<testing::Script>>>();
  testing::register_scripted(registry, scripts);
  (*scripts)["a"] = std::make_shared<testing::Script>();
  (*scripts)["a"]->reject_marker = "poison";
  RelayConfig c;
  c.data_dir = dir.path();
  c.spool.commit_window = 1ms;
  SourceConfig web;
  web.id = "web";
  web.write_keys = {"k"};
  c.sources = {web};
  SinkConfig a;
  a.name = "a";
  a.type = "scripted";
  a.batch_linger = 1ms;
  c.sinks = {a};
  RouteConfig all;
  all.sinks = {"a"};
  c.routes = {all};
  auto made = make_pipeline(c, metrics, registry);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  auto& pipeline = *made.value();
  StatsHistory history(metrics, pipeline);

  Submission sub;
  sub.events = SpoolBatch("web");
  sub.events.add("track", R"({"type":"track","messageId":"m1"})");
  sub.events.add("track", R"({"type":"track","messageId":"poison-2"})");
  sub.events.add("track", R"({"type":"track","messageId":"m3"})");
  std::promise<Status> done;
  pipeline.submit(std::move(sub), [&](Status st) { done.set_value(st); });
  ASSERT_TRUE(done.get_future().get().is_ok());
  ASSERT_TRUE(tern::testing::wait_until([&] {
    return metrics.counter("tern_relay_sink_delivered_events_total", sink_label("a")).value() ==
               2 &&
           metrics.counter("tern_relay_sink_dead_lettered_events_total", sink_label("a")).value() ==
               1 &&
           pipeline.state().sinks.at(0).lag_events == 0;
  }));
  history.sample_now();

  json o = json::parse(history.overview_json());
  ASSERT_EQ(o["sources"].size(), 1u) << o.dump();
  EXPECT_EQ(o["sources"][0]["id"], "web");
  EXPECT_EQ(o["sources"][0]["configured"], true);
  ASSERT_EQ(o["sinks"].size(), 1u) << o.dump();
  const json& sink = o["sinks"][0];
  EXPECT_EQ(sink["name"], "a");
  EXPECT_EQ(sink["type"], "scripted");
  EXPECT_EQ(sink["up"], true);
  EXPECT_EQ(sink["delivered_per_second"].get<Seconds>(), (Seconds{2}));
  EXPECT_EQ(sink["dead_lettered_per_second"].get<Seconds>(), (Seconds{1}));
  EXPECT_EQ(sink["dead_lettered_total"], 1);
  EXPECT_EQ(sink["lag_events"], 0);
  EXPECT_EQ(o["spool"]["last_seq"], 3);
  EXPECT_GT(o["spool"]["bytes"].get<uint64_t>(), 0u);
  ASSERT_TRUE(pipeline.stop(std::chrono::steady_clock::now() + 5s).is_ok());
}

}  // namespace
}  // namespace tern::relay
