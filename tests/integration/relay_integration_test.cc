// SDK Client → tern-relay (child process) → file sink, over real HTTP on
// 127.0.0.1. Asserts what a user would see: the events in the output files.
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "relay_process.h"
#include "tern/client.h"
#include "wait_until.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using tern::testing::wait_until;

// The reload counter's series as /metrics shows them.
const std::string kReloadsOk = "tern_relay_config_reloads_total{result=\"ok\"}";
const std::string kReloadsRefused = "tern_relay_config_reloads_total{result=\"refused\"}";

fs::path make_temp_dir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("tern-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

// Every event line the file sink wrote under <data>/events.
std::vector<json> read_events(const fs::path& data_dir) {
  std::vector<json> events;
  fs::path dir = data_dir / "events";
  if (!fs::exists(dir)) return events;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) events.push_back(json::parse(line));
    }
  }
  return events;
}

size_t write_cb(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

// One HTTP request with libcurl: the status code; the body and the response
// headers in `body` / `headers` when given.
long http(const std::string& url, const std::string& user, const std::string& post_body,
          std::string* body = nullptr, std::string* headers = nullptr) {
  CURL* c = curl_easy_init();
  std::string sink, header_sink;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, headers ? headers : &header_sink);
  if (!user.empty()) curl_easy_setopt(c, CURLOPT_USERPWD, (user + ":").c_str());
  if (!post_body.empty()) curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body.c_str());
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return code;
}

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    data_ = dir_ / "data";
  }
  void TearDown() override {
    relay_.kill9();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  bool start_relay(const std::string& listen = "127.0.0.1:0") {
    bool ok =
        relay_.start({"--listen", listen, "--data-dir", data_.string(), "--write-key", "it-key"},
                     dir_ / "relay.log");
    EXPECT_TRUE(ok) << relay_.error();
    return ok;
  }

  std::unique_ptr<tern::Client> make_client(const std::string& key) {
    tern::Config config;
    config.endpoint = "http://" + relay_.address();
    config.write_key = key;
    config.storage_path = (dir_ / ("sdk-" + key + ".db")).string();
    config.flush_at = 50;
    config.flush_interval = 100ms;
    config.max_batch_events = 100;
    config.backoff_base = 20ms;
    config.backoff_max = 200ms;
    config.http.connect_timeout = 1000ms;
    config.http.request_timeout = 5000ms;
    auto client = tern::Client::create(config);
    EXPECT_TRUE(client) << client.status().to_string();
    return client ? std::move(client.value()) : nullptr;
  }

  // The relay's log (JSON lines) so far.
  std::string read_log() const {
    std::ifstream log(dir_ / "relay.log");
    return std::string((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  }

  // How many times each properties.i appears in the output.
  std::map<int, int> count_by_index() {
    std::map<int, int> seen;
    for (const json& e : read_events(data_)) seen[e["properties"]["i"].get<int>()]++;
    return seen;
  }

  fs::path dir_, data_;
  tern::testing::RelayProcess relay_;
};

TEST_F(RelayIntegrationTest, EveryEventFromTheSdkArrivesExactlyOnce) {
  ASSERT_TRUE(start_relay());
  auto client = make_client("it-key");
  ASSERT_TRUE(client);
  constexpr int kEvents = 500;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client->track("Item Viewed", {{"i", i}}).is_ok());
  }
  tern::Status flushed = client->flush(60s);
  ASSERT_TRUE(flushed.is_ok()) << flushed.to_string();
  EXPECT_EQ(client->stats().sent, static_cast<uint64_t>(kEvents));
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  ASSERT_EQ(relay_.terminate(), 0);  // drains; the file sink flushes

  auto events = read_events(data_);
  ASSERT_EQ(events.size(), static_cast<size_t>(kEvents));
  std::map<int, int> seen = count_by_index();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kEvents));
  for (auto& [i, n] : seen) EXPECT_EQ(n, 1) << "event " << i;
  // Enriched by the relay.
  const json& e = events.front();
  EXPECT_EQ(e["type"], "track");
  EXPECT_EQ(e["event"], "Item Viewed");
  EXPECT_TRUE(e.contains("receivedAt"));
  EXPECT_TRUE(e.contains("originalTimestamp"));  // the SDK sends sentAt
  EXPECT_EQ(e["context"]["ip"], "127.0.0.1");
  EXPECT_EQ(e["context"]["sourceId"], "default");
}

