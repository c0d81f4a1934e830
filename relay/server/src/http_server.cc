#include "http_server.h"

#include "asio.h"  // first: Boost 1.74 Asio needs <utility>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "tern/relay/log.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace tern::relay {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// A request's read buffer starts at this capacity (see read_request()).
constexpr std::size_t kRequestBufferBytes = 16 * 1024;

// A streamed body's chunk that the client has not taken in this long ends
// the connection (a viewer that stopped reading must not hold a session).
constexpr std::chrono::seconds kChunkWriteTimeout{60};

// A session's executor, spelled out instead of the type-erased
// any_io_executor the Beast defaults use: every async operation copies its
// executor, and the erased one costs reference counting and indirect calls
// each time (~10% of a GET /health's CPU). With several I/O threads it is a
// strand, which serialises a session's handlers; with one I/O thread there is
// nothing to serialise, and the io_context's own executor saves each
// operation the strand's reference counting and lock.
using StrandExecutor = net::strand<net::io_context::executor_type>;
using ThreadExecutor = net::io_context::executor_type;
template <class Exec>
using SocketOn = typename tcp::socket::rebind_executor<Exec>::other;
template <class Exec>
using TcpStreamOn = beast::basic_stream<tcp, Exec, beast::unlimited_rate_policy>;
template <class Exec>
using TimerOn = net::basic_waitable_timer<std::chrono::steady_clock,
                                          net::wait_traits<std::chrono::steady_clock>, Exec>;

std::string endpoint_text(const tcp::endpoint& ep) {
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status(StatusCode::kInvalidArgument, "listen address '" + listen + "' is not HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  unsigned long port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      return Status(StatusCode::kInvalidArgument, "bad port in listen address '" + listen + "'");
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535)
      return Status(StatusCode::kInvalidArgument, "port out of range in '" + listen + "'");
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    return Status(StatusCode::kInvalidArgument,
                  "listen host '" + host + "' is not an IP address (use 0.0.0.0, 127.0.0.1, ::)");
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void stop() = 0;  // thread-safe: posts to the session's executor
};

}  // namespace

struct HttpServer::Impl {
  // Declared before the io_context: destroying it destroys queued handlers
  // that own sessions, whose destructors deregister here.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::list<std::weak_ptr<SessionBase>> sessions;

  HttpHandler* handler = nullptr;
  const int io_threads;  // 1: sessions need no strand (see ThreadExecutor)
  net::io_context ioc;
  // Keeps the I/O threads running while a session waits for the pipeline
  // with no I/O pending (during a drain there may be nothing else).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<ssl::context> tls;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_pause;  // on the acceptor's strand
  int64_t accept_failures = 0;                    // in a row; acceptor strand only
  std::string local_address;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  bool stopped = false;

  explicit Impl(int n) : io_threads(n), ioc(n), work(net::make_work_guard(ioc)) {}

  std::list<std::weak_ptr<SessionBase>>::iterator add(std::weak_ptr<SessionBase> s) {
    std::lock_guard<std::mutex> lock(mu);
    return sessions.insert(sessions.end(), std::move(s));
  }
  void remove(std::list<std::weak_ptr<SessionBase>>::iterator it) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(it);
    cv.notify_all();
  }
  void accept();
  template <class Exec>
  void accept_on(Exec executor);
};

namespace {

template <bool kTls, class Exec>
class Session : public SessionBase, public std::enable_shared_from_this<Session<kTls, Exec>> {
  using Socket = SocketOn<Exec>;
  using TcpStream = TcpStreamOn<Exec>;
  using Timer = TimerOn<Exec>;
  using Stream = std::conditional_t<kTls, beast::ssl_stream<TcpStream>, TcpStream>;
  enum class State { kStarting, kIdle, kReading, kHandling, kWriting, kStreaming, kClosed };

 public:
  template <bool T = kTls, std::enable_if_t<!T, int> = 0>
  Session(Socket&& socket, HttpServer::Impl* server) : stream_(std::move(socket)), server_(server) {
    init();
  }
  template <bool T = kTls, std::enable_if_t<T, int> = 0>
  Session(Socket&& socket, HttpServer::Impl* server)
      : stream_(std::move(socket), *server->tls), server_(server) {
    init();
  }

  ~Session() override { server_->remove(registration_); }

  void run() {
    registration_ = server_->add(this->weak_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void stop() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      // Only a connection waiting for its next request is cut now; one mid
      // request is answered first (with Connection: close).
      if (self->state_ == State::kIdle || self->state_ == State::kStarting) {
        beast::get_lowest_layer(self->stream_).cancel();
      }
      // A streamed body never ends by itself: end it, so its last chunk is
      // written and the connection closes now.
      if (self->state_ == State::kStreaming) self->cancel_body();
    });
  }

