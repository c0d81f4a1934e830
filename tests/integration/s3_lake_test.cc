// The s3 sink end to end: tern-relay (a child process) with an s3 sink →
// moto's S3 server (a ctest fixture, tests/support/s3/moto-fixture.sh) →
// the bucket read back as a lake user reads it (tests/support/s3/lake_check.py,
// pyarrow). Events go in over HTTP (/v1/batch), each with its own messageId;
// the assertions are about what the bucket holds: every acknowledged event
// once, none twice, no two objects covering the same range.
//
// The fixture directories come from TERN_S3_MOTO_DIR (any key accepted) and
// TERN_S3_MOTO_AUTH_DIR (signatures checked; it holds the tests' key and
// temporary credentials). Without them (run outside ctest) the tests skip.
#include <curl/curl.h>
#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "relay_process.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using tern::testing::ChildProcess;
using tern::testing::RelayProcess;
using tern::testing::TempDir;
using tern::testing::wait_until;

const std::string kPython = TERN_PYTHON;
const std::string kSupport = TERN_S3_SUPPORT_DIR;
const std::string kSink = "lake";
const std::string kSource = "web";
const std::string kWriteKey = "lake-key";
const std::string kRelayId = "lake-it";

// The s3 sink's counters this test reads from /metrics (label sink="lake").
const std::string kUploadedObjects = "tern_relay_s3_objects_uploaded_total";
const std::string kRetries = "tern_relay_s3_retries_total";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

struct Credentials {
  std::string access_key_id, secret_access_key, session_token;
};

// One moto server of the fixture.
struct Moto {
  std::string endpoint;
  Credentials key;      // an IAM user's long-term key (auth mode) or a dummy one
  Credentials session;  // temporary credentials with a session token (auth mode only)
};

std::optional<Moto> moto_from_env(const char* var) {
  const char* dir = std::getenv(var);
  if (!dir || !*dir || !fs::exists(fs::path(dir) / "endpoint")) return std::nullopt;
  Moto m;
  m.endpoint = read_file(fs::path(dir) / "endpoint");
  m.key = {read_file(fs::path(dir) / "access_key_id"),
           read_file(fs::path(dir) / "secret_access_key"), ""};
  fs::path session = fs::path(dir) / "session.json";
  if (fs::exists(session)) {
    json s = json::parse(read_file(session));
    m.session = {s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"]};
  }
  return m;
}

size_t append_cb(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

// HTTP with libcurl: the status (0 when no answer came), the body in `body`.
long http(CURL* c, const std::string& url, const std::string& user, const std::string* post,
          std::string* body) {
  std::string sink;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &sink);
  if (!user.empty()) curl_easy_setopt(c, CURLOPT_USERPWD, (user + ":").c_str());
  if (post) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post->size()));
  }
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// The sum of a metric's series for sink="lake" in a /metrics text (0 when absent).
double metric(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (line.find("sink=\"" + kSink + "\"") == std::string::npos) continue;
    auto sp = line.rfind(' ');
    if (sp != std::string::npos) sum += std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return sum;
}

// Events with unique messageIds ("<run>-<n>") and a random part, so gzip
// cannot shrink them much and objects fill at a few hundred events.
class EventSource {
 public:
  explicit EventSource(std::string run) : run_(std::move(run)), rng_(std::random_device{}()) {}

  // Events from now on carry this `timestamp` (ISO 8601; "" for none).
  void set_timestamp(std::string timestamp) { timestamp_ = std::move(timestamp); }

  // A /v1/batch body of `n` new events; their ids are appended to `ids`.
  std::string batch(int n, std::vector<std::string>* ids) {
    json events = json::array();
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < n; ++i) {
      char id[64];
      std::snprintf(id, sizeof id, "%s-%07d", run_.c_str(), next_++);
      std::string pad;
      for (int k = 0; k < 48; ++k) pad += kHex[rng_() % 16];
      events.push_back({{"type", "track"},
                        {"event", "Lake Test"},
                        {"userId", "user-" + std::to_string(next_ % 97)},
                        {"messageId", id},
                        {"properties", {{"i", next_}, {"pad", pad}}}});
      if (!timestamp_.empty()) events.back()["timestamp"] = timestamp_;
      ids->push_back(id);
    }
    return json{{"batch", events}}.dump();
  }

 private:
  std::string run_;
  std::mt19937 rng_;
  int next_ = 0;
  std::string timestamp_;
};

