// What the credential providers (aws_credentials.cc, aws_metadata.cc) share:
// environment and file reading, one blocking HTTP call over a fresh libcurl
// handle, the text helpers STS and the metadata endpoints need (form
// escaping, a tiny XML field extractor, ISO-8601 expirations, redaction of
// secrets), and the two STS calls.
//
// Internal to the s3 sink. Nothing here logs; error texts never hold a
// secret (callers pass the secrets a peer might echo to redact()).
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws_credentials.h"
#include "tern/base/status.h"

namespace tern::relay::s3::detail {

using GetEnv = std::function<const char*(const char*)>;

// The variable's value; "" when unset.
std::string env(const GetEnv& getenv, const char* name);
std::string trim(std::string_view s);
std::string lower(std::string s);
std::string in_quotes(const std::string& s);
// A whole small file (a token, a credentials file; at most 1 MiB);
// kPermissionDenied naming `who`, the file and the reason, never its content.
Result<std::string> read_small_file(const std::string& path, const std::string& who);

struct HttpRequest {
  std::string method = "GET";  // GET, PUT (empty body) or POST (body as a form)
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST only
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  bool no_proxy = false;  // metadata endpoints: never through http_proxy
  // SigV4 by libcurl: "aws:amz:<region>:<service>", with user_pwd
  // "key:secret"; empty: unsigned.
  std::string sigv4;
  std::string user_pwd;
};

struct HttpAnswer {
  bool reached = false;  // false: no HTTP answer (refused, timed out, reset)
  long status = 0;
  std::string body;   // capped at 1 MiB
  std::string error;  // libcurl's text when !reached
};

HttpAnswer http_call(const HttpRequest& request);

// application/x-www-form-urlencoded value: unreserved bytes kept, the rest %XX.
std::string form_escape(std::string_view value);

// The text of the first <tag>...</tag> in `xml`, entities decoded.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);

// "2026-12-06T12:35:01Z", with optional fractional seconds and a Z or
// +HH:MM / -HH:MM offset.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

// `text` with every non-empty secret in `secrets` replaced by "***", cut to
// 300 characters: for messages built from a peer's answer.
std::string redact(std::string text, std::initializer_list<std::string_view> secrets);

// Where STS is reached, and how it is signed.
struct StsTarget {
  std::string endpoint;  // "https://sts.eu-west-1.amazonaws.com", "http://127.0.0.1:PORT"
  std::string region;
  std::chrono::milliseconds timeout{5000};
};

// STS AssumeRoleWithWebIdentity: an unsigned POST. `who` starts every error
// message ("web identity arn:..."). kPermissionDenied when STS refuses,
// kUnavailable when it cannot be reached or answers 5xx / throttles.
Result<Credentials> sts_assume_role_with_web_identity(const StsTarget& sts,
                                                      const std::string& role_arn,
                                                      const std::string& session_name,
                                                      const std::string& web_identity_token,
                                                      const std::string& who);

// STS AssumeRole signed with `source` (SigV4 by libcurl, the session token
// in X-Amz-Security-Token). external_id may be empty. Errors as above.
Result<Credentials> sts_assume_role(const StsTarget& sts, const Credentials& source,
                                    const std::string& role_arn, const std::string& session_name,
                                    const std::string& external_id, const std::string& who);

}  // namespace tern::relay::s3::detail
