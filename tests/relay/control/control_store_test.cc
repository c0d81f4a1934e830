#include "control_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "temp_dir.h"

namespace tern::relay::control {
namespace {

constexpr const char* kNow = "2026-12-06T09:00:00.000Z";

// A valid state whose every object says which step `n` made it, with a
// number of sinks that varies, so a mix of two commits shows.
State state_for(int64_t n) {
  State s;
  s.sources.push_back(
      {{"id", "web"},
       {"rate_limit_eps", n},
       {"write_keys", {{{"id", "wk_1"}, {"key", "tk_web"}, {"created_at", kNow}}}}});
  Json route_sinks = Json::array();
  for (int64_t i = 0; i <= n % 7; ++i) {
    std::string name = "sink-" + std::to_string(i);
    s.sinks.push_back({{"name", name}, {"type", "file"}, {"batch_max_events", n + 1}});
    route_sinks.push_back(name);
  }
  s.routes.push_back({{"id", "rt_1"}, {"sinks", route_sinks}});
  return s;
}

std::unique_ptr<ControlStore> open_store(const std::string& path) {
  auto store = ControlStore::open(path);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store.is_ok() ? std::move(store.value()) : nullptr;
}

TEST(ControlStoreTest, ANewStoreHasRevisionZeroAndAPrivateFileInANewDirectory) {
  testing::TempDir dir;
  std::string path = dir.file("data/control/state.db");
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto head = store->head();
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->revision, 0);
  EXPECT_TRUE(head->sources.empty());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto list = store->revisions(0, 10);
  ASSERT_TRUE(list.is_ok());
  EXPECT_TRUE(list->empty());
}

TEST(ControlStoreTest, CommitStampsRevisionsAndTheHeadSurvivesAReopen) {
  testing::TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto first = store->commit(0, state_for(1), "seed", "seeded from tern.toml", {}, kNow);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_EQ(first->revision, 1);
    EXPECT_EQ(first->sinks[0]["revision"], 1);

    State next = *first;
    next.sources[0]["rate_limit_eps"] = 50;
    auto second = store->commit(1, next, "tok_a", "", {}, "2026-12-06T09:01:00.000Z");
    ASSERT_TRUE(second.is_ok()) << second.status().to_string();
    EXPECT_EQ(second->revision, 2);
    EXPECT_EQ(second->sources[0]["revision"], 2);
    EXPECT_EQ(second->sinks[0]["revision"], 1);  // unchanged objects keep theirs
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto head = store->head();
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->revision, 2);
  EXPECT_EQ(head->sources[0]["rate_limit_eps"], 50);
  EXPECT_EQ(head->sinks[0]["revision"], 1);
  auto old = store->revision(1);
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->sources[0]["rate_limit_eps"], 1);
  EXPECT_EQ(store->revision(3).status().code(), StatusCode::kNotFound);

  auto list = store->revisions(0, 10);
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].revision, 2);
  EXPECT_EQ((*list)[0].token_id, "tok_a");
  EXPECT_EQ((*list)[0].summary, "sources/web changed");  // summarised when not given
  EXPECT_EQ((*list)[0].created_at, "2026-12-06T09:01:00.000Z");
  EXPECT_EQ((*list)[1].summary, "seeded from tern.toml");
}

TEST(ControlStoreTest, ACommitOnAStaleHeadIsAbortedAndWritesNothing) {
  testing::TempDir dir;
  auto store = open_store(dir.file("state.db"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->commit(0, state_for(1), "seed", "", {}, kNow).is_ok());
  AuditEntry entry;
  entry.action = "sinks.create";
  entry.resource = "sinks/sink-5";
  auto stale = store->commit(0, state_for(5), "tok_b", "", {entry}, kNow);
  ASSERT_FALSE(stale.is_ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  auto head = store->head();
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->revision, 1);
  EXPECT_EQ(head->sources[0]["rate_limit_eps"], 1);
  EXPECT_EQ(store->revisions(0, 10)->size(), 1u);
  EXPECT_TRUE(store->audit(0, 10)->empty());
}

TEST(ControlStoreTest, RevisionsListNewestFirstAndPageWithBefore) {
  testing::TempDir dir;
  auto store = open_store(dir.file("state.db"));
  ASSERT_TRUE(store);
  for (int64_t n = 1; n <= 7; ++n) {
    ASSERT_TRUE(store->commit(n - 1, state_for(n), "tok", "", {}, kNow).is_ok());
  }
  auto page = store->revisions(0, 3);
  ASSERT_TRUE(page.is_ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].revision, 7);
  EXPECT_EQ((*page)[2].revision, 5);
  page = store->revisions(5, 3);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].revision, 4);
  EXPECT_EQ((*page)[2].revision, 2);
  page = store->revisions(2, 3);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].revision, 1);
  EXPECT_TRUE(store->revisions(1, 3)->empty());
}

