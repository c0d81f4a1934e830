#include "s3_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "s3_wire.h"
#include "tern/base/curl_global.h"
#include "tern/base/sha256.h"

// How the signature is made (checked against moto with signing enforced, on
// Debian's libcurl 7.88):
// - CURLOPT_AWS_SIGV4 signs every header the request carries and takes the
//   payload hash from an x-amz-content-sha256 header when one is set; it does
//   not read an uploaded body (CURLOPT_UPLOAD + a read callback) to hash it,
//   and without the header it hashes the (empty) POSTFIELDS instead. So every
//   request carries x-amz-content-sha256 with the real SHA-256 of its body
//   (the caller's for a streamed body, computed here for one in memory, the
//   empty string's for GET/HEAD/DELETE), and curl signs that value.
// - curl 7.88 copies the query string into the canonical request as it is:
//   it neither sorts nor normalises it. The query is therefore built here
//   already canonical: names and values percent-encoded the SigV4 way, pairs
//   sorted, and a bare subresource written "uploads=" (S3 accepts both forms).
// - The path goes into the canonical request as written, which is S3's rule
//   (no second encoding), so each key segment is encoded once here.
// - A session token is sent as x-amz-security-token, a header curl then signs.
// - curl signs every header in CURLOPT_HTTPHEADER, including one that only
//   removes a header of curl's ("Content-Type:", "Expect:"), which is then
//   not sent: the signature no longer matches. So no header is removed that
//   way. Headers curl adds itself (Expect, its form Content-Type on a POST
//   that names none, User-Agent) are sent unsigned, which S3 accepts.

