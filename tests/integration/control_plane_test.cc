// The control plane end to end (docs/control-plane.md): tern-relay as a child
// process with its admin listener, driven over real HTTP on 127.0.0.1 with
// libcurl, events sent with the SDK or raw /v1/batch requests, and asserted on
// what a user sees: the sinks' NDJSON files, the API's answers, /metrics.
//
// ControlPlaneTest shares one relay between its tests (started once per test
// suite); each test works on sources, sinks and routes of its own, named with
// the test's prefix. ControlPlaneCrashTest kills and restarts its own relay.
//
// One file of more than 800 lines on purpose: the HTTP and admin clients
// above the tests exist only for this suite, which shares one relay between
// its tests; split, they would need a header of their own for one reader.
#include <curl/curl.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "relay_process.h"
#include "temp_dir.h"
#include "tern/client.h"
#include "tern/plugin.h"
#include "wait_until.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using tern::testing::RelayProcess;
using tern::testing::TempDir;
using tern::testing::wait_until;

const std::string kSuppressedSeries = "tern_relay_events_rejected_total";

// ---------------------------------------------------------------- HTTP

struct Reply {
  long status = 0;  // 0: no answer (connection refused, reset, timeout)
  std::string body;
  std::string etag;  // the ETag header's value, quotes included

  json json_body() const { return json::parse(body, nullptr, false); }
  // The error code of the API's error shape, "" when there is none.
  std::string error_code() const {
    json j = json_body();
    if (j.is_object() && j.contains("error") && j["error"].is_object())
      return j["error"].value("code", "");
    return "";
  }
};

std::ostream& operator<<(std::ostream& out, const Reply& r) {
  return out << "HTTP " << r.status << " " << r.body.substr(0, 2000);
}

size_t append_cb(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

size_t header_cb(char* p, size_t s, size_t n, void* out) {
  std::string line(p, s * n);
  std::string lower = line;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.rfind("etag:", 0) == 0) {
    std::string v = line.substr(5);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    *static_cast<std::string*>(out) = v;
  }
  return s * n;
}

// One keep-alive connection's worth of libcurl: requests in sequence from one
// thread at a time.
class HttpClient {
 public:
  HttpClient() : curl_(curl_easy_init()) {}
  ~HttpClient() { curl_easy_cleanup(curl_); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `user`: HTTP Basic user name (a write key); `headers`: "Name: value".
  Reply request(const std::string& method, const std::string& url, const std::string& body,
                const std::vector<std::string>& headers = {}, const std::string& user = "") {
    Reply r;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, append_cb);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.etag);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    struct curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    if (!body.empty()) list = curl_slist_append(list, "Content-Type: application/json");
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    if (!user.empty()) curl_easy_setopt(curl_, CURLOPT_USERPWD, (user + ":").c_str());
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.status = 0;
    }
    curl_slist_free_all(list);
    return r;
  }

 private:
  CURL* curl_;
};

// The admin API at one address with one bearer token. Not thread-safe: one
// per thread.
class AdminClient {
 public:
  AdminClient(std::string address, std::string token)
      : base_("http://" + std::move(address)), token_(std::move(token)) {}

  Reply call(const std::string& method, const std::string& path, const json& body = nullptr,
             const std::string& if_match = "") {
    std::vector<std::string> headers{"Authorization: Bearer " + token_};
    if (!if_match.empty()) headers.push_back("If-Match: " + if_match);
    return http_.request(method, base_ + path, body.is_null() ? "" : body.dump(), headers);
  }
  Reply get(const std::string& path) { return call("GET", path); }
  Reply post(const std::string& path, const json& body) { return call("POST", path, body); }
  Reply patch(const std::string& path, const json& body, const std::string& if_match = "") {
    return call("PATCH", path, body, if_match);
  }
  Reply put(const std::string& path, const json& body, const std::string& if_match = "") {
    return call("PUT", path, body, if_match);
  }
  Reply del(const std::string& path, const std::string& if_match = "") {
    return call("DELETE", path, nullptr, if_match);
  }

 private:
  std::string base_;
  std::string token_;
  HttpClient http_;
};

// POST /v1/batch of `events` with `write_key` as the Basic user name.
Reply post_batch(HttpClient& http, const std::string& address, const std::string& write_key,
                 const std::vector<json>& events) {
  json body = json::object();
  body["batch"] = json::array();
  for (const json& e : events) body["batch"].push_back(e);
  return http.request("POST", "http://" + address + "/v1/batch", body.dump(), {}, write_key);
}

