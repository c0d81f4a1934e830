// GET /v1/projects/{writeKey}/settings through the RequestHandler, without
// sockets: the body an SDK reads, its ETag, and how reloads change it.
#include "source_settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "request_handler.h"
#include "test_util.h"

namespace tern::relay {
namespace {

using nlohmann::json;
using testing::FakePipeline;

class SourceSettingsTest : public ::testing::Test {
 protected:
  SourceSettingsTest() {
    SourceConfig web;
    web.id = "web";
    web.write_keys = {"key1", "key1b"};
    SourceConfig ios;
    ios.id = "ios";
    ios.write_keys = {"key2"};
    config.sources = {web, ios};
    config.server.cors_origins = {"https://app.example"};
    config.server.trusted_proxies = {"10.0.0.0/8"};
    handler =
        std::make_unique<RequestHandler>(make_ingest_config(config).value(), &pipeline, &metrics);
  }

  void reload() { handler->reload(make_ingest_config(config).value()); }

  HttpRequest get(std::string key, std::string if_none_match = "") {
    HttpRequest r;
    r.method = "GET";
    r.target = "/v1/projects/" + key + "/settings";
    r.host = "relay.example.com:8080";
    r.if_none_match = std::move(if_none_match);
    r.peer_ip = "203.0.113.5";
    return r;
  }

  HttpResponse call(HttpRequest request) {
    std::optional<HttpResponse> got;
    handler->handle(std::move(request), *scratch_, [&](HttpResponse r) { got = std::move(r); });
    EXPECT_TRUE(got.has_value()) << "the settings endpoint answers inline";
    return got.value_or(HttpResponse{});
  }

  static std::string header(const HttpResponse& r, std::string_view name) {
    const std::string* v = r.header(name);
    return v ? *v : "";
  }

  uint64_t requests(std::string_view status) {
    return metrics
        .counter("tern_relay_http_requests_total",
                 "path=\"/v1/projects/{writeKey}/settings\",status=\"" + std::string(status) + "\"")
        .value();
  }