namespace tern::relay::s3 {
using wire::canonical_query;
using wire::dns_compatible;
using wire::is_error_document;
using wire::is_ip_literal;
using wire::Query;
using wire::uri_encode;
using wire::xml_escape;
using wire::xml_next;
using wire::xml_text;

namespace {

constexpr size_t kBodyCap = 1 << 20;
constexpr size_t kUploadBuffer = 512 * 1024;
constexpr const char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using base::sha256_hex;

// Error codes S3 answers with 400 that mean the credential is wrong or
// expired: a person (or a refresh) has to act, retrying as is cannot help.
bool is_credential_code(const std::string& code) {
  return code == "ExpiredToken" || code == "InvalidAccessKeyId" || code == "InvalidToken" ||
         code == "TokenRefreshRequired" || code == "SignatureDoesNotMatch" ||
         code == "AccessDenied" || code == "InvalidClientTokenId";
}

// A body for one call: nothing, bytes in memory, or a range of a file.
struct Body {
  enum Kind { kNone, kMemory, kFile } kind = kNone;
  std::string_view memory;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string sha256;  // hex
  // Read state.
  uint64_t sent = 0;
  int read_errno = 0;
};

size_t read_body(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* body = static_cast<Body*>(userdata);
  const uint64_t total = body->kind == Body::kFile ? body->length : body->memory.size();
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size * nitems, total - body->sent));
  if (want == 0) return 0;
  if (body->kind == Body::kMemory) {
    std::memcpy(buffer, body->memory.data() + body->sent, want);
    body->sent += want;
    return want;
  }
  ssize_t n;
  do {
    n = ::pread(body->fd, buffer, want, static_cast<off_t>(body->offset + body->sent));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {  // an error, or the file shorter than promised
    body->read_errno = n < 0 ? errno : 0;
    if (n == 0) body->read_errno = -1;
    return CURL_READFUNC_ABORT;
  }
  body->sent += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

// curl rewinds a body it has to send again (a redirect, a reused connection
// that turned out closed).
int seek_body(void* userdata, curl_off_t offset, int origin) {
  auto* body = static_cast<Body*>(userdata);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  body->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t on_data(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* r = static_cast<S3Response*>(userdata);
  const size_t n = size * nmemb;
  if (r->body.size() < kBodyCap) r->body.append(ptr, std::min(n, kBodyCap - r->body.size()));
  return n;
}

size_t on_header(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* r = static_cast<S3Response*>(userdata);
  const size_t n = size * nitems;
  std::string_view line(buffer, n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue)
    r->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  r->headers[name] = std::string(value);
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void append(Slist& list, const std::string& header) {
  curl_slist* l = curl_slist_append(list.get(), header.c_str());
  if (l) {
    list.release();
    list.reset(l);
  }
}

// How long a call may take: a total for calls whose answer comes at once, a
// stall limit for those moving an object.
enum class Deadline { kTotal, kStall, kSlowAnswer };

struct Request {
  const char* method = "GET";
  std::string key;  // empty: the bucket itself
  bool bucket_level = false;
  Query query;
  std::vector<std::string> headers;  // "Name: value"
  Body body;
  Deadline deadline = Deadline::kTotal;
  bool error_in_ok = false;  // a 200 may carry an <Error> document
};

}  // namespace

struct S3Client::Impl {
  S3Options options;
  std::shared_ptr<CredentialProvider> credentials;
  CURL* curl = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};
  // The URL up to the key: "scheme://host[:port]" + "/bucket" (path style)
  // or "scheme://bucket.host[:port]" (virtual-hosted).
  std::string base;
  std::string sigv4;  // "aws:amz:<region>:s3"
  bool path_style = false;

  Impl(S3Options o, std::shared_ptr<CredentialProvider> c)
      : options(std::move(o)), credentials(std::move(c)) {
    tern::base::curl_global_init_once();
    curl = curl_easy_init();
    sigv4 = "aws:amz:" + options.region + ":s3";
    std::string endpoint = options.endpoint;
    if (endpoint.empty()) endpoint = "https://s3." + options.region + ".amazonaws.com";
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    size_t scheme_end = endpoint.find("://");
    std::string scheme = scheme_end == std::string::npos ? "https" : endpoint.substr(0, scheme_end);
    std::string rest = scheme_end == std::string::npos ? endpoint : endpoint.substr(scheme_end + 3);
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    std::string host = authority;
    if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
    // Virtual-hosted unless asked otherwise, or impossible (an IP address,
    // a bucket name that is no DNS label): AWS SDKs decide the same way.
    path_style = options.path_style || is_ip_literal(host) ||
                 !dns_compatible(options.bucket, scheme == "https");
    if (path_style) {
      base = scheme + "://" + authority + path + "/" + uri_encode(options.bucket, false);
    } else {
      base = scheme + "://" + options.bucket + "." + authority + path;
    }
  }

  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }

  std::string describe(const std::string& key) const {
    return "s3://" + options.bucket + (key.empty() ? "" : "/" + key);
  }

  S3Response perform(Request& req) {
    S3Response r;
    const std::string what = std::string(req.method) + " " + describe(req.key);
    if (!curl) {
      r.status = Status::Internal(what + ": curl_easy_init failed");
      r.failure = S3Failure::kRetry;
      return r;
    }
    Result<Credentials> creds = credentials->get();
    if (!creds) {
      r.status = Status(creds.status().code(), what + ": " + creds.status().message());
      // Refused or not configured: a person has to act. Unreachable (an
      // STS or metadata endpoint down, a timeout): try again.
      const StatusCode c = creds.status().code();
      r.failure = c == StatusCode::kPermissionDenied || c == StatusCode::kInvalidArgument
                      ? S3Failure::kPause
                      : S3Failure::kRetry;
      return r;
    }

    // The bucket itself is "/bucket" in path style, "/" on its own host.
    std::string url =
        req.bucket_level && path_style ? base : base + "/" + uri_encode(req.key, true);
    if (!req.query.empty()) url += "?" + canonical_query(req.query);

    curl_easy_reset(curl);  // keeps the connection and DNS caches
    errbuf[0] = '\0';
    Slist headers;
    for (const std::string& h : req.headers) append(headers, h);
    append(headers,
           "x-amz-content-sha256: " +
               (req.body.kind == Body::kNone ? std::string(kEmptySha256) : req.body.sha256));
    if (!creds->session_token.empty())
      append(headers, "x-amz-security-token: " + creds->session_token);
    const bool has_body = req.body.kind != Body::kNone;
    const uint64_t body_size =
        req.body.kind == Body::kFile ? req.body.length : req.body.memory.size();

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, creds->access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, creds->secret_access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tern-relay-s3-sink");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    const long stall_s =
        std::max<long>(1, static_cast<long>((options.stall_timeout.count() + 999) / 1000));
    switch (req.deadline) {
      case Deadline::kTotal:
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                         static_cast<long>(options.request_timeout.count()));
        break;
      case Deadline::kStall:
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_s);
        break;
      case Deadline::kSlowAnswer:
        // CompleteMultipartUpload may take minutes while S3 assembles the
        // parts (it keeps the connection alive with whitespace): only a
        // silent connection is abandoned.
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_s);
        break;
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);

    const std::string_view method = req.method;
    if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &read_body);
      curl_easy_setopt(curl, CURLOPT_READDATA, &req.body);
      curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &seek_body);
      curl_easy_setopt(curl, CURLOPT_SEEKDATA, &req.body);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
      // Fewer, larger preads for objects of tens of MiB (curl's default is 64 KiB).
      if (req.body.kind == Body::kFile)
        curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(kUploadBuffer));
    } else if (method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, has_body ? req.body.memory.data() : "");
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(has_body ? body_size : 0));
    } else if (method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method);
    }

    req.body.sent = 0;
    req.body.read_errno = 0;
    const CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
      r.http_status = 0;
      r.headers.clear();
      r.failure = S3Failure::kRetry;
      if (rc == CURLE_ABORTED_BY_CALLBACK || req.body.read_errno != 0) {
        std::string why = req.body.read_errno > 0 ? std::strerror(req.body.read_errno)
                                                  : "the file is shorter than the range";
        r.status = Status::IOError(what + ": reading the body: " + why);
        return r;
      }
      std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        r.status = Status::Timeout(what + ": " + detail);
      } else {
        r.status = Status::Unavailable(what + ": " + detail);
      }
      return r;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.http_status);
    if (auto it = r.headers.find("etag"); it != r.headers.end()) r.etag = it->second;
    classify(what, req.error_in_ok, &r);
    // An expired session: the next get() fetches new credentials. A HEAD's
    // answer has no body to name the code; a bare 400 to a request with a
    // session token is taken for the same.
    if (r.code == "ExpiredToken" || r.code == "InvalidToken" || r.code == "TokenRefreshRequired" ||
        (r.code.empty() && r.http_status == 400 && !creds->session_token.empty()))
      credentials->invalidate();
    return r;
  }

  // Fills code, failure and status from the answer (see S3Failure).
  static void classify(const std::string& what, bool error_in_ok, S3Response* r) {
    const long s = r->http_status;
    const bool ok = s >= 200 && s < 300;
    // CompleteMultipartUpload may answer 200 and then report an error as the
    // body's root element (the status line went out before the parts were
    // joined). Other 2xx bodies are the caller's data, never looked into.
    const bool error_body = ok ? error_in_ok && is_error_document(r->body)
                               : r->body.find("<Error>") != std::string::npos;
    if (ok && !error_body) {
      r->failure = S3Failure::kNone;
      r->status = Status::ok();
      return;
    }
    std::string message;
    std::string request_id;
    if (error_body) {
      r->code = xml_text(r->body, "Code");
      message = xml_text(r->body, "Message");
      request_id = xml_text(r->body, "RequestId");
    }
    if (request_id.empty()) {
      for (const char* h : {"x-amz-request-id", "x-amzn-requestid"}) {
        if (auto it = r->headers.find(h); it != r->headers.end()) {
          request_id = it->second;
          break;
        }
      }
    }
    if (r->code.empty()) {  // HEAD answers have no body
      if (s == 404) r->code = "NotFound";
      if (s == 403) r->code = "Forbidden";
      if (s == 412) r->code = "PreconditionFailed";
      if (s == 503) r->code = "ServiceUnavailable";
    }
    StatusCode code;
    if (s >= 200 && s < 300) {  // an error in a 200's body
      r->failure = r->code == "InternalError" || r->code == "SlowDown" ||
                           r->code == "ServiceUnavailable" || r->code.empty()
                       ? S3Failure::kRetry
                       : S3Failure::kPause;
      code = r->failure == S3Failure::kRetry ? StatusCode::kUnavailable
                                             : StatusCode::kFailedPrecondition;
    } else if (s >= 500 || s == 429 || r->code == "SlowDown" || r->code == "RequestTimeout" ||
               r->code == "Throttling" || r->code == "OperationAborted") {
      r->failure = S3Failure::kRetry;
      code = StatusCode::kUnavailable;
    } else if (s == 412) {
      r->failure = S3Failure::kPrecondition;
      code = StatusCode::kFailedPrecondition;
    } else {
      r->failure = S3Failure::kPause;
      if (s == 403 || is_credential_code(r->code)) {
        code = StatusCode::kPermissionDenied;
      } else if (s == 404) {
        code = StatusCode::kNotFound;
      } else if (s == 400) {
        code = StatusCode::kInvalidArgument;
      } else {
        code = StatusCode::kFailedPrecondition;
      }
    }
    std::string text = what + ": " + std::to_string(s);
    if (!r->code.empty()) text += " " + r->code;
    if (!message.empty()) text += ": " + message;
    if (!request_id.empty()) text += " (request id " + request_id + ")";
    r->status = Status(code, std::move(text));
  }
};

