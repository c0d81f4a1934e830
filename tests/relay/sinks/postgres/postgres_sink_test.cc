// The postgres sink against a real PostgreSQL server started by
// tests/support/postgres/pg-fixture.sh: by ctest's fixture (TERN_PG_DIR), or
// by this binary itself when run alone.
#include "tern/relay/sinks/postgres.h"

#include <libpq-fe.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sink_harness.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using testing::SinkHarness;
using testing::test_event;

std::string g_dir;       // the fixture's directory
std::string g_conninfo;  // its connection string
bool g_own_fixture = false;

int fixture(const std::string& cmd) {
  std::string line = std::string(PG_FIXTURE) + " " + cmd + " '" + g_dir + "' > /dev/null";
  return std::system(line.c_str());
}

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* dir = std::getenv("TERN_PG_DIR");
    if (dir && *dir) {
      g_dir = dir;
    } else {
      g_dir = "/tmp/tern-pg-test-" + std::to_string(::getpid());
      g_own_fixture = true;
      if (fixture("start") != 0) die("pg-fixture.sh start failed");
    }
    std::ifstream in(g_dir + "/conninfo");
    std::getline(in, g_conninfo);
    if (g_conninfo.empty()) die("no " + g_dir + "/conninfo: is the pg fixture running?");
  }
  // A failed environment set-up would show as "skipped" under ctest: fail loudly.
  [[noreturn]] static void die(const std::string& why) {
    std::fprintf(stderr, "postgres sink tests: %s\n", why.c_str());
    std::exit(1);
  }
  void TearDown() override {
    if (g_own_fixture) (void)fixture("stop");
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

// A query's rows as text (aborts the test on error).
class Db {
 public:
  Db() : conn_(PQconnectdb(g_conninfo.c_str())) {}
  ~Db() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::vector<std::vector<std::string>> query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    PGresult* r = PQexec(conn_, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(r);
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r); ++j)
        row.emplace_back(PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
      rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
  }
  std::string scalar(const std::string& sql) {
    auto rows = query(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }

 private:
  PGconn* conn_;
};

SinkConfig pg_config(const std::string& table, std::map<std::string, std::string> extra = {}) {
  SinkConfig c;
  c.name = "warehouse";
  c.type = "postgres";
  c.settings = {{"conninfo", g_conninfo}, {"table", table}, {"connect_timeout", "2s"}};
  for (auto& [k, v] : extra) c.settings[k] = v;
  return c;
}

std::vector<std::string> events(int from, int n) {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) v.push_back(test_event(i));
  return v;
}

TEST(PostgresSinkTest, EveryEventLandsOnceWithTypedColumns) {
  Db db;
  ASSERT_TRUE(db.ok());
  db.query("DROP TABLE IF EXISTS pg_once");
  SinkHarness h(pg_config("pg_once"));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 250)).is_ok());
  ASSERT_TRUE(h.submit(events(250, 50)).is_ok());
  ASSERT_TRUE(h.wait_handled(300));
  EXPECT_EQ(db.scalar("SELECT count(*) || '/' || count(DISTINCT message_id) FROM pg_once"),
            "300/300");
  auto row = db.query(
      "SELECT type, event, user_id, anonymous_id, extract(epoch FROM timestamp)::bigint,"
      " extract(epoch FROM received_at - timestamp)::int, source, payload->'properties'->>'n'"
      " FROM pg_once WHERE message_id = 'm-7'");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0], (std::vector<std::string>{"track", "Clicked", "u7", "NULL", "1795669200", "1",
                                              "default", "7"}));
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(PostgresSinkTest, ReplayedEventsAreIgnoredByMessageId) {
  Db db;
  ASSERT_TRUE(db.ok());
  db.query("DROP TABLE IF EXISTS pg_replay");
  SinkHarness h(pg_config("pg_replay"));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 40)).is_ok());
  ASSERT_TRUE(h.submit(events(20, 40)).is_ok());  // 20 of them again, as after a crash
  ASSERT_TRUE(h.wait_handled(80));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_replay"), "60");
  EXPECT_EQ(h.dead_lettered(), 0u);
}