 private:
  void init() {
    boost::system::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ip_ = ep.address().to_string();
  }

  LimitsConfig limits() const { return server_->handler->limits(); }

  void begin() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(limits().read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close_now();
                                self->wait_request();
                              });
    } else {
      wait_request();
    }
  }

  // Waits (up to idle_timeout) for the first byte of the next request.
  void wait_request() {
    if (stopping_ || server_->stopping) return close_now();
    if (buffer_.size() > 0) return read_request();
    state_ = State::kIdle;
    // Reading a request grew the buffer; an idle keep-alive connection
    // holds none.
    buffer_.shrink_to_fit();
    if constexpr (!kTls) {
      // Wait until the socket is readable, with no buffer allocated until a
      // request starts (TLS keeps the read below: its layer may already
      // hold decrypted bytes the socket will not signal again).
      idle_expired_ = false;
      idle_timer_.expires_after(limits().idle_timeout);
      idle_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return;  // cancelled: the request came first
        self->idle_expired_ = true;
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().cancel(ignored);
      });
      beast::get_lowest_layer(stream_).socket().async_wait(
          Socket::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
            self->idle_timer_.cancel();
            if (self->idle_expired_) {
              (void)self->server_->handler->server_limit(ServerLimit::kIdleTimeout, "");
              return self->close_now();
            }
            if (ec || self->stopping_ || self->server_->stopping) return self->close_now();
            self->read_request();
          });
      return;
    }
    beast::get_lowest_layer(stream_).expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](
                                                       beast::error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec == beast::error::timeout) {
        (void)self->server_->handler->server_limit(ServerLimit::kIdleTimeout, "");
        return self->close_now();
      }
      if (ec) return self->close_now();
      self->read_request();
    });
  }

  // Reads the rest of one request, headers to end of body, within read_timeout.
  void read_request() {
    state_ = State::kReading;
    // Room for a typical request up front: Beast reads at most the buffer's
    // free capacity per recv (512 bytes into an empty buffer), so a batch
    // of a few KiB would otherwise take a recv per doubling.
    buffer_.reserve(kRequestBufferBytes);
    LimitsConfig l = limits();
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(l.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(l.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(l.read_timeout);
    // Headers first, so a client waiting on `Expect: 100-continue` (curl
    // does for large bodies) is told to go on instead of stalling a second.
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->on_read(ec);
                              auto& req = self->parser_->get();
                              if (req.version() >= 11 && !self->parser_->is_done() &&
                                  beast::iequals(req[http::field::expect], "100-continue")) {
                                return self->send_continue();
                              }
                              self->read_body();
                            });
  }

  void send_continue() {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return self->close_now();
                        self->read_body();
                      });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    auto& handler = *server_->handler;
    if (ec == beast::error::timeout) {
      (void)handler.server_limit(ServerLimit::kReadTimeout, "");
      return close_now();
    }
    std::string target = parser_ ? std::string(parser_->get().target()) : std::string();
    if (ec == http::error::header_limit) {
      return write(handler.server_limit(ServerLimit::kHeaderSize, target), false);
    }
    if (ec == http::error::body_limit) {
      return write(handler.server_limit(ServerLimit::kBodySize, target), false);
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted) {
      return close_now();
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
        HttpResponse r;
        r.status = 400;
        r.body = "{\"error\":\"bad_request\",\"message\":\"malformed HTTP request\"}";
        r.close = true;
        return write(std::move(r), false);
      }
      return close_now();
    }

    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::move(target);
    request.authorization = std::string(req[http::field::authorization]);
    request.content_encoding = std::string(req[http::field::content_encoding]);
    request.origin = std::string(req[http::field::origin]);
    request.access_control_request_headers =
        std::string(req[http::field::access_control_request_headers]);
    request.if_match = std::string(req[http::field::if_match]);
    request.if_none_match = std::string(req[http::field::if_none_match]);
    request.host = std::string(req[http::field::host]);
    request.forwarded_proto = std::string(req["X-Forwarded-Proto"]);
    request.forwarded_host = std::string(req["X-Forwarded-Host"]);
    request.secure = kTls;
    for (auto range = req.equal_range("X-Forwarded-For"); range.first != range.second;
         ++range.first) {
      if (!request.forwarded_for.empty()) request.forwarded_for += ", ";
      request.forwarded_for += std::string(range.first->value());
    }
    head_ = req.method() == http::verb::head;
    request.body = std::move(req.body());
    request.peer_ip = peer_ip_;
    request.received_at = std::chrono::system_clock::now();
    request.received_steady = std::chrono::steady_clock::now();
    parser_.reset();

    state_ = State::kHandling;
    beast::get_lowest_layer(stream_).expires_never();
    handler.handle(std::move(request), thread_request_scratch(),
                   [self = this->shared_from_this()](HttpResponse response) {
                     // May run on a pipeline thread: hop back onto the session's executor.
                     net::post(self->stream_.get_executor(),
                               [self, response = std::move(response)]() mutable {
                                 self->write(std::move(response), self->keep_alive_);
                               });
                   });
  }

  void write(HttpResponse response, bool keep_alive) {
    if (response.stream && !head_) return write_stream(std::move(response));
    state_ = State::kWriting;
    keep_alive = keep_alive && !response.close && !stopping_ && !server_->stopping;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_ ? version_ : 11);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, "tern-relay");
    if (!response.content_type.empty() && (response.status != 204)) {
      res->set(http::field::content_type, response.content_type);
    }
    for (auto& [k, v] : response.headers) res->insert(k, v);
    res->keep_alive(keep_alive);
    if (response.status == 304) {
      // No body and no Content-Length: a 304's length would have to be the 200's.
    } else if (head_) {
      res->content_length(response.body.size());  // what GET would send, without the body
    } else {
      res->body() = std::move(response.body);
      res->prepare_payload();
    }
    head_ = false;
    res_ = res;
    beast::get_lowest_layer(stream_).expires_after(limits().read_timeout);
    http::async_write(
        stream_, *res_,
        [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
          self->res_.reset();
          if (ec) return self->close_now();
          if (!keep_alive) return self->close_graceful();
          self->wait_request();
        });
  }

  // A streamed body (BodyStream): the headers, then a chunk per piece until
  // the stream ends, then the connection closes. A read stays outstanding
  // meanwhile: the client closing (or anything it sends) is seen at once,
  // even while the stream has nothing to say.
  void write_stream(HttpResponse response) {
    state_ = State::kStreaming;
    body_ = std::move(response.stream);
    auto res = std::make_shared<http::response<http::empty_body>>();
    res->version(version_ ? version_ : 11);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, "tern-relay");
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [k, v] : response.headers) res->insert(k, v);
    res->keep_alive(false);
    // HTTP/1.0 has no chunks: the pieces as they are, the end of the body
    // told by closing the connection.
    chunked_ = res->version() >= 11;
    res->chunked(chunked_);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    beast::get_lowest_layer(stream_).expires_never();
    arm_write_timer();
    http::async_write_header(
        stream_, *sr,
        [self = this->shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
          self->idle_timer_.cancel();
          if (ec || self->state_ != State::kStreaming) return self->end_stream_now();
          self->watch_client();
          if (self->stopping_ || self->server_->stopping) self->cancel_body();
          self->next_piece();
        });
  }

  void watch_client() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->state_ != State::kStreaming) return;
                              if (ec) return self->end_stream_now();  // the client went away
                              self->watch_client();                   // sent something: ignored
                            });
  }

  void next_piece() {
    body_->next([self = this->shared_from_this()](std::string piece, bool end) {
      // May run on another thread (the stream's): hop onto the session's executor.
      net::post(self->stream_.get_executor(), [self, piece = std::move(piece), end]() mutable {
        self->on_piece(std::move(piece), end);
      });
    });
  }

  void on_piece(std::string piece, bool end) {
    if (state_ != State::kStreaming) return;
    if (end) body_cancelled_ = true;  // it ended by itself: nothing to cancel
    if (piece.empty()) {
      if (end) return write_last_chunk();
      return next_piece();
    }
    auto text = std::make_shared<std::string>(std::move(piece));
    arm_write_timer();
    auto written = [self = this->shared_from_this(), text, end](beast::error_code ec, std::size_t) {
      self->idle_timer_.cancel();
      if (ec || self->state_ != State::kStreaming) return self->end_stream_now();
      if (end) return self->write_last_chunk();
      self->next_piece();
    };
    if (chunked_) {
      net::async_write(stream_, http::make_chunk(net::buffer(*text)), std::move(written));
    } else {
      net::async_write(stream_, net::buffer(*text), std::move(written));
    }
  }

  void write_last_chunk() {
    if (!chunked_) return end_stream_now();
    arm_write_timer();
    net::async_write(stream_, http::make_chunk_last(),
                     [self = this->shared_from_this()](beast::error_code, std::size_t) {
                       self->idle_timer_.cancel();
                       self->end_stream_now();
                     });
  }

  // A chunk the client does not take within kChunkWriteTimeout closes the
  // socket, which fails the write.
  void arm_write_timer() {
    idle_timer_.expires_after(kChunkWriteTimeout);
    idle_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the write finished
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().close(ignored);
    });
  }

  void cancel_body() {
    if (body_ && !body_cancelled_) {
      body_cancelled_ = true;
      body_->cancel();
    }
  }

  // Ends a streamed response: the stream is told (unless it ended itself)
  // and the connection closes. A next() still pending answers later and is
  // ignored.
  void end_stream_now() {
    if (state_ == State::kClosed) return;
    cancel_body();
    close_now();
  }

  void close_graceful() {
    state_ = State::kClosed;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close_now(); });
    } else {
      // Lingering close: after an early answer (413, 431) the client may
      // still be sending; closing with unread data would reset the
      // connection and could destroy the answer before the client reads it.
      // So: half-close, then drain what arrives for a short while.
      beast::error_code ec;
      stream_.socket().shutdown(Socket::shutdown_send, ec);
      if (ec) return close_now();
      stream_.expires_after(std::chrono::seconds(2));
      linger();
    }
  }

  void linger() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16384),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close_now();  // EOF, timeout or reset: done
                              self->linger();
                            });
  }

  void close_now() {
    state_ = State::kClosed;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  Stream stream_;
  Timer idle_timer_{
      beast::get_lowest_layer(stream_).get_executor()};  // plain TCP: the idle wait's deadline
  bool idle_expired_ = false;
  HttpServer::Impl* server_;
  std::list<std::weak_ptr<SessionBase>>::iterator registration_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  std::shared_ptr<BodyStream> body_;  // a streamed response's body
  bool chunked_ = true;               // a streamed body's pieces are sent as chunks
  bool body_cancelled_ = false;       // cancel() called, or the body ended
  std::string peer_ip_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool stopping_ = false;
  State state_ = State::kStarting;
};

}  // namespace