json track_event(const std::string& message_id, const std::string& user_id) {
  return {{"type", "track"},
          {"event", "Item Viewed"},
          {"userId", user_id},
          {"messageId", message_id},
          {"properties", {{"plan", "pro"}}}};
}

// ---------------------------------------------------------------- sink output

// How many times each messageId appears in the NDJSON files under `dir`
// (complete lines only: a file still being written may end in a partial one).
std::map<std::string, int> message_ids_in(const fs::path& dir) {
  static const std::string kKey = "\"messageId\":\"";
  std::map<std::string, int> seen;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return seen;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no '\n' yet: the line is not complete
      auto p = line.find(kKey);
      if (p != std::string::npos) {
        auto start = p + kKey.size();
        auto end = line.find('"', start);
        if (end != std::string::npos) seen[line.substr(start, end - start)]++;
        continue;
      }
      json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.contains("messageId")) seen[e["messageId"].get<std::string>()]++;
    }
  }
  return seen;
}

// Every complete event line under `dir`, parsed.
std::vector<json> events_in(const fs::path& dir) {
  std::vector<json> events;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return events;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;
      json e = json::parse(line, nullptr, false);
      if (e.is_object()) events.push_back(std::move(e));
    }
  }
  return events;
}

// The ids of `wanted` not (yet) in `seen`.
std::vector<std::string> missing_from(const std::vector<std::string>& wanted,
                                      const std::map<std::string, int>& seen) {
  std::vector<std::string> missing;
  for (const auto& id : wanted) {
    if (!seen.count(id)) missing.push_back(id);
  }
  return missing;
}

// Polls the sink's files (a whole read each time, so every 50 ms) until every
// id of `wanted` is there or `timeout` passes: what is still missing.
std::vector<std::string> wait_for_ids(const fs::path& dir, const std::vector<std::string>& wanted,
                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto missing = missing_from(wanted, message_ids_in(dir));
    if (missing.empty() || std::chrono::steady_clock::now() >= deadline) return missing;
    std::this_thread::sleep_for(50ms);
  }
}

std::string first_few(const std::vector<std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < 10; ++i) out += ids[i] + " ";
  return out + (ids.size() > 10 ? "..." : "");
}

// Sum of a Prometheus counter's series whose labels contain `label`.
double counter_sum(const std::string& metrics, const std::string& name, const std::string& label) {
  double sum = 0;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name + "{", 0) != 0) continue;
    auto close = line.find('}');
    if (close == std::string::npos || line.substr(0, close).find(label) == std::string::npos)
      continue;
    sum += std::atof(line.c_str() + close + 1);
  }
  return sum;
}

// The part of a state document that is the pipeline: the four resource
// lists, each write key reduced to its id (a key's value may be shown in
// one view and fingerprinted in another; its id names it).
json pipeline_of(const json& state) {
  json out = json::object();
  for (const char* list : {"sources", "sinks", "routes", "suppressions"}) {
    json items = state.contains(list) ? state[list] : json::array();
    for (auto& item : items) {
      if (!item.contains("write_keys")) continue;
      for (auto& key : item["write_keys"]) key.erase("key");
    }
    out[list] = items;
  }
  return out;
}

// Records the messageId of every event the SDK stores.
class MessageIdRecorder : public tern::Plugin {
 public:
  bool process(json& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.contains("messageId")) ids_.push_back(event["messageId"].get<std::string>());
    return true;
  }
  std::vector<std::string> ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> ids_;
};

// ---------------------------------------------------------------- a control relay

const std::string kToken = "tat_control_plane_test_bootstrap_0123456789";

