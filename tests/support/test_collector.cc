#include "test_collector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include "tern/base/base64.h"
#include "tern/base/gzip.h"

namespace tern::testing {
namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64u << 20;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// Reads into `buf` until it holds at least `want` bytes; false on EOF/error/stop.
bool fill(int fd, std::string& buf, std::size_t want, const std::atomic<bool>& stopping) {
  char tmp[65536];
  while (buf.size() < want) {
    if (stopping.load()) return false;
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, 100);
    if (pr < 0 && errno != EINTR) return false;
    if (pr <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return true;
}

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TestCollector>> TestCollector::start(uint16_t port) {
  std::unique_ptr<TestCollector> c(new TestCollector());
  c->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->listen_fd_ < 0)
    return Status(StatusCode::kUnavailable, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(c->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(c->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(c->listen_fd_, 64) != 0) {
    return Status(StatusCode::kUnavailable, std::string("bind/listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(c->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  c->port_ = ntohs(addr.sin_port);
  c->accept_thread_ = std::thread([p = c.get()] { p->accept_loop(); });
  return c;
}

TestCollector::~TestCollector() { stop(); }

std::string TestCollector::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void TestCollector::stop() {
  if (stopping_.exchange(true)) return;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(conn_threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void TestCollector::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, 50);
    if (pr <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++connections_accepted_;
    std::lock_guard<std::mutex> lock(mu_);
    conn_fds_.push_back(fd);
    conn_threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestCollector::serve(int fd) {
  std::string buf;
  while (!stopping_.load()) {
    // Request line and headers.
    std::size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes || !fill(fd, buf, buf.size() + 1, stopping_)) goto done;
    }
    {
      CollectedRequest req;
      std::string head = buf.substr(0, header_end);
      buf.erase(0, header_end + 4);
      std::size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      auto sp1 = request_line.find(' ');
      auto sp2 = request_line.find(' ', sp1 + 1);
      if (sp1 == std::string::npos || sp2 == std::string::npos) goto done;
      req.method = request_line.substr(0, sp1);
      req.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        std::size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos)
          req.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
        pos = e + 2;
      }
      // Body: Content-Length or chunked.
      if (lower(req.headers["transfer-encoding"]).find("chunked") != std::string::npos) {
        for (;;) {
          std::size_t le;
          while ((le = buf.find("\r\n")) == std::string::npos) {
            if (!fill(fd, buf, buf.size() + 1, stopping_)) goto done;
          }
          std::size_t chunk = std::strtoul(buf.substr(0, le).c_str(), nullptr, 16);
          buf.erase(0, le + 2);
          if (!fill(fd, buf, chunk + 2, stopping_)) goto done;
          req.raw_body.append(buf, 0, chunk);
          buf.erase(0, chunk + 2);
          if (chunk == 0) break;
          if (req.raw_body.size() > kMaxBodyBytes) goto done;
        }
      } else {
        std::size_t length = 0;
        auto it = req.headers.find("content-length");
        if (it != req.headers.end()) length = std::strtoul(it->second.c_str(), nullptr, 10);
        if (length > kMaxBodyBytes) goto done;
        if (!fill(fd, buf, length, stopping_)) goto done;
        req.raw_body = buf.substr(0, length);
        buf.erase(0, length);
      }
      if (req.headers.count("expect")) {
        // Unusual for our clients; answer nothing special (curl is told not to send it).
      }
      ScriptedReply reply;
      std::vector<nlohmann::json> accepted;
      bool close_after = lower(req.headers["connection"]) == "close";
      CollectedRequest recorded = handle(std::move(req), reply, accepted);
      std::string resp = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                         reason_phrase(reply.status) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(reply.body.size()) + "\r\n";
      for (const auto& [k, v] : reply.headers) resp += k + ": " + v + "\r\n";
      if (close_after) resp += "Connection: close\r\n";
      resp += "\r\n" + reply.body;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(recorded));
        for (auto& e : accepted) events_.push_back(std::move(e));
        cv_.notify_all();
      }
      if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
      if (reply.drop_connection) goto done;
      if (!write_all(fd, resp) || close_after) goto done;
    }
  }
done:
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard<std::mutex> lock(mu_);
  // The fd is closed here, under the lock, so stop() never shuts down a reused number.
  conn_fds_.erase(std::remove(conn_fds_.begin(), conn_fds_.end(), fd), conn_fds_.end());
  ::close(fd);
}

CollectedRequest TestCollector::handle(CollectedRequest req, ScriptedReply& reply,
                                       std::vector<nlohmann::json>& accepted) {
  std::string write_key, poison;
  PoisonMode poison_mode;
  bool scripted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    write_key = write_key_;
    poison = poison_;
    poison_mode = poison_mode_;
    if (req.method == "POST" && !script_.empty()) {
      reply = script_.front();
      script_.pop_front();
      scripted = true;
    }
  }
  if (lower(req.headers["content-encoding"]) == "gzip") {
    auto r = base::gzip_decompress(req.raw_body);
    if (!r) {
      reply = ScriptedReply{400, R"({"error":"bad gzip"})", {}};
      req.status = reply.status;
      return req;
    }
    req.body = std::move(r).value();
  } else {
    req.body = req.raw_body;
  }
  if (req.method == "GET") {
    reply = req.path == "/health" ? ScriptedReply{200, "{\"status\":\"ok\"}", {}}
                                  : ScriptedReply{404, "{\"error\":\"not found\"}", {}};
    req.status = reply.status;
    return req;
  }
  nlohmann::json doc = nlohmann::json::parse(req.body, nullptr, false);
  if (doc.is_object() && doc.contains("batch") && doc["batch"].is_array()) {
    for (auto& e : doc["batch"]) req.events.push_back(e);
    if (doc.contains("sentAt")) req.sent_at = doc["sentAt"];
  } else if (doc.is_object() && doc.contains("type")) {
    req.events.push_back(doc);
    if (doc.contains("sentAt")) req.sent_at = doc["sentAt"];
  }
  if (scripted) {
    req.status = reply.status;
    return req;
  }
  if (!write_key.empty()) {
    std::string auth = req.headers["authorization"];
    std::string user;
    if (auth.rfind("Basic ", 0) == 0) {
      std::string decoded;
      // Decoding stops at the first bad character; the prefix before it is what is checked.
      (void)base::base64_decode(trim(auth.substr(6)), &decoded);
      user = decoded.substr(0, decoded.find(':'));
    }
    if (user != write_key) {
      reply = ScriptedReply{401, R"({"error":"bad write key"})", {}};
      req.status = 401;
      return req;
    }
  }
  if (req.path != "/v1/batch" && req.path != "/v1/b" && req.path.rfind("/v1/", 0) != 0) {
    reply = ScriptedReply{404, R"({"error":"not found"})", {}};
    req.status = 404;
    return req;
  }
  if (!doc.is_object() || req.events.empty()) {
    reply = ScriptedReply{400, R"({"error":"not a batch"})", {}};
    req.status = 400;
    return req;
  }
  nlohmann::json rejected = nlohmann::json::array();
  for (std::size_t i = 0; i < req.events.size(); ++i) {
    const auto& e = req.events[i];
    bool is_poison =
        !poison.empty() && e.is_object() && e.contains("event") && e["event"] == poison;
    if (is_poison) {
      rejected.push_back({{"index", i}, {"reason", "poison"}});
    } else {
      accepted.push_back(e);
    }
  }
  if (!rejected.empty() && poison_mode == PoisonMode::kBadRequest) {
    accepted.clear();
    reply = ScriptedReply{400, R"({"error":"batch holds a poison event"})", {}};
    req.status = 400;
    return req;
  }
  if (accepted.empty()) {
    reply = ScriptedReply{400, nlohmann::json{{"rejected", rejected}}.dump(), {}};
  } else {
    reply = ScriptedReply{200, nlohmann::json{{"rejected", rejected}}.dump(), {}};
  }
  req.status = reply.status;
  return req;
}

void TestCollector::script(const ScriptedReply& reply, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < times; ++i) script_.push_back(reply);
}

