#include "sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace tern {

// RAII for one prepared statement.
class SqliteStore::Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  int prepare_rc() const { return rc_; }
  sqlite3_stmt* get() const { return s_; }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

namespace {

const char* const kSchema =
    "CREATE TABLE IF NOT EXISTS events("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " first_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    " body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_created ON events(created_ms);"
    "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

bool is_corruption(int rc) {
  int primary = rc & 0xFF;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

// Runs quick_check; "ok" or the first problem (or the SQLite error).
std::string quick_check(sqlite3* db, int* rc_out) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, nullptr);
  std::string result;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      result = t ? reinterpret_cast<const char*>(t) : "";
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK && rc != SQLITE_DONE) result = sqlite3_errstr(rc);
  sqlite3_finalize(s);
  *rc_out = rc;
  return result;
}

int64_t count_events_best_effort(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  int64_t n = 0;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    n = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  return n;
}

}  // namespace

Status SqliteStore::error(const char* what, int rc) const {
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db_) {
    const char* m = sqlite3_errmsg(db_);
    if (m && std::strcmp(m, sqlite3_errstr(rc)) != 0) {
      msg += " (";
      msg += m;
      msg += ")";
    }
  }
  msg += " [" + path_ + "]";
  int primary = rc & 0xFF;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return Status(StatusCode::kFailedPrecondition, msg);
  if (is_corruption(rc)) return Status(StatusCode::kCorruption, msg);
  return Status(StatusCode::kIOError, msg);
}

Status SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return error(sql, rc);
  return Status::ok();
}

Status SqliteStore::begin() { return exec("BEGIN IMMEDIATE"); }

// Claims, acks and cap drops need no fsync of their own: losing one to a
// power cut only means a batch is sent again (the server dedups messageId)
// or a capped event comes back. Their WAL frames reach the disk with the next
// synchronous=FULL commit (an append or a kv write). A crash of the process
// loses nothing either way (WAL). This keeps the drain to one fsync per batch.
class SqliteStore::RelaxedSync {
 public:
  explicit RelaxedSync(SqliteStore& s) : s_(s) {
    if (s_.synchronous_full_)
      sqlite3_exec(s_.db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  }
  ~RelaxedSync() {
    if (s_.synchronous_full_)
      sqlite3_exec(s_.db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  }
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;

 private:
  SqliteStore& s_;
};
Status SqliteStore::commit() {
  Status s = exec("COMMIT");
  if (!s.is_ok()) rollback();
  return s;
}
void SqliteStore::rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteStoreOptions& options) {
  if (options.path.empty()) return Status(StatusCode::kInvalidArgument, "storage_path is empty");
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = options.path;
  store->synchronous_full_ = options.synchronous_full;

  // One owner per file: an flock on a side file. flock belongs to the open
  // file description, so a second open in this very process conflicts too.
  std::string lock_path = options.path + ".lock";
  store->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->lock_fd_ < 0) {
    return Status(StatusCode::kIOError,
                  "cannot open lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(StatusCode::kFailedPrecondition,
                    "database " + options.path + " is in use by another client or process");
    }
    return Status(StatusCode::kIOError, "cannot lock " + lock_path + ": " + std::strerror(errno));
  }

  for (int round = 0; round < 2; ++round) {
    int rc =
        sqlite3_open_v2(options.path.c_str(), &store->db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status s = store->error("open", rc);
      sqlite3_close(store->db_);
      store->db_ = nullptr;
      return s;
    }
    sqlite3_extended_result_codes(store->db_, 1);
    sqlite3_busy_timeout(store->db_, 200);
    int qrc = SQLITE_OK;
    std::string check = quick_check(store->db_, &qrc);
    bool corrupt = is_corruption(qrc) || (qrc == SQLITE_OK && check != "ok");
    if (corrupt && round == 0) {
      // Quarantine: keep the bytes for forensics, start empty.
      store->corrupt_events_lost_ += static_cast<uint64_t>(count_events_best_effort(store->db_));
      sqlite3_close(store->db_);
      store->db_ = nullptr;
      std::string suffix = ".corrupt-" + std::to_string(static_cast<long long>(std::time(nullptr)));
      for (const char* ext : {"", "-wal", "-shm", "-journal"}) {
        std::string from = options.path + ext;
        std::string to = options.path + suffix + ext;
        if (::access(from.c_str(), F_OK) == 0 && std::rename(from.c_str(), to.c_str()) != 0) {
          return Status(StatusCode::kIOError,
                        "cannot move corrupt database " + from + " aside: " + std::strerror(errno));
        }
      }
      ++store->corrupt_recoveries_;
      continue;
    }
    if (corrupt)
      return Status(StatusCode::kCorruption, "fresh database fails quick_check: " + check);
    if (qrc != SQLITE_OK) return store->error("quick_check", qrc);
    break;
  }

  Status s = store->exec("PRAGMA journal_mode=WAL");
  if (s.is_ok())
    s = store->exec(options.synchronous_full ? "PRAGMA synchronous=FULL"
                                             : "PRAGMA synchronous=NORMAL");
  // The worker touches only the oldest rows (reads, acks) and the newest
  // (appends): a small page cache is enough and keeps the SDK's RSS low.
  if (s.is_ok()) s = store->exec("PRAGMA cache_size=-512");
  if (s.is_ok()) s = store->exec(kSchema);
  if (s.is_ok() && options.max_page_count > 0) {
    std::string pragma = "PRAGMA max_page_count=" + std::to_string(options.max_page_count);
    s = store->exec(pragma.c_str());
  }
  if (s.is_ok()) s = store->refresh_totals();
  if (!s.is_ok()) return s;
  return store;
}

