// FleetFollower against a fake control plane (an HttpServer on loopback with
// a scripted handler): long poll, apply, cache, reports, backoff, stop.
#include "fleet_follower.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_server.h"
#include "temp_dir.h"
#include "tern/relay/log.h"
#include "wait_until.h"

namespace tern::relay::control {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using tern::testing::TempDir;
using tern::testing::wait_until;

constexpr const char kToken[] = "relay-token";

HttpResponse json_response(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.is_null() ? "" : body.dump();
  return r;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}}}});
}

// The state a control plane would serve at `revision`: one source "app" with
// key "key-<revision>", plus `extra_sink` when given.
Json state_json(int64_t revision, const std::string& extra_sink = {}) {
  Json sinks = Json::array();
  sinks.push_back({{"name", "events"}, {"type", "stdout"}, {"revision", 1}});
  if (!extra_sink.empty())
    sinks.push_back({{"name", extra_sink}, {"type", "stdout"}, {"revision", revision}});
  return {{"revision", revision},
          {"sources",
           {{{"id", "app"},
             {"ack_mode", "local"},
             {"write_keys",
              {{{"id", "wk_" + std::to_string(revision)},
                {"key", "key-" + std::to_string(revision)},
                {"created_at", "2026-12-06T09:00:00Z"}}}},
             {"revision", revision}}}},
          {"sinks", sinks},
          {"routes", Json::array()},
          {"suppressions", Json::array()}};
}

// A control plane's fleet endpoints, scripted: GET /admin/v1/fleet/snapshot
// answers the published snapshot when the poller's If-None-Match differs,
// otherwise holds the poll for `hold` and answers 304; POST
// /admin/v1/fleet/reports records the report.
class FakeControl : public HttpHandler {
 public:
  struct Poll {
    std::string target;
    std::string if_none_match;
    SteadyClock::time_point at;
  };

  explicit FakeControl(std::chrono::milliseconds hold) : hold_(hold) {
    timer_ = std::thread([this] { timer_loop(); });
  }
  ~FakeControl() override { shutdown(); }

  void publish(int64_t revision, Json state) {
    std::vector<Respond> answer;
    HttpResponse r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      revision_ = revision;
      state_ = std::move(state);
      for (auto& h : held_) answer.push_back(std::move(h.respond));
      held_.clear();
      r = snapshot_locked();
    }
    for (auto& respond : answer) respond(r);
  }

  void fail_with(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_status_ = status;
  }

  std::vector<Poll> polls() {
    std::lock_guard<std::mutex> lock(mu_);
    return polls_;
  }
  std::vector<Json> reports() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }

  // Answers every held poll (304) and stops the timer. Call before the
  // server stops: a held answer must not outlive its server.
  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (timer_.joinable()) timer_.join();
    release_held(SteadyClock::time_point::max());
  }

  void handle(HttpRequest req, RequestScratch&, Respond respond) override {
    std::string path = req.target.substr(0, req.target.find('?'));
    if (req.authorization != std::string("Bearer ") + kToken) {
      respond(error_response(401, "unauthenticated", "unknown token"));
      return;
    }
    if (req.method == "GET" && path == "/admin/v1/fleet/snapshot") {
      HttpResponse r;
      {
        std::lock_guard<std::mutex> lock(mu_);
        polls_.push_back(Poll{req.target, req.if_none_match, SteadyClock::now()});
        if (fail_status_ != 0) {
          r = error_response(fail_status_, "internal", "scripted failure");
        } else if (revision_ > 0 && req.if_none_match != etag(revision_)) {
          r = snapshot_locked();
        } else {
          held_.push_back(Held{SteadyClock::now() + hold_, std::move(respond)});
          return;
        }
      }
      respond(std::move(r));
      return;
    }
    if (req.method == "POST" && path == "/admin/v1/fleet/reports") {
      Json doc = Json::parse(req.body, nullptr, false);
      {
        std::lock_guard<std::mutex> lock(mu_);
        reports_.push_back(doc);
      }
      HttpResponse r;
      r.status = 204;
      respond(std::move(r));
      return;
    }
    respond(error_response(404, "not_found", "no such path " + path));
  }

  HttpResponse server_limit(ServerLimit, std::string_view) override {
    return error_response(413, "too_large", "limit");
  }
  LimitsConfig limits() const override { return LimitsConfig{}; }

 private:
  struct Held {
    SteadyClock::time_point until;
    Respond respond;
  };

  static std::string etag(int64_t revision) { return "\"" + std::to_string(revision) + "\""; }

  HttpResponse snapshot_locked() const {
    HttpResponse r = json_response(200, {{"revision", revision_}, {"state", state_}});
    r.headers.emplace_back("ETag", etag(revision_));
    return r;
  }

  void release_held(SteadyClock::time_point now) {
    std::vector<Respond> answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = held_.begin(); it != held_.end();) {
        if (it->until <= now) {
          answer.push_back(std::move(it->respond));
          it = held_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& respond : answer) {
      HttpResponse r;
      r.status = 304;
      respond(std::move(r));
    }
  }

  void timer_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, 5ms);
      lock.unlock();
      release_held(SteadyClock::now());
      lock.lock();
    }
  }

  const std::chrono::milliseconds hold_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread timer_;
  int64_t revision_ = 0;
  Json state_;
  int fail_status_ = 0;
  std::vector<Held> held_;
  std::vector<Poll> polls_;
  std::vector<Json> reports_;
};

class FleetFollowerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    follower_.reset();  // stop(): no request of its own in flight any more
    if (control_) control_->shutdown();
    if (server_) server_->stop(SteadyClock::now() + 2s);
    server_.reset();
    control_.reset();
    log::set_output({});
  }

  void start_control(std::chrono::milliseconds hold = 30s) {
    control_ = std::make_unique<FakeControl>(hold);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    auto s = HttpServer::start(options, control_.get());
    ASSERT_TRUE(s) << s.status().to_string();
    server_ = std::move(s.value());
  }

  FollowerOptions options() {
    FollowerOptions o;
    o.control_url = "http://" + (server_ ? server_->local_address() : std::string("127.0.0.1:1"));
    o.token = kToken;
    o.relay_id = "edge test/1";  // escaped in the query
    o.labels = {{"region", "eu"}};
    o.version = "9.9.9";
    o.cache_path = dir_.file("control/snapshot.json");
    o.wait = 30s;
    o.backoff_base = 50ms;
    o.backoff_max = 200ms;
    return o;
  }

  // A follower whose apply refuses any state holding a sink named "bad".
  void make_follower(FollowerOptions o) {
    follower_ = std::make_unique<FleetFollower>(
        std::move(o),
        [this](const State& s) {
          std::lock_guard<std::mutex> lock(mu_);
          attempts_.push_back(s.revision);
          for (const Json& sink : s.sinks) {
            if (sink.value("name", "") == "bad")
              return Status::Unavailable("sinks/bad: cannot build: scripted failure");
          }
          applied_.push_back(s);
          return Status::ok();
        },
        &metrics_,
        [this](const State& s) {
          std::lock_guard<std::mutex> lock(mu_);
          on_applied_.push_back(s.revision);
        });
  }

  bool reported(int64_t revision, const std::string& status) {
    for (const Json& r : control_->reports()) {
      if (r.value("applied_revision", int64_t{-1}) == revision && r.value("status", "") == status)
        return true;
    }
    return false;
  }

  std::vector<int64_t> attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<int64_t> on_applied() {
    std::lock_guard<std::mutex> lock(mu_);
    return on_applied_;
  }
  int64_t gauge(const char* name) { return metrics_.gauge(name).value(); }

  TempDir dir_;
  Metrics metrics_;
  std::unique_ptr<FakeControl> control_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<FleetFollower> follower_;
  std::mutex mu_;
  std::vector<int64_t> attempts_;
  std::vector<State> applied_;
  std::vector<int64_t> on_applied_;
};

