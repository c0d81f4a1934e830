// Settings served by the relay, as a user sees them: what is fetched and
// when, what the uploads do under them (flushAt, the kill switch, sampling),
// what survives a restart, and Stats.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>

#include "remote_settings.h"
#include "sdk_fixture.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::SdkFixture;
using testing::wait_until;

// A body shaped like the relay's, with `tern` as its Tern block.
std::string settings_body(const nlohmann::json& tern) {
  nlohmann::json body = {
      {"integrations",
       {{"Segment.io",
         {{"apiKey", "wk"}, {"apiHost", "collector.example/v1"}, {"protocol", "https"}}}}},
      {"plan", {{"track", {{"__default", {{"enabled", true}}}}}, {"identify", {}}, {"group", {}}}},
      {"enabledMiddleware", nlohmann::json::object()},
      {"metrics", {{"sampleRate", 0}}},
      {"tern", tern}};
  return body.dump();
}

HttpResponse answer(int status, std::string body, std::string etag = {}) {
  HttpResponse r = testing::http_status(status, std::move(body));
  r.etag = std::move(etag);
  return r;
}

class RemoteSettingsTest : public SdkFixture {
 protected:
  void answer_with(HttpResponse r) {
    transport->set_settings_responder([r](const HttpRequest&) { return r; });
  }
  // Launches and waits until the fetch it starts has been answered and acted on.
  void launch_and_fetch() {
    const auto before = transport->settings_requests().size();
    ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
    ASSERT_TRUE(wait_until([&] { return transport->settings_requests().size() > before; }));
    settle();
  }
  // True when `n` events tracked now are uploaded without a flush (flushAt <= n).
  bool uploads_at(int n) {
    const auto before = transport->delivered().size();
    for (int i = 0; i < n; ++i) EXPECT_TRUE(client->track("probe").is_ok());
    commit();
    settle();
    return transport->delivered().size() >= before + static_cast<std::size_t>(n);
  }
};

TEST_F(RemoteSettingsTest, AGoodAnswerIsAppliedAndStored) {
  answer_with(answer(200, settings_body({{"flushAt", 2}, {"flushIntervalMs", 30000}}), "\"v1\""));
  start();
  launch_and_fetch();
  auto reqs = transport->settings_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].url, "https://collector.example/v1/projects/wk/settings");
  EXPECT_EQ(reqs[0].if_none_match, "");
  EXPECT_EQ(client->stats().settings_fetched, 1u);
  EXPECT_EQ(store->get(kKeySettingsEtag).value(), std::optional<std::string>("\"v1\""));
  // flushAt 2: the Installed event and one more go without a flush.
  EXPECT_TRUE(uploads_at(1));
  EXPECT_EQ(names(transport->delivered()),
            (std::vector<std::string>{"Application Installed", "probe"}));
}

TEST_F(RemoteSettingsTest, TheSettingsEndpointCanBeAnotherHost) {
  config.settings_endpoint = "https://cdn.example/base/";
  config.write_key = "key/with space";
  start();
  launch_and_fetch();
  ASSERT_EQ(transport->settings_requests().size(), 1u);
  EXPECT_EQ(transport->settings_requests()[0].url,
            "https://cdn.example/base/v1/projects/key%2Fwith%20space/settings");
}

TEST_F(RemoteSettingsTest, NotModifiedIsAskedWithTheStoredEtagAndKeepsTheSettings) {
  answer_with(answer(200, settings_body({{"flushAt", 2}}), "\"v1\""));
  start();
  launch_and_fetch();
  restart();
  answer_with(answer(304, "", "\"v1\""));
  launch_and_fetch();
  auto reqs = transport->settings_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].if_none_match, "\"v1\"");
  EXPECT_EQ(client->stats().settings_not_modified, 1u);
  EXPECT_EQ(client->stats().settings_fetched, 0u);
  EXPECT_TRUE(uploads_at(2));
}

TEST_F(RemoteSettingsTest, AServerErrorOrAMalformedBodyKeepsTheLastGoodCopy) {
  answer_with(answer(200, settings_body({{"flushAt", 2}}), "\"v1\""));
  start();
  launch_and_fetch();
  for (const HttpResponse& bad :
       {answer(500, "oops"), answer(200, "{not json", "\"v2\""),
        answer(200, R"({"tern":"not an object"})", "\"v3\""), testing::network_error()}) {
    restart();
    answer_with(bad);
    launch_and_fetch();
    EXPECT_EQ(client->stats().settings_failed, 1u);
    EXPECT_EQ(store->get(kKeySettingsEtag).value(), std::optional<std::string>("\"v1\""));
    EXPECT_TRUE(uploads_at(2));
  }
}

