// ternctl's side of HTTP: a Response, the libcurl Client that makes one
// request (or follows one stream) against the admin API with the bearer
// token, and the helpers every command shares to judge an answer: fail()
// prints why a request failed (the API's error or the transport's) and
// returns the exit status, parse_body() reads a JSON body, text_of() renders
// a JSON value for a table cell, etag_revision() reads the revision an ETag
// names. Also the exit statuses ternctl returns.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tern::ternctl {

constexpr int kOk = 0;
constexpr int kError = 1;
constexpr int kUsage = 2;

struct Response {
  CURLcode curl = CURLE_OK;
  std::string error;  // curl's message
  long status = 0;
  std::string body;
  std::string etag;
};

class Client {
 public:
  Client(std::string server, std::string token, std::string ca_file);

  Response request(const std::string& method, const std::string& target,
                   const std::string& body = {}, const std::string& if_match = {}) const;

  // GET `target` as a stream: each piece of a 2xx body goes to `on_data` as
  // it arrives (any other answer is kept in the Response's body). No overall
  // timeout; a server silent for a minute (the tap says something every
  // 15 s) ends it. `keep_going` is asked often; false aborts quietly.
  Response stream(const std::string& target, const std::function<void(std::string_view)>& on_data,
                  const std::function<bool()>& keep_going) const;

  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::string token_;
  std::string ca_file_;
};

// `s` percent-encoded for a URL path segment or query value.
std::string escape(const std::string& s);

// Prints why `r` failed on stderr: the API's error (message, code, field and
// every detail) or the transport's.
int fail(const Client& client, const Response& r);

// Whether the request got a 2xx answer.
bool ok_status(const Response& r);

// The answer's body as JSON; nullopt (and a message on stderr) when it is not.
std::optional<nlohmann::json> parse_body(const Response& r);

// A JSON value as a table cell: "-" for nothing, lists comma-separated.
std::string text_of(const nlohmann::json& v);

// The revision an ETag ("42", W/"42") names; -1 when none.
long long etag_revision(const std::string& etag);

}  // namespace tern::ternctl
