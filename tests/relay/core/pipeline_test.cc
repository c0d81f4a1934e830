#include "tern/relay/durable_pipeline.h"

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <thread>

#include "manual_clock.h"
#include "scripted_sink.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::TempDir;
using tern::testing::wait_until;
using testing::ManualClock;
using testing::Script;

using Scripts = std::map<std::string, std::shared_ptr<Script>>;

SinkConfig scripted(const std::string& name) {
  SinkConfig s;
  s.name = name;
  s.type = "scripted";
  s.batch_linger = 1ms;
  s.backoff_base = 2ms;
  s.backoff_max = 10ms;
  return s;
}

RelayConfig config_with(const std::string& dir, std::vector<SinkConfig> sinks,
                        std::vector<RouteConfig> routes = {}) {
  RelayConfig c;
  c.data_dir = dir;
  c.spool.commit_window = 1ms;
  c.limits.sink_ack_timeout = 5s;
  SourceConfig src;
  src.id = "web";
  src.write_keys = {"k"};
  c.sources.push_back(src);
  if (routes.empty()) {
    RouteConfig all;
    for (const auto& s : sinks) all.sinks.push_back(s.name);
    routes.push_back(all);
  }
  c.sinks = std::move(sinks);
  c.routes = std::move(routes);
  return c;
}

// Owns the registry, metrics and scripts a pipeline needs.
struct Fixture {
  Metrics metrics;
  SinkRegistry registry;
  std::shared_ptr<Scripts> scripts = std::make_shared<Scripts>();
  Fixture() { testing::register_scripted(registry, scripts); }
  Script& script(const std::string& name) {
    auto& s = (*scripts)[name];
    if (!s) s = std::make_shared<Script>();
    return *s;
  }
  std::unique_ptr<DurablePipeline> make(const RelayConfig& c, const Clock& clock = real_clock()) {
    for (const auto& s : c.sinks) script(s.name);
    auto p = make_pipeline(c, metrics, registry, clock);
    EXPECT_TRUE(p.is_ok()) << p.status().to_string();
    return p.is_ok() ? std::move(p.value()) : nullptr;
  }
};

std::vector<std::string> texts(int from, int n, const std::string& type = "track") {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) {
    v.push_back("{\"type\":\"" + type + "\",\"messageId\":\"m" + std::to_string(i) + "\"}");
  }
  return v;
}

Submission submission_of(const std::vector<std::string>& events, AckMode mode = AckMode::kLocal,
                         const std::string& type = "track") {
  Submission s;
  s.events = SpoolBatch("web");
  s.ack_mode = mode;
  for (const auto& e : events) s.events.add(type, e);
  return s;
}

Submission submission(int from, int n, AckMode mode = AckMode::kLocal,
                      const std::string& type = "track") {
  return submission_of(texts(from, n, type), mode, type);
}

// tern_relay_sink_delivered_events_total for `sink`, once it reached
// `at_least` (or after 10 s): the runner counts events just after the sink
// has them, so a test that saw them arrive waits for the count to catch up.
uint64_t delivered(Fixture& fx, const std::string& sink, uint64_t at_least) {
  Counter& c =
      fx.metrics.counter("tern_relay_sink_delivered_events_total", "sink=\"" + sink + "\"");
  (void)wait_until([&] { return c.value() >= at_least; });
  return c.value();
}

// Submits and returns a future for the done status.
std::future<Status> submit(Pipeline& p, Submission s) {
  auto prom = std::make_shared<std::promise<Status>>();
  auto f = prom->get_future();
  p.submit(std::move(s), [prom](Status st) { prom->set_value(std::move(st)); });
  return f;
}

Status wait(std::future<Status>& f, std::chrono::milliseconds t = 10s) {
  if (f.wait_for(t) != std::future_status::ready)
    return Status(StatusCode::kInternal, "done never called");
  return f.get();
}