// The UTC time `hours` hours before now, at minute 30: "YYYY-MM-DDTHH:30:00.000Z",
// and its partition "YYYY-MM-DD/HH" in `partition`.
std::string hours_ago(int hours, std::string* partition) {
  std::time_t t = std::time(nullptr) - hours * 3600;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[40], part[20];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:30:00.000Z", &utc);
  std::strftime(part, sizeof part, "%Y-%m-%d/%H", &utc);
  *partition = part;
  return text;
}

class S3LakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = moto_from_env("TERN_S3_MOTO_DIR");
    if (!m) GTEST_SKIP() << "TERN_S3_MOTO_DIR is not set: run through ctest (moto fixture)";
    moto_ = *m;
    ASSERT_FALSE(tmp_.path().empty());
    data_ = tmp_.file("data");
    std::random_device rd;
    bucket_ = "lake-" + std::to_string(rd() % 1000000000);
    curl_ = curl_easy_init();
  }
  void TearDown() override {
    relay_.kill9();
    if (curl_) curl_easy_cleanup(curl_);
  }

  // The relay's config: one source, one s3 sink writing to `bucket_`.
  std::string config(const std::string& endpoint, const Credentials& creds,
                     const std::string& extra_settings = "",
                     const std::string& max_object_age = "1s") const {
    std::string toml = "data_dir = \"" + data_ + "\"\n" +
                       "[server]\nlisten = \"127.0.0.1:0\"\n"
                       "[[sources]]\nid = \"" +
                       kSource + "\"\nwrite_keys = [\"" + kWriteKey +
                       "\"]\n"
                       "[[sinks]]\nname = \"" +
                       kSink +
                       "\"\ntype = \"s3\"\n"
                       "batch_max_events = 500\nbatch_linger = \"20ms\"\n"
                       "bucket = \"" +
                       bucket_ +
                       "\"\nprefix = \"events\"\nregion = \"us-east-1\"\n"
                       "endpoint = \"" +
                       endpoint +
                       "\"\npath_style = true\n"
                       "max_object_bytes = \"64KiB\"\nmax_object_age = \"" +
                       max_object_age +
                       "\"\n"
                       "access_key_id = \"" +
                       creds.access_key_id + "\"\nsecret_access_key = \"" +
                       creds.secret_access_key + "\"\n";
    if (!creds.session_token.empty()) toml += "session_token = \"" + creds.session_token + "\"\n";
    return toml + extra_settings;
  }

  bool start_relay(const std::string& toml) {
    std::ofstream(tmp_.file("relay.toml")) << toml;
    bool ok = relay_.start({"--config", tmp_.file("relay.toml"), "--relay-id", kRelayId},
                           tmp_.file("relay.log"));
    EXPECT_TRUE(ok) << relay_.error();
    return ok;
  }

  // POSTs one batch of `n` new events: the status (0: no answer). The ids go
  // to acked_ on a 200, to unacked_ otherwise.
  long send(EventSource& events, int n, CURL* c = nullptr) {
    std::vector<std::string> ids;
    std::string body = events.batch(n, &ids);
    long code =
        http(c ? c : curl_, "http://" + relay_.address() + "/v1/batch", kWriteKey, &body, nullptr);
    std::lock_guard<std::mutex> g(mu_);
    auto& to = code == 200 ? acked_ : unacked_;
    to.insert(to.end(), ids.begin(), ids.end());
    return code;
  }

  // Sends `batches` batches of `n`, each expected to be answered 200.
  void send_all(EventSource& events, int batches, int n) {
    for (int b = 0; b < batches; ++b) ASSERT_EQ(send(events, n), 200) << "batch " << b;
  }

  // Runs a Python program of the venv; its first stdout line, or "" with a
  // failure recorded when it does not answer in time or exits non-zero.
  std::string run_python(const std::vector<std::string>& args) {
    ChildProcess child;
    std::vector<std::string> argv = {kPython};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string log = tmp_.file("python.log");
    std::error_code ec;
    fs::remove(log, ec);
    if (!child.start(argv, {log, true, {}, ""})) {
      ADD_FAILURE() << child.error();
      return "";
    }
    std::string line;
    bool got = child.read_line(120s, &line);
    int rc = child.wait(30s);
    if (!got || rc != 0) {
      ADD_FAILURE() << args[0] << " exited " << rc << ":\n" << read_file(log);
      return "";
    }
    return line;
  }

  bool create_bucket(const std::string& endpoint, const Credentials& creds) {
    static const char* kCreate =
        "import boto3, sys\n"
        "ep, bucket, key, secret, token = sys.argv[1:6]\n"
        "boto3.client('s3', endpoint_url=ep, region_name='us-east-1', aws_access_key_id=key,\n"
        "             aws_secret_access_key=secret, aws_session_token=token or None)"
        ".create_bucket(Bucket=bucket)\n"
        "print('created', flush=True)\n";
    return run_python({"-c", kCreate, endpoint, bucket_, creds.access_key_id,
                       creds.secret_access_key, creds.session_token}) == "created";
  }

  // lake_check.py's report on the bucket, with the acknowledged ids as the
  // expected ones; an empty object when it failed.
  json lake(const Credentials& creds) {
    std::string ids_file = tmp_.file("expected-ids.txt");
    {
      std::lock_guard<std::mutex> g(mu_);
      std::ofstream out(ids_file);
      for (const auto& id : acked_) out << id << "\n";
    }
    std::vector<std::string> args = {kSupport + "/lake_check.py",
                                     "--endpoint",
                                     moto_.endpoint,
                                     "--bucket",
                                     bucket_,
                                     "--prefix",
                                     "events",
                                     "--source",
                                     kSource,
                                     "--relay-id",
                                     kRelayId,
                                     "--access-key",
                                     creds.access_key_id,
                                     "--secret-key",
                                     creds.secret_access_key,
                                     "--expect-ids",
                                     ids_file};
    if (!creds.session_token.empty()) {
      args.push_back("--session-token");
      args.push_back(creds.session_token);
    }
    std::string line = run_python(args);
    if (line.empty()) return json::object();
    return json::parse(line, nullptr, false);
  }

  // Polls the bucket until every acknowledged event is in it (bounded).
  json wait_for_lake(const Credentials& creds, std::chrono::seconds limit = 90s) {
    json report;
    auto deadline = std::chrono::steady_clock::now() + limit;
    do {
      report = lake(creds);
      if (report.value("missing_expected", -1) == 0) break;
      std::this_thread::sleep_for(1s);
    } while (std::chrono::steady_clock::now() < deadline);
    return report;
  }

  // Asserts the bucket holds each acknowledged event exactly once, at most
  // `unacked` other events (from batches whose answer was lost), and no two
  // objects of a partition covering the same sequence numbers.
  void expect_exactly_once(const json& report, size_t unacked = 0) {
    ASSERT_TRUE(report.contains("missing_expected")) << report.dump();
    std::printf(
        "lake: %zu events acknowledged, %zu not; the bucket holds %d events in %d objects\n",
        acked_.size(), unacked_.size(), report["total_events"].get<int>(),
        report["objects"].get<int>());
    EXPECT_EQ(report["missing_expected"], 0) << report["missing"].dump();
    EXPECT_EQ(report["duplicate_message_ids"], 0) << report["duplicates"].dump();
    EXPECT_EQ(report["events_without_message_id"], 0);
    EXPECT_TRUE(report["overlapping_ranges"].empty()) << report["overlapping_ranges"].dump();
    EXPECT_LE(report["unexpected"].get<size_t>(), unacked);
    size_t per_hour = 0;
    for (const auto& [hour, n] : report["per_hour"].items()) per_hour += n.get<size_t>();
    EXPECT_EQ(per_hour, report["total_events"].get<size_t>());
    EXPECT_EQ(report["total_events"].get<size_t>(), report["distinct_message_ids"].get<size_t>());
  }

  // Starts fault_proxy.py in front of moto with `faults` (its --fault
  // rules): "HOST:PORT" it listens on, or "" with a failure recorded.
  std::string start_proxy(const std::vector<std::string>& faults) {
    std::vector<std::string> argv = {kPython,         kSupport + "/fault_proxy.py",
                                     "--upstream",    moto_.endpoint,
                                     "--max-seconds", "600"};
    for (const auto& f : faults) {
      argv.push_back("--fault");
      argv.push_back(f);
    }
    if (!proxy_.start(argv, {tmp_.file("proxy.log"), true, {}, ""})) {
      ADD_FAILURE() << proxy_.error();
      return "";
    }
    std::string line;
    const std::string prefix = "listening on ";
    if (!proxy_.read_line(30s, &line) || line.rfind(prefix + "127.0.0.1:", 0) != 0) {
      ADD_FAILURE() << "fault_proxy.py: " << line << "\n" << read_file(tmp_.file("proxy.log"));
      return "";
    }
    return line.substr(prefix.size());
  }

  // GET /ready: its status, and its body in `body`.
  long ready(std::string* body) {
    return http(curl_, "http://" + relay_.address() + "/ready", "", nullptr, body);
  }

  // Waits (up to 30 s) until /ready answers 503 naming the sink; `body` holds
  // the last answer.
  bool wait_until_sink_not_ready(std::string* body) {
    return wait_until(
        [&] {
          body->clear();
          return ready(body) == 503 && body->find(kSink) != std::string::npos;
        },
        30s);
  }

  Moto moto_;
  TempDir tmp_;
  std::string data_, bucket_;
  CURL* curl_ = nullptr;
  RelayProcess relay_;
  ChildProcess proxy_;
  std::mutex mu_;
  std::vector<std::string> acked_, unacked_;
};

