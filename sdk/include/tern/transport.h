// Transport: performs one HTTP request for the SDK's worker.
//
// Contract:
// - send() is called only from the client's worker thread, one request at a
//   time per client, so an implementation needs no locking of its own state.
// - send() may block, but must return within its configured timeouts.
// - It never throws; a network failure is reported as status_code == 0 with
//   `error` set. HTTP statuses (2xx, 4xx, 5xx) are reported as they came.
// - The transport does not interpret statuses: retry, backoff and bisection
//   belong to the SDK core.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace tern {

struct HttpRequest {
  std::string method = "POST";  // "POST" (batches, with `body`) or "GET" (settings)
  std::string url;              // full URL, e.g. "https://relay.example.com/v1/batch"
  std::string write_key;        // sent as HTTP Basic user name with an empty password
  std::string body;             // the (possibly gzipped) payload
  bool gzip = true;             // body is gzip-compressed: send Content-Encoding: gzip
  std::string content_type = "application/json";
  std::string if_none_match;  // sent as If-None-Match when not empty (GET)
};

struct HttpResponse {
  int status_code = 0;  // 0: no HTTP answer (connect failure, reset, timeout)
  // Parsed Retry-After, when the server sent one (seconds or HTTP date).
  std::optional<std::chrono::milliseconds> retry_after;
  std::string body;   // the response body, possibly truncated (for per-event rejections)
  std::string error;  // transport-level error text when status_code == 0
  std::string etag;   // the ETag header, when the server sent one
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  bool verify_tls = true;  // verify peer and host; turn off only for local testing
  std::string ca_bundle;   // empty: the system's default
  std::string user_agent;  // empty: "tern-cpp/<version>"
};

// The default transport: libcurl with one reused keep-alive connection.
// It calls tern::global_init() (curl_global_init, once per process) itself.
// Only in builds with the curl transport (CMake TERN_TRANSPORT=curl, the
// default); a TERN_TRANSPORT=none build does not define it.
std::unique_ptr<Transport> make_curl_transport(const CurlTransportOptions& options = {});

// Parses an HTTP Retry-After value: delta seconds or an HTTP date, relative to `now`.
std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now);

}  // namespace tern
