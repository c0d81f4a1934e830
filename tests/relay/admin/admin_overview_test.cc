// The console's overview and dead letters through AdminApi::handle(): a real
// ControlStore in a temp dir, a StatsHistory sampled by the test, and a fake
// pipeline naming each sink's dead-letter file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin_api.h"
#include "fake_durable_pipeline.h"
#include "quiet_applier.h"
#include "request_handler.h"
#include "temp_dir.h"
#include "tern/relay/stats_history.h"

namespace tern::relay::control {
namespace {

constexpr const char* kToken = "tat_overview_tests";

struct Answer {
  int status = 0;
  Json body;
  std::string raw;
  std::string code() const { return body.is_object() ? body["error"].value("code", "") : ""; }
};

class AdminOverviewTest : public ::testing::Test {
 protected:
  AdminOverviewTest() {
    auto s = ControlStore::open(dir.file("control/state.db"));
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    store = std::move(s).value();
    api = std::make_unique<AdminApi>(store.get(), &applier, &metrics, AdminOptions{});
    api->set_bootstrap_token(kToken);
    pipeline.edit([&](auto& st) {
      st.last_seq = 12;
      st.spool_bytes = 4096;
      st.spool_max_bytes = 1 << 20;
      st.sources = {"web"};
      st.sinks = {sink("archive", dir.file("dead/archive.ndjson")),
                  sink("empty", dir.file("dead/never-written.ndjson"))};
    });
    history = std::make_unique<StatsHistory>(metrics, pipeline);
    api->set_console({nullptr, history.get(), &pipeline});
  }

  static DurablePipeline::SinkState sink(std::string name, std::string dead_letter_path) {
    DurablePipeline::SinkState s;
    s.name = std::move(name);
    s.type = "file";
    s.up = true;
    s.cursor = 12;
    s.dead_letter_path = std::move(dead_letter_path);
    return s;
  }

  Answer get(const std::string& target, const std::string& token = kToken) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    if (!token.empty()) req.authorization = "Bearer " + token;
    req.peer_ip = "127.0.0.1";
    req.received_at = std::chrono::system_clock::now();
    req.received_steady = std::chrono::steady_clock::now();
    std::optional<HttpResponse> got;
    api->handle(std::move(req), *scratch, [&](HttpResponse r) { got = std::move(r); });
    EXPECT_TRUE(got.has_value()) << target << " was not answered inline";
    Answer a;
    if (!got) return a;
    a.status = got->status;
    a.raw = got->body;
    a.body = Json::parse(got->body, nullptr, false);
    return a;
  }

  // Appends dead letters as the sink runner writes them, one JSON object a line.
  void dead_letter(uint64_t seq, const std::string& reason) {
    std::filesystem::create_directories(dir.file("dead"));
    std::ofstream out(dir.file("dead/archive.ndjson"), std::ios::app);
    out << R"({"sink":"archive","reason":")" << reason << R"(","seq":)" << seq
        << R"(,"source":"web","event":{"type":"track","event":"E)" << seq << R"("}})"
        << "\n";
  }

