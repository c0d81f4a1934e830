#include "tern/relay/sinks/stdout.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace tern::relay {
namespace {

TEST(StdoutSinkTest, WritesOneEventPerLine) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  SinkConfig c;
  c.name = "console";
  c.type = "stdout";
  c.settings["fd"] = std::to_string(fds[1]);
  Metrics m;
  auto sink = make_stdout_sink(c, SinkContext{"/tmp", &m});
  ASSERT_TRUE(sink.is_ok()) << sink.status().to_string();
  ASSERT_TRUE((*sink)->open().is_ok());
  std::string a = "{\"n\":1}", b = "{\"n\":\n2}";
  std::vector<SinkRecord> batch = {{1, "web", a}, {2, "web", b}};
  ASSERT_TRUE((*sink)->deliver(batch).status.is_ok());
  ::close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  EXPECT_EQ(out, "{\"n\":1}\n{\"n\": 2}\n");
}

TEST(StdoutSinkTest, UnknownSettingIsRefused) {
  SinkConfig c;
  c.name = "console";
  c.type = "stdout";
  c.settings["colour"] = "true";
  Metrics m;
  auto sink = make_stdout_sink(c, SinkContext{"/tmp", &m});
  ASSERT_FALSE(sink.is_ok());
  EXPECT_NE(sink.status().message().find("colour"), std::string::npos);
}

}  // namespace
}  // namespace tern::relay
