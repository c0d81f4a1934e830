// The Beast server over real HTTP on 127.0.0.1 (port 0), with a tiny
// blocking client written against POSIX sockets and OpenSSL.
#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "test_util.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::wait_until;
using testing::gzip;
using testing::gzip_zeros;

const char* kEvent = R"({"type":"track","event":"E","userId":"u","messageId":"MID"})";

std::string batch_of(std::string_view id) {
  std::string e = kEvent;
  e.replace(e.find("MID"), 3, id);
  return "{\"batch\":[" + e + "]}";
}

// Answers every submission with ok from its own thread, like the real one.
class AutoPipeline : public Pipeline {
 public:
  AutoPipeline() : worker_([this] { run(); }) {}
  ~AutoPipeline() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void submit(Submission s, std::function<void(Status)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    events += s.events.size();
    queue_.push_back(std::move(done));
    cv_.notify_all();
  }
  bool ready(std::string*) const override { return true; }
  int retry_after_seconds() const override { return 1; }

  // While held, submissions wait for release() before they are answered.
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

  // Waits (up to 10 s) until every submission was answered and its callback
  // destroyed: a callback holds the server's session, which must go while
  // the server's io_context is still alive.
  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return queue_.empty() && !busy_; });
  }

  std::atomic<std::size_t> events{0};

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return done_ || (!queue_.empty() && !held_); });
      if (queue_.empty()) return;
      auto done = std::move(queue_.front());
      queue_.erase(queue_.begin());
      busy_ = true;
      lock.unlock();
      done(Status());
      done = nullptr;
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void(Status)>> queue_;
  bool held_ = false;
  bool done_ = false;
  bool busy_ = false;  // answering one, its callback not yet destroyed
  std::thread worker_;
};

struct Reply {
  int status = 0;
  std::string headers;  // raw, lower-cased
  std::string body;
  bool has(std::string_view header_line) const {
    return headers.find(header_line) != std::string::npos;
  }
};