TEST(PipelineTest, LocalAckAnswersAfterTheSpoolCommitAndTheSinkReceivesEverything) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 5));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 5; }));
  std::lock_guard<std::mutex> g(fx.script("a").mu);
  EXPECT_EQ(fx.script("a").events[0], "{\"type\":\"track\",\"messageId\":\"m0\"}");
  EXPECT_EQ(fx.script("a").events[4], "{\"type\":\"track\",\"messageId\":\"m4\"}");
}

TEST(PipelineTest, DoneIsNeverCalledInsideSubmit) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  for (AckMode mode : {AckMode::kLocal, AckMode::kMemory, AckMode::kSink}) {
    const auto submitter = std::this_thread::get_id();
    auto prom = std::make_shared<std::promise<std::thread::id>>();
    auto f = prom->get_future();
    p->submit(submission(0, 1, mode), [prom](Status st) {
      EXPECT_TRUE(st.is_ok());
      prom->set_value(std::this_thread::get_id());
    });
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << ack_mode_name(mode);
    EXPECT_NE(f.get(), submitter) << ack_mode_name(mode);
  }
  // Refusals too: after stop, kCancelled comes from a pipeline thread.
  ASSERT_TRUE(p->stop(std::chrono::steady_clock::now() + 2s).is_ok());
  const auto submitter = std::this_thread::get_id();
  auto prom = std::make_shared<std::promise<std::thread::id>>();
  auto f = prom->get_future();
  p->submit(submission(0, 1), [prom](Status st) {
    EXPECT_EQ(st.code(), StatusCode::kCancelled);
    prom->set_value(std::this_thread::get_id());
  });
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_NE(f.get(), submitter);
}

TEST(PipelineTest, MemoryAckAnswersWithoutWaitingForTheSinks) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  fx.script("a").set_blocked(true);
  auto f = submit(*p, submission(0, 3, AckMode::kMemory));
  EXPECT_TRUE(wait(f).is_ok());
  fx.script("a").set_blocked(false);
  EXPECT_TRUE(wait_until([&] { return fx.script("a").count() == 3; }));
}

TEST(PipelineTest, SinkAckWaitsUntilEveryRoutedSinkDelivered) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a"), scripted("b")}));
  ASSERT_TRUE(p);
  fx.script("b").set_blocked(true);
  auto f = submit(*p, submission(0, 4, AckMode::kSink));
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 4; }));
  EXPECT_EQ(f.wait_for(50ms), std::future_status::timeout);  // b has not delivered yet
  fx.script("b").set_blocked(false);
  EXPECT_TRUE(wait(f).is_ok());
  EXPECT_EQ(fx.script("b").count(), 4u);
}

TEST(PipelineTest, SinkAckTimesOutButTheEventsStayAndArriveLater) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("a")});
  c.limits.sink_ack_timeout = 100ms;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  fx.script("a").set_fail(true);
  auto f = submit(*p, submission(0, 2, AckMode::kSink));
  Status st = wait(f);
  EXPECT_EQ(st.code(), StatusCode::kTimeout) << st.to_string();
  EXPECT_EQ(fx.metrics.counter("tern_relay_pipeline_sink_ack_timeouts_total").value(), 1u);
  fx.script("a").set_fail(false);
  EXPECT_TRUE(wait_until([&] { return fx.script("a").count() == 2; }));
}

