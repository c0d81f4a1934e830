#include "tern/relay/config.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using namespace std::chrono_literals;

Result<RelayConfig> parse(std::string_view text) { return parse_config(text, "test.toml"); }

std::string error_of(std::string_view text) {
  auto r = parse(text);
  EXPECT_FALSE(r.is_ok()) << "expected an error for:\n" << text;
  return r.is_ok() ? "" : r.status().message();
}

TEST(ConfigTest, ExampleFileParsesWithEveryKey) {
  auto r = load_config_file(TERN_EXAMPLE_CONFIG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const RelayConfig& c = *r;
  EXPECT_EQ(c.data_dir, "./tern-data");
  EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
  EXPECT_FALSE(c.server.tls.enabled);
  EXPECT_EQ(c.server.trusted_proxies, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(c.limits.max_body_bytes, 512u * 1024);
  EXPECT_EQ(c.limits.max_decompressed_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.limits.sink_ack_timeout, 10s);
  EXPECT_EQ(c.spool.max_bytes, 1024ull * 1024 * 1024);
  EXPECT_EQ(c.spool.commit_window, 0ms);
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(c.sources[0].id, "web");
  EXPECT_EQ(c.sources[0].write_keys.size(), 2u);
  EXPECT_EQ(c.sources[0].dedup_window, 600s);
  EXPECT_EQ(c.sources[1].rate_limit_eps, 5000);
  EXPECT_EQ(c.sources[0].settings, SourceSettings{});  // web sets none
  EXPECT_EQ(c.sources[1].settings.enabled, true);
  EXPECT_EQ(c.sources[1].settings.sample_rate, 1.0);
  EXPECT_EQ(c.sources[1].settings.flush_at, SourceSettings::kFlushAt);
  EXPECT_EQ(c.sources[1].settings.flush_interval_ms, SourceSettings::kFlushIntervalMs);
  EXPECT_EQ(c.sources[1].settings.session_timeout_ms, SourceSettings::kSessionTimeoutMs);
  EXPECT_EQ(c.sources[1].settings.ttl_seconds, SourceSettings::kTtlSeconds);
  EXPECT_TRUE(c.sources[1].settings.extra.empty());
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_EQ(c.sinks[0].name, "archive");
  EXPECT_EQ(c.sinks[0].type, "file");
  EXPECT_EQ(c.sinks[0].settings.at("gzip"), "true");
  EXPECT_EQ(c.sinks[0].settings.at("max_bytes"), "128MiB");
  EXPECT_EQ(c.sinks[0].settings.count("batch_linger"), 0u);
  EXPECT_EQ(c.sinks[1].type, "stdout");
  EXPECT_EQ(c.sinks[1].batch_linger, 10ms);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[1].types, (std::vector<std::string>{"track", "page"}));
}

TEST(ConfigTest, EmptyFileGivesDefaultsWithOneFileSinkRoutedFromEverySource) {
  auto r = parse("");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->sinks.size(), 1u);
  EXPECT_EQ(r->sinks[0].type, "file");
  ASSERT_EQ(r->routes.size(), 1u);
  EXPECT_TRUE(r->routes[0].sources.empty());
  EXPECT_EQ(r->routes[0].sinks, std::vector<std::string>{"file"});
  EXPECT_EQ(r->limits.max_event_bytes, 32u * 1024);
}

TEST(ConfigTest, DefaultConfigHasOneSourceWithTheWriteKeys) {
  RelayConfig c = default_config("/tmp/x", {"k1"});
  EXPECT_EQ(c.data_dir, "/tmp/x");
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].id, "default");
  EXPECT_EQ(c.sources[0].write_keys, std::vector<std::string>{"k1"});
  EXPECT_EQ(c.sources[0].ack_mode, AckMode::kLocal);
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].type, "file");
  ASSERT_EQ(c.routes.size(), 1u);
}

