// RequestHandler end to end without sockets: each ingest endpoint's answers
// (status, body, headers) for what Segment-compatible clients send, with a
// recording pipeline behind it. One file of about 900 lines because every
// test shares the fixture that builds requests and reads what reached the
// pipeline; the pieces the handler is made of have their own tests
// (admission, event_validation, json_splice, client_ip, inflate).
#include "request_handler.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakePipeline;
using testing::gzip;
using testing::gzip_zeros;

std::string base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

std::string basic(std::string_view key) { return "Basic " + base64(std::string(key) + ":"); }

const SysTime kNow =
    SysTime{} + std::chrono::milliseconds(1709296496789);  // 2024-03-01T12:34:56.789Z

std::string track(std::string_view id, std::string_view extra = "") {
  return R"({"type":"track","event":"Signed Up","userId":"u1","messageId":")" + std::string(id) +
         "\"" + std::string(extra) + "}";
}

class RequestHandlerTest : public ::testing::Test {
 protected:
  RequestHandlerTest() {
    SourceConfig web;
    web.id = "web";
    web.write_keys = {"key1", "key1b"};
    SourceConfig ios;
    ios.id = "ios";
    ios.write_keys = {"key2"};
    ios.ack_mode = AckMode::kSink;
    config.sources = {web, ios};
    config.server.cors_origins = {"https://app.example"};
    config.server.trusted_proxies = {"10.0.0.0/8"};
    rebuild();
  }

  void rebuild() {
    handler =
        std::make_unique<RequestHandler>(make_ingest_config(config).value(), &pipeline, &metrics);
  }

  HttpRequest post(std::string path, std::string body, std::string key = "key1") {
    HttpRequest r;
    r.method = "POST";
    r.target = std::move(path);
    r.body = std::move(body);
    if (!key.empty()) r.authorization = basic(key);
    r.peer_ip = "203.0.113.5";
    r.received_at = kNow;
    r.received_steady = steady_;
    return r;
  }

  // Runs the request; answers pending pipeline submissions with
  // pipeline.result when `fire`.
  HttpResponse call(HttpRequest request, bool fire = true) {
    std::optional<HttpResponse> got;
    handler->handle(std::move(request), *scratch_, [&](HttpResponse r) { got = std::move(r); });
    if (!got && fire) pipeline.fire();
    EXPECT_TRUE(got.has_value());
    return got.value_or(HttpResponse{});
  }

  uint64_t counter(std::string_view name, std::string_view labels = {}) {
    return metrics.counter(name, labels).value();
  }

  RelayConfig config;
  FakePipeline pipeline;
  Metrics metrics;
  std::unique_ptr<RequestHandler> handler;
  SteadyTime steady_{};
  std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> scratch_ = make_request_scratch();
};

// ---- routing ----

TEST_F(RequestHandlerTest, BatchAndItsAliasesAreAccepted) {
  for (std::string path : {"/v1/batch", "/v1/b", "/v1/import", "/v1/batch/"}) {
    auto r = call(post(path, R"({"batch":[)" + track("m-" + path) + "]}"));
    EXPECT_EQ(r.status, 200) << path << r.body;
    EXPECT_EQ(json::parse(r.body), json::parse(R"({"accepted":1,"rejected":[]})"));
  }
  EXPECT_EQ(pipeline.all_events().size(), 4u);
}