TEST_F(RemoteSettingsTest, StoredSettingsApplyAtTheNextStartBeforeAnyFetch) {
  answer_with(answer(200, settings_body({{"flushAt", 2}}), "\"v1\""));
  start();
  launch_and_fetch();
  restart();  // no launch, no foreground: no fetch in this process
  EXPECT_TRUE(uploads_at(2));
  EXPECT_EQ(transport->settings_requests().size(), 1u);
}

TEST_F(RemoteSettingsTest, ASlowFetchNeverHoldsUpCapture) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> in_flight{0};
  transport->set_settings_responder([&](const HttpRequest&) {
    in_flight = 1;
    released.wait();  // the settings host hangs until the test lets it answer
    return answer(200, settings_body({{"flushAt", 50}}), "\"v1\"");
  });
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(wait_until([&] { return in_flight.load() == 1; }));
  // The worker is inside the fetch: capture still only hands off.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(client->track("during", {{"i", i}}).is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  EXPECT_EQ(client->stats().enqueued, 102u);
  EXPECT_EQ(client->stats().pending, 101u);
  release.set_value();
  EXPECT_EQ(flushed().size(), 102u);
  EXPECT_EQ(client->stats().settings_fetched, 1u);
}

TEST_F(RemoteSettingsTest, FetchesComeAtMostEverySettingsMinInterval) {
  answer_with(answer(200, settings_body(nlohmann::json::object()), "\"v1\""));
  start();
  launch_and_fetch();
  ASSERT_TRUE(client->app_foreground().is_ok());
  ASSERT_TRUE(client->app_background().is_ok());
  clock->advance(4min);
  ASSERT_TRUE(client->app_foreground().is_ok());
  settle();
  EXPECT_EQ(transport->settings_requests().size(), 1u);
  ASSERT_TRUE(client->app_background().is_ok());
  clock->advance(1min);
  ASSERT_TRUE(client->app_foreground().is_ok());
  ASSERT_TRUE(wait_until([&] { return transport->settings_requests().size() == 2; }));
  EXPECT_EQ(transport->settings_requests()[1].if_none_match, "\"v1\"");
}

TEST_F(RemoteSettingsTest, NoFetchWhenFetchSettingsIsOff) {
  config.fetch_settings = false;
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  settle();
  EXPECT_TRUE(transport->settings_requests().empty());
}

TEST_F(RemoteSettingsTest, TheKillSwitchHoldsTheBacklogUntilItsTtlLapses) {
  start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->track("backlog", {{"i", i}}).is_ok());
  answer_with(answer(200, settings_body({{"enabled", false}, {"ttlSeconds", 7200}}), "\"off\""));
  launch_and_fetch();  // its Installed event joins the backlog before the answer
  EXPECT_EQ(client->stats().queue_depth, 4u);
  // New events are not captured (the app sees kOk), nothing is uploaded or deleted.
  ASSERT_TRUE(client->track("refused").is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  ASSERT_TRUE(client->identify("u-9").is_ok());  // not recorded, but the user is known
  EXPECT_EQ(client->user_id(), "u-9");
  EXPECT_EQ(client->flush(5s).code(), StatusCode::kPermissionDenied);
  clock->advance(config.flush_interval);
  settle();
  EXPECT_EQ(transport->request_count(), 0u);
  EXPECT_EQ(client->stats().queue_depth, 4u);
  EXPECT_EQ(client->stats().kill_switch_refused, 3u);
  std::atomic<int> result{-1};
  ASSERT_TRUE(
      client->flush_async(1s, [&](FlushResult r) { result = static_cast<int>(r); }).is_ok());
  ASSERT_TRUE(wait_until([&] { return result.load() >= 0; }));
  EXPECT_EQ(result.load(), static_cast<int>(FlushResult::kCancelled));
  // It survives a restart (the stored copy) until its TTL...
  restart();
  ASSERT_TRUE(client->track("still refused").is_ok());
  EXPECT_EQ(client->stats().kill_switch_refused, 1u);
  // ...and then lapses: the backlog goes out, capture resumes.
  clock->advance(1h);
  ASSERT_TRUE(client->track("after").is_ok());
  auto events = flushed();
  EXPECT_EQ(names(events), (std::vector<std::string>{"backlog", "backlog", "backlog",
                                                     "Application Installed", "after"}));
  EXPECT_EQ(events.back()["userId"], "u-9");
}

TEST_F(RemoteSettingsTest, SessionTimeoutComesFromTheSettings) {
  answer_with(answer(200, settings_body({{"sessionTimeoutMs", 60000}}), "\"v1\""));
  start();
  launch_and_fetch();
  ASSERT_TRUE(client->app_foreground().is_ok());
  const auto first = client->session_id();
  ASSERT_TRUE(first.has_value());
  clock->advance(61s);
  EXPECT_EQ(client->session_id(), std::nullopt);
  ASSERT_TRUE(client->track("later").is_ok());
  EXPECT_NE(client->session_id(), first);
}

