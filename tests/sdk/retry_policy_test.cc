#include "retry_policy.h"

#include <gtest/gtest.h>

#include "tern/transport.h"

namespace tern {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicyTest, ClassifiesStatuses) {
  EXPECT_EQ(classify_http_status(200), UploadVerdict::kSuccess);
  EXPECT_EQ(classify_http_status(204), UploadVerdict::kSuccess);
  EXPECT_EQ(classify_http_status(400), UploadVerdict::kBisect);
  EXPECT_EQ(classify_http_status(413), UploadVerdict::kBisect);
  for (int s : {0, 408, 429, 500, 502, 503, 504})
    EXPECT_EQ(classify_http_status(s), UploadVerdict::kRetry) << s;
}

TEST(RetryPolicyTest, CeilingDoublesFromHalfASecondToFiveMinutes) {
  RetryPolicy p(milliseconds(500), milliseconds(300'000));
  EXPECT_EQ(p.ceiling(1), milliseconds(500));
  EXPECT_EQ(p.ceiling(2), milliseconds(1000));
  EXPECT_EQ(p.ceiling(3), milliseconds(2000));
  EXPECT_EQ(p.ceiling(10), milliseconds(256'000));
  EXPECT_EQ(p.ceiling(11), milliseconds(300'000));
  EXPECT_EQ(p.ceiling(1000), milliseconds(300'000));
}

TEST(RetryPolicyTest, FullJitterSpansZeroToTheCeiling) {
  RetryPolicy p(milliseconds(500), milliseconds(300'000));
  EXPECT_EQ(p.jittered(3, 0), milliseconds(0));
  EXPECT_EQ(p.jittered(3, 2000), milliseconds(2000));
  EXPECT_EQ(p.jittered(3, 2001), milliseconds(0));
  for (uint64_t r = 0; r < 100000; r += 997) EXPECT_LE(p.jittered(4, r * 7919), milliseconds(4000));
}

TEST(RetryPolicyTest, FailuresScheduleTheNextAttemptAndSuccessResets) {
  RetryPolicy p(milliseconds(500), milliseconds(300'000));
  auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  EXPECT_TRUE(p.may_attempt(t0));
  auto d1 = p.on_failure(t0, std::nullopt, 400);
  EXPECT_EQ(d1, milliseconds(400));
  EXPECT_FALSE(p.may_attempt(t0 + milliseconds(399)));
  EXPECT_TRUE(p.may_attempt(t0 + milliseconds(400)));
  auto d2 = p.on_failure(t0, std::nullopt, 1000);
  EXPECT_EQ(d2, milliseconds(1000));
  EXPECT_EQ(p.consecutive_failures(), 2);
  p.on_success();
  EXPECT_EQ(p.consecutive_failures(), 0);
  EXPECT_EQ(p.on_failure(t0, std::nullopt, 10'000), milliseconds(10'000 % 501));
}

TEST(RetryPolicyTest, RetryAfterReplacesTheDrawnDelay) {
  RetryPolicy p(milliseconds(500), milliseconds(300'000));
  auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  EXPECT_EQ(p.on_failure(t0, milliseconds(30'000), 0), milliseconds(30'000));
  EXPECT_FALSE(p.may_attempt(t0 + milliseconds(29'999)));
  EXPECT_TRUE(p.may_attempt(t0 + milliseconds(30'000)));
  EXPECT_EQ(p.on_failure(t0, milliseconds(-5), 0), milliseconds(0));
  EXPECT_EQ(p.on_failure(t0, std::chrono::hours(1000), 0), RetryPolicy::kMaxRetryAfter);
}

TEST(RetryAfterParsingTest, AcceptsSecondsAndHttpDates) {
  auto now =
      std::chrono::system_clock::from_time_t(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(parse_retry_after("120", now), std::chrono::milliseconds(120'000));
  EXPECT_EQ(parse_retry_after(" 0 ", now), std::chrono::milliseconds(0));
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now),
            std::chrono::milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), std::chrono::milliseconds(0));
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
}

TEST(RetryAfterParsingTest, AcceptsTheObsoleteHttpDateFormsAndRefusesBrokenDates) {
  auto now =
      std::chrono::system_clock::from_time_t(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(parse_retry_after("Tuesday, 14-Nov-23 22:13:50 GMT", now),
            std::chrono::milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Tue Nov 14 22:13:50 2023", now), std::chrono::milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Wed, 15 Nov 2023 22:13:20 GMT", now),
            std::chrono::milliseconds(86'400'000));
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", now),
            std::chrono::milliseconds((1'709'164'800LL - 1'700'000'000LL) * 1000));
  // No zone: taken as GMT, as curl_getdate did before the parser was Tern's own.
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50", now), std::chrono::milliseconds(30'000));
  EXPECT_EQ(parse_retry_after("Tue, 14 Foo 2023 22:13:50 GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 25:13:50 GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
}

}  // namespace
}  // namespace tern