TEST(PostgresSinkTest, ServerRestartedMidStreamLosesNothing) {
  Db db;
  ASSERT_TRUE(db.ok());
  db.query("DROP TABLE IF EXISTS pg_restart");
  SinkHarness h(pg_config("pg_restart"));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 100)).is_ok());
  ASSERT_TRUE(h.wait_handled(100));

  ASSERT_EQ(fixture("pause"), 0);  // pg_ctl stop -m fast
  ASSERT_TRUE(h.submit(events(100, 100)).is_ok());
  std::string why;
  bool saw_down =
      tern::testing::wait_until([&] { return h.failures() > 0 && !h.ready(&why); }, 10s);
  EXPECT_LT(h.delivered(), 200u);
  ASSERT_EQ(fixture("resume"), 0);
  ASSERT_TRUE(saw_down);
  EXPECT_NE(why.find("postgres"), std::string::npos) << why;

  ASSERT_TRUE(h.wait_handled(200, 20s));
  Db after;
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.scalar("SELECT count(*) || '/' || count(DISTINCT message_id) FROM pg_restart"),
            "200/200");
  EXPECT_TRUE(tern::testing::wait_until([&] { return h.ready(&why); }, 5s)) << why;
}

TEST(PostgresSinkTest, BadRowsGoToTheDeadLetterFileAndTheRestLands) {
  Db db;
  ASSERT_TRUE(db.ok());
  db.query("DROP TABLE IF EXISTS pg_bad");
  SinkHarness h(pg_config("pg_bad"));
  ASSERT_TRUE(h.start().is_ok());
  auto batch = events(0, 30);
  batch[11] =
      R"({"type":"track","event":"X","messageId":"bad-time","userId":"u1","timestamp":"yesterday-ish"})";
  batch[23] = R"({"type":"track","event":"Y","userId":"u2"})";  // no messageId
  ASSERT_TRUE(h.submit(batch).is_ok());
  ASSERT_TRUE(h.wait_handled(30));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_bad"), "28");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_bad WHERE message_id IN ('m-10', 'm-12', 'm-29')"),
            "3");
  auto dl = h.dead_letters();
  ASSERT_EQ(dl.size(), 2u);
  auto first = nlohmann::json::parse(dl[0]);
  EXPECT_EQ(first["event"]["messageId"], "bad-time");
  EXPECT_NE(first["reason"].get<std::string>().find("22007"), std::string::npos) << dl[0];
  auto second = nlohmann::json::parse(dl[1]);
  EXPECT_NE(second["reason"].get<std::string>().find("messageId"), std::string::npos) << dl[1];
  EXPECT_EQ(h.dead_lettered(), 2u);
}

TEST(PostgresSinkTest, UnreachableServerKeepsEventsAndReportsDown) {
  SinkHarness h(
      pg_config("pg_nowhere", {{"conninfo", "host=127.0.0.1 port=1 user=tern dbname=postgres"}}));
  ASSERT_TRUE(h.start().is_ok());
  ASSERT_TRUE(h.submit(events(0, 5)).is_ok());
  std::string why;
  ASSERT_TRUE(tern::testing::wait_until([&] { return h.failures() >= 2 && !h.ready(&why); }, 5s));
  EXPECT_NE(why.find("cannot connect"), std::string::npos) << why;
  EXPECT_EQ(h.delivered(), 0u);
  EXPECT_EQ(h.dead_lettered(), 0u);
  EXPECT_EQ(h.stop(200ms).code(), StatusCode::kTimeout);  // the events stay in the spool
}

TEST(PostgresSinkTest, BadSettingsAreRefused) {
  SinkContext ctx;
  Metrics m;
  ctx.metrics = &m;
  auto make = [&](std::map<std::string, std::string> s) {
    SinkConfig c;
    c.name = "w";
    c.type = "postgres";
    c.settings = std::move(s);
    return make_postgres_sink(c, ctx);
  };
  EXPECT_FALSE(make({}).is_ok());
  EXPECT_FALSE(make({{"conninfo", "host=x nonsense"}}).is_ok());
  EXPECT_FALSE(make({{"conninfo", "host=x"}, {"table", "a.b.c"}}).is_ok());
  EXPECT_FALSE(make({{"conninfo", "host=x"}, {"table", "bad\"name"}}).is_ok());
  EXPECT_FALSE(make({{"conninfo", "host=x"}, {"tabel", "t"}}).is_ok());
  EXPECT_TRUE(
      make({{"conninfo", "postgresql://tern@db:5432/events"}, {"table", "analytics.events"}})
          .is_ok());
}

}  // namespace
}  // namespace tern::relay