TEST(PipelineTest, ADeadSinkDoesNotBlockAnotherAndMakesTheRelayNotReady) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("dead"), scripted("live")}));
  ASSERT_TRUE(p);
  fx.script("dead").set_fail(true);
  for (int i = 0; i < 10; ++i) {
    auto f = submit(*p, submission(i * 10, 10));
    ASSERT_TRUE(wait(f).is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return fx.script("live").count() == 100; }));
  ASSERT_TRUE(
      wait_until([&] { return fx.script("dead").deliveries.load() >= 1; }));  // it was tried
  EXPECT_EQ(fx.script("dead").count(), 0u);
  std::string why;
  ASSERT_TRUE(wait_until([&] { return !p->ready(&why); }));
  EXPECT_NE(why.find("sink \"dead\" unhealthy"), std::string::npos) << why;
  EXPECT_EQ(why.find("\"live\""), std::string::npos) << why;
  ASSERT_TRUE(wait_until([&] {
    return fx.metrics.gauge("tern_relay_sink_lag_events", "sink=\"dead\"").value() == 100;
  }));
  EXPECT_GT(fx.metrics.gauge("tern_relay_sink_lag_bytes", "sink=\"dead\"").value(), 100 * 30);
  EXPECT_EQ(fx.metrics.gauge("tern_relay_sink_up", "sink=\"dead\"").value(), 0);
  EXPECT_GT(fx.metrics.counter("tern_relay_sink_failures_total", "sink=\"dead\"").value(), 0u);
  EXPECT_EQ(delivered(fx, "live", 100), 100u);

  // When it recovers it replays everything, in order.
  fx.script("dead").set_fail(false);
  ASSERT_TRUE(wait_until([&] { return fx.script("dead").count() == 100; }));
  std::lock_guard<std::mutex> g(fx.script("dead").mu);
  for (std::size_t i = 1; i < 100; ++i)
    EXPECT_LT(fx.script("dead").seqs[i - 1], fx.script("dead").seqs[i]);
  EXPECT_TRUE(wait_until([&] { return p->ready(nullptr); }));
}

// Checks `events` are m0..m<n-1>, each once, in order.
void expect_in_order(Script& s, int n) {
  std::lock_guard<std::mutex> g(s.mu);
  ASSERT_EQ(s.events.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(s.events[i], "{\"type\":\"track\",\"messageId\":\"m" + std::to_string(i) + "\"}")
        << i;
  }
}

TEST(PipelineTest, AFailedDeliveryIsRetriedAfterItsBackoffAndNotBefore) {
  TempDir dir;
  Fixture fx;
  ManualClock clock;
  SinkConfig a = scripted("a");
  a.batch_linger = 0ms;  // the manual clock does not move by itself
  a.backoff_base = 30s;  // one 30 s step: the runner waits 15 to 30 s (equal jitter)
  a.backoff_max = 30s;
  fx.script("a").set_fail(true);
  auto p = fx.make(config_with(dir.path(), {a}), clock);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 3));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").deliveries.load() == 1; }));
  // Two reads after the failure: the runner has set its wake-up time.
  ASSERT_TRUE(clock.wait_for_reads(2));
  fx.script("a").set_fail(false);

  clock.advance(14s);
  ASSERT_TRUE(clock.wait_for_reads(2));            // the runner saw 14 s pass...
  EXPECT_EQ(fx.script("a").deliveries.load(), 1);  // ...and kept waiting
  EXPECT_EQ(fx.script("a").count(), 0u);

  clock.advance(16s);
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 3; }));
  EXPECT_EQ(fx.script("a").deliveries.load(), 2);
  expect_in_order(fx.script("a"), 3);
  EXPECT_EQ(fx.metrics.counter("tern_relay_sink_failures_total", "sink=\"a\"").value(), 1u);
  EXPECT_TRUE(p->stop(std::chrono::steady_clock::now() + 5s).is_ok());
}

TEST(PipelineTest, EventsArrivingWhileASinkLingersGoOutInOneBatchOnceTheLingerIsOver) {
  TempDir dir;
  Fixture fx;
  ManualClock clock;
  SinkConfig a = scripted("a");
  a.batch_linger = 1h;
  a.batch_max_events = 100;
  auto p = fx.make(config_with(dir.path(), {a}), clock);
  ASSERT_TRUE(p);
  auto first = submit(*p, submission(0, 1));
  ASSERT_TRUE(wait(first).is_ok());
  // Lingering, the runner looks at the clock every few ms (idle, 4 times a
  // second): 50 looks within 2 s mean it holds the first event.
  ASSERT_TRUE(clock.wait_for_reads(50, 2s));
  auto more = submit(*p, submission(1, 2));
  ASSERT_TRUE(wait(more).is_ok());
  clock.advance(59min);
  ASSERT_TRUE(clock.wait_for_reads(2));
  EXPECT_EQ(fx.script("a").deliveries.load(), 0);  // still lingering

  clock.advance(1min);
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 3; }));
  EXPECT_EQ(fx.script("a").deliveries.load(), 1);
  expect_in_order(fx.script("a"), 3);
}

