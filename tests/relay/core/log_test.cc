#include "tern/relay/log.h"

#include <gtest/gtest.h>

#include <vector>

namespace tern::relay {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_output([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    log::set_output({});
    log::set_level(log::Level::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, LineIsOneJsonObjectWithTsLevelMsgAndFields) {
  log::warn("sink failed", {{"sink", "kafka"}, {"attempt", 3}, {"ok", false}, {"ratio", 0.5}});
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& l = lines_[0];
  EXPECT_EQ(l.rfind("{\"ts\":\"", 0), 0u) << l;
  EXPECT_NE(
      l.find("Z\",\"level\":\"warn\",\"msg\":\"sink failed\",\"sink\":\"kafka\",\"attempt\":3,"
             "\"ok\":false,\"ratio\":0.5}\n"),
      std::string::npos)
      << l;
}

TEST_F(LogTest, StringsAreEscaped) {
  log::error("bad \"quote\"\n", {{"path", "C:\\x"}, {"ctl", std::string("\x01", 1)}});
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find(R"("msg":"bad \"quote\"\n","path":"C:\\x","ctl":"\u0001"})"),
            std::string::npos)
      << lines_[0];
}

TEST_F(LogTest, LinesBelowTheLevelAreDropped) {
  log::set_level(log::Level::kWarn);
  log::info("quiet");
  log::debug("quieter");
  log::error("loud");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("\"loud\""), std::string::npos);
}

TEST(LogLevelTest, ParsesNames) {
  log::Level l{};
  EXPECT_TRUE(log::parse_level("warning", &l));
  EXPECT_EQ(l, log::Level::kWarn);
  EXPECT_TRUE(log::parse_level("debug", &l));
  EXPECT_EQ(l, log::Level::kDebug);
  EXPECT_FALSE(log::parse_level("verbose", &l));
}

}  // namespace
}  // namespace tern::relay