// Starts tern-relay on `data` with an admin listener and kToken as its
// bootstrap token (from a file in `dir`); true once both listen.
bool start_control_relay(RelayProcess& relay, const TempDir& dir, const std::string& data,
                         const std::string& log_name) {
  std::ofstream(dir.file("admin.token")) << kToken << "\n";
  return relay.start(
             {"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", data,
              "--admin-token-file", dir.file("admin.token"), "--write-key", "seed-key"},
             dir.file(log_name)) &&
         relay.read_admin_address();
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir_ = new TempDir();
    relay_ = new RelayProcess();
    started_ = start_control_relay(*relay_, *dir_, dir_->file("data"), "relay.log");
    if (!started_) start_error_ = relay_->error();
  }
  static void TearDownTestSuite() {
    if (relay_) relay_->terminate();
    delete relay_;
    relay_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << start_error_; }

  static AdminClient admin() { return AdminClient(relay_->admin_address(), kToken); }
  static const std::string& ingest() { return relay_->address(); }
  static fs::path sink_dir(const std::string& name) { return dir_->file("sinks/" + name); }

  // A source, a file sink writing under sink_dir(sink) and a route from the
  // one to the other, through the API. The source's first write key.
  static std::string make_pipeline(AdminClient& api, const std::string& source,
                                   const std::string& sink) {
    Reply src = api.post("/admin/v1/sources", {{"id", source}});
    EXPECT_EQ(src.status, 201) << src;
    Reply snk = api.post("/admin/v1/sinks", {{"name", sink},
                                             {"type", "file"},
                                             {"dir", sink_dir(sink).string()},
                                             {"batch_linger", "5ms"}});
    EXPECT_EQ(snk.status, 201) << snk;
    Reply route = api.post("/admin/v1/routes", {{"id", source + "-to-" + sink},
                                                {"sources", json::array({source})},
                                                {"sinks", json::array({sink})}});
    EXPECT_EQ(route.status, 201) << route;
    json body = src.json_body();
    if (!body.is_object() || !body.contains("write_keys") || body["write_keys"].empty()) return "";
    return body["write_keys"][0].value("key", "");
  }

  static inline TempDir* dir_ = nullptr;
  static inline RelayProcess* relay_ = nullptr;
  static inline bool started_ = false;
  static inline std::string start_error_;
};

TEST_F(ControlPlaneTest, APipelineCreatedThroughTheApiDeliversEveryEventWithoutARestart) {
  AdminClient api = admin();
  std::string key = make_pipeline(api, "e2e-app", "e2e-files");
  ASSERT_FALSE(key.empty());

  auto recorder = std::make_shared<MessageIdRecorder>();
  tern::Config config;
  config.endpoint = "http://" + ingest();
  config.write_key = key;
  config.storage_path = dir_->file("e2e-sdk.db");
  config.flush_at = 50;
  config.flush_interval = 100ms;
  config.backoff_base = 20ms;
  config.backoff_max = 200ms;
  config.plugins.push_back(recorder);
  auto client = tern::Client::create(config);
  ASSERT_TRUE(client) << client.status().to_string();
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client.value()->track("Item Viewed", {{"i", i}}).is_ok());
  }
  tern::Status flushed = client.value()->flush(60s);
  ASSERT_TRUE(flushed.is_ok()) << flushed.to_string();
  EXPECT_EQ(client.value()->stats().sent, static_cast<uint64_t>(kEvents));
  ASSERT_TRUE(client.value()->shutdown(5s).is_ok());

  std::vector<std::string> sent = recorder->ids();
  ASSERT_EQ(sent.size(), static_cast<size_t>(kEvents));
  auto missing = wait_for_ids(sink_dir("e2e-files"), sent, 30s);
  EXPECT_TRUE(missing.empty()) << missing.size()
                               << " events never reached the sink: " << first_few(missing);
  for (const json& e : events_in(sink_dir("e2e-files"))) {
    EXPECT_EQ(e["context"]["sourceId"], "e2e-app");
  }

  // Rotation: add a key, then revoke the first; the revoked one is refused by
  // the very next request.
  json created = api.get("/admin/v1/sources/e2e-app").json_body();
  ASSERT_TRUE(created.is_object() && created["write_keys"].size() == 1) << created.dump();
  std::string old_key_id = created["write_keys"][0]["id"];
  Reply added = api.post("/admin/v1/sources/e2e-app/write-keys", json::object());
  ASSERT_EQ(added.status, 201) << added;
  std::string new_key = added.json_body().value("key", "");
  ASSERT_FALSE(new_key.empty()) << added;

  HttpClient http;
  EXPECT_EQ(post_batch(http, ingest(), new_key, {track_event("e2e-new-1", "u1")}).status, 200);
  Reply revoked = api.del("/admin/v1/sources/e2e-app/write-keys/" + old_key_id);
  ASSERT_EQ(revoked.status, 204) << revoked;
  EXPECT_EQ(post_batch(http, ingest(), key, {track_event("e2e-old-1", "u1")}).status, 401);
  EXPECT_EQ(post_batch(http, ingest(), new_key, {track_event("e2e-new-2", "u1")}).status, 200);
  EXPECT_TRUE(wait_for_ids(sink_dir("e2e-files"), {"e2e-new-1", "e2e-new-2"}, 30s).empty());
  EXPECT_EQ(message_ids_in(sink_dir("e2e-files")).count("e2e-old-1"), 0u);
}

