// What the AWS credential tests share (aws_credentials_test.cc,
// aws_sts_test.cc): a fake HTTP endpoint standing in for the container
// credentials endpoint, IMDS and STS errors; an injected environment and
// clock; and small helpers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws_credentials.h"
#include "tern/base/iso8601.h"

namespace tern::relay::s3::aws_test {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;

// ---- a fake HTTP endpoint (container credentials, IMDS, STS errors) ----

struct SeenRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
};

// Serves one connection at a time on 127.0.0.1 (a free port), answering
// every request with what the handler says and closing the connection.
class FakeHttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "fake server: bind/listen failed";
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::size_t count(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (const auto& r : seen_) n += r.path == path;
    return n;
  }
  void set_handler(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  bool read_more(int c, std::string& buf) {
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char tmp[4096];
    ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  void handle(int c) {
    std::string buf;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(c, buf)) return;
    }
    SeenRequest r;
    std::string head = buf.substr(0, end);
    std::size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    r.method = first.substr(0, first.find(' '));
    r.path = first.substr(r.method.size() + 1, first.rfind(' ') - r.method.size() - 1);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers[name] = line.substr(v);
      }
      pos = next + 2;
    }
    std::size_t length = 0;
    if (r.headers.count("content-length")) length = std::stoul(r.headers["content-length"]);
    r.body = buf.substr(end + 4);
    while (r.body.size() < length) {
      if (!read_more(c, r.body)) break;
    }
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(r);
      handler = handler_;
    }
    Reply reply = handler(r);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                      " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nConnection: close\r\n\r\n" + reply.body;
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

// A port nothing listens on (bound, then closed).
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---- injected environment and clock ----

struct World {
  std::shared_ptr<std::map<std::string, std::string>> vars =
      std::make_shared<std::map<std::string, std::string>>();
  std::shared_ptr<TimePoint> now = std::make_shared<TimePoint>(SysClock::now());

  // Every chain here starts with IMDS off and no home directory, so that
  // the machine's own ~/.aws or EC2 role never leaks into a test.
  World() {
    set("AWS_EC2_METADATA_DISABLED", "true");
    set("HOME", "/nonexistent-tern-test-home");
  }
  void set(const std::string& name, const std::string& value) { (*vars)[name] = value; }
  void unset(const std::string& name) { vars->erase(name); }

  CredentialOptions options() const {
    CredentialOptions o;
    auto v = vars;
    o.getenv = [v](const char* name) -> const char* {
      auto it = v->find(name);
      return it == v->end() ? nullptr : it->second.c_str();
    };
    auto n = now;
    o.now = [n] { return *n; };
    o.timeout = std::chrono::milliseconds(3000);
    return o;
  }
};

inline std::shared_ptr<CredentialProvider> chain(CredentialOptions o) {
  auto r = make_credential_chain(std::move(o));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : nullptr;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string metadata_json(const std::string& key, const std::string& secret,
                                 const std::string& token, TimePoint expiration) {
  nlohmann::json j = {{"Code", "Success"},  {"Type", "AWS-HMAC"},
                      {"AccessKeyId", key}, {"SecretAccessKey", secret},
                      {"Token", token},     {"Expiration", base::format_iso8601_ms(expiration)}};
  return j.dump();
}

// True when `text` holds none of the secrets.
inline ::testing::AssertionResult no_secret(const std::string& text,
                                            std::initializer_list<std::string> secrets) {
  for (const auto& s : secrets) {
    if (!s.empty() && text.find(s) != std::string::npos) {
      return ::testing::AssertionFailure() << "\"" << text << "\" holds a secret";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tern::relay::s3::aws_test