TEST_F(RelayIntegrationTest, KillNineDuringAStreamLosesNoAcknowledgedEvent) {
  ASSERT_TRUE(start_relay());
  std::string address = relay_.address();
  auto client = make_client("it-key");
  ASSERT_TRUE(client);
  constexpr int kEvents = 600;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client->track("Streamed", {{"i", i}}).is_ok());
    if (i % 20 == 0) std::this_thread::sleep_for(5ms);
    if (i == kEvents / 2) {
      // Let the stream flow first (bounded): under ASan on a loaded machine the
      // first upload may not have been answered yet.
      (void)wait_until([&] { return client->stats().sent > 0; }, 20s);
      uint64_t acked_before = client->stats().sent;
      relay_.kill9();
      RecordProperty("acknowledged_before_kill", static_cast<int>(acked_before));
      EXPECT_GT(acked_before, 0u) << "the stream should have been flowing before the kill";
    }
    if (i == kEvents / 2 + 100) {
      // Same port, so the client's endpoint stays valid.
      ASSERT_TRUE(start_relay(address));
    }
  }
  tern::Status flushed = client->flush(60s);
  ASSERT_TRUE(flushed.is_ok()) << flushed.to_string();
  tern::Stats stats = client->stats();
  EXPECT_EQ(stats.sent, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(stats.dropped, 0u);
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  ASSERT_EQ(relay_.terminate(), 0);

  std::map<int, int> seen = count_by_index();
  int duplicates = 0;
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_GE(seen[i], 1) << "event " << i << " was acknowledged but is missing";
    duplicates += std::max(0, seen[i] - 1);
  }
  // At-least-once across a crash: a batch whose answer was lost is resent,
  // and the relay's in-memory dedup does not survive the kill.
  RecordProperty("duplicates_after_kill", duplicates);
}

TEST_F(RelayIntegrationTest, WrongWriteKeyIs401AndNothingIsWritten) {
  ASSERT_TRUE(start_relay());
  std::string batch = R"({"batch":[{"type":"track","event":"E","userId":"u","messageId":"m1"}]})";
  EXPECT_EQ(http("http://" + relay_.address() + "/v1/batch", "wrong-key", batch), 401);
  auto client = make_client("wrong-key");
  ASSERT_TRUE(client);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->track("Nope", {{"i", i}}).is_ok());
  EXPECT_FALSE(client->flush(1500ms).is_ok());
  EXPECT_EQ(client->stats().sent, 0u);
  std::string metrics;
  EXPECT_EQ(http("http://" + relay_.address() + "/metrics", "", "", &metrics), 200);
  EXPECT_NE(metrics.find("tern_relay_auth_failures_total"), std::string::npos);
  (void)client->shutdown(1s);
  ASSERT_EQ(relay_.terminate(), 0);
  EXPECT_TRUE(read_events(data_).empty());
}

TEST_F(RelayIntegrationTest, WriteKeyFromTheEnvironment) {
  ASSERT_TRUE(relay_.start({"--listen", "127.0.0.1:0", "--data-dir", data_.string()},
                           dir_ / "relay.log", {"TERN_WRITE_KEY=env-key"}))
      << relay_.error();
  std::string batch = R"({"batch":[{"type":"track","event":"E","userId":"u","messageId":"m1"}]})";
  EXPECT_EQ(http("http://" + relay_.address() + "/v1/batch", "env-key", batch), 200);
  EXPECT_EQ(http("http://" + relay_.address() + "/v1/batch", "it-key", batch), 401);
  ASSERT_EQ(relay_.terminate(), 0);
  EXPECT_EQ(read_events(data_).size(), 1u);
}

TEST_F(RelayIntegrationTest, SighupReloadsKeysAndRefusesABadConfig) {
  fs::path config = dir_ / "relay.toml";
  auto write_config = [&](const std::string& key) {
    std::ofstream(config) << "data_dir = \"" << data_.string() << "\"\n"
                          << "[server]\nlisten = \"127.0.0.1:0\"\n"
                          << "[[sources]]\nid = \"app\"\nwrite_keys = [\"" << key << "\"]\n";
  };
  write_config("key-a");
  ASSERT_TRUE(relay_.start({"--config", config.string()}, dir_ / "relay.log")) << relay_.error();
  std::string url = "http://" + relay_.address() + "/v1/track";
  std::string event = R"({"event":"E","userId":"u"})";
  EXPECT_EQ(http(url, "key-a", event), 200);

  write_config("key-b");
  relay_.kill(SIGHUP);
  EXPECT_TRUE(wait_until([&] { return http(url, "key-b", event) == 200; }));
  EXPECT_EQ(http(url, "key-a", event), 401);

  EXPECT_TRUE(wait_until([&] {
    return relay_.metrics().find(kReloadsOk + " 1\n") != std::string::npos;
  })) << relay_.metrics();

  std::ofstream(config) << "this is [not valid toml\n";
  relay_.kill(SIGHUP);
  // The refusal is counted once the relay has read the bad file.
  EXPECT_TRUE(wait_until([&] {
    return relay_.metrics().find(kReloadsRefused + " 1\n") != std::string::npos;
  })) << relay_.metrics();
  EXPECT_EQ(http(url, "key-b", event), 200);  // the running config stayed
  ASSERT_EQ(relay_.terminate(), 0);
  std::string text = read_log();
  EXPECT_NE(text.find("config reload refused"), std::string::npos);
  EXPECT_EQ(text.find("applies only after a restart"), std::string::npos) << text;
}

