#include "aws_sts.h"

#include <curl/curl.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>

#include "s3_wire.h"
#include "tern/base/curl_global.h"

namespace tern::relay::s3::detail {

namespace {

constexpr std::size_t kMaxBody = 1 << 20;

// The raw text between <tag ...> and </tag>.
std::optional<std::string_view> xml_inner(std::string_view xml, std::string_view tag);

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  std::size_t len = size * n;
  if (body->size() + len > kMaxBody) return 0;  // aborts the transfer
  body->append(data, len);
  return len;
}

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
void append_entity_decoded(std::string& out, std::string_view s) {
  static const struct {
    std::string_view name;
    char c;
  } kEntities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    bool done = false;
    for (const auto& e : kEntities) {
      if (s.substr(i, e.name.size()) == e.name) {
        out.push_back(e.c);
        i += e.name.size();
        done = true;
        break;
      }
    }
    if (!done && s.substr(i, 2) == "&#") {
      auto semi = s.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 8) {
        std::string_view num = s.substr(i + 2, semi - i - 2);
        long code = -1;
        if (!num.empty() && (num[0] == 'x' || num[0] == 'X')) {
          code = std::strtol(std::string(num.substr(1)).c_str(), nullptr, 16);
        } else if (is_digits(num)) {
          code = to_int(num);
        }
        if (code > 0 && code < 128) {  // STS's answers are ASCII
          out.push_back(static_cast<char>(code));
          i = semi + 1;
          done = true;
        }
      }
    }
    if (!done) out.push_back(s[i++]);
  }
}

// STS errors that clear up by themselves: the caller retries later.
bool transient_sts_code(const std::string& code) {
  return code == "Throttling" || code == "ThrottlingException" || code == "IDPCommunicationError" ||
         code == "ServiceUnavailable" || code == "RequestLimitExceeded" ||
         code == "InternalFailure";
}

Result<Credentials> parse_sts_answer(const HttpAnswer& a, const StsTarget& sts,
                                     std::string_view action, const std::string& who,
                                     std::initializer_list<std::string_view> secrets) {
  std::string where = "STS " + std::string(action) + " at " + sts.endpoint;
  if (!a.reached) {
    return Status::Unavailable(who + ": " + where + " did not answer: " + redact(a.error, secrets));
  }
  if (a.status != 200) {
    std::string code = xml_text(a.body, "Code").value_or("");
    std::string message = redact(xml_text(a.body, "Message").value_or(""), secrets);
    std::string text = who + ": " + where + " answered HTTP " + std::to_string(a.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    if (a.status >= 500 || a.status == 429 || transient_sts_code(code)) {
      return Status::Unavailable(std::move(text));
    }
    return Status::PermissionDenied(std::move(text));
  }
  std::optional<std::string_view> block = xml_inner(a.body, "Credentials");
  Credentials c;
  if (block) {
    c.access_key_id = xml_text(*block, "AccessKeyId").value_or("");
    c.secret_access_key = xml_text(*block, "SecretAccessKey").value_or("");
    c.session_token = xml_text(*block, "SessionToken").value_or("");
    if (auto e = xml_text(*block, "Expiration")) c.expiration = parse_iso8601(*e);
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() ||
      !c.expiration) {
    return Status::Unavailable(who + ": " + where +
                               " answered 200 without AccessKeyId, SecretAccessKey, "
                               "SessionToken and Expiration");
  }
  return c;
}

std::string sts_url(const StsTarget& sts) {
  std::string url = sts.endpoint;
  // A bare origin gets "/": STS's query API lives at the root.
  auto scheme = url.find("://");
  if (scheme != std::string::npos && url.find('/', scheme + 3) == std::string::npos) url += "/";
  return url;
}

// A POST to STS's query API, asking for its XML answer; the caller adds the
// form body (and the signature).
HttpRequest sts_post(const StsTarget& sts) {
  HttpRequest req;
  req.method = "POST";
  req.url = sts_url(sts);
  req.timeout = sts.timeout;
  req.connect_timeout = sts.timeout;
  req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  req.headers.push_back("Accept: application/xml");
  return req;
}

}  // namespace