void HttpServer::Impl::accept() {
  if (io_threads == 1) {
    accept_on(ThreadExecutor(ioc.get_executor()));
  } else {
    accept_on(StrandExecutor(ioc.get_executor()));
  }
}

template <class Exec>
void HttpServer::Impl::accept_on(Exec executor) {
  acceptor->async_accept(executor, [this](beast::error_code ec, SocketOn<Exec> socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec && !stopping) {
      if (accept_failures > 0) {
        log::info("accepting connections again", {{"failed_accepts", accept_failures}});
        accept_failures = 0;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (tls) {
        std::make_shared<Session<true, Exec>>(std::move(socket), this)->run();
      } else {
        std::make_shared<Session<false, Exec>>(std::move(socket), this)->run();
      }
    }
    if (stopping) return;
    if (ec) {
      // Out of file descriptors (EMFILE) or memory: accepting again at once
      // would spin. Pause briefly; established connections keep working.
      if (accept_failures++ == 0) {
        log::warn("accept failed; retrying every 100 ms", {{"error", ec.message()}});
      }
      accept_pause->expires_after(std::chrono::milliseconds(100));
      accept_pause->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping && acceptor->is_open()) accept();
      });
      return;
    }
    accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(std::chrono::steady_clock::now()); }

const std::string& HttpServer::local_address() const { return impl_->local_address; }