SqliteStore::~SqliteStore() {
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status SqliteStore::refresh_totals() {
  Stmt st(db_, "SELECT count(*), coalesce(sum(size),0), coalesce(max(id),0) FROM events");
  if (st.prepare_rc() != SQLITE_OK) return error("count", st.prepare_rc());
  int rc = st.step();
  if (rc != SQLITE_ROW) return error("count", rc);
  count_ = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
  bytes_ = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 1));
  last_id_ = sqlite3_column_int64(st.get(), 2);
  return Status::ok();
}

Status SqliteStore::insert_bodies(const std::vector<std::string>& bodies, int64_t created_ms,
                                  uint64_t* added_bytes) {
  if (bodies.empty()) return Status::ok();
  Stmt st(db_, "INSERT INTO events(created_ms,size,body) VALUES(?,?,?)");
  if (st.prepare_rc() != SQLITE_OK) return error("insert", st.prepare_rc());
  for (const auto& b : bodies) {
    sqlite3_bind_int64(st.get(), 1, created_ms);
    sqlite3_bind_int64(st.get(), 2, static_cast<int64_t>(b.size()));
    sqlite3_bind_text(st.get(), 3, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
    int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE) return error("insert", rc);
    *added_bytes += b.size();
  }
  return Status::ok();
}

Status SqliteStore::put_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return Status::ok();
  Stmt st(db_, "INSERT OR REPLACE INTO kv(key,value) VALUES(?,?)");
  if (st.prepare_rc() != SQLITE_OK) return error("kv put", st.prepare_rc());
  for (const auto& [k, v] : pairs) {
    sqlite3_bind_text(st.get(), 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    sqlite3_bind_text(st.get(), 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE) return error("kv put", rc);
  }
  return Status::ok();
}

Status SqliteStore::append(const std::vector<std::string>& bodies, int64_t created_ms) {
  if (bodies.empty()) return Status::ok();
  return append_and_put(bodies, created_ms, {});
}

