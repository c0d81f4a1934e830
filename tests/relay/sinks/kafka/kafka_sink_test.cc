// The kafka sink against librdkafka's mock cluster (3 brokers on loopback,
// the real Kafka protocol), driven through a real pipeline and sink runner,
// and read back with a real rdkafka consumer.
#include "tern/relay/sinks/kafka.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "event_template.h"
#include "kafka_mock.h"
#include "sink_harness.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::KafkaMessage;
using tern::testing::KafkaMock;
using testing::SinkHarness;
using testing::test_event;

SinkConfig kafka_config(const KafkaMock& mock, std::map<std::string, std::string> extra = {}) {
  SinkConfig c;
  c.name = "kafka-main";
  c.type = "kafka";
  c.settings = {{"brokers", mock.bootstrap()},
                {"topic", "events"},
                {"linger", "1ms"},
                {"rdkafka.reconnect.backoff.max.ms", "100"},
                {"rdkafka.reconnect.backoff.ms", "20"}};
  for (auto& [k, v] : extra) c.settings[k] = v;
  return c;
}

std::unique_ptr<KafkaMock> start_mock() {
  auto m = KafkaMock::start(3);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return m ? std::move(*m) : nullptr;
}

std::vector<std::string> events(int from, int n) {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) v.push_back(test_event(i));
  return v;
}

int n_of(const KafkaMessage& m) {
  return nlohmann::json::parse(m.value)["properties"]["n"].get<int>();
}

// Per key, the events' n in the order Kafka holds them (one partition per key).
void expect_ordered_per_key(const std::vector<KafkaMessage>& msgs) {
  std::map<std::string, int> last;
  std::map<std::string, int32_t> partition;
  for (const auto& m : msgs) {
    int n = n_of(m);
    auto it = last.find(m.key);
    if (it != last.end()) {
      EXPECT_GT(n, it->second) << "key " << m.key << " out of order";
    }
    last[m.key] = n;
    auto p = partition.emplace(m.key, m.partition);
    EXPECT_EQ(p.first->second, m.partition) << "key " << m.key << " spread over partitions";
  }
}

TEST(KafkaSinkTest, EveryEventArrivesOnceInTheTopicOfItsTypeKeyedByUser) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events.track", 4).is_ok());
  ASSERT_TRUE(mock->create_topic("events.identify", 4).is_ok());
  SinkHarness h(kafka_config(*mock, {{"topic", "events.{type}"}}));
  ASSERT_TRUE(h.start().is_ok());
  std::vector<std::string> batch;
  for (int i = 0; i < 300; ++i)
    batch.push_back(test_event(i, 10, "Clicked", i % 3 == 0 ? "identify" : "track"));
  ASSERT_TRUE(h.submit(batch).is_ok());
  ASSERT_TRUE(h.wait_handled(300));

  auto track = mock->consume("events.track", 4, 200, 10s);
  auto identify = mock->consume("events.identify", 4, 100, 10s);
  ASSERT_EQ(track.size(), 200u);
  ASSERT_EQ(identify.size(), 100u);
  std::set<int> seen;
  for (const auto* v : {&track, &identify}) {
    for (const auto& m : *v) {
      auto j = nlohmann::json::parse(m.value);
      int n = j["properties"]["n"].get<int>();
      EXPECT_TRUE(seen.insert(n).second) << "duplicate " << n;
      EXPECT_EQ(m.topic, "events." + j["type"].get<std::string>());
      EXPECT_EQ(m.key, j["userId"].get<std::string>());
    }
    expect_ordered_per_key(*v);
  }
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_EQ(h.dead_lettered(), 0u);
  // Nothing extra arrives later.
  EXPECT_EQ(mock->message_count("events.track", 4, 10s), 200);
}

TEST(KafkaSinkTest, KeyFallsBackToAnonymousIdAndTopicToTheSource) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("web", 2).is_ok());
  SinkHarness h(kafka_config(*mock, {{"topic", "{source}"}}));
  h.config().sources[0].id = "web";
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(
      h.submit(
           {R"({"type":"track","event":"A","anonymousId":"anon-1","messageId":"x1"})",
            R"({"type":"track","event":"B","userId":"user-9","anonymousId":"anon-2","messageId":"x2"})",
            R"({"type":"track","event":"C","messageId":"x3"})"},
           "web")
          .is_ok());
  ASSERT_TRUE(h.wait_handled(3));
  auto msgs = mock->consume("web", 2, 3, 10s);
  ASSERT_EQ(msgs.size(), 3u);
  std::map<std::string, std::string> key_of;
  for (const auto& m : msgs) key_of[nlohmann::json::parse(m.value)["messageId"]] = m.key;
  EXPECT_EQ(key_of["x1"], "anon-1");
  EXPECT_EQ(key_of["x2"], "user-9");
  EXPECT_EQ(key_of["x3"], "");  // no identity: a null key
}

