// SqliteStore: the default Store, one row per event in a WAL-mode SQLite file.
//
// Ownership: the store holds an exclusive flock() on "<path>.lock" for its
// lifetime, so a second opener (another process, or another Client in this
// process) gets StatusCode::kFailedPrecondition instead of sharing the file.
// At open, `PRAGMA quick_check` runs; a corrupt file (and its -wal/-shm) is
// renamed to "<path>.corrupt-<unix seconds>" and a fresh database is made.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "store.h"

struct sqlite3;

namespace tern {

struct SqliteStoreOptions {
  std::string path;
  // synchronous=FULL: a commit is durable against power loss, not just a crash.
  bool synchronous_full = true;
  // Test hook: caps the database size (PRAGMA max_page_count) to provoke SQLITE_FULL.
  int max_page_count = 0;
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteStoreOptions& options);
  ~SqliteStore() override;

  Status append(const std::vector<std::string>& bodies, int64_t created_ms) override;
  Status append_and_put(const std::vector<std::string>& bodies, int64_t created_ms,
                        const std::vector<std::pair<std::string, std::string>>& pairs) override;
  int64_t last_id() const override { return last_id_.load(); }
  Result<std::vector<StoredEvent>> read_oldest(std::size_t max_events,
                                               std::size_t max_bytes) override;
  Status mark_attempt(const std::vector<int64_t>& ids, int64_t now_ms) override;
  Status remove(const std::vector<int64_t>& ids) override;
  Result<uint64_t> remove_all() override;
  Result<CapDrops> enforce_caps(std::size_t max_events, std::size_t max_bytes,
                                int64_t min_created_ms) override;
  uint64_t count() const override;
  uint64_t bytes() const override;
  Result<std::optional<std::string>> get(const std::string& key) override;
  Status put(const std::vector<std::pair<std::string, std::string>>& pairs) override;
  uint64_t corrupt_recoveries() const override { return corrupt_recoveries_; }
  uint64_t corrupt_events_lost() const override { return corrupt_events_lost_; }

  // `PRAGMA integrity_check` result ("ok" when healthy), for tests and tools.
  Result<std::string> integrity_check();

  class Stmt;
  class RelaxedSync;

 private:
  SqliteStore() = default;
  Status exec(const char* sql);
  Status error(const char* what, int rc) const;
  Status begin();
  Status commit();
  void rollback();
  Status refresh_totals();
  Status delete_ids(const std::vector<int64_t>& ids);
  // Precondition: inside a transaction, mu_ held.
  Status insert_bodies(const std::vector<std::string>& bodies, int64_t created_ms,
                       uint64_t* added_bytes);
  Status put_pairs(const std::vector<std::pair<std::string, std::string>>& pairs);

  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  bool synchronous_full_ = true;
  std::string path_;
  // Written under mu_, read without it: the worker checks the queue depth
  // while it holds the hand-off lock, and must never wait behind disk I/O there.
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<int64_t> last_id_{0};
  uint64_t corrupt_recoveries_ = 0;
  uint64_t corrupt_events_lost_ = 0;
};

}  // namespace tern
