// The http forwarding sink, through a real pipeline and sink runner, against
// the scriptable test collector (500s, 429s, slow answers, dropped
// connections, poison events) and against a second tern-relay (edge → core).
#include "tern/relay/sinks/http.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "relay_process.h"
#include "sink_harness.h"
#include "test_collector.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::PoisonMode;
using tern::testing::ScriptedReply;
using tern::testing::TestCollector;
using testing::SinkHarness;
using testing::test_event;
namespace fs = std::filesystem;

SinkConfig http_config(const std::string& url, std::map<std::string, std::string> extra = {}) {
  SinkConfig c;
  c.name = "forward";
  c.type = "http";
  c.settings = {{"url", url}, {"write_key", "edge-key"}, {"timeout", "2s"}};
  for (auto& [k, v] : extra) c.settings[k] = v;
  return c;
}

std::vector<std::string> events(int from, int n, const std::string& name = "Clicked") {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) v.push_back(test_event(i, 10, name));
  return v;
}

std::vector<int> ns_of(const std::vector<nlohmann::json>& evs) {
  std::vector<int> v;
  for (const auto& e : evs) v.push_back(e["properties"]["n"].get<int>());
  return v;
}

std::vector<int> range(int from, int n) {
  std::vector<int> v;
  for (int i = from; i < from + n; ++i) v.push_back(i);
  return v;
}

std::unique_ptr<TestCollector> collector() {
  auto c = TestCollector::start(0);
  EXPECT_TRUE(c.is_ok());
  return c ? std::move(*c) : nullptr;
}

TEST(HttpSinkTest, ForwardsGzippedBatchesWithTheWriteKeyInOrder) {
  auto col = collector();
  ASSERT_TRUE(col);
  col->require_write_key("edge-key");
  SinkHarness h(http_config(col->url()));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 120)).is_ok());
  ASSERT_TRUE(h.submit(events(120, 80)).is_ok());
  ASSERT_TRUE(h.wait_handled(200));
  EXPECT_EQ(ns_of(col->events()), range(0, 200));
  auto reqs = col->requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].path, "/v1/batch");
  EXPECT_EQ(reqs[0].headers["content-encoding"], "gzip");
  EXPECT_TRUE(reqs[0].sent_at.is_string());
  EXPECT_EQ(col->connection_count(), 1u);  // one reused connection
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(HttpSinkTest, ServerErrorsAndDroppedConnectionsAreRetriedWithoutLossOrDuplicates) {
  auto col = collector();
  ASSERT_TRUE(col);
  ScriptedReply err500;
  err500.status = 500;
  col->script(err500, 2);
  ScriptedReply dropped;
  dropped.drop_connection = true;
  col->script(dropped, 1);
  ScriptedReply slow;  // answers after the sink's timeout: the sink gives up and retries
  slow.delay = 1200ms;
  col->script(slow, 1);
  SinkHarness h(http_config(col->url(), {{"timeout", "300ms"}}));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 50)).is_ok());
  ASSERT_TRUE(h.wait_handled(50, 20s));
  EXPECT_EQ(ns_of(col->events()), range(0, 50));
  // libcurl itself retries a request once on a reused connection that died,
  // so the drop and the slow answer may cost one failed attempt together.
  EXPECT_GE(h.failures(), 3u);
  EXPECT_GE(col->request_count(), 5u);
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(HttpSinkTest, TooManyRequestsIsHonouredUntilRetryAfter) {
  auto col = collector();
  ASSERT_TRUE(col);
  ScriptedReply busy;
  busy.status = 429;
  busy.headers = {{"Retry-After", "1"}};
  col->script(busy, 1);
  SinkHarness h(http_config(col->url()));
  ASSERT_TRUE(h.start().is_ok());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.submit(events(0, 10)).is_ok());
  ASSERT_TRUE(col->wait_for_requests(1, 5s));
  std::string why;
  EXPECT_TRUE(
      tern::testing::wait_until([&] { return !h.ready(&why); }, 2s));  // down while told to wait
  ASSERT_TRUE(h.wait_handled(10, 10s));
  // The runner's own backoff is 20 ms here: only Retry-After explains the wait.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 950ms);
  EXPECT_EQ(col->request_count(), 2u);
  EXPECT_EQ(ns_of(col->events()), range(0, 10));
}

TEST(HttpSinkTest, BadRequestIsBisectedToDeadLetterOnlyThePoisonEvent) {
  auto col = collector();
  ASSERT_TRUE(col);
  col->set_poison("Poison", PoisonMode::kBadRequest);
  SinkHarness h(http_config(col->url()));
  ASSERT_TRUE(h.start().is_ok());
  auto batch = events(0, 40);
  batch[17] = test_event(17, 10, "Poison");
  ASSERT_TRUE(h.submit(batch).is_ok());
  ASSERT_TRUE(h.wait_handled(40));
  auto got = ns_of(col->events());
  std::vector<int> want = range(0, 40);
  want.erase(want.begin() + 17);
  EXPECT_EQ(got, want);
  auto dl = h.dead_letters();
  ASSERT_EQ(dl.size(), 1u);
  auto j = nlohmann::json::parse(dl[0]);
  EXPECT_EQ(j["event"]["properties"]["n"], 17);
  EXPECT_NE(j["reason"].get<std::string>().find("400"), std::string::npos) << dl[0];
}