TEST(ControlStoreTest, AuditEntriesGetTheCommittedRevisionAndPageNewestFirst) {
  testing::TempDir dir;
  auto store = open_store(dir.file("state.db"));
  ASSERT_TRUE(store);
  AuditEntry create;
  create.at = kNow;
  create.token_id = "tok_a";
  create.action = "sinks.create";
  create.resource = "sinks/sink-0";
  create.diff = diff_to_json(diff(State{}, state_for(1)));
  ASSERT_TRUE(store->commit(0, state_for(1), "tok_a", "", {create}, kNow).is_ok());
  AuditEntry token;
  token.at = kNow;
  token.token_id = "bootstrap";
  token.action = "tokens.create";
  token.resource = "tokens/tok_b";
  ASSERT_TRUE(store->append_audit(token).is_ok());

  auto all = store->audit(0, 10);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].action, "tokens.create");
  EXPECT_EQ((*all)[0].revision, 0);
  EXPECT_EQ((*all)[1].action, "sinks.create");
  EXPECT_EQ((*all)[1].revision, 1);
  EXPECT_EQ((*all)[1].diff, create.diff);
  EXPECT_GT((*all)[0].seq, (*all)[1].seq);
  auto older = store->audit((*all)[0].seq, 10);
  ASSERT_EQ(older->size(), 1u);
  EXPECT_EQ((*older)[0].action, "sinks.create");
}

TEST(ControlStoreTest, AMirrorKeepsTheControlPlanesRevisionAndIgnoresOlderOnes) {
  testing::TempDir dir;
  auto store = open_store(dir.file("state.db"));
  ASSERT_TRUE(store);
  State remote = state_for(3);
  stamp_revisions(State{}, &remote, 42);
  ASSERT_TRUE(store->mirror(remote, kNow).is_ok());
  EXPECT_EQ(store->head()->revision, 42);
  EXPECT_EQ(store->head()->to_json(false), remote.to_json(false));
  auto list = store->revisions(0, 10);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].token_id, "control");

  State older = state_for(4);
  stamp_revisions(State{}, &older, 41);
  ASSERT_TRUE(store->mirror(older, kNow).is_ok());
  EXPECT_EQ(store->head()->revision, 42);
  EXPECT_EQ(store->head()->sources[0]["rate_limit_eps"], 3);
}

TEST(ControlStoreTest, TokensAreFoundByTheHashOfTheirValueAndDeleted) {
  testing::TempDir dir;
  std::string path = dir.file("state.db");
  std::string value = random_secret("tat_");
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    TokenInfo t{"tok_1", "ci", {"read", "write"}, kNow};
    ASSERT_TRUE(store->add_token(t, sha256_hex(value)).is_ok());
    EXPECT_FALSE(store->add_token(t, sha256_hex("other")).is_ok());  // same id
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto found = store->find_token(sha256_hex(value));
  ASSERT_TRUE(found.is_ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, "tok_1");
  EXPECT_EQ((*found)->name, "ci");
  EXPECT_EQ((*found)->scopes, (std::vector<std::string>{"read", "write"}));
  EXPECT_FALSE(store->find_token(sha256_hex(value + "x"))->has_value());
  ASSERT_EQ(store->tokens()->size(), 1u);

  ASSERT_TRUE(store->delete_token("tok_1").is_ok());
  EXPECT_FALSE(store->find_token(sha256_hex(value))->has_value());
  EXPECT_EQ(store->delete_token("tok_1").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->tokens()->empty());
}