TEST(ConfigTest, NestedSinkSettingsAreFlattenedWithDots) {
  auto r = parse(R"(
[[sinks]]
type = "kafka"
topic = "events"
brokers = ["a:9092", "b:9092"]
[sinks.producer]
linger_ms = 5
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& s = r->sinks[0].settings;
  EXPECT_EQ(r->sinks[0].name, "kafka");
  EXPECT_EQ(s.at("topic"), "events");
  EXPECT_EQ(s.at("brokers"), "a:9092,b:9092");
  EXPECT_EQ(s.at("producer.linger_ms"), "5");
}

TEST(ConfigTest, AdminAndControlTablesConfigureTheControlPlane) {
  auto r = parse(R"(
[admin]
listen = "127.0.0.1:8081"
token_file = "/etc/tern/admin.token"
[control]
url = "https://control.example:8081"
token_file = "/etc/tern/relay.token"
relay_id = "edge-eu-1"
labels = { region = "eu", tier = "edge" }
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->admin.listen, "127.0.0.1:8081");
  EXPECT_EQ(r->admin.token_file, "/etc/tern/admin.token");
  EXPECT_EQ(r->control.url, "https://control.example:8081");
  EXPECT_EQ(r->control.relay_id, "edge-eu-1");
  EXPECT_EQ(r->control.labels,
            (std::map<std::string, std::string>{{"region", "eu"}, {"tier", "edge"}}));
  EXPECT_EQ(r->admin.max_taps, 4);  // the defaults
  EXPECT_EQ(r->admin.tap_max_events_per_second, 100);

  auto bad_url = parse("[control]\nurl = \"control:8081\"\n");
  ASSERT_FALSE(bad_url.is_ok());
  EXPECT_NE(bad_url.status().message().find("control.url"), std::string::npos)
      << bad_url.status().to_string();
  auto bad_listen = parse("[admin]\nlisten = \"8081\"\n");
  ASSERT_FALSE(bad_listen.is_ok());
  EXPECT_NE(bad_listen.status().message().find("admin.listen"), std::string::npos)
      << bad_listen.status().to_string();
  auto bad_label = parse("[control]\nlabels = { region = 1 }\n");
  ASSERT_FALSE(bad_label.is_ok());
  EXPECT_NE(bad_label.status().message().find("control.labels.region"), std::string::npos)
      << bad_label.status().to_string();
}

TEST(ConfigTest, TheTapsLimitsAreReadFromAdminAndMustBePositive) {
  auto r = parse("[admin]\nmax_taps = 2\ntap_max_events_per_second = 500\n");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->admin.max_taps, 2);
  EXPECT_EQ(r->admin.tap_max_events_per_second, 500);
  EXPECT_NE(error_of("[admin]\nmax_taps = 0\n").find("admin.max_taps"), std::string::npos);
  EXPECT_NE(
      error_of("[admin]\ntap_max_events_per_second = 0\n").find("admin.tap_max_events_per_second"),
      std::string::npos);
}

