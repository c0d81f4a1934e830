#include "sqlite_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes.h"

namespace tern {
namespace {

using testing::TempDir;

std::unique_ptr<SqliteStore> open_store(const std::string& path, int max_pages = 0) {
  SqliteStoreOptions o;
  o.path = path;
  o.max_page_count = max_pages;
  auto r = SqliteStore::open(o);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

std::vector<std::string> bodies(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("{\"seq\":" + std::to_string(i) + "}");
  return out;
}

TEST(SqliteStoreTest, AppendedEventsComeBackOldestFirst) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(bodies(0, 5), 1000).is_ok());
  ASSERT_TRUE(s->append(bodies(5, 8), 2000).is_ok());
  EXPECT_EQ(s->count(), 8u);
  auto r = s->read_oldest(6, 1 << 20);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].body, "{\"seq\":0}");
  EXPECT_EQ((*r)[5].body, "{\"seq\":5}");
  EXPECT_EQ((*r)[5].created_ms, 2000);
}

TEST(SqliteStoreTest, ReadStopsAtTheByteBudgetButReturnsAtLeastOne) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"));
  ASSERT_TRUE(
      s->append({std::string(100, 'a'), std::string(100, 'b'), std::string(100, 'c')}, 1).is_ok());
  EXPECT_EQ(s->read_oldest(10, 250)->size(), 2u);
  EXPECT_EQ(s->read_oldest(10, 10)->size(), 1u);
  EXPECT_EQ(s->bytes(), 300u);
}

TEST(SqliteStoreTest, AckRemovesOnlyAckedRows) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"));
  ASSERT_TRUE(s->append(bodies(0, 4), 1).is_ok());
  auto batch = s->read_oldest(2, 1 << 20).value();
  ASSERT_TRUE(s->remove({batch[0].id, batch[1].id, 999999}).is_ok());
  EXPECT_EQ(s->count(), 2u);
  auto rest = s->read_oldest(10, 1 << 20).value();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].body, "{\"seq\":2}");
}

TEST(SqliteStoreTest, ClaimCountsAttemptsAndKeepsTheFirstAttemptTime) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"));
  ASSERT_TRUE(s->append(bodies(0, 2), 1).is_ok());
  auto b = s->read_oldest(1, 1 << 20).value();
  ASSERT_TRUE(s->mark_attempt({b[0].id}, 5000).is_ok());
  ASSERT_TRUE(s->mark_attempt({b[0].id}, 9000).is_ok());
  auto again = s->read_oldest(2, 1 << 20).value();
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].first_attempt_ms, 5000);
  EXPECT_EQ(again[1].attempts, 0);
}

TEST(SqliteStoreTest, CapsDropTheOldestByAgeCountAndBytes) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"));
  ASSERT_TRUE(s->append(bodies(0, 3), 100).is_ok());   // old
  ASSERT_TRUE(s->append(bodies(3, 13), 500).is_ok());  // 10 fresh
  auto d = s->enforce_caps(8, 1 << 20, 200);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->by_age, 3u);
  EXPECT_EQ(d->by_events, 2u);
  EXPECT_EQ(s->count(), 8u);
  EXPECT_EQ(s->read_oldest(1, 100)->front().body, "{\"seq\":5}");
  // Each body is 9 or 10 bytes: a 30-byte cap keeps the newest three.
  d = s->enforce_caps(100, 30, 0);
  EXPECT_EQ(d->by_bytes, 5u);
  EXPECT_EQ(s->count(), 3u);
  EXPECT_LE(s->bytes(), 30u);
  EXPECT_EQ(s->read_oldest(1, 100)->front().body, "{\"seq\":10}");
}

