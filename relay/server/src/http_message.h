// HttpRequest / HttpResponse: one HTTP exchange as the server layer hands it
// to a handler (the ingest RequestHandler, the admin API) and takes the
// answer back. No Beast here: handlers are tested without sockets.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/relay/config.h"

namespace tern::relay {

struct HttpRequest {
  std::string method;  // "POST", "GET", "OPTIONS", ...
  std::string target;  // path and query, e.g. "/v1/batch"
  std::string authorization;
  std::string content_encoding;
  std::string origin;
  std::string forwarded_for;  // every X-Forwarded-For header, joined with ", "
  std::string access_control_request_headers;
  std::string if_match;  // conditional requests (the admin API)
  std::string if_none_match;
  std::string host;             // the Host header, as sent ("relay.example.com:8080")
  std::string forwarded_proto;  // X-Forwarded-Proto (believed from trusted proxies only)
  std::string forwarded_host;   // X-Forwarded-Host (likewise)
  bool secure = false;          // arrived over TLS
  std::string body;             // as received (compressed when content_encoding says so)
  std::string peer_ip;          // socket peer address
  std::chrono::system_clock::time_point received_at;
  std::chrono::steady_clock::time_point received_steady;
};

// A body written as it is produced (Server-Sent Events): the server sends the
// headers with `Transfer-Encoding: chunked`, then calls next() for each piece
// until a piece says `end`, and closes the connection after the last chunk.
// cancel() is called once when the client goes away (its socket closed or a
// write failed) or the server stops; a pending next() must then answer soon
// (with end = true). Threads: next() and cancel() from the session's thread;
// `deliver` exactly once per next(), inline or later from any thread.
class BodyStream {
 public:
  using Deliver = std::function<void(std::string piece, bool end)>;
  virtual ~BodyStream() = default;
  virtual void next(Deliver deliver) = 0;
  virtual void cancel() = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  // Close the connection after writing (e.g. after a limit cut the request short).
  bool close = false;
  // Set: `body` is ignored and the body is this stream's pieces (see
  // BodyStream); the connection closes after it.
  std::shared_ptr<BodyStream> stream;

  const std::string* header(std::string_view name) const;  // case-insensitive
};

using Respond = std::function<void(HttpResponse)>;

// Limits the server layer enforces before the handler sees a request.
enum class ServerLimit { kHeaderSize, kBodySize, kReadTimeout, kIdleTimeout };

// Per-I/O-thread buffers the ingest handler reuses (request_handler.h);
// other handlers ignore it.
class RequestScratch;

// What an HttpServer hands each request to. Threads: handle() is called
// concurrently from the server's I/O threads; `respond` exactly once, inline
// or later from any thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void handle(HttpRequest request, RequestScratch& scratch, Respond respond) = 0;
  // The answer (and counter) for a request the server cut short.
  virtual HttpResponse server_limit(ServerLimit limit, std::string_view path) = 0;
  // The size limits and timeouts for the next request.
  virtual LimitsConfig limits() const = 0;
};

}  // namespace tern::relay
