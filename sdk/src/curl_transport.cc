// TERN_TRANSPORT=curl: the default Transport is libcurl, one easy handle
// reused for every request so that its connection stays alive between batches.
#include <curl/curl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "default_transport.h"
#include "tern/base/curl_global.h"
#include "tern/base/retry_after.h"
#include "tern/client.h"
#include "tern/transport.h"
#include "tern/version.h"

namespace tern {

void global_init() { base::curl_global_init_once(); }

namespace {

constexpr std::size_t kMaxResponseBody = 256 * 1024;

struct ResponseSink {
  std::string body;
  std::string retry_after;
  std::string etag;
};

// The value of an "ETag:" header line (trimmed), or nullopt for another header.
std::optional<std::string_view> etag_header(std::string_view line) {
  constexpr std::string_view kName = "etag:";
  if (line.size() < kName.size()) return std::nullopt;
  for (std::size_t i = 0; i < kName.size(); ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kName[i]) return std::nullopt;
  }
  std::string_view v = line.substr(kName.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() &&
         (v.back() == '\r' || v.back() == '\n' || v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  size_t n = size * nmemb;
  if (sink->body.size() < kMaxResponseBody) {
    sink->body.append(data, std::min(n, kMaxResponseBody - sink->body.size()));
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t nitems, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  size_t n = size * nitems;
  std::string_view line(data, n);
  // A new status line (a redirect or 100 Continue before the answer) starts a new header set.
  if (line.substr(0, 5) == "HTTP/") {
    sink->retry_after.clear();
    sink->etag.clear();
  }
  if (auto value = base::retry_after_header(line)) {
    sink->retry_after.assign(value->data(), value->size());
  } else if (auto etag = etag_header(line)) {
    sink->etag.assign(etag->data(), etag->size());
  }
  return n;
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(const CurlTransportOptions& options) : options_(options) {
    global_init();
    curl_ = curl_easy_init();
    headers_gzip_ = curl_slist_append(nullptr, "Expect:");
    headers_plain_ = curl_slist_append(nullptr, "Expect:");
    headers_gzip_ = curl_slist_append(headers_gzip_, "Content-Encoding: gzip");
    if (options_.user_agent.empty()) options_.user_agent = std::string("tern-cpp/") + version();
  }
  ~CurlTransport() override {
    if (curl_) curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_gzip_);
    curl_slist_free_all(headers_plain_);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  HttpResponse send(const HttpRequest& request) override {
    HttpResponse response;
    if (!curl_) {
      response.error = "curl_easy_init failed";
      return response;
    }
    ResponseSink sink;
    // Keep the handle (and so its connection cache) but reset per-request options.
    curl_easy_reset(curl_);
    const bool get = request.method == "GET";
    std::string content_type = "Content-Type: " + request.content_type;
    curl_slist* headers = request.gzip && !get ? headers_gzip_ : headers_plain_;
    curl_slist* ct = nullptr;
    if (!get && !request.content_type.empty()) ct = curl_slist_append(ct, content_type.c_str());
    if (!request.if_none_match.empty()) {
      std::string inm = "If-None-Match: " + request.if_none_match;
      ct = curl_slist_append(ct, inm.c_str());
    }
    // Chain: our static list, then the per-request Content-Type.
    curl_slist* all = nullptr;
    for (curl_slist* h = headers; h; h = h->next) all = curl_slist_append(all, h->data);
    for (curl_slist* h = ct; h; h = h->next) all = curl_slist_append(all, h->data);
    curl_slist_free_all(ct);

    curl_easy_setopt(curl_, CURLOPT_URL, request.url.c_str());
    if (get) {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, all);
    curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl_, CURLOPT_USERNAME, request.write_key.c_str());
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, "");
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_bundle.empty())
      curl_easy_setopt(curl_, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &sink);

    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(all);
    if (rc != CURLE_OK) {
      response.error = curl_easy_strerror(rc);
      return response;
    }
    long code = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
    response.status_code = static_cast<int>(code);
    response.body = std::move(sink.body);
    response.etag = std::move(sink.etag);
    if (!sink.retry_after.empty()) {
      response.retry_after = parse_retry_after(sink.retry_after, std::chrono::system_clock::now());
    }
    return response;
  }

 private:
  CurlTransportOptions options_;
  CURL* curl_ = nullptr;
  curl_slist* headers_gzip_ = nullptr;
  curl_slist* headers_plain_ = nullptr;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const CurlTransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

bool have_default_transport() { return true; }

std::unique_ptr<Transport> make_default_transport(const CurlTransportOptions& options) {
  return make_curl_transport(options);
}

}  // namespace tern
