// ControlStore on SQLite. Every committed state is one row of `revisions`
// (the whole document, so a revision can be read back or restored as it
// was); `objects` mirrors the head object by object. Both change in one
// BEGIN IMMEDIATE transaction, the expected head checked inside it.
#include "control_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "tern/base/file.h"

namespace tern::relay::control {
namespace {

constexpr int64_t kSchemaVersion = 1;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS revisions (
  revision   INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  token_id   TEXT NOT NULL,
  summary    TEXT NOT NULL,
  state      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
  kind     TEXT NOT NULL,
  id       TEXT NOT NULL,
  position INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  body     TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS tokens (
  id         TEXT PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  scopes     TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  at       TEXT NOT NULL,
  token_id TEXT NOT NULL,
  action   TEXT NOT NULL,
  resource TEXT NOT NULL,
  revision INTEGER NOT NULL,
  diff     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS relays (
  relay_id         TEXT PRIMARY KEY,
  labels           TEXT NOT NULL,
  applied_revision INTEGER NOT NULL,
  status           TEXT NOT NULL,
  errors           TEXT NOT NULL,
  last_seen        TEXT NOT NULL,
  version          TEXT NOT NULL
);
)sql";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  int prepare_rc() const { return rc_; }
  Stmt& bind(int i, std::string_view text) {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t n) {
    sqlite3_bind_int64(st_, i, n);
    return *this;
  }
  int step() { return sqlite3_step(st_); }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
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

Json parse_json(const std::string& text, Json fallback) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

}  // namespace

struct ControlStore::Impl {
  std::string path;
  sqlite3* db = nullptr;
  std::mutex mu;
  State head;                 // the newest committed state, kept in memory
  int64_t data_version = -1;  // PRAGMA data_version when `head` was read

  ~Impl() {
    if (db) sqlite3_close(db);
  }

  Status error(const std::string& what, int rc) const {
    std::string msg = "control store " + path + ": " + what + ": " +
                      (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
    return Status::IOError(msg);
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::ok();
    std::string msg = "control store " + path + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
    return Status::IOError(msg);
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // Runs `body` in BEGIN IMMEDIATE .. COMMIT; rolls back on any failure.
  template <class Body>
  Status transaction(Body body) {
    Status s = exec("BEGIN IMMEDIATE");
    if (!s) return s;
    s = body();
    if (s) s = exec("COMMIT");
    if (!s) rollback();
    return s;
  }

  Result<State> load(int64_t rev) {
    Stmt st(db, rev > 0 ? "SELECT state FROM revisions WHERE revision = ?"
                        : "SELECT state FROM revisions ORDER BY revision DESC LIMIT 1");
    if (st.prepare_rc() != SQLITE_OK) return error("read revision", st.prepare_rc());
    if (rev > 0) st.bind(1, rev);
    int rc = st.step();
    if (rc == SQLITE_DONE) {
      if (rev > 0) return Status::NotFound("no revision " + std::to_string(rev));
      return State{};
    }
    if (rc != SQLITE_ROW) return error("read revision", rc);
    Json doc = Json::parse(st.text(0), nullptr, false);
    if (doc.is_discarded()) {
      return Status::Corruption("control store " + path + ": revision " + std::to_string(rev) +
                                " is not JSON");
    }
    auto state = State::from_json(doc);
    if (!state) {
      return Status::Corruption("control store " + path +
                                ": a stored revision is not a state: " + state.status().message());
    }
    return state;
  }

  // The revision row and the objects for `state`, inside a transaction.
  Status write_state(const State& state, std::string_view token_id, std::string_view summary,
                     std::string_view now) {
    {
      Stmt st(db,
              "INSERT INTO revisions(revision, created_at, token_id, summary, state) "
              "VALUES(?, ?, ?, ?, ?)");
      if (st.prepare_rc() != SQLITE_OK) return error("insert revision", st.prepare_rc());
      st.bind(1, state.revision).bind(2, now).bind(3, token_id).bind(4, summary);
      st.bind(5, state.to_json(false).dump());
      int rc = st.step();
      if (rc != SQLITE_DONE) return error("insert revision", rc);
    }
    if (Status s = exec("DELETE FROM objects"); !s) return s;
    Stmt st(db, "INSERT INTO objects(kind, id, position, revision, body) VALUES(?, ?, ?, ?, ?)");
    if (st.prepare_rc() != SQLITE_OK) return error("insert object", st.prepare_rc());
    const std::pair<const char*, const Json*> kinds[] = {{"sources", &state.sources},
                                                         {"sinks", &state.sinks},
                                                         {"routes", &state.routes},
                                                         {"suppressions", &state.suppressions}};
    const char* keys[] = {"id", "name", "id", "user_id"};
    for (int k = 0; k < 4; ++k) {
      const Json& list = *kinds[k].second;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const Json& o = list[i];
        std::string id = o.value(keys[k], std::string());
        st.bind(1, kinds[k].first).bind(2, id).bind(3, static_cast<int64_t>(i));
        st.bind(4, o.value("revision", int64_t{0})).bind(5, o.dump());
        int rc = st.step();
        st.reset();
        if (rc != SQLITE_DONE) return error("insert object", rc);
      }
    }
    return Status::ok();
  }

  Status insert_audit(const AuditEntry& e) {
    Stmt st(db,
            "INSERT INTO audit(at, token_id, action, resource, revision, diff) "
            "VALUES(?, ?, ?, ?, ?, ?)");
    if (st.prepare_rc() != SQLITE_OK) return error("insert audit", st.prepare_rc());
    st.bind(1, e.at).bind(2, e.token_id).bind(3, e.action).bind(4, e.resource);
    st.bind(5, e.revision).bind(6, e.diff.dump());
    int rc = st.step();
    if (rc != SQLITE_DONE) return error("insert audit", rc);
    return Status::ok();
  }

  // user_version 1: this layout. A newer one is a newer relay's database.
  Status check_schema_version() {
    Stmt st(db, "PRAGMA user_version");
    if (st.prepare_rc() != SQLITE_OK) return error("user_version", st.prepare_rc());
    int rc = st.step();
    if (rc != SQLITE_ROW) return error("user_version", rc);
    int64_t version = st.integer(0);
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition("control store " + path + ": schema version " +
                                        std::to_string(version) +
                                        " was written by a newer tern-relay");
    }
    if (version == kSchemaVersion) return Status::ok();
    return exec("PRAGMA user_version = 1");
  }