TEST(PipelineTest, RejectedEventsGoToTheDeadLetterFileAndTheRestIsDelivered) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  fx.script("a").reject_marker = "poison";
  auto events = texts(0, 3);
  events[1] = R"({"type":"track","messageId":"poison-1"})";
  auto f = submit(*p, submission_of(events));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 2; }));
  std::string path = dir.path() + "/dead-letter/a.ndjson";
  ASSERT_TRUE(wait_until([&] {
    return fx.metrics.counter("tern_relay_sink_dead_lettered_events_total", "sink=\"a\"").value() ==
           1;
  }));
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << path;
  EXPECT_EQ(
      line,
      R"({"sink":"a","reason":"scripted rejection","seq":2,"source":"web","event":{"type":"track","messageId":"poison-1"}})");
  EXPECT_FALSE(std::getline(in, line));
}

TEST(PipelineTest, TwoPhaseSinkFlushesOnceForTheBatchesTheSpoolAlreadyHolds) {
  TempDir dir;
  Fixture fx;
  SinkConfig a = scripted("a");
  a.batch_max_events = 10;
  auto c = config_with(dir.path(), {a});
  fx.script("a").two_phase = true;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  fx.script("a").set_blocked(true);  // a backlog builds up behind the first delivery
  auto f = submit(*p, submission(0, 200));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").deliveries.load() >= 1; }));
  fx.script("a").set_blocked(false);
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 200; }));
  expect_in_order(fx.script("a"), 200);
  std::lock_guard<std::mutex> g(fx.script("a").mu);
  const auto& flushes = fx.script("a").flush_sizes;
  EXPECT_LT(flushes.size(), 20u);                    // 20 batches of 10, fewer flushes
  for (std::size_t n : flushes) EXPECT_LE(n, 160u);  // settled at least every 16 batches
  EXPECT_EQ(delivered(fx, "a", 200), 200u);
}

TEST(PipelineTest, TwoPhaseSinkAcknowledgesOnlyAfterAFlushAndRedeliversWhatAFailedFlushLost) {
  TempDir dir;
  Fixture fx;
  fx.script("a").two_phase = true;
  fx.script("a").fail_flushes = 2;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 5, AckMode::kSink));
  ASSERT_TRUE(wait(f).is_ok());        // answered once a flush succeeded
  expect_in_order(fx.script("a"), 5);  // the staged copies the failures lost came again, once
  EXPECT_EQ(fx.metrics.counter("tern_relay_sink_failures_total", "sink=\"a\"").value(), 2u);
  EXPECT_GE(fx.script("a").deliveries.load(), 3);
}

TEST(PipelineTest, TwoPhaseSinkRejectionsFromAFlushNameTheRightEvents) {
  TempDir dir;
  Fixture fx;
  SinkConfig a = scripted("a");
  a.batch_max_events = 10;
  fx.script("a").two_phase = true;
  fx.script("a").reject_marker = "poison";
  auto p = fx.make(config_with(dir.path(), {a}));
  ASSERT_TRUE(p);
  fx.script("a").set_blocked(true);
  auto events = texts(0, 30);
  events[5] = R"({"type":"track","messageId":"poison-5"})";
  events[25] = R"({"type":"track","messageId":"poison-25"})";
  auto f = submit(*p, submission_of(events));
  ASSERT_TRUE(wait(f).is_ok());
  fx.script("a").set_blocked(false);
  ASSERT_TRUE(wait_until([&] {
    return fx.metrics.counter("tern_relay_sink_dead_lettered_events_total", "sink=\"a\"").value() ==
           2;
  }));
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 28; }));
  std::ifstream in(dir.path() + "/dead-letter/a.ndjson");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(
      line,
      R"({"sink":"a","reason":"scripted rejection","seq":6,"source":"web","event":{"type":"track","messageId":"poison-5"}})");
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(
      line,
      R"({"sink":"a","reason":"scripted rejection","seq":26,"source":"web","event":{"type":"track","messageId":"poison-25"}})");
  EXPECT_FALSE(std::getline(in, line));
  EXPECT_EQ(delivered(fx, "a", 28), 28u);
}

