#include "control_state.h"

#include <gtest/gtest.h>

#include <set>

namespace tern::relay::control {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNow = "2026-12-06T09:00:00.000Z";

// A small valid pipeline: one source, a file sink with a secret-free setting,
// a kafka sink with a password, a route, a suppression.
State sample_state() {
  auto state = State::from_json(Json::parse(R"({
    "revision": 3,
    "sources": [{"id": "web", "ack_mode": "local", "rate_limit_eps": 100,
                 "rate_limit_burst": 200, "dedup_window": "10m", "dedup_max_entries": 1000,
                 "settings": {"flushAt": 20},
                 "write_keys": [{"id": "wk_1", "key": "tk_web_1", "created_at": "2026-12-01T00:00:00Z"}],
                 "revision": 2}],
    "sinks": [{"name": "archive", "type": "file", "batch_linger": "50ms", "gzip": true,
               "revision": 1},
              {"name": "kafka-main", "type": "kafka", "brokers": "127.0.0.1:9092",
               "topic": "events", "sasl": {"username": "u", "password": "hunter2"},
               "revision": 3}],
    "routes": [{"id": "web-to-archive", "sources": ["web"], "types": ["track"],
                "sinks": ["archive"], "revision": 1}],
    "suppressions": [{"user_id": "u-123", "reason": "gdpr", "created_at": "2026-12-02T00:00:00Z",
                      "revision": 3}]
  })"));
  EXPECT_TRUE(state.is_ok()) << state.status().to_string();
  return state.is_ok() ? *state : State{};
}

std::vector<FieldError> errors_of(const State& state) {
  std::vector<FieldError> errors;
  auto config = to_relay_config(state, RelayConfig{}, &errors);
  EXPECT_FALSE(config.is_ok());
  if (!config.is_ok()) {
    EXPECT_FALSE(errors.empty());
    if (!errors.empty()) {
      EXPECT_EQ(config.status().message(), to_string(errors.front()));
    }
  }
  return errors;
}

bool has_error(const std::vector<FieldError>& errors, const std::string& resource,
               const std::string& field, const std::string& message_part) {
  for (const auto& e : errors) {
    if (e.resource == resource && e.field == field &&
        e.message.find(message_part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string describe(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) out += to_string(e) + "\n";
  return out;
}

TEST(ControlStateTest, StateJsonRoundTripsUnchanged) {
  State state = sample_state();
  Json doc = state.to_json(false);
  auto back = State::from_json(doc);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->to_json(false), doc);
  EXPECT_EQ(doc["revision"], 3);
  EXPECT_EQ(doc["sinks"][1]["sasl"]["password"], "hunter2");
}

TEST(ControlStateTest, ADocumentNotShapedAsAStateIsRefusedNamingTheField) {
  auto r = State::from_json(Json::parse(R"({"sinks": [{"type": "file"}]})"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("sinks[0].name"), std::string::npos) << r.status().message();

  r = State::from_json(Json::parse(R"({"source": []})"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("source: unknown key"), std::string::npos);

  r = State::from_json(Json::parse(R"({"routes": {}})"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("routes: expected an array"), std::string::npos);

  r = State::from_json(Json::array());
  EXPECT_FALSE(r.is_ok());
}

TEST(ControlStateTest, RedactedJsonShowsSinkSecretsAsFingerprintsOnly) {
  Json doc = sample_state().to_json(true);
  EXPECT_EQ(doc["sinks"][1]["sasl"]["password"], fingerprint("hunter2"));
  EXPECT_EQ(doc["sinks"][1]["sasl"]["username"], "u");
  EXPECT_EQ(doc["sinks"][1]["brokers"], "127.0.0.1:9092");
  EXPECT_EQ(doc.dump().find("hunter2"), std::string::npos);
  // Write keys are what apps embed: shown.
  EXPECT_EQ(doc["sources"][0]["write_keys"][0]["key"], "tk_web_1");
}

TEST(ControlStateTest, AValidStateBecomesTheRelayConfigWithTheBaseProcessSettings) {
  RelayConfig base;
  base.data_dir = "/var/lib/tern";
  base.server.listen = "0.0.0.0:9000";
  base.limits.max_batch_events = 77;
  base.admin.listen = "127.0.0.1:8081";
  base.sources.push_back(SourceConfig{});  // the base's pipeline is not used
  std::vector<FieldError> errors;
  auto config = to_relay_config(sample_state(), base, &errors);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(config->data_dir, "/var/lib/tern");
  EXPECT_EQ(config->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(config->limits.max_batch_events, 77u);
  EXPECT_EQ(config->admin.listen, "127.0.0.1:8081");

  ASSERT_EQ(config->sources.size(), 1u);
  const SourceConfig& web = config->sources[0];
  EXPECT_EQ(web.id, "web");
  EXPECT_EQ(web.write_keys, std::vector<std::string>{"tk_web_1"});
  EXPECT_EQ(web.ack_mode, AckMode::kLocal);
  EXPECT_EQ(web.rate_limit_eps, 100);
  EXPECT_EQ(web.rate_limit_burst, 200);
  EXPECT_EQ(web.dedup_window, 600s);
  EXPECT_EQ(web.dedup_max_entries, 1000u);
  EXPECT_EQ(web.settings.flush_at, 20);  // the source's settings object
  EXPECT_FALSE(web.settings.sample_rate.has_value());

  ASSERT_EQ(config->sinks.size(), 2u);
  EXPECT_EQ(config->sinks[0].name, "archive");
  EXPECT_EQ(config->sinks[0].type, "file");
  EXPECT_EQ(config->sinks[0].settings.at("gzip"), "true");
  EXPECT_TRUE(config->sinks[0].type_origin.empty());
  EXPECT_EQ(config->sinks[1].settings.at("sasl.password"), "hunter2");
  EXPECT_EQ(config->sinks[1].settings.at("brokers"), "127.0.0.1:9092");

  ASSERT_EQ(config->routes.size(), 1u);
  EXPECT_EQ(config->routes[0].sources, std::vector<std::string>{"web"});
  EXPECT_EQ(config->routes[0].sinks, std::vector<std::string>{"archive"});
  EXPECT_EQ(config->suppressed_user_ids, std::vector<std::string>{"u-123"});
}

TEST(ControlStateTest, DedupWindowMayBeGivenInSeconds) {
  State state = sample_state();
  state.sources[0]["dedup_window"] = 90;
  auto config = to_relay_config(state, RelayConfig{});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->sources[0].dedup_window, 90s);
}

TEST(ControlStateTest, AnEmptyStateIsAPipelineWithNothingInItNotTheFileDefaults) {
  auto config = to_relay_config(State{}, RelayConfig{});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->sources.empty());
  EXPECT_TRUE(config->sinks.empty());
  EXPECT_TRUE(config->routes.empty());
}

TEST(ControlStateTest, AStateWhoseListsAreNotArraysIsRefused) {
  State state;
  state.sinks = Json::object();
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "state", "sinks", "expected an array")) << describe(errors);
}

TEST(ControlStateTest, BadSinkSettingsAreErrorsNamingTheSinkAndTheField) {
  State state = sample_state();
  state.sinks[0]["batch_linger"] = "soon";
  state.sinks[1]["batch_max_events"] = 0;
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sinks/archive", "batch_linger", "expected a duration"))
      << describe(errors);
  EXPECT_TRUE(has_error(errors, "sinks/kafka-main", "batch_max_events", "must be between 1"))
      << describe(errors);
  // Every error found, not only the first.
  EXPECT_EQ(errors.size(), 2u) << describe(errors);
  // The message names the resource as the API does, with no TOML line numbers.
  EXPECT_EQ(to_string(errors[0]).rfind("sinks[\"archive\"].batch_linger: expected a duration", 0),
            0u)
      << to_string(errors[0]);
}

TEST(ControlStateTest, ASinkWithoutTypeOrWithANullValueIsRefused) {
  State state = sample_state();
  state.sinks[0].erase("type");
  state.sinks[1]["topic"] = nullptr;
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sinks/archive", "type", "is required")) << describe(errors);
  EXPECT_TRUE(has_error(errors, "sinks/kafka-main", "topic", "must not be null"))
      << describe(errors);
}

TEST(ControlStateTest, RoutesNamingUnknownSourcesOrSinksAreRefused) {
  State state = sample_state();
  state.routes.push_back(
      {{"id", "rt_2"}, {"sources", {"ios"}}, {"sinks", {"archive", "warehouse"}}});
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "routes/rt_2", "sources[0]", "unknown source \"ios\""))
      << describe(errors);
  EXPECT_TRUE(has_error(errors, "routes/rt_2", "sinks[1]", "unknown sink \"warehouse\""))
      << describe(errors);
  EXPECT_EQ(errors.size(), 2u) << describe(errors);
}

TEST(ControlStateTest, ARouteWithoutSinksIsRefused) {
  State state = sample_state();
  state.routes[0]["sinks"] = Json::array();
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "routes/web-to-archive", "sinks", "at least one sink"))
      << describe(errors);
}