S3Client::S3Client(S3Options options, std::shared_ptr<CredentialProvider> credentials)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(credentials))) {}

S3Client::~S3Client() = default;

namespace {

void add_put_headers(const PutOptions& o, std::vector<std::string>* h) {
  if (!o.content_type.empty()) h->push_back("Content-Type: " + o.content_type);
  if (!o.content_encoding.empty()) h->push_back("Content-Encoding: " + o.content_encoding);
  if (!o.storage_class.empty()) h->push_back("x-amz-storage-class: " + o.storage_class);
  if (!o.server_side_encryption.empty())
    h->push_back("x-amz-server-side-encryption: " + o.server_side_encryption);
  if (!o.sse_kms_key_id.empty())
    h->push_back("x-amz-server-side-encryption-aws-kms-key-id: " + o.sse_kms_key_id);
  for (const auto& [name, value] : o.metadata) h->push_back("x-amz-meta-" + name + ": " + value);
}

// A PutObject of `key` (its body still to be set).
Request put_request(const std::string& key, const PutOptions& options) {
  Request req;
  req.method = "PUT";
  req.key = key;
  req.deadline = Deadline::kStall;
  add_put_headers(options, &req.headers);
  if (options.if_none_match) req.headers.push_back("If-None-Match: *");
  return req;
}

}  // namespace