TEST_F(S3LakeTest, EveryEventOfARunIsReadBackExactlyOnceFromTheBucket) {
  ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  // Objects are sealed by size while events come (an age of 10 s leaves only
  // the last one of each hour to age).
  ASSERT_TRUE(start_relay(config(moto_.endpoint, moto_.key, "", "10s")));
  EventSource events("run");
  send_all(events, 30, 200);

  json report = wait_for_lake(moto_.key);
  expect_exactly_once(report);
  EXPECT_EQ(report["total_events"], 6000);
  // 6000 events of ~110 compressed bytes do not fit one 64 KiB object.
  EXPECT_GE(report["objects"].get<int>(), 3) << report.dump();
  // No small files: every object but the last of its hour is at least 90%
  // of max_object_bytes.
  std::map<std::string, std::vector<json>> by_hour;
  for (const json& o : report["objects_list"]) {
    std::string key = o["key"];
    by_hour[key.substr(0, key.rfind('/'))].push_back(o);
  }
  for (auto& [hour, objects] : by_hour) {
    std::sort(objects.begin(), objects.end(), [](const json& a, const json& b) {
      return a["first_seq"].get<uint64_t>() < b["first_seq"].get<uint64_t>();
    });
    for (std::size_t i = 0; i + 1 < objects.size(); ++i)
      EXPECT_GE(objects[i]["bytes"].get<double>(), 0.9 * 64 * 1024) << objects[i].dump();
  }
  EXPECT_GE(metric(relay_.metrics(), kUploadedObjects), report["objects"].get<double>());
  EXPECT_EQ(relay_.terminate(), 0);
}