TEST_F(RequestHandlerTest, SingleEventEndpointsTakeTheTypeFromThePath) {
  auto r = call(post("/v1/identify", R"({"userId":"u1","traits":{"a":1},"messageId":"i1"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = json::parse(pipeline.all_events().at(0));
  EXPECT_EQ(e["type"], "identify");
  // A body type that disagrees with the path is overwritten.
  r = call(
      post("/v1/page", R"({"type":"track","anonymousId":"a","name":"Home","messageId":"p1"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(pipeline.all_events().at(1))["type"], "page");
  r = call(post("/v1/t", R"({"event":"E","anonymousId":"a","messageId":"t1"})"));
  EXPECT_EQ(r.status, 200);
}

TEST_F(RequestHandlerTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(call(post("/v2/batch", "{}")).status, 404);
  auto get = post("/v1/batch", "");
  get.method = "GET";
  auto r = call(get);
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(r.header("allow"), nullptr);
  EXPECT_EQ(counter("tern_relay_http_requests_total", R"(path="other",status="404")"), 1u);
  EXPECT_EQ(counter("tern_relay_http_requests_total", R"(path="/v1/batch",status="405")"), 1u);
}

TEST_F(RequestHandlerTest, HealthReadyAndMetrics) {
  auto get = [&](std::string path) {
    auto r = post(path, "", "");
    r.method = "GET";
    return call(r);
  };
  EXPECT_EQ(get("/health").status, 200);
  EXPECT_EQ(get("/ready").status, 200);
  pipeline.is_ready = false;
  auto r = get("/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["reason"], "spool full");
  r = get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("tern_relay_http_requests_total{path=\"/ready\",status=\"503\"} 1"),
            std::string::npos)
      << r.body;
}

// ---- auth ----

TEST_F(RequestHandlerTest, BasicAuthWithEmptyPasswordAuthenticatesTheSource) {
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("a1") + "]}", "key2"));
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(pipeline.submissions.size(), 1u);
  EXPECT_EQ(pipeline.submissions[0].events.source_id(), "ios");
  EXPECT_EQ(pipeline.submissions[0].ack_mode, AckMode::kSink);
}

TEST_F(RequestHandlerTest, BodyWriteKeyAuthenticatesAndIsNotStored) {
  auto r = call(post("/v1/batch", R"({"writeKey":"key1b","batch":[)" + track("w1") + "]}", ""));
  EXPECT_EQ(r.status, 200) << r.body;
  r = call(
      post("/v1/track", R"({"writeKey":"key1","event":"E","userId":"u","messageId":"w2"})", ""));
  EXPECT_EQ(r.status, 200) << r.body;
  auto events = pipeline.all_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(json::parse(events[1]).contains("writeKey"));
}

TEST_F(RequestHandlerTest, WrongOrMissingWriteKeyIs401AndNothingIsSubmitted) {
  std::string body = "{\"batch\":[" + track("x1") + "]}";
  EXPECT_EQ(call(post("/v1/batch", body, "nope")).status, 401);
  EXPECT_EQ(call(post("/v1/batch", body, "")).status, 401);
  auto bad_header = post("/v1/batch", body, "");
  bad_header.authorization = "Bearer key1";
  EXPECT_EQ(call(bad_header).status, 401);
  // A wrong header key is not rescued by a right body key.
  auto both = post("/v1/batch", R"({"writeKey":"key1","batch":[)" + track("x2") + "]}", "nope");
  auto r = call(both);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.header("WWW-Authenticate"), nullptr);
  EXPECT_TRUE(pipeline.submissions.empty());
  EXPECT_EQ(counter("tern_relay_auth_failures_total"), 4u);
}

// ---- limits ----

TEST_F(RequestHandlerTest, BodyOverMaxBodyBytesIs413) {
  config.limits.max_body_bytes = 100;
  rebuild();
  auto r =
      call(post("/v1/batch",
                "{\"batch\":[" +
                    track("b1", std::string(",\"p\":\"") + std::string(200, 'x') + "\"") + "]}"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "body_size");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="body_size")"), 1u);
  EXPECT_TRUE(pipeline.submissions.empty());
}

TEST_F(RequestHandlerTest, GzipBombIsRefusedWith413BeforeParsing) {
  auto req = post("/v1/batch", gzip_zeros(64u << 20));  // 64 MiB of zeros
  req.content_encoding = "gzip";
  config.limits.max_inflate_ratio = 0;  // ratio off: hit the size cap
  rebuild();
  auto r = call(req);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "decompressed_size");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="decompressed_size")"), 1u);
}

TEST_F(RequestHandlerTest, InflateRatioAboveTheLimitIs413) {
  auto req = post("/v1/batch", gzip_zeros(2u << 20));
  req.content_encoding = "gzip";
  auto r = call(req);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "inflate_ratio");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="inflate_ratio")"), 1u);
}

TEST_F(RequestHandlerTest, GzipAndDeflateBodiesAreAccepted) {
  auto req = post("/v1/batch", gzip("{\"batch\":[" + track("g1") + "]}"));
  req.content_encoding = "gzip";
  EXPECT_EQ(call(req).status, 200);
  auto bad = post("/v1/batch", "garbage");
  bad.content_encoding = "gzip";
  EXPECT_EQ(call(bad).status, 400);
  auto br = post("/v1/batch", "{}");
  br.content_encoding = "br";
  EXPECT_EQ(call(br).status, 415);
}

TEST_F(RequestHandlerTest, TooManyEventsInABatchIs413) {
  config.limits.max_batch_events = 2;
  rebuild();
  auto r = call(post("/v1/batch",
                     "{\"batch\":[" + track("e1") + "," + track("e2") + "," + track("e3") + "]}"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "batch_events");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="batch_events")"), 1u);
  EXPECT_TRUE(pipeline.submissions.empty());
}

TEST_F(RequestHandlerTest, BatchOverMaxBatchBytesIs413) {
  config.limits.max_batch_bytes = 200;
  rebuild();
  auto r = call(post("/v1/batch",
                     "{\"batch\":[" + track("s1") + "," + track("s2") + "," + track("s3") + "]}"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="batch_size")"), 1u);
}

TEST_F(RequestHandlerTest, EventsOfASuppressedUserAreRejectedAndTheOthersStored) {
  config.suppressed_user_ids = {"erased-user", "42"};
  rebuild();
  std::string erased = R"({"type":"identify","userId":"erased-user","messageId":"m2"})";
  std::string numeric = R"({"type":"track","event":"E","userId":42,"messageId":"m3"})";
  std::string anonymous = R"({"type":"track","event":"E","anonymousId":"a1","messageId":"m4"})";
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("m1") + "," + erased + "," + numeric +
                                      "," + anonymous + "]}"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"accepted":2,"rejected":[
      {"index":1,"reason":"suppressed"},{"index":2,"reason":"suppressed"}]})"));
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="suppressed")"), 2u);
  auto stored = pipeline.all_events();
  ASSERT_EQ(stored.size(), 2u);
  for (const auto& e : stored) EXPECT_EQ(e.find("erased-user"), std::string::npos) << e;
}

TEST_F(RequestHandlerTest, OversizedEventIsRejectedAloneAsTooLarge) {
  config.limits.max_event_bytes = 200;
  rebuild();
  std::string big = track("big", ",\"properties\":{\"p\":\"" + std::string(300, 'x') + "\"}");
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("ok1") + "," + big + "]}"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"accepted":1,"rejected":[{"index":1,"reason":"too_large"}]})"));
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="too_large")"), 1u);
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="event_size")"), 1u);
  EXPECT_EQ(pipeline.all_events().size(), 1u);
}

