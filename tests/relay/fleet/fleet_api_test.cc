// The fleet follower and ternctl against the real admin API (AdminApi on an
// HttpServer over loopback, a ControlStore in a temp dir), with Appliers that
// validate as the relay does and record what they apply: the protocol both
// sides speak, without the relay program around them.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin_api.h"
#include "applier.h"
#include "control_store.h"
#include "fleet_follower.h"
#include "http_server.h"
#include "process_util.h"
#include "wait_until.h"

namespace tern::relay::control {
namespace {

using namespace std::chrono_literals;
using tern::testing::TempDir;
using tern::testing::wait_until;
using tern::testing::fleet::CtlRun;
using tern::testing::fleet::http;
using tern::testing::fleet::HttpAnswer;
using tern::testing::fleet::read_file;
using tern::testing::fleet::write_file;
using SteadyClock = std::chrono::steady_clock;

constexpr const char kBootstrap[] = "tat_bootstrap_for_fleet_api_tests";

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Validates a state as the relay does (to_relay_config) and records what it
// applies; refuses to apply any state with a sink named `refuse_sink`.
class RecordingApplier : public Applier {
 public:
  explicit RecordingApplier(std::string data_dir, std::string refuse_sink = {})
      : base_(default_config(std::move(data_dir), {"unused"})),
        refuse_sink_(std::move(refuse_sink)) {}

  bool validate(const State& state, std::vector<FieldError>* errors) override {
    return to_relay_config(state, base_, errors).is_ok();
  }
  Status apply(const State& state) override {
    std::vector<FieldError> errors;
    auto config = to_relay_config(state, base_, &errors);
    if (!config) return config.status();
    for (const Json& sink : state.sinks) {
      if (!refuse_sink_.empty() && sink.value("name", "") == refuse_sink_)
        return Status::Unavailable("sinks/" + refuse_sink_ + ": cannot build it on this relay");
    }
    std::lock_guard<std::mutex> lock(mu_);
    applied_.push_back(state);
    return Status::ok();
  }
  int64_t applied_revision() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_.empty() ? 0 : applied_.back().revision;
  }
  uint64_t undelivered(std::string_view) const override { return 0; }
  void count_discarded(std::string_view, uint64_t) override {}
  Status test_sink(const Json&) override { return Status::ok(); }

  // The write keys of the running state, by value.
  std::vector<std::string> keys() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    if (applied_.empty()) return out;
    for (const Json& s : applied_.back().sources) {
      for (const Json& k : s["write_keys"]) out.push_back(k["key"]);
    }
    return out;
  }

 private:
  RelayConfig base_;
  std::string refuse_sink_;
  mutable std::mutex mu_;
  std::vector<State> applied_;
};

class FleetApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    auto store = ControlStore::open(dir_.file("control/data/control/state.db"));
    ASSERT_TRUE(store) << store.status().to_string();
    store_ = std::move(store.value());
    control_applier_ = std::make_unique<RecordingApplier>(dir_.file("control/data"));
    // Seeded as a control relay seeds its store: the embedded default.
    State seed =
        state_from_config(default_config(dir_.file("control/data"), {"seed-key"}), now_iso());
    auto committed = store_->commit(0, seed, "seed", "seeded", {}, now_iso());
    ASSERT_TRUE(committed) << committed.status().to_string();
    ASSERT_TRUE(control_applier_->apply(committed.value()));

    api_ = std::make_unique<AdminApi>(store_.get(), control_applier_.get(), &control_metrics_,
                                      AdminOptions{});
    api_->set_bootstrap_token(kBootstrap);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto server = HttpServer::start(options, api_.get());
    ASSERT_TRUE(server) << server.status().to_string();
    server_ = std::move(server.value());
    url_ = "http://" + server_->local_address();
  }

  void TearDown() override {
    followers_.clear();
    // The server stops first (its handler is the API), cutting the long polls
    // still pending; the API's destructor answers them into the stopped
    // server, which must still exist.
    if (server_) server_->stop(SteadyClock::now() + 200ms);
    api_.reset();
    server_.reset();
  }

  HttpAnswer api(const std::string& method, const std::string& path, const Json& body = nullptr) {
    return http(method, url_ + path, kBootstrap, body.is_null() ? "" : body.dump());
  }
  int64_t head() {
    auto h = store_->head();
    return h ? h->revision : -1;
  }

  // A managed edge: a follower with its own applier and metrics.
  struct Edge {
    std::string id;
    std::unique_ptr<RecordingApplier> applier;
    Metrics metrics;
    std::unique_ptr<FleetFollower> follower;
  };

  Edge& start_edge(const std::string& id, const std::string& refuse_sink = {},
                   std::chrono::seconds wait = 30s) {
    if (relay_token_.empty()) {
      HttpAnswer t = api("POST", "/admin/v1/tokens", {{"name", "edges"}, {"scopes", {"relay"}}});
      EXPECT_EQ(t.status, 201) << t.body;
      relay_token_ = t.json().value("token", "");
    }
    auto edge = std::make_unique<Edge>();
    edge->id = id;
    edge->applier = std::make_unique<RecordingApplier>(dir_.file(id), refuse_sink);
    FollowerOptions o;
    o.control_url = url_;
    o.token = relay_token_;
    o.relay_id = id;
    o.labels = {{"region", "eu"}};
    o.version = "test";
    o.cache_path = dir_.file(id + "/control/snapshot.json");
    o.wait = wait;
    RecordingApplier* applier = edge->applier.get();
    edge->follower = std::make_unique<FleetFollower>(
        o, [applier](const State& s) { return applier->apply(s); }, &edge->metrics);
    edge->follower->start();
    followers_.push_back(std::move(edge));
    return *followers_.back();
  }

  Json relay_entry(const std::string& id) {
    HttpAnswer a = api("GET", "/admin/v1/relays");
    if (a.status != 200) return nullptr;
    Json doc = a.json();
    for (const Json& r : doc["items"]) {
      if (r.value("relay_id", "") == id) return r;
    }
    return nullptr;
  }
  bool runs(const std::string& id, int64_t revision, const std::string& status) {
    Json r = relay_entry(id);
    return r.is_object() && r.value("applied_revision", int64_t{-1}) == revision &&
           r.value("status", "") == status;
  }

  CtlRun ctl(std::vector<std::string> args) {
    write_file(dir_.file("admin.token"), std::string(kBootstrap) + "\n");
    std::vector<std::string> with = {"--server", url_, "--token-file", dir_.file("admin.token")};
    with.insert(with.end(), args.begin(), args.end());
    return tern::testing::fleet::ternctl(with, {"TERN_ADMIN_TOKEN="}, dir_);
  }

  TempDir dir_;
  Metrics control_metrics_;
  std::unique_ptr<ControlStore> store_;
  std::unique_ptr<RecordingApplier> control_applier_;
  std::unique_ptr<AdminApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::string relay_token_;
  std::vector<std::unique_ptr<Edge>> followers_;
};