  // Reloads `head` when another connection (another process) committed
  // since it was read: PRAGMA data_version moves only for those.
  Status refresh_head() {
    Stmt st(db, "PRAGMA data_version");
    if (st.prepare_rc() != SQLITE_OK) return error("data_version", st.prepare_rc());
    int rc = st.step();
    if (rc != SQLITE_ROW) return error("data_version", rc);
    int64_t version = st.integer(0);
    if (version == data_version) return Status::ok();
    auto loaded = load(0);
    if (!loaded) return loaded.status();
    head = std::move(loaded.value());
    data_version = version;
    return Status::ok();
  }

  Result<int64_t> newest() {
    Stmt st(db, "SELECT coalesce(max(revision), 0) FROM revisions");
    if (st.prepare_rc() != SQLITE_OK) return error("read head", st.prepare_rc());
    int rc = st.step();
    if (rc != SQLITE_ROW) return error("read head", rc);
    return st.integer(0);
  }
};

ControlStore::ControlStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlStore::~ControlStore() = default;

Result<std::unique_ptr<ControlStore>> ControlStore::open(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("control store: the path is empty");
  if (Status s = base::make_dirs(base::parent_dir(path)); !s) return s;
  // Created 0600 before SQLite opens it (its -wal and -shm files take the
  // same mode): it holds secrets in clear.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("control store: cannot open " + path + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
  ::close(fd);

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  int rc =
      sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return impl->error("open", rc);
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);
  Status s = impl->exec("PRAGMA journal_mode=WAL");
  if (s) s = impl->exec("PRAGMA synchronous=FULL");
  if (s) s = impl->exec(kSchema);
  if (s) s = impl->check_schema_version();
  if (s) s = impl->refresh_head();
  if (!s) return s;
  return std::unique_ptr<ControlStore>(new ControlStore(std::move(impl)));
}

Result<State> ControlStore::head() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (Status s = impl_->refresh_head(); !s) return s;
  return impl_->head;
}

Result<State> ControlStore::revision(int64_t rev) {
  if (rev <= 0) return Status::NotFound("no revision " + std::to_string(rev));
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->load(rev);
}

Result<std::vector<RevisionInfo>> ControlStore::revisions(int64_t before, std::size_t limit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db,
          "SELECT revision, created_at, token_id, summary FROM revisions "
          "WHERE ?1 <= 0 OR revision < ?1 ORDER BY revision DESC LIMIT ?2");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("list revisions", st.prepare_rc());
  st.bind(1, before).bind(2, static_cast<int64_t>(limit));
  std::vector<RevisionInfo> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back({st.integer(0), st.text(1), st.text(2), st.text(3)});
  }
  if (rc != SQLITE_DONE) return impl_->error("list revisions", rc);
  return out;
}

Result<State> ControlStore::commit(int64_t expected_head, State next, std::string_view token_id,
                                   std::string_view summary, std::vector<AuditEntry> audit,
                                   std::string_view now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  Status s = d.transaction([&]() -> Status {
    auto newest = d.newest();
    if (!newest) return newest.status();
    if (*newest != expected_head) {
      return Status::Aborted("the state changed: the head is revision " + std::to_string(*newest) +
                             ", not " + std::to_string(expected_head) +
                             " (read it again and retry)");
    }
    State prev;
    if (*newest == d.head.revision) {
      prev = d.head;
    } else {
      auto loaded = d.load(0);
      if (!loaded) return loaded.status();
      prev = std::move(loaded.value());
    }
    stamp_revisions(prev, &next, *newest + 1);
    std::string text = summary.empty() ? summarize(diff(prev, next)) : std::string(summary);
    if (Status w = d.write_state(next, token_id, text, now); !w) return w;
    for (AuditEntry& e : audit) {
      e.revision = next.revision;
      if (Status w = d.insert_audit(e); !w) return w;
    }
    return Status::ok();
  });
  if (!s) return s;
  d.head = next;
  return next;
}

