// ChildProcess: a program a test runs as a child process (tern-relay,
// tern-fault-driver, ...), with its output going to a log file and, when
// asked, its stdout readable line by line through a pipe.
//
// Every wait is bounded. The destructor kills the child with SIGKILL and
// reaps it, so a failed ASSERT never leaves a process behind. Not
// thread-safe: one thread drives one ChildProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tern::testing {

class ChildProcess {
 public:
  struct Options {
    // stderr is appended here, and stdout too unless pipe_stdout; "" leaves
    // both inherited from the test.
    std::string log_file;
    // stdout goes to a pipe read by read_line() (e.g. a "listening on" line).
    bool pipe_stdout = false;
    // "NAME=value" entries set in (or replacing those of) the inherited environment.
    std::vector<std::string> env;
    // The child's working directory; "" keeps the test's.
    std::string cwd;
  };

  ChildProcess() = default;
  ~ChildProcess() { kill9(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `argv` (argv[0] is the binary's path). False, with the reason in
  // error(), when the log file, the pipe or fork fails; a binary that cannot
  // be executed shows up as exit status 127 from wait().
  bool start(const std::vector<std::string>& argv, const Options& options);

  // Reads the next stdout line (without its '\n') into `line`, waiting up to
  // `timeout`. False on timeout, EOF or without pipe_stdout; `line` then
  // holds what was read of the line so far.
  bool read_line(std::chrono::milliseconds timeout, std::string* line);

  // Waits up to `limit` for the exit and reaps the child: its exit code,
  // 128 + the signal that ended it, or -1 on timeout or when none runs.
  int wait(std::chrono::milliseconds limit);
  // True while started and not yet exited (reaps it when it has).
  bool running();
  // Sends `signal` (SIGHUP, SIGSTOP, ...); false when no child runs.
  bool kill(int signal);
  // SIGKILL, then reaps it (bounded: 30 s). No-op when none runs.
  void kill9();
  // SIGTERM and waits up to `limit`: the exit status as wait() gives it;
  // on timeout the child is killed with SIGKILL and -1 is returned.
  int terminate(std::chrono::milliseconds limit);

  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }

 private:
  void reaped();

  pid_t pid_ = -1;
  int out_ = -1;  // read end of the stdout pipe
  std::string error_;
};

// One HTTP/1.1 GET over loopback with a plain socket (no client library, so
// a test can use it from any process state): the response body, or "" on any
// error or after 5 s. `host_port` is "127.0.0.1:PORT".
std::string http_get(const std::string& host_port, const std::string& path);

}  // namespace tern::testing
