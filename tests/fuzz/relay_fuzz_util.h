// Shared by the relay fuzz targets: a RequestHandler over an in-memory
// pipeline, and the checks every answer must pass.
#pragma once

#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request_handler.h"
#include "tern/relay/metrics.h"
#include "tern/relay/pipeline.h"

namespace tern::fuzz {

// "Basic " + base64("fuzz-key:")
inline const char* const kGoodAuth = "Basic ZnV6ei1rZXk6";

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz oracle: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Collects submissions; the handler's `done` runs after handle() returns, as
// a real pipeline thread would (never inside submit()).
class MemoryPipeline final : public relay::Pipeline {
 public:
  void submit(relay::Submission s, std::function<void(Status)> done) override {
    for (std::size_t i = 0; i < s.events.size(); ++i) events.emplace_back(s.events.event(i));
    pending.push_back(std::move(done));
  }
  bool ready(std::string*) const override { return true; }
  int retry_after_seconds() const override { return 1; }
  void fire() {
    auto p = std::move(pending);
    pending.clear();
    for (auto& d : p) d(Status::ok());
  }
  std::vector<std::string> events;
  std::vector<std::function<void(Status)>> pending;
};

inline std::string gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class HandlerRig {
 public:
  explicit HandlerRig(bool small_limits) {
    relay::RelayConfig config;
    relay::SourceConfig source;
    source.id = "fuzz";
    source.write_keys = {"fuzz-key"};
    config.sources = {source};
    config.server.cors_origins = {"https://app.example"};
    config.server.trusted_proxies = {"127.0.0.1"};
    if (small_limits) {
      config.limits.max_body_bytes = 8 * 1024;
      config.limits.max_decompressed_bytes = 32 * 1024;
      config.limits.max_batch_events = 16;
      config.limits.max_event_bytes = 2 * 1024;
      config.limits.max_batch_bytes = 16 * 1024;
      config.limits.max_json_depth = 8;
    }
    auto ingest = relay::make_ingest_config(config);
    if (!ingest) fail("config", ingest.status().to_string());
    handler_ =
        std::make_unique<relay::RequestHandler>(std::move(ingest).value(), &pipeline_, &metrics_);
  }

  // Runs one request and checks the answer and what reached the pipeline.
  relay::HttpResponse run(relay::HttpRequest r) {
    r.received_at =
        std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1764115200000);
    // A steady clock that advances 1 ms per request, not the real one: the
    // dedup window and rate limits then behave the same in every run, which
    // the smoke run's fixed seed needs.
    r.received_steady =
        std::chrono::steady_clock::time_point{} + std::chrono::milliseconds(++requests_);
    int answers = 0;
    relay::HttpResponse got;
    handler_->handle(std::move(r), *scratch_, [&](relay::HttpResponse resp) {
      ++answers;
      got = std::move(resp);
    });
    pipeline_.fire();
    if (answers != 1) fail("answers", std::to_string(answers));
    static const int kKnown[] = {200, 204, 400, 401, 403, 404, 405,
                                 413, 415, 429, 431, 500, 503, 504};
    bool known = false;
    for (int k : kKnown) known = known || k == got.status;
    if (!known) fail("unexpected status", std::to_string(got.status));
    for (const std::string& e : pipeline_.events) {
      auto j = nlohmann::json::parse(e, nullptr, false);
      if (j.is_discarded() || !j.is_object()) fail("pipeline got invalid JSON", e);
      if (!j.contains("receivedAt") || !j.contains("messageId") || !j.contains("timestamp")) {
        fail("pipeline got an event without enrichment", e);
      }
      if (j.contains("writeKey")) fail("writeKey reached the pipeline", e);
    }
    submitted = pipeline_.events.size();
    pipeline_.events.clear();
    return got;
  }

  std::size_t submitted = 0;

 private:
  int64_t requests_ = 0;
  MemoryPipeline pipeline_;
  relay::Metrics metrics_;
  std::unique_ptr<relay::RequestHandler> handler_;
  std::unique_ptr<relay::RequestScratch, void (*)(relay::RequestScratch*)> scratch_ =
      relay::make_request_scratch();
};

}  // namespace tern::fuzz