// A blocking HTTP/1.1 client over one connection (plain or TLS).
class Client {
 public:
  explicit Client(const std::string& address, SSL_CTX* tls = nullptr) {
    auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};  // no test waits longer for a byte
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (connected_ && tls) {
      ssl_ = SSL_new(tls);
      SSL_set_fd(ssl_, fd_);
      SSL_set_tlsext_host_name(ssl_, "localhost");
      connected_ = SSL_connect(ssl_) == 1;
    }
  }
  ~Client() {
    if (ssl_) SSL_free(ssl_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }

  bool send_raw(std::string_view data) {
    while (!data.empty()) {
      long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                    : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response; status 0 when the connection closed first.
  Reply read_reply() {
    Reply r;
    std::size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    std::string head = buf_.substr(0, header_end + 2);
    buf_.erase(0, header_end + 4);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.status = std::atoi(head.c_str() + 9);
    r.headers = head;
    std::size_t length = 0;
    auto cl = head.find("content-length: ");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
    while (buf_.size() < length) {
      if (!fill()) return Reply{};
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // For HEAD: the headers announce a length but no body follows.
  Reply read_reply_headers_only() {
    Reply r;
    std::size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    r.headers = buf_.substr(0, header_end + 2);
    buf_.erase(0, header_end + 4);
    for (char& c : r.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.status = std::atoi(r.headers.c_str() + 9);
    return r;
  }

  Reply request(std::string_view method, std::string_view path, std::string_view body,
                std::string_view extra_headers = "") {
    std::string req =
        std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n" +
        "Authorization: Basic a2V5MTo=\r\n" + std::string(extra_headers) +
        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
    if (!send_raw(req)) return Reply{};
    return read_reply();
  }

  // Reads until `needle` arrived; returns everything up to its end (empty
  // when the connection closed first).
  std::string read_until(std::string_view needle) {
    std::size_t at;
    while ((at = buf_.find(needle)) == std::string::npos) {
      if (!fill()) return std::string();
    }
    std::string out = buf_.substr(0, at + needle.size());
    buf_.erase(0, at + needle.size());
    return out;
  }

  // True when the server closed the connection (EOF) within `limit`.
  bool closed_within(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char c;
        long n = ssl_ ? SSL_read(ssl_, &c, 1) : ::recv(fd_, &c, 1, 0);
        if (n <= 0) return true;
      }
    }
    return false;
  }

 private:
  bool fill() {
    char tmp[16384];
    long n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string buf_;
};

// Run with one I/O thread (sessions on the io_context's executor) and with
// two (sessions on strands): the two ways HttpServer runs sessions.
class HttpServerTest : public ::testing::TestWithParam<int> {
 protected:
  HttpServerTest() {
    SourceConfig web;
    web.id = "web";
    web.write_keys = {"key1"};
    config.sources = {web};
    config.limits.read_timeout = 2s;
    config.limits.idle_timeout = 3s;
  }
  ~HttpServerTest() override {
    if (server) server->stop(std::chrono::steady_clock::now() + 2s);
    pipeline.drain();  // before the server (and its io_context) is destroyed
  }

  void start(TlsConfig tls = {}) {
    handler =
        std::make_unique<RequestHandler>(make_ingest_config(config).value(), &pipeline, &metrics);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = GetParam();
    options.tls = tls;
    auto s = HttpServer::start(options, handler.get());
    ASSERT_TRUE(s) << s.status().to_string();
    server = std::move(s.value());
  }

  uint64_t limit_hits(std::string_view limit) {
    return metrics.counter("tern_relay_limit_hits_total", "limit=\"" + std::string(limit) + "\"")
        .value();
  }

  RelayConfig config;
  Metrics metrics;
  AutoPipeline pipeline;
  std::unique_ptr<RequestHandler> handler;
  std::unique_ptr<HttpServer> server;
};

TEST_P(HttpServerTest, PortZeroReportsTheBoundAddress) {
  start();
  const std::string& addr = server->local_address();
  EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u);
  EXPECT_NE(addr, "127.0.0.1:0");
}

TEST_P(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  Client c(server->local_address());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    Reply r = c.request("POST", "/v1/batch", batch_of("k" + std::to_string(i)));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.has("x-tern-ack: local"));
    EXPECT_FALSE(r.has("connection: close"));
  }
  Reply h = c.request("GET", "/health", "");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(pipeline.events.load(), 3u);
  EXPECT_EQ(server->open_connections(), 1u);
}

TEST_P(HttpServerTest, ExpectContinueGetsA100BeforeTheBody) {
  start();
  Client c(server->local_address());
  std::string body = batch_of("x1");
  ASSERT_TRUE(
      c.send_raw("POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic a2V5MTo=\r\n"
                 "Expect: 100-continue\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
  Reply interim = c.read_reply();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send_raw(body));
  EXPECT_EQ(c.read_reply().status, 200);
  EXPECT_EQ(pipeline.events.load(), 1u);
}

TEST_P(HttpServerTest, HeadAnswersWithoutABody) {
  start();
  Client c(server->local_address());
  ASSERT_TRUE(c.send_raw("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  Reply r = c.read_reply_headers_only();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.has("content-length: 15"));
  EXPECT_EQ(c.request("GET", "/health", "").body,
            R"({"status":"ok"})");  // the stream stayed in sync
}

TEST_P(HttpServerTest, GzipBodyIsAccepted) {
  start();
  Client c(server->local_address());
  Reply r = c.request("POST", "/v1/batch", gzip(batch_of("gz1")), "Content-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(pipeline.events.load(), 1u);
}

TEST_P(HttpServerTest, GzipBombIsCutOffWith413) {
  config.limits.max_inflate_ratio = 0;  // the size cap alone must stop it
  start();
  std::string bomb = gzip_zeros(64u << 20);  // 64 MiB of zeros in ~64 KB
  ASSERT_LT(bomb.size(), config.limits.max_body_bytes);
  Client c(server->local_address());
  Reply r = c.request("POST", "/v1/batch", bomb, "Content-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("decompressed_size"), std::string::npos);
  EXPECT_EQ(limit_hits("decompressed_size"), 1u);
  // Inflation stopped at the cap (plus at most one 16 KiB chunk), not at 64 MiB.
  uint64_t inflated = metrics.counter("tern_relay_http_inflated_bytes_total").value();
  EXPECT_GT(inflated, config.limits.max_decompressed_bytes);
  EXPECT_LE(inflated, config.limits.max_decompressed_bytes + 16 * 1024);
  // The connection stays usable: the body was read whole, only not inflated.
  EXPECT_EQ(c.request("POST", "/v1/batch", batch_of("after")).status, 200);
}

TEST_P(HttpServerTest, SlowLorisTricklingHeadersIsCutOffAtReadTimeout) {
  config.limits.read_timeout = 300ms;
  start();
  Client c(server->local_address());
  ASSERT_TRUE(c.send_raw("POST /v1/batch HTTP/1.1\r\nHost: x\r\n"));
  bool cut = false;
  auto give_up = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; std::chrono::steady_clock::now() < give_up; ++i) {
    if (!c.send_raw("X-Slow-" + std::to_string(i) + ": y\r\n") || c.closed_within(50ms)) {
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut);
  // Counted on the server's thread just after the client saw the socket close.
  EXPECT_TRUE(wait_until([&] { return limit_hits("read_timeout") == 1; }));
}

TEST_P(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  config.limits.idle_timeout = 200ms;
  start();
  Client c(server->local_address());
  EXPECT_EQ(c.request("GET", "/health", "").status, 200);
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_TRUE(wait_until([&] { return limit_hits("idle_timeout") == 1; }));
}

TEST_P(HttpServerTest, HeadersLargerThanTheLimitAre431) {
  config.limits.max_header_bytes = 1024;
  start();
  Client c(server->local_address());
  Reply r =
      c.request("POST", "/v1/batch", batch_of("h1"), "X-Big: " + std::string(4096, 'a') + "\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(r.has("connection: close"));
  EXPECT_EQ(limit_hits("header_size"), 1u);
  EXPECT_EQ(pipeline.events.load(), 0u);
}

TEST_P(HttpServerTest, DeclaredBodyLargerThanTheLimitIs413) {
  config.limits.max_body_bytes = 1000;
  start();
  Client c(server->local_address());
  // 2 MiB: far more than socket buffers hold, so the answer only reaches the
  // client because the server drains the rest before closing.
  Reply r = c.request("POST", "/v1/batch", std::string(2u << 20, ' ') + batch_of("b1"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(limit_hits("body_size"), 1u);
}

TEST_P(HttpServerTest, WrongKeyIs401OverHttp) {
  start();
  Client c(server->local_address());
  std::string req =
      "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d3Jvbmc6\r\nContent-Length: " +
      std::to_string(batch_of("w").size()) + "\r\n\r\n" + batch_of("w");
  ASSERT_TRUE(c.send_raw(req));
  EXPECT_EQ(c.read_reply().status, 401);
  EXPECT_EQ(pipeline.events.load(), 0u);
}

// The value of a "key":"value" member of a JSON text (enough for these bodies).
std::string json_member(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":\"");
  if (at == std::string::npos) return "";
  at += key.size() + 4;
  return body.substr(at, body.find('"', at) - at);
}

TEST_P(HttpServerTest, ASegmentSdkWithTheRelayAsCdnAndApiHostFindsWhereToPost) {
  start();
  const std::string host = server->local_address();  // "127.0.0.1:PORT"
  Client c(host);
  ASSERT_TRUE(c.connected());
  // A Segment SDK's cdnHost is "<relay>/v1": it fetches /v1/projects/<key>/settings.
  ASSERT_TRUE(c.send_raw("GET /v1/projects/key1/settings HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
  Reply settings = c.read_reply();
  ASSERT_EQ(settings.status, 200) << settings.body;
  EXPECT_TRUE(settings.has("cache-control: public, max-age=60"));
  std::string api_host = json_member(settings.body, "apiHost");
  EXPECT_EQ(api_host, host + "/v1");  // host:port and /v1, no scheme: the SDK adds it
  EXPECT_EQ(json_member(settings.body, "protocol"), "http");
  // The SDK posts to <scheme>://<apiHost>/b.
  std::string path = api_host.substr(api_host.find('/')) + "/b";
  Reply posted = c.request("POST", path, batch_of("seg-1"));
  EXPECT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(pipeline.events.load(), 1u);
}

TEST_P(HttpServerTest, SettingsNotModifiedIs304WithNoBodyAndTheConnectionStaysInSync) {
  start();
  Client c(server->local_address());
  ASSERT_TRUE(c.send_raw("GET /v1/projects/key1/settings HTTP/1.1\r\nHost: h\r\n\r\n"));
  Reply first = c.read_reply();
  ASSERT_EQ(first.status, 200);
  auto at = first.headers.find("etag: ");
  ASSERT_NE(at, std::string::npos);
  std::string etag = first.headers.substr(at + 6, first.headers.find("\r\n", at) - at - 6);
  ASSERT_TRUE(c.send_raw(
      "GET /v1/projects/key1/settings HTTP/1.1\r\nHost: h\r\nIf-None-Match: " + etag + "\r\n\r\n"));
  Reply again = c.read_reply_headers_only();
  EXPECT_EQ(again.status, 304);
  EXPECT_FALSE(again.has("content-length"));
  EXPECT_TRUE(again.has("etag: " + etag));
  ASSERT_TRUE(c.send_raw("HEAD /v1/projects/key1/settings HTTP/1.1\r\nHost: h\r\n\r\n"));
  Reply head = c.read_reply_headers_only();
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.has("content-length: " + std::to_string(first.body.size())));
  EXPECT_EQ(c.request("GET", "/health", "").body, R"({"status":"ok"})");  // nothing was left over
}

TEST_P(HttpServerTest, StopAnswersTheRequestInFlightThenCloses) {
  pipeline.hold();
  start();
  Client c(server->local_address());
  std::string body = batch_of("s1");
  ASSERT_TRUE(c.send_raw(
      "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic a2V5MTo=\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body));
  Client idle(server->local_address());
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(wait_until([&] { return pipeline.events.load() == 1; }));  // in flight
  std::thread stopper([&] { server->stop(std::chrono::steady_clock::now() + 5s); });
  EXPECT_TRUE(idle.closed_within(3s));  // stopping: the idle connection goes first
  pipeline.release();
  Reply r = c.read_reply();
  stopper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.has("connection: close"));
  EXPECT_EQ(server->open_connections(), 0u);
}

// A self-signed certificate for localhost in a temporary directory, made
// with the openssl CLI, for the TLS fixtures.
struct SelfSignedCert {
  void make() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tern-tls-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(dir_);
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -keyout " +
        (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0)
        << "the openssl CLI is needed to make a test certificate";
  }
  ~SelfSignedCert() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

class TlsServerTest : public HttpServerTest, protected SelfSignedCert {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(make()); }
};

TEST_P(TlsServerTest, TlsRoundTripWithSelfSignedCertificate) {
  TlsConfig tls;
  tls.enabled = true;
  tls.cert_file = (dir_ / "cert.pem").string();
  tls.key_file = (dir_ / "key.pem").string();
  start(tls);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx, tls.cert_file.c_str(), nullptr), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  {
    Client c(server->local_address(), ctx);
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.request("POST", "/v1/batch", batch_of("t1")).status, 200);
    EXPECT_EQ(c.request("POST", "/v1/batch", batch_of("t2")).status, 200);  // keep-alive over TLS
  }
  SSL_CTX_free(ctx);
  EXPECT_EQ(pipeline.events.load(), 2u);
  // A plain-text client gets no HTTP answer from a TLS port.
  Client plain(server->local_address());
  EXPECT_EQ(plain.request("GET", "/health", "").status, 0);
}

TEST_P(TlsServerTest, SettingsServedOverTlsSayHttps) {
  TlsConfig tls;
  tls.enabled = true;
  tls.cert_file = (dir_ / "cert.pem").string();
  tls.key_file = (dir_ / "key.pem").string();
  start(tls);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  {
    Client c(server->local_address(), ctx);
    ASSERT_TRUE(c.connected());
    Reply r = c.request("GET", "/v1/projects/key1/settings", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json_member(r.body, "protocol"), "https");
    EXPECT_EQ(json_member(r.body, "apiHost"), "localhost/v1");
  }
  SSL_CTX_free(ctx);
}

TEST_P(TlsServerTest, MissingCertificateIsAClearStartError) {
  handler =
      std::make_unique<RequestHandler>(make_ingest_config(config).value(), &pipeline, &metrics);
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls.enabled = true;
  options.tls.cert_file = (dir_ / "nope.pem").string();
  options.tls.key_file = (dir_ / "key.pem").string();
  auto s = HttpServer::start(options, handler.get());
  ASSERT_FALSE(s);
  EXPECT_NE(s.status().message().find("nope.pem"), std::string::npos);
}

TEST(HttpServerStartTest, BadListenAddressIsAClearError) {
  Metrics metrics;
  AutoPipeline pipeline;
  RelayConfig config;
  RequestHandler handler(make_ingest_config(config).value(), &pipeline, &metrics);
  HttpServerOptions options;
  options.listen = "nonsense";
  auto s = HttpServer::start(options, &handler);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

// A body the test writes piece by piece.
class ScriptedStream : public BodyStream {
 public:
  void next(Deliver deliver) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!pieces_.empty()) {
      std::string piece = std::move(pieces_.front());
      pieces_.erase(pieces_.begin());
      lock.unlock();
      deliver(std::move(piece), false);
    } else if (ended_) {
      lock.unlock();
      deliver(std::string(), true);
    } else {
      pending_ = std::move(deliver);
    }
  }
  void cancel() override {
    cancels_++;
    finish();
  }
  // Sent from the test's thread, as a tap's thread would.
  void push(std::string piece) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!pending_) {
      pieces_.push_back(std::move(piece));
      return;
    }
    Deliver d = std::move(pending_);
    pending_ = nullptr;
    lock.unlock();
    d(std::move(piece), false);
  }
  void finish() {
    std::unique_lock<std::mutex> lock(mu_);
    ended_ = true;
    Deliver d = std::move(pending_);
    pending_ = nullptr;
    lock.unlock();
    if (d) d(std::string(), true);
  }
  bool waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<bool>(pending_);
  }
  int cancels() const { return cancels_.load(); }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> pieces_;
  Deliver pending_;
  bool ended_ = false;
  std::atomic<int> cancels_{0};
};

// Answers every request with a streamed body it keeps for the test.
class StreamingHandler : public HttpHandler {
 public:
  void handle(HttpRequest, RequestScratch&, Respond respond) override {
    auto stream = std::make_shared<ScriptedStream>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = stream;
    }
    HttpResponse r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-store");
    r.stream = stream;
    respond(std::move(r));
  }
  HttpResponse server_limit(ServerLimit, std::string_view) override {
    HttpResponse r;
    r.status = 400;
    return r;
  }
  LimitsConfig limits() const override {
    LimitsConfig l;
    l.read_timeout = 2s;
    l.idle_timeout = 3s;
    return l;
  }
  std::shared_ptr<ScriptedStream> last() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<ScriptedStream> last_;
};

class StreamingServerTest : public ::testing::TestWithParam<int> {
 protected:
  ~StreamingServerTest() override {
    if (server) server->stop(std::chrono::steady_clock::now() + 2s);
  }
  void start(TlsConfig tls = {}) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = GetParam();
    options.tls = tls;
    auto s = HttpServer::start(options, &handler);
    ASSERT_TRUE(s) << s.status().to_string();
    server = std::move(s.value());
  }
  // Opens the stream and reads its headers; the stream then waits for a piece.
  std::shared_ptr<ScriptedStream> open(Client& c, Reply* headers) {
    EXPECT_TRUE(c.send_raw("GET /tap HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    *headers = c.read_reply_headers_only();
    EXPECT_TRUE(wait_until([&] { return handler.last() && handler.last()->waiting(); }));
    return handler.last();
  }

  StreamingHandler handler;
  std::unique_ptr<HttpServer> server;
};

TEST_P(StreamingServerTest, AStreamedBodyArrivesChunkByChunkAndTheConnectionClosesAfterIt) {
  start();
  Client c(server->local_address());
  Reply head;
  auto stream = open(c, &head);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.has("transfer-encoding: chunked"));
  EXPECT_TRUE(head.has("content-type: text/event-stream"));
  EXPECT_TRUE(head.has("cache-control: no-store"));
  EXPECT_FALSE(head.has("content-length"));
  stream->push("data: one\n\n");
  EXPECT_EQ(c.read_until("data: one\n\n\r\n"), "b\r\ndata: one\n\n\r\n");
  stream->push("data: two\n\n");
  EXPECT_EQ(c.read_until("data: two\n\n\r\n"), "b\r\ndata: two\n\n\r\n");
  stream->finish();
  EXPECT_EQ(c.read_until("0\r\n\r\n"), "0\r\n\r\n");
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_EQ(stream->cancels(), 0);
}

TEST_P(StreamingServerTest, AnHttp10ClientGetsThePiecesAsTheyAreUntilTheConnectionCloses) {
  start();
  Client c(server->local_address());
  ASSERT_TRUE(c.send_raw("GET /tap HTTP/1.0\r\nHost: localhost\r\n\r\n"));
  Reply head = c.read_reply_headers_only();
  ASSERT_TRUE(wait_until([&] { return handler.last() && handler.last()->waiting(); }));
  auto stream = handler.last();
  EXPECT_EQ(head.status, 200);
  EXPECT_FALSE(head.has("transfer-encoding"));
  EXPECT_FALSE(head.has("content-length"));
  stream->push("data: one\n\n");
  EXPECT_EQ(c.read_until("data: one\n\n"), "data: one\n\n");
  stream->finish();
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_P(StreamingServerTest, AClientThatGoesAwayCancelsItsStream) {
  start();
  std::shared_ptr<ScriptedStream> stream;
  {
    Client c(server->local_address());
    Reply head;
    stream = open(c, &head);
    ASSERT_EQ(head.status, 200);
  }
  EXPECT_TRUE(wait_until([&] { return stream->cancels() == 1; }));
  EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));
}

TEST_P(StreamingServerTest, StopEndsAnOpenStreamPromptly) {
  start();
  Client c(server->local_address());
  Reply head;
  auto stream = open(c, &head);
  ASSERT_EQ(head.status, 200);
  auto stopped =
      std::async(std::launch::async, [&] { server->stop(std::chrono::steady_clock::now() + 60s); });
  // Far sooner than the deadline: the stream was told to end.
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(stream->cancels(), 1);
  EXPECT_EQ(c.read_until("0\r\n\r\n"), "0\r\n\r\n");
  EXPECT_EQ(server->open_connections(), 0u);
}

class TlsStreamingServerTest : public StreamingServerTest, protected SelfSignedCert {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(make()); }
};