TEST_F(RequestHandlerTest, AnEventNestedDeeperThanMaxJsonDepthIsRejectedAlone) {
  config.limits.max_json_depth = 8;
  rebuild();
  std::string deep = track("d1", ",\"properties\":" + std::string(10, '[') + std::string(10, ']'));
  auto r = call(post("/v1/batch", "{\"batch\":[" + deep + "]}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["accepted"], 0);
  EXPECT_EQ(json::parse(r.body)["rejected"][0]["reason"], "json_depth");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="json_depth")"), 1u);
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="json_depth")"), 1u);
  // Next to a good event, the deep one is listed and the good one stored.
  r = call(post("/v1/batch",
                "{\"batch\":[" + track("g1") + "," +
                    track("d2", ",\"properties\":" + std::string(10, '[') + std::string(10, ']')) +
                    "]}"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["accepted"], 1);
  EXPECT_EQ(json::parse(r.body)["rejected"][0]["index"], 1);
  EXPECT_EQ(json::parse(r.body)["rejected"][0]["reason"], "json_depth");
  ASSERT_EQ(pipeline.all_events().size(), 1u);
  EXPECT_EQ(json::parse(pipeline.all_events()[0])["messageId"], "g1");
  // The limit counts from the event: 1 (event) + 7 arrays = 8 passes in a
  // batch and on a single-event endpoint alike; 9 does not.
  std::string ok = track("d3", ",\"properties\":" + std::string(7, '[') + std::string(7, ']'));
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + ok + "]}")).status, 200);
  std::string single =
      R"({"event":"E","userId":"u","p":)" + std::string(7, '[') + std::string(7, ']') + "}";
  EXPECT_EQ(call(post("/v1/track", single)).status, 200);
  std::string too_deep =
      R"({"event":"E","userId":"u","p":)" + std::string(8, '[') + std::string(8, ']') + "}";
  r = call(post("/v1/track", too_deep));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "json_depth");
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + too_deep + "]}")).status, 400);
}

TEST_F(RequestHandlerTest, NestingSoDeepItIsAnAttackRefusesTheWholeBatch) {
  std::string attack =
      track("a1", ",\"properties\":" + std::string(5000, '[') + std::string(5000, ']'));
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("g1") + "," + attack + "]}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "json_depth");
  EXPECT_TRUE(pipeline.submissions.empty());
}

TEST_F(RequestHandlerTest, ServerSideLimitsAnswerAndCount) {
  auto r = handler->server_limit(ServerLimit::kHeaderSize, "/v1/batch");
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(r.close);
  EXPECT_EQ(handler->server_limit(ServerLimit::kBodySize, "/v1/batch").status, 413);
  (void)handler->server_limit(ServerLimit::kReadTimeout, "");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="header_size")"), 1u);
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="body_size")"), 1u);
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="read_timeout")"), 1u);
  EXPECT_EQ(counter("tern_relay_http_requests_total", R"(path="/v1/batch",status="431")"), 1u);
}

