// RelayProcess: tern-relay (the one built with the tests) as a child process,
// as a user runs it: from command-line flags or a TOML config, listening on
// the port it was told (port 0: one the kernel picks). start() returns once
// the relay printed "listening on HOST:PORT", its first stdout line.
//
// The destructor kills it with SIGKILL; terminate() is the graceful stop
// (SIGTERM: drain, exit 0). Not thread-safe: one thread drives one relay.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "child_process.h"

namespace tern::testing {

class RelayProcess {
 public:
  // How long start() waits for the listening line (the relay opens its spool
  // and sinks first; under ASan on a loaded machine that can take seconds).
  static constexpr std::chrono::seconds kStartTimeout{30};
  static constexpr std::chrono::seconds kStopTimeout{30};

  // `binary`: the tern-relay to run; by default the one of this build.
  explicit RelayProcess(std::string binary = default_binary()) : binary_(std::move(binary)) {}

  // Runs `binary args...` with stderr (the relay's JSON log) appended to
  // `log_file` and `env` ("NAME=value") added to its environment. True once
  // it listens; false, with the reason in error(), otherwise.
  bool start(const std::vector<std::string>& args, const std::filesystem::path& log_file,
             const std::vector<std::string>& env = {});
  // Writes `toml` to `config_file`, then runs `--config config_file`.
  bool start_with_config(const std::filesystem::path& config_file, const std::string& toml,
                         const std::filesystem::path& log_file);

  // The working directory of the next start() (relative paths in its
  // config resolve there); "" keeps the test's.
  void set_working_dir(const std::filesystem::path& dir) { working_dir_ = dir.string(); }

  // For a relay started with --admin-listen: reads stdout lines up to
  // "admin listening on HOST:PORT" (at most `timeout`). True with the
  // address in admin_address(); the lines read before it (e.g. "admin token:
  // ...") are kept in other_lines().
  bool read_admin_address(std::chrono::milliseconds timeout = kStartTimeout);
  const std::string& admin_address() const { return admin_address_; }
  const std::vector<std::string>& other_lines() const { return other_lines_; }

  // "HOST:PORT" and the port it listens on (after a successful start()).
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  // The body of GET /metrics (Prometheus text); "" when it does not answer.
  std::string metrics() const { return http_get(address_, "/metrics"); }

  // Sends `signal` (SIGHUP reloads the config); false when it is not running.
  bool kill(int signal) { return process_.kill(signal); }
  // SIGKILL and reap: a crash, as far as the relay can tell.
  void kill9() { process_.kill9(); }
  // Waits up to `limit` for the exit: its code, 128 + signal, or -1.
  int wait(std::chrono::milliseconds limit) { return process_.wait(limit); }
  // SIGTERM and wait: the exit code (0: drained cleanly); on timeout it is
  // killed with SIGKILL and -1 is returned.
  int terminate(std::chrono::milliseconds limit = kStopTimeout) {
    return process_.terminate(limit);
  }
  bool running() { return process_.running(); }

  const std::string& error() const { return error_; }
  static std::string default_binary();

 private:
  std::string binary_;
  ChildProcess process_;
  std::string address_;
  uint16_t port_ = 0;
  std::string working_dir_;
  std::string admin_address_;
  std::vector<std::string> other_lines_;
  std::string error_;
};

// Reads `child`'s first stdout line (it must have been started with
// pipe_stdout) and expects tern-relay's "listening on HOST:PORT". True with
// HOST:PORT in `address`; false with the reason (naming `log_file`, where the
// relay's log explains it) in `error` when the line does not come in `timeout`.
bool read_listening_address(ChildProcess& child, std::chrono::milliseconds timeout,
                            const std::string& log_file, std::string* address, std::string* error);

}  // namespace tern::testing