TEST_F(S3LakeTest, KilledMidUploadFourTimesLosesNoEventAndWritesNoneTwice) {
  ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  // The store's answer to every upload is held 300 ms, so uploads are in
  // flight (some already stored, not yet confirmed) when the kills land.
  const std::string proxy_address = start_proxy({"delay:0:1:PUT:300"});
  ASSERT_FALSE(proxy_address.empty());
  const std::string toml = config("http://" + proxy_address, moto_.key);
  EventSource events("crash");
  std::mt19937 rng(std::random_device{}());
  const int kKills = 4;
  for (int run = 0; run < kKills; ++run) {
    ASSERT_TRUE(start_relay(toml)) << "start " << run;
    // A sender keeps batches coming while objects seal and upload; the relay
    // is killed under it, so some batch's answer is lost (not counted).
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      CURL* c = curl_easy_init();
      EventSource* e = &events;
      while (!stop.load()) {
        if (send(*e, 100, c) != 200) break;
      }
      curl_easy_cleanup(c);
    });
    // Kill only once this incarnation has uploaded objects (uploads then
    // follow one another while events keep coming), at a random moment after.
    bool uploading =
        wait_until([&] { return metric(relay_.metrics(), kUploadedObjects) >= 2; }, 30s);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    relay_.kill9();
    stop = true;
    sender.join();
    EXPECT_TRUE(uploading) << "run " << run << ": no upload before the kill\n"
                           << read_file(tmp_.file("relay.log"));
  }
  ASSERT_TRUE(start_relay(toml));
  send_all(events, 10, 100);

  json report = wait_for_lake(moto_.key, 120s);
  expect_exactly_once(report, unacked_.size());
  EXPECT_GE(acked_.size(), 1000u);
  {
    std::string log = read_file(tmp_.file("relay.log"));
    size_t resumed = 0;
    for (size_t at = 0; (at = log.find("sealed before the last stop", at)) != std::string::npos;
         ++at)
      ++resumed;
    // At least one kill landed while sealed objects were not yet confirmed:
    // the restart uploaded them again under their keys.
    EXPECT_GE(resumed, 1u) << "no kill found an upload in flight";
  }
  EXPECT_EQ(relay_.terminate(), 0);
}