TEST_F(FleetFollowerTest, AppliesANewSnapshotCachesItAndReportsItsRevision) {
  start_control();
  control_->publish(3, state_json(3));
  make_follower(options());
  follower_->start();

  ASSERT_TRUE(wait_until([&] { return reported(3, "ok"); }));
  Json report;
  for (const Json& r : control_->reports()) {
    if (r.value("applied_revision", int64_t{0}) == 3) report = r;
  }
  EXPECT_EQ(report["relay_id"], "edge test/1");
  EXPECT_EQ(report["labels"], (Json{{"region", "eu"}}));
  EXPECT_EQ(report["version"], "9.9.9");
  EXPECT_EQ(report["errors"], Json::array());

  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_EQ(applied_.size(), 1u);
    EXPECT_EQ(applied_[0].revision, 3);
    EXPECT_EQ(applied_[0].sources.at(0).at("write_keys").at(0).at("key"), "key-3");
  }
  EXPECT_EQ(on_applied(), std::vector<int64_t>{3});
  EXPECT_EQ(gauge("tern_relay_config_revision"), 3);

  auto cached = FleetFollower::load_cache(options().cache_path);
  ASSERT_TRUE(cached) << cached.status().to_string();
  ASSERT_TRUE(cached->has_value());
  EXPECT_EQ((*cached)->revision, 3);
  EXPECT_EQ((*cached)->sources.at(0).at("id"), "app");
  struct stat sb;
  ASSERT_EQ(::stat(options().cache_path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u) << "the cache holds secrets in clear";

  // The next poll says which revision runs, the relay id escaped.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& p : control_->polls()) {
      if (p.if_none_match == "\"3\"") return true;
    }
    return false;
  }));
  EXPECT_NE(control_->polls().front().target.find("relay_id=edge%20test%2F1"), std::string::npos)
      << control_->polls().front().target;
  EXPECT_NE(control_->polls().front().target.find("wait=30s"), std::string::npos);
}

TEST_F(FleetFollowerTest, ARevisionThatCannotBeAppliedIsReportedOnceAndThePreviousOneKeepsRunning) {
  start_control(200ms);
  control_->publish(3, state_json(3));
  make_follower(options());
  follower_->start();
  ASSERT_TRUE(wait_until([&] { return reported(3, "ok"); }));

  control_->publish(4, state_json(4, "bad"));
  ASSERT_TRUE(wait_until([&] { return reported(3, "error"); }));
  Json report;
  for (const Json& r : control_->reports()) {
    if (r.value("status", "") == "error") report = r;
  }
  ASSERT_EQ(report["errors"].size(), 1u);
  EXPECT_NE(report["errors"][0].get<std::string>().find("sinks/bad: cannot build"),
            std::string::npos)
      << report.dump();

  // It long-polls on past the failed revision (several 304 cycles) without
  // applying it again.
  ASSERT_TRUE(wait_until([&] {
    int n = 0;
    for (const auto& p : control_->polls()) n += p.if_none_match == "\"4\"";
    return n >= 3;
  }));
  EXPECT_EQ(attempts(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(gauge("tern_relay_config_revision"), 3);
  auto cached = FleetFollower::load_cache(options().cache_path);
  ASSERT_TRUE(cached && cached->has_value());
  EXPECT_EQ((*cached)->revision, 3);

  // A newer revision that applies clears the error.
  control_->publish(5, state_json(5));
  ASSERT_TRUE(wait_until([&] { return reported(5, "ok"); }));
  EXPECT_EQ(gauge("tern_relay_config_revision"), 5);
  EXPECT_EQ(on_applied(), (std::vector<int64_t>{3, 5}));
}

TEST_F(FleetFollowerTest, StopInterruptsALongPollAtOnce) {
  start_control(60s);
  make_follower(options());
  follower_->start();
  ASSERT_TRUE(wait_until([&] { return !control_->polls().empty(); }));

  auto t0 = SteadyClock::now();
  follower_->stop();
  auto took = SteadyClock::now() - t0;
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
}

TEST_F(FleetFollowerTest, RetriesWithJitteredBackoffAndLogsTheOutageOnce) {
  std::mutex log_mu;
  std::vector<std::string> lines;
  log::set_output([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mu);
    lines.emplace_back(line);
  });
  auto count_lines = [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(log_mu);
    int n = 0;
    for (const auto& l : lines) n += l.find(text) != std::string::npos;
    return n;
  };
  start_control(200ms);
  control_->fail_with(503);
  make_follower(options());
  follower_->start();

  ASSERT_TRUE(wait_until([&] { return control_->polls().size() >= 5; }));
  auto polls = control_->polls();
  for (std::size_t i = 1; i < polls.size(); ++i) {
    // Equal jitter: at least half of the base delay between attempts.
    EXPECT_GE(polls[i].at - polls[i - 1].at, 25ms) << "attempt " << i;
  }
  EXPECT_EQ(count_lines("control plane unreachable"), 1);

  control_->fail_with(0);
  control_->publish(2, state_json(2));
  ASSERT_TRUE(wait_until([&] { return reported(2, "ok"); }));
  EXPECT_EQ(count_lines("control plane reachable again"), 1);
  EXPECT_EQ(count_lines("control plane unreachable"), 1);
}

TEST_F(FleetFollowerTest, AWrongTokenIsRetriedAndNamedInTheLog) {
  std::mutex log_mu;
  std::string log_text;
  log::set_output([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mu);
    log_text += line;
  });
  start_control(200ms);
  auto o = options();
  o.token = "wrong";
  make_follower(o);
  follower_->start();
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard<std::mutex> lock(log_mu);
    return log_text.find("HTTP 401") != std::string::npos;
  }));
  std::lock_guard<std::mutex> lock(log_mu);
  EXPECT_NE(log_text.find("unknown token"), std::string::npos) << log_text;
}

