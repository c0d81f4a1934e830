// Client over the fakes: MemoryStore, ScriptedTransport, ManualClock. Time
// only moves when a test advances the clock, so backoff costs no wall time.
#include "tern/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "fakes.h"
#include "sdk_fixture.h"
#include "tern/base/iso8601.h"
#include "text.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::CapturingLogger;
using testing::FunctionPlugin;
using testing::ManualClock;
using testing::MemoryStore;
using testing::ScriptedTransport;
using testing::StaticContextProvider;
using testing::wait_until;

// The SDK fixture (sdk_fixture.h) with a fuller context: an OS version and
// an app name for the context tests to find.
class ClientTest : public testing::SdkFixture {
 protected:
  ClientTest() {
    config.context_provider = std::make_shared<StaticContextProvider>(
        R"({"os":{"name":"TestOS","version":"1.0"},"app":{"name":"unit"},"locale":"fr-FR"})");
  }

  Stats stats() const { return client->stats(); }
};

TEST_F(ClientTest, CreateRejectsMissingWriteKeyAndBadLimits) {
  config.write_key.clear();
  EXPECT_EQ(Client::create(config).status().code(), StatusCode::kInvalidArgument);
  config.write_key = "wk";
  config.max_batch_bytes = 1000;  // smaller than one max-size event
  EXPECT_EQ(Client::create(config).status().code(), StatusCode::kInvalidArgument);
  config.max_batch_bytes = 500 * 1024;
  config.store = nullptr;
  config.storage_path.clear();
  auto r = Client::create(config);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("storage_path"), std::string::npos);
}

#if TERN_TEST_NO_DEFAULT_TRANSPORT
// A TERN_TRANSPORT=none build (the mobile one) has no transport of its own.
TEST_F(ClientTest, WithoutADefaultTransportCreateAsksForOne) {
  config.transport = nullptr;
  auto r = Client::create(config);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Config::transport"), std::string::npos)
      << r.status().to_string();
}
#endif

