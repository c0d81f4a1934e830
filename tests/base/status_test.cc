#include "tern/base/status.h"

#include <gtest/gtest.h>

#include <string>

namespace tern {
namespace {

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  Status st;
  EXPECT_TRUE(st.is_ok());
  EXPECT_TRUE(static_cast<bool>(st));
  EXPECT_EQ(st.code(), StatusCode::kOk);
  EXPECT_EQ(st.to_string(), "ok");
  EXPECT_TRUE(Status::ok().is_ok());
}

TEST(StatusTest, EachFactoryGivesItsCodeMessageAndName) {
  struct Case {
    Status status;
    StatusCode code;
    const char* text;
  };
  const Case cases[] = {
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument, "invalid argument: m"},
      {Status::OutOfRange("m"), StatusCode::kOutOfRange, "out of range: m"},
      {Status::ResourceExhausted("m"), StatusCode::kResourceExhausted, "resource exhausted: m"},
      {Status::IOError("m"), StatusCode::kIOError, "I/O error: m"},
      {Status::FailedPrecondition("m"), StatusCode::kFailedPrecondition, "failed precondition: m"},
      {Status::Corruption("m"), StatusCode::kCorruption, "corruption: m"},
      {Status::Timeout("m"), StatusCode::kTimeout, "timeout: m"},
      {Status::Cancelled("m"), StatusCode::kCancelled, "cancelled: m"},
      {Status::PermissionDenied("m"), StatusCode::kPermissionDenied, "permission denied: m"},
      {Status::Unavailable("m"), StatusCode::kUnavailable, "unavailable: m"},
      {Status::Internal("m"), StatusCode::kInternal, "internal error: m"},
      {Status::NotFound("m"), StatusCode::kNotFound, "not found: m"},
      {Status::Aborted("m"), StatusCode::kAborted, "aborted: m"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_FALSE(c.status.is_ok());
    EXPECT_FALSE(static_cast<bool>(c.status));
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_TRUE(c.status == c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(c.status.to_string(), c.text);
  }
}

TEST(StatusTest, AnEmptyMessagePrintsOnlyTheCodeName) {
  EXPECT_EQ(Status::NotFound("").to_string(), "not found");
}

TEST(StatusTest, AnUnknownCodeHasAName) {
  EXPECT_STREQ(status_code_name(static_cast<StatusCode>(999)), "unknown");
}

TEST(ResultTest, HoldsAValueOrAFailure) {
  Result<std::string> good(std::string("v"));
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(*good, "v");
  EXPECT_EQ(good->size(), 1u);
  EXPECT_TRUE(good.status().is_ok());

  Result<std::string> bad(Status::NotFound("gone"));
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "gone");
}

}  // namespace
}  // namespace tern