// With sampleRate 0.5, each session is kept or dropped as a whole, the same
// after a restart in the middle of it; lifecycle and identify events are
// never dropped. Kept events carry context.sampleRate.
TEST_F(RemoteSettingsTest, SamplingKeepsOrDropsWholeSessionsAcrossRestarts) {
  ASSERT_TRUE(store
                  ->put({{kKeySettingsBody, settings_body({{"sampleRate", 0.5}})},
                         {kKeySettingsFetchedMs, std::to_string(now_ms())}})
                  .is_ok());
  config.fetch_settings = false;
  start();
  uint64_t sampled_out = 0;
  constexpr int kSessions = 40;
  for (int s = 0; s < kSessions; ++s) {
    ASSERT_TRUE(client->app_foreground().is_ok());
    ASSERT_TRUE(client->track("a").is_ok());
    ASSERT_TRUE(client->identify("u").is_ok());
    sampled_out += client->stats().sampled_out;
    restart();  // mid-session: the decision must not change
    ASSERT_TRUE(client->track("b").is_ok());
    ASSERT_TRUE(client->app_background().is_ok());
    clock->advance(6min);
  }
  sampled_out += client->stats().sampled_out;
  auto events = flushed();
  std::map<int64_t, int> tracked;  // session -> its "a"/"b" events delivered
  int opened = 0, identified = 0, kept_sessions = 0;
  for (const auto& e : events) {
    const int64_t sid = e["context"].value("sessionId", int64_t(0));
    ASSERT_NE(sid, 0) << e.dump();
    ASSERT_TRUE(e["context"].contains("sampleRate")) << e.dump();
    const std::string name = e.value("event", e["type"].get<std::string>());
    if (name == "Application Opened") {
      ++opened;
      tracked.emplace(sid, 0);
      EXPECT_EQ(e["context"]["sampleRate"], 1);
    } else if (name == "identify") {
      ++identified;
      EXPECT_EQ(e["context"]["sampleRate"], 1);
    } else if (name == "a" || name == "b") {
      ++tracked[sid];
      EXPECT_EQ(e["context"]["sampleRate"], 0.5);
    }
  }
  EXPECT_EQ(opened, kSessions);
  EXPECT_EQ(identified, kSessions);
  ASSERT_EQ(tracked.size(), static_cast<std::size_t>(kSessions));
  for (const auto& [sid, n] : tracked) {
    EXPECT_TRUE(n == 0 || n == 2) << "session " << sid << " kept " << n << " of 2 events";
    kept_sessions += n == 2;
  }
  EXPECT_GT(kept_sessions, 0);
  EXPECT_LT(kept_sessions, kSessions);
  EXPECT_EQ(sampled_out, 2u * static_cast<uint64_t>(kSessions - kept_sessions));
}

TEST_F(RemoteSettingsTest, WithSessionsOffARateOfZeroKeepsOnlyWhatIsNeverSampled) {
  ASSERT_TRUE(store
                  ->put({{kKeySettingsBody, settings_body({{"sampleRate", 0}})},
                         {kKeySettingsFetchedMs, std::to_string(now_ms())}})
                  .is_ok());
  config.fetch_settings = false;
  config.track_sessions = false;
  start();
  ASSERT_TRUE(client->track("dropped").is_ok());  // the app sees kOk
  ASSERT_TRUE(client->identify("u-1").is_ok());
  ASSERT_TRUE(client->alias("u-2").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), (std::vector<std::string>{"identify", "alias"}));
  for (const auto& e : events) {
    EXPECT_EQ(e["context"]["sampleRate"], 1);
    EXPECT_FALSE(e["context"].contains("sessionId"));
  }
  EXPECT_EQ(client->stats().sampled_out, 1u);
}

TEST(RemoteSettingsParseTest, OutOfRangeValuesAreIgnoredOneByOne) {
  auto s = parse_remote_settings(settings_body({{"enabled", "no"},
                                                {"sampleRate", 1.5},
                                                {"flushAt", 0},
                                                {"flushIntervalMs", 50},
                                                {"sessionTimeoutMs", 2000},
                                                {"ttlSeconds", 59},
                                                {"unknownKey", true}}));
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->enabled.has_value());
  EXPECT_FALSE(s->sample_rate.has_value());
  EXPECT_FALSE(s->flush_at.has_value());
  EXPECT_FALSE(s->flush_interval_ms.has_value());
  EXPECT_EQ(s->session_timeout_ms, 2000);
  EXPECT_FALSE(s->ttl_seconds.has_value());
  EXPECT_TRUE(parse_remote_settings(R"({"integrations":{}})").has_value());
  EXPECT_FALSE(parse_remote_settings("[]").has_value());
  EXPECT_FALSE(parse_remote_settings("").has_value());
}

}  // namespace
}  // namespace tern