TEST(PipelineTest, ASelfAcknowledgingSinksCursorWaitsForWhatItStillHolds) {
  TempDir dir;
  auto c = config_with(dir.path(), {scripted("lake")});
  {
    Fixture fx;
    fx.script("lake").self_ack = true;
    auto p = fx.make(c);
    ASSERT_TRUE(p);
    auto f = submit(*p, submission(0, 10));
    ASSERT_TRUE(wait(f).is_ok());
    ASSERT_TRUE(wait_until([&] { return fx.script("lake").held_count() == 10; }));
    fx.script("lake").release(6);  // m0..m5 made durable, m6..m9 still held
    // Held events are by design not a failed drain.
    EXPECT_TRUE(p->stop(std::chrono::steady_clock::now() + 2s).is_ok());
    EXPECT_EQ(fx.script("lake").deliveries.load(), 1);  // nothing handed over twice
  }
  Fixture fx;
  fx.script("lake").self_ack = true;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  // The restart hands over exactly what was held, once.
  ASSERT_TRUE(wait_until([&] { return fx.script("lake").held_count() == 4; }));
  fx.script("lake").release(4);
  std::lock_guard<std::mutex> g(fx.script("lake").mu);
  ASSERT_EQ(fx.script("lake").events.size(), 4u);
  EXPECT_EQ(fx.script("lake").events[0], "{\"type\":\"track\",\"messageId\":\"m6\"}");
  EXPECT_EQ(fx.script("lake").events[3], "{\"type\":\"track\",\"messageId\":\"m9\"}");
}

TEST(PipelineTest, ASelfAcknowledgingSinkThatReleasesEverythingIsNotReplayedAfterARestart) {
  TempDir dir;
  auto c = config_with(dir.path(), {scripted("lake")});
  {
    Fixture fx;
    fx.script("lake").self_ack = true;
    auto p = fx.make(c);
    ASSERT_TRUE(p);
    auto f = submit(*p, submission(0, 5));
    ASSERT_TRUE(wait(f).is_ok());
    ASSERT_TRUE(wait_until([&] { return fx.script("lake").held_count() == 5; }));
    fx.script("lake").release(5);
    EXPECT_TRUE(p->stop(std::chrono::steady_clock::now() + 2s).is_ok());
  }
  Fixture fx;
  fx.script("lake").self_ack = true;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(5, 1));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("lake").held_count() == 1; }));
  std::lock_guard<std::mutex> g(fx.script("lake").mu);
  EXPECT_EQ(fx.script("lake").held[0], "{\"type\":\"track\",\"messageId\":\"m5\"}");
}

TEST(PipelineTest, RestartResumesEachSinkFromItsOwnCursor) {
  TempDir dir;
  auto c = config_with(dir.path(), {scripted("a"), scripted("b")});
  {
    Fixture fx;
    auto p = fx.make(c);
    ASSERT_TRUE(p);
    fx.script("b").set_fail(true);
    auto f = submit(*p, submission(0, 6));
    ASSERT_TRUE(wait(f).is_ok());
    ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 6; }));
    Status st = p->stop(std::chrono::steady_clock::now() + 100ms);
    EXPECT_EQ(st.code(), StatusCode::kTimeout);  // b could not drain
  }
  Fixture fx;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(wait_until([&] { return fx.script("b").count() == 6; }));
  auto f = submit(*p, submission(6, 1));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 1; }));
  std::lock_guard<std::mutex> g(fx.script("a").mu);
  EXPECT_EQ(fx.script("a").events[0],
            "{\"type\":\"track\",\"messageId\":\"m6\"}");  // nothing replayed to a
}

