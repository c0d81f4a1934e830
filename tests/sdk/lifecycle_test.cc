// Application lifecycle: Installed / Updated / Opened / Backgrounded as a
// user sees them in the uploaded batches, across restarts and kills.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sdk_fixture.h"
#include "sqlite_store.h"

namespace tern {
namespace {

using namespace std::chrono_literals;
using testing::SdkFixture;

class LifecycleTest : public SdkFixture {};

TEST_F(LifecycleTest, FirstLaunchRecordsApplicationInstalledWithVersionAndBuild) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), std::vector<std::string>{"Application Installed"});
  EXPECT_EQ(events[0]["type"], "track");
  EXPECT_EQ(events[0]["properties"], nlohmann::json({{"version", "1.0"}, {"build", "100"}}));
  EXPECT_EQ(client->stats().lifecycle_events, 1u);
}

TEST_F(LifecycleTest, AKillBeforeTheInstalledEventIsStoredStillGivesExactlyOneInstalled) {
  config.fetch_settings = false;  // a settings fetch commits what is pending before it starts
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  settle();  // handed off, inside the commit window: not on disk yet
  EXPECT_EQ(store->count(), 0u);
  kill_and_relaunch();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  auto events = flushed();
  EXPECT_EQ(names(events), std::vector<std::string>{"Application Installed"});
}

TEST_F(LifecycleTest, AKillAfterTheInstalledEventIsStoredGivesNoSecondInstalled) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  commit();
  kill_and_relaunch();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  auto events = flushed();
  EXPECT_EQ(names(events), std::vector<std::string>{"Application Installed"});
  EXPECT_EQ(client->stats().lifecycle_events, 0u);  // this process recorded none
}

TEST_F(LifecycleTest, ANewBuildRecordsApplicationUpdatedWithThePreviousVersionAndBuild) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  restart();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());  // same build: nothing
  restart();
  ASSERT_TRUE(client->app_launched("1.1", "101").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events),
            (std::vector<std::string>{"Application Installed", "Application Updated"}));
  EXPECT_EQ(events[1]["properties"], nlohmann::json({{"version", "1.1"},
                                                     {"build", "101"},
                                                     {"previous_version", "1.0"},
                                                     {"previous_build", "100"}}));
}

TEST_F(LifecycleTest, SecondLaunchCallInOneProcessIsIgnored) {
  start();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->app_launched("2.0", "200").is_ok());
  auto events = flushed();
  EXPECT_EQ(names(events), std::vector<std::string>{"Application Installed"});
}

TEST_F(LifecycleTest, AQueueFromAnSdkWithoutLifecycleIsAnUpdateNotAnInstall) {
  // What the previous SDK left: an identity and a queued event, no app.build.
  ASSERT_TRUE(store->put({{"anonymous_id", "anon-legacy"}}).is_ok());
  ASSERT_TRUE(
      store
          ->append(
              {R"({"type":"track","event":"Old","messageId":"m-1","anonymousId":"anon-legacy"})"},
              now_ms())
          .is_ok());
  start();
  ASSERT_TRUE(client->app_launched("2.0", "200").is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events), (std::vector<std::string>{"Old", "Application Updated"}));
  EXPECT_EQ(events[1]["properties"], nlohmann::json({{"version", "2.0"},
                                                     {"build", "200"},
                                                     {"previous_version", nullptr},
                                                     {"previous_build", nullptr}}));
  EXPECT_EQ(events[1]["anonymousId"], "anon-legacy");
}

TEST_F(LifecycleTest, ALegacySqliteDatabaseIsAnUpdateToo) {
  testing::TempDir dir;
  const std::string path = dir.file("events.db");
  {
    SqliteStoreOptions so;
    so.path = path;
    auto old = SqliteStore::open(so);
    ASSERT_TRUE(old.is_ok());
    ASSERT_TRUE((*old)->put({{"anonymous_id", "anon-legacy"}}).is_ok());
  }
  config.store = nullptr;
  config.storage_path = path;
  start();
  ASSERT_TRUE(client->app_launched("2.0", "200").is_ok());
  auto events = flushed();
  EXPECT_EQ(names(events), std::vector<std::string>{"Application Updated"});
}

