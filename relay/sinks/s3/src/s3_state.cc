// S3State on SQLite. `objects` holds one row per sealed object until
// forget_through() drops it; `markers` one row per partition whose manifest
// and _SUCCESS marker are written. The ranges of the recorded objects are
// also kept in memory per partition, so covers() (asked once per replayed
// record) is a map look-up, not a query.
#include "s3_state.h"

#include <sqlite3.h>

#include <map>
#include <mutex>
#include <string_view>
#include <tuple>
#include <utility>

#include "tern/base/file.h"

namespace tern::relay::s3 {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS objects (
  key             TEXT PRIMARY KEY,
  source          TEXT NOT NULL,
  date            TEXT NOT NULL,
  hour            INTEGER NOT NULL,
  first_seq       INTEGER NOT NULL,
  last_seq        INTEGER NOT NULL,
  events          INTEGER NOT NULL,
  bytes           INTEGER NOT NULL,
  sha256          TEXT NOT NULL,
  min_received_at TEXT NOT NULL,
  max_received_at TEXT NOT NULL,
  staging_path    TEXT NOT NULL,
  uploaded        INTEGER NOT NULL DEFAULT 0,
  upload_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS objects_partition ON objects (source, date, hour, first_seq);
CREATE TABLE IF NOT EXISTS markers (
  source     TEXT NOT NULL,
  date       TEXT NOT NULL,
  hour       INTEGER NOT NULL,
  PRIMARY KEY (source, date, hour)
);
)sql";

constexpr const char* kColumns =
    "key, source, date, hour, first_seq, last_seq, events, bytes, sha256, min_received_at, "
    "max_received_at, staging_path, uploaded, upload_id";

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, std::string_view text) {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t n) {
    sqlite3_bind_int64(st_, i, n);
    return *this;
  }
  int step() { return sqlite3_step(st_); }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

int64_t i64(uint64_t v) { return static_cast<int64_t>(v); }

ObjectRecord read_object(const Stmt& s) {
  ObjectRecord o;
  o.key = s.text(0);
  o.partition.source = s.text(1);
  o.partition.date = s.text(2);
  o.partition.hour = static_cast<int>(s.integer(3));
  o.first_seq = static_cast<uint64_t>(s.integer(4));
  o.last_seq = static_cast<uint64_t>(s.integer(5));
  o.events = static_cast<uint64_t>(s.integer(6));
  o.bytes = static_cast<uint64_t>(s.integer(7));
  o.sha256_hex = s.text(8);
  o.min_received_at = s.text(9);
  o.max_received_at = s.text(10);
  o.staging_path = s.text(11);
  o.uploaded = s.integer(12) != 0;
  o.upload_id = s.text(13);
  return o;
}

}  // namespace

bool Partition::operator<(const Partition& o) const {
  return std::tie(source, date, hour) < std::tie(o.source, o.date, o.hour);
}
bool Partition::operator==(const Partition& o) const {
  return source == o.source && date == o.date && hour == o.hour;
}

struct S3State::Impl {
  std::string path;
  sqlite3* db = nullptr;
  std::mutex mu;
  // Recorded ranges per partition: first_seq -> last_seq.
  std::map<Partition, std::map<uint64_t, uint64_t>> ranges;

  ~Impl() {
    if (db) sqlite3_close(db);
  }

  Status error(const std::string& what) const {
    std::string msg = "s3 state " + path + ": " + what + ": " + sqlite3_errmsg(db);
    int primary = sqlite3_errcode(db) & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
    return Status::IOError(msg);
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::ok();
    std::string msg = "s3 state " + path + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
    return Status::IOError(msg);
  }

  // One statement that changes rows; `n` receives the rows changed.
  Status change(Stmt& s, const std::string& what, int* n = nullptr) {
    if (!s.ok()) return error("prepare " + what);
    if (s.step() != SQLITE_DONE) return error(what);
    if (n) *n = sqlite3_changes(db);
    return Status::ok();
  }

  Result<std::vector<ObjectRecord>> select(const std::string& where,
                                           const std::vector<std::string>& text_args,
                                           int64_t int_arg, bool with_int) {
    Stmt s(db, std::string("SELECT ") + kColumns + " FROM objects " + where);
    if (!s.ok()) return error("prepare select");
    int i = 1;
    for (const auto& a : text_args) s.bind(i++, a);
    if (with_int) s.bind(i, int_arg);
    std::vector<ObjectRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_object(s));
    if (rc != SQLITE_DONE) return error("select objects");
    return out;
  }
};

Result<std::unique_ptr<S3State>> S3State::open(const std::string& path) {
  std::unique_ptr<S3State> st(new S3State());
  st->impl_ = std::make_unique<Impl>();
  Impl& m = *st->impl_;
  m.path = path;
  Status dirs = base::make_dirs(base::parent_dir(path));
  if (!dirs) return dirs;
  int rc =
      sqlite3_open_v2(path.c_str(), &m.db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        "s3 state " + path + ": open: " + (m.db ? sqlite3_errmsg(m.db) : sqlite3_errstr(rc));
    return Status::IOError(msg);
  }
  sqlite3_busy_timeout(m.db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema}) {
    Status s = m.exec(sql);
    if (!s) return s;
  }
  auto all = m.select("", {}, 0, false);
  if (!all) return all.status();
  for (const ObjectRecord& o : *all) m.ranges[o.partition][o.first_seq] = o.last_seq;
  return st;
}

