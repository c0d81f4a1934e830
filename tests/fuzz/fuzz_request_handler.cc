// libFuzzer target: the relay's request handler, no I/O. The input chooses the
// method, path, auth, encoding and X-Forwarded-For, and the rest is the body
// (sent as is, or gzip-compressed by the target so the fuzzer reaches the JSON
// behind the inflater). Small limits so every limit is reachable.
// Oracle: exactly one answer per request with a known status, and every
// event handed to the pipeline is a JSON object with receivedAt and messageId.
#include "byte_reader.h"
#include "relay_fuzz_util.h"

namespace {
using namespace tern::relay;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tern::fuzz::HandlerRig rig(/*small_limits=*/true);
  tern::fuzz::ByteReader in(data, size);
  HttpRequest r;
  static const char* kMethods[] = {"POST", "GET", "OPTIONS", "PUT"};
  // No /metrics: its text holds request latencies (wall time), which would
  // make the smoke run's coverage differ between two runs with the same seed.
  static const char* kPaths[] = {"/v1/batch",    "/v1/b",         "/v1/import", "/v1/track",
                                 "/v1/identify", "/v1/page",      "/v1/screen", "/v1/group",
                                 "/v1/alias",    "/v1/t",         "/health",    "/ready",
                                 "/v1/",         "/v1/batch?x=1", "/v2/nope"};
  r.method = kMethods[in.choose(4)];
  r.target = kPaths[in.choose(sizeof kPaths / sizeof *kPaths)];
  switch (in.choose(4)) {
    case 0:
      r.authorization = tern::fuzz::kGoodAuth;
      break;
    case 1:
      r.authorization = in.string(64);
      break;
    case 2:
      break;
    default:
      r.authorization = "Basic " + in.string(32);
      break;
  }
  int encoding = in.choose(4);
  r.origin = in.flag() ? "https://app.example" : in.string(16);
  r.forwarded_for = in.string(48);
  r.peer_ip = in.flag() ? "127.0.0.1" : "203.0.113.9";
  std::string body = in.rest();
  switch (encoding) {
    case 0:
      r.body = std::move(body);
      break;
    case 1:
      r.content_encoding = "gzip";
      r.body = std::move(body);
      break;  // raw bytes into the inflater
    case 2:
      r.content_encoding = "gzip";
      r.body = tern::fuzz::gzip(body);
      break;
    default:
      r.content_encoding = "br";
      r.body = std::move(body);
      break;
  }
  rig.run(std::move(r));
  return 0;
}