TEST(ConfigTest, UnknownKeyIsAnErrorNamingIt) {
  std::string e = error_of("[spool]\nmax_byte = 10\n");
  EXPECT_NE(e.find("spool.max_byte"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("test.toml:2"), std::string::npos) << e;
  EXPECT_NE(error_of("colour = 1\n").find("colour"), std::string::npos);
}

TEST(ConfigTest, SourcesSinksAndRoutesMustBeArraysOfTables) {
  for (const char* key : {"sources", "sinks", "routes"}) {
    std::string e = error_of(std::string(key) + " = 5\n");
    EXPECT_NE(e.find(std::string("expected an array of tables ([[") + key + "]])"),
              std::string::npos)
        << e;
    e = error_of(std::string(key) + " = [1]\n");
    EXPECT_NE(e.find(std::string(key) + "[0]"), std::string::npos) << e;
    EXPECT_NE(e.find("expected a table"), std::string::npos) << e;
  }
  // The second sink is the one named, with its index.
  std::string e =
      error_of("[[sinks]]\ntype = \"file\"\n[[sinks]]\ntype = \"stdout\"\nname = \"b c\"\n");
  EXPECT_NE(e.find("sinks[1].name"), std::string::npos) << e;
}

TEST(ConfigTest, BadValuesNameTheKey) {
  EXPECT_NE(error_of("[spool]\ncommit_window = 5\n").find("spool.commit_window"),
            std::string::npos);
  EXPECT_NE(error_of("[spool]\nmax_bytes = \"lots\"\n").find("spool.max_bytes"), std::string::npos);
  EXPECT_NE(error_of("[limits]\nmax_batch_events = 0\n").find("limits.max_batch_events"),
            std::string::npos);
  EXPECT_NE(error_of("[server]\nlisten = \"8080\"\n").find("server.listen"), std::string::npos);
  EXPECT_NE(error_of("[log]\nlevel = \"loud\"\n").find("log.level"), std::string::npos);
  EXPECT_NE(error_of("[[sources]]\nid = \"a\"\nwrite_keys = [\"k\"]\nack_mode = \"disk\"\n")
                .find("sources[0].ack_mode"),
            std::string::npos);
  EXPECT_NE(error_of("[[sinks]]\ntype = \"file\"\nbackoff_base = \"10s\"\nbackoff_max = \"1s\"\n")
                .find("sinks[0].backoff_max"),
            std::string::npos);
  EXPECT_NE(error_of("[server.tls]\nenabled = true\n").find("cert_file"), std::string::npos);
}

TEST(ConfigTest, ASourcesSettingsTableHoldsTheSdkSettings) {
  auto r = parse(R"(
[[sources]]
id = "app"
write_keys = ["k"]
[sources.settings]
enabled = false
sampleRate = 0.1
flushAt = 10000
flushIntervalMs = 100
sessionTimeoutMs = 1000
ttlSeconds = 60
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const SourceSettings& s = r->sources.at(0).settings;
  EXPECT_EQ(s.enabled, false);
  EXPECT_EQ(s.sample_rate, 0.1);
  EXPECT_EQ(s.flush_at, 10000);
  EXPECT_EQ(s.flush_interval_ms, 100);
  EXPECT_EQ(s.session_timeout_ms, 1000);
  EXPECT_EQ(s.ttl_seconds, 60);
  EXPECT_TRUE(s.extra.empty());

  // Left out: unset (the relay serves the defaults).
  auto bare = parse("[[sources]]\nid = \"a\"\nwrite_keys = [\"k\"]\n[sources.settings]\n");
  ASSERT_TRUE(bare.is_ok()) << bare.status().to_string();
  EXPECT_EQ(bare->sources[0].settings, SourceSettings{});
  EXPECT_FALSE(bare->sources[0].settings.sample_rate.has_value());
}

TEST(ConfigTest, UnknownSettingsKeysArePassedThroughAsJson) {
  auto r = parse(R"(
[[sources]]
id = "app"
write_keys = ["k"]
[sources.settings]
region = "eu"
retries = 3
ratio = 0.5
flags = { beta = true, "quote\"d" = "a\\b" }
list = [1, "two", false]
since = 2026-12-01
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& extra = r->sources.at(0).settings.extra;
  EXPECT_EQ(extra.at("region"), R"("eu")");
  EXPECT_EQ(extra.at("retries"), "3");
  EXPECT_EQ(extra.at("ratio"), "0.5");
  EXPECT_EQ(extra.at("flags"), R"({"beta":true,"quote\"d":"a\\b"})");
  EXPECT_EQ(extra.at("list"), R"([1,"two",false])");
  EXPECT_EQ(extra.at("since"), R"("2026-12-01")");
}

TEST(ConfigTest, BadSdkSettingsAreErrorsWithFileLineAndKey) {
  auto settings_error = [](const std::string& line) {
    return error_of("[[sources]]\nid = \"a\"\nwrite_keys = [\"k\"]\n[sources.settings]\n" + line +
                    "\n");
  };
  struct Case {
    const char* line;
    const char* key;
    const char* message;
  };
  const Case cases[] = {
      {"enabled = \"no\"", "enabled", "expected true or false, got \"no\""},
      {"sampleRate = 1.5", "sampleRate", "expected a number between 0 and 1"},
      {"sampleRate = -0.1", "sampleRate", "expected a number between 0 and 1"},
      {"sampleRate = \"half\"", "sampleRate", "expected a number between 0 and 1"},
      {"sampleRate = nan", "sampleRate", "expected a number between 0 and 1"},
      {"flushAt = 0", "flushAt", "must be between 1 and 10000 events, got 0"},
      {"flushAt = 10001", "flushAt", "must be between 1 and 10000 events, got 10001"},
      {"flushAt = 2.5", "flushAt", "expected an integer"},
      {"flushIntervalMs = 99", "flushIntervalMs", "must be at least 100 ms, got 99"},
      {"sessionTimeoutMs = 999", "sessionTimeoutMs", "must be at least 1000 ms, got 999"},
      {"ttlSeconds = 59", "ttlSeconds", "must be at least 60 s, got 59"},
      {"flush_at = 10", "flush_at", "camelCase: flushAt"},
      {"extra = inf", "extra", "finite number"},
  };
  for (const Case& c : cases) {
    std::string e = settings_error(c.line);
    EXPECT_EQ(e.rfind("test.toml:5:", 0), 0u) << c.line << ": " << e;
    EXPECT_NE(e.find(std::string("sources[0].settings.") + c.key + ": "), std::string::npos)
        << c.line << ": " << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.line << ": " << e;
  }
  std::string e = error_of("[[sources]]\nid = \"a\"\nwrite_keys = [\"k\"]\nsettings = 5\n");
  EXPECT_NE(e.find("sources[0].settings: expected a table"), std::string::npos) << e;
}

TEST(ConfigTest, SyntaxErrorGivesLineAndColumn) {
  std::string e = error_of("data_dir = \n");
  EXPECT_EQ(e.rfind("test.toml:1:", 0), 0u) << e;
}

TEST(ConfigTest, DuplicateSinkNamesAreRefused) {
  std::string e = error_of(R"(
[[sinks]]
type = "file"
[[sinks]]
type = "file"
)");
  EXPECT_NE(e.find("duplicate sink name \"file\""), std::string::npos) << e;
}

TEST(ConfigTest, DuplicateSourceIdsAndSharedWriteKeysAreRefused) {
  EXPECT_NE(error_of("[[sources]]\nid=\"a\"\nwrite_keys=[\"k1\"]\n[[sources]]\nid=\"a\"\nwrite_"
                     "keys=[\"k2\"]\n")
                .find("duplicate source id"),
            std::string::npos);
  EXPECT_NE(
      error_of(
          "[[sources]]\nid=\"a\"\nwrite_keys=[\"k\"]\n[[sources]]\nid=\"b\"\nwrite_keys=[\"k\"]\n")
          .find("already used by source \"a\""),
      std::string::npos);
  EXPECT_NE(error_of("[[sources]]\nid=\"a\"\n").find("sources[0].write_keys"), std::string::npos);
}

TEST(ConfigTest, RouteToUnknownSinkOrSourceIsRefused) {
  std::string e = error_of(R"(
[[sinks]]
name = "a"
type = "file"
[[routes]]
sinks = ["a", "b"]
)");
  EXPECT_NE(e.find("routes[0].sinks[1]"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown sink \"b\""), std::string::npos) << e;
  e = error_of("[[routes]]\nsources = [\"ghost\"]\nsinks = [\"file\"]\n[[sinks]]\ntype=\"file\"\n");
  EXPECT_NE(e.find("unknown source \"ghost\""), std::string::npos) << e;
}

TEST(ConfigTest, SizesAndDurationsAcceptUnits) {
  auto r = parse(R"(
[spool]
max_bytes = "2MB"
commit_window = "500us"
[limits]
max_body_bytes = 1000
idle_timeout = "1.5s"
sink_ack_timeout = "2m"
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->spool.max_bytes, 2'000'000u);
  EXPECT_EQ(r->spool.commit_window, 1ms);  // rounded to the millisecond
  EXPECT_EQ(r->limits.max_body_bytes, 1000u);
  EXPECT_EQ(r->limits.idle_timeout, 1500ms);
  EXPECT_EQ(r->limits.sink_ack_timeout, 120s);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto r = load_config_file("/nonexistent/tern.toml");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/tern.toml"), std::string::npos);
}

TEST(ConfigTest, ReloadNamesEachChangedSettingThatNeedsARestart) {
  auto running = parse("[server]\nlisten = \"127.0.0.1:8080\"\n");
  auto next = parse(
      "[server]\nlisten = \"0.0.0.0:9090\"\nthreads = 3\n"
      "[server.tls]\nenabled = true\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n"
      "[spool]\ncommit_window = \"2ms\"\nmemory_tail_bytes = 0\nmax_bytes = \"1GiB\"\n"
      "[limits]\nmax_event_bytes = 1000\n");
  ASSERT_TRUE(running.is_ok() && next.is_ok()) << next.status().to_string();
  EXPECT_EQ(settings_needing_restart(*running, *next),
            (std::vector<std::string>{"server.listen", "server.threads", "server.tls.enabled",
                                      "server.tls.cert_file", "server.tls.key_file",
                                      "spool.commit_window", "spool.memory_tail_bytes"}));
  EXPECT_TRUE(settings_needing_restart(*running, *running).empty());
}

}  // namespace
}  // namespace tern::relay
