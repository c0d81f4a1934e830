#include "tern/relay/sinks/http.h"

#include <curl/curl.h>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tern/base/base64.h"
#include "tern/base/curl_global.h"
#include "tern/base/gzip.h"
#include "tern/base/iso8601.h"
#include "tern/base/retry_after.h"
#include "tern/relay/log.h"
#include "tern/relay/sink_settings.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char kHeaderPrefix[] = "headers.";
// deliver() waits out at most this much of a Retry-After itself; the rest is
// left to the runner's backoff (so stop() is never held up for long).
constexpr auto kMaxInlineWait = milliseconds(1000);
constexpr std::size_t kMaxErrorBody = 300;

struct Options {
  std::string name;
  std::string url;
  std::string write_key;
  bool gzip = true;
  milliseconds timeout{10'000};
  milliseconds connect_timeout{3'000};
  milliseconds retry_after_max{300'000};
  std::size_t max_request_bytes = 480 * 1024;
  std::string ca_file;
  std::vector<std::string> headers;  // "Name: value"
};

std::string excerpt(const std::string& body) {
  std::string s = body.substr(0, kMaxErrorBody);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

struct Response {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  std::string retry_after;
};

class HttpSink final : public Sink {
 public:
  explicit HttpSink(Options o) : opt_(std::move(o)) {}
  ~HttpSink() override { release(); }

  Status open() override {
    if (curl_) return Status::ok();
    curl_ = curl_easy_init();
    if (!curl_) return Status(StatusCode::kInternal, "curl_easy_init failed");
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    if (opt_.gzip) headers_ = curl_slist_append(headers_, "Content-Encoding: gzip");
    if (!opt_.write_key.empty()) {
      std::string auth = "Authorization: Basic " + base::base64_encode(opt_.write_key + ":");
      headers_ = curl_slist_append(headers_, auth.c_str());
    }
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
    for (const std::string& h : opt_.headers) headers_ = curl_slist_append(headers_, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, opt_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(opt_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "tern-relay-http-sink");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpSink::on_body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpSink::on_header);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf_);
    if (!opt_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, opt_.ca_file.c_str());
    return Status::ok();
  }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    DeliveryResult res;
    if (!curl_) {
      res.status = open();
      if (!res.status) return res;
    }
    // Honour a Retry-After: never send before it.
    auto now = SteadyClock::now();
    if (now < not_before_) {
      std::this_thread::sleep_for(
          std::min<SteadyClock::duration>(not_before_ - now, kMaxInlineWait));
      now = SteadyClock::now();
      if (now < not_before_) {
        auto left = std::chrono::duration_cast<milliseconds>(not_before_ - now).count();
        res.status = Status(StatusCode::kUnavailable, "http sink: server asked to retry after " +
                                                          std::to_string(left) + " ms more");
        return res;
      }
    }
    // A retry of the batch that failed last time skips what was settled then.
    bool same_batch = !batch.empty() && batch.front().seq == settled_first_seq_;
    if (!same_batch) settled_.clear();
    settled_first_seq_ = batch.empty() ? 0 : batch.front().seq;

    // Requests sized for the receiver's limits, in order.
    std::vector<std::size_t> chunk;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i <= batch.size(); ++i) {
      bool flush = i == batch.size() ||
                   (!chunk.empty() && bytes + batch[i].event.size() + 1 > opt_.max_request_bytes);
      if (flush && !chunk.empty()) {
        res.status = send_range(batch, chunk);
        if (!res.status) break;
        chunk.clear();
        bytes = 0;
      }
      if (i == batch.size()) break;
      if (settled_.count(batch[i].seq)) continue;
      chunk.push_back(i);
      bytes += batch[i].event.size() + 1;
    }
    last_error_ = res.status;
    if (!res.status) return res;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto it = settled_.find(batch[i].seq);
      if (it != settled_.end() && !it->second.empty())
        res.rejected.push_back(SinkRejection{i, it->second});
    }
    settled_.clear();
    settled_first_seq_ = 0;
    return res;
  }

  Status health() override { return last_error_; }

  Status close(SteadyClock::time_point) override {
    release();
    return Status::ok();
  }

 private:
  void release() {
    if (curl_) curl_easy_cleanup(curl_);
    curl_ = nullptr;
    if (headers_) curl_slist_free_all(headers_);
    headers_ = nullptr;
  }

  // Sends batch[idx...]; on a data refusal (400/413/422) bisects. Marks
  // every settled record in settled_ (reason empty: delivered).
  Status send_range(const std::vector<SinkRecord>& batch, const std::vector<std::size_t>& idx) {
    Response r = post(batch, idx);
    if (r.curl != CURLE_OK) {
      return Status(StatusCode::kUnavailable, "http sink: " + opt_.url + ": " + r.curl_error);
    }
    if (r.status >= 200 && r.status < 300) {
      for (std::size_t i : idx) settled_.emplace(batch[i].seq, std::string());
      map_partial_answer(r.body, batch, idx);
      return Status::ok();
    }
    if (r.status == 400 || r.status == 413 || r.status == 422) {
      if (idx.size() == 1) {
        settled_[batch[idx[0]].seq] = "HTTP " + std::to_string(r.status) + ": " + excerpt(r.body);
        return Status::ok();
      }
      std::vector<std::size_t> left(idx.begin(), idx.begin() + idx.size() / 2);
      std::vector<std::size_t> right(idx.begin() + idx.size() / 2, idx.end());
      Status st = send_range(batch, left);
      if (st) st = send_range(batch, right);
      return st;
    }
    if (!r.retry_after.empty()) set_retry_after(r.retry_after);
    return Status(StatusCode::kUnavailable, "http sink: " + opt_.url + " answered " +
                                                std::to_string(r.status) + ": " + excerpt(r.body));
  }