TEST_F(RequestHandlerTest, InvalidJsonAndMissingBatchAre400) {
  auto r = call(post("/v1/batch", "{\"batch\":[}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "invalid_json");
  r = call(post("/v1/batch", "[1,2]"));
  EXPECT_EQ(r.status, 400);
  r = call(post("/v1/batch", "{\"events\":[]}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "missing_batch");
  // A batch whose only event is not valid on its own: nothing is acceptable.
  r = call(post("/v1/batch", "{\"batch\":[\"\xff\"]}"));  // bad UTF-8
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["rejected"][0]["reason"], "invalid_json");
}

// What a Segment client sees: it does not resend a batch answered 400, so
// one event the parser refuses must not cost its neighbours their place.
TEST_F(RequestHandlerTest, ABatchWithOneUnparseableEventStoresItsGoodEventsAndListsTheBadOne) {
  const std::pair<std::string, std::string> kBad[] = {
      {"a number outside double range", track("b", ",\"properties\":{\"n\":1e400}")},
      {"an integer past 64 bits",
       track("b", ",\"properties\":{\"n\":123456789012345678901234567890}")},
      {"a lone surrogate escape", track("b", ",\"properties\":{\"s\":\"\\ud800\"}")},
      {"an escape that is not hex", track("b", ",\"properties\":{\"s\":\"\\uzzzz\"}")},
      {"an unknown escape", track("b", ",\"properties\":{\"s\":\"\\q\"}")},
      {"a raw control character", track("b", ",\"properties\":{\"s\":\"a\tb\"}")},
      {"invalid UTF-8", track("b", ",\"properties\":{\"s\":\"\xc3\x28\"}")},
      {"a misspelt literal", track("b", ",\"properties\":{\"t\":tru}")},
      {"NaN", track("b", ",\"properties\":{\"n\":NaN}")},
      {"a trailing comma", track("b", ",\"properties\":{\"n\":1,}")},
      {"a missing colon", track("b", ",\"properties\":{\"n\" 1}")},
      {"a leading zero", track("b", ",\"properties\":{\"n\":012}")},
      {"a bare word", "nonsense"},
  };
  int n = 0;
  for (const auto& [what, bad] : kBad) {
    SCOPED_TRACE(what);
    pipeline.submissions.clear();
    std::string g1 = "g" + std::to_string(n++), g2 = "g" + std::to_string(n++);
    // g2's device clock is as far behind as its sentAt says: the relay
    // corrects it only if the rebuilt batch kept the body's sentAt.
    std::string body = "{\"batch\":[" + track(g1) + "," + bad + "," +
                       track(g2, ",\"timestamp\":\"2024-03-01T12:34:50.000Z\"") +
                       "],\"sentAt\":\"2024-03-01T12:34:56.000Z\"}";
    for (bool gzipped : {false, true}) {
      SCOPED_TRACE(gzipped ? "gzip" : "identity");
      pipeline.submissions.clear();
      HttpRequest req = post("/v1/batch", gzipped ? gzip(body) : body);
      if (gzipped) req.content_encoding = "gzip";
      auto r = call(std::move(req));
      ASSERT_EQ(r.status, 200) << r.body;
      auto answer = json::parse(r.body);
      EXPECT_EQ(answer["accepted"], 2);
      ASSERT_EQ(answer["rejected"].size(), 1u) << r.body;
      EXPECT_EQ(answer["rejected"][0]["index"], 1);
      EXPECT_EQ(answer["rejected"][0]["reason"], "invalid_json");
      EXPECT_TRUE(answer["rejected"][0]["message"].is_string());
      auto events = pipeline.all_events();
      ASSERT_EQ(events.size(), gzipped ? 0u : 2u);  // the second time, both are duplicates
      if (!gzipped) {
        EXPECT_EQ(json::parse(events[0])["messageId"], g1);
        EXPECT_EQ(json::parse(events[1])["messageId"], g2);
        // Enriched as usual: received 12:34:56.789, sent 12:34:56.000.
        auto second = json::parse(events[1]);
        EXPECT_EQ(second["originalTimestamp"], "2024-03-01T12:34:50.000Z");
        EXPECT_EQ(second["timestamp"], "2024-03-01T12:34:50.789Z");
      }
    }
  }
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="invalid_json")"),
            2u * std::size(kBad));
  EXPECT_EQ(counter("tern_relay_events_accepted_total", R"(source="web")"), 2u * std::size(kBad));
}

TEST_F(RequestHandlerTest, SeveralBadEventsAreEachListedInOrderAmongOtherRejections) {
  std::string body = "{\"b\\u0061tch\":[" + track("x1", ",\"p\":1e999") + "," + track("g1") +
                     R"(,{"type":"track","userId":"u"},)" + track("x2", ",\"p\":\"\\ud800\"") +
                     "," + track("g2") + "]}";
  auto r = call(post("/v1/batch", body));
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = json::parse(r.body);
  EXPECT_EQ(answer["accepted"], 2);
  ASSERT_EQ(answer["rejected"].size(), 3u) << r.body;
  EXPECT_EQ(answer["rejected"][0]["index"], 0);
  EXPECT_EQ(answer["rejected"][0]["reason"], "invalid_json");
  EXPECT_EQ(answer["rejected"][1]["index"], 2);
  EXPECT_EQ(answer["rejected"][1]["reason"], "missing_event");
  EXPECT_EQ(answer["rejected"][2]["index"], 3);
  EXPECT_EQ(answer["rejected"][2]["reason"], "invalid_json");
  EXPECT_EQ(pipeline.all_events().size(), 2u);
}

TEST_F(RequestHandlerTest, ABodyWhoseStructureIsBrokenOrWhoseEnvelopeIsBadIsRefusedWhole) {
  const std::string kBroken[] = {
      "{\"batch\":[" + track("g1") +
          ",{\"type\":\"track\"]}",                          // a bracket closed by the wrong kind
      "{\"batch\":[" + track("g1") + ",{\"type\":\"tra}]}",  // an unclosed string
      "{\"batch\":[" + track("g1") + "," + track("x", ",\"n\":1e400") +
          "]} trailing",  // bytes after the document
      "{\"batch\":[" + track("g1") + "," + track("x", ",\"n\":1e400") +
          "] \"sentAt\":1}",  // a missing comma
      "{\"batch\":[" + track("g1") + "," + track("x", ",\"n\":1e400") +
          "],\"sentAt\":1e400}",  // a bad envelope
      "{\"batch\":[" + track("g1") + "," + track("x", ",\"n\":1e400") +
          "],\"context\":\"\\ud800\"}",
      "{\"batch\":{\"a\":1e400}}",  // no batch array
  };
  for (const std::string& body : kBroken) {
    SCOPED_TRACE(body);
    auto r = call(post("/v1/batch", body));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"], "invalid_json");
  }
  EXPECT_TRUE(pipeline.submissions.empty());
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="invalid_json")"), 0u);
}

TEST_F(RequestHandlerTest, EventsJudgedAloneStillCountAgainstMaxBatchEvents) {
  config.limits.max_batch_events = 2;
  rebuild();
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("g1") + "," + track("x", ",\"n\":1e400") +
                                      "," + track("g2") + "]}"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "batch_events");
  EXPECT_TRUE(pipeline.submissions.empty());
}

// ---- validation ----