S3Response S3Client::put_object(const std::string& key, int fd, uint64_t offset, uint64_t length,
                                const std::string& sha256_hex, const PutOptions& options) {
  Request req = put_request(key, options);
  req.body.kind = Body::kFile;
  req.body.fd = fd;
  req.body.offset = offset;
  req.body.length = length;
  req.body.sha256 = sha256_hex;
  return impl_->perform(req);
}

S3Response S3Client::put_object(const std::string& key, std::string_view body,
                                const PutOptions& options) {
  Request req = put_request(key, options);
  req.body.kind = Body::kMemory;
  req.body.memory = body;
  req.body.sha256 = sha256_hex(body);
  return impl_->perform(req);
}

S3Response S3Client::head_object(const std::string& key) {
  Request req;
  req.method = "HEAD";
  req.key = key;
  return impl_->perform(req);
}

S3Response S3Client::get_object(const std::string& key) {
  Request req;
  req.method = "GET";
  req.key = key;
  return impl_->perform(req);
}

S3Response S3Client::head_bucket() {
  Request req;
  req.method = "HEAD";
  req.bucket_level = true;
  return impl_->perform(req);
}

S3Response S3Client::create_bucket() {
  Request req;
  req.method = "PUT";
  req.bucket_level = true;
  std::string config;
  if (impl_->options.region != "us-east-1") {
    config =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        xml_escape(impl_->options.region) + "</LocationConstraint></CreateBucketConfiguration>";
    req.headers.push_back("Content-Type: application/xml");
  }
  req.body.kind = Body::kMemory;
  req.body.memory = config;
  req.body.sha256 = sha256_hex(config);
  return impl_->perform(req);
}

S3Response S3Client::create_multipart_upload(const std::string& key, const PutOptions& options,
                                             std::string* upload_id) {
  Request req;
  req.method = "POST";
  req.key = key;
  req.query = {{"uploads", ""}};
  add_put_headers(options, &req.headers);
  S3Response r = impl_->perform(req);
  if (r.failure == S3Failure::kNone) {
    std::string id = xml_text(r.body, "UploadId");
    if (id.empty()) {
      r.failure = S3Failure::kRetry;
      r.status = Status::Unavailable("POST " + describe(key) +
                                     ": no UploadId in the InitiateMultipartUploadResult");
    } else if (upload_id) {
      *upload_id = std::move(id);
    }
  }
  return r;
}

S3Response S3Client::upload_part(const std::string& key, const std::string& upload_id,
                                 int part_number, int fd, uint64_t offset, uint64_t length,
                                 const std::string& sha256_hex, std::string* etag) {
  Request req;
  req.method = "PUT";
  req.key = key;
  req.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  req.deadline = Deadline::kStall;
  req.body.kind = Body::kFile;
  req.body.fd = fd;
  req.body.offset = offset;
  req.body.length = length;
  req.body.sha256 = sha256_hex;
  S3Response r = impl_->perform(req);
  if (r.failure == S3Failure::kNone && etag) *etag = r.etag;
  return r;
}