TEST(KafkaSinkTest, BrokersDownMidStreamLoseNothingAndReplayInOrder) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events", 4).is_ok());
  SinkHarness h(kafka_config(*mock, {{"delivery_timeout", "700ms"}}));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 100)).is_ok());
  ASSERT_TRUE(h.wait_handled(100));

  mock->set_all_brokers_down();
  ASSERT_TRUE(h.submit(events(100, 100)).is_ok());
  // The batch times out, the runner retries, /ready names the sink as down.
  std::string why;
  ASSERT_TRUE(tern::testing::wait_until([&] { return h.failures() > 0 && !h.ready(&why); }, 10s));
  EXPECT_NE(why.find("kafka-main"), std::string::npos) << why;
  EXPECT_LT(h.delivered(), 200u);

  mock->set_all_brokers_up();
  ASSERT_TRUE(h.wait_handled(200, 20s));
  EXPECT_TRUE(tern::testing::wait_until([&] { return h.ready(&why); }, 5s)) << why;
  int64_t stored = mock->message_count("events", 4, 10s);
  ASSERT_GE(stored, 200);
  auto msgs = mock->consume("events", 4, static_cast<std::size_t>(stored), 10s);
  std::set<int> distinct;
  for (const auto& m : msgs) distinct.insert(n_of(m));
  EXPECT_EQ(distinct.size(), 200u);  // nothing lost (a timed-out attempt may repeat a few)
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(KafkaSinkTest, ClusterUnreachableAtStartKeepsEventsInTheSpoolUntilItComesBack) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events", 4).is_ok());
  mock->set_all_brokers_down();
  SinkHarness h(kafka_config(*mock, {{"delivery_timeout", "500ms"}}));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 50)).is_ok());
  std::string why;
  // A delivery attempt failed (not just "nothing happened yet").
  ASSERT_TRUE(tern::testing::wait_until([&] { return h.failures() > 0 && !h.ready(&why); }, 10s));
  EXPECT_EQ(h.delivered(), 0u);

  mock->set_all_brokers_up();
  ASSERT_TRUE(h.wait_handled(50, 20s));
  auto msgs = mock->consume("events", 4, 50, 10s);
  EXPECT_EQ(msgs.size(), 50u);
  expect_ordered_per_key(msgs);
}

TEST(KafkaSinkTest, RetryableProduceErrorsAreRetriedWithoutLossOrDuplicates) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events", 1, 3).is_ok());
  SinkHarness h(kafka_config(*mock));
  ASSERT_TRUE(h.start().is_ok());
  mock->push_produce_errors({RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  ASSERT_TRUE(h.submit(events(0, 60)).is_ok());
  ASSERT_TRUE(h.wait_handled(60));
  EXPECT_EQ(mock->message_count("events", 1, 10s),
            60);  // idempotent producer: retried, never duplicated
  auto msgs = mock->consume("events", 1, 60, 10s);
  ASSERT_EQ(msgs.size(), 60u);
  for (std::size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(n_of(msgs[i]), static_cast<int>(i));
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(KafkaSinkTest, PermanentProduceErrorGoesToTheDeadLetterFileWithTheBrokerReason) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events", 1, 3).is_ok());
  SinkConfig c = kafka_config(*mock);
  SinkHarness h(c);
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 1)).is_ok());
  ASSERT_TRUE(h.wait_handled(1));
  mock->push_produce_errors({RD_KAFKA_RESP_ERR_INVALID_RECORD});
  // One event at a time, each settled before the next: one message per
  // produce request, so the error hits exactly one.
  for (int n = 1; n < 4; ++n) {
    ASSERT_TRUE(h.submit(events(n, 1)).is_ok());
    ASSERT_TRUE(h.wait_handled(static_cast<uint64_t>(n) + 1));
  }
  EXPECT_EQ(h.dead_lettered(), 1u);
  auto dl = h.dead_letters();
  ASSERT_EQ(dl.size(), 1u);
  auto j = nlohmann::json::parse(dl[0]);
  EXPECT_EQ(j["sink"], "kafka-main");
  EXPECT_NE(j["reason"].get<std::string>().find("INVALID_RECORD"), std::string::npos) << dl[0];
  EXPECT_EQ(j["event"]["properties"]["n"], 1);
  EXPECT_EQ(mock->message_count("events", 1, 10s), 3);
  auto msgs = mock->consume("events", 1, 3, 10s);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(n_of(msgs[0]), 0);
  EXPECT_EQ(n_of(msgs[1]), 2);
  EXPECT_EQ(n_of(msgs[2]), 3);
}