TEST_F(ClientTest, DefaultsMatchTheDesign) {
  Config d;
  EXPECT_EQ(d.flush_at, 20u);
  EXPECT_EQ(d.flush_interval, 30s);
  EXPECT_EQ(d.max_event_bytes, 32u * 1024);
  EXPECT_EQ(d.max_batch_bytes, 500u * 1024);
  EXPECT_EQ(d.max_queue_events, 10000u);
  EXPECT_EQ(d.max_queue_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(d.max_event_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(d.commit_window, 20ms);
  EXPECT_EQ(d.commit_max_events, 256u);
  EXPECT_EQ(d.backoff_base, 500ms);
  EXPECT_EQ(d.backoff_max, 300s);
  EXPECT_EQ(d.max_batch_age, std::chrono::hours(12));
  EXPECT_EQ(d.max_attempts, 100);
  EXPECT_TRUE(d.gzip);
}

TEST_F(ClientTest, TrackedEventArrivesWithEverySegmentField) {
  start();
  ASSERT_TRUE(client->track("Order Completed", {{"total", 42.5}, {"items", {1, 2}}}).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto reqs = transport->requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& req = reqs[0].request;
  EXPECT_EQ(req.url, "https://collector.example/v1/batch");
  EXPECT_EQ(req.write_key, "wk");
  EXPECT_TRUE(req.gzip);
  auto body = nlohmann::json::parse(reqs[0].body);
  EXPECT_TRUE(testing::is_iso8601_ms(body["sentAt"].get<std::string>()));
  ASSERT_EQ(body["batch"].size(), 1u);
  const auto& e = body["batch"][0];
  EXPECT_EQ(e["type"], "track");
  EXPECT_EQ(e["event"], "Order Completed");
  EXPECT_EQ(e["properties"]["total"], 42.5);
  EXPECT_EQ(e["properties"]["items"], nlohmann::json({1, 2}));
  EXPECT_TRUE(testing::is_uuid(e["messageId"].get<std::string>(), '7')) << e["messageId"];
  EXPECT_TRUE(testing::is_iso8601_ms(e["timestamp"].get<std::string>()));
  EXPECT_EQ(e["timestamp"], base::format_iso8601_ms(clock->wall()));
  EXPECT_EQ(e["anonymousId"], client->anonymous_id());
  EXPECT_TRUE(testing::is_uuid(client->anonymous_id(), '4'));
  EXPECT_FALSE(e.contains("userId"));
  EXPECT_EQ(e["context"]["library"]["name"], "tern-cpp");
  EXPECT_EQ(e["context"]["library"]["version"], "0.1.0");
  EXPECT_EQ(e["context"]["os"]["name"], "TestOS");
  EXPECT_EQ(e["context"]["locale"], "fr-FR");
  auto s = stats();
  EXPECT_EQ(s.enqueued, 1u);
  EXPECT_EQ(s.stored, 1u);
  EXPECT_EQ(s.sent, 1u);
  EXPECT_EQ(s.batches_sent, 1u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_GT(s.bytes_sent, 0u);
}

TEST_F(ClientTest, EveryEventTypeCarriesItsOwnFields) {
  start();
  EventOptions opts;
  opts.integrations = {{"All", false}};
  opts.context = {{"ip", "10.0.0.1"}, {"locale", "de-DE"}};
  opts.timestamp =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'000));
  ASSERT_TRUE(client->identify("user-1", {{"plan", "pro"}}).is_ok());
  ASSERT_TRUE(client->screen("Home", {{"tab", 2}}, opts).is_ok());
  ASSERT_TRUE(client->page("Pricing").is_ok());
  ASSERT_TRUE(client->group("org-9", {{"name", "Acme"}}).is_ok());
  ASSERT_TRUE(client->alias("member-1").is_ok());
  ASSERT_TRUE(client->track("After Alias").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto events = transport->delivered();
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0]["type"], "identify");
  EXPECT_EQ(events[0]["userId"], "user-1");
  EXPECT_EQ(events[0]["traits"]["plan"], "pro");
  EXPECT_EQ(events[1]["type"], "screen");
  EXPECT_EQ(events[1]["name"], "Home");
  EXPECT_EQ(events[1]["userId"], "user-1");
  EXPECT_EQ(events[1]["integrations"]["All"], false);
  EXPECT_EQ(events[1]["context"]["ip"], "10.0.0.1");
  EXPECT_EQ(events[1]["context"]["locale"], "de-DE");
  EXPECT_EQ(events[1]["context"]["library"]["name"], "tern-cpp");
  EXPECT_EQ(events[1]["timestamp"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(events[2]["type"], "page");
  EXPECT_EQ(events[2]["name"], "Pricing");
  EXPECT_EQ(events[3]["type"], "group");
  EXPECT_EQ(events[3]["groupId"], "org-9");
  EXPECT_EQ(events[3]["traits"]["name"], "Acme");
  EXPECT_EQ(events[4]["type"], "alias");
  EXPECT_EQ(events[4]["userId"], "member-1");
  EXPECT_EQ(events[4]["previousId"], "user-1");
  EXPECT_EQ(events[5]["userId"], "member-1");
  EXPECT_EQ(client->user_id(), "member-1");
  for (const auto& e : events) EXPECT_EQ(e["anonymousId"], client->anonymous_id());
}

TEST_F(ClientTest, BadEventsAreRejectedWithAClearStatusAndCounted) {
  start();
  EXPECT_EQ(client->track("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->track("bad \xff name").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->track("x", nlohmann::json::array({1, 2})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->track("x", {{"s", "\xc3"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->screen("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->group("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->alias("").code(), StatusCode::kInvalidArgument);
  RawMessage m;
  m.event = "raw";
  m.properties_json = "{\"a\":";
  EXPECT_EQ(client->enqueue(m).code(), StatusCode::kInvalidArgument);
  m.properties_json = "[1]";
  EXPECT_EQ(client->enqueue(m).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(stats().dropped_for(DropReason::kInvalid), 9u);
  EXPECT_EQ(stats().enqueued, 0u);
  EXPECT_TRUE(logger->contains("UTF-8"));
}

TEST_F(ClientTest, OversizedEventIsRejectedAsTooLarge) {
  config.max_event_bytes = 1024;
  config.max_batch_bytes = 64 * 1024;
  start();
  Status s = client->track("big", {{"blob", std::string(2000, 'x')}});
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("max_event_bytes"), std::string::npos);
  EXPECT_EQ(stats().dropped_for(DropReason::kTooLarge), 1u);
  EXPECT_TRUE(client->track("small", {{"blob", "x"}}).is_ok());
}

TEST_F(ClientTest, RawMessagePathKeepsTheCallersJsonText) {
  start();
  RawMessage m;
  m.type = MessageType::kTrack;
  m.event = "Raw Event";
  m.properties_json = R"({"nested":{"k":[1,2,3]},"unicode":"caf\u00e9"})";
  m.integrations_json = R"({"Mixpanel":true})";
  m.context_json = R"({"app":{"name":"override"}})";
  ASSERT_TRUE(client->enqueue(m).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto e = transport->delivered().at(0);
  EXPECT_EQ(e["properties"]["nested"]["k"][2], 3);
  EXPECT_EQ(e["properties"]["unicode"], "caf\xc3\xa9");
  EXPECT_EQ(e["integrations"]["Mixpanel"], true);
  EXPECT_EQ(e["context"]["app"]["name"], "override");
  EXPECT_EQ(e["context"]["os"]["name"], "TestOS");
}

TEST_F(ClientTest, GroupCommitWaitsForTheWindowOrTheEventCount) {
  config.commit_max_events = 5;
  start();
  ASSERT_TRUE(client->track("one").is_ok());
  settle();  // the window is open; only the clock closes it
  EXPECT_EQ(stats().stored, 0u);
  EXPECT_EQ(stats().pending, 1u);
  clock->advance(20ms);
  ASSERT_TRUE(wait_until([&] { return stats().stored == 1; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->track("burst").is_ok());
  ASSERT_TRUE(wait_until([&] { return stats().stored == 6; }));  // count reached: no clock needed
}

TEST_F(ClientTest, ImmediateDurabilityCommitsBeforeTrackReturns) {
  config.durability = Durability::kImmediate;
  start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->track("durable").is_ok());
    EXPECT_EQ(store->count(), static_cast<uint64_t>(i + 1));
  }
}

TEST_F(ClientTest, ImmediateDurabilityStillEnforcesTheQueueCaps) {
  config.durability = Durability::kImmediate;
  config.default_consent = Consent::kUnknown;
  config.max_queue_events = 3;
  start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->track("e", {{"i", i}}).is_ok());
  ASSERT_TRUE(wait_until([&] { return stats().dropped_for(DropReason::kCapEvents) == 2; }));
  EXPECT_EQ(stats().queue_depth, 3u);
  EXPECT_EQ(nlohmann::json::parse(store->all().front().body)["properties"]["i"], 2);
}

TEST_F(ClientTest, FullHandOffQueueDropsTheNewEventWithoutBlocking) {
  config.max_pending_events = 3;
  config.commit_max_events = 100;
  start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->track("fits").is_ok());
  EXPECT_EQ(client->track("overflow").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(stats().dropped_for(DropReason::kQueueFull), 1u);
}

TEST_F(ClientTest, StorageFailureIsACountedDropAndTheHostSurvives) {
  start();
  store->fail_appends(true);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->track("lost").is_ok());
  commit();
  EXPECT_EQ(stats().dropped_for(DropReason::kStorageError), 4u);
  EXPECT_TRUE(logger->contains("could not store"));
  store->fail_appends(false);
  ASSERT_TRUE(client->track("kept").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 1u);
}

TEST_F(ClientTest, ImmediateDurabilityReportsStorageFailureToTheCaller) {
  config.durability = Durability::kImmediate;
  start();
  store->fail_appends(true);
  EXPECT_EQ(client->track("x").code(), StatusCode::kIOError);
  EXPECT_EQ(stats().dropped_for(DropReason::kStorageError), 1u);
}

TEST_F(ClientTest, UploadsStartAtFlushAtEvents) {
  config.flush_at = 5;
  start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->track("e").is_ok());
  commit();
  EXPECT_EQ(transport->request_count(), 0u);
  ASSERT_TRUE(client->track("fifth").is_ok());
  commit();
  ASSERT_TRUE(wait_until([&] { return transport->delivered().size() == 5; }));
}

TEST_F(ClientTest, UploadsStartAfterTheFlushInterval) {
  config.flush_interval = 30s;
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  commit();
  clock->advance(29s);
  settle();
  EXPECT_EQ(transport->request_count(), 0u);
  clock->advance(1s);
  ASSERT_TRUE(wait_until([&] { return transport->delivered().size() == 1; }));
}

TEST_F(ClientTest, BatchesRespectTheEventAndByteLimits) {
  config.max_batch_events = 4;
  start();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->track("e", {{"i", i}}).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto reqs = transport->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].events.size(), 4u);
  EXPECT_EQ(reqs[2].events.size(), 2u);
  int i = 0;
  for (const auto& e : transport->delivered()) EXPECT_EQ(e["properties"]["i"], i++);  // in order
}

TEST_F(ClientTest, NetworkErrorBacksOffAndNewEventsDoNotCutItShort) {
  config.backoff_base = 10s;
  config.backoff_max = 10s;
  config.flush_at = 20;
  // The 30 new events commit by count: advancing the clock by the commit
  // window could step past a jittered delay (anywhere in 0..10 s).
  config.commit_max_events = 30;
  start();
  transport->push(testing::network_error(), 1);
  ASSERT_TRUE(client->track("e").is_ok());
  Status f = client->flush(5s);
  EXPECT_EQ(f.code(), StatusCode::kUnavailable);
  EXPECT_NE(f.message().find("connection refused"), std::string::npos);
  EXPECT_EQ(stats().retried, 1u);
  EXPECT_EQ(stats().queue_depth, 1u);  // kept for the retry
  // New events, even past flush_at, wait for the backoff.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client->track("more").is_ok());
  ASSERT_TRUE(wait_until([&] { return stats().pending == 0; }));
  settle();
  EXPECT_EQ(transport->request_count(), 1u);
  clock->advance(10s);  // past any jittered delay (ceiling 10 s)
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 31u);
  EXPECT_EQ(stats().sent, 31u);
}

TEST_F(ClientTest, RetryAfterHoldsThePipelineForItsWholeDuration) {
  HttpResponse busy = testing::http_status(503);
  busy.retry_after = 120s;
  transport->push(busy, 1);
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  EXPECT_EQ(client->flush(5s).code(), StatusCode::kUnavailable);
  clock->advance(119s);
  ASSERT_TRUE(client->track("f").is_ok());
  commit();
  EXPECT_EQ(transport->request_count(), 1u);
  EXPECT_EQ(client->flush(30ms).code(),
            StatusCode::kTimeout);  // flush does not cut it short either
  clock->advance(1s);
  ASSERT_TRUE(wait_until([&] { return transport->delivered().size() == 2; }));
  auto reqs = transport->requests();
  ASSERT_EQ(reqs.size(), 3u);  // the failed batch is resent as it was, then the new event
  EXPECT_EQ(reqs[1].events.at(0)["messageId"], reqs[0].events.at(0)["messageId"]);
}

TEST_F(ClientTest, BackoffDelaysGrowAndStayWithinTheCeiling) {
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::http_status(500); });
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  commit();
  clock->advance(config.flush_interval);
  // The n-th retry may not come before 0 and must come by min(300 s, 0.5 s * 2^(n-1)):
  // once the worker has set its deadline after failure n, advancing by that
  // ceiling must bring at least one more attempt. (A jittered delay of 0
  // retries at once, so one step may bring two.)
  settle();
  std::size_t failures = transport->request_count();
  ASSERT_GE(failures, 1u);
  while (failures <= 12) {
    auto ceiling = std::min<int64_t>(300'000, 500LL << (failures - 1));
    clock->advance(std::chrono::milliseconds(ceiling));
    settle();
    std::size_t now_failed = transport->request_count();
    ASSERT_GT(now_failed, failures)
        << "no retry within " << ceiling << " ms after failure " << failures;
    failures = now_failed;
  }
  EXPECT_EQ(stats().retried, failures);
  EXPECT_GE(stats().retried, 13u);
  EXPECT_EQ(stats().dropped, 0u);
}

TEST_F(ClientTest, BisectionDropsExactlyThePoisonEvent) {
  transport->set_responder([](const std::vector<nlohmann::json>& batch) {
    for (const auto& e : batch) {
      if (e["event"] == "poison") return testing::http_status(400, R"({"error":"bad event"})");
    }
    return testing::http_status(200);
  });
  start();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client->track(i == 13 ? "poison" : "good", {{"i", i}}).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto delivered = transport->delivered();
  ASSERT_EQ(delivered.size(), 19u);
  for (const auto& e : delivered) EXPECT_EQ(e["event"], "good");
  auto s = stats();
  EXPECT_EQ(s.sent, 19u);
  EXPECT_EQ(s.dropped_for(DropReason::kServerRejected), 1u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(s.retried, 0u);  // bisection is not backoff
  EXPECT_LE(transport->request_count(), 12u);
}

TEST_F(ClientTest, PayloadTooLargeIsBisectedToo) {
  transport->set_responder([](const std::vector<nlohmann::json>& batch) {
    return batch.size() > 2 ? testing::http_status(413) : testing::http_status(200);
  });
  start();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 8u);
  EXPECT_EQ(stats().dropped, 0u);
}

TEST_F(ClientTest, EventsTheServerListsAsRejectedAreCountedAndTheRestSent) {
  transport->push(testing::http_status(
      200, R"({"rejected":[{"index":1,"reason":"bad"},{"index":3,"reason":"worse"}]})"));
  start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto s = stats();
  EXPECT_EQ(s.sent, 3u);
  EXPECT_EQ(s.dropped_for(DropReason::kServerRejected), 2u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(transport->request_count(), 1u);  // not sent again
}

TEST_F(ClientTest, MalformedRejectionBodyIsTreatedAsAllSent) {
  transport->push(testing::http_status(200, R"({"rejected":"nope", "x": [)"));
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(stats().sent, 1u);
}

TEST_F(ClientTest, BatchPastMaxAttemptsIsDroppedAsRetryBudget) {
  config.max_attempts = 3;
  // Only the attempt budget is under test: the loop below advances the clock
  // faster than a slow worker (qemu) retries, which must not age the batch out.
  config.max_batch_age = std::chrono::hours(24 * 365);
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::network_error(); });
  start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->track("e").is_ok());
  commit();
  ASSERT_TRUE(wait_until([&] {
    clock->advance(301s);
    return stats().dropped_for(DropReason::kRetryBudget) == 5;
  }));
  EXPECT_EQ(transport->request_count(), 3u);
  EXPECT_EQ(stats().queue_depth, 0u);
  EXPECT_TRUE(logger->contains("retry budget"));
}