TEST_F(S3LakeTest, AMissingBucketPausesTheSinkUntilItIsCreatedThenEverythingArrives) {
  ASSERT_TRUE(start_relay(config(moto_.endpoint, moto_.key)));
  EventSource events("late");
  send_all(events, 10, 200);

  std::string body;
  EXPECT_TRUE(wait_until_sink_not_ready(&body)) << body;
  EXPECT_TRUE(relay_.running());
  // Nothing was dropped: the events wait in the spool, behind the sink's cursor.
  // (The gauge follows the backlog within a second while the sink is retried.)
  EXPECT_TRUE(tern::testing::wait_until([&] {
    return metric(relay_.metrics(), "tern_relay_sink_lag_events") >= 2000;
  })) << relay_.metrics();
  EXPECT_EQ(metric(relay_.metrics(), "tern_relay_sink_dead_lettered_events_total"), 0);

  ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  send_all(events, 5, 200);
  json report = wait_for_lake(moto_.key, 120s);
  expect_exactly_once(report);
  EXPECT_EQ(report["total_events"], 3000);
  EXPECT_TRUE(wait_until([&] { return ready(nullptr) == 200; }, 30s));
  EXPECT_EQ(relay_.terminate(), 0);
}

TEST_F(S3LakeTest, SlowDownsAndDroppedConnectionsAreRetriedAndEveryEventArrivesOnce) {
  ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  // Faults on uploads (PUT): 503 SlowDown, a connection closed unanswered, an
  // answer lost after the store took the object, a reset in the middle of
  // the body; each a bounded number of times so the run ends.
  const std::string proxy_address = start_proxy(
      {"503:4:2:PUT", "drop:2:2:PUT", "drop_response:2:2:PUT", "reset_mid_body:2:1:PUT"});
  ASSERT_FALSE(proxy_address.empty());

  ASSERT_TRUE(start_relay(config("http://" + proxy_address, moto_.key)));
  EventSource events("faults");
  send_all(events, 30, 200);

  json report = wait_for_lake(moto_.key, 120s);
  expect_exactly_once(report);
  EXPECT_EQ(report["total_events"], 6000);

  json stats = json::parse(tern::testing::http_get(proxy_address, "/__stats"), nullptr, false);
  ASSERT_TRUE(stats.is_object());
  for (const char* mode : {"503", "drop", "drop_response", "reset_mid_body"}) {
    EXPECT_GE(stats["injected"][mode].get<int>(), 1) << mode << ": " << stats.dump();
  }
  // Each injected fault cost the sink a retry, and /metrics says so.
  EXPECT_GE(metric(relay_.metrics(), kRetries), 4) << relay_.metrics();
  EXPECT_EQ(relay_.terminate(), 0);
}