TEST_F(ControlPlaneTest, TwoWritersWithTheSameEtagOneWinsAndTheOtherGets412) {
  AdminClient api = admin();
  ASSERT_EQ(api.post("/admin/v1/sources", {{"id", "etag-src"}}).status, 201);
  Reply read = api.get("/admin/v1/sources/etag-src");
  ASSERT_EQ(read.status, 200) << read;
  ASSERT_FALSE(read.etag.empty()) << "no ETag on " << read;

  // Both read the same revision, then both write with it, at the same time.
  auto race = [&](const std::string& method, const std::string& path, const json& body_a,
                  const json& body_b, const std::string& etag) {
    std::vector<Reply> replies(2);
    std::atomic<int> ready{0};
    auto writer = [&](int i, const json& body) {
      AdminClient own = admin();
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      replies[i] = own.call(method, path, body, etag);
    };
    std::thread a(writer, 0, body_a);
    std::thread b(writer, 1, body_b);
    a.join();
    b.join();
    return replies;
  };

  auto patched = race("PATCH", "/admin/v1/sources/etag-src", {{"rate_limit_eps", 100}},
                      {{"rate_limit_eps", 200}}, read.etag);
  std::multiset<long> statuses{patched[0].status, patched[1].status};
  EXPECT_EQ(statuses, (std::multiset<long>{200, 412})) << patched[0] << "\n" << patched[1];
  const Reply& loser = patched[0].status == 412 ? patched[0] : patched[1];
  EXPECT_EQ(loser.error_code(), "revision_mismatch") << loser;
  // The winner's value is stored.
  int winner_eps = patched[0].status == 200 ? 100 : 200;
  EXPECT_EQ(api.get("/admin/v1/sources/etag-src").json_body().value("rate_limit_eps", -1),
            winner_eps);

  // The same for the whole state (GitOps: PUT with If-Match).
  Reply state = api.get("/admin/v1/state");
  ASSERT_EQ(state.status, 200) << state;
  ASSERT_FALSE(state.etag.empty());
  json doc_a = state.json_body(), doc_b = state.json_body();
  doc_a["suppressions"].push_back({{"user_id", "etag-put-a"}, {"reason", "writer a"}});
  doc_b["suppressions"].push_back({{"user_id", "etag-put-b"}, {"reason", "writer b"}});
  auto put = race("PUT", "/admin/v1/state", doc_a, doc_b, state.etag);
  int ok = 0, stale = 0;
  for (const Reply& r : put) {
    ok += r.status >= 200 && r.status < 300;
    stale += r.status == 412;
  }
  EXPECT_EQ(ok, 1) << put[0] << "\n" << put[1];
  EXPECT_EQ(stale, 1) << put[0] << "\n" << put[1];
  json after = api.get("/admin/v1/state").json_body();
  int present = 0;
  for (const json& s : after["suppressions"]) {
    present += s["user_id"] == "etag-put-a" || s["user_id"] == "etag-put-b";
  }
  EXPECT_EQ(present, 1) << after["suppressions"].dump();
}

TEST_F(ControlPlaneTest, DryRunsAnswerWithTheDiffAndChangeNothing) {
  AdminClient api = admin();
  ASSERT_EQ(api.post("/admin/v1/sources", {{"id", "dry-src"}}).status, 201);
  Reply before = api.get("/admin/v1/state");
  ASSERT_EQ(before.status, 200) << before;
  Reply audit_before = api.get("/admin/v1/audit");
  ASSERT_EQ(audit_before.status, 200) << audit_before;

  json with_suppression = before.json_body();
  with_suppression["suppressions"].push_back({{"user_id", "dry-user"}, {"reason", "dry"}});
  struct Case {
    std::string method, path;
    json body;
    std::string if_match;
    bool valid;
  };
  std::vector<Case> cases{
      {"POST", "/admin/v1/sources?dry_run=true", {{"id", "dry-new"}}, "", true},
      {"PATCH", "/admin/v1/sources/dry-src?dry_run=true", {{"rate_limit_eps", 5}}, "", true},
      {"DELETE", "/admin/v1/sources/dry-src?dry_run=true", nullptr, "", true},
      {"POST",
       "/admin/v1/sinks?dry_run=true",
       {{"name", "dry-sink"}, {"type", "file"}, {"dir", sink_dir("dry-sink").string()}},
       "",
       true},
      {"POST",
       "/admin/v1/routes?dry_run=true",
       {{"id", "dry-route"},
        {"sources", json::array({"dry-src"})},
        {"sinks", json::array({"file"})}},
       "",
       true},
      {"POST",
       "/admin/v1/suppressions?dry_run=true",
       {{"user_id", "dry-user"}, {"reason", "dry"}},
       "",
       true},
      {"PUT", "/admin/v1/state?dry_run=true", with_suppression, before.etag, true},
      {"POST",
       "/admin/v1/sinks?dry_run=true",
       {{"name", "dry-bad"}, {"type", "no-such-type"}},
       "",
       false},
      {"POST",
       "/admin/v1/routes?dry_run=true",
       {{"id", "dry-bad-route"}, {"sinks", json::array({"no-such-sink"})}},
       "",
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    Reply r = api.call(c.method, c.path, c.body, c.if_match);
    ASSERT_EQ(r.status, 200) << r;
    json j = r.json_body();
    ASSERT_TRUE(j.is_object()) << r;
    EXPECT_EQ(j.value("dry_run", false), true) << r;
    EXPECT_EQ(j.value("valid", !c.valid), c.valid) << r;
    if (c.valid) {
      EXPECT_TRUE(j.contains("diff") && !j["diff"].empty()) << r;
    } else {
      EXPECT_TRUE(j.contains("errors") && !j["errors"].empty()) << r;
    }
  }

  Reply after = api.get("/admin/v1/state");
  ASSERT_EQ(after.status, 200) << after;
  EXPECT_EQ(after.etag, before.etag);
  EXPECT_EQ(after.json_body(), before.json_body());
  EXPECT_EQ(api.get("/admin/v1/audit").json_body(), audit_before.json_body());
  EXPECT_EQ(api.get("/admin/v1/sources/dry-new").status, 404);
}

TEST_F(ControlPlaneTest, ASourcesSdkSettingsChangedThroughTheApiAreServedFromTheNextRequest) {
  AdminClient api = admin();
  Reply src = api.post("/admin/v1/sources", {{"id", "settings-app"}});
  ASSERT_EQ(src.status, 201) << src;
  std::string key = src.json_body()["write_keys"][0].value("key", "");
  std::string key_id = src.json_body()["write_keys"][0].value("id", "");
  std::string url = "http://" + ingest() + "/v1/projects/" + key + "/settings";
  HttpClient http;
  Reply before = http.request("GET", url, "");
  ASSERT_EQ(before.status, 200) << before;
  EXPECT_EQ(before.json_body()["tern"]["enabled"], true);
  EXPECT_EQ(before.json_body()["integrations"]["Segment.io"]["apiKey"], key);
  ASSERT_FALSE(before.etag.empty());
  EXPECT_EQ(http.request("GET", url, "", {"If-None-Match: " + before.etag}).status, 304);

  Reply bad = api.patch("/admin/v1/sources/settings-app", {{"settings", {{"sampleRate", 2}}}});
  EXPECT_EQ(bad.status, 422) << bad;
  EXPECT_NE(bad.body.find("settings.sampleRate"), std::string::npos) << bad;

  Reply changed = api.patch("/admin/v1/sources/settings-app",
                            {{"settings", {{"enabled", false}, {"ttlSeconds", 600}}}});
  ASSERT_EQ(changed.status, 200) << changed;
  Reply after = http.request("GET", url, "", {"If-None-Match: " + before.etag});
  ASSERT_EQ(after.status, 200) << after;
  EXPECT_EQ(after.json_body()["tern"]["enabled"], false);
  EXPECT_EQ(after.json_body()["tern"]["ttlSeconds"], 600);
  EXPECT_NE(after.etag, before.etag);

  // A revoked key's settings are gone at once.
  ASSERT_EQ(api.post("/admin/v1/sources/settings-app/write-keys", json::object()).status, 201);
  ASSERT_EQ(api.del("/admin/v1/sources/settings-app/write-keys/" + key_id).status, 204);
  EXPECT_EQ(http.request("GET", url, "").status, 404);
}

TEST_F(ControlPlaneTest, ASuppressedUsersEventsAreRejectedCountedAndNeverReachTheSink) {
  AdminClient api = admin();
  std::string key = make_pipeline(api, "supp-app", "supp-files");
  ASSERT_FALSE(key.empty());
  double counted_before =
      counter_sum(relay_->metrics(), kSuppressedSeries, "reason=\"suppressed\"");

  Reply suppressed = api.post("/admin/v1/suppressions",
                              {{"user_id", "supp-user-1"}, {"reason", "gdpr-erasure-4711"}});
  ASSERT_EQ(suppressed.status, 201) << suppressed;

  HttpClient http;
  Reply first = post_batch(http, ingest(), key,
                           {track_event("supp-x-0", "supp-user-1"), track_event("supp-ok-0", "ok"),
                            track_event("supp-x-1", "supp-user-1"), track_event("supp-ok-1", "ok"),
                            track_event("supp-x-2", "supp-user-1")});
  ASSERT_EQ(first.status, 200) << first;
  json answer = first.json_body();
  EXPECT_EQ(answer.value("accepted", -1), 2) << first;
  std::set<int> rejected_at;
  for (const json& r : answer["rejected"]) {
    EXPECT_EQ(r.value("reason", ""), "suppressed") << first;
    rejected_at.insert(r.value("index", -1));
  }
  EXPECT_EQ(rejected_at, (std::set<int>{0, 2, 4})) << first;

  // A later batch reaches the sink after the first one would have: once it
  // is there, the suppressed events had their chance to arrive.
  ASSERT_EQ(post_batch(http, ingest(), key, {track_event("supp-ok-2", "ok")}).status, 200);
  auto missing = wait_for_ids(sink_dir("supp-files"), {"supp-ok-0", "supp-ok-1", "supp-ok-2"}, 30s);
  ASSERT_TRUE(missing.empty()) << first_few(missing);
  for (const json& e : events_in(sink_dir("supp-files"))) {
    EXPECT_NE(e.value("userId", ""), "supp-user-1") << e.dump();
  }
  EXPECT_TRUE(wait_until([&] {
    return counter_sum(relay_->metrics(), kSuppressedSeries, "reason=\"suppressed\"") ==
           counted_before + 3;
  })) << relay_->metrics();

  // Lifting the suppression lets the user's events through again.
  Reply lifted = api.del("/admin/v1/suppressions/supp-user-1");
  ASSERT_EQ(lifted.status, 204) << lifted;
  Reply again = post_batch(http, ingest(), key, {track_event("supp-x-3", "supp-user-1")});
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(again.json_body().value("accepted", -1), 1) << again;
  EXPECT_TRUE(wait_for_ids(sink_dir("supp-files"), {"supp-x-3"}, 30s).empty());
}

TEST_F(ControlPlaneTest, EveryAcceptedEventReachesTheSinksRoutedToItWhileTheConfigChanges) {
  AdminClient api = admin();
  // "load-all" is routed from the start and never changed; "load-side" keeps
  // its sink while its route changes (always including track events, all the
  // load sends). Both must end with every accepted event. The sinks added
  // and removed during the run are deleted with their events discarded.
  std::string key = make_pipeline(api, "load", "load-all");
  ASSERT_FALSE(key.empty());
  ASSERT_EQ(api.post("/admin/v1/sinks", {{"name", "load-side"},
                                         {"type", "file"},
                                         {"dir", sink_dir("load-side").string()},
                                         {"batch_linger", "5ms"}})
                .status,
            201);
  ASSERT_EQ(api.post("/admin/v1/routes", {{"id", "load-to-side"},
                                          {"sources", json::array({"load"})},
                                          {"types", json::array({"track"})},
                                          {"sinks", json::array({"load-side"})}})
                .status,
            201);

  constexpr int kWriters = 3;
  constexpr int kEventsPerBatch = 20;
  // 30 changes, one every 100 ms (~3 s); a slow machine stretches the run,
  // up to kChurnLimit.
  constexpr int kChanges = 30;
  constexpr auto kChurnLimit = 15s;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> accepted;
  std::map<long, int> load_statuses;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      HttpClient http;
      // Bounded even if `stop` never came.
      auto deadline = std::chrono::steady_clock::now() + kChurnLimit + 30s;
      for (int n = 0; !stop.load() && std::chrono::steady_clock::now() < deadline; ++n) {
        std::vector<json> batch;
        std::vector<std::string> ids;
        for (int k = 0; k < kEventsPerBatch; ++k) {
          ids.push_back("load-" + std::to_string(w) + "-" + std::to_string(n) + "-" +
                        std::to_string(k));
          batch.push_back(track_event(ids.back(), "load-user"));
        }
        Reply r = post_batch(http, ingest(), key, batch);
        std::lock_guard<std::mutex> lock(mu);
        load_statuses[r.status]++;
        if (r.status != 200) continue;
        std::set<int> rejected;
        json answer = r.json_body();
        if (answer.is_object() && answer.contains("rejected")) {
          for (const json& x : answer["rejected"]) rejected.insert(x.value("index", -1));
        }
        for (int k = 0; k < kEventsPerBatch; ++k) {
          if (!rejected.count(k)) accepted.push_back(ids[static_cast<size_t>(k)]);
        }
      }
    });
  }

  // Ten changes a second: a source added, a sink added, routed to and removed,
  // a route changed, the source removed.
  std::vector<std::string> failed_changes;
  int changes = 0;
  {
    AdminClient changer = admin();
    auto t0 = std::chrono::steady_clock::now();
    for (int tick = 0; tick < kChanges && std::chrono::steady_clock::now() - t0 < kChurnLimit;
         ++tick) {
      std::this_thread::sleep_until(t0 + tick * 100ms);
      int cycle = tick / 7;
      std::string c = std::to_string(cycle);
      Reply r;
      switch (tick % 7) {
        case 0:
          r = changer.post("/admin/v1/sources", {{"id", "churn-src-" + c}});
          break;
        case 1:
          r = changer.post("/admin/v1/sinks", {{"name", "churn-sink-" + c},
                                               {"type", "file"},
                                               {"dir", sink_dir("churn-sink-" + c).string()}});
          break;
        case 2:
          r = changer.post("/admin/v1/routes", {{"id", "churn-route-" + c},
                                                {"sources", json::array({"load"})},
                                                {"sinks", json::array({"churn-sink-" + c})}});
          break;
        case 3:
          r = changer.patch(
              "/admin/v1/routes/load-to-side",
              {{"types", cycle % 2 ? json::array({"track", "page"}) : json::array({"track"})}});
          break;
        case 4:
          r = changer.del("/admin/v1/routes/churn-route-" + c);
          break;
        case 5:
          r = changer.del("/admin/v1/sinks/churn-sink-" + c + "?discard=true");
          break;
        case 6:
          r = changer.del("/admin/v1/sources/churn-src-" + c);
          break;
      }
      ++changes;
      if (r.status < 200 || r.status >= 300) {
        failed_changes.push_back("tick " + std::to_string(tick) + ": " + r.body.substr(0, 300) +
                                 " (HTTP " + std::to_string(r.status) + ")");
      }
    }
  }
  stop = true;
  for (auto& t : writers) t.join();

  RecordProperty("config_changes", changes);
  RecordProperty("accepted_events", static_cast<int>(accepted.size()));
  EXPECT_TRUE(failed_changes.empty())
      << failed_changes.size() << " changes failed, first: " << failed_changes.front();
  EXPECT_EQ(changes, kChanges) << "the changes took longer than " << kChurnLimit.count() << " s";
  ASSERT_GE(accepted.size(), static_cast<size_t>(10 * kEventsPerBatch))
      << "the load barely flowed; statuses: " << json(load_statuses).dump();
  // No connection was dropped: every batch got an answer.
  EXPECT_EQ(load_statuses.count(0), 0u) << json(load_statuses).dump();

  auto missing_all = wait_for_ids(sink_dir("load-all"), accepted, 60s);
  EXPECT_TRUE(missing_all.empty())
      << missing_all.size() << " of " << accepted.size()
      << " accepted events are missing from load-all: " << first_few(missing_all);
  auto missing_side = wait_for_ids(sink_dir("load-side"), accepted, 60s);
  EXPECT_TRUE(missing_side.empty())
      << missing_side.size() << " of " << accepted.size()
      << " accepted events are missing from load-side: " << first_few(missing_side);
  // The sink nobody changed was never rebuilt: nothing was delivered twice.
  int duplicates = 0;
  for (const auto& [id, n] : message_ids_in(sink_dir("load-all"))) duplicates += n - 1;
  EXPECT_EQ(duplicates, 0);
}

// ---------------------------------------------------------------- persistence

struct AckedChange {
  std::string kind;  // "source" or "suppression"
  std::string id;
  std::string key;  // a source's write key
  int64_t revision = 0;
};

// What a control relay restarted after a crash shows: the state of one
// committed revision, no older than the last acknowledged one, with every
// acknowledged change in it.
void expect_consistent_after_crash(AdminClient& api, const std::vector<AckedChange>& acked) {
  Reply state = api.get("/admin/v1/state");
  ASSERT_EQ(state.status, 200) << state;
  json doc = state.json_body();
  int64_t revision = doc.value("revision", int64_t{-1});
  int64_t last_acked = acked.back().revision;
  // The writer waits for each answer: at most one commit was unacknowledged.
  EXPECT_GE(revision, last_acked);
  EXPECT_LE(revision, last_acked + 1);
  EXPECT_EQ(state.etag, "\"" + std::to_string(revision) + "\"");

  // The state is exactly the committed revision's, not a mix.
  Reply committed = api.get("/admin/v1/revisions/" + std::to_string(revision));
  ASSERT_EQ(committed.status, 200) << committed;
  json rev = committed.json_body();
  ASSERT_TRUE(rev.is_object() && rev.contains("state")) << committed;
  EXPECT_EQ(pipeline_of(rev["state"]), pipeline_of(doc));

  std::set<std::string> sources, suppressions;
  for (const json& s : doc["sources"]) sources.insert(s.value("id", ""));
  for (const json& s : doc["suppressions"]) suppressions.insert(s.value("user_id", ""));
  for (const AckedChange& a : acked) {
    const auto& present = a.kind == "source" ? sources : suppressions;
    EXPECT_TRUE(present.count(a.id))
        << a.kind << " " << a.id << " (revision " << a.revision << ") was acknowledged but is gone";
  }
}

TEST(ControlPlaneCrashTest, ARelayKilledWhileChangesCommitComesBackWithEveryAcknowledgedChange) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  TempDir dir;
  RelayProcess relay;
  ASSERT_TRUE(start_control_relay(relay, dir, dir.file("data"), "relay-0.log")) << relay.error();

  // Three crashes, each after a different number of commits, so the kill
  // lands at different points of a commit.
  std::mt19937 rng(std::random_device{}());
  std::vector<AckedChange> acked;  // over every round
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const size_t kill_after = acked.size() + 10 + rng() % 25;
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::string writer_error;
    std::thread writer([&] {
      AdminClient api(relay.admin_address(), kToken);
      auto deadline = std::chrono::steady_clock::now() + 60s;
      for (int i = 0; !stop.load() && std::chrono::steady_clock::now() < deadline; ++i) {
        bool source = i % 2 == 0;
        std::string id =
            "crash-r" + std::to_string(round) + (source ? "-src-" : "-user-") + std::to_string(i);
        Reply r = source
                      ? api.post("/admin/v1/sources", {{"id", id}})
                      : api.post("/admin/v1/suppressions", {{"user_id", id}, {"reason", "crash"}});
        if (r.status == 0) break;  // the relay is gone
        json body = r.json_body();
        std::lock_guard<std::mutex> lock(mu);
        if (r.status != 201 || !body.is_object()) {
          writer_error = "commit " + id + " answered " + r.body.substr(0, 300);
          break;
        }
        AckedChange a{source ? "source" : "suppression", id, "",
                      body.value("revision", int64_t{0})};
        if (source && body.contains("write_keys") && !body["write_keys"].empty())
          a.key = body["write_keys"][0].value("key", "");
        acked.push_back(a);
      }
    });
    // The writer commits as fast as it can, so a commit is in flight at any moment.
    bool flowing = wait_until(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return acked.size() >= kill_after || !writer_error.empty();
        },
        30s);
    relay.kill9();
    stop = true;
    writer.join();
    ASSERT_TRUE(writer_error.empty()) << writer_error;
    ASSERT_TRUE(flowing) << "only " << acked.size() << " commits acknowledged in 30 s";

    ASSERT_TRUE(start_control_relay(relay, dir, dir.file("data"),
                                    "relay-" + std::to_string(round + 1) + ".log"))
        << relay.error();
    AdminClient api(relay.admin_address(), kToken);
    expect_consistent_after_crash(api, acked);
    if (HasFatalFailure()) return;
  }
  RecordProperty("acknowledged_commits", static_cast<int>(acked.size()));

  // And the relay runs the state: the last acknowledged source's key is accepted.
  for (auto it = acked.rbegin(); it != acked.rend(); ++it) {
    if (it->kind != "source") continue;
    HttpClient http;
    EXPECT_EQ(post_batch(http, relay.address(), it->key, {track_event("crash-1", "u")}).status,
              200);
    break;
  }
  EXPECT_EQ(relay.terminate(), 0);
}

}  // namespace