TEST(ControlStateTest, AWriteKeyUsedByTwoSourcesIsRefusedOnTheSecond) {
  State state = sample_state();
  Json ios = state.sources[0];
  ios["id"] = "ios";
  ios["write_keys"][0]["id"] = "wk_2";
  state.sources.push_back(ios);
  auto errors = errors_of(state);
  EXPECT_TRUE(
      has_error(errors, "sources/ios", "write_keys[0].key", "already used by source \"web\""))
      << describe(errors);
  EXPECT_EQ(errors.size(), 1u) << describe(errors);
  // The key itself is never repeated in an error.
  EXPECT_EQ(describe(errors).find("tk_web_1"), std::string::npos);
}

TEST(ControlStateTest, EmptyOrMissingWriteKeysAreRefused) {
  State state = sample_state();
  state.sources[0]["write_keys"][0]["key"] = "";
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sources/web", "write_keys[0].key", "non-empty"))
      << describe(errors);

  state = sample_state();
  state.sources[0]["write_keys"] = Json::array();
  errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sources/web", "write_keys", "at least one write key"))
      << describe(errors);
}

TEST(ControlStateTest, ABadAckModeIsRefusedNamingTheChoices) {
  State state = sample_state();
  state.sources[0]["ack_mode"] = "eventually";
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sources/web", "ack_mode", "\"local\", \"sink\" or \"memory\""))
      << describe(errors);
}