S3Response S3Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                               const std::vector<std::string>& etags,
                                               bool if_none_match) {
  std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           xml_escape(etags[i]) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Request req;
  req.method = "POST";
  req.key = key;
  req.query = {{"uploadId", upload_id}};
  req.deadline = Deadline::kSlowAnswer;
  req.error_in_ok = true;
  req.headers.push_back("Content-Type: application/xml");
  if (if_none_match) req.headers.push_back("If-None-Match: *");
  req.body.kind = Body::kMemory;
  req.body.memory = xml;
  req.body.sha256 = sha256_hex(xml);
  S3Response r = impl_->perform(req);
  if (r.failure == S3Failure::kNone) {
    std::string etag = xml_text(r.body, "ETag");
    if (!etag.empty()) r.etag = std::move(etag);
  }
  return r;
}

S3Response S3Client::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
  Request req;
  req.method = "DELETE";
  req.key = key;
  req.query = {{"uploadId", upload_id}};
  return impl_->perform(req);
}

S3Response S3Client::list_multipart_uploads(const std::string& prefix,
                                            std::vector<MultipartUpload>* out) {
  std::string key_marker;
  std::string upload_id_marker;
  while (true) {
    Request req;
    req.method = "GET";
    req.bucket_level = true;
    req.query = {{"uploads", ""},
                 {"prefix", prefix},
                 {"max-uploads", std::to_string(impl_->options.list_page_size)}};
    if (!key_marker.empty()) req.query.emplace_back("key-marker", key_marker);
    if (!upload_id_marker.empty()) req.query.emplace_back("upload-id-marker", upload_id_marker);
    S3Response r = impl_->perform(req);
    if (r.failure != S3Failure::kNone) return r;
    size_t pos = 0;
    std::string_view upload;
    while (xml_next(r.body, "Upload", &pos, &upload)) {
      MultipartUpload u;
      u.key = xml_text(upload, "Key");
      u.upload_id = xml_text(upload, "UploadId");
      if (out) out->push_back(std::move(u));
    }
    if (xml_text(r.body, "IsTruncated") != "true") return r;
    std::string next_key = xml_text(r.body, "NextKeyMarker");
    std::string next_id = xml_text(r.body, "NextUploadIdMarker");
    if (next_key.empty() || (next_key == key_marker && next_id == upload_id_marker)) {
      r.failure = S3Failure::kRetry;
      r.status = Status::Unavailable("GET " + describe(prefix) +
                                     "?uploads: a truncated page without a next marker");
      return r;
    }
    key_marker = std::move(next_key);
    upload_id_marker = std::move(next_id);
  }
}

S3Response S3Client::list_objects(const std::string& prefix, std::vector<std::string>* keys) {
  std::string token;
  while (true) {
    Request req;
    req.method = "GET";
    req.bucket_level = true;
    req.query = {{"list-type", "2"},
                 {"prefix", prefix},
                 {"max-keys", std::to_string(impl_->options.list_page_size)}};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    S3Response r = impl_->perform(req);
    if (r.failure != S3Failure::kNone) return r;
    size_t pos = 0;
    std::string_view contents;
    while (xml_next(r.body, "Contents", &pos, &contents)) {
      if (keys) keys->push_back(xml_text(contents, "Key"));
    }
    if (xml_text(r.body, "IsTruncated") != "true") return r;
    std::string next = xml_text(r.body, "NextContinuationToken");
    if (next.empty() || next == token) {
      r.failure = S3Failure::kRetry;
      r.status = Status::Unavailable("GET " + describe(prefix) +
                                     "?list-type=2: a truncated page without a continuation token");
      return r;
    }
    token = std::move(next);
  }
}

std::string S3Client::describe(const std::string& key) const { return impl_->describe(key); }

Result<std::string> sha256_file_range(int fd, uint64_t offset, uint64_t length) {
  base::Sha256 digest;
  if (!digest.ok()) return Status::Internal("sha256_file_range: EVP_DigestInit_ex failed");
  std::vector<char> buf(std::min<uint64_t>(length, 1 << 20));
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(std::string("sha256_file_range: ") + std::strerror(errno));
    if (n == 0)
      return Status::IOError("sha256_file_range: the file ends at " +
                             std::to_string(offset + done) + ", before " +
                             std::to_string(offset + length));
    digest.update(buf.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  std::string hex;
  digest.finish(&hex);
  return hex;
}

}  // namespace tern::relay::s3
