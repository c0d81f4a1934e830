// flush_async: the callback comes exactly once, on the worker thread, with
// what happened to the events queued when it was called.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "sdk_fixture.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::SdkFixture;
using testing::wait_until;

class FlushAsyncTest : public SdkFixture {
 protected:
  // Records every callback: its result and the thread it ran on.
  struct Calls {
    std::mutex mu;
    std::vector<FlushResult> results;
    std::vector<std::thread::id> threads;
    std::function<void(FlushResult)> callback() {
      return [this](FlushResult r) {
        std::lock_guard<std::mutex> lock(mu);
        results.push_back(r);
        threads.push_back(std::this_thread::get_id());
      };
    }
    std::size_t count() {
      std::lock_guard<std::mutex> lock(mu);
      return results.size();
    }
  };
  Calls calls;
};

TEST_F(FlushAsyncTest, ResultNamesAreStable) {
  EXPECT_STREQ(flush_result_name(FlushResult::kSent), "sent");
  EXPECT_STREQ(flush_result_name(FlushResult::kTimedOut), "timed_out");
  EXPECT_STREQ(flush_result_name(FlushResult::kCancelled), "cancelled");
}

TEST_F(FlushAsyncTest, QueuedEventsAreSentAndTheCallbackRunsOnceOnTheWorker) {
  start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->track("e", {{"i", i}}).is_ok());
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.count() == 1; }));
  settle();
  ASSERT_TRUE(client->flush(5s).is_ok());
  settle();
  std::lock_guard<std::mutex> lock(calls.mu);
  ASSERT_EQ(calls.results.size(), 1u);
  EXPECT_EQ(calls.results[0], FlushResult::kSent);
  EXPECT_NE(calls.threads[0], std::this_thread::get_id());
  EXPECT_EQ(transport->delivered().size(), 3u);
  EXPECT_EQ(client->stats().background_flushes_sent, 1u);
}

TEST_F(FlushAsyncTest, AnEmptyQueueIsSentAtOnce) {
  start();
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.count() == 1; }));
  EXPECT_EQ(calls.results[0], FlushResult::kSent);
  EXPECT_EQ(transport->request_count(), 0u);
}

TEST_F(FlushAsyncTest, AFailingServerTimesOutAtTheDeadlineAndTheEventsStayQueued) {
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::http_status(503); });
  config.backoff_base = 1s;
  config.backoff_max = 2s;
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return client->stats().attempts >= 1; }));
  settle();
  EXPECT_EQ(calls.count(), 0u);
  for (int i = 0; i < 5; ++i) {  // retried until the deadline
    clock->advance(2s);
    settle();
  }
  EXPECT_EQ(calls.count(), 1u);
  EXPECT_GE(client->stats().attempts, 3u);
  EXPECT_EQ(calls.results[0], FlushResult::kTimedOut);
  EXPECT_EQ(client->stats().queue_depth, 1u);
  EXPECT_EQ(client->stats().background_flushes_timed_out, 1u);
}

TEST_F(FlushAsyncTest, ARetryThatSucceedsBeforeTheDeadlineIsSent) {
  transport->push(testing::network_error());
  config.backoff_base = 1s;
  config.backoff_max = 1s;
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return client->stats().attempts >= 1; }));
  settle();
  clock->advance(1s);
  ASSERT_TRUE(wait_until([&] { return calls.count() == 1; }));
  EXPECT_EQ(calls.results[0], FlushResult::kSent);
  EXPECT_EQ(transport->delivered().size(), 1u);
}

TEST_F(FlushAsyncTest, ShutdownCancelsWhatIsInFlight) {
  transport->set_responder(
      [](const std::vector<nlohmann::json>&) { return testing::http_status(503); });
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->flush_async(1h, calls.callback()).is_ok());
  ASSERT_TRUE(client->flush_async(1h, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return client->stats().attempts >= 1; }));
  ASSERT_TRUE(client->shutdown(5s).is_ok());
  ASSERT_EQ(calls.count(), 2u);
  EXPECT_EQ(calls.results[0], FlushResult::kCancelled);
  EXPECT_EQ(calls.results[1], FlushResult::kCancelled);
  EXPECT_EQ(client->stats().background_flushes_cancelled, 2u);
  // After shutdown nothing starts and the callback is never called.
  EXPECT_EQ(client->flush_async(1s, calls.callback()).code(), StatusCode::kCancelled);
  EXPECT_EQ(calls.count(), 2u);
}

TEST_F(FlushAsyncTest, OptedOutOrWithoutConsentItIsCancelled) {
  start();
  ASSERT_TRUE(client->track("e").is_ok());
  ASSERT_TRUE(client->set_opt_out(true).is_ok());
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.count() == 1; }));
  EXPECT_EQ(calls.results[0], FlushResult::kCancelled);
  ASSERT_TRUE(client->set_opt_out(false).is_ok());
  ASSERT_TRUE(client->set_consent(Consent::kUnknown).is_ok());
  ASSERT_TRUE(client->flush_async(10s, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.count() == 2; }));
  EXPECT_EQ(calls.results[1], FlushResult::kCancelled);
  EXPECT_EQ(transport->request_count(), 0u);
}

TEST_F(FlushAsyncTest, BadArgumentsAreRefusedAndNeverCalledBack) {
  start();
  EXPECT_EQ(client->flush_async(1s, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->flush_async(-1ms, calls.callback()).code(), StatusCode::kInvalidArgument);
  settle();
  EXPECT_EQ(calls.count(), 0u);
}

TEST_F(FlushAsyncTest, TheCallerNeverWaitsForAnUploadInFlight) {
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
  ASSERT_TRUE(client->flush_async(1h, calls.callback()).is_ok());
  ASSERT_TRUE(wait_until([&] { return in_flight.load() == 1; }));
  // The worker is stuck in send(): these return at once all the same.
  ASSERT_TRUE(client->track("second").is_ok());
  ASSERT_TRUE(client->flush_async(1h, calls.callback()).is_ok());
  EXPECT_EQ(calls.count(), 0u);
  release.set_value();
  ASSERT_TRUE(wait_until([&] { return calls.count() == 2; }));
  EXPECT_EQ(calls.results[0], FlushResult::kSent);
  EXPECT_EQ(calls.results[1], FlushResult::kSent);
  EXPECT_EQ(transport->delivered().size(), 2u);
}

}  // namespace
}  // namespace tern
