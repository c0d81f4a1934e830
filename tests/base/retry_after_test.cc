#include "tern/base/retry_after.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace tern::base {
namespace {

using std::chrono::milliseconds;

// Tue, 14 Nov 2023 22:13:20 GMT
const auto kNow = std::chrono::system_clock::from_time_t(1'700'000'000);

TEST(RetryAfterTest, ParsesSecondsDatesAndRefusesGarbage) {
  struct Case {
    const char* value;
    std::optional<milliseconds> wait;
  };
  const Case cases[] = {
      {"120", milliseconds(120'000)},
      {" 0 ", milliseconds(0)},
      {"\t7\r\n", milliseconds(7'000)},
      {"999999999", milliseconds(999'999'999'000)},
      {"9999999999", std::chrono::hours(24 * 365)},               // absurd: a year
      {"Tue, 14 Nov 2023 22:13:50 GMT", milliseconds(30'000)},    // IMF-fixdate
      {"Tuesday, 14-Nov-23 22:13:50 GMT", milliseconds(30'000)},  // RFC 850
      {"Tue Nov 14 22:13:50 2023", milliseconds(30'000)},         // asctime
      {"Wed, 15 Nov 2023 00:00:00 GMT", milliseconds(6'400'000)},
      {"Tue, 14 Nov 2023 22:00:00 GMT", milliseconds(0)},  // in the past
      {"Thu, 01 Jan 1970 00:00:00 GMT", milliseconds(0)},
      {"", std::nullopt},
      {"   ", std::nullopt},
      {"soon", std::nullopt},
      {"-5", std::nullopt},
      {"1.5", std::nullopt},
      {"12 seconds", std::nullopt},
      {"Tue, 31 Nov 2023 22:13:50 GMT", std::nullopt},  // no such day
      {"Tue, 14 Nov 2023 25:13:50 GMT", std::nullopt},  // no such hour
      {"Tue, 14 Nov 2023 GMT", std::nullopt},           // no time
      {"Tue, 14 Foo 2023 22:13:50 GMT", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_retry_after(c.value, kNow), c.wait) << '"' << c.value << '"';
  }
}

TEST(RetryAfterTest, FindsTheHeaderInARawHeaderLine) {
  struct Case {
    const char* line;
    std::optional<std::string> value;
  };
  const Case cases[] = {
      {"Retry-After: 120\r\n", "120"},
      {"retry-after:5", "5"},
      {"RETRY-AFTER: \t Tue, 14 Nov 2023 22:13:50 GMT \r\n", "Tue, 14 Nov 2023 22:13:50 GMT"},
      {"Retry-After:\r\n", ""},
      {"Retry-Afterwards: 1\r\n", std::nullopt},
      {"Content-Type: application/json\r\n", std::nullopt},
      {"HTTP/1.1 503 Service Unavailable\r\n", std::nullopt},
      {"Retry", std::nullopt},
  };
  for (const Case& c : cases) {
    auto v = retry_after_header(c.line);
    EXPECT_EQ(v ? std::optional<std::string>(std::string(*v)) : std::nullopt, c.value) << c.line;
  }
}

}  // namespace
}  // namespace tern::base