TEST(ControlStateTest, SourceIdsAndSettingsAreChecked) {
  State state = sample_state();
  Json bad = state.sources[0];
  bad["id"] = "has space";
  bad["write_keys"][0]["key"] = "tk_other";
  bad["settings"] = "not an object";
  state.sources.push_back(bad);
  Json big = state.sources[0];
  big["id"] = "big";
  big["write_keys"][0]["key"] = "tk_big";
  big["settings"] = {{"blob", std::string(70 * 1024, 'x')}};
  state.sources.push_back(big);
  Json unknown = state.sources[0];
  unknown["id"] = "typo";
  unknown["write_keys"][0]["key"] = "tk_typo";
  unknown["rate_limit"] = 5;
  state.sources.push_back(unknown);
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sources/has space", "id", "1 to 64 characters"))
      << describe(errors);
  EXPECT_TRUE(has_error(errors, "sources/has space", "settings", "JSON object"))
      << describe(errors);
  EXPECT_TRUE(has_error(errors, "sources/big", "settings", "64 KiB")) << describe(errors);
  EXPECT_TRUE(has_error(errors, "sources/typo", "rate_limit", "unknown key")) << describe(errors);
}

TEST(ControlStateTest, ASourcesSettingsBecomeTheSdkSettingsTheRelayServes) {
  State state = sample_state();
  state.sources[0]["settings"] = Json::parse(R"({
    "enabled": false, "sampleRate": 0.25, "flushAt": 50, "flushIntervalMs": 10000,
    "sessionTimeoutMs": 60000, "ttlSeconds": 3600,
    "region": "eu", "flags": {"beta": true, "steps": [1, 2]}})");
  auto config = to_relay_config(state, RelayConfig{});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  const SourceSettings& s = config->sources.at(0).settings;
  EXPECT_EQ(s.enabled, false);
  EXPECT_EQ(s.sample_rate, 0.25);
  EXPECT_EQ(s.flush_at, 50);
  EXPECT_EQ(s.flush_interval_ms, 10000);
  EXPECT_EQ(s.session_timeout_ms, 60000);
  EXPECT_EQ(s.ttl_seconds, 3600);
  EXPECT_EQ(s.extra.at("region"), R"("eu")");  // kept for the SDK
  EXPECT_EQ(Json::parse(s.extra.at("flags")), Json::parse(R"({"beta": true, "steps": [1, 2]})"));

  // And back: a config's settings seed the same object.
  State seeded = state_from_config(*config, kNow);
  EXPECT_EQ(seeded.sources[0]["settings"], state.sources[0]["settings"]);
}