TEST(PipelineTest, StopDrainsSinksAndRefusesNewSubmissions) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("a")});
  c.sinks[0].batch_linger = 200ms;  // stop must not wait for the linger
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 3));
  ASSERT_TRUE(wait(f).is_ok());
  EXPECT_TRUE(p->stop(std::chrono::steady_clock::now() + 5s).is_ok());
  EXPECT_EQ(fx.script("a").count(), 3u);
  EXPECT_EQ(fx.script("a").closes.load(), 1);
  auto g = submit(*p, submission(3, 1));
  EXPECT_EQ(wait(g).code(), StatusCode::kCancelled);
  std::string why;
  EXPECT_FALSE(p->ready(&why));
}

TEST(PipelineTest, FullSpoolAnswersUnavailableAndIsNotReady) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("a")});
  c.spool.max_bytes = 4096;
  c.spool.retry_after_seconds = 7;
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  fx.script("a").set_fail(true);
  Status last;
  for (int i = 0; i < 100 && last.is_ok(); ++i) {
    auto f = submit(*p, submission(i * 10, 10));
    last = wait(f);
  }
  EXPECT_EQ(last.code(), StatusCode::kUnavailable) << last.to_string();
  EXPECT_EQ(p->retry_after_seconds(), 7);
  std::string why;
  EXPECT_FALSE(p->ready(&why));
  EXPECT_NE(why.find("spool full"), std::string::npos) << why;
  EXPECT_GT(fx.metrics.counter("tern_relay_pipeline_refused_events_total", "reason=\"spool_full\"")
                .value(),
            0u);
  // The sink is still down: stop gives up at its deadline, the events stay spooled.
  EXPECT_EQ(p->stop(std::chrono::steady_clock::now() + 20ms).code(), StatusCode::kTimeout);
}

TEST(PipelineTest, RoutesSendEventTypesToTheirSinks) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("all"), scripted("ids")},
                       {RouteConfig{{}, {}, {"all"}}, RouteConfig{{"web"}, {"identify"}, {"ids"}}});
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  auto f1 = submit(*p, submission(0, 3, AckMode::kLocal, "track"));
  auto f2 = submit(*p, submission(3, 2, AckMode::kLocal, "identify"));
  ASSERT_TRUE(wait(f1).is_ok());
  ASSERT_TRUE(wait(f2).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("all").count() == 5; }));
  ASSERT_TRUE(wait_until([&] { return fx.script("ids").count() == 2; }));
  std::lock_guard<std::mutex> g(fx.script("ids").mu);
  for (const auto& e : fx.script("ids").events) EXPECT_NE(e.find("identify"), std::string::npos);
}

TEST(PipelineTest, EventsMatchingNoRouteAreAcceptedAndCounted) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("ids")}, {RouteConfig{{}, {"identify"}, {"ids"}}});
  auto p = fx.make(c);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 3, AckMode::kSink, "track"));
  EXPECT_TRUE(wait(f).is_ok());  // nothing to wait for
  auto g = submit(*p, submission(3, 1, AckMode::kLocal, "identify"));
  ASSERT_TRUE(wait(g).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("ids").count() == 1; }));
  EXPECT_EQ(fx.metrics.counter("tern_relay_pipeline_unrouted_events_total").value(), 3u);
  EXPECT_TRUE(wait_until([&] {
    return fx.metrics.counter("tern_relay_sink_unrouted_events_total", "sink=\"ids\"").value() == 3;
  }));
}

TEST(PipelineTest, ReloadAddsASinkAtTheEndAndDropsARemovedSinksCursor) {
  TempDir dir;
  Fixture fx;
  auto c1 = config_with(dir.path(), {scripted("a"), scripted("old")});
  auto p = fx.make(c1);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 3));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 3; }));

  auto c2 = config_with(dir.path(), {scripted("a"), scripted("new")});
  fx.script("new");
  ASSERT_TRUE(p->reload(c2).is_ok());
  auto g = submit(*p, submission(3, 2));
  ASSERT_TRUE(wait(g).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("new").count() == 2; }));
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 5; }));
  EXPECT_EQ(fx.script("a").opens.load(), 1);  // unchanged sinks keep running
  ASSERT_TRUE(p->stop(std::chrono::steady_clock::now() + 2s).is_ok());

  std::ifstream in(dir.path() + "/spool/cursors");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("a 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("new 5\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("old"), std::string::npos) << text;
}

