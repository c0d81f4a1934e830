// End to end on loopback: Client → CurlTransport (gzip, Basic auth, one
// keep-alive connection) → the test collector.
#include <set>

#include <gtest/gtest.h>

#include "fakes.h"
#include "tern/base/gzip.h"
#include "tern/client.h"
#include "test_collector.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using testing::TestCollector;

class CollectorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = TestCollector::start(0);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    collector = std::move(r).value();
    config.endpoint = collector->url();
    config.write_key = "secret-key";
    config.storage_path = dir.file("events.db");
    config.logger = logger;
    config.flush_at = 50;
    config.max_batch_events = 50;
    config.http.connect_timeout = 2s;
    config.http.request_timeout = 5s;
  }
  std::unique_ptr<Client> start() {
    auto r = Client::create(config);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : nullptr;
  }

  TempDir dir;
  std::unique_ptr<TestCollector> collector;
  std::shared_ptr<testing::CapturingLogger> logger = std::make_shared<testing::CapturingLogger>();
  Config config;
};

TEST_F(CollectorIntegrationTest, EveryEventArrivesExactlyOnceWithIntactFields) {
  collector->require_write_key("secret-key");
  auto client = start();
  ASSERT_TRUE(client);
  const int n = 230;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(
        client->track("Integration", {{"seq", i}, {"text", "caf\xc3\xa9 \"quoted\""}}).is_ok());
  }
  ASSERT_TRUE(client->identify("user-42", {{"email", "a@b.c"}}).is_ok());
  Status f = client->flush(10s);
  ASSERT_TRUE(f.is_ok()) << f.to_string();
  ASSERT_TRUE(collector->wait_for_events(n + 1, 5s));

  auto events = collector->events();
  ASSERT_EQ(events.size(), static_cast<std::size_t>(n + 1));
  std::set<std::string> ids;
  std::set<int> seqs;
  for (const auto& e : events) {
    ids.insert(e["messageId"].get<std::string>());
    if (e["type"] == "track") {
      seqs.insert(e["properties"]["seq"].get<int>());
      EXPECT_EQ(e["event"], "Integration");
      EXPECT_EQ(e["properties"]["text"], "caf\xc3\xa9 \"quoted\"");
      EXPECT_EQ(e["anonymousId"], client->anonymous_id());
      EXPECT_EQ(e["context"]["library"]["name"], "tern-cpp");
      EXPECT_TRUE(testing::is_iso8601_ms(e["timestamp"].get<std::string>()));
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(n + 1));
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(events.back()["type"], "identify");
  EXPECT_EQ(events.back()["userId"], "user-42");

  auto reqs = collector->requests();
  ASSERT_FALSE(reqs.empty());
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/v1/batch");
    EXPECT_EQ(r.headers.at("content-encoding"), "gzip");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("authorization"), "Basic c2VjcmV0LWtleTo=");  // "secret-key:"
    EXPECT_EQ(r.headers.at("user-agent"), "tern-cpp/0.1.0");
    EXPECT_TRUE(testing::is_iso8601_ms(r.sent_at.get<std::string>()));
    EXPECT_LT(r.raw_body.size(), r.body.size());  // compressed on the wire
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(collector->connection_count(), 1u);  // one reused keep-alive connection
  Stats s = client->stats();
  EXPECT_EQ(s.sent, static_cast<uint64_t>(n + 1));
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
}

TEST_F(CollectorIntegrationTest, ServerErrorsWithRetryAfterAreRetriedWithoutDuplicates) {
  testing::ScriptedReply busy;
  busy.status = 503;
  busy.headers = {{"Retry-After", "0"}};
  collector->script(busy, 2);
  auto client = start();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->track("retry", {{"seq", i}}).is_ok());
  Status f;
  for (int attempt = 0; attempt < 5; ++attempt) {
    f = client->flush(5s);
    if (f.code() != StatusCode::kUnavailable) break;
  }
  ASSERT_TRUE(f.is_ok()) << f.to_string();
  EXPECT_EQ(collector->event_count(), 10u);
  auto summary = nlohmann::json::parse(collector->summary_json());
  EXPECT_EQ(summary["duplicates"], 0);
  EXPECT_EQ(summary["distinct_message_ids"], 10);
  EXPECT_EQ(client->stats().retried, 2u);
  EXPECT_EQ(client->stats().attempts, 3u);
}

TEST_F(CollectorIntegrationTest, RelayStyleRejectionsDropOnlyThePoison) {
  collector->set_poison("poison", testing::PoisonMode::kRejectList);
  auto client = start();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->track(i == 4 ? "poison" : "ok").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(collector->event_count(), 19u);
  EXPECT_EQ(client->stats().dropped_for(DropReason::kServerRejected), 1u);
  EXPECT_EQ(client->stats().sent, 19u);
}