std::size_t HttpServer::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      HttpHandler* handler) {
  auto endpoint = parse_listen(options.listen);
  if (!endpoint) return endpoint.status();
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(threads);
  impl->handler = handler;

  if (options.tls.enabled) {
    impl->tls.emplace(ssl::context::tls_server);
    boost::system::error_code ec;
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1,
                           ec);
    impl->tls->use_certificate_chain_file(options.tls.cert_file, ec);
    if (ec) {
      return Status(StatusCode::kInvalidArgument,
                    "cannot load TLS certificate '" + options.tls.cert_file + "': " + ec.message());
    }
    impl->tls->use_private_key_file(options.tls.key_file, ssl::context::pem, ec);
    if (ec) {
      return Status(StatusCode::kInvalidArgument,
                    "cannot load TLS key '" + options.tls.key_file + "': " + ec.message());
    }
  }

  boost::system::error_code ec;
  auto acceptor_strand = net::make_strand(impl->ioc);
  impl->acceptor.emplace(acceptor_strand);
  impl->accept_pause.emplace(acceptor_strand);
  auto& acceptor = *impl->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) impl->local_address = endpoint_text(acceptor.local_endpoint(ec));
  if (ec) {
    return Status(StatusCode::kUnavailable,
                  "cannot listen on " + options.listen + ": " + ec.message());
  }
  impl->accept();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] {
      log::set_thread_name("tern-io");
      ioc->run();
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::stop(std::chrono::steady_clock::time_point deadline) {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  std::promise<void> closed;
  net::post(s.acceptor->get_executor(), [&s, &closed] {
    beast::error_code ec;
    s.acceptor->close(ec);
    s.accept_pause->cancel();
    closed.set_value();
  });
  closed.get_future().wait_until(deadline + std::chrono::seconds(1));
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& weak : s.sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->stop();
  live.clear();  // outside the lock: the last reference runs ~Session, which locks
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait_until(lock, deadline, [&s] { return s.sessions.empty(); });
  }
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace tern::relay
