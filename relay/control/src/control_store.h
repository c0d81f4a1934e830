// ControlStore: the control plane's state on disk, one SQLite database
// (<data_dir>/control/state.db, WAL, synchronous=FULL, mode 0600):
//   revisions  append-only: every committed state (JSON, secrets in clear)
//   objects    the current objects (kind, id, JSON, revision)
//   tokens     admin API tokens, by SHA-256 hash of their value
//   audit      who changed what, when (secrets redacted)
//   relays     the last report of every managed relay
// A commit is one transaction: a crash leaves the old or the new revision.
//
// Threads: every method is thread-safe (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control_state.h"
#include "tern/base/status.h"

namespace tern::relay::control {

struct RevisionInfo {
  int64_t revision = 0;
  std::string created_at;  // ISO-8601 UTC
  std::string token_id;    // who committed it ("bootstrap", "seed", "tok_...", "control")
  std::string summary;     // "sinks/archive changed; routes/rt_2 added"
};

struct AuditEntry {
  int64_t seq = 0;  // assigned by the store
  std::string at;
  std::string token_id;
  std::string action;    // "sinks.create", "state.replace", "revisions.restore", "tokens.create"
  std::string resource;  // "sinks/archive"
  int64_t revision = 0;  // the revision it committed; 0 for none (tokens)
  Json diff = Json::array();  // diff_to_json(); never holds secrets
};

struct TokenInfo {
  std::string id;  // "tok_..."
  std::string name;
  std::vector<std::string> scopes;  // "read", "write", "relay"
  std::string created_at;
};

struct RelayReport {
  std::string relay_id;
  Json labels = Json::object();
  int64_t applied_revision = 0;
  std::string status;  // "ok", "error"
  Json errors = Json::array();
  std::string last_seen;  // ISO-8601, set by the store's caller
  std::string version;
};

class ControlStore {
 public:
  // Opens or creates the database at `path` (its directory is created).
  // kIOError / kCorruption with the path and SQLite's message.
  static Result<std::unique_ptr<ControlStore>> open(const std::string& path);
  ~ControlStore();

  // The newest committed state; State{} (revision 0) when none.
  Result<State> head();
  // kNotFound for a revision never committed.
  Result<State> revision(int64_t rev);
  // Newest first, revisions < `before` (0: from the newest), at most `limit`.
  Result<std::vector<RevisionInfo>> revisions(int64_t before, std::size_t limit);

  // Commits `next` as revision head+1 when head is still `expected_head`
  // (kAborted otherwise, nothing written): next's object revisions are
  // stamped (stamp_revisions), the revision row, the current objects and
  // `audit` (their revision set to the new one) written in one transaction.
  // Returns the committed state.
  Result<State> commit(int64_t expected_head, State next, std::string_view token_id,
                       std::string_view summary, std::vector<AuditEntry> audit,
                       std::string_view now);
  // A managed relay's copy of the control plane's revision `state.revision`
  // (kept as is, even if not head+1); a no-op when head is already at or past it.
  Status mirror(const State& state, std::string_view now);

  // Newest first, entries with seq < `before` (0: from the newest).
  Result<std::vector<AuditEntry>> audit(int64_t before, std::size_t limit);
  Status append_audit(AuditEntry entry);

  Status add_token(const TokenInfo& token, std::string_view hash_hex);
  // The token whose value hashes to `hash_hex`, if any.
  Result<std::optional<TokenInfo>> find_token(std::string_view hash_hex);
  Result<std::vector<TokenInfo>> tokens();
  Status delete_token(std::string_view id);  // kNotFound

  Status upsert_relay(const RelayReport& report);
  Result<std::vector<RelayReport>> relays();  // by relay_id

 private:
  struct Impl;
  explicit ControlStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay::control
