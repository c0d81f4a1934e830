#include "aws_metadata.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tern::relay::s3::detail {

namespace {

constexpr auto kImdsConnectTimeout = std::chrono::milliseconds(1000);
constexpr auto kImdsTimeout = std::chrono::milliseconds(2000);
constexpr const char* kDefaultImds = "http://169.254.169.254";
constexpr const char* kEcsHost = "http://169.254.170.2";

// Credentials from a metadata endpoint's JSON answer (container and IMDS
// share the field names).
Result<Credentials> parse_metadata_json(const std::string& body, const std::string& who) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Unavailable(who + ": the answer is not a JSON object");
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string code = str("Code");
  if (!code.empty() && code != "Success") {
    return Status::PermissionDenied(who + ": the endpoint answered Code " + in_quotes(code));
  }
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  std::string expiration = str("Expiration");
  if (!expiration.empty()) {
    c.expiration = parse_iso8601(expiration);
    if (!c.expiration) {
      return Status::Unavailable(who + ": unreadable Expiration " + in_quotes(expiration));
    }
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::Unavailable(who + ": the answer has no AccessKeyId and SecretAccessKey");
  }
  return c;
}

// An HTTP answer that is not 200, as a status: 5xx and 429 are worth a
// retry, other refusals need a person.
Status http_failure(const HttpAnswer& a, const std::string& who, const std::string& what,
                    std::initializer_list<std::string_view> secrets) {
  if (!a.reached) {
    return Status::Unavailable(who + ": " + what + " did not answer: " + redact(a.error, secrets));
  }
  std::string text = who + ": " + what + " answered HTTP " + std::to_string(a.status);
  if (a.status >= 500 || a.status == 429) return Status::Unavailable(std::move(text));
  return Status::PermissionDenied(std::move(text));
}

// Hosts a plain-http FULL_URI may name, as the AWS SDKs allow: loopback and
// the ECS / EKS Pod Identity agents.
bool allowed_http_host(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

std::string url_host(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  auto at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

HttpRequest imds_request(std::string url, std::chrono::milliseconds timeout) {
  HttpRequest r;
  r.url = std::move(url);
  r.timeout = timeout;
  r.connect_timeout = std::min(timeout, kImdsConnectTimeout);
  r.no_proxy = true;
  return r;
}

}  // namespace

Result<Credentials> fetch_container_credentials(const GetEnv& getenv,
                                                std::chrono::milliseconds timeout,
                                                const std::string& who) {
  HttpRequest req;
  std::string relative = env(getenv, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  if (!relative.empty()) {
    req.url = std::string(kEcsHost) + (relative[0] == '/' ? "" : "/") + relative;
  } else {
    req.url = env(getenv, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::string scheme = lower(req.url.substr(0, req.url.find("://")));
    if (scheme != "https" && !(scheme == "http" && allowed_http_host(lower(url_host(req.url))))) {
      return Status::PermissionDenied(
          who +
          ": AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http on loopback, "
          "169.254.170.2 or 169.254.170.23; not " +
          in_quotes(url_host(req.url)));
    }
  }
  std::string token;
  std::string token_file = env(getenv, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  if (!token_file.empty()) {
    auto t = read_small_file(token_file, who + " (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)");
    if (!t) return t.status();
    token = trim(*t);
  } else {
    token = env(getenv, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return Status::PermissionDenied(who + ": the authorization token holds a line break");
  }
  if (!token.empty()) req.headers.push_back("Authorization: " + token);
  req.headers.push_back("Accept: application/json");
  req.timeout = timeout;
  req.connect_timeout = std::min(timeout, std::chrono::milliseconds(2000));
  req.no_proxy = true;
  HttpAnswer a = http_call(req);
  if (!a.reached || a.status != 200) return http_failure(a, who, req.url, {token});
  return parse_metadata_json(a.body, who);
}

Result<Credentials> fetch_imds_credentials(const GetEnv& getenv, std::chrono::milliseconds timeout,
                                           const std::string& who) {
  timeout = std::min(timeout, kImdsTimeout);
  std::string base = env(getenv, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (base.empty()) base = kDefaultImds;
  while (!base.empty() && base.back() == '/') base.pop_back();

  HttpRequest put = imds_request(base + "/latest/api/token", timeout);
  put.method = "PUT";
  put.headers.push_back("X-aws-ec2-metadata-token-ttl-seconds: 21600");
  HttpAnswer a = http_call(put);
  // No IMDSv1 fallback: an endpoint refusing the session token is an error.
  if (!a.reached || a.status != 200) {
    return http_failure(a, who, "IMDSv2 token request (PUT " + put.url + ")", {});
  }
  std::string token = trim(a.body);
  if (token.empty()) return Status::Unavailable(who + ": IMDS gave an empty session token");

  const std::string roles_url = base + "/latest/meta-data/iam/security-credentials/";
  HttpRequest get_role = imds_request(roles_url, timeout);
  get_role.headers.push_back("X-aws-ec2-metadata-token: " + token);
  a = http_call(get_role);
  if (a.reached && a.status == 404) {
    return Status::PermissionDenied(who + ": no IAM role is attached to this instance (" +
                                    roles_url + " answered 404)");
  }
  if (!a.reached || a.status != 200) return http_failure(a, who, roles_url, {token});
  std::string role = trim(a.body.substr(0, a.body.find('\n')));
  if (role.empty() || role.find('/') != std::string::npos) {
    return Status::PermissionDenied(who + ": " + roles_url + " named no usable role");
  }

  HttpRequest get_creds = imds_request(roles_url + role, timeout);
  get_creds.headers.push_back("X-aws-ec2-metadata-token: " + token);
  a = http_call(get_creds);
  if (!a.reached || a.status != 200) return http_failure(a, who, get_creds.url, {token});
  return parse_metadata_json(a.body, who + " role " + role);
}

}  // namespace tern::relay::s3::detail