TEST(ControlStateTest, BadSdkSettingsAreFieldErrorsNamingTheKey) {
  State state = sample_state();
  const std::pair<const char*, const char*> cases[] = {
      {R"({"enabled": "yes"})", "expected true or false"},
      {R"({"sampleRate": 1.5})", "between 0 and 1"},
      {R"({"flushAt": 0})", "between 1 and 10000"},
      {R"({"flushIntervalMs": 50})", "at least 100 ms"},
      {R"({"sessionTimeoutMs": 10})", "at least 1000 ms"},
      {R"({"ttlSeconds": 1})", "at least 60 s"},
      {R"({"flush_at": 10})", "camelCase: flushAt"},
      {R"({"note": null})", "must not be null"},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    Json src = state.sources[0];
    src["id"] = "s" + std::to_string(i);
    src["write_keys"][0]["key"] = "tk_s" + std::to_string(i);
    src["settings"] = Json::parse(cases[i].first);
    state.sources.push_back(src);
  }
  auto errors = errors_of(state);
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    std::string key = Json::parse(cases[i].first).begin().key();
    EXPECT_TRUE(
        has_error(errors, "sources/s" + std::to_string(i), "settings." + key, cases[i].second))
        << cases[i].first << "\n"
        << describe(errors);
  }
  EXPECT_EQ(to_string(errors.at(0)).rfind("sources[\"s0\"].settings.enabled: ", 0), 0u)
      << to_string(errors.at(0));
}

TEST(ControlStateTest, DuplicateNamesAreRefused) {
  State state = sample_state();
  state.sinks.push_back(state.sinks[0]);
  state.routes.push_back(state.routes[0]);
  state.suppressions.push_back(state.suppressions[0]);
  auto errors = errors_of(state);
  EXPECT_TRUE(has_error(errors, "sinks/archive", "name", "duplicate")) << describe(errors);
  EXPECT_TRUE(has_error(errors, "routes/web-to-archive", "id", "duplicate")) << describe(errors);
  EXPECT_TRUE(has_error(errors, "suppressions/u-123", "user_id", "duplicate")) << describe(errors);
}

TEST(ControlStateTest, ASinkFactorysErrorNamesTheSinkAndTheKey) {
  auto check = [](const std::string& message, const std::string& field, const std::string& text) {
    FieldError e = sink_field_error("k", Status::InvalidArgument(message));
    EXPECT_EQ(e.resource, "sinks/k") << message;
    EXPECT_EQ(e.field, field) << message;
    EXPECT_EQ(e.message, text) << message;
  };
  check("sink \"k\" (kafka): brokers is required", "brokers", "is required");
  check("sink \"k\" (kafka): topic must not be empty", "topic", "must not be empty");
  check("sink \"k\" (file): max_bytes: expected a positive size like 1048576, got \"x\"",
        "max_bytes", "expected a positive size like 1048576, got \"x\"");
  check("sink \"k\" (file): unknown setting \"gzipp\"", "gzipp",
        "unknown key (not a setting of this sink type)");
  check("sink \"k\": unknown sink type \"kafak\" (known: file, stdout)", "type",
        "unknown sink type \"kafak\" (known: file, stdout)");
  check("sink \"k\" (kafka): property a=\"b\": No such configuration property", "",
        "property a=\"b\": No such configuration property");
  check("something else entirely", "", "something else entirely");
}