TEST(PipelineTest, ReloadRebuildsAChangedSinkAtItsCursorWithoutLosingEvents) {
  TempDir dir;
  Fixture fx;
  auto c1 = config_with(dir.path(), {scripted("a")});
  auto p = fx.make(c1);
  ASSERT_TRUE(p);
  auto f = submit(*p, submission(0, 3));
  ASSERT_TRUE(wait(f).is_ok());
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 3; }));
  fx.script("a").set_fail(true);
  auto g = submit(*p, submission(3, 2));
  ASSERT_TRUE(wait(g).is_ok());

  auto c2 = c1;
  c2.sinks[0].batch_max_events = 7;
  c2.sinks[0].settings["mode"] = "changed";
  ASSERT_TRUE(p->reload(c2).is_ok());
  EXPECT_EQ(fx.script("a").closes.load(), 1);  // the old instance was closed
  EXPECT_TRUE(wait_until([&] { return fx.script("a").opens.load() == 2; }));
  fx.script("a").set_fail(false);
  ASSERT_TRUE(wait_until([&] { return fx.script("a").count() == 5; }));
  std::lock_guard<std::mutex> lock(fx.script("a").mu);
  EXPECT_EQ(fx.script("a").seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(PipelineTest, EventsGoWhereTheRoutesSentThemWhenAcceptedWhateverTheRoutesBecameLater) {
  TempDir dir;
  Fixture fx;
  // "slow" is failing, so the events it was routed to wait in the spool
  // while the route moves them elsewhere.
  auto c1 = config_with(dir.path(), {scripted("slow"), scripted("other")},
                        {RouteConfig{{}, {}, {"slow"}}});
  auto p = fx.make(c1);
  ASSERT_TRUE(p);
  fx.script("slow").set_fail(true);
  auto f = submit(*p, submission(0, 3));
  ASSERT_TRUE(wait(f).is_ok());

  auto c2 = config_with(dir.path(), {scripted("slow"), scripted("other")},
                        {RouteConfig{{}, {}, {"other"}}});
  ASSERT_TRUE(p->reload(c2).is_ok());
  auto g = submit(*p, submission(3, 2));
  ASSERT_TRUE(wait(g).is_ok());
  EXPECT_EQ(p->undelivered("slow"), 5u);  // it has read none of the five yet
  EXPECT_EQ(p->undelivered("nonexistent"), 0u);
  fx.script("slow").set_fail(false);

  ASSERT_TRUE(wait_until([&] { return fx.script("other").count() == 2; }));
  ASSERT_TRUE(wait_until([&] { return fx.script("slow").count() == 3; }));
  ASSERT_TRUE(wait_until([&] { return p->undelivered("slow") == 0; }));
  {
    std::lock_guard<std::mutex> lock(fx.script("slow").mu);
    EXPECT_EQ(fx.script("slow").seqs, (std::vector<uint64_t>{1, 2, 3}));
  }
  std::lock_guard<std::mutex> lock(fx.script("other").mu);
  EXPECT_EQ(fx.script("other").seqs, (std::vector<uint64_t>{4, 5}));
}

TEST(PipelineTest, ReloadsThatKeepTheRoutesLeaveEarlierRouteChangesInForce) {
  TempDir dir;
  Fixture fx;
  auto c1 = config_with(dir.path(), {scripted("slow"), scripted("other")},
                        {RouteConfig{{}, {}, {"slow"}}});
  auto p = fx.make(c1);
  ASSERT_TRUE(p);
  fx.script("slow").set_fail(true);
  auto first = submit(*p, submission(0, 2));  // seqs 1-2: to "slow"
  ASSERT_TRUE(wait(first).is_ok());
  auto c2 = config_with(dir.path(), {scripted("slow"), scripted("other")},
                        {RouteConfig{{}, {}, {"other"}}});
  ASSERT_TRUE(p->reload(c2).is_ok());
  auto second = submit(*p, submission(2, 2));  // seqs 3-4: to "other"
  ASSERT_TRUE(wait(second).is_ok());
  // Reloads that change a sink's settings but not the routes.
  for (int i = 0; i < 3; ++i) {
    auto same_routes = c2;
    same_routes.sinks[1].batch_max_events = 100 + i;
    ASSERT_TRUE(p->reload(same_routes).is_ok());
    auto more = submit(*p, submission(4 + i, 1));  // seqs 5-7: to "other"
    ASSERT_TRUE(wait(more).is_ok());
  }
  fx.script("slow").set_fail(false);
  ASSERT_TRUE(wait_until([&] { return fx.script("other").count() == 5; }));
  ASSERT_TRUE(wait_until([&] { return fx.script("slow").count() == 2; }));
  ASSERT_TRUE(wait_until([&] { return p->undelivered("slow") == 0; }));
  std::lock_guard<std::mutex> lock(fx.script("slow").mu);
  EXPECT_EQ(fx.script("slow").seqs, (std::vector<uint64_t>{1, 2}));
}

TEST(PipelineTest, ReloadWithABadSinkChangesNothing) {
  TempDir dir;
  Fixture fx;
  auto p = fx.make(config_with(dir.path(), {scripted("a")}));
  ASSERT_TRUE(p);
  auto bad = config_with(dir.path(), {scripted("a"), SinkConfig{}});
  bad.sinks[1].name = "mystery";
  bad.sinks[1].type = "no-such-type";
  Status st = p->reload(bad);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("no-such-type"), std::string::npos) << st.message();
  auto f = submit(*p, submission(0, 1));
  ASSERT_TRUE(wait(f).is_ok());
  EXPECT_TRUE(wait_until([&] { return fx.script("a").count() == 1; }));
  auto moved = config_with(dir.path() + "/elsewhere", {scripted("a")});
  EXPECT_EQ(p->reload(moved).code(), StatusCode::kInvalidArgument);
}

