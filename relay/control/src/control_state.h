// The control plane's desired state: the pipeline (sources with their write
// keys, sinks, routes, suppressions) as JSON objects in the admin API's
// shapes (docs/control-plane.md), with secrets in clear. Pure functions: no
// I/O, no clock (times are passed in).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/base/status.h"
#include "tern/relay/config.h"

namespace tern::relay::control {

using Json = nlohmann::json;

struct State {
  int64_t revision = 0;               // 0: nothing committed yet
  Json sources = Json::array();       // {"id", "ack_mode", ..., "write_keys": [...], "revision"}
  Json sinks = Json::array();         // {"name", "type", <TOML keys>..., "revision"}
  Json routes = Json::array();        // {"id", "sources", "types", "sinks", "revision"}
  Json suppressions = Json::array();  // {"user_id", "reason", "created_at", "revision"}

  // {"revision": N, "sources": [...], ...}; `redact`: secrets as fingerprints.
  Json to_json(bool redact) const;
  // The inverse of to_json(false). kInvalidArgument naming the field for a
  // document that is not shaped as a state (not for values TOML would refuse:
  // to_relay_config() checks those).
  static Result<State> from_json(const Json& document);
};

// One validation error, for the API's `details` list.
struct FieldError {
  std::string resource;  // "sinks/kafka-main", "sources/web", "routes/rt_1", "state"
  std::string field;     // the key at fault ("brokers"), may be empty
  std::string message;   // what a user can act on
};
// `sinks["kafka-main"].brokers: must not be empty`, for logs and Status messages.
std::string to_string(const FieldError& error);
// A sink factory's (or the sink registry's) error, `sink "x" (kafka): brokers
// is required`, as a FieldError on "sinks/x" with the key when the message
// names one ("brokers", "is required"); the whole message otherwise. For
// Applier::validate, which builds each sink.
FieldError sink_field_error(std::string_view sink_name, const Status& status);

// The whole relay configuration: `base`'s process settings (data_dir, server,
// limits, spool, log) with the pipeline of `state`. Validates every resource
// with the same checks as the TOML file (unknown keys, bad durations, routes
// naming unknown sources/sinks, duplicate write keys, ...). On failure every
// error found is appended to `errors` (when given) and the first is returned
// (kInvalidArgument, its message as to_string() words it). Sink settings are
// checked as the file reader checks them; the type-specific ones only when
// the sink is built (sink_field_error). Unlike a file, the state is the whole
// pipeline: no default sink or route is added (state_from_config spells the
// file's defaults out).
Result<RelayConfig> to_relay_config(const State& state, const RelayConfig& base,
                                    std::vector<FieldError>* errors = nullptr);

// The state a TOML file (or the embedded default) describes, as revision 0
// objects: write keys get ids, routes get ids ("rt_1", ...). `now` is the
// ISO-8601 time written as created_at.
State state_from_config(const RelayConfig& config, std::string_view now);

// What changed between two states, per resource, ignoring `revision` fields.
struct DiffEntry {
  std::string op;                   // "add", "change", "remove"
  std::string resource;             // "sinks/archive"
  std::vector<std::string> fields;  // for "change": the top-level keys that differ
};
std::vector<DiffEntry> diff(const State& from, const State& to);
// [{"op", "resource", "fields"}] ("fields" empty but for "change").
Json diff_to_json(const std::vector<DiffEntry>& diff);
// "sinks/archive changed; routes/rt_2 added" ("no change" for none), for
// RevisionInfo::summary.
std::string summarize(const std::vector<DiffEntry>& diff);

// Sets `revision` = `rev` on every object of `next` that differs from (or is
// absent in) `prev`, keeps the old revision of the others, and next->revision = rev.
void stamp_revisions(const State& prev, State* next, int64_t rev);

// Secrets (in sinks only: write keys are shown, as apps embed them). A sink key is secret when its
// last dotted part is password, secret, secret_key, secret_access_key, token or api_key, or it is
// under "headers." (e.g. "headers.Authorization").
bool is_secret_key(std::string_view key);
std::string fingerprint(std::string_view secret);  // "sha256:" + 12 hex digits
Json redact_sink(const Json& sink);                // secrets replaced by their fingerprints
// For each secret of `incoming` whose value is the fingerprint of the same
// key's value in `stored` (may be null), puts the stored value back.
void keep_fingerprinted_secrets(Json* incoming, const Json* stored);

// Tokens and keys: `prefix` + 32 random base62 characters from a CSPRNG.
std::string random_secret(std::string_view prefix);
std::string sha256_hex(std::string_view data);  // 64 lowercase hex digits

}  // namespace tern::relay::control