Status SqliteStore::append_and_put(const std::vector<std::string>& bodies, int64_t created_ms,
                                   const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (bodies.empty() && pairs.empty()) return Status::ok();
  std::lock_guard<std::mutex> lock(mu_);
  Status s = begin();
  if (!s.is_ok()) return s;
  uint64_t added_bytes = 0;
  s = insert_bodies(bodies, created_ms, &added_bytes);
  if (s.is_ok()) s = put_pairs(pairs);
  if (!s.is_ok()) {
    rollback();
    return s;
  }
  const int64_t last = bodies.empty() ? 0 : sqlite3_last_insert_rowid(db_);
  s = commit();
  if (!s.is_ok()) return s;
  count_ += bodies.size();
  bytes_ += added_bytes;
  if (last > last_id_.load()) last_id_ = last;
  return Status::ok();
}

Result<std::vector<StoredEvent>> SqliteStore::read_oldest(std::size_t max_events,
                                                          std::size_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredEvent> out;
  Stmt st(db_,
          "SELECT id,body,created_ms,attempts,first_attempt_ms FROM events ORDER BY id LIMIT ?");
  if (st.prepare_rc() != SQLITE_OK) return error("read", st.prepare_rc());
  sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(max_events));
  std::size_t total = 0;
  for (;;) {
    int rc = st.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return error("read", rc);
    const char* body = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 1));
    std::size_t len = static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 1));
    if (!out.empty() && total + len > max_bytes) break;
    StoredEvent e;
    e.id = sqlite3_column_int64(st.get(), 0);
    e.body.assign(body ? body : "", len);
    e.created_ms = sqlite3_column_int64(st.get(), 2);
    e.attempts = sqlite3_column_int(st.get(), 3);
    e.first_attempt_ms = sqlite3_column_int64(st.get(), 4);
    total += len;
    out.push_back(std::move(e));
  }
  return out;
}

Status SqliteStore::mark_attempt(const std::vector<int64_t>& ids, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  RelaxedSync relaxed(*this);
  Status s = begin();
  if (!s.is_ok()) return s;
  {
    Stmt st(db_,
            "UPDATE events SET attempts=attempts+1,"
            " first_attempt_ms=CASE WHEN first_attempt_ms=0 THEN ?1 ELSE first_attempt_ms END"
            " WHERE id=?2");
    if (st.prepare_rc() != SQLITE_OK) s = error("claim", st.prepare_rc());
    for (std::size_t i = 0; s.is_ok() && i < ids.size(); ++i) {
      sqlite3_bind_int64(st.get(), 1, now_ms);
      sqlite3_bind_int64(st.get(), 2, ids[i]);
      int rc = st.step();
      st.reset();
      if (rc != SQLITE_DONE) s = error("claim", rc);
    }
  }
  if (!s.is_ok()) {
    rollback();
    return s;
  }
  return commit();
}

// Precondition: inside a transaction, mu_ held.
Status SqliteStore::delete_ids(const std::vector<int64_t>& ids) {
  Stmt st(db_, "DELETE FROM events WHERE id=? RETURNING size");
  if (st.prepare_rc() != SQLITE_OK) return error("delete", st.prepare_rc());
  for (int64_t id : ids) {
    sqlite3_bind_int64(st.get(), 1, id);
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      --count_;
      bytes_ -= static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
    }
    st.reset();
    if (rc != SQLITE_DONE) return error("delete", rc);
  }
  return Status::ok();
}

Status SqliteStore::remove(const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::ok();
  std::lock_guard<std::mutex> lock(mu_);
  RelaxedSync relaxed(*this);
  uint64_t c = count_, b = bytes_;
  Status s = begin();
  if (s.is_ok()) s = delete_ids(ids);
  if (s.is_ok()) s = commit();
  if (!s.is_ok()) {
    rollback();
    count_ = c;
    bytes_ = b;
  }
  return s;
}

Result<uint64_t> SqliteStore::remove_all() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = count_;
  Status s = exec("DELETE FROM events");
  if (!s.is_ok()) return s;
  count_ = 0;
  bytes_ = 0;
  return n;
}