  // The relay's 200 partial answer: {"accepted":N,"rejected":[{"index":i,"reason":r}]}.
  void map_partial_answer(const std::string& body, const std::vector<SinkRecord>& batch,
                          const std::vector<std::size_t>& idx) {
    if (body.find("\"rejected\"") == std::string::npos) return;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    if (parser_.parse(body).get(doc) != simdjson::SUCCESS ||
        doc["rejected"].get_array().get(arr) != simdjson::SUCCESS) {
      return;
    }
    for (simdjson::dom::element e : arr) {
      uint64_t i = 0;
      if (e["index"].get_uint64().get(i) != simdjson::SUCCESS || i >= idx.size()) continue;
      std::string_view reason = "rejected by the receiver";
      if (e["reason"].get_string().get(reason) != simdjson::SUCCESS)
        reason = "rejected by the receiver";
      settled_[batch[idx[i]].seq] = "receiver rejected: " + std::string(reason);
    }
  }

  Response post(const std::vector<SinkRecord>& batch, const std::vector<std::size_t>& idx) {
    body_.clear();
    body_ += "{\"batch\":[";
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k) body_ += ',';
      const auto& ev = batch[idx[k]].event;
      body_.append(ev.data(), ev.size());
    }
    body_ += "],\"sentAt\":\"";
    base::append_iso8601_ms(body_, std::chrono::system_clock::now());
    body_ += "\"}";
    const std::string* payload = &body_;
    if (opt_.gzip) {
      if (!base::gzip_compress_into(body_, 6, &gz_)) {
        Response r;
        r.curl = CURLE_ABORTED_BY_CALLBACK;
        r.curl_error = "gzip failed";
        return r;
      }
      payload = &gz_;
    }
    Response r;
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload->data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
    errbuf_[0] = '\0';
    r.curl = curl_easy_perform(curl_);
    if (r.curl != CURLE_OK) {
      r.curl_error = errbuf_[0] ? errbuf_ : curl_easy_strerror(r.curl);
    } else {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    }
    return r;
  }

  void set_retry_after(const std::string& v) {
    auto asked = base::parse_retry_after(v, std::chrono::system_clock::now());
    if (!asked) return;
    not_before_ = SteadyClock::now() + std::min<milliseconds>(*asked, opt_.retry_after_max);
  }

  static size_t on_body(char* p, size_t size, size_t n, void* ud) {
    auto* r = static_cast<Response*>(ud);
    std::size_t len = size * n;
    if (r->body.size() < 64 * 1024)
      r->body.append(p, std::min<std::size_t>(len, 64 * 1024 - r->body.size()));
    return len;
  }

  static size_t on_header(char* p, size_t size, size_t n, void* ud) {
    auto* r = static_cast<Response*>(ud);
    std::size_t len = size * n;
    std::string_view h(p, len);
    if (auto value = base::retry_after_header(h)) r->retry_after = std::string(*value);
    // A new status line (redirect, 100) starts a new header block.
    if (h.rfind("HTTP/", 0) == 0) r->retry_after.clear();
    return len;
  }

  Options opt_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE] = {};
  std::string body_;
  std::string gz_;
  simdjson::dom::parser parser_;
  SteadyClock::time_point not_before_{};
  std::map<uint64_t, std::string> settled_;  // seq -> "" delivered, else the refusal reason
  uint64_t settled_first_seq_ = 0;
  Status last_error_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_http_sink(const SinkConfig& config, const SinkContext&) {
  // Process-wide libcurl setup, once (never per sink instance).
  base::curl_global_init_once();

  const std::string where = "sink \"" + config.name + "\" (http): ";
  SinkSettings s(config);
  Options o;
  o.name = config.name;
  o.url = s.str("url", "");
  o.write_key = s.str("write_key", "");
  o.gzip = s.boolean("gzip", true);
  o.timeout = s.duration("timeout", milliseconds(10'000));
  o.connect_timeout = s.duration("connect_timeout", milliseconds(3'000));
  o.retry_after_max = s.duration("retry_after_max", milliseconds(300'000));
  o.max_request_bytes = s.size("max_request_bytes", 480 * 1024);
  o.ca_file = s.str("ca_file", "");
  for (const auto& [k, v] : config.settings) {
    if (k.rfind(kHeaderPrefix, 0) != 0) continue;
    std::string name = k.substr(sizeof kHeaderPrefix - 1);
    std::string value = s.str(k, v);
    bool ok = !name.empty() && name.find_first_of(": \r\n") == std::string::npos &&
              value.find_first_of("\r\n") == std::string::npos;
    if (!ok) return Status(StatusCode::kInvalidArgument, where + "bad header setting " + k);
    o.headers.push_back(name + ": " + value);
  }
  Status st = s.finish();
  if (!st) return st;
  if (o.url.empty()) return Status(StatusCode::kInvalidArgument, where + "url is required");
  std::size_t scheme = o.url.find("://");
  std::string proto = scheme == std::string::npos ? "" : o.url.substr(0, scheme);
  if (proto != "http" && proto != "https") {
    return Status(StatusCode::kInvalidArgument, where + "url must start with http:// or https://");
  }
  if (o.url.find('/', scheme + 3) == std::string::npos) o.url += "/v1/batch";
  if (o.timeout.count() <= 0 || o.connect_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidArgument, where + "timeouts must be positive");
  }
  if (o.max_request_bytes < 1024) {
    return Status(StatusCode::kInvalidArgument, where + "max_request_bytes must be at least 1KiB");
  }
  return std::unique_ptr<Sink>(new HttpSink(std::move(o)));
}

}  // namespace tern::relay