TEST_F(RequestHandlerTest, PartialBatchAcceptsGoodEventsAndListsEachRejection) {
  std::string batch = "{\"batch\":[" + track("g1") + R"(,
    {"type":"track","userId":"u"},
    {"type":"fly","userId":"u"},
    {"event":"E","userId":"u"},
    {"type":"track","event":"E"},
    {"type":"group","userId":"u"},
    {"type":"alias","userId":"u"},
    {"type":"alias","previousId":"p"},
    {"type":"track","event":"E","userId":"u","timestamp":"yesterday"},
    {"type":"track","event":"E","userId":"u","messageId":42},
    "just a string",
    {"type":"track","event":"E","userId":"u","context":[1]},
    {"type":"identify","anonymousId":"a","messageId":"g2"},
    {"type":"alias","previousId":"p","userId":"u","messageId":"g3"},
    {"type":"group","groupId":7,"userId":"u","messageId":"g4"}
  ]})";
  auto r = call(post("/v1/batch", batch));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 4);
  std::vector<std::pair<int, std::string>> want = {
      {1, "missing_event"},  {2, "invalid_type"},      {3, "missing_type"},
      {4, "missing_user"},   {5, "missing_group_id"},  {6, "missing_previous_id"},
      {7, "missing_user"},   {8, "invalid_timestamp"}, {9, "invalid_message_id"},
      {10, "not_an_object"}, {11, "invalid_context"}};
  ASSERT_EQ(body["rejected"].size(), want.size()) << r.body;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(body["rejected"][i]["index"], want[i].first);
    EXPECT_EQ(body["rejected"][i]["reason"], want[i].second);
  }
  EXPECT_EQ(pipeline.all_events().size(), 4u);
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="missing_user")"), 2u);
  EXPECT_EQ(counter("tern_relay_events_accepted_total", R"(source="web")"), 4u);
}

TEST_F(RequestHandlerTest, AnEventGivingAKeyTheRelayReadsTwiceIsRefusedAsAmbiguous) {
  std::string batch = "{\"batch\":[" + track("d1") + R"(,
    {"type":"track","event":"E","userId":"u","messageId":"d2","type":"identify"},
    {"type":"track","event":"E","userId":"u","messageId":"d3","messageId":"d4"},
    {"type":"track","event":"E","userId":"u","messageId":"d5","context":{},"context":{"ip":"1.1.1.1"}},)" +
                      // An escaped duplicate ("\\u" in an ordinary literal; see below).
                      "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"d6\","
                      "\"typ\\u0065\":\"alias\"}," +
                      R"(
    {"type":"track","event":"E","userId":"u","messageId":"d7","extra":1,"extra":2}
  ]})";
  auto r = call(post("/v1/batch", batch));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 2);  // d1, and d7 (its repeated key is not one the relay reads)
  ASSERT_EQ(body["rejected"].size(), 4u) << r.body;
  const char* reasons[] = {"duplicate_key", "duplicate_key", "duplicate_key", "duplicate_key"};
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(body["rejected"][k]["index"], k + 1);
    EXPECT_EQ(body["rejected"][k]["reason"], reasons[k]);
  }
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="duplicate_key")"), 4u);
}

TEST_F(RequestHandlerTest, EscapedKeysTheRelayReadsAreRefusedAndAnEscapedBatchKeyStillWorks) {
  // "b\u0061tch" is "batch" once decoded: the body is a batch (not a 500).
  // The escapes are spelled "\\u" in ordinary literals: in a raw string
  // literal the compiler itself turns \u0061 into the letter.
  std::string batch =
      "{\"b\\u0061tch\":[" + track("e1") +
      ",{\"typ\\u0065\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"e2\"}"
      ",{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"e3\","
      "\"c\\u006fntext\":{\"ip\":\"1.1.1.1\"}}"
      ",{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"e4\",\"caf\\u00e9\":1}"
      "]}";
  auto r = call(post("/v1/batch", batch));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 2);  // e1, and e4 (an escaped key the relay does not read)
  ASSERT_EQ(body["rejected"].size(), 2u) << r.body;
  EXPECT_EQ(body["rejected"][0]["index"], 1);
  EXPECT_EQ(body["rejected"][0]["reason"], "escaped_key");
  EXPECT_EQ(body["rejected"][1]["index"], 2);
  EXPECT_EQ(body["rejected"][1]["reason"], "escaped_key");
  ASSERT_EQ(pipeline.all_events().size(), 2u);
  EXPECT_NE(pipeline.all_events()[1].find("\"caf\\u00e9\":1"), std::string::npos);
}