TEST(KafkaSinkTest, OversizedEventIsDeadLetteredAndTheRestOfTheBatchDelivered) {
  auto mock = start_mock();
  ASSERT_TRUE(mock);
  ASSERT_TRUE(mock->create_topic("events", 1, 3).is_ok());
  SinkHarness h(kafka_config(*mock, {{"rdkafka.message.max.bytes", "4096"}}));
  ASSERT_TRUE(h.start().is_ok());
  std::string big = R"({"type":"track","event":"Big","userId":"u1","properties":{"n":1,"pad":")" +
                    std::string(8000, 'x') + "\"}}";
  ASSERT_TRUE(h.submit({test_event(0), big, test_event(2)}).is_ok());
  ASSERT_TRUE(h.wait_handled(3));
  auto dl = h.dead_letters();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find("MSG_SIZE_TOO_LARGE"), std::string::npos);
  EXPECT_EQ(mock->message_count("events", 1, 10s), 2);
  auto msgs = mock->consume("events", 1, 2, 10s);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(n_of(msgs[0]), 0);
  EXPECT_EQ(n_of(msgs[1]), 2);
}

TEST(KafkaSinkTest, BadSettingsAreRefusedNamingTheKey) {
  SinkContext ctx;
  Metrics m;
  ctx.metrics = &m;
  auto make = [&](std::map<std::string, std::string> s) {
    SinkConfig c;
    c.name = "k";
    c.type = "kafka";
    c.settings = std::move(s);
    return make_kafka_sink(c, ctx);
  };
  auto missing = make({});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("brokers"), std::string::npos);
  auto bad_template = make({{"brokers", "127.0.0.1:9092"}, {"topic", "events.{type"}});
  ASSERT_FALSE(bad_template.is_ok());
  EXPECT_NE(bad_template.status().message().find("topic"), std::string::npos);
  auto bad_prop = make({{"brokers", "127.0.0.1:9092"}, {"rdkafka.no.such.property", "1"}});
  ASSERT_FALSE(bad_prop.is_ok());
  EXPECT_NE(bad_prop.status().message().find("no.such.property"), std::string::npos);
  auto weak_acks = make({{"brokers", "127.0.0.1:9092"}, {"rdkafka.acks", "1"}});
  ASSERT_FALSE(weak_acks.is_ok());
  EXPECT_EQ(weak_acks.status().code(), StatusCode::kInvalidArgument);
  auto bad_codec = make({{"brokers", "127.0.0.1:9092"}, {"compression", "brotli"}});
  EXPECT_FALSE(bad_codec.is_ok());
  auto unknown = make({{"brokers", "127.0.0.1:9092"}, {"topik", "x"}});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("topik"), std::string::npos);
  EXPECT_TRUE(make({{"brokers", "127.0.0.1:9092"}, {"rdkafka.socket.timeout.ms", "5000"}}).is_ok());
}

TEST(EventTemplateTest, RendersFieldsAlternativesLiteralsAndSource) {
  EventTemplate::Scratch scratch;
  std::string text =
      R"({"type":"track","userId":"","anonymousId":"a1","context":{"app":{"name":"Shop"}},"n":7,)"
      R"("ok":true,"x":null,"price":1.50,"obj":{"a":1},)"
      "\"name\":\"caf\\u00e9\"}";  // a real escape: in a raw literal the compiler would decode it
  auto render = [&](const char* t) {
    auto tpl = EventTemplate::parse(t);
    EXPECT_TRUE(tpl.is_ok()) << t;
    return tpl ? tpl->render(text, "web", &scratch) : std::string("<bad>");
  };
  EXPECT_EQ(render("{ok}-{price}"), "true-1.50");       // numbers as written
  EXPECT_EQ(render("{x|obj|'fallback'}"), "fallback");  // null and objects are not values
  EXPECT_EQ(render("{name}"), "caf\xc3\xa9");           // strings unescaped
  EXPECT_EQ(render("{context.app.name}.{type}.{context.app.name}"), "Shop.track.Shop");
  EXPECT_EQ(render("events.{type}"), "events.track");
  EXPECT_EQ(render("{userId|anonymousId}"), "a1");  // empty userId falls through
  EXPECT_EQ(render("{source}-{context.app.name}"), "web-Shop");
  EXPECT_EQ(render("{event|'none'}"), "none");
  EXPECT_EQ(render("n{n}"), "n7");
  EXPECT_EQ(render("{{literal}}"), "{literal}");
  EXPECT_EQ(render("{missing}"), "");
  EXPECT_FALSE(EventTemplate::parse("{a||b}").is_ok());
  EXPECT_FALSE(EventTemplate::parse("x}").is_ok());
  EXPECT_FALSE(EventTemplate::parse("{'open}").is_ok());
}

}  // namespace
}  // namespace tern::relay