TEST_F(FleetApiTest, EdgesRunWhatTheApiCommitsWithinASecondAndTheRelaysListShowsIt) {
  Edge& a = start_edge("edge-a");
  Edge& b = start_edge("edge-b");
  int64_t seeded = head();
  ASSERT_TRUE(wait_until([&] {
    return runs("edge-a", seeded, "ok") && runs("edge-b", seeded, "ok");
  })) << api("GET", "/admin/v1/relays").body;
  Json entry = relay_entry("edge-a");
  EXPECT_EQ(entry["labels"], (Json{{"region", "eu"}}));
  EXPECT_EQ(entry["version"], "test");

  HttpAnswer created = api("POST", "/admin/v1/sources", {{"id", "web"}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string key = created.json()["write_keys"][0]["key"];
  auto t0 = SteadyClock::now();
  for (Edge* e : {&a, &b}) {
    EXPECT_TRUE(wait_until(
        [&] {
          auto keys = e->applier->keys();
          return std::find(keys.begin(), keys.end(), key) != keys.end();
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(t0 + 1s - SteadyClock::now())))
        << e->id;
  }
  int64_t now = head();
  EXPECT_TRUE(wait_until([&] { return runs("edge-a", now, "ok") && runs("edge-b", now, "ok"); }));
  EXPECT_EQ(a.metrics.gauge("tern_relay_config_revision").value(), now);

  auto cached = FleetFollower::load_cache(dir_.file("edge-a/control/snapshot.json"));
  ASSERT_TRUE(cached && cached->has_value());
  EXPECT_EQ((*cached)->revision, now);
  EXPECT_NE((*cached)->to_json(false).dump().find(key), std::string::npos)
      << "the cache holds the key in clear: an edge restarted offline accepts it";
}

TEST_F(FleetApiTest, ARevisionAnEdgeCannotApplyIsListedWithItsErrorAndTheEdgeKeepsThePreviousOne) {
  start_edge("edge-a", "edge-cannot");
  Edge& b = start_edge("edge-b");
  int64_t good = head();
  ASSERT_TRUE(wait_until([&] { return runs("edge-a", good, "ok") && runs("edge-b", good, "ok"); }));

  HttpAnswer sink = api("POST", "/admin/v1/sinks", {{"name", "edge-cannot"}, {"type", "stdout"}});
  ASSERT_EQ(sink.status, 201) << sink.body;
  int64_t bad = head();
  ASSERT_TRUE(wait_until([&] { return runs("edge-a", good, "error"); }))
      << api("GET", "/admin/v1/relays").body;
  Json entry = relay_entry("edge-a");
  ASSERT_EQ(entry["errors"].size(), 1u) << entry.dump();
  EXPECT_NE(entry["errors"][0].get<std::string>().find("sinks/edge-cannot"), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return runs("edge-b", bad, "ok"); }));
  EXPECT_EQ(followers_[0]->applier->applied_revision(), good);
  EXPECT_EQ(followers_[0]->metrics.gauge("tern_relay_config_revision").value(), good);
  EXPECT_EQ(b.metrics.gauge("tern_relay_config_revision").value(), bad);

  CtlRun table = ctl({"get", "relays"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("edge-a"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("cannot build it on this relay"), std::string::npos) << table.out;

  HttpAnswer removed = api("DELETE", "/admin/v1/sinks/edge-cannot");
  ASSERT_EQ(removed.status, 204) << removed.body;
  int64_t fixed = head();
  EXPECT_TRUE(wait_until([&] { return runs("edge-a", fixed, "ok"); }));
  EXPECT_TRUE(relay_entry("edge-a")["errors"].empty());
}

TEST_F(FleetApiTest, AQuietEdgeLongPollsThroughNotModifiedAndStaysSeen) {
  Edge& edge = start_edge("edge-a", {}, 1s);
  int64_t seeded = head();
  ASSERT_TRUE(wait_until([&] { return runs("edge-a", seeded, "ok"); }));
  std::string first_seen = relay_entry("edge-a").value("last_seen", "");
  // Nothing changes: each long poll ends in a 304 after a second, and the
  // heartbeat keeps last_seen fresh and the age low.
  for (int beat = 0; beat < 2; ++beat) {
    ASSERT_TRUE(
        wait_until([&] { return relay_entry("edge-a").value("last_seen", "") != first_seen; }, 10s))
        << "heartbeat " << beat;
    first_seen = relay_entry("edge-a").value("last_seen", "");
  }
  EXPECT_LE(edge.metrics.gauge("tern_relay_config_age_seconds").value(), 2);
  EXPECT_EQ(edge.applier->applied_revision(), seeded);

  // And a commit still reaches it at once.
  ASSERT_EQ(api("POST", "/admin/v1/sources", {{"id", "late"}}).status, 201);
  int64_t now = head();
  EXPECT_TRUE(wait_until([&] { return edge.applier->applied_revision() == now; }, 1s));
}

TEST_F(FleetApiTest, TernctlCreatesListsPlansAppliesAndRestores) {
  CtlRun created = ctl({"create", "source", "web"});
  ASSERT_EQ(created.code, 0) << created.err;
  std::string key = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(key.rfind("tk_", 0), 0u) << created.out;

  CtlRun sources = ctl({"get", "sources"});
  ASSERT_EQ(sources.code, 0) << sources.err;
  EXPECT_NE(sources.out.find("\nweb "), std::string::npos) << sources.out;
  EXPECT_NE(sources.out.find("\ndefault "), std::string::npos) << sources.out;

  // The file: what runs now (the default source and sink, web with its key),
  // plus a sink and a route.
  std::string file = dir_.file("pipeline.toml");
  write_file(file,
             "[[sources]]\nid = \"default\"\nwrite_keys = [\"seed-key\"]\n"
             "[[sources]]\nid = \"web\"\nwrite_keys = [\"" +
                 key +
                 "\"]\n"
                 "[[sinks]]\nname = \"file\"\ntype = \"file\"\n"
                 "[[sinks]]\nname = \"console\"\ntype = \"stdout\"\n"
                 "[[routes]]\nsinks = [\"file\"]\n"
                 "[[routes]]\nsources = [\"web\"]\nsinks = [\"console\"]\n");
  int64_t before = head();
  CtlRun plan = ctl({"plan", "-f", file});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("+ sinks/console"), std::string::npos) << plan.out;
  EXPECT_EQ(plan.out.find("sources/web"), std::string::npos) << "its key is kept\n" << plan.out;
  EXPECT_EQ(plan.out.find("sources/default"), std::string::npos) << plan.out;
  EXPECT_EQ(plan.out.find("sinks/file"), std::string::npos) << plan.out;
  EXPECT_EQ(head(), before);

  CtlRun apply = ctl({"apply", "-f", file});
  ASSERT_EQ(apply.code, 0) << apply.err;
  EXPECT_EQ(apply.out, "applied: revision " + std::to_string(head()) + "\n");
  EXPECT_EQ(head(), before + 1);
  CtlRun again = ctl({"plan", "-f", file});
  EXPECT_EQ(again.out, "no changes\n") << again.err;

  CtlRun restore = ctl({"restore", std::to_string(before)});
  ASSERT_EQ(restore.code, 0) << restore.err;
  EXPECT_EQ(restore.out, "restored revision " + std::to_string(before) + " as revision " +
                             std::to_string(before + 2) + "\n");
  EXPECT_EQ(ctl({"get", "sinks"}).out.find("console"), std::string::npos);

  CtlRun revisions = ctl({"get", "revisions", "-o", "json"});
  ASSERT_EQ(revisions.code, 0) << revisions.err;
  EXPECT_EQ(Json::parse(revisions.out)["items"].size(), static_cast<size_t>(before + 2));

  // Small pages: get follows next_cursor to the end.
  ASSERT_EQ(ctl({"create", "source", "ios"}).code, 0);
  CtlRun paged = ctl({"get", "sources", "--page-size", "1", "-o", "json"});
  ASSERT_EQ(paged.code, 0) << paged.err;
  std::vector<std::string> ids;
  Json doc = Json::parse(paged.out);
  for (const Json& item : doc["items"]) ids.push_back(item["id"]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"default", "ios", "web"}));

  CtlRun missing = ctl({"delete", "route", "rt_nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace tern::relay::control