TEST_P(TlsStreamingServerTest, AStreamOverTlsArrivesAndAClientLeavingCancelsIt) {
  TlsConfig tls;
  tls.enabled = true;
  tls.cert_file = (dir_ / "cert.pem").string();
  tls.key_file = (dir_ / "key.pem").string();
  start(tls);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  std::shared_ptr<ScriptedStream> stream;
  {
    Client c(server->local_address(), ctx);
    ASSERT_TRUE(c.connected());
    Reply head;
    stream = open(c, &head);
    EXPECT_EQ(head.status, 200);
    stream->push("data: secure\n\n");
    EXPECT_EQ(c.read_until("data: secure\n\n\r\n"), "e\r\ndata: secure\n\n\r\n");
  }
  EXPECT_TRUE(wait_until([&] { return stream->cancels() == 1; }));
  SSL_CTX_free(ctx);
}

std::string io_threads_name(const ::testing::TestParamInfo<int>& info) {
  return info.param == 1 ? "OneIoThread" : std::to_string(info.param) + "IoThreads";
}
INSTANTIATE_TEST_SUITE_P(IoThreads, HttpServerTest, ::testing::Values(1, 2), io_threads_name);
INSTANTIATE_TEST_SUITE_P(IoThreads, TlsServerTest, ::testing::Values(1, 2), io_threads_name);
INSTANTIATE_TEST_SUITE_P(IoThreads, StreamingServerTest, ::testing::Values(1, 2), io_threads_name);
INSTANTIATE_TEST_SUITE_P(IoThreads, TlsStreamingServerTest, ::testing::Values(1, 2),
                         io_threads_name);

}  // namespace
}  // namespace tern::relay