TEST_F(RequestHandlerTest, EachSubmittedEventCarriesItsValidatedTypeForThePipeline) {
  std::string batch =
      "{\"batch\":[" + track("t1") +
      R"(,{"type":"identify","userId":"u","messageId":"t2"},{"type":"fly","userId":"u"}]})";
  auto r = call(post("/v1/batch", batch));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(pipeline.submissions.size(), 1u);
  const Submission& s = pipeline.submissions[0];
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events.type(0), "track");
  EXPECT_EQ(s.events.type(1), "identify");
  EXPECT_EQ(s.events.source_id(), "web");
  // A single-event endpoint's type comes from its path.
  r = call(post("/v1/page", R"({"userId":"u","name":"Home","messageId":"t3"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(pipeline.submissions.size(), 2u);
  ASSERT_EQ(pipeline.submissions[1].events.size(), 1u);
  EXPECT_EQ(pipeline.submissions[1].events.type(0), "page");
}

TEST_F(RequestHandlerTest, BatchWithNoGoodEventIs400WithTheSameBodyShape) {
  auto r = call(post("/v1/batch", R"({"batch":[{"type":"track","userId":"u"}]})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"accepted":0,"rejected":[{"index":0,"reason":"missing_event"}]})"));
  EXPECT_TRUE(pipeline.submissions.empty());
  r = call(post("/v1/batch", R"({"batch":[]})"));
  EXPECT_EQ(r.status, 400);
}

TEST_F(RequestHandlerTest, AnswerWaitsForThePipelineAndEchoesTheAckMode) {
  std::optional<HttpResponse> got;
  handler->handle(post("/v1/batch", "{\"batch\":[" + track("w1") + "]}", "key2"), *scratch_,
                  [&](HttpResponse r) { got = std::move(r); });
  EXPECT_FALSE(got);
  EXPECT_EQ(pipeline.pending(), 1u);
  pipeline.fire();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  ASSERT_NE(got->header("X-Tern-Ack"), nullptr);
  EXPECT_EQ(*got->header("X-Tern-Ack"), "sink");
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("w2") + "]}"));
  EXPECT_EQ(*r.header("x-tern-ack"), "local");
}

TEST_F(RequestHandlerTest, SpoolFullIs503WithRetryAfterAndARetryIsNotADuplicate) {
  pipeline.result = Status(StatusCode::kUnavailable, "spool at its cap");
  std::string body = "{\"batch\":[" + track("r1") + "]}";
  auto r = call(post("/v1/batch", body));
  EXPECT_EQ(r.status, 503);
  ASSERT_NE(r.header("Retry-After"), nullptr);
  EXPECT_EQ(*r.header("Retry-After"), "7");
  pipeline.result = Status();
  r = call(post("/v1/batch", body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(pipeline.submissions.size(), 2u);  // resubmitted, not deduplicated
  EXPECT_EQ(counter("tern_relay_events_deduplicated_total", R"(source="web")"), 0u);
}

TEST_F(RequestHandlerTest, RejectedEventsAreCountedPerSourceAndReason) {
  const std::string no_user = R"({"type":"track","event":"E","messageId":"nu1"})";
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("a1") + "," + no_user + "]}"));
  EXPECT_EQ(r.status, 200) << r.body;
  r = call(post("/v1/batch", "{\"batch\":[" + no_user + "]}", "key2"));
  EXPECT_EQ(r.status, 400) << r.body;
  pipeline.result = Status(StatusCode::kUnavailable, "spool at its cap");
  r = call(post("/v1/batch", "{\"batch\":[" + track("a2") + "," + track("a3") + "]}", "key2"));
  EXPECT_EQ(r.status, 503);
  const char* family = "tern_relay_source_events_rejected_total";
  EXPECT_EQ(counter(family, R"(source="web",reason="missing_user")"), 1u);
  EXPECT_EQ(counter(family, R"(source="ios",reason="missing_user")"), 1u);
  EXPECT_EQ(counter(family, R"(source="ios",reason="spool_full")"), 2u);
  EXPECT_EQ(counter(family, R"(source="web",reason="spool_full")"), 0u);
  // The per-reason series stay as they were.
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="missing_user")"), 2u);
  EXPECT_EQ(counter("tern_relay_events_rejected_total", R"(reason="spool_full")"), 2u);
}

TEST_F(RequestHandlerTest, ShutdownIs503AndStorageErrorIs500) {
  pipeline.result = Status(StatusCode::kCancelled, "draining");
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("s1") + "]}"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.header("Retry-After"), nullptr);
  pipeline.result = Status(StatusCode::kIOError, "disk full");
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("s2") + "]}")).status, 500);
}

TEST_F(RequestHandlerTest, SinkAckTimeoutIs202BecauseEventsAreDurable) {
  pipeline.result = Status(StatusCode::kTimeout, "sinks late");
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("t1") + "]}", "key2"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(json::parse(r.body)["accepted"], 1);
}

// ---- dedup and rate limit ----

TEST_F(RequestHandlerTest, DuplicateMessageIdIsAcceptedButNotSubmittedAgain) {
  std::string body = "{\"batch\":[" + track("dup1") + "," + track("dup1") + "]}";
  auto r = call(post("/v1/batch", body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["accepted"], 2);
  r = call(post("/v1/batch", "{\"batch\":[" + track("dup1") + "]}"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["accepted"], 1);
  EXPECT_EQ(pipeline.all_events().size(), 1u);
  EXPECT_EQ(counter("tern_relay_events_deduplicated_total", R"(source="web")"), 2u);
  // Per source: the same id from another source is new.
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("dup1") + "]}", "key2")).status, 200);
  EXPECT_EQ(pipeline.all_events().size(), 2u);
}

TEST_F(RequestHandlerTest, DuplicateAfterTheWindowIsStoredAgain) {
  config.sources[0].dedup_window = 5s;
  rebuild();
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("late") + "]}")).status, 200);
  steady_ += 6s;
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("late") + "]}")).status, 200);
  EXPECT_EQ(pipeline.all_events().size(), 2u);
}