Result<CapDrops> SqliteStore::enforce_caps(std::size_t max_events, std::size_t max_bytes,
                                           int64_t min_created_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  CapDrops drops;
  if (count_ <= max_events && bytes_ <= max_bytes) {
    // The common case costs one index probe, no write transaction.
    Stmt probe(db_, "SELECT 1 FROM events WHERE created_ms < ? LIMIT 1");
    if (probe.prepare_rc() != SQLITE_OK) return error("cap", probe.prepare_rc());
    sqlite3_bind_int64(probe.get(), 1, min_created_ms);
    int rc = probe.step();
    if (rc == SQLITE_DONE) return drops;
    if (rc != SQLITE_ROW) return error("cap", rc);
  }
  RelaxedSync relaxed(*this);
  uint64_t c0 = count_, b0 = bytes_;
  Status s = begin();
  if (!s.is_ok()) return s;
  auto run_delete = [&](Stmt& st, uint64_t& counter) -> Status {
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      ++counter;
      --count_;
      bytes_ -= static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
    }
    if (rc != SQLITE_DONE) return error("cap", rc);
    return Status::ok();
  };
  {
    Stmt st(db_, "DELETE FROM events WHERE created_ms < ? RETURNING size");
    sqlite3_bind_int64(st.get(), 1, min_created_ms);
    s = st.prepare_rc() == SQLITE_OK ? run_delete(st, drops.by_age) : error("cap", st.prepare_rc());
  }
  if (s.is_ok() && count_ > max_events) {
    Stmt st(db_,
            "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?) RETURNING "
            "size");
    sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(count_ - max_events));
    s = st.prepare_rc() == SQLITE_OK ? run_delete(st, drops.by_events)
                                     : error("cap", st.prepare_rc());
  }
  if (s.is_ok() && bytes_ > max_bytes) {
    uint64_t excess = bytes_ - max_bytes;
    int64_t last_id = 0;
    {
      Stmt sel(db_, "SELECT id,size FROM events ORDER BY id");
      uint64_t acc = 0;
      int rc;
      while (acc < excess && (rc = sel.step()) == SQLITE_ROW) {
        last_id = sqlite3_column_int64(sel.get(), 0);
        acc += static_cast<uint64_t>(sqlite3_column_int64(sel.get(), 1));
      }
    }
    Stmt st(db_, "DELETE FROM events WHERE id <= ? RETURNING size");
    sqlite3_bind_int64(st.get(), 1, last_id);
    s = st.prepare_rc() == SQLITE_OK ? run_delete(st, drops.by_bytes)
                                     : error("cap", st.prepare_rc());
  }
  if (s.is_ok() && drops.total() == 0) {
    rollback();
    return drops;
  }
  if (s.is_ok()) s = commit();
  if (!s.is_ok()) {
    rollback();
    count_ = c0;
    bytes_ = b0;
    return s;
  }
  return drops;
}

uint64_t SqliteStore::count() const { return count_.load(); }

uint64_t SqliteStore::bytes() const { return bytes_.load(); }

Result<std::optional<std::string>> SqliteStore::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT value FROM kv WHERE key=?");
  if (st.prepare_rc() != SQLITE_OK) return error("kv get", st.prepare_rc());
  sqlite3_bind_text(st.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return error("kv get", rc);
  const char* v = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
  return std::optional<std::string>(
      std::string(v ? v : "", static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0))));
}

Status SqliteStore::put(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = begin();
  if (!s.is_ok()) return s;
  s = put_pairs(pairs);
  if (!s.is_ok()) {
    rollback();
    return s;
  }
  return commit();
}

Result<std::string> SqliteStore::integrity_check() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "PRAGMA integrity_check");
  if (st.prepare_rc() != SQLITE_OK) return error("integrity_check", st.prepare_rc());
  std::string out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    if (!out.empty()) out += "\n";
    const char* t = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
    out += t ? t : "";
  }
  if (rc != SQLITE_DONE) return error("integrity_check", rc);
  return out;
}

}  // namespace tern