TEST_F(RelayIntegrationTest, SighupChangesTheServedSdkSettingsAndTheirEtag) {
  fs::path config = dir_ / "relay.toml";
  auto write_config = [&](const std::string& settings) {
    std::ofstream(config) << "data_dir = \"" << data_.string() << "\"\n"
                          << "[server]\nlisten = \"127.0.0.1:0\"\n"
                          << "[[sources]]\nid = \"app\"\nwrite_keys = [\"key-a\"]\n"
                          << "[sources.settings]\n"
                          << settings;
  };
  write_config("sampleRate = 0.5\n");
  ASSERT_TRUE(relay_.start({"--config", config.string()}, dir_ / "relay.log")) << relay_.error();
  std::string url = "http://" + relay_.address() + "/v1/projects/key-a/settings";
  std::string body, headers;
  ASSERT_EQ(http(url, "", "", &body, &headers), 200);
  EXPECT_EQ(json::parse(body)["tern"]["sampleRate"], 0.5);
  EXPECT_EQ(json::parse(body)["integrations"]["Segment.io"]["apiHost"], relay_.address() + "/v1");
  auto etag_of = [](const std::string& h) {
    auto at = h.find("ETag: ");
    return at == std::string::npos ? "" : h.substr(at + 6, h.find("\r\n", at) - at - 6);
  };
  std::string etag = etag_of(headers);
  EXPECT_FALSE(etag.empty()) << headers;

  write_config("sampleRate = 0.5\nenabled = false\n");
  relay_.kill(SIGHUP);
  EXPECT_TRUE(wait_until([&] {
    body.clear();
    headers.clear();
    return http(url, "", "", &body, &headers) == 200 &&
           json::parse(body)["tern"]["enabled"] == false;
  })) << body;
  EXPECT_NE(etag_of(headers), etag);
  EXPECT_FALSE(etag_of(headers).empty());
  ASSERT_EQ(relay_.terminate(), 0);
}

TEST_F(RelayIntegrationTest, SighupWarnsAboutEachChangedSettingThatNeedsARestart) {
  fs::path config = dir_ / "relay.toml";
  auto write_config = [&](const std::string& server) {
    std::ofstream(config) << "data_dir = \"" << data_.string() << "\"\n"
                          << "[server]\n"
                          << server << "[[sources]]\nid = \"app\"\nwrite_keys = [\"key\"]\n";
  };
  write_config("listen = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(relay_.start({"--config", config.string()}, dir_ / "relay.log")) << relay_.error();
  std::string before = relay_.address();

  write_config("listen = \"127.0.0.1:1\"\nthreads = 3\n");
  relay_.kill(SIGHUP);
  EXPECT_TRUE(wait_until([&] {
    return relay_.metrics().find(kReloadsOk + " 1\n") != std::string::npos;
  })) << relay_.metrics();
  // Still listening where it started.
  EXPECT_EQ(http("http://" + before + "/v1/track", "key", R"({"event":"E","userId":"u"})"), 200);
  ASSERT_EQ(relay_.terminate(), 0);
  std::string text = read_log();
  for (const char* key : {"\"setting\":\"server.listen\"", "\"setting\":\"server.threads\""}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << " in\n" << text;
  }
  EXPECT_NE(text.find("applies only after a restart"), std::string::npos) << text;
  EXPECT_NE(text.find("config reloaded"), std::string::npos);
}

TEST_F(RelayIntegrationTest, SinkAckModeAnswersAfterTheFileSinkWroteTheEvent) {
  std::string toml = "data_dir = \"" + data_.string() + "\"\n" +
                     "[server]\nlisten = \"127.0.0.1:0\"\n" +
                     "[[sources]]\nid = \"pos\"\nwrite_keys = [\"pos-key\"]\nack_mode = \"sink\"\n";
  ASSERT_TRUE(relay_.start_with_config(dir_ / "relay.toml", toml, dir_ / "relay.log"))
      << relay_.error();
  std::string headers, body;
  long code = http(
      "http://" + relay_.address() + "/v1/batch", "pos-key",
      R"({"batch":[{"type":"track","event":"Paid","userId":"u","messageId":"s1","properties":{"i":0}}]})",
      &body, &headers);
  EXPECT_EQ(code, 200) << body;
  EXPECT_NE(headers.find("X-Tern-Ack: sink"), std::string::npos) << headers;
  // Acknowledged in sink mode: already in the output before the relay stops.
  auto events = read_events(data_);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["context"]["sourceId"], "pos");
  ASSERT_EQ(relay_.terminate(), 0);
}

TEST(RelayProgramTest, HelpAndVersionExitZeroAndBadFlagsExitTwo) {
  auto run = [](const std::string& args) {
    std::string cmd = std::string(TERN_RELAY_BIN) + " " + args + " >/dev/null 2>&1";
    int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  EXPECT_EQ(run("--help"), 0);
  EXPECT_EQ(run("--version"), 0);
  EXPECT_EQ(run("--no-such-flag"), 2);
  EXPECT_EQ(run("--listen"), 2);
  EXPECT_EQ(run("--config /nonexistent/relay.toml"), 1);
}

}  // namespace
