// HttpServer: the relay's HTTP/1.1 front end (Boost.Beast), split as in
// Beast's examples: a listener accepting connections, one session per
// connection running on its own strand, and the RequestHandler (no I/O)
// deciding every answer. Beast stays inside http_server.cc.
//
// Per connection: keep-alive; idle_timeout while waiting for a request's
// first byte, read_timeout from there to the end of its body (a client that
// trickles headers is cut off); header and body size limits enforced by the
// parser while reading (431 / 413, then the connection closes). Limits and
// timeouts are read from the handler's current config for each request, so
// a SIGHUP reload applies to the next request. TLS is set at start.
//
// A response with a stream (HttpResponse::stream, a BodyStream) is sent in
// chunks as its pieces come, then the connection closes; the client going
// away, a chunk it does not take within 60 s, or stop() cancels the stream.
//
// Threads: `threads` I/O threads run every session; start/stop from one
// controlling thread. Lifetime: destroy the Pipeline (which may still hold
// answers for sessions) before the HttpServer.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "request_handler.h"
#include "tern/base/status.h"
#include "tern/relay/config.h"

namespace tern::relay {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  int threads = 1;                        // ≤ 0: one per core
  TlsConfig tls;
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: kInvalidArgument (bad
  // listen address, unreadable TLS cert/key), kUnavailable (cannot bind).
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                   HttpHandler* handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address as "HOST:PORT" (IPv6 as "[addr]:PORT").
  const std::string& local_address() const;
  std::size_t open_connections() const;

  // Stops accepting; idle keep-alive connections are closed; requests in
  // flight are answered (with Connection: close) until `deadline`, when the
  // rest are cut; streamed responses are cancelled, so they end now. Joins
  // the I/O threads. Idempotent.
  void stop(std::chrono::steady_clock::time_point deadline);

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay
