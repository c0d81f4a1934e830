// The live tap end to end (docs/tap.md): a relay with its admin listener as a
// child process, GET /admin/v1/tap read over real HTTP as a viewer reads it,
// events posted to /v1/batch, and `ternctl tap` run as a user runs it.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process_util.h"
#include "wait_until.h"

namespace tern::testing::fleet {
namespace {

using namespace std::chrono_literals;

// A viewer of GET /admin/v1/tap on a thread of its own, keeping what arrives.
class TapViewer {
 public:
  TapViewer(const std::string& admin_url, const std::string& query) {
    url_ = admin_url + "/admin/v1/tap" + query;
    thread_ = std::thread([this] { run(); });
  }
  ~TapViewer() { close(); }

  // Ends the viewer (its connection closes) and waits for its thread.
  void close() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::string text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  bool opened() const { return text().rfind(": tap open after seq ", 0) == 0; }
  // The JSON of each `data:` line so far.
  std::vector<Json> messages() const {
    std::vector<Json> out;
    const std::string t = text();
    for (std::size_t at = t.find("data: "); at != std::string::npos;
         at = t.find("data: ", at + 1)) {
      if (at > 0 && t[at - 1] != '\n') continue;
      std::size_t end = t.find('\n', at);
      if (end == std::string::npos) break;
      out.push_back(Json::parse(t.substr(at + 6, end - at - 6), nullptr, false));
    }
    return out;
  }

 private:
  void run() {
    CURL* c = curl_easy_init();
    std::string auth = std::string("Authorization: Bearer ") + ControlRelay::kBootstrapToken;
    curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60'000L);  // no test keeps a viewer longer
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
                     static_cast<size_t (*)(char*, size_t, size_t, void*)>(
                         [](char* p, size_t s, size_t n, void* self) -> size_t {
                           auto* v = static_cast<TapViewer*>(self);
                           std::lock_guard<std::mutex> lock(v->mu_);
                           v->text_.append(p, s * n);
                           return s * n;
                         }));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
                     static_cast<int (*)(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t)>(
                         [](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                           return static_cast<TapViewer*>(self)->stop_.load() ? 1 : 0;
                         }));
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
    curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
  }

  std::string url_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string text_;
  std::thread thread_;
};

class TapEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    relay_ = std::make_unique<ControlRelay>(dir_.file("relay"));
    ASSERT_TRUE(relay_->start());
  }

  double open_taps() { return metric(relay_->process().metrics(), "tern_relay_tap_open"); }

  TempDir dir_;
  std::unique_ptr<ControlRelay> relay_;
};

TEST_F(TapEndToEndTest, ATapShowsEachAcceptedEventEnrichedWithItsSourceAndSequence) {
  TapViewer viewer(relay_->admin_url(), "");
  ASSERT_TRUE(wait_until([&] { return viewer.opened(); })) << viewer.text();
  ASSERT_EQ(post_batch(relay_->ingest(), ControlRelay::kSeedKey), 200);
  ASSERT_EQ(post_batch(relay_->ingest(), ControlRelay::kSeedKey), 200);
  ASSERT_TRUE(wait_until([&] { return viewer.messages().size() == 2; })) << viewer.text();
  auto messages = viewer.messages();
  for (const Json& m : messages) {
    ASSERT_TRUE(m.is_object()) << viewer.text();
    EXPECT_EQ(m["source"], "default");
    EXPECT_EQ(m["type"], "track");
    EXPECT_EQ(m["event"]["event"], "Fleet Test");
    EXPECT_TRUE(m["event"].contains("receivedAt")) << m.dump();
    EXPECT_EQ(m["event"]["context"]["sourceId"], "default") << m.dump();
  }
  EXPECT_EQ(messages[1]["seq"].get<uint64_t>(), messages[0]["seq"].get<uint64_t>() + 1);
  EXPECT_NE(
      viewer.text().find("id: " + std::to_string(messages[0]["seq"].get<uint64_t>()) + "\ndata: "),
      std::string::npos);
}

TEST_F(TapEndToEndTest, WithRejectedTrueABadEventShowsWithItsReason) {
  TapViewer viewer(relay_->admin_url(), "?rejected=true");
  ASSERT_TRUE(wait_until([&] { return viewer.opened(); })) << viewer.text();
  HttpAnswer a = http("POST", "http://" + relay_->ingest() + "/v1/batch", {},
                      R"({"batch":[{"type":"track","userId":"u-1"},)"
                      R"({"type":"track","event":"Good","userId":"u-2"}]})",
                      {}, ControlRelay::kSeedKey);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_TRUE(wait_until([&] { return viewer.messages().size() == 2; })) << viewer.text();
  Json rejected = viewer.messages()[0];
  EXPECT_EQ(rejected["rejected"], true) << rejected.dump();
  EXPECT_EQ(rejected["source"], "default");
  EXPECT_EQ(rejected["reason"], "missing_event");
  EXPECT_EQ(rejected["message"], "a track needs an \"event\" name");
  EXPECT_EQ(rejected["event"], Json::parse(R"({"type":"track","userId":"u-1"})"));
  EXPECT_EQ(viewer.messages()[1]["event"]["event"], "Good");
}

TEST_F(TapEndToEndTest, PastTheTapLimitTheAnswerIs429UntilAViewerLeaves) {
  std::vector<std::unique_ptr<TapViewer>> viewers;
  for (int i = 0; i < 4; ++i) {  // [admin] max_taps' default
    viewers.push_back(std::make_unique<TapViewer>(relay_->admin_url(), ""));
    ASSERT_TRUE(wait_until([&] { return viewers.back()->opened(); }));
  }
  HttpAnswer refused = relay_->api("GET", "/admin/v1/tap");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.json()["error"]["code"], "tap_limit") << refused.body;

  viewers[0]->close();
  ASSERT_TRUE(wait_until([&] { return open_taps() == 3; }));
  TapViewer again(relay_->admin_url(), "");
  EXPECT_TRUE(wait_until([&] { return again.opened(); })) << again.text();
}

TEST_F(TapEndToEndTest, TernctlTapWithALimitPrintsThatManyJsonLinesAndExits) {
  auto run = std::async(std::launch::async, [&] {
    return ternctl({"--token-file", relay_->token_file(), "tap", "--limit", "2"},
                   {"TERN_ADMIN_URL=" + relay_->admin_url(), "TERN_ADMIN_TOKEN="}, dir_);
  });
  ASSERT_TRUE(wait_until([&] { return open_taps() == 1; }));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post_batch(relay_->ingest(), ControlRelay::kSeedKey), 200);
  CtlRun r = run.get();
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const auto& line : lines) {
    Json m = Json::parse(line, nullptr, false);
    ASSERT_TRUE(m.is_object()) << line;
    EXPECT_EQ(m["source"], "default");
    EXPECT_EQ(m["event"]["event"], "Fleet Test");
  }
}

}  // namespace
}  // namespace tern::testing::fleet