TEST(ControlStoreTest, ARelaysReportReplacesItsPreviousOne) {
  testing::TempDir dir;
  auto store = open_store(dir.file("state.db"));
  ASSERT_TRUE(store);
  RelayReport edge2{"edge-2", {{"region", "us"}}, 4, "ok", Json::array(), kNow, "1.0"};
  RelayReport edge1{"edge-1", {{"region", "eu"}}, 5, "ok", Json::array(), kNow, "1.0"};
  ASSERT_TRUE(store->upsert_relay(edge2).is_ok());
  ASSERT_TRUE(store->upsert_relay(edge1).is_ok());
  edge1.applied_revision = 6;
  edge1.status = "error";
  edge1.errors = Json::array({{{"resource", "sinks/k"}, {"message", "no broker"}}});
  edge1.last_seen = "2026-12-06T09:05:00.000Z";
  ASSERT_TRUE(store->upsert_relay(edge1).is_ok());

  auto relays = store->relays();
  ASSERT_TRUE(relays.is_ok());
  ASSERT_EQ(relays->size(), 2u);
  const RelayReport& r = (*relays)[0];
  EXPECT_EQ(r.relay_id, "edge-1");
  EXPECT_EQ(r.labels, Json({{"region", "eu"}}));
  EXPECT_EQ(r.applied_revision, 6);
  EXPECT_EQ(r.status, "error");
  EXPECT_EQ(r.errors, edge1.errors);
  EXPECT_EQ(r.last_seen, "2026-12-06T09:05:00.000Z");
  EXPECT_EQ((*relays)[1].relay_id, "edge-2");
}

TEST(ControlStoreTest, AFileThatIsNotADatabaseIsReportedAsCorruptWithItsPath) {
  testing::TempDir dir;
  std::string path = dir.file("state.db");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string junk(8192, 'x');
  std::fwrite(junk.data(), 1, junk.size(), f);
  std::fclose(f);
  auto store = ControlStore::open(path);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
}

TEST(ControlStoreTest, TheHeadShowsACommitMadeThroughAnotherConnection) {
  testing::TempDir dir;
  auto a = open_store(dir.file("state.db"));
  auto b = open_store(dir.file("state.db"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->commit(0, state_for(1), "tok", "", {}, kNow).is_ok());
  EXPECT_EQ(b->head()->revision, 1);
  // b's commit is checked against the real head, not a stale copy.
  EXPECT_EQ(b->commit(0, state_for(2), "tok", "", {}, kNow).status().code(), StatusCode::kAborted);
  auto second = b->commit(1, state_for(2), "tok", "", {}, kNow);
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second->routes[0]["revision"], 2);
  EXPECT_EQ(second->sources[0]["revision"], 2);
  EXPECT_EQ(a->head()->revision, 2);
  EXPECT_EQ(a->head()->sources[0]["rate_limit_eps"], 2);
}

// The objects table, read directly: it must always hold the head's objects.
std::vector<std::string> stored_sink_names(const std::string& path) {
  sqlite3* db = nullptr;
  std::vector<std::string> names;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT id FROM objects WHERE kind = 'sinks' ORDER BY position", -1, &st,
                       nullptr);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return names;
}

TEST(ControlStoreTest, AProcessKilledWhileCommittingLeavesOneWholeRevision) {
  testing::TempDir dir;
  std::string path = dir.file("control/state.db");
  std::mt19937 rng(12345);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int rounds = 0;
  int64_t last_head = 0;
  while (rounds < 25 && std::chrono::steady_clock::now() < deadline) {
    ++rounds;
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto store = ControlStore::open(path);
      if (!store) ::_exit(2);
      for (;;) {
        auto head = (*store)->head();
        if (!head) ::_exit(3);
        int64_t n = head->revision + 1;
        if (!(*store)->commit(head->revision, state_for(n), "tok", "", {}, kNow)) ::_exit(4);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 20000));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the child stopped on its own: exit " << WEXITSTATUS(status);

    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto head = store->head();
    ASSERT_TRUE(head.is_ok()) << head.status().to_string();
    EXPECT_GE(head->revision, last_head);  // nothing committed is lost
    last_head = head->revision;
    if (head->revision == 0) continue;
    // The head is exactly what step `revision` committed: never a mix.
    State expected = state_for(head->revision);
    Json got = head->to_json(false);
    for (const char* kind : {"sources", "sinks", "routes"}) {
      for (auto& o : got[kind]) o.erase("revision");
    }
    got.erase("revision");
    Json want = expected.to_json(false);
    want.erase("revision");
    ASSERT_EQ(got, want) << "after round " << rounds;
    std::vector<std::string> names;
    for (const auto& s : want["sinks"]) names.push_back(s["name"]);
    ASSERT_EQ(stored_sink_names(path), names);
    auto newest = store->revisions(0, 1);
    ASSERT_TRUE(newest.is_ok());
    ASSERT_EQ(newest->size(), 1u);
    EXPECT_EQ((*newest)[0].revision, head->revision);
  }
  EXPECT_GT(last_head, 0) << "no commit finished in " << rounds << " rounds";
}

}  // namespace
}  // namespace tern::relay::control