TEST_F(ClientTest, BatchPastMaxAgeIsDroppedAsRetryBudget) {
  config.max_batch_age = std::chrono::hours(1);
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::http_status(503); });
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  EXPECT_EQ(client->flush(5s).code(), StatusCode::kUnavailable);
  clock->advance(std::chrono::minutes(61));
  ASSERT_TRUE(wait_until([&] { return stats().dropped_for(DropReason::kRetryBudget) == 1; }));
  EXPECT_EQ(transport->request_count(), 1u);
}

TEST_F(ClientTest, UnknownConsentBuffersAndGrantedSends) {
  config.default_consent = Consent::kUnknown;
  start();
  EXPECT_EQ(client->consent(), Consent::kUnknown);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->track("e").is_ok());
  EXPECT_EQ(client->flush(5s).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(transport->request_count(), 0u);
  EXPECT_EQ(stats().queue_depth, 3u);
  ASSERT_TRUE(client->set_consent(Consent::kGranted).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 3u);
}

TEST_F(ClientTest, DeniedConsentPurgesTheQueueAndRefusesNewEvents) {
  config.default_consent = Consent::kUnknown;
  start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->track("e").is_ok());
  commit();
  ASSERT_TRUE(client->track("pending").is_ok());
  ASSERT_TRUE(client->set_consent(Consent::kDenied).is_ok());
  EXPECT_EQ(stats().queue_depth, 0u);
  EXPECT_EQ(stats().dropped_for(DropReason::kConsentDenied), 5u);
  EXPECT_EQ(client->track("after").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(stats().dropped_for(DropReason::kConsentDenied), 6u);
  EXPECT_EQ(transport->request_count(), 0u);
  // Persisted: a new client on the same store starts denied.
  client.reset();
  start();
  EXPECT_EQ(client->consent(), Consent::kDenied);
}

