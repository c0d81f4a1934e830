// The config examples of relay/sinks/README.md, as a user would paste them
// into the relay's TOML: they parse, and each sink's factory accepts them.
#include <gtest/gtest.h>

#include "tern/relay/builtin_sinks.h"
#include "tern/relay/config.h"

namespace tern::relay {
namespace {

constexpr const char kExamples[] = R"(
[[sources]]
id = "web"
write_keys = ["k"]

[[sinks]]
name = "kafka"
type = "kafka"
batch_max_events = 1000
batch_linger = "5ms"
brokers = "kafka-1:9092,kafka-2:9092,kafka-3:9092"
topic = "events.{type}"
key = "{userId|anonymousId}"
compression = "lz4"
linger = "5ms"
batch_max_messages = 10000
batch_max_bytes = "1MiB"
delivery_timeout = "10s"
client_id = "tern-relay"
rdkafka."security.protocol" = "sasl_ssl"
rdkafka."sasl.mechanisms" = "PLAIN"
rdkafka."sasl.username" = "tern"
rdkafka."sasl.password" = "secret"

[[sinks]]
name = "to-core"
type = "http"
batch_max_events = 500
batch_max_bytes = "450KiB"
batch_linger = "50ms"
url = "https://core-relay.internal:8443"
write_key = "edge-to-core-key"
gzip = true
timeout = "10s"
connect_timeout = "3s"
retry_after_max = "5m"
max_request_bytes = "480KiB"
ca_file = ""
headers.X-Edge = "eu-west-1"

[[sinks]]
name = "warehouse"
type = "postgres"
batch_max_events = 2000
batch_linger = "200ms"
conninfo = "host=db.internal port=5432 dbname=analytics user=tern"
table = "public.tern_events"
create_table = true
connect_timeout = "5s"
statement_timeout = "30s"
)";

TEST(SinkConfigExamplesTest, ReadmeExamplesParseAndEverySinkAcceptsThem) {
  auto cfg = parse_config(kExamples, "README examples");
  ASSERT_TRUE(cfg.is_ok()) << cfg.status().to_string();
  ASSERT_EQ(cfg->sinks.size(), 3u);
  EXPECT_EQ(cfg->sinks[0].settings.at("rdkafka.security.protocol"), "sasl_ssl");
  EXPECT_EQ(cfg->sinks[1].settings.at("headers.X-Edge"), "eu-west-1");
  SinkRegistry reg;
  ASSERT_TRUE(register_builtin_sinks(reg).is_ok());
  Metrics m;
  SinkContext ctx{"/tmp", &m};
  for (const SinkConfig& s : cfg->sinks) {
    if (!reg.contains(s.type)) continue;  // built without that sink
    auto sink = reg.create(s, ctx);
    EXPECT_TRUE(sink.is_ok()) << s.name << ": " << sink.status().to_string();
  }
}

}  // namespace
}  // namespace tern::relay