TEST(ControlStateTest, TheExampleFileSeedsAStateThatReadsBackAsTheSameConfig) {
  auto file = load_config_file(TERN_EXAMPLE_CONFIG);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  State state = state_from_config(*file, kNow);
  EXPECT_EQ(state.revision, 0);
  ASSERT_EQ(state.sources.size(), 2u);
  EXPECT_EQ(state.sources[0]["id"], "web");
  EXPECT_EQ(state.sources[0]["dedup_window"], "10m");
  EXPECT_EQ(state.sources[0]["write_keys"][0]["created_at"], kNow);
  ASSERT_EQ(state.routes.size(), 2u);
  EXPECT_EQ(state.routes[0]["id"], "rt_1");
  EXPECT_EQ(state.routes[1]["id"], "rt_2");
  EXPECT_EQ(state.sinks[0]["gzip"], true);
  EXPECT_EQ(state.sinks[0]["max_bytes"], "128MiB");
  EXPECT_EQ(state.sinks[1]["batch_linger"], "10ms");
  EXPECT_FALSE(state.sinks[1].contains("batch_max_events"));  // the default is not spelled out

  auto config = to_relay_config(state, *file);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  ASSERT_EQ(config->sources.size(), file->sources.size());
  for (std::size_t i = 0; i < file->sources.size(); ++i) {
    EXPECT_EQ(config->sources[i].id, file->sources[i].id);
    EXPECT_EQ(config->sources[i].write_keys, file->sources[i].write_keys);
    EXPECT_EQ(config->sources[i].ack_mode, file->sources[i].ack_mode);
    EXPECT_EQ(config->sources[i].rate_limit_eps, file->sources[i].rate_limit_eps);
    EXPECT_EQ(config->sources[i].dedup_window, file->sources[i].dedup_window);
    EXPECT_EQ(config->sources[i].settings, file->sources[i].settings);
  }
  ASSERT_EQ(config->sinks.size(), file->sinks.size());
  for (std::size_t i = 0; i < file->sinks.size(); ++i) {
    EXPECT_EQ(config->sinks[i].name, file->sinks[i].name);
    EXPECT_EQ(config->sinks[i].settings, file->sinks[i].settings);
    EXPECT_EQ(config->sinks[i].batch_linger, file->sinks[i].batch_linger);
    EXPECT_EQ(config->sinks[i].batch_max_bytes, file->sinks[i].batch_max_bytes);
  }
  ASSERT_EQ(config->routes.size(), file->routes.size());
  EXPECT_EQ(config->routes[1].types, file->routes[1].types);
}