TEST(HttpSinkTest, PartialAnswerRejectionsGoToTheDeadLetterFile) {
  auto col = collector();
  ASSERT_TRUE(col);
  col->set_poison("Poison", PoisonMode::kRejectList);
  SinkHarness h(http_config(col->url()));
  ASSERT_TRUE(h.start().is_ok());
  auto batch = events(0, 10);
  batch[3] = test_event(3, 10, "Poison");
  batch[8] = test_event(8, 10, "Poison");
  ASSERT_TRUE(h.submit(batch).is_ok());
  ASSERT_TRUE(h.wait_handled(10));
  EXPECT_EQ(col->request_count(), 1u);  // no bisection needed
  EXPECT_EQ(ns_of(col->events()), (std::vector<int>{0, 1, 2, 4, 5, 6, 7, 9}));
  auto dl = h.dead_letters();
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(dl[0])["event"]["properties"]["n"], 3);
  EXPECT_EQ(nlohmann::json::parse(dl[1])["event"]["properties"]["n"], 8);
  EXPECT_NE(dl[0].find("poison"), std::string::npos);
}

TEST(HttpSinkTest, WrongWriteKeyKeepsEventsAndReportsTheSinkDown) {
  auto col = collector();
  ASSERT_TRUE(col);
  col->require_write_key("other-key");
  SinkHarness h(http_config(col->url()));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 5)).is_ok());
  std::string why;
  ASSERT_TRUE(tern::testing::wait_until([&] { return !h.ready(&why) && h.failures() >= 2; }, 5s));
  EXPECT_NE(why.find("401"), std::string::npos) << why;
  EXPECT_EQ(h.delivered(), 0u);
  EXPECT_EQ(h.dead_lettered(), 0u);  // a config problem never drops data
  col->require_write_key("edge-key");
  ASSERT_TRUE(h.wait_handled(5, 10s));
  EXPECT_EQ(ns_of(col->events()), range(0, 5));
}

TEST(HttpSinkTest, BadSettingsAreRefused) {
  SinkContext ctx;
  Metrics m;
  ctx.metrics = &m;
  auto make = [&](std::map<std::string, std::string> s) {
    SinkConfig c;
    c.name = "f";
    c.type = "http";
    c.settings = std::move(s);
    return make_http_sink(c, ctx);
  };
  EXPECT_FALSE(make({}).is_ok());
  EXPECT_FALSE(make({{"url", "ftp://x"}}).is_ok());
  EXPECT_FALSE(make({{"url", "http://x"}, {"timeout", "soon"}}).is_ok());
  EXPECT_FALSE(make({{"url", "http://x"}, {"headers.Bad Name", "v"}}).is_ok());
  auto unknown = make({{"url", "http://x"}, {"wirte_key", "k"}});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("wirte_key"), std::string::npos);
  EXPECT_TRUE(make({{"url", "https://core.example:8443"}, {"headers.X-Env", "edge"}}).is_ok());
}

std::vector<nlohmann::json> core_events(const fs::path& dir) {
  std::vector<nlohmann::json> v;
  if (!fs::exists(dir)) return v;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    }
  }
  return v;
}

TEST(HttpSinkRelayTest, EdgeRelayForwardsEveryEventOnceToACoreRelay) {
  tern::testing::TempDir core_dir;
  tern::testing::RelayProcess core;
  ASSERT_TRUE(core.start(
      {"--listen", "127.0.0.1:0", "--data-dir", core_dir.path(), "--write-key", "edge-key"},
      core_dir.path() + "/relay.log"))
      << core.error();
  SinkHarness edge(http_config("http://" + core.address(), {{"timeout", "5s"}}));
  ASSERT_TRUE(edge.start().is_ok());
  auto batch = events(0, 300);
  batch[42] =
      R"({"type":"track","event":"NoIdentity","messageId":"bad-1"})";  // the core refuses it
  ASSERT_TRUE(edge.submit(batch).is_ok());
  ASSERT_TRUE(edge.wait_handled(300, 20s));
  ASSERT_TRUE(edge.stop(5s).is_ok());
  EXPECT_EQ(core.terminate(), 0);

  auto got = core_events(fs::path(core_dir.path()) / "events");
  std::set<std::string> ids;
  for (const auto& e : got) EXPECT_TRUE(ids.insert(e["messageId"].get<std::string>()).second);
  std::vector<int> want = range(0, 300);
  want.erase(want.begin() + 42);
  EXPECT_EQ(ns_of(got), want);
  auto dl = edge.dead_letters();
  ASSERT_EQ(dl.size(), 1u);  // mapped from the core's 200 partial answer
  EXPECT_NE(dl[0].find("bad-1"), std::string::npos);
}

}  // namespace
}  // namespace tern::relay