TEST(SqliteStoreTest, QueueAndKeyValuesSurviveReopen) {
  TempDir dir;
  {
    auto s = open_store(dir.file("q.db"));
    ASSERT_TRUE(s->append(bodies(0, 3), 1).is_ok());
    ASSERT_TRUE(s->put({{"user_id", "u1"}, {"consent", "granted"}}).is_ok());
  }
  auto s = open_store(dir.file("q.db"));
  EXPECT_EQ(s->count(), 3u);
  EXPECT_EQ(s->bytes(), 27u);
  EXPECT_EQ(s->get("user_id").value(), std::optional<std::string>("u1"));
  EXPECT_EQ(s->get("missing").value(), std::nullopt);
}

TEST(SqliteStoreTest, SecondOpenerInTheSameProcessGetsLocked) {
  TempDir dir;
  auto first = open_store(dir.file("q.db"));
  SqliteStoreOptions o;
  o.path = dir.file("q.db");
  auto second = SqliteStore::open(o);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  first.reset();
  EXPECT_TRUE(SqliteStore::open(o).is_ok());  // released with the owner
}

TEST(SqliteStoreTest, SecondOpenerInAnotherProcessGetsLocked) {
  TempDir dir;
  auto first = open_store(dir.file("q.db"));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SqliteStoreOptions o;
    o.path = dir.file("q.db");
    auto r = SqliteStore::open(o);
    _exit(!r.is_ok() && r.status().code() == StatusCode::kFailedPrecondition ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SqliteStoreTest, CorruptFileIsMovedAsideAndAFreshOneMade) {
  TempDir dir;
  std::string path = dir.file("q.db");
  {
    auto s = open_store(path);
    ASSERT_TRUE(s->append(bodies(0, 50), 1).is_ok());
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string garbage(4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto s = open_store(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->corrupt_recoveries(), 1u);
  EXPECT_EQ(s->count(), 0u);
  ASSERT_TRUE(s->append(bodies(0, 1), 1).is_ok());
  EXPECT_EQ(s->integrity_check().value(), "ok");
  int quarantined = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().find("q.db.corrupt-") == 0) ++quarantined;
  }
  EXPECT_GE(quarantined, 1);
}

TEST(SqliteStoreTest, DamagedBtreePageIsCaughtByQuickCheckAtOpen) {
  TempDir dir;
  std::string path = dir.file("q.db");
  {
    auto s = open_store(path);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->append({std::string(3000, 'x')}, 1).is_ok());
  }
  {
    // Damage the header and cell pointers of a page of the events b-tree,
    // keeping the file header and the schema page intact.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 5);
    std::string garbage(64, '\x07');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto s = open_store(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->corrupt_recoveries(), 1u);
  EXPECT_EQ(s->count(), 0u);
}

TEST(SqliteStoreTest, FullDatabaseIsAnErrorNotACrash) {
  TempDir dir;
  auto s = open_store(dir.file("q.db"), /*max_pages=*/12);
  ASSERT_TRUE(s);
  Status last;
  int stored = 0;
  for (int i = 0; i < 200 && last.is_ok(); ++i) {
    last = s->append({std::string(2000, 'y')}, 1);
    if (last.is_ok()) ++stored;
  }
  EXPECT_EQ(last.code(), StatusCode::kIOError);
  EXPECT_NE(last.message().find("full"), std::string::npos) << last.message();
  EXPECT_EQ(s->count(), static_cast<uint64_t>(stored));
  // Still usable: acking frees room for more.
  auto batch = s->read_oldest(3, 1 << 20).value();
  std::vector<int64_t> ids;
  for (auto& e : batch) ids.push_back(e.id);
  ASSERT_TRUE(s->remove(ids).is_ok());
  EXPECT_TRUE(s->append({std::string(2000, 'z')}, 1).is_ok());
}

TEST(SqliteStoreTest, UnopenableDirectoryIsAClearError) {
  SqliteStoreOptions o;
  o.path = "/nonexistent-tern-dir/sub/q.db";
  auto r = SqliteStore::open(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_NE(r.status().message().find("/nonexistent-tern-dir"), std::string::npos);
}

}  // namespace
}  // namespace tern
