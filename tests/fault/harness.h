// The fault suite's harness: real tern-relay and tern-fault-driver child
// processes, the sink's NDJSON output, and the reconciliation of what the
// driver got accepted against what the sink holds.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.h"

namespace tern::fault {

namespace fs = std::filesystem;

// A child process with stdout/stderr going to a log file (or, for the relay,
// the first stdout line read through a pipe): tern::testing::ChildProcess
// plus the relay's listening address. The destructor kills it with -9.
class Child {
 public:
  // Starts `argv` (argv[0] is the binary). With `want_listen_line`, waits up
  // to 30 s for "listening on HOST:PORT" on stdout and stores it in address.
  bool start(const std::vector<std::string>& argv, const fs::path& log_file, bool want_listen_line);
  // Waits up to `limit` for the exit; the exit code, 128+signal, or -1 on timeout.
  int wait(std::chrono::milliseconds limit) { return process_.wait(limit); }
  bool running() { return process_.running(); }
  void kill9() { process_.kill9(); }
  // SIGTERM, then wait; on timeout killed with -9 and -1 returned.
  int terminate(std::chrono::milliseconds limit) { return process_.terminate(limit); }
  pid_t pid() const { return process_.pid(); }

  std::string address;
  std::string error;

 private:
  tern::testing::ChildProcess process_;
};

// tern-relay with a generated TOML config under `dir`.
struct RelayOptions {
  std::string write_key = "fault-key";
  std::string spool_max_bytes = "64MiB";
  std::string max_batch_bytes = "500KiB";
  long rate_limit_eps = 0;
  long rate_limit_burst = 0;
  std::string file_max_age = "1h";
  std::string dedup_window = "10m";
};

std::string relay_config(const fs::path& data_dir, const RelayOptions& o);

// Relay GET over loopback: the response body ("" on error).
inline std::string http_get(const std::string& host_port, const std::string& path) {
  return tern::testing::http_get(host_port, path);
}
// The sum of every /metrics sample whose name (with labels) contains `name`.
double metric_sum(const std::string& host_port, const std::string& name);
// Counters from /metrics whose name mentions "drop" or "rejected", non-zero only.
std::map<std::string, double> relay_drop_metrics(const std::string& host_port);

// What the sink holds: occurrences per fid (properties.fid), and every event.
struct SinkContents {
  std::map<std::string, int> count_by_fid;
  std::map<std::string, std::set<std::string>> message_ids_by_fid;
  std::vector<nlohmann::json> events;
  int unparseable_lines = 0;
};
SinkContents read_sink(const std::vector<fs::path>& dirs);

// Ids written by the driver, one per line (a torn last line is ignored).
std::set<std::string> read_ids(const fs::path& file);

// One scenario's outcome, written as JSON for the final table.
struct Outcome {
  std::string scenario;
  uint64_t sent = 0;        // track() calls made (known from the driver's counts)
  uint64_t accepted = 0;    // ids track() accepted
  uint64_t delivered = 0;   // accepted ids found in the sink
  uint64_t duplicates = 0;  // extra copies of accepted ids in the sink
  uint64_t duplicate_bound = 0;
  uint64_t missing = 0;  // accepted ids not in the sink
  uint64_t unexpected =
      0;  // fids in the sink the driver did not record (killed between track() and the write)
  std::map<std::string, uint64_t> sdk_dropped;  // by reason, non-zero
  std::map<std::string, double> relay_dropped;  // metric name → value, non-zero
  std::map<std::string, uint64_t> faults;       // injected faults by kind
  uint64_t explained = 0;                       // drops that account for missing events
  double seconds = 0;
  std::string note;

  nlohmann::json to_json() const;
};

// Compares accepted ids with the sink: fills delivered/missing/duplicates/unexpected.
void reconcile(const std::set<std::string>& accepted, const SinkContents& sink, Outcome* out);

// Adds the non-zero "dropped_by_reason" entries of an SDK Stats JSON to `out`.
void add_sdk_drops(const nlohmann::json& stats, std::map<std::string, uint64_t>* out);

// Writes <FAULT_RESULTS_DIR>/<scenario>.json.
void write_outcome(const Outcome& o);

}  // namespace tern::fault