std::string env(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

Result<std::string> read_small_file(const std::string& path, const std::string& who) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::PermissionDenied(who + ": cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text(kMaxBody + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::PermissionDenied(who + ": cannot read " + path);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxBody) {
    return Status::PermissionDenied(who + ": " + path + " is larger than 1 MiB");
  }
  return text;
}

HttpAnswer http_call(const HttpRequest& request) {
  base::curl_global_init_once();
  HttpAnswer answer;
  std::unique_ptr<CURL, CurlDeleter> h(curl_easy_init());
  if (!h) {
    answer.error = "curl_easy_init failed";
    return answer;
  }
  curl_slist* raw = nullptr;
  for (const std::string& line : request.headers) raw = curl_slist_append(raw, line.c_str());
  // No "Expect:" removal line: curl 7.88's SigV4 would sign the header it
  // does not send (bodies here are small, so curl adds no Expect anyway).
  if (request.method == "PUT" && request.sigv4.empty()) {
    raw = curl_slist_append(raw, "Content-Type:");
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);

  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tern-relay-s3-credentials");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  if (request.no_proxy) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method == "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
  }
  if (!request.sigv4.empty()) {
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, request.sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERPWD, request.user_pwd.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    answer.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_WRITE_ERROR) answer.error = "answer larger than 1 MiB";
    answer.body.clear();
    return answer;
  }
  answer.reached = true;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string form_escape(std::string_view value) { return wire::uri_encode(value, false); }

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  std::optional<std::string_view> inner = xml_inner(xml, tag);
  if (!inner) return std::nullopt;
  std::string out;
  append_entity_decoded(out, *inner);
  return out;
}

namespace {

std::optional<std::string_view> xml_inner(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag);
  std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    std::size_t after = pos + open.size();
    if (after < xml.size() && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '/')) {
      std::size_t gt = xml.find('>', after);
      if (gt == std::string_view::npos) return std::nullopt;
      if (xml[gt - 1] == '/') return std::string_view();  // <Tag/>
      std::size_t end = xml.find(close, gt + 1);
      if (end == std::string_view::npos) return std::nullopt;
      return xml.substr(gt + 1, end - gt - 1);
    }
    pos = after;
  }
  return std::nullopt;
}

}  // namespace

std::string redact(std::string text, std::initializer_list<std::string_view> secrets) {
  for (std::string_view secret : secrets) {
    if (secret.empty()) continue;
    std::size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  if (text.size() > 300) {
    text.resize(300);
    text += "...";
  }
  return text;
}

Result<Credentials> sts_assume_role_with_web_identity(const StsTarget& sts,
                                                      const std::string& role_arn,
                                                      const std::string& session_name,
                                                      const std::string& web_identity_token,
                                                      const std::string& who) {
  HttpRequest req = sts_post(sts);
  req.body =
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + form_escape(role_arn) +
      "&RoleSessionName=" + form_escape(session_name) +
      "&WebIdentityToken=" + form_escape(web_identity_token);
  HttpAnswer a = http_call(req);
  return parse_sts_answer(a, sts, "AssumeRoleWithWebIdentity", who,
                          {web_identity_token, form_escape(web_identity_token)});
}

Result<Credentials> sts_assume_role(const StsTarget& sts, const Credentials& source,
                                    const std::string& role_arn, const std::string& session_name,
                                    const std::string& external_id, const std::string& who) {
  HttpRequest req = sts_post(sts);
  if (!source.session_token.empty()) {
    req.headers.push_back("X-Amz-Security-Token: " + source.session_token);
  }
  req.sigv4 = "aws:amz:" + sts.region + ":sts";
  req.user_pwd = source.access_key_id + ":" + source.secret_access_key;
  req.body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + form_escape(role_arn) +
             "&RoleSessionName=" + form_escape(session_name);
  if (!external_id.empty()) req.body += "&ExternalId=" + form_escape(external_id);
  HttpAnswer a = http_call(req);
  return parse_sts_answer(a, sts, "AssumeRole", who,
                          {source.secret_access_key, source.session_token});
}

}  // namespace tern::relay::s3::detail