  RelayConfig config;
  FakePipeline pipeline;
  Metrics metrics;
  std::unique_ptr<RequestHandler> handler;
  std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> scratch_ = make_request_scratch();
};

TEST_F(SourceSettingsTest, ASourceThatSetsNothingIsServedTheDefaultsInSegmentsShape) {
  HttpResponse r = call(get("key1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(json::parse(r.body), json::parse(R"({
    "integrations": {"Segment.io": {"apiKey": "key1", "apiHost": "relay.example.com:8080/v1",
                                    "protocol": "http"}},
    "plan": {"track": {"__default": {"enabled": true}}, "identify": {}, "group": {}},
    "enabledMiddleware": {},
    "metrics": {"sampleRate": 0},
    "tern": {"enabled": true, "sampleRate": 1, "flushAt": 20, "flushIntervalMs": 30000,
             "sessionTimeoutMs": 300000, "ttlSeconds": 86400}
  })"));
  // The body is compact JSON, as the design spells it.
  EXPECT_NE(r.body.find(R"("tern":{"enabled":true,"sampleRate":1,"flushAt":20,)"),
            std::string::npos)
      << r.body;
}

TEST_F(SourceSettingsTest, EachWriteKeyOfASourceGetsItsOwnKeyAsApiKey) {
  EXPECT_EQ(json::parse(call(get("key1b")).body)["integrations"]["Segment.io"]["apiKey"], "key1b");
  EXPECT_EQ(json::parse(call(get("key2")).body)["integrations"]["Segment.io"]["apiKey"], "key2");
}

TEST_F(SourceSettingsTest, TheSourcesSettingsTableFromTomlIsServedUnderTern) {
  auto file = parse_config(R"(
[[sources]]
id = "app"
write_keys = ["tk_app"]
[sources.settings]
enabled = false
sampleRate = 0.25
flushAt = 50
flushIntervalMs = 10000
sessionTimeoutMs = 60000
ttlSeconds = 3600
featureFlags = { newCheckout = true }
region = "eu"
)",
                           "settings.toml");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  config = *file;
  reload();
  HttpResponse r = call(get("tk_app"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["tern"], json::parse(R"({
    "enabled": false, "sampleRate": 0.25, "flushAt": 50, "flushIntervalMs": 10000,
    "sessionTimeoutMs": 60000, "ttlSeconds": 3600,
    "featureFlags": {"newCheckout": true}, "region": "eu"})"));
}

TEST_F(SourceSettingsTest, KeysLeftOutKeepTheirDefaults) {
  config.sources[0].settings.sample_rate = 0.5;
  reload();
  json tern = json::parse(call(get("key1")).body)["tern"];
  EXPECT_EQ(tern["sampleRate"], 0.5);
  EXPECT_EQ(tern["enabled"], true);
  EXPECT_EQ(tern["flushAt"], 20);
  EXPECT_EQ(tern["ttlSeconds"], 86400);
}

TEST_F(SourceSettingsTest, TheAnswerHasAStrongEtagOfTheBodyAndMayBeCachedForAMinute) {
  HttpResponse r = call(get("key1"));
  ASSERT_EQ(r.status, 200);
  std::string etag = header(r, "ETag");
  EXPECT_EQ(etag, strong_etag(r.body));
  ASSERT_EQ(etag.size(), 34u) << etag;  // "<32 hex digits>", not W/"..."
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=60");
  EXPECT_EQ(header(call(get("key1")), "ETag"), etag);  // stable while nothing changes
  EXPECT_NE(header(call(get("key2")), "ETag"), etag);  // another key, another body
}

TEST_F(SourceSettingsTest, IfNoneMatchWithTheCurrentEtagIs304WithoutABody) {
  std::string etag = header(call(get("key1")), "ETag");
  HttpResponse r = call(get("key1", etag));
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header(r, "ETag"), etag);
  EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=60");
  // A list, a weak form of the same tag, and "*" match too; another tag does not.
  EXPECT_EQ(call(get("key1", "\"0000\", " + etag)).status, 304);
  EXPECT_EQ(call(get("key1", "W/" + etag)).status, 304);
  EXPECT_EQ(call(get("key1", "*")).status, 304);
  HttpResponse stale = call(get("key1", "\"0123456789abcdef0123456789abcdef\""));
  EXPECT_EQ(stale.status, 200);
  EXPECT_FALSE(stale.body.empty());
  EXPECT_EQ(requests("304"), 4u);
  EXPECT_EQ(requests("200"), 2u);
}

TEST_F(SourceSettingsTest, AnUnknownWriteKeyIs404WithTheUsualJsonError) {
  HttpResponse r = call(get("nobody"));
  EXPECT_EQ(r.status, 404);
  json body = json::parse(r.body);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_EQ(body["message"], "no source has this write key");
  EXPECT_EQ(header(r, "ETag"), "");
  EXPECT_EQ(requests("404"), 1u);
  EXPECT_EQ(metrics.counter("tern_relay_auth_failures_total").value(), 1u);
  // "*" does not make an unknown key exist.
  EXPECT_EQ(call(get("nobody", "*")).status, 404);
}

TEST_F(SourceSettingsTest, ARevokedWriteKeyIs404FromTheNextRequest) {
  ASSERT_EQ(call(get("key1b")).status, 200);
  config.sources[0].write_keys = {"key1"};  // key1b revoked
  reload();
  EXPECT_EQ(call(get("key1b")).status, 404);
  EXPECT_EQ(call(get("key1")).status, 200);
}

TEST_F(SourceSettingsTest, AReloadChangesTheBodyAndTheEtagForTheNextRequest) {
  HttpResponse before = call(get("key1"));
  std::string etag = header(before, "ETag");
  config.sources[0].settings.enabled = false;  // the kill switch
  config.sources[0].settings.ttl_seconds = 600;
  reload();
  HttpResponse after = call(get("key1", etag));  // an SDK holding the old copy
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(json::parse(after.body)["tern"]["enabled"], false);
  EXPECT_EQ(json::parse(after.body)["tern"]["ttlSeconds"], 600);
  EXPECT_NE(header(after, "ETag"), etag);
  EXPECT_EQ(header(after, "ETag"), strong_etag(after.body));
}

TEST_F(SourceSettingsTest, ApiHostIsTheHostHeaderWithV1AndNoScheme) {
  // Segment's SDKs post to "https://" + apiHost + "/b" and fetch from
  // "https://" + cdnHost + "/projects/<key>/settings", both hosts ending in /v1.
  HttpResponse r = call(get("key1"));
  std::string api_host = json::parse(r.body)["integrations"]["Segment.io"]["apiHost"];
  EXPECT_EQ(api_host, "relay.example.com:8080/v1");
  EXPECT_EQ(api_host.find("://"), std::string::npos);
  HttpRequest v6 = get("key1");
  v6.host = "[::1]:8080";
  EXPECT_EQ(json::parse(call(v6).body)["integrations"]["Segment.io"]["apiHost"], "[::1]:8080/v1");
}

TEST_F(SourceSettingsTest, ProtocolIsHttpsOverTlsOrWhenATrustedProxySaysSo) {
  HttpRequest tls = get("key1");
  tls.secure = true;
  EXPECT_EQ(json::parse(call(tls).body)["integrations"]["Segment.io"]["protocol"], "https");

  HttpRequest proxied = get("key1");
  proxied.peer_ip = "10.1.2.3";  // trusted
  proxied.host = "relay-internal:8080";
  proxied.forwarded_proto = "https";
  proxied.forwarded_host = "events.example.com";
  auto segment = json::parse(call(proxied).body)["integrations"]["Segment.io"];
  EXPECT_EQ(segment["protocol"], "https");
  EXPECT_EQ(segment["apiHost"], "events.example.com/v1");

  HttpRequest forged = proxied;
  forged.peer_ip = "203.0.113.9";  // not a trusted proxy: its headers are ignored
  segment = json::parse(call(forged).body)["integrations"]["Segment.io"];
  EXPECT_EQ(segment["protocol"], "http");
  EXPECT_EQ(segment["apiHost"], "relay-internal:8080/v1");
}

TEST_F(SourceSettingsTest, AHostHeaderThatIsNotAHostIs400) {
  HttpRequest r = get("key1");
  r.host = "evil.example\",\"x\":\"";
  HttpResponse answer = call(r);
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(json::parse(answer.body)["error"], "bad_host");
}

TEST_F(SourceSettingsTest, OnlyGetAndHeadAreAllowed) {
  HttpRequest post = get("key1");
  post.method = "POST";
  HttpResponse r = call(post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
  HttpRequest head = get("key1");
  head.method = "HEAD";
  EXPECT_EQ(call(head).status, 200);  // the server drops the body
}

TEST_F(SourceSettingsTest, AllowedOriginsGetCorsHeadersThatExposeTheEtag) {
  HttpRequest r = get("key1");
  r.origin = "https://app.example";
  HttpResponse answer = call(r);
  EXPECT_EQ(header(answer, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(header(answer, "Access-Control-Expose-Headers").find("ETag"), std::string::npos);
}

TEST_F(SourceSettingsTest, AQueryStringATrailingSlashAndPercentEncodingAreTolerated) {
  HttpRequest r = get("key1");
  r.target = "/v1/projects/key%31/settings/?v=2";
  HttpResponse answer = call(r);
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(json::parse(answer.body)["integrations"]["Segment.io"]["apiKey"], "key1");
}

TEST(SettingsPathTest, OnlyTheSettingsPathOfOneKeyMatches) {
  EXPECT_EQ(settings_path_write_key("/v1/projects/abc/settings"), "abc");
  EXPECT_EQ(settings_path_write_key("/v1/projects/a%2Fb/settings"), "a/b");
  EXPECT_FALSE(settings_path_write_key("/v1/projects//settings"));
  EXPECT_FALSE(settings_path_write_key("/v1/projects/a/b/settings"));
  EXPECT_FALSE(settings_path_write_key("/v1/projects/abc"));
  EXPECT_FALSE(settings_path_write_key("/v1/projects/a%2/settings"));
  EXPECT_FALSE(settings_path_write_key("/v2/projects/abc/settings"));
}

}  // namespace
}  // namespace tern::relay