TEST_F(LifecycleTest, ForegroundAndBackgroundAreRecordedOnceEachTimeTheStateChanges) {
  start();
  ASSERT_TRUE(
      client->app_launched("1.0", "100", "myapp://open/item/7", "com.example.mail").is_ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->app_foreground().is_ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->app_background().is_ok());
  ASSERT_TRUE(client->app_foreground().is_ok());
  auto events = flushed();
  ASSERT_EQ(names(events),
            (std::vector<std::string>{"Application Installed", "Application Opened",
                                      "Application Backgrounded", "Application Opened"}));
  EXPECT_EQ(events[1]["properties"],
            nlohmann::json({{"from_background", false},
                            {"version", "1.0"},
                            {"build", "100"},
                            {"url", "myapp://open/item/7"},
                            {"referring_application", "com.example.mail"}}));
  EXPECT_EQ(events[2]["properties"], nlohmann::json::object());
  EXPECT_EQ(events[3]["properties"],
            nlohmann::json({{"from_background", true}, {"version", "1.0"}, {"build", "100"}}));
  EXPECT_EQ(client->stats().lifecycle_events, 4u);
}

TEST_F(LifecycleTest, WithoutLaunchForegroundUsesTheStoredVersion) {
  start();
  ASSERT_TRUE(client->app_launched("3.1", "31").is_ok());
  restart();
  ASSERT_TRUE(client->app_foreground().is_ok());
  auto opened = named(flushed(), "Application Opened");
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0]["properties"]["version"], "3.1");
  EXPECT_EQ(opened[0]["properties"]["build"], "31");
}

TEST_F(LifecycleTest, LifecycleCallsAfterShutdownAreCancelled) {
  start();
  ASSERT_TRUE(client->shutdown(2s).is_ok());
  EXPECT_EQ(client->app_launched("1", "1").code(), StatusCode::kCancelled);
  EXPECT_EQ(client->app_foreground().code(), StatusCode::kCancelled);
  EXPECT_EQ(client->app_background().code(), StatusCode::kCancelled);
}

TEST_F(LifecycleTest, OptedOutLaunchRecordsNothingButRemembersTheBuild) {
  start();
  ASSERT_TRUE(client->set_opt_out(true).is_ok());
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());  // refused, counted, not an error
  EXPECT_EQ(client->stats().dropped_for(DropReason::kOptOut), 1u);
  restart();
  ASSERT_TRUE(client->set_opt_out(false).is_ok());
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  EXPECT_TRUE(flushed().empty());
}

// The real thing on SQLite: a child process launches and is killed with
// SIGKILL, before or after its Installed event reached the disk; the
// relaunch in this process records exactly one Installed in total.
void launch_and_die(const std::string& path, bool wait_for_commit) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Config c;
    c.write_key = "wk";
    c.storage_path = path;
    c.logger = make_null_logger();
    c.default_consent = Consent::kUnknown;  // nothing leaves the child
    c.transport = std::make_shared<testing::ScriptedTransport>();
    c.fetch_settings = false;
    if (!wait_for_commit) c.commit_window = std::chrono::hours(1);
    auto r = Client::create(c);
    if (!r.is_ok()) _exit(3);
    auto client = std::move(r).value();
    if (!client->app_launched("1.0", "100").is_ok()) _exit(4);
    if (wait_for_commit) {
      for (int i = 0; i < 10000 && client->stats().stored == 0; ++i) usleep(1000);
      if (client->stats().stored == 0) _exit(5);
    }
    raise(SIGKILL);
    _exit(6);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
}

class LifecycleKillTest : public ::testing::TestWithParam<bool> {};

TEST_P(LifecycleKillTest, InstallThenKillNineThenRelaunchGivesExactlyOneInstalled) {
  testing::TempDir dir;
  const std::string path = dir.file("events.db");
  launch_and_die(path, GetParam());
  auto transport = std::make_shared<testing::ScriptedTransport>();
  Config c;
  c.write_key = "wk";
  c.storage_path = path;
  c.logger = make_null_logger();
  c.transport = transport;
  c.fetch_settings = false;
  c.flush_at = 1000;
  c.flush_interval = std::chrono::hours(1);
  auto r = Client::create(c);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto client = std::move(r).value();
  ASSERT_TRUE(client->app_launched("1.0", "100").is_ok());
  ASSERT_TRUE(client->flush(5s).is_ok());
  int installed = 0;
  for (const auto& e : transport->delivered()) installed += e["event"] == "Application Installed";
  EXPECT_EQ(installed, 1);
  EXPECT_EQ(transport->delivered().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BeforeAndAfterTheCommit, LifecycleKillTest, ::testing::Bool());

}  // namespace
}  // namespace tern