TEST_F(ClientTest, OptOutRefusesEventsKeepsTheQueueAndIsPersisted) {
  start();
  ASSERT_TRUE(client->track("before").is_ok());
  commit();
  ASSERT_TRUE(client->set_opt_out(true).is_ok());
  EXPECT_TRUE(client->opted_out());
  EXPECT_EQ(client->track("during").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(stats().dropped_for(DropReason::kOptOut), 1u);
  EXPECT_EQ(client->flush(5s).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(stats().queue_depth, 1u);
  client.reset();
  start();
  EXPECT_TRUE(client->opted_out());
  ASSERT_TRUE(client->set_opt_out(false).is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  ASSERT_EQ(transport->delivered().size(), 1u);
  EXPECT_EQ(transport->delivered()[0]["event"], "before");
}

TEST_F(ClientTest, IdentitySurvivesRestartAndResetStartsAFreshOne) {
  start();
  std::string anon = client->anonymous_id();
  ASSERT_TRUE(client->identify("u-1", {{"plan", "pro"}}).is_ok());
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  client.reset();
  start();
  EXPECT_EQ(client->anonymous_id(), anon);
  EXPECT_EQ(client->user_id(), "u-1");
  client->reset();
  EXPECT_EQ(client->user_id(), "");
  EXPECT_NE(client->anonymous_id(), anon);
  std::string fresh = client->anonymous_id();
  ASSERT_TRUE(client->track("after reset").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto last = transport->delivered().back();
  EXPECT_EQ(last["anonymousId"], fresh);
  EXPECT_FALSE(last.contains("userId"));
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  client.reset();
  start();
  EXPECT_EQ(client->anonymous_id(), fresh);
  EXPECT_EQ(client->user_id(), "");
}

TEST_F(ClientTest, PluginsEnrichAndDropEvents) {
  config.plugins.push_back(std::make_shared<FunctionPlugin>([](nlohmann::json& e) {
    e["properties"]["enriched"] = true;
    return true;
  }));
  config.plugins.push_back(
      std::make_shared<FunctionPlugin>([](nlohmann::json& e) { return e["event"] != "secret"; }));
  config.plugins.push_back(std::make_shared<FunctionPlugin>([](nlohmann::json& e) -> bool {
    if (e["event"] == "boom") throw std::runtime_error("plugin bug");
    return true;
  }));
  start();
  ASSERT_TRUE(client->track("visible", {{"a", 1}}).is_ok());
  EXPECT_FALSE(client->track("secret").is_ok());
  EXPECT_FALSE(client->track("boom").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto delivered = transport->delivered();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0]["properties"]["enriched"], true);
  EXPECT_EQ(stats().dropped_for(DropReason::kPlugin), 2u);
  EXPECT_TRUE(logger->contains("plugin threw"));
}

TEST_F(ClientTest, APluginThatReplacesTheEventCannotRemoveItsMessageIdOrType) {
  // Found by fuzz_c_api: tern_plugin_event_replace with an object built from
  // scratch sent events without a messageId, so the relay minted a new one on
  // every retry (duplicates downstream) and could not validate the type.
  std::vector<std::string> seen_ids;
  config.plugins.push_back(std::make_shared<FunctionPlugin>([&](nlohmann::json& e) {
    seen_ids.push_back(e["messageId"].get<std::string>());
    return true;
  }));
  config.plugins.push_back(std::make_shared<FunctionPlugin>([](nlohmann::json& e) {
    if (e["event"] == "own id") {
      e["messageId"] = "plugin-chosen-id";  // a valid value of its own is kept
      return true;
    }
    nlohmann::json replaced = {
        {"event", e["event"]}, {"anonymousId", "a1"}, {"type", 7}, {"properties", {{"r", 1}}}};
    if (e["event"] == "empty id") replaced["messageId"] = "";
    e = std::move(replaced);
    return true;
  }));
  start();
  ASSERT_TRUE(client->track("rebuilt").is_ok());
  ASSERT_TRUE(client->track("empty id").is_ok());
  ASSERT_TRUE(client->track("own id").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  auto delivered = transport->delivered();
  ASSERT_EQ(delivered.size(), 3u);
  ASSERT_EQ(seen_ids.size(), 3u);
  EXPECT_EQ(delivered[0]["messageId"], seen_ids[0]);
  EXPECT_EQ(delivered[0]["type"], "track");
  EXPECT_EQ(delivered[0]["properties"]["r"], 1);
  EXPECT_EQ(delivered[1]["messageId"], seen_ids[1]);
  EXPECT_EQ(delivered[2]["messageId"], "plugin-chosen-id");
  EXPECT_EQ(delivered[2]["type"], "track");
}

TEST_F(ClientTest, QueueCapsDropTheOldestAndCountByReason) {
  config.default_consent = Consent::kUnknown;
  config.max_queue_events = 10;
  start();
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(client->track("e", {{"i", i}}).is_ok());
  commit();
  EXPECT_EQ(stats().queue_depth, 10u);
  EXPECT_EQ(stats().dropped_for(DropReason::kCapEvents), 15u);
  auto kept = store->all();
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(nlohmann::json::parse(kept.front().body)["properties"]["i"], 15);
}

TEST_F(ClientTest, ByteCapDropsTheOldest) {
  config.default_consent = Consent::kUnknown;
  config.max_queue_bytes = 4000;
  start();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client->track("e", {{"pad", std::string(500, 'p')}}).is_ok());
  commit();
  EXPECT_LE(stats().queue_bytes, 4000u);
  EXPECT_GT(stats().dropped_for(DropReason::kCapBytes), 0u);
  EXPECT_EQ(stats().dropped_for(DropReason::kCapBytes) + stats().queue_depth, 20u);
}

TEST_F(ClientTest, EventsOlderThanMaxAgeAreDropped) {
  config.default_consent = Consent::kUnknown;
  start();
  ASSERT_TRUE(client->track("old").is_ok());
  commit();
  clock->advance(std::chrono::hours(24 * 7 + 1));
  ASSERT_TRUE(client->track("new").is_ok());
  commit();
  EXPECT_EQ(stats().dropped_for(DropReason::kCapAge), 1u);
  EXPECT_EQ(stats().queue_depth, 1u);
}

TEST_F(ClientTest, ShutdownStopsAcceptingAndIsIdempotent) {
  start();
  ASSERT_TRUE(client->track("last").is_ok());
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 1u);  // one last upload
  EXPECT_EQ(client->track("late").code(), StatusCode::kCancelled);
  EXPECT_EQ(stats().dropped_for(DropReason::kShutdown), 1u);
  EXPECT_EQ(client->flush(1s).code(), StatusCode::kCancelled);
  EXPECT_TRUE(client->shutdown(5s).is_ok());
}

TEST_F(ClientTest, ShutdownKeepsUnsentEventsOnDisk) {
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::http_status(503); });
  start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  EXPECT_EQ(store->count(), 3u);
}

