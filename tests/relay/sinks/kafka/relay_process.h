// RelayProcess: tern-relay (TERN_RELAY_BIN) as a child process for the sink
// tests: port 0, its own data dir; the first stdout line gives the address.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace tern::relay::testing {

class RelayProcess {
 public:
  ~RelayProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait_exit(std::chrono::seconds(10));
    }
  }
  bool start(const std::vector<std::string>& args, const std::string& log_file) {
    int out[2];
    if (::pipe(out) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) ::dup2(log, 2);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<std::string> copy = args;
      std::string bin = TERN_RELAY_BIN;
      std::vector<char*> argv{bin.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      if (::read(out_, &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0) return false;
    address = line.substr(prefix.size());
    return true;
  }
  int terminate() {
    ::kill(pid_, SIGTERM);
    return wait_exit(std::chrono::seconds(30));
  }
  std::string address;

 private:
  int wait_exit(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ::close(out_);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  pid_t pid_ = -1;
  int out_ = -1;
};

}  // namespace tern::relay::testing