TEST(PipelineTest, UnknownSinkTypeFailsMakePipelineNamingIt) {
  TempDir dir;
  Fixture fx;
  auto c = config_with(dir.path(), {scripted("a")});
  c.sinks[0].type = "carrier-pigeon";
  auto p = make_pipeline(c, fx.metrics, fx.registry);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("carrier-pigeon"), std::string::npos);
}

TEST(PipelineTest, UnknownSinkTypeFromAFileIsReportedWithFileLineAndTheKnownTypes) {
  TempDir dir;
  Fixture fx;
  std::string toml = "data_dir = \"" + dir.path() +
                     "\"\n"
                     "[[sources]]\nid = \"web\"\nwrite_keys = [\"k\"]\n"
                     "[[sinks]]\nname = \"a\"\ntype = \"scripted\"\n"
                     "[[sinks]]\nname = \"b\"\ntype = \"carrier-pigeon\"\n";
  auto c = parse_config(toml, "relay.toml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  auto p = make_pipeline(c.value(), fx.metrics, fx.registry);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      p.status().message(),
      "relay.toml:10:8: sinks[1].type: unknown sink type \"carrier-pigeon\" (known: scripted)");
}

TEST(SinkRegistryTest, DuplicateAndUnknownNamesAreErrors) {
  SinkRegistry reg;
  auto factory = [](const SinkConfig&, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
    return Status(StatusCode::kInternal, "unused");
  };
  EXPECT_TRUE(reg.add("x", factory).is_ok());
  Status dup = reg.add("x", factory);
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.message().find("already registered"), std::string::npos);
  EXPECT_EQ(reg.add("", factory).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.add("y", nullptr).code(), StatusCode::kInvalidArgument);
  SinkConfig c;
  c.name = "s";
  c.type = "nope";
  Metrics m;
  auto r = reg.create(c, SinkContext{"/tmp", &m});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("\"nope\""), std::string::npos);
  EXPECT_EQ(reg.types(), std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace tern::relay