TEST_F(RequestHandlerTest, RateLimitPerWriteKeyIs429WithRetryAfter) {
  config.sources[0].rate_limit_eps = 2;
  config.sources[0].rate_limit_burst = 3;
  rebuild();
  EXPECT_EQ(call(post("/v1/batch",
                      "{\"batch\":[" + track("q1") + "," + track("q2") + "," + track("q3") + "]}"))
                .status,
            200);
  auto r = call(post("/v1/batch", "{\"batch\":[" + track("q4") + "]}"));
  EXPECT_EQ(r.status, 429);
  ASSERT_NE(r.header("Retry-After"), nullptr);
  EXPECT_EQ(*r.header("Retry-After"), "1");
  EXPECT_EQ(counter("tern_relay_limit_hits_total", R"(limit="rate")"), 1u);
  // Another key of the same source has its own bucket.
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("q5") + "]}", "key1b")).status, 200);
  steady_ += 1s;
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("q4") + "]}")).status, 200);
}

// ---- enrichment ----

TEST_F(RequestHandlerTest, EnrichmentAddsReceivedAtSourceIpAndKeepsOriginalBytes) {
  std::string ev =
      R"({"type":"track","event":"Caf\u00e9 \"quoted\" {x}","userId":"u","messageId":"e1",)"
      R"("properties":{"price":1.50,"nested":{"a":[1,{"b":"}"}]}}})";
  auto r = call(post("/v1/batch", "{\"batch\":[" + ev + "]}"));
  ASSERT_EQ(r.status, 200);
  std::string stored = pipeline.all_events().at(0);
  EXPECT_NE(stored.find(R"("event":"Caf\u00e9 \"quoted\" {x}")"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("price":1.50)"), std::string::npos) << stored;
  auto e = json::parse(stored);
  EXPECT_EQ(e["receivedAt"], "2024-03-01T12:34:56.789Z");
  EXPECT_EQ(e["timestamp"], "2024-03-01T12:34:56.789Z");  // none sent: receivedAt
  EXPECT_EQ(e["context"]["ip"], "203.0.113.5");
  EXPECT_EQ(e["context"]["sourceId"], "web");
  EXPECT_FALSE(e.contains("originalTimestamp"));
}

TEST_F(RequestHandlerTest, TimestampIsCorrectedForClockSkewFromSentAt) {
  // The device clock is 1 hour fast: sentAt 13:34:56.789 when the relay says 12:34:56.789.
  std::string body = R"({"sentAt":"2024-03-01T13:34:56.789Z","batch":[)" +
                     track("k1", R"(,"timestamp":"2024-03-01T13:30:00.000Z")") + "]}";
  ASSERT_EQ(call(post("/v1/batch", body)).status, 200);
  auto e = json::parse(pipeline.all_events().at(0));
  EXPECT_EQ(e["timestamp"], "2024-03-01T12:30:00.000Z");
  EXPECT_EQ(e["originalTimestamp"], "2024-03-01T13:30:00.000Z");
  EXPECT_EQ(e["receivedAt"], "2024-03-01T12:34:56.789Z");
}

TEST_F(RequestHandlerTest, TimestampWithoutSentAtIsKept) {
  ASSERT_EQ(
      call(post("/v1/batch",
                "{\"batch\":[" + track("k2", R"(,"timestamp":"2020-01-01T00:00:00+01:00")") + "]}"))
          .status,
      200);
  auto e = json::parse(pipeline.all_events().at(0));
  EXPECT_EQ(e["timestamp"], "2020-01-01T00:00:00+01:00");
  EXPECT_FALSE(e.contains("originalTimestamp"));
}

TEST_F(RequestHandlerTest, SingleEventSentAtCorrectsItsOwnTimestamp) {
  auto r = call(post("/v1/track",
                     R"({"event":"E","userId":"u","messageId":"k3",)"
                     R"("timestamp":"2024-03-01T12:00:00Z","sentAt":"2024-03-01T12:00:10Z"})"));
  ASSERT_EQ(r.status, 200);
  auto e = json::parse(pipeline.all_events().at(0));
  EXPECT_EQ(e["timestamp"], "2024-03-01T12:34:46.789Z");
}

TEST_F(RequestHandlerTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  auto req = post("/v1/batch", "{\"batch\":[" + track("x1") + "]}");
  req.peer_ip = "10.0.0.2";
  req.forwarded_for = "6.6.6.6, 198.51.100.7";
  ASSERT_EQ(call(req).status, 200);
  auto untrusted = post("/v1/batch", "{\"batch\":[" + track("x2") + "]}");
  untrusted.forwarded_for = "198.51.100.7";
  ASSERT_EQ(call(untrusted).status, 200);
  auto events = pipeline.all_events();
  EXPECT_EQ(json::parse(events[0])["context"]["ip"], "198.51.100.7");
  EXPECT_EQ(json::parse(events[1])["context"]["ip"], "203.0.113.5");
}

