// loadgen: HTTP/1.1 keep-alive load against a relay (or any HTTP server).
//
//   loadgen --target 127.0.0.1:8080 --write-key KEY [--connections 32]
//           [--duration 10] [--warmup 1] [--rate REQ_PER_S] [--events 100]
//           [--bodies 2000] [--path /v1/batch] [--get /health] [--identity]
//
// By default it POSTs gzip Segment batches of --events realistic events to
// --path, with a unique messageId for every event of the run (--bodies
// distinct bodies are made before the run; the run stops early when they
// are used up, so a deduplicating relay never sees a repeat). --get PATH
// sends GET requests instead (no body). --rate R makes it open loop at R
// requests/s, latency measured from each request's scheduled time.
// Prints one human summary and one JSON line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "loadgen.h"

namespace {

const char kUsage[] =
    "usage: loadgen --target HOST:PORT [--write-key KEY] [--connections N] [--duration S]\n"
    "               [--warmup S] [--rate REQ_PER_S] [--events N] [--bodies N] [--path P]\n"
    "               [--get PATH] [--identity]\n";

bool parse_target(const std::string& t, std::string* host, uint16_t* port) {
  auto colon = t.rfind(':');
  if (colon == std::string::npos) return false;
  *host = t.substr(0, colon);
  long p = std::strtol(t.c_str() + colon + 1, nullptr, 10);
  if (p <= 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  tern::bench::LoadOptions opt;
  std::string target, write_key, path = "/v1/batch", get_path;
  int events = 100, bodies = 2000;
  bool gzip = true;
  opt.duration_s = 10;
  opt.warmup_s = 1;
  opt.connections = 32;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loadgen: %s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target")
      target = value();
    else if (a == "--write-key")
      write_key = value();
    else if (a == "--connections")
      opt.connections = std::atoi(value().c_str());
    else if (a == "--duration")
      opt.duration_s = std::atof(value().c_str());
    else if (a == "--warmup")
      opt.warmup_s = std::atof(value().c_str());
    else if (a == "--rate")
      opt.rate_rps = std::atof(value().c_str());
    else if (a == "--events")
      events = std::atoi(value().c_str());
    else if (a == "--bodies")
      bodies = std::atoi(value().c_str());
    else if (a == "--path")
      path = value();
    else if (a == "--get")
      get_path = value();
    else if (a == "--identity")
      gzip = false;
    else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "loadgen: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (!parse_target(target, &opt.host, &opt.port) || opt.connections < 1 || opt.duration_s <= 0 ||
      events < 1 || bodies < 1) {
    std::fprintf(stderr, "loadgen: need --target HOST:PORT and positive counts\n%s", kUsage);
    return 2;
  }

  std::vector<std::string> requests;
  if (!get_path.empty()) {
    requests.push_back(tern::bench::http_get(target, get_path));
  } else {
    tern::bench::BatchGenerator gen(std::random_device{}());
    requests.reserve(static_cast<std::size_t>(bodies));
    for (int k = 0; k < bodies; ++k) {
      std::string json = gen.batch_json(events);
      std::string body = gzip ? tern::bench::gzip_text(json, 6) : json;
      requests.push_back(tern::bench::http_post(target, path, write_key, body, gzip));
    }
  }
  bool repeat = !get_path.empty();
  auto source = [&](uint64_t i) -> const std::string* {
    if (repeat) return &requests[0];
    return i < requests.size() ? &requests[i] : nullptr;
  };
  tern::bench::LoadResult r = tern::bench::run_load(opt, source);
  double p50 = r.percentile_us(50), p99 = r.percentile_us(99), p999 = r.percentile_us(99.9);
  double eps = get_path.empty() ? r.rps() * events : 0.0;
  std::printf(
      "%llu ok, %llu non-2xx, %llu errors in %.2f s: %.0f req/s%s; latency p50 %.2f ms, p99 %.2f "
      "ms, "
      "p99.9 %.2f ms; load thread CPU %.0f%%\n",
      static_cast<unsigned long long>(r.ok), static_cast<unsigned long long>(r.non_2xx),
      static_cast<unsigned long long>(r.errors), r.measured_s, r.rps(),
      get_path.empty() ? (" (" + std::to_string(static_cast<long long>(eps)) + " events/s)").c_str()
                       : "",
      p50 / 1000, p99 / 1000, p999 / 1000,
      r.measured_s > 0 ? 100 * r.load_cpu_s / r.measured_s : 0.0);
  if (!r.first_error.empty()) std::printf("first error: %s\n", r.first_error.c_str());
  std::printf(
      "{\"ok\":%llu,\"non_2xx\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"eps\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"late\":%llu}\n",
      static_cast<unsigned long long>(r.ok), static_cast<unsigned long long>(r.non_2xx),
      static_cast<unsigned long long>(r.errors), r.measured_s, r.rps(), eps, p50 / 1000, p99 / 1000,
      p999 / 1000, static_cast<unsigned long long>(r.late));
  return r.ok > 0 ? 0 : 1;
}
