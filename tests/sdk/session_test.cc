// Sessions as a user sees them: context.sessionId / context.sessionStart on
// the uploaded events, session_id(), and Stats::sessions_started.
#include <gtest/gtest.h>

#include <set>

#include "sdk_fixture.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::SdkFixture;

class SessionTest : public SdkFixture {
 protected:
  static int64_t sid(const nlohmann::json& e) {
    return e["context"].contains("sessionId") ? e["context"]["sessionId"].get<int64_t>() : 0;
  }
  static bool starts(const nlohmann::json& e) { return e["context"].value("sessionStart", false); }
};

TEST_F(SessionTest, EveryEventCarriesTheSessionIdAndTheFirstOneSessionStart) {
  start();
  const int64_t t0 = now_ms();
  ASSERT_TRUE(client->track("first").is_ok());
  clock->advance(1s);
  ASSERT_TRUE(client->identify("u-1").is_ok());
  ASSERT_TRUE(client->screen("Home").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) {
    ASSERT_TRUE(e["context"]["sessionId"].is_number_integer()) << e.dump();
    EXPECT_EQ(e["context"]["sessionId"], t0);
    EXPECT_EQ(e["context"]["locale"], "fr-FR");  // the provider's context is still there
  }
  EXPECT_EQ(events[0]["context"]["sessionStart"], true);
  EXPECT_FALSE(events[1]["context"].contains("sessionStart"));
  EXPECT_FALSE(events[2]["context"].contains("sessionStart"));
  EXPECT_EQ(client->session_id(), t0);
  EXPECT_EQ(client->stats().sessions_started, 1u);
}

TEST_F(SessionTest, ACallersOwnContextKeepsItsKeysAndGetsTheSession) {
  start();
  EventOptions opts;
  opts.context = {{"ip", "10.0.0.1"}, {"sessionId", "theirs"}};
  ASSERT_TRUE(client->track("with context", nullptr, opts).is_ok());
  RawMessage m;
  m.event = "raw";
  m.context_json = R"({"app":{"name":"raw"}})";
  ASSERT_TRUE(client->enqueue(m).is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["context"]["ip"], "10.0.0.1");
  EXPECT_EQ(events[0]["context"]["sessionId"], now_ms());
  EXPECT_EQ(events[1]["context"]["app"]["name"], "raw");
  EXPECT_EQ(events[1]["context"]["sessionId"], now_ms());
}

TEST_F(SessionTest, ABackgroundWakeStartsNoSession) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->track("Push Received").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), (std::vector<std::string>{"Application Installed", "Push Received"}));
  for (const auto& e : events) EXPECT_FALSE(e["context"].contains("sessionId")) << e.dump();
  EXPECT_EQ(client->session_id(), std::nullopt);
  EXPECT_EQ(client->stats().sessions_started, 0u);
}

TEST_F(SessionTest, FourMinutesFiftyNineInTheBackgroundKeepsTheSession) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  const int64_t t0 = now_ms();
  clock->advance(30s);
  ASSERT_TRUE(client->app_background().is_ok());
  clock->advance(4min + 59s);
  EXPECT_EQ(client->session_id(), t0);
  ASSERT_TRUE(client->app_foreground().is_ok());
  ASSERT_TRUE(client->track("after").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events),
            (std::vector<std::string>{"Application Installed", "Application Opened",
                                      "Application Backgrounded", "Application Opened", "after"}));
  EXPECT_EQ(sid(events[0]), 0);
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_EQ(sid(events[i]), t0) << i;
  EXPECT_TRUE(starts(events[1]));
  EXPECT_FALSE(starts(events[3]));
  EXPECT_EQ(client->stats().sessions_started, 1u);
}

TEST_F(SessionTest, FiveMinutesOneInTheBackgroundStartsANewSession) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  const int64_t t0 = now_ms();
  clock->advance(30s);
  ASSERT_TRUE(client->app_background().is_ok());
  clock->advance(5min + 1s);
  EXPECT_EQ(client->session_id(), std::nullopt);
  ASSERT_TRUE(client->track("in the background").is_ok());  // starts none
  ASSERT_TRUE(client->app_foreground().is_ok());
  const int64_t t1 = now_ms();
  ASSERT_TRUE(client->track("after").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events),
            (std::vector<std::string>{"Application Installed", "Application Opened",
                                      "Application Backgrounded", "in the background",
                                      "Application Opened", "after"}));
  EXPECT_EQ(sid(events[2]), t0);
  EXPECT_EQ(sid(events[3]), 0);
  EXPECT_EQ(sid(events[4]), t1);
  EXPECT_TRUE(starts(events[4]));
  EXPECT_EQ(sid(events[5]), t1);
  EXPECT_EQ(client->session_id(), t1);
  EXPECT_EQ(client->stats().sessions_started, 2u);
}