TEST(ControlStateTest, SeedingTwiceFromTheSameConfigGivesTheSameIds) {
  RelayConfig config = default_config("/tmp/x", {"tk_a", "tk_b"});
  State a = state_from_config(config, kNow);
  State b = state_from_config(config, "2027-01-01T00:00:00.000Z");
  const Json& keys = a.sources[0]["write_keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0]["id"], "wk_" + sha256_hex("tk_a").substr(0, 12));
  EXPECT_NE(keys[0]["id"], keys[1]["id"]);
  EXPECT_EQ(b.sources[0]["write_keys"][0]["id"], keys[0]["id"]);
  EXPECT_EQ(a.sinks, b.sinks);
  EXPECT_EQ(a.routes, b.routes);
  // The embedded default: every source to the file sink, spelled out.
  ASSERT_EQ(a.routes.size(), 1u);
  EXPECT_EQ(a.routes[0]["sinks"], Json::array({"file"}));
  EXPECT_TRUE(to_relay_config(a, config).is_ok());
}

TEST(ControlStateTest, DiffListsAddedChangedAndRemovedResourcesInKindOrder) {
  State from = sample_state();
  State to = from;
  to.sinks[0]["batch_linger"] = "1s";
  to.sinks[0]["revision"] = 9;  // revisions alone are no change
  to.sinks[1]["revision"] = 9;
  to.routes = Json::array();
  to.suppressions.push_back({{"user_id", "u-9"}, {"reason", "x"}});
  to.sources[0]["rate_limit_eps"] = 5;
  to.sources[0].erase("settings");

  auto d = diff(from, to);
  ASSERT_EQ(d.size(), 4u) << diff_to_json(d).dump();
  EXPECT_EQ(d[0].op, "change");
  EXPECT_EQ(d[0].resource, "sources/web");
  EXPECT_EQ(d[0].fields, (std::vector<std::string>{"rate_limit_eps", "settings"}));
  EXPECT_EQ(d[1].op, "change");
  EXPECT_EQ(d[1].resource, "sinks/archive");
  EXPECT_EQ(d[1].fields, std::vector<std::string>{"batch_linger"});
  EXPECT_EQ(d[2].op, "remove");
  EXPECT_EQ(d[2].resource, "routes/web-to-archive");
  EXPECT_EQ(d[3].op, "add");
  EXPECT_EQ(d[3].resource, "suppressions/u-9");

  EXPECT_EQ(diff_to_json(d)[1], Json::parse(R"({"op": "change", "resource": "sinks/archive",
                            "fields": ["batch_linger"]})"));
  EXPECT_EQ(summarize(d),
            "sources/web changed; sinks/archive changed; routes/web-to-archive removed; "
            "suppressions/u-9 added");
  EXPECT_TRUE(diff(from, from).empty());
  EXPECT_EQ(summarize({}), "no change");
}

TEST(ControlStateTest, StampingGivesChangedObjectsTheNewRevisionAndKeepsTheOthers) {
  State prev = sample_state();
  State next = prev;
  next.sinks[0]["gzip"] = false;
  next.sinks[1].erase("revision");  // as a client may send it
  next.routes.push_back({{"id", "rt_new"}, {"sinks", {"archive"}}});
  stamp_revisions(prev, &next, 4);
  EXPECT_EQ(next.revision, 4);
  EXPECT_EQ(next.sinks[0]["revision"], 4);
  EXPECT_EQ(next.sinks[1]["revision"], 3);
  EXPECT_EQ(next.sources[0]["revision"], 2);
  EXPECT_EQ(next.routes[0]["revision"], 1);
  EXPECT_EQ(next.routes[1]["revision"], 4);
}

TEST(ControlStateTest, SecretKeysAreRecognisedByTheirLastPartOrUnderHeaders) {
  for (const char* key :
       {"password", "sasl.password", "secret", "aws.secret_access_key", "secret_key",
        "session_token", "token", "api_key", "headers.Authorization"}) {
    EXPECT_TRUE(is_secret_key(key)) << key;
  }
  for (const char* key : {"brokers", "topic", "username", "headers", "password_file", "name",
                          "access_key_id", "bucket"}) {
    EXPECT_FALSE(is_secret_key(key)) << key;
  }
}

TEST(ControlStateTest, AFingerprintIsTheFirstTwelveHexDigitsOfTheSha256) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(fingerprint("abc"), "sha256:ba7816bf8f01");
}

TEST(ControlStateTest, WritingBackAFingerprintKeepsTheStoredSecret) {
  Json stored = sample_state().sinks[1];
  stored["headers"] = {{"Authorization", "Bearer xyz"}};
  stored["headers.X-Api"] = "flat";

  Json incoming = redact_sink(stored);  // what a client read
  EXPECT_EQ(incoming["headers"]["Authorization"], fingerprint("Bearer xyz"));
  EXPECT_EQ(incoming["headers.X-Api"], fingerprint("flat"));
  incoming["topic"] = "events-v2";
  keep_fingerprinted_secrets(&incoming, &stored);
  EXPECT_EQ(incoming["sasl"]["password"], "hunter2");
  EXPECT_EQ(incoming["headers"]["Authorization"], "Bearer xyz");
  EXPECT_EQ(incoming["headers.X-Api"], "flat");
  EXPECT_EQ(incoming["topic"], "events-v2");

  // A new value replaces the secret; a fingerprint with nothing stored stays as given.
  Json changed = redact_sink(stored);
  changed["sasl"]["password"] = "new-pass";
  keep_fingerprinted_secrets(&changed, &stored);
  EXPECT_EQ(changed["sasl"]["password"], "new-pass");
  Json fresh = redact_sink(stored);
  keep_fingerprinted_secrets(&fresh, nullptr);
  EXPECT_EQ(fresh["sasl"]["password"], fingerprint("hunter2"));
}

TEST(ControlStateTest, RandomSecretsHaveThePrefixAnd32Base62Characters) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string s = random_secret("tat_");
    ASSERT_EQ(s.size(), 36u);
    EXPECT_EQ(s.rfind("tat_", 0), 0u);
    for (char c : s.substr(4)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace tern::relay::control