  tern::testing::TempDir dir;
  QuietApplier applier;
  Metrics metrics;
  testing::FakeDurablePipeline pipeline;
  std::unique_ptr<StatsHistory> history;
  std::unique_ptr<ControlStore> store;
  std::unique_ptr<AdminApi> api;
  std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> scratch = make_request_scratch();
};

TEST_F(AdminOverviewTest, OverviewAnswersThePerSecondHistoryOfSourcesSinksAndSpool) {
  metrics.counter("tern_relay_events_accepted_total", "source=\"web\"").inc(5);
  metrics.counter("tern_relay_source_events_rejected_total", "source=\"web\",reason=\"too_large\"")
      .inc(2);
  metrics.counter("tern_relay_sink_delivered_events_total", sink_label("archive")).inc(4);
  history->sample_now();

  Answer a = get("/admin/v1/overview");
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_TRUE(a.body["now"].is_string());
  EXPECT_EQ(a.body["interval_seconds"], 1);
  EXPECT_EQ(a.body["window_seconds"], 900);
  ASSERT_EQ(a.body["sources"].size(), 1u) << a.raw;
  const Json& web = a.body["sources"][0];
  EXPECT_EQ(web["id"], "web");
  EXPECT_EQ(web["accepted_per_second"], Json::array({5}));
  EXPECT_EQ(web["rejected_per_second"], Json::array({2}));
  EXPECT_EQ(web["accepted_total"], 5);
  EXPECT_EQ(web["rejected_total"], 2);
  EXPECT_EQ(web["rejected_by_reason"], Json({{"too_large", 2}}));
  ASSERT_EQ(a.body["sinks"].size(), 2u);
  const Json& archive = a.body["sinks"][0];
  EXPECT_EQ(archive["name"], "archive");
  EXPECT_EQ(archive["type"], "file");
  EXPECT_EQ(archive["up"], true);
  EXPECT_EQ(archive["last_error"], "");
  EXPECT_EQ(archive["delivered_per_second"], Json::array({4}));
  EXPECT_EQ(archive["delivered_total"], 4);
  EXPECT_EQ(archive["dead_lettered_total"], 0);
  EXPECT_EQ(archive["lag_events"], 0);
  EXPECT_EQ(archive["lag_seconds"], 0);
  EXPECT_EQ(a.body["spool"], Json({{"bytes", 4096},
                                   {"max_bytes", 1 << 20},
                                   {"last_seq", 12},
                                   {"bytes_per_second", Json::array({4096})}}));
}

TEST_F(AdminOverviewTest, OverviewAndDeadLettersNeedAToken) {
  EXPECT_EQ(get("/admin/v1/overview", "").status, 401);
  EXPECT_EQ(get("/admin/v1/overview", "tat_wrong").status, 401);
  EXPECT_EQ(get("/admin/v1/sinks/archive/dead-letters", "").status, 401);
}

TEST_F(AdminOverviewTest, OverviewIs503WhenTheRelayKeepsNoHistory) {
  api->set_console({nullptr, nullptr, &pipeline});
  Answer a = get("/admin/v1/overview");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.code(), "unavailable");
}

TEST_F(AdminOverviewTest, DeadLettersAreTheNewestLinesNewestFirstWithTheirReasons) {
  dead_letter(3, "invalid_event");
  dead_letter(7, "too_large");
  dead_letter(9, "rejected by the sink");
  Answer a = get("/admin/v1/sinks/archive/dead-letters");
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["sink"], "archive");
  EXPECT_EQ(a.body["path"], dir.file("dead/archive.ndjson"));
  const Json& items = a.body["items"];
  ASSERT_EQ(items.size(), 3u) << a.raw;
  EXPECT_EQ(items[0]["seq"], 9);
  EXPECT_EQ(items[0]["reason"], "rejected by the sink");
  EXPECT_EQ(items[1]["seq"], 7);
  EXPECT_EQ(items[1]["reason"], "too_large");
  EXPECT_EQ(items[2]["seq"], 3);
  EXPECT_EQ(items[2]["sink"], "archive");
  EXPECT_EQ(items[2]["source"], "web");
  EXPECT_EQ(items[2]["event"], Json({{"type", "track"}, {"event", "E3"}}));
}