TEST_F(RequestHandlerTest, MissingMessageIdIsGeneratedAsUuid) {
  ASSERT_EQ(call(post("/v1/track", R"({"event":"E","userId":"u"})")).status, 200);
  ASSERT_EQ(call(post("/v1/track", R"({"event":"E","userId":"u"})")).status, 200);
  auto events = pipeline.all_events();
  ASSERT_EQ(events.size(), 2u);
  std::string a = json::parse(events[0])["messageId"], b = json::parse(events[1])["messageId"];
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

// ---- CORS and reload ----

TEST_F(RequestHandlerTest, CorsPreflightForAllowedOriginAnd403ForOthers) {
  auto pre = post("/v1/batch", "", "");
  pre.method = "OPTIONS";
  pre.origin = "https://app.example";
  pre.access_control_request_headers = "authorization, content-type";
  auto r = call(pre);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(*r.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(r.header("Access-Control-Allow-Methods")->find("POST"), std::string::npos);
  EXPECT_EQ(*r.header("Access-Control-Allow-Headers"), "authorization, content-type");
  pre.origin = "https://evil.example";
  EXPECT_EQ(call(pre).status, 403);
}

TEST_F(RequestHandlerTest, CorsHeadersOnAnswersToAllowedOrigins) {
  auto req = post("/v1/batch", "{\"batch\":[" + track("c1") + "]}");
  req.origin = "https://app.example";
  auto r = call(req);
  EXPECT_EQ(*r.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(r.header("Access-Control-Expose-Headers")->find("Retry-After"), std::string::npos);
  auto other = post("/v1/batch", "{\"batch\":[" + track("c2") + "]}");
  other.origin = "https://evil.example";
  EXPECT_EQ(call(other).header("Access-Control-Allow-Origin"), nullptr);
}

TEST_F(RequestHandlerTest, ReloadSwapsKeysForTheNextRequest) {
  config.sources[0].write_keys = {"rotated"};
  handler->reload(make_ingest_config(config).value());
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("n1") + "]}", "key1")).status, 401);
  EXPECT_EQ(call(post("/v1/batch", "{\"batch\":[" + track("n2") + "]}", "rotated")).status, 200);
}

TEST_F(RequestHandlerTest, IngestConfigRefusesDuplicateKeysAndBadProxies) {
  RelayConfig c = config;
  c.sources[1].write_keys = {"key1"};
  EXPECT_FALSE(make_ingest_config(c));
  c = config;
  c.server.trusted_proxies = {"not-an-ip"};
  EXPECT_FALSE(make_ingest_config(c));
}

// ---- the splicer, directly ----

class EnrichEventTest : public ::testing::Test {
 protected:
  EnrichScratch scratch_;  // reused across calls, as in a session
  std::string enrich(std::string_view text, EnrichInput in) {
    if (in.received_at_text.empty()) in.received_at_text = "2024-03-01T12:34:56.789Z";
    in.received_at = kNow;
    if (in.source_id.empty()) in.source_id = "src";
    std::string out;
    enrich_event(text, in, &out, &scratch_);
    EXPECT_TRUE(json::accept(out)) << out;
    return out;
  }
};

TEST_F(EnrichEventTest, NoContextGetsOneWithIpAndSourceId) {
  EnrichInput in;
  in.ip = "1.2.3.4";
  in.timestamp = kNow;
  EXPECT_EQ(
      enrich(R"({"a":1})", in),
      R"({"a":1,"receivedAt":"2024-03-01T12:34:56.789Z","context":{"ip":"1.2.3.4","sourceId":"src"}})");
}

TEST_F(EnrichEventTest, ExistingContextKeepsClientIpAndReplacesSourceId) {
  EnrichInput in;
  in.ip = "1.2.3.4";
  in.timestamp = kNow;
  std::string out =
      enrich(R"({"context":{"ip":"9.9.9.9","sourceId":"forged","app":{"v":"}"}},"b":2})", in);
  EXPECT_EQ(
      out,
      R"({"context":{"ip":"9.9.9.9","app":{"v":"}"},"sourceId":"src"},"b":2,"receivedAt":"2024-03-01T12:34:56.789Z"})");
}

TEST_F(EnrichEventTest, NullContextIsReplaced) {
  EnrichInput in;
  in.ip = "1.2.3.4";
  in.timestamp = kNow;
  auto e = json::parse(enrich(R"({"context":null})", in));
  EXPECT_EQ(e["context"]["ip"], "1.2.3.4");
}

TEST_F(EnrichEventTest, ClientReceivedAtAndWriteKeyAreDroppedAndTypeForced) {
  EnrichInput in;
  in.forced_type = "screen";
  in.timestamp = kNow;
  std::string out =
      enrich(R"({ "receivedAt" : "1999", "type":"track", "writeKey":"k", "x":"\\\"" })", in);
  EXPECT_EQ(
      out,
      R"({"type":"screen","x":"\\\"","receivedAt":"2024-03-01T12:34:56.789Z","context":{"sourceId":"src"}})");
}

TEST_F(EnrichEventTest, SkewCorrectionReplacesTimestampAndKeepsOriginalText) {
  EnrichInput in;
  in.timestamp = parse_iso8601("2024-03-01T10:00:00+00:00");
  in.sent_at = parse_iso8601("2024-03-01T10:00:05Z");
  auto e = json::parse(
      enrich(R"({"timestamp":"2024-03-01T10:00:00+00:00","originalTimestamp":"x"})", in));
  EXPECT_EQ(e["timestamp"], "2024-03-01T12:34:51.789Z");
  EXPECT_EQ(e["originalTimestamp"], "2024-03-01T10:00:00+00:00");
}

TEST_F(EnrichEventTest, EmptyObjectGetsEveryField) {
  EnrichInput in;
  in.forced_type = "track";
  in.generated_message_id = "id-1";
  auto e = json::parse(enrich("{}", in));
  EXPECT_EQ(e["type"], "track");
  EXPECT_EQ(e["messageId"], "id-1");
  EXPECT_EQ(e["timestamp"], "2024-03-01T12:34:56.789Z");
}

}  // namespace
}  // namespace tern::relay
