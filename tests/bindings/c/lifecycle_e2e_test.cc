// End to end: the C program tern-lifecycle-app (lifecycle_app.c, linked to
// libtern.so) launches, tracks, backgrounds and exits, then relaunches with a
// new build, against tern-relay (a child process on 127.0.0.1, port 0, temp
// data dir). Asserts what the relay's file sink holds: Application Installed,
// Opened, Backgrounded and Updated with Segment's properties, and the
// session ids the app reported.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "child_process.h"
#include "relay_process.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

fs::path make_temp_dir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("tern-lifecycle-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

// Every event line the file sink wrote under <data>/events, in file order.
std::vector<json> read_events(const fs::path& data_dir) {
  std::vector<fs::path> files;
  if (fs::exists(data_dir / "events")) {
    for (const auto& entry : fs::directory_iterator(data_dir / "events")) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<json> events;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) events.push_back(json::parse(line));
    }
  }
  return events;
}

// The events named `name`, in the order the relay wrote them.
std::vector<json> named(const std::vector<json>& events, const std::string& name) {
  std::vector<json> out;
  for (const json& e : events) {
    if (e.value("type", "") == "track" && e.value("event", "") == name) out.push_back(e);
  }
  return out;
}

// context.sessionId, or -1 when the event has none.
int64_t session_of(const json& e) {
  if (!e.contains("context") || !e["context"].contains("sessionId")) return -1;
  const json& id = e["context"]["sessionId"];
  return id.is_number_integer() ? id.get<int64_t>() : -2;
}

bool starts_session(const json& e) {
  return e.contains("context") && e["context"].value("sessionStart", false);
}

class LifecycleEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir(); }
  void TearDown() override {
    relay_.kill9();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // One run of the app; its "session <id>" line in *session.
  void run_app(const std::string& version, const std::string& build, int64_t* session) {
    tern::testing::ChildProcess app;
    tern::testing::ChildProcess::Options options;
    options.log_file = (dir_ / ("app-" + build + ".log")).string();
    options.pipe_stdout = true;
    ASSERT_TRUE(app.start(
        {TERN_LIFECYCLE_APP, "--endpoint", "http://" + relay_.address(), "--write-key", "e2e-key",
         "--db", (dir_ / "app.db").string(), "--version", version, "--build", build},
        options))
        << app.error();
    std::string line;
    std::vector<std::string> lines;
    while (app.read_line(60s, &line)) lines.push_back(line);
    ASSERT_EQ(app.wait(30s), 0) << "the app's output: " << ::testing::PrintToString(lines)
                                << "; its log: " << options.log_file;
    *session = 0;
    for (const std::string& l : lines) {
      if (l.rfind("session ", 0) == 0) *session = std::stoll(l.substr(8));
    }
    RecordProperty("run_" + build, ::testing::PrintToString(lines));
  }

  fs::path dir_;
  tern::testing::RelayProcess relay_;
};

TEST_F(LifecycleEndToEndTest, ALaunchAndARelaunchWithANewBuildReachTheFileSinkAsSegmentSpecifies) {
  const fs::path data = dir_ / "data";
  ASSERT_TRUE(relay_.start(
      {"--listen", "127.0.0.1:0", "--data-dir", data.string(), "--write-key", "e2e-key"},
      dir_ / "relay.log"))
      << relay_.error();

  int64_t first_session = 0;
  int64_t second_session = 0;
  ASSERT_NO_FATAL_FAILURE(run_app("1.0.0", "100", &first_session));
  ASSERT_NO_FATAL_FAILURE(run_app("1.1.0", "110", &second_session));
  ASSERT_GT(first_session, 0);
  ASSERT_EQ(relay_.terminate(), 0);  // drains; the file sink flushes

  const std::vector<json> events = read_events(data);
  const auto installed = named(events, "Application Installed");
  const auto updated = named(events, "Application Updated");
  const auto opened = named(events, "Application Opened");
  const auto backgrounded = named(events, "Application Backgrounded");
  const auto tracked = named(events, "E2E Tracked");
  ASSERT_EQ(installed.size(), 1u) << ::testing::PrintToString(events);
  ASSERT_EQ(updated.size(), 1u);
  ASSERT_EQ(opened.size(), 2u);
  ASSERT_EQ(backgrounded.size(), 2u);
  ASSERT_EQ(tracked.size(), 2u);
  EXPECT_EQ(events.size(), 8u) << "nothing else, nothing twice";

  // The first launch ever: Installed with the version and build.
  EXPECT_EQ(installed[0]["properties"]["version"], "1.0.0");
  EXPECT_EQ(installed[0]["properties"]["build"], "100");
  // The relaunch with a new build: Updated with the previous ones.
  EXPECT_EQ(updated[0]["properties"]["version"], "1.1.0");
  EXPECT_EQ(updated[0]["properties"]["build"], "110");
  EXPECT_EQ(updated[0]["properties"]["previous_version"], "1.0.0");
  EXPECT_EQ(updated[0]["properties"]["previous_build"], "100");
  // Each launch's first foreground: Opened, not from the background, with
  // the deep link and the referring app.
  for (std::size_t i = 0; i < opened.size(); ++i) {
    const json& p = opened[i]["properties"];
    EXPECT_EQ(p["from_background"], false) << i;
    EXPECT_EQ(p["url"], "myapp://e2e/welcome") << i;
    EXPECT_EQ(p["referring_application"], "com.example.mail") << i;
    EXPECT_EQ(p["build"], i == 0 ? "100" : "110") << i;
    EXPECT_EQ(p["version"], i == 0 ? "1.0.0" : "1.1.0") << i;
  }

  // Sessions: the first launch happens in the background (no session yet);
  // the first foreground starts one; the relaunch within the session timeout
  // continues it (the state is in the SDK's store), so every later event
  // carries the same id and only the first Opened starts a session.
  EXPECT_EQ(session_of(installed[0]), -1);
  EXPECT_EQ(session_of(opened[0]), first_session);
  EXPECT_TRUE(starts_session(opened[0]));
  EXPECT_EQ(session_of(tracked[0]), first_session);
  EXPECT_EQ(session_of(backgrounded[0]), first_session);
  EXPECT_EQ(second_session, first_session);
  EXPECT_EQ(session_of(updated[0]), first_session);
  EXPECT_EQ(session_of(opened[1]), first_session);
  EXPECT_EQ(session_of(tracked[1]), first_session);
  EXPECT_EQ(session_of(backgrounded[1]), first_session);
  int starts = 0;
  for (const json& e : events) starts += starts_session(e) ? 1 : 0;
  EXPECT_EQ(starts, 1);
  for (const json& e : events) {
    if (session_of(e) == -1) continue;
    EXPECT_TRUE(e["context"]["sessionId"].is_number_integer())
        << "sessionId is a number (ms since the epoch): " << e.dump();
  }
}

}  // namespace