TEST_F(ClientTest, StatsToJsonIsOneLineWithEveryDropReason) {
  start();
  EXPECT_FALSE(client->track("").is_ok());
  std::string line = stats().to_json();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["dropped"], 1);
  EXPECT_EQ(j["dropped_by_reason"]["invalid"], 1);
  EXPECT_EQ(j["dropped_by_reason"].size(), static_cast<std::size_t>(DropReason::kCount));
  const char* const keys[] = {"enqueued",
                              "stored",
                              "sent",
                              "retried",
                              "attempts",
                              "queue_depth",
                              "bytes_sent",
                              "corrupt_db_recoveries",
                              "pending",
                              "batches_sent",
                              "queue_bytes",
                              "lifecycle_events",
                              "sessions_started",
                              "settings_fetched",
                              "settings_not_modified",
                              "settings_failed",
                              "sampled_out",
                              "kill_switch_refused",
                              "background_flushes_sent",
                              "background_flushes_timed_out",
                              "background_flushes_cancelled"};
  for (const char* k : keys) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
}

TEST_F(ClientTest, TrackNeverWaitsForAnUploadInFlight) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> in_flight{0};
  transport->set_responder([&](const std::vector<nlohmann::json>&) {
    in_flight = 1;
    released.wait();  // the server hangs until the test lets it answer
    return testing::http_status(200);
  });
  start();
  ASSERT_TRUE(client->track("first").is_ok());
  commit();
  clock->advance(config.flush_interval);
  ASSERT_TRUE(wait_until([&] { return in_flight.load() == 1; }));
  // The worker is blocked in send(): the caller's thread still only enqueues.
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(client->track("during", {{"i", i}}).is_ok());
  EXPECT_EQ(stats().pending, 500u);
  EXPECT_EQ(stats().enqueued, 501u);
  release.set_value();
  ASSERT_TRUE(client->flush(5s).is_ok());
  EXPECT_EQ(transport->delivered().size(), 501u);
}

TEST_F(ClientTest, ConcurrentTrackersLoseNothing) {
  config.flush_at = 50;
  start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) ASSERT_TRUE(client->track("c", {{"t", t}, {"i", i}}).is_ok());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wait_until([&] {
    clock->advance(20ms);
    return client->flush(5s).is_ok() && stats().sent == 1000;
  }));
  std::set<std::string> ids;
  for (const auto& e : transport->delivered()) ids.insert(e["messageId"].get<std::string>());
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace tern