TEST_F(FleetFollowerTest, HeartbeatsKeepTheControlPlaneInformedWhileNothingChanges) {
  start_control(100ms);
  control_->publish(7, state_json(7));
  auto o = options();
  o.wait = 1s;
  make_follower(o);
  follower_->start();
  ASSERT_TRUE(wait_until([&] { return reported(7, "ok"); }));
  std::size_t after_apply = control_->reports().size();
  ASSERT_TRUE(wait_until([&] { return control_->reports().size() >= after_apply + 2; }, 10s));
  for (const Json& r : control_->reports()) EXPECT_EQ(r["status"], "ok");
  EXPECT_EQ(attempts(), std::vector<int64_t>{7});
}

TEST_F(FleetFollowerTest, ConfigAgeGoesOnFromTheCacheAndRestartsWhenTheControlPlaneConfirms) {
  // A cache written by an earlier run, last confirmed two minutes ago.
  std::string path = options().cache_path;
  ASSERT_EQ(::mkdir(dir_.file("control").c_str(), 0700), 0);
  {
    std::ofstream out(path);
    out << Json{{"revision", 9}, {"state", state_json(9)}}.dump();
  }
  timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= 120;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);

  auto cached = FleetFollower::load_cache(path);
  ASSERT_TRUE(cached && cached->has_value()) << cached.status().to_string();
  start_control(300ms);
  make_follower(options());
  follower_->booted_from(**cached);
  EXPECT_EQ(gauge("tern_relay_config_revision"), 9);
  EXPECT_GE(gauge("tern_relay_config_age_seconds"), 120);

  // The control plane runs the same revision: its 304 confirms it.
  control_->publish(9, state_json(9));
  follower_->start();
  ASSERT_TRUE(wait_until([&] { return gauge("tern_relay_config_age_seconds") < 5; }));
  EXPECT_TRUE(attempts().empty()) << "the running revision is not applied again";
  struct stat sb;
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_GT(sb.st_mtime, times[0].tv_sec + 60) << "the confirmation is recorded for the next boot";
}

TEST_F(FleetFollowerTest, ConfigAgeGrowsWhileTheControlPlaneIsDown) {
  auto o = options();  // nothing listens on its control_url
  o.backoff_base = 100ms;
  make_follower(o);
  follower_->start();
  ASSERT_TRUE(wait_until([&] { return gauge("tern_relay_config_age_seconds") >= 2; }, 5s));
  EXPECT_EQ(gauge("tern_relay_config_revision"), 0);
}

TEST(FleetCacheTest, AMissingCacheIsNoCacheAndADamagedOneIsCorruption) {
  TempDir dir;
  auto missing = FleetFollower::load_cache(dir.file("none.json"));
  ASSERT_TRUE(missing) << missing.status().to_string();
  EXPECT_FALSE(missing->has_value());

  for (const std::string& text :
       {std::string("{\"revision\": 3, \"state\": {\"sources\": ["), std::string("[1,2]"),
        std::string("{\"state\": {}}"), std::string("{\"revision\": 2, \"state\": 7}")}) {
    {
      std::ofstream out(dir.file("bad.json"), std::ios::trunc);
      out << text;
    }
    auto bad = FleetFollower::load_cache(dir.file("bad.json"));
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.status().code(), StatusCode::kCorruption) << text;
    EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace tern::relay::control