Status ControlStore::mirror(const State& state, std::string_view now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  bool wrote = false;
  Status s = d.transaction([&]() -> Status {
    auto newest = d.newest();
    if (!newest) return newest.status();
    if (*newest >= state.revision) return Status::ok();
    std::string summary = summarize(diff(d.head, state));
    wrote = true;
    return d.write_state(state, "control", summary, now);
  });
  if (s && wrote) d.head = state;
  return s;
}

Result<std::vector<AuditEntry>> ControlStore::audit(int64_t before, std::size_t limit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db,
          "SELECT seq, at, token_id, action, resource, revision, diff FROM audit "
          "WHERE ?1 <= 0 OR seq < ?1 ORDER BY seq DESC LIMIT ?2");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("list audit", st.prepare_rc());
  st.bind(1, before).bind(2, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    AuditEntry e;
    e.seq = st.integer(0);
    e.at = st.text(1);
    e.token_id = st.text(2);
    e.action = st.text(3);
    e.resource = st.text(4);
    e.revision = st.integer(5);
    e.diff = parse_json(st.text(6), Json::array());
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return impl_->error("list audit", rc);
  return out;
}

Status ControlStore::append_audit(AuditEntry entry) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->insert_audit(entry);
}

Status ControlStore::add_token(const TokenInfo& token, std::string_view hash_hex) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db,
          "INSERT INTO tokens(id, hash, name, scopes, created_at) VALUES(?, ?, ?, ?, ?)");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("insert token", st.prepare_rc());
  st.bind(1, token.id).bind(2, hash_hex).bind(3, token.name);
  st.bind(4, Json(token.scopes).dump()).bind(5, token.created_at);
  int rc = st.step();
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return Status::InvalidArgument("token \"" + token.id + "\" (or its value) already exists");
  }
  if (rc != SQLITE_DONE) return impl_->error("insert token", rc);
  return Status::ok();
}

namespace {
TokenInfo token_row(const Stmt& st) {
  TokenInfo t;
  t.id = st.text(0);
  t.name = st.text(1);
  Json scopes = parse_json(st.text(2), Json::array());
  for (const Json& s : scopes) {
    if (s.is_string()) t.scopes.push_back(s.get<std::string>());
  }
  t.created_at = st.text(3);
  return t;
}
}  // namespace

Result<std::optional<TokenInfo>> ControlStore::find_token(std::string_view hash_hex) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db, "SELECT id, name, scopes, created_at FROM tokens WHERE hash = ?");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("find token", st.prepare_rc());
  st.bind(1, hash_hex);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<TokenInfo>();
  if (rc != SQLITE_ROW) return impl_->error("find token", rc);
  return std::optional<TokenInfo>(token_row(st));
}

Result<std::vector<TokenInfo>> ControlStore::tokens() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db, "SELECT id, name, scopes, created_at FROM tokens ORDER BY created_at, id");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("list tokens", st.prepare_rc());
  std::vector<TokenInfo> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(token_row(st));
  if (rc != SQLITE_DONE) return impl_->error("list tokens", rc);
  return out;
}

Status ControlStore::delete_token(std::string_view id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db, "DELETE FROM tokens WHERE id = ?");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("delete token", st.prepare_rc());
  st.bind(1, id);
  int rc = st.step();
  if (rc != SQLITE_DONE) return impl_->error("delete token", rc);
  if (sqlite3_changes(impl_->db) == 0) {
    return Status::NotFound("no token \"" + std::string(id) + "\"");
  }
  return Status::ok();
}

Status ControlStore::upsert_relay(const RelayReport& report) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db,
          "INSERT INTO relays(relay_id, labels, applied_revision, status, errors, last_seen, "
          "version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(relay_id) DO UPDATE SET "
          "labels = ?2, applied_revision = ?3, status = ?4, errors = ?5, last_seen = ?6, "
          "version = ?7");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("upsert relay", st.prepare_rc());
  st.bind(1, report.relay_id).bind(2, report.labels.dump()).bind(3, report.applied_revision);
  st.bind(4, report.status).bind(5, report.errors.dump()).bind(6, report.last_seen);
  st.bind(7, report.version);
  int rc = st.step();
  if (rc != SQLITE_DONE) return impl_->error("upsert relay", rc);
  return Status::ok();
}

Result<std::vector<RelayReport>> ControlStore::relays() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt st(impl_->db,
          "SELECT relay_id, labels, applied_revision, status, errors, last_seen, version "
          "FROM relays ORDER BY relay_id");
  if (st.prepare_rc() != SQLITE_OK) return impl_->error("list relays", st.prepare_rc());
  std::vector<RelayReport> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    RelayReport r;
    r.relay_id = st.text(0);
    r.labels = parse_json(st.text(1), Json::object());
    r.applied_revision = st.integer(2);
    r.status = st.text(3);
    r.errors = parse_json(st.text(4), Json::array());
    r.last_seen = st.text(5);
    r.version = st.text(6);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return impl_->error("list relays", rc);
  return out;
}

}  // namespace tern::relay::control