TEST_F(AdminOverviewTest, DeadLettersHonourTheLimit) {
  for (uint64_t seq = 1; seq <= 120; ++seq) dead_letter(seq, "invalid_event");
  Answer a = get("/admin/v1/sinks/archive/dead-letters?limit=2");
  ASSERT_EQ(a.status, 200) << a.raw;
  ASSERT_EQ(a.body["items"].size(), 2u);
  EXPECT_EQ(a.body["items"][0]["seq"], 120);
  EXPECT_EQ(a.body["items"][1]["seq"], 119);
  Answer dflt = get("/admin/v1/sinks/archive/dead-letters");
  ASSERT_EQ(dflt.body["items"].size(), 50u);
  EXPECT_EQ(dflt.body["items"][49]["seq"], 71);
  for (const char* bad : {"0", "1001", "x", ""}) {
    Answer b = get(std::string("/admin/v1/sinks/archive/dead-letters?limit=") + bad);
    // As every list of this API answers a bad ?limit=.
    EXPECT_EQ(b.status, 422) << bad;
    EXPECT_EQ(b.code(), "invalid_field");
    EXPECT_EQ(b.body["error"].value("field", ""), "limit") << b.raw;
  }
}

TEST_F(AdminOverviewTest, DeadLettersReadOnlyTheTailOfALargeFile) {
  // About 6 MiB of older lines, then the newest: the answer comes from the
  // end of the file.
  {
    std::filesystem::create_directories(dir.file("dead"));
    std::ofstream out(dir.file("dead/archive.ndjson"));
    const std::string filler =
        R"({"sink":"archive","reason":"old","seq":0,"source":"web","event":{"p":")" +
        std::string(1000, 'x') + "\"}}\n";
    for (int i = 0; i < 6000; ++i) out << filler;
  }
  dead_letter(6001, "newest");
  Answer a = get("/admin/v1/sinks/archive/dead-letters?limit=1000");
  ASSERT_EQ(a.status, 200);
  const Json& items = a.body["items"];
  ASSERT_EQ(items.size(), 1000u);
  EXPECT_EQ(items[0]["seq"], 6001);
  EXPECT_EQ(items[1]["reason"], "old");
}

TEST_F(AdminOverviewTest, DeadLettersStopAtTheirByteBoundAndSaySo) {
  {
    std::filesystem::create_directories(dir.file("dead"));
    std::ofstream out(dir.file("dead/archive.ndjson"));
    out << R"({"sink":"archive","reason":"huge","seq":1,"source":"web","event":{"p":")"
        << std::string(5 << 20, 'x') << "\"}}\n";
  }
  dead_letter(2, "newest");
  Answer a = get("/admin/v1/sinks/archive/dead-letters?limit=2");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.body["items"].size(), 1u) << "the 5 MiB line is past the 4 MiB read";
  EXPECT_EQ(a.body["items"][0]["seq"], 2);
  EXPECT_EQ(a.body["truncated"], true);
}

TEST_F(AdminOverviewTest, ALineThatIsNotJsonComesBackRaw) {
  std::filesystem::create_directories(dir.file("dead"));
  {
    std::ofstream out(dir.file("dead/archive.ndjson"));
    out << "not json at all\n";
  }
  dead_letter(4, "too_large");
  {
    std::ofstream out(dir.file("dead/archive.ndjson"), std::ios::app);
    out << R"({"sink":"archive","reason":"torn)";  // a write cut short
  }
  Answer a = get("/admin/v1/sinks/archive/dead-letters");
  ASSERT_EQ(a.status, 200) << a.raw;
  const Json& items = a.body["items"];
  ASSERT_EQ(items.size(), 3u) << a.raw;
  EXPECT_EQ(items[0], Json({{"raw", R"({"sink":"archive","reason":"torn)"}}));
  EXPECT_EQ(items[1]["seq"], 4);
  EXPECT_EQ(items[2], Json({{"raw", "not json at all"}}));
}

TEST_F(AdminOverviewTest, AnUnknownSinkIs404AndAnAbsentFileAnEmptyList) {
  Answer unknown = get("/admin/v1/sinks/nope/dead-letters");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.code(), "not_found");
  EXPECT_NE(unknown.body["error"].value("message", "").find("nope"), std::string::npos);
  Answer empty = get("/admin/v1/sinks/empty/dead-letters");
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(empty.body["items"], Json::array());
  EXPECT_EQ(empty.body["sink"], "empty");
}

}  // namespace
}  // namespace tern::relay::control