TEST_F(S3LakeTest, AnHourThatHasEndedGetsItsManifestAndSuccessMarkerWithEveryEventCounted) {
  ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  // Partitioned by the events' own time, two hours that are over already:
  // once the grace has passed, each gets its manifest, then _SUCCESS.
  ASSERT_TRUE(start_relay(
      config(moto_.endpoint, moto_.key, "partition = \"event\"\nmarker_grace = \"1s\"\n")));
  EventSource events("hours");
  std::string first_hour, second_hour;
  events.set_timestamp(hours_ago(3, &first_hour));
  send_all(events, 4, 250);
  events.set_timestamp(hours_ago(2, &second_hour));
  send_all(events, 2, 250);

  EXPECT_TRUE(wait_until(
      [&] { return metric(relay_.metrics(), "tern_relay_s3_markers_written_total") >= 2; }, 60s))
      << relay_.metrics();
  json report = wait_for_lake(moto_.key);
  expect_exactly_once(report);
  EXPECT_EQ(report["per_hour"][first_hour], 1000) << report["per_hour"].dump();
  EXPECT_EQ(report["per_hour"][second_hour], 500) << report["per_hour"].dump();
  for (const std::string& hour : {first_hour, second_hour}) {
    const json& h = report["hours"][hour];
    EXPECT_EQ(h["success"], true) << hour << ": " << h.dump();
    EXPECT_EQ(h["manifest"], true) << hour << ": " << h.dump();
    EXPECT_EQ(h["manifest_matches"], true) << hour << ": " << h.dump();
  }
  EXPECT_EQ(metric(relay_.metrics(), "tern_relay_s3_markers_written_total"), 2);
  EXPECT_EQ(relay_.terminate(), 0);
}

class S3LakeAuthTest : public S3LakeTest {
 protected:
  void SetUp() override {
    S3LakeTest::SetUp();
    if (IsSkipped()) return;
    auto m = moto_from_env("TERN_S3_MOTO_AUTH_DIR");
    if (!m) GTEST_SKIP() << "TERN_S3_MOTO_AUTH_DIR is not set: run through ctest";
    moto_ = *m;
    ASSERT_FALSE(moto_.session.session_token.empty()) << "the auth fixture has no session.json";
    ASSERT_TRUE(create_bucket(moto_.endpoint, moto_.key));
  }
};

TEST_F(S3LakeAuthTest, AWrongSecretPausesTheSinkAndNoEventIsLostOnceItIsFixed) {
  Credentials wrong = moto_.key;
  wrong.secret_access_key = "not-the-secret-" + wrong.secret_access_key;
  ASSERT_TRUE(start_relay(config(moto_.endpoint, wrong)));
  EventSource events("auth");
  send_all(events, 5, 200);

  std::string body;
  EXPECT_TRUE(wait_until_sink_not_ready(&body)) << body;
  EXPECT_EQ(body.find(wrong.secret_access_key), std::string::npos) << "a secret in /ready";
  EXPECT_EQ(relay_.metrics().find(wrong.secret_access_key), std::string::npos);
  EXPECT_EQ(read_file(tmp_.file("relay.log")).find(wrong.secret_access_key), std::string::npos);
  json paused = lake(moto_.key);
  EXPECT_EQ(paused["total_events"], 0) << paused.dump();

  // The right secret, the same data dir: the events the sink held arrive.
  ASSERT_EQ(relay_.terminate(), 0);
  ASSERT_TRUE(start_relay(config(moto_.endpoint, moto_.key)));
  send_all(events, 5, 200);
  json report = wait_for_lake(moto_.key);
  expect_exactly_once(report);
  EXPECT_EQ(report["total_events"], 2000);
  EXPECT_EQ(relay_.terminate(), 0);
}

TEST_F(S3LakeAuthTest, TemporaryCredentialsWithASessionTokenAreAccepted) {
  ASSERT_TRUE(start_relay(config(moto_.endpoint, moto_.session)));
  EventSource events("session");
  send_all(events, 10, 200);
  json report = wait_for_lake(moto_.session);
  expect_exactly_once(report);
  EXPECT_EQ(report["total_events"], 2000);
  EXPECT_EQ(relay_.terminate(), 0);
}

}  // namespace