S3State::~S3State() = default;

Status S3State::record_sealed(const ObjectRecord& o) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  Stmt s(m.db, std::string("INSERT INTO objects (") + kColumns +
                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.bind(1, o.key)
      .bind(2, o.partition.source)
      .bind(3, o.partition.date)
      .bind(4, int64_t{o.partition.hour})
      .bind(5, i64(o.first_seq))
      .bind(6, i64(o.last_seq))
      .bind(7, i64(o.events))
      .bind(8, i64(o.bytes))
      .bind(9, o.sha256_hex)
      .bind(10, o.min_received_at)
      .bind(11, o.max_received_at)
      .bind(12, o.staging_path)
      .bind(13, int64_t{o.uploaded ? 1 : 0})
      .bind(14, o.upload_id);
  Status st = m.change(s, "record object " + o.key);
  if (!st) return st;
  m.ranges[o.partition][o.first_seq] = o.last_seq;
  return Status::ok();
}

Status S3State::mark_uploaded(const std::string& key) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Stmt s(impl_->db, "UPDATE objects SET uploaded = 1, upload_id = '' WHERE key = ?1");
  s.bind(1, key);
  int n = 0;
  Status st = impl_->change(s, "mark uploaded " + key, &n);
  if (!st) return st;
  if (n == 0) return Status::NotFound("s3 state: no object " + key);
  return Status::ok();
}

Status S3State::set_upload_id(const std::string& key, const std::string& upload_id) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Stmt s(impl_->db, "UPDATE objects SET upload_id = ?2 WHERE key = ?1");
  s.bind(1, key).bind(2, upload_id);
  int n = 0;
  Status st = impl_->change(s, "set upload id " + key, &n);
  if (!st) return st;
  if (n == 0) return Status::NotFound("s3 state: no object " + key);
  return Status::ok();
}

Result<std::vector<ObjectRecord>> S3State::pending_uploads() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->select("WHERE uploaded = 0 ORDER BY first_seq", {}, 0, false);
}

Result<bool> S3State::covers(const Partition& partition, uint64_t seq) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto p = impl_->ranges.find(partition);
  if (p == impl_->ranges.end()) return false;
  auto it = p->second.upper_bound(seq);  // the first range starting after seq
  if (it == p->second.begin()) return false;
  --it;
  return seq <= it->second;
}

Result<std::vector<ObjectRecord>> S3State::objects_of(const Partition& partition) {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->select("WHERE source = ?1 AND date = ?2 AND hour = ?3 ORDER BY first_seq",
                       {partition.source, partition.date}, partition.hour, true);
}

Result<std::vector<Partition>> S3State::partitions_without_marker() {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  Stmt s(m.db,
         "SELECT DISTINCT o.source, o.date, o.hour FROM objects o WHERE NOT EXISTS "
         "(SELECT 1 FROM markers k WHERE k.source = o.source AND k.date = o.date AND "
         "k.hour = o.hour) ORDER BY o.date, o.hour, o.source");
  if (!s.ok()) return m.error("prepare partitions");
  std::vector<Partition> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    Partition p;
    p.source = s.text(0);
    p.date = s.text(1);
    p.hour = static_cast<int>(s.integer(2));
    out.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return m.error("select partitions");
  return out;
}

Status S3State::mark_marker_written(const Partition& p) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Stmt s(impl_->db, "INSERT OR IGNORE INTO markers (source, date, hour) VALUES (?1, ?2, ?3)");
  s.bind(1, p.source).bind(2, p.date).bind(3, int64_t{p.hour});
  return impl_->change(s, "mark marker written");
}

Result<bool> S3State::marker_written(const Partition& p) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Stmt s(impl_->db, "SELECT 1 FROM markers WHERE source = ?1 AND date = ?2 AND hour = ?3");
  if (!s.ok()) return impl_->error("prepare marker");
  s.bind(1, p.source).bind(2, p.date).bind(3, int64_t{p.hour});
  int rc = s.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return impl_->error("select marker");
}

Status S3State::forget_through(uint64_t seq) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  // The marker rows stay (they are small): a marker is written once per hour.
  const std::string where =
      "WHERE uploaded = 1 AND last_seq <= ?1 AND EXISTS (SELECT 1 FROM markers k WHERE "
      "k.source = objects.source AND k.date = objects.date AND k.hour = objects.hour)";
  auto gone = m.select(where, {}, i64(seq), true);
  if (!gone) return gone.status();
  if (gone->empty()) return Status::ok();
  Stmt s(m.db, "DELETE FROM objects " + where);
  s.bind(1, i64(seq));
  Status st = m.change(s, "forget objects");
  if (!st) return st;
  for (const ObjectRecord& o : *gone) {
    auto p = m.ranges.find(o.partition);
    if (p == m.ranges.end()) continue;
    p->second.erase(o.first_seq);
    if (p->second.empty()) m.ranges.erase(p);
  }
  return Status::ok();
}

}  // namespace tern::relay::s3