void TestCollector::require_write_key(std::string key) {
  std::lock_guard<std::mutex> lock(mu_);
  write_key_ = std::move(key);
}

void TestCollector::set_poison(std::string event_name, PoisonMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  poison_ = std::move(event_name);
  poison_mode_ = mode;
}

std::vector<CollectedRequest> TestCollector::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<nlohmann::json> TestCollector::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::size_t TestCollector::event_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

std::size_t TestCollector::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

bool TestCollector::wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
}

bool TestCollector::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

std::string TestCollector::summary_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> ids;
  std::size_t without_id = 0;
  for (const auto& e : events_) {
    if (e.is_object() && e.contains("messageId") && e["messageId"].is_string()) {
      ids.insert(e["messageId"].get<std::string>());
    } else {
      ++without_id;
    }
  }
  std::size_t bytes = 0;
  for (const auto& r : requests_) bytes += r.raw_body.size();
  nlohmann::json j = {{"requests", requests_.size()},
                      {"connections", connections_accepted_.load()},
                      {"events", events_.size()},
                      {"distinct_message_ids", ids.size()},
                      {"duplicates", events_.size() - without_id - ids.size()},
                      {"events_without_message_id", without_id},
                      {"bytes_received", bytes}};
  return j.dump();
}

}  // namespace tern::testing