TEST_F(CollectorIntegrationTest, BadRequestIsBisectedToThePoisonEvent) {
  collector->set_poison("poison", testing::PoisonMode::kBadRequest);
  auto client = start();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->track(i == 17 ? "poison" : "ok").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(collector->event_count(), 19u);
  EXPECT_EQ(client->stats().dropped_for(DropReason::kServerRejected), 1u);
}

TEST_F(CollectorIntegrationTest, UnreachableEndpointKeepsEventsForLater) {
  collector->stop();
  config.backoff_base = 10s;
  auto client = start();
  ASSERT_TRUE(client->track("offline").is_ok());
  Status f = client->flush(5s);
  EXPECT_EQ(f.code(), StatusCode::kUnavailable);
  EXPECT_NE(f.message().find("network error"), std::string::npos) << f.message();
  EXPECT_EQ(client->stats().queue_depth, 1u);
  EXPECT_TRUE(logger->contains("upload failed"));
}

TEST_F(CollectorIntegrationTest, CollectorInflatesGzipBodiesAndRefusesGarbage) {
  // The collector as the JNI/Swift tests use it: plain and gzip bodies.
  auto transport = make_curl_transport();
  HttpRequest req;
  req.url = collector->url() + "/v1/batch";
  req.write_key = "k";
  req.gzip = false;
  req.body = R"({"batch":[{"type":"track","event":"plain","messageId":"m1"}]})";
  EXPECT_EQ(transport->send(req).status_code, 200);
  req.gzip = true;
  req.body =
      base::gzip_compress(R"({"batch":[{"type":"track","event":"zipped","messageId":"m1"}]})")
          .value();
  EXPECT_EQ(transport->send(req).status_code, 200);
  auto summary = nlohmann::json::parse(collector->summary_json());
  EXPECT_EQ(summary["events"], 2);
  EXPECT_EQ(summary["duplicates"], 1);
  req.body = "not gzip";
  EXPECT_EQ(transport->send(req).status_code, 400);
}

TEST_F(CollectorIntegrationTest, CurlTransportReportsStatusRetryAfterAndBody) {
  testing::ScriptedReply busy;
  busy.status = 429;
  busy.body = R"({"error":"slow down"})";
  busy.headers = {{"Retry-After", "7"}};
  collector->script(busy, 1);
  auto transport = make_curl_transport();
  HttpRequest req;
  req.url = collector->url() + "/v1/batch";
  req.write_key = "k";
  req.gzip = false;
  req.body = R"({"batch":[{"type":"track","event":"e","messageId":"m"}]})";
  HttpResponse r = transport->send(req);
  EXPECT_EQ(r.status_code, 429);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, std::chrono::milliseconds(7000));
  EXPECT_EQ(r.body, R"({"error":"slow down"})");
  r = transport->send(req);
  EXPECT_EQ(r.status_code, 200);
  EXPECT_FALSE(r.retry_after.has_value());
  EXPECT_EQ(collector->connection_count(), 1u);  // the connection was kept alive
}

TEST_F(CollectorIntegrationTest, CurlTransportSendsAGetWithIfNoneMatchAndReportsTheEtag) {
  auto transport = make_curl_transport();
  HttpRequest get;
  get.method = "GET";
  get.url = collector->url() + "/v1/projects/k/settings";
  get.write_key = "k";
  get.gzip = false;
  get.content_type.clear();
  get.if_none_match = "\"v1\"";
  HttpResponse r = transport->send(get);
  EXPECT_EQ(r.status_code, 404);  // the collector serves no settings
  auto reqs = collector->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/v1/projects/k/settings");
  EXPECT_EQ(reqs[0].headers["if-none-match"], "\"v1\"");
  EXPECT_EQ(reqs[0].headers["content-encoding"], "");
  EXPECT_EQ(reqs[0].headers["content-type"], "");
  EXPECT_EQ(reqs[0].raw_body, "");
  EXPECT_TRUE(r.etag.empty());

  // The same handle then POSTs again, and reports an answer's ETag.
  testing::ScriptedReply tagged;
  tagged.headers = {{"ETag", "\"abc-1\""}};
  collector->script(tagged, 1);
  HttpRequest post;
  post.url = collector->url() + "/v1/batch";
  post.write_key = "k";
  post.gzip = false;
  post.body = R"({"batch":[{"type":"track","event":"e","messageId":"m"}]})";
  r = transport->send(post);
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.etag, "\"abc-1\"");
  reqs = collector->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].headers.count("if-none-match"), 0u);
  EXPECT_EQ(reqs[1].events.size(), 1u);
}

TEST(CurlTransportTest, RefusedConnectionIsStatusZeroWithAnError) {
  // Bind a port, then close it: nothing listens there.
  uint16_t port;
  {
    auto c = TestCollector::start(0);
    ASSERT_TRUE(c.is_ok());
    port = c.value()->port();
  }
  auto transport = make_curl_transport();
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/batch";
  req.body = "{}";
  HttpResponse r = transport->send(req);
  EXPECT_EQ(r.status_code, 0);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace tern
