#include "fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace tern::fault {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kIoTimeout = std::chrono::seconds(10);  // bound on any one read or write
constexpr std::size_t kMaxHead = 64 * 1024;

void reset_and_close(int fd) {
  if (fd < 0) return;
  linger l{1, 0};  // close() sends an RST instead of a FIN
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// Reads more bytes into `buf`; false on EOF, error, stop or timeout.
bool read_some(int fd, std::string* buf, const std::atomic<bool>& stopping,
               Clock::duration limit = kIoTimeout) {
  auto deadline = Clock::now() + limit;
  while (!stopping.load()) {
    if (Clock::now() >= deadline) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 50);
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    char tmp[16384];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  return false;
}

bool write_all(int fd, const char* p, std::size_t n, const std::atomic<bool>& stopping) {
  auto deadline = Clock::now() + kIoTimeout;
  while (n > 0 && !stopping.load() && Clock::now() < deadline) {
    pollfd pf{fd, POLLOUT, 0};
    int r = ::poll(&pf, 1, 50);
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return n == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One HTTP message (request or response) read from `fd`, using `buf` for
// bytes already read past the previous message. Empty `raw` on EOF/error.
struct Message {
  std::string raw;  // head + body
  std::size_t head_len = 0;
  bool close = false;  // "Connection: close"
  bool ok = false;
};

Message read_message(int fd, std::string* buf, const std::atomic<bool>& stopping,
                     Clock::duration first_byte_limit) {
  Message m;
  std::size_t end;
  bool first = true;
  while ((end = buf->find("\r\n\r\n")) == std::string::npos) {
    if (buf->size() > kMaxHead) return m;
    if (!read_some(fd, buf, stopping, first && buf->empty() ? first_byte_limit : kIoTimeout))
      return m;
    first = false;
  }
  m.head_len = end + 4;
  std::string head = lower(buf->substr(0, m.head_len));
  if (head.find("transfer-encoding:") != std::string::npos) return m;  // not spoken here
  std::size_t body = 0;
  auto cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) body = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
  m.close = head.find("\r\nconnection: close") != std::string::npos;
  while (buf->size() < m.head_len + body) {
    if (!read_some(fd, buf, stopping)) return m;
  }
  m.raw = buf->substr(0, m.head_len + body);
  buf->erase(0, m.head_len + body);
  m.ok = true;
  return m;
}

int connect_to(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

void sleep_unless_stopping(Clock::duration d, const std::atomic<bool>& stopping) {
  auto deadline = Clock::now() + d;
  while (!stopping.load() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
}

}  // namespace

FaultProxy::FaultProxy(uint32_t seed) : rng_(seed) {}

FaultProxy::~FaultProxy() { stop(); }

bool FaultProxy::start(const std::string& upstream_host_port) {
  set_upstream(upstream_host_port);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
  return true;
}

void FaultProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

std::string FaultProxy::address() const { return "127.0.0.1:" + std::to_string(port_); }

void FaultProxy::set_upstream(const std::string& host_port) {
  std::lock_guard<std::mutex> lock(mu_);
  upstream_ = host_port;
}

void FaultProxy::set_plan(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  plan_ = plan;
}

std::map<std::string, uint64_t> FaultProxy::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void FaultProxy::count(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_[what];
}

int FaultProxy::pick(int range) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::uniform_int_distribution<int>(0, range - 1)(rng_);
}

void FaultProxy::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FaultProxy::serve(int client) {
  int upstream = -1;
  std::string client_buf, upstream_buf;
  auto finish = [&](bool rst) {
    if (rst) {
      reset_and_close(client);
      reset_and_close(upstream);
    } else {
      ::close(client);
      if (upstream >= 0) ::close(upstream);
    }
  };
  while (!stopping_.load()) {
    // An idle keep-alive connection may wait as long as the client likes.
    Message req = read_message(client, &client_buf, stopping_, std::chrono::hours(1));
    if (!req.ok) return finish(false);
    FaultPlan plan;
    std::string target;
    {
      std::lock_guard<std::mutex> lock(mu_);
      plan = plan_;
      target = upstream_;
      ++counters_["requests"];
    }
    auto fires = [&](int pm) { return pm > 0 && pick(1000) < pm; };
    if (plan.refuse) {
      count("refused");
      return finish(true);
    }
    bool reset_mid = fires(plan.reset_mid_request_pm);
    bool lose = !reset_mid && fires(plan.lose_response_pm);
    bool stall = !reset_mid && !lose && fires(plan.stall_pm);
    if (stall) {
      // Half of the stalls hold the request back; the other half let the
      // relay answer and hold the answer back (the client times out on an
      // accepted batch and sends it again).
      if (pick(2) == 0) {
        count("stalled_request");
      } else {
        count("stalled_response");
        if (upstream < 0) upstream = connect_to(target);
        if (upstream >= 0 && write_all(upstream, req.raw.data(), req.raw.size(), stopping_)) {
          (void)read_message(upstream, &upstream_buf, stopping_, kIoTimeout);
        }
      }
      sleep_unless_stopping(plan.stall, stopping_);
      return finish(false);
    }
    if (!reset_mid && !lose) {
      for (const SynthRule& rule : plan.synth) {
        if (!fires(rule.per_mille)) continue;
        count("synth_" + std::to_string(rule.status));
        std::string body = "{\"error\":\"injected by the fault proxy\"}";
        std::string resp =
            "HTTP/1.1 " + std::to_string(rule.status) + " " + reason_phrase(rule.status) +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n";
        if (rule.retry_after_s >= 0)
          resp += "Retry-After: " + std::to_string(rule.retry_after_s) + "\r\n";
        resp += "\r\n" + body;
        write_all(client, resp.data(), resp.size(), stopping_);
        return finish(false);
      }
    }
    if (fires(plan.delay_pm) && plan.max_delay.count() > 0) {
      count("delayed");
      sleep_unless_stopping(
          std::chrono::milliseconds(pick(static_cast<int>(plan.max_delay.count()) + 1)), stopping_);
    }
    if (upstream < 0) upstream = connect_to(target);
    if (upstream < 0) {
      count("upstream_down");
      return finish(true);
    }
    if (reset_mid) {
      // Everything but the last part of the body reaches the relay; then both
      // sides see a reset.
      std::size_t part = req.head_len + (req.raw.size() - req.head_len) / 2;
      write_all(upstream, req.raw.data(), part, stopping_);
      count("reset_mid_request");
      return finish(true);
    }
    if (!write_all(upstream, req.raw.data(), req.raw.size(), stopping_)) {
      count("upstream_error");
      return finish(true);
    }
    Message resp = read_message(upstream, &upstream_buf, stopping_, kIoTimeout);
    if (!resp.ok) {
      count("upstream_error");
      return finish(true);
    }
    if (lose) {
      count("lost_response");
      return finish(true);
    }
    count("forwarded");
    if (!write_all(client, resp.raw.data(), resp.raw.size(), stopping_) || resp.close ||
        req.close) {
      return finish(false);
    }
  }
  finish(false);
}

}  // namespace tern::fault
