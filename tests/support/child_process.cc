#include "child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace tern::testing {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The test's environment with `overrides` ("NAME=value") set or replaced.
std::vector<std::string> child_environment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env = overrides;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const std::string& o : overrides)
      overridden = overridden || o.compare(0, name.size() + 1, name + "=") == 0;
    if (!overridden) env.push_back(std::move(kv));
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

bool ChildProcess::start(const std::vector<std::string>& argv, const Options& options) {
  kill9();
  error_.clear();
  if (argv.empty()) {
    error_ = "no program to start";
    return false;
  }
  // Everything the child needs is prepared before fork: between fork and
  // exec a child of a threaded process may only make async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<std::string> env = child_environment(options.env);
  std::vector<char*> c_args = c_strings(args);
  std::vector<char*> c_env = c_strings(env);
  int log = -1;
  if (!options.log_file.empty()) {
    log = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
      error_ = "cannot open " + options.log_file + ": " + std::strerror(errno);
      return false;
    }
  }
  // O_CLOEXEC: no other child started meanwhile inherits this pipe (so EOF
  // arrives when this child exits); dup2 clears the flag on the child's fd 1.
  int out[2] = {-1, -1};
  if (options.pipe_stdout && ::pipe2(out, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    if (log >= 0) ::close(log);
    return false;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    if (options.pipe_stdout) {
      ::dup2(out[1], 1);
    } else if (log >= 0) {
      ::dup2(log, 1);
    }
    if (log >= 0) ::dup2(log, 2);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(127);
    ::execve(c_args[0], c_args.data(), c_env.data());
    ::_exit(127);
  }
  int fork_errno = errno;
  if (log >= 0) ::close(log);
  if (options.pipe_stdout) ::close(out[1]);
  if (pid_ < 0) {
    error_ = std::string("fork: ") + std::strerror(fork_errno);
    if (options.pipe_stdout) ::close(out[0]);
    return false;
  }
  out_ = out[0];
  return true;
}

bool ChildProcess::read_line(std::chrono::milliseconds timeout, std::string* line) {
  line->clear();
  auto deadline = SteadyClock::now() + timeout;
  while (out_ >= 0 && SteadyClock::now() < deadline) {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c;
    if (::read(out_, &c, 1) != 1) return false;
    if (c == '\n') return true;
    *line += c;
  }
  return false;
}

void ChildProcess::reaped() {
  pid_ = -1;
  if (out_ >= 0) ::close(out_);
  out_ = -1;
}

int ChildProcess::wait(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  auto deadline = SteadyClock::now() + limit;
  int status = 0;
  for (;;) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (SteadyClock::now() >= deadline) return -1;
    std::this_thread::sleep_for(5ms);
  }
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped();
    return false;
  }
  return true;
}

bool ChildProcess::kill(int signal) { return pid_ > 0 && ::kill(pid_, signal) == 0; }

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  (void)wait(30s);
}

int ChildProcess::terminate(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int rc = wait(limit);
  if (rc == -1) kill9();
  return rc;
}

std::string http_get(const std::string& host_port, const std::string& path) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr) != 1) return "";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  std::string resp;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      auto deadline = SteadyClock::now() + 5s;
      while (SteadyClock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[8192];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        resp.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

}  // namespace tern::testing
