// The end-to-end fault suite: tern-fault-driver (the SDK) → FaultProxy →
// tern-relay → file sink, with one fault per scenario. Each scenario
// reconciles what track() accepted against the sink's NDJSON: every accepted
// event arrives at least once, duplicates stay under a stated bound, and
// every missing event is explained by a drop counter. Each writes its row of
// the final table to <build>/tests/fault/results/<scenario>.json.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "fault_proxy.h"
#include "harness.h"

namespace tern::fault {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

fs::path make_temp_dir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("tern-fault-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    data_ = dir_ / "data";
    ids_ = dir_ / "ids.txt";
    started_ = SteadyClock::now();
    out_.scenario = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    proxy_.stop();
    relay_.kill9();
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::fprintf(stderr, "fault suite: files kept in %s\n", dir_.c_str());
    }
  }

  bool start_relay(const RelayOptions& options = {}) {
    relay_options_ = options;
    {
      std::ofstream f(dir_ / "relay.toml");
      f << relay_config(data_, options);
    }
    bool ok = relay_.start({TERN_RELAY_BIN, "--config", (dir_ / "relay.toml").string()},
                           dir_ / "relay.log", true);
    EXPECT_TRUE(ok) << relay_.error;
    return ok;
  }

  bool start_proxy() {
    bool ok = proxy_.start(relay_.address);
    EXPECT_TRUE(ok);
    return ok;
  }

  std::vector<std::string> driver_args(const std::string& endpoint, const std::string& prefix,
                                       long count, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {TERN_FAULT_DRIVER_BIN,
                                  "--endpoint",
                                  "http://" + endpoint,
                                  "--write-key",
                                  relay_options_.write_key,
                                  "--db",
                                  (dir_ / "sdk.db").string(),
                                  "--ids",
                                  ids_.string(),
                                  "--prefix",
                                  prefix,
                                  "--count",
                                  std::to_string(count),
                                  "--stats",
                                  (dir_ / "stats.json").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // Runs the driver to completion (bounded by `limit`); its exit code.
  int run_driver(const std::vector<std::string>& args, std::chrono::milliseconds limit = 45s) {
    Child driver;
    EXPECT_TRUE(driver.start(args, dir_ / "driver.log", false));
    int rc = driver.wait(limit);
    if (rc == -1) ADD_FAILURE() << "the driver did not finish within " << limit.count() << " ms";
    return rc;
  }

  json driver_stats() {
    std::ifstream f(dir_ / "stats.json");
    json j = json::parse(f, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }

  std::vector<fs::path> sink_dirs() const { return {data_ / "events", data_ / "events.away"}; }

  // Polls the sink until every accepted event that was not dropped is there,
  // or `limit` passes (the file sink writes shortly after the spool commit).
  SinkContents wait_for_sink(const std::set<std::string>& accepted, uint64_t allowed_missing,
                             std::chrono::milliseconds limit = 15s) {
    auto deadline = SteadyClock::now() + limit;
    SinkContents sink;
    for (;;) {
      sink = read_sink(sink_dirs());
      reconcile(accepted, sink, &out_);
      if (out_.missing <= allowed_missing || SteadyClock::now() >= deadline) return sink;
      std::this_thread::sleep_for(50ms);
    }
  }

  // Fills in the outcome, writes it, and checks the promise: each missing
  // event is explained by an SDK drop counter, duplicates within the bound,
  // and no event changed its messageId between copies.
  void conclude(const std::set<std::string>& accepted, const SinkContents& sink, const json& stats,
                uint64_t duplicate_bound) {
    reconcile(accepted, sink, &out_);
    add_sdk_drops(stats, &out_.sdk_dropped);
    out_.explained = 0;
    for (const auto& [reason, n] : out_.sdk_dropped) out_.explained += n;
    if (relay_.running()) out_.relay_dropped = relay_drop_metrics(relay_.address);
    for (const auto& [k, v] : proxy_.counters()) out_.faults[k] += v;
    out_.duplicate_bound = duplicate_bound;
    if (out_.sent == 0) out_.sent = out_.accepted + out_.unexpected;
    out_.seconds = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    write_outcome(out_);

    EXPECT_LE(out_.missing, out_.explained)
        << "accepted events missing from the sink without a drop counter";
    EXPECT_LE(out_.duplicates, duplicate_bound);
    EXPECT_EQ(sink.unparseable_lines, 0);
    for (const auto& [fid, ids] : sink.message_ids_by_fid) {
      EXPECT_EQ(ids.size(), 1u) << fid << " reached the sink under " << ids.size() << " messageIds";
    }
    EXPECT_EQ(stats.value("corrupt_db_recoveries", 0), 0);
  }

  fs::path dir_, data_, ids_;
  SteadyClock::time_point started_;
  RelayOptions relay_options_;
  Child relay_;
  FaultProxy proxy_{20261126};
  Outcome out_;
};

constexpr long kBatch = 10;

TEST_F(FaultTest, ConnectionsResetMidRequestLoseNothing) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan plan;
  plan.reset_mid_request_pm = 150;
  plan.lose_response_pm = 150;
  proxy_.set_plan(plan);
  const long n = 800;
  EXPECT_EQ(
      run_driver(driver_args(proxy_.address(), "reset", n, {"--batch", std::to_string(kBatch)})),
      0);
  auto accepted = read_ids(ids_);
  EXPECT_EQ(accepted.size(), static_cast<size_t>(n));
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  // A lost response makes the SDK send its batch again; the relay's dedup
  // window drops the copy, so the bound is only reached if dedup failed.
  auto lost = proxy_.counters()["lost_response"];
  conclude(accepted, sink, driver_stats(), lost * kBatch);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(proxy_.counters()["reset_mid_request"], 0u);
  EXPECT_GT(lost, 0u);
}

TEST_F(FaultTest, StalledReadsAndLatencySpikesLoseNothing) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan plan;
  plan.stall_pm = 100;
  plan.stall = 1500ms;  // longer than the driver's request timeout
  plan.delay_pm = 300;
  plan.max_delay = 400ms;
  proxy_.set_plan(plan);
  const long n = 400;
  EXPECT_EQ(
      run_driver(driver_args(proxy_.address(), "stall", n,
                             {"--batch", std::to_string(kBatch), "--request-timeout-ms", "700"})),
      0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  auto c = proxy_.counters();
  conclude(accepted, sink, driver_stats(), (c["stalled_response"] + c["delayed"]) * kBatch);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(c["stalled_request"] + c["stalled_response"], 0u);
  EXPECT_GT(c["delayed"], 0u);
}

TEST_F(FaultTest, Answers500And503And429AreRetriedUntilDelivered) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan plan;
  plan.synth = {{100, 500, -1}, {60, 503, 1}, {60, 429, 1}};
  proxy_.set_plan(plan);
  const long n = 500;
  EXPECT_EQ(
      run_driver(driver_args(proxy_.address(), "5xx", n, {"--batch", std::to_string(kBatch)})), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  json stats = driver_stats();
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_EQ(stats.value("dropped", 1), 0);
  auto c = proxy_.counters();
  EXPECT_GT(c["synth_500"] + c["synth_503"] + c["synth_429"], 0u);
  // Every injected answer was retried (a slow relay under load may add timeouts).
  EXPECT_GE(stats.value("retried", 0ull), c["synth_500"] + c["synth_503"] + c["synth_429"]);
}

TEST_F(FaultTest, RelayRateLimit429IsHonouredWithoutLoss) {
  RelayOptions o;
  o.rate_limit_eps = 400;
  o.rate_limit_burst = 100;
  ASSERT_TRUE(start_relay(o));
  ASSERT_TRUE(start_proxy());
  const long n = 800;
  EXPECT_EQ(run_driver(driver_args(proxy_.address(), "rate", n, {"--batch", "50"})), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  json stats = driver_stats();
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(stats.value("retried", 0), 0) << "the relay never answered 429";
}

TEST_F(FaultTest, RelayBatchLimit413IsBisectedWithoutLoss) {
  RelayOptions o;
  o.max_batch_bytes = "6KiB";  // a batch of 50 driver events is ~15 KB
  ASSERT_TRUE(start_relay(o));
  ASSERT_TRUE(start_proxy());
  const long n = 400;
  EXPECT_EQ(run_driver(driver_args(proxy_.address(), "413", n, {"--batch", "50"})), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  json stats = driver_stats();
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_EQ(stats.value("dropped", 1), 0);
  EXPECT_GT(stats.value("attempts", 0), stats.value("batches_sent", 0))
      << "the relay never answered 413";
  EXPECT_GT(metric_sum(relay_.address, "tern_relay_limit_hits_total{limit=\"batch_size\"}"), 0);
}

TEST_F(FaultTest, Spurious413DropsAreCountedAsServerRejected) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan plan;
  plan.synth = {{400, 413, -1}};
  proxy_.set_plan(plan);
  const long n = 200;
  run_driver(driver_args(proxy_.address(), "s413", n, {"--batch", "5"}));
  auto accepted = read_ids(ids_);
  json stats = driver_stats();
  uint64_t rejected = stats["dropped_by_reason"].value("server_rejected", 0ull);
  auto sink = wait_for_sink(accepted, rejected);
  out_.sent = n;
  conclude(accepted, sink, stats, 0);
  // A 413 from the proxy never reached the relay: exactly the isolated events are lost.
  EXPECT_EQ(out_.missing, rejected);
  EXPECT_GT(rejected, 0u);
}

TEST_F(FaultTest, DriverKilled9RepeatedlyLosesNothingAccepted) {
  ASSERT_TRUE(start_relay());
  std::mt19937 rng(7);
  const int kKills = 30;
  int killed_while_running = 0;
  for (int i = 0; i < kKills; ++i) {
    Child driver;
    ASSERT_TRUE(driver.start(driver_args(relay_.address, "kill" + std::to_string(i), 1000000,
                                         {"--immediate", "--rate", "2000", "--batch", "25"}),
                             dir_ / "driver.log", false));
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
    if (driver.running()) ++killed_while_running;
    driver.kill9();
  }
  // The last run reopens the same database and only drains it.
  EXPECT_EQ(run_driver(driver_args(relay_.address, "drain", 0, {"--batch", "25"})), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  json stats = driver_stats();
  out_.faults["kill9_driver"] = static_cast<uint64_t>(killed_while_running);
  out_.note = "Durability::kImmediate";
  conclude(accepted, sink, stats, static_cast<uint64_t>(kKills) * 25);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(accepted.size(), 200u);
  EXPECT_EQ(killed_while_running, kKills);
}

TEST_F(FaultTest, RelayKilled9MidStreamAndRestartedLosesNothing) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  const long n = 3000;
  Child driver;
  ASSERT_TRUE(
      driver.start(driver_args(proxy_.address(), "rkill", n,
                               {"--rate", "1000", "--batch", "50", "--timeout-ms", "30000"}),
                   dir_ / "driver.log", false));
  std::mt19937 rng(11);
  const int kKills = 4;
  for (int i = 0; i < kKills; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + rng() % 300));
    relay_.kill9();
    std::this_thread::sleep_for(150ms);
    ASSERT_TRUE(start_relay());
    proxy_.set_upstream(relay_.address);
  }
  int rc = driver.wait(45s);
  EXPECT_EQ(rc, 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  out_.faults["kill9_relay"] = kKills;
  // At-least-once across a crash: the relay's in-memory dedup set is gone
  // (the SDK batch whose answer was lost comes back: 50), and the file sink
  // resumes from its last persisted cursor (persisted every 100 ms: ~100
  // events at this rate, plus the sink batch in flight: 500).
  conclude(accepted, sink, driver_stats(), kKills * (50 + 100 + 500));
  EXPECT_EQ(out_.missing, 0u);
}

// Makes the file sink's directory unusable (tests run as root, so chmod
// would not stop the relay): the directory moves aside and a plain file
// takes its name.
class SinkOutage {
 public:
  explicit SinkOutage(const fs::path& dir) : dir_(dir), away_(dir.string() + ".away") {
    fs::create_directories(dir_);
    fs::rename(dir_, away_);
    std::ofstream(dir_) << "not a directory\n";
  }
  void end() {
    if (ended_) return;
    ended_ = true;
    fs::remove(dir_);
    fs::rename(away_, dir_);
  }
  ~SinkOutage() { end(); }

 private:
  fs::path dir_, away_;
  bool ended_ = false;
};

TEST_F(FaultTest, SpoolFullAnswers503UntilTheSinkDrains) {
  RelayOptions o;
  o.spool_max_bytes = "256KiB";
  o.file_max_age = "200ms";
  ASSERT_TRUE(start_relay(o));
  ASSERT_TRUE(start_proxy());
  const long n = 2000;  // ~1 MB of spooled events: 4× the spool cap
  Child driver;
  {
    SinkOutage outage(data_ / "events");
    ASSERT_TRUE(driver.start(
        driver_args(proxy_.address(), "spool", n, {"--batch", "50", "--timeout-ms", "40000"}),
        dir_ / "driver.log", false));
    // Until the spool fills up and the relay refuses.
    auto deadline = SteadyClock::now() + 20s;
    while (SteadyClock::now() < deadline && relay_drop_metrics(relay_.address).empty()) {
      std::this_thread::sleep_for(100ms);
    }
    std::this_thread::sleep_for(1500ms);
    out_.relay_dropped = relay_drop_metrics(relay_.address);
  }
  EXPECT_EQ(driver.wait(45s), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  out_.faults["sink_outage"] = 1;
  json stats = driver_stats();
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(stats.value("retried", 0), 0) << "the relay never answered 503";
  bool refused = false;
  for (const auto& [name, v] : out_.relay_dropped)
    refused = refused || name.find("refused") != std::string::npos;
  EXPECT_TRUE(refused) << "no spool refusal counted";
}

TEST_F(FaultTest, SinkDownForAWhileThenBackLosesNothing) {
  RelayOptions o;
  o.file_max_age = "200ms";
  ASSERT_TRUE(start_relay(o));
  ASSERT_TRUE(start_proxy());
  const long n = 1500;
  Child driver;
  ASSERT_TRUE(
      driver.start(driver_args(proxy_.address(), "sink", n, {"--rate", "500", "--batch", "50"}),
                   dir_ / "driver.log", false));
  std::this_thread::sleep_for(700ms);
  double failures_during = 0;
  {
    SinkOutage outage(data_ / "events");
    std::this_thread::sleep_for(2000ms);
    failures_during = metric_sum(relay_.address, "tern_relay_sink_failures_total");
  }
  EXPECT_EQ(driver.wait(45s), 0);
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  out_.faults["sink_outage_ms"] = 2000;
  out_.note = std::to_string(static_cast<long>(failures_during)) +
              " sink delivery failures during the outage";
  conclude(accepted, sink, driver_stats(), 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GT(failures_during, 0) << "the outage did not stop the sink";
}

TEST_F(FaultTest, SdkDiskFullDropsAreCountedAndTheAppSurvives) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan down;
  down.refuse = true;  // the relay is unreachable while the device's disk fills
  proxy_.set_plan(down);
  const long n = 1500;
  Child driver;
  ASSERT_TRUE(driver.start(
      driver_args(proxy_.address(), "disk", n,
                  {"--batch", "50", "--max-page-count", "48", "--timeout-ms", "30000"}),
      dir_ / "driver.log", false));
  auto deadline = SteadyClock::now() + 20s;
  while (SteadyClock::now() < deadline && read_ids(ids_).size() < static_cast<size_t>(n)) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(500ms);
  proxy_.set_plan(FaultPlan{});
  EXPECT_EQ(driver.wait(45s), 0) << "the app did not survive a full disk";
  auto accepted = read_ids(ids_);
  json stats = driver_stats();
  uint64_t storage = stats["dropped_by_reason"].value("storage_error", 0ull);
  auto sink = wait_for_sink(accepted, storage);
  out_.sent = n;
  out_.note = "SQLite max_page_count=48";
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(accepted.size(), static_cast<size_t>(n));
  EXPECT_GT(storage, 0u) << "the disk never filled";
  EXPECT_EQ(out_.missing, storage);
  EXPECT_GT(out_.delivered, 0u);
}

TEST_F(FaultTest, DeviceClockJumpsAreCorrectedAtTheRelay) {
  ASSERT_TRUE(start_relay());
  ASSERT_TRUE(start_proxy());
  FaultPlan plan;
  plan.synth = {{100, 503, 1}};  // backoff runs while the wall clock jumps
  proxy_.set_plan(plan);
  const long n = 600;
  // The device is 2 h behind, then its clock jumps a day ahead halfway through.
  auto t0 = std::chrono::system_clock::now();
  EXPECT_EQ(run_driver(driver_args(proxy_.address(), "clock", n,
                                   {"--rate", "300", "--batch", "20", "--clock-skew-ms", "-7200000",
                                    "--clock-jump-ms", "86400000", "--clock-jump-after", "300"})),
            0);
  auto t1 = std::chrono::system_clock::now();
  auto accepted = read_ids(ids_);
  auto sink = wait_for_sink(accepted, 0);
  out_.sent = n;
  json stats = driver_stats();
  // timestamp is corrected into the real time window; originalTimestamp keeps the device's.
  auto to_ms = [](const std::string& iso) -> long long {
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6) {
      return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<long long>(timegm(&tm)) * 1000 + ms;
  };
  long long lo =
      std::chrono::duration_cast<std::chrono::milliseconds>(t0.time_since_epoch()).count() - 60000;
  long long hi =
      std::chrono::duration_cast<std::chrono::milliseconds>(t1.time_since_epoch()).count() + 60000;
  // Events tracked after the jump carry the same offset in timestamp and
  // sentAt: each is corrected into the real time window. An event tracked
  // before the jump but sent after it (e.g. held back by a 503) has a sentAt
  // a day further ahead than its timestamp, so the relay's correction moves
  // it a day back: that is the only error allowed, and it is counted.
  constexpr long long kDay = 86400000;
  int corrected = 0, shifted = 0, with_original = 0;
  for (const json& e : sink.events) {
    long long ts = to_ms(e.value("timestamp", ""));
    long long seq = e["properties"].value("seq", -1LL);
    if (ts >= lo && ts <= hi) {
      ++corrected;
    } else {
      ++shifted;
      EXPECT_LT(seq, 300) << "an event tracked after the jump was not corrected: " << e.dump();
      EXPECT_TRUE(ts >= lo - kDay && ts <= hi - kDay) << "not explained by the jump: " << e.dump();
    }
    if (e.contains("originalTimestamp")) ++with_original;
  }
  out_.note = "device clock -2h, then +1 day: " + std::to_string(corrected) +
              " timestamps corrected, " + std::to_string(shifted) +
              " tracked before the jump and sent after it shifted by the jump";
  conclude(accepted, sink, stats, 0);
  EXPECT_EQ(out_.missing, 0u);
  EXPECT_GE(corrected, 300);
  EXPECT_EQ(with_original, static_cast<int>(sink.events.size()));
  // Backoff runs on the monotonic clock: the jump neither stalls nor speeds it.
  auto c = proxy_.counters();
  EXPECT_GE(stats.value("retried", 0ull), c["synth_503"]);
  EXPECT_LE(stats.value("retried", 0ull), c["synth_503"] + c["upstream_error"] + 10);
}

}  // namespace
}  // namespace tern::fault