TEST_F(SessionTest, IdlePastTheTimeoutInTheForegroundStartsANewSession) {
  start();
  ASSERT_TRUE(client->track("a").is_ok());
  clock->advance(4min);
  ASSERT_TRUE(client->track("b").is_ok());  // the timeout runs from the last event
  clock->advance(4min);
  ASSERT_TRUE(client->track("c").is_ok());
  clock->advance(5min);
  ASSERT_TRUE(client->track("d").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(sid(events[0]), sid(events[2]));
  EXPECT_NE(sid(events[3]), sid(events[2]));
  EXPECT_TRUE(starts(events[3]));
}

TEST_F(SessionTest, AWallClockThatJumpsBackStartsANewSession) {
  start();
  ASSERT_TRUE(client->track("before").is_ok());
  const int64_t t0 = now_ms();
  clock->shift_wall(-1h);
  ASSERT_TRUE(client->track("after").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(sid(events[0]), t0);
  EXPECT_EQ(sid(events[1]), t0 - 3600 * 1000);
  EXPECT_TRUE(starts(events[1]));
}

TEST_F(SessionTest, ASessionEndsAfterTwentyFourHours) {
  config.session_timeout = 48h;  // never idle: only the cap ends it
  start();
  const int64_t t0 = now_ms();
  ASSERT_TRUE(client->track("a").is_ok());
  clock->advance(24h - 1ms);
  ASSERT_TRUE(client->track("b").is_ok());
  clock->advance(1ms);
  ASSERT_TRUE(client->track("c").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(sid(events[0]), t0);
  EXPECT_EQ(sid(events[1]), t0);
  EXPECT_EQ(sid(events[2]), t0 + 24 * 3600 * 1000);
  EXPECT_TRUE(starts(events[2]));
}

TEST_F(SessionTest, TheSessionSurvivesARestartWithinTheTimeout) {
  start();
  const int64_t t0 = now_ms();
  ASSERT_TRUE(client->track("before").is_ok());
  restart();
  clock->advance(1min);
  EXPECT_EQ(client->session_id(), t0);
  ASSERT_TRUE(client->track("after").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(sid(events[1]), t0);
  EXPECT_FALSE(starts(events[1]));
  EXPECT_EQ(client->stats().sessions_started, 0u);
}

TEST_F(SessionTest, TheSessionStateIsStoredWithTheEventsThatChangedIt) {
  start();
  const int64_t t0 = now_ms();
  ASSERT_TRUE(client->track("a").is_ok());
  settle();
  EXPECT_FALSE(store->get("session").value().has_value());  // nothing committed yet
  commit();
  auto row = store->get("session").value();
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(nlohmann::json::parse(*row)["id"], t0);
  // A kill now keeps the session: the relaunch continues it.
  clock->advance(1s);
  ASSERT_TRUE(client->track("lost in the kill").is_ok());
  kill_and_relaunch();
  ASSERT_TRUE(client->track("b").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sid(events[1]), sid(events[0]));
  EXPECT_FALSE(starts(events[1]));
}

TEST_F(SessionTest, SessionEventsAreRecordedAroundTheSessionsFirstEvent) {
  config.session_events = true;
  start();
  const int64_t t0 = now_ms();
  ASSERT_TRUE(client->track("a").is_ok());
  clock->advance(6min);
  const int64_t t1 = now_ms();
  ASSERT_TRUE(client->track("b").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), (std::vector<std::string>{"Session Started", "a", "Session Ended",
                                                     "Session Started", "b"}));
  EXPECT_EQ(sid(events[0]), t0);
  EXPECT_TRUE(starts(events[0]));
  EXPECT_FALSE(starts(events[1]));
  EXPECT_EQ(events[2]["properties"]["sessionId"], t0);
  EXPECT_EQ(sid(events[2]), t0);
  EXPECT_EQ(sid(events[3]), t1);
  EXPECT_TRUE(starts(events[3]));
  EXPECT_EQ(sid(events[4]), t1);
}

TEST_F(SessionTest, SessionsOffAddNoSessionKeys) {
  config.track_sessions = false;
  start();
  ASSERT_TRUE(client->track("a").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0]["context"].contains("sessionId"));
  EXPECT_FALSE(events[0]["context"].contains("sessionStart"));
  EXPECT_EQ(client->session_id(), std::nullopt);
}

TEST_F(SessionTest, ImmediateDurabilityCarriesTheSessionToo) {
  config.durability = Durability::kImmediate;
  start();
  ASSERT_TRUE(client->track("a").is_ok());
  EXPECT_TRUE(store->get("session").value().has_value());
  auto events = flushed();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(sid(events[0]), now_ms());
  EXPECT_TRUE(starts(events[0]));
}

TEST_F(SessionTest, ARefusedFirstEventLeavesSessionStartToTheNextOne) {
  config.max_event_bytes = 1024;
  config.max_batch_bytes = 64 * 1024;
  start();
  EXPECT_EQ(client->track("big", {{"blob", std::string(2000, 'x')}}).code(),
            StatusCode::kOutOfRange);
  ASSERT_TRUE(client->track("small").is_ok());
  auto events = flushed();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(starts(events[0]));
}

}  // namespace
}  // namespace tern
