// control_bench: the control plane's figures (docs/control-plane.md). Each is
// printed next to its baseline measured in the same run on the same machine,
// with the ratio and the target; the program ends with ONE JSON line:
//   {"propagation_p50_ms":..,"propagation_p99_ms":..,"roundtrip_fsync_ms":..,
//    "propagation_ratio":..,"churn_eps":..,"steady_eps":..,"churn_ratio":..}
//
//   P  propagation_p50_ms, propagation_p99_ms: one control relay
//      (--admin-listen) and two edge relays following it (--control URL
//      --control-token-file F, a token of scope `relay`), all child processes
//      on loopback. Per commit: POST /admin/v1/sources (ack_mode memory) on
//      the control relay; the time from its 201 to both edges answering 200
//      to a /v1/track sent with the new source's write key (each edge is
//      asked every 0.1 ms until it does). That is "applied" as a user sees
//      it: the edge's ingest handler runs the new revision. 50 commits
//      (--quick: 15), after one that is not timed (the edges' first snapshot).
//                  vs roundtrip_fsync_ms: the median of one HTTP round trip to
//      the control relay (GET /health, keep-alive) plus one 256-byte append +
//      fsync in the run directory, timed together, 50 times. The commit to
//      applied path cannot take fewer: the control relay commits (fsync) and
//      answers, the edge fetches the snapshot (a round trip). Target: p99 ≤ 10×.
//   C  churn_eps: events/s the control relay accepts (closed loop, 8
//      keep-alive connections, uncompressed batches of 100 realistic events
//      with unique messageIds, ack `local`, one file sink) while another
//      thread changes its config ten times a second through the admin API: a
//      source added, a sink added, a route changed, the sink removed
//      (?discard=true), the source removed, over and over
//                  vs steady_eps: the same load, the same duration, no changes.
//      The phases run steady, churn, churn, steady (4 s each, --quick 1.5 s,
//      after 0.5 s of warm-up) so a drift of the machine hits both alike.
//      The edges are stopped first. Target: churn_eps / steady_eps ≥ 0.9.
//
// Usage: control_bench [--quick] [--dir DIR] [--relay PATH]
//   --quick  fewer commits and shorter load phases (about a third of the time)
//   --dir    where the run directory goes (data dirs, sink output, the fsync
//            probe); default $TMPDIR or /tmp. Use a real disk.
//   --relay  the tern-relay binary (default: the one built with this bench)
//
// A benchmark, not a test: a missed target is reported, never an exit failure.
// Exit status 1 only when a figure could not be measured at all.

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "child_process.h"
#include "loadgen.h"

namespace {

using namespace tern::bench;
using tern::testing::ChildProcess;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int kEventsPerBatch = 100;
constexpr int kLoadConnections = 8;
constexpr auto kStartTimeout = std::chrono::seconds(30);
// How long an edge may take to apply one commit before the bench gives up on it.
constexpr auto kApplyTimeout = std::chrono::seconds(10);

void sleep_ms(double ms) {
  std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
}
double ms_since(Clock::time_point t0) { return seconds_since(t0) * 1000.0; }

void step(const std::string& what) {
  std::fprintf(stderr, "control_bench: %s\n", what.c_str());
  std::fflush(stderr);
}

// ---------------------------------------------------------------- HTTP (libcurl)

struct Reply {
  long status = 0;  // 0: no answer
  std::string body;
  json parsed() const { return json::parse(body, nullptr, false); }
};

size_t append_cb(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

// One keep-alive connection: requests in sequence, from one thread.
class HttpClient {
 public:
  HttpClient() : curl_(curl_easy_init()) {}
  ~HttpClient() { curl_easy_cleanup(curl_); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `auth`: a full "Authorization: ..." header, or "".
  Reply request(const char* method, const std::string& url, const std::string& body,
                const std::string& auth) {
    Reply r;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, append_cb);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method);
    if (std::strcmp(method, "GET") == 0) {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (!auth.empty()) headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform(curl_) == CURLE_OK)
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    return r;
  }

 private:
  CURL* curl_;
};

// The admin API of one relay with one bearer token.
class Admin {
 public:
  Admin(std::string address, std::string token)
      : base_("http://" + std::move(address)), auth_("Authorization: Bearer " + std::move(token)) {}
  Reply call(const char* method, const std::string& path, const json& body = nullptr) {
    return http_.request(method, base_ + path, body.is_null() ? "" : body.dump(), auth_);
  }

 private:
  std::string base_, auth_;
  HttpClient http_;
};

// A /v1/track with `write_key` (HTTP Basic user): the status.
long send_track(HttpClient& http, const std::string& address, const std::string& write_key) {
  static std::atomic<uint64_t> n{0};
  std::string body = R"({"event":"Probe","userId":"bench","messageId":"probe-)" +
                     std::to_string(n.fetch_add(1)) + "\"}";
  std::string auth;
  {
    // curl's USERPWD would do, but one header keeps the client generic.
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = write_key + ":", out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
      if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
      if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
      out += kB64[(v >> 18) & 63];
      out += kB64[(v >> 12) & 63];
      out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
      out += i + 2 < in.size() ? kB64[v & 63] : '=';
    }
    auth = "Authorization: Basic " + out;
  }
  return http.request("POST", "http://" + address + "/v1/track", body, auth).status;
}

// ---------------------------------------------------------------- relays

struct Relay {
  std::unique_ptr<ChildProcess> process = std::make_unique<ChildProcess>();
  std::string address;        // ingest HOST:PORT
  std::string admin_address;  // "" unless started with --admin-listen
  std::string log_file;

  // The last 800 bytes of its log.
  std::string log_tail() const {
    std::string text = read_text(log_file);
    return text.size() > 800 ? text.substr(text.size() - 800) : text;
  }
};

// Starts `binary args...`, reads "listening on HOST:PORT" and, with
// `admin`, "admin listening on HOST:PORT" from its stdout.
std::unique_ptr<Relay> start_relay(const std::string& binary, std::vector<std::string> args,
                                   const std::string& log_file, bool admin, std::string* why) {
  auto r = std::make_unique<Relay>();
  r->log_file = log_file;
  args.insert(args.begin(), binary);
  ChildProcess::Options options;
  options.log_file = log_file;
  options.pipe_stdout = true;
  if (!r->process->start(args, options)) {
    *why = r->process->error();
    return nullptr;
  }
  auto deadline = Clock::now() + kStartTimeout;
  std::string line;
  while (r->address.empty() || (admin && r->admin_address.empty())) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !r->process->read_line(left, &line)) {
      *why = "no listening line from " + binary + " (last: '" + line + "'); log: " + r->log_tail();
      return nullptr;
    }
    if (line.rfind("listening on ", 0) == 0) r->address = line.substr(13);
    if (line.rfind("admin listening on ", 0) == 0) r->admin_address = line.substr(19);
  }
  return r;
}

// ---------------------------------------------------------------- baselines and figures

// Median ms of (GET /health round trip + 256-byte append + fsync), `n` times.
double roundtrip_fsync_median_ms(const std::string& address, const std::string& probe, int n) {
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  HttpClient http;
  (void)http.request("GET", "http://" + address + "/health", "", "");  // connect first
  char buf[256];
  std::memset(buf, 'x', sizeof buf);
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto t = Clock::now();
    if (http.request("GET", "http://" + address + "/health", "", "").status != 200) break;
    if (::write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf) || ::fsync(fd) != 0) break;
    ms.push_back(ms_since(t));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  if (ms.size() < static_cast<size_t>(n)) return -1;
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Creates source `id` with `ack_mode` on the control relay; its write key,
// "" on failure (with the answer in `why`).
std::string create_source(Admin& admin, const std::string& id, const std::string& ack_mode,
                          std::string* why) {
  Reply r = admin.call("POST", "/admin/v1/sources", {{"id", id}, {"ack_mode", ack_mode}});
  json j = r.parsed();
  if (r.status != 201 || !j.is_object() || !j.contains("write_keys") || j["write_keys"].empty()) {
    *why =
        "POST /admin/v1/sources answered " + std::to_string(r.status) + " " + r.body.substr(0, 300);
    return "";
  }
  return j["write_keys"][0].value("key", "");
}

// Asks every edge with `key` until each answers 200: ms from `t0`, or -1 when
// one has not within kApplyTimeout.
double until_applied(std::vector<std::unique_ptr<HttpClient>>& clients,
                     const std::vector<std::string>& edges, const std::string& key,
                     Clock::time_point t0) {
  std::vector<bool> done(edges.size(), false);
  size_t left = edges.size();
  while (left > 0) {
    for (size_t e = 0; e < edges.size(); ++e) {
      if (!done[e] && send_track(*clients[e], edges[e], key) == 200) {
        done[e] = true;
        --left;
      }
    }
    if (left == 0) break;
    if (Clock::now() - t0 > kApplyTimeout) return -1;
    // Finer than the figure it measures (a few hundred microseconds would
    // be lost to a 1 ms poll), yet leaving the edges the CPU they apply with.
    sleep_ms(0.1);
  }
  return ms_since(t0);
}

// The load's requests: a few realistic batch templates whose messageIds are
// rewritten per request, so every event is new to the relay's dedup and
// making a request costs a copy, not a JSON generator.
class UniqueBatches {
 public:
  UniqueBatches(const std::string& address, const std::string& write_key) {
    std::random_device rd;
    run_ = rd();
    BatchGenerator gen(rd());
    static const std::string kKey = "\"messageId\":\"";
    for (int t = 0; t < 8; ++t) {
      Template tpl;
      tpl.text = http_post(address, "/v1/batch", write_key, gen.batch_json(kEventsPerBatch), false);
      for (size_t p = tpl.text.find(kKey); p != std::string::npos; p = tpl.text.find(kKey, p + 1))
        tpl.id_offsets.push_back(p + kKey.size());
      templates_.push_back(std::move(tpl));
    }
    ring_.resize(1024);
  }

  // A source for one load phase: request i of phase `phase`. The text stays
  // valid until 1024 later requests were made (8 are in flight at most).
  RequestSource source(uint32_t phase) {
    return [this, phase](uint64_t i) -> const std::string* {
      const Template& tpl = templates_[i % templates_.size()];
      std::string& slot = ring_[i % ring_.size()];
      slot = tpl.text;
      char id[48];
      for (size_t k = 0; k < tpl.id_offsets.size(); ++k) {
        uint64_t n = i * kEventsPerBatch + k;
        std::snprintf(id, sizeof id, "%08x-%04x-7000-8000-%012llx", run_, phase & 0xffff,
                      static_cast<unsigned long long>(n & 0xffffffffffffull));
        std::memcpy(&slot[tpl.id_offsets[k]], id, 36);
      }
      return &slot;
    };
  }

 private:
  struct Template {
    std::string text;
    std::vector<size_t> id_offsets;  // where each 36-character messageId starts
  };
  unsigned run_ = 0;
  std::vector<Template> templates_;
  std::vector<std::string> ring_;
};

// Changes the control relay's config ten times a second until stopped.
class Churner {
 public:
  // `tag` makes this churner's names its own (a phase may stop mid-cycle).
  Churner(const std::string& admin_address, const std::string& token, const std::string& tag)
      : admin_(admin_address, token), tag_(tag) {
    thread_ = std::thread([this] { run(); });
  }
  ~Churner() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void run() {
    static const json kAllTypes = json::array({"track", "identify", "page", "screen"});
    auto t0 = Clock::now();
    for (int tick = 0; !stop_; ++tick) {
      std::this_thread::sleep_until(t0 + tick * std::chrono::milliseconds(100));
      if (stop_) break;
      int cycle = tick / 5;
      std::string c = tag_ + "-" + std::to_string(cycle);
      Reply r;
      switch (tick % 5) {
        case 0:
          r = admin_.call("POST", "/admin/v1/sources", {{"id", "churn-src-" + c}});
          break;
        case 1:
          r = admin_.call("POST", "/admin/v1/sinks",
                          {{"name", "churn-sink-" + c}, {"type", "file"}});
          break;
        case 2:
          // Every type the load sends either way: the routing changes, the result does not.
          r = admin_.call("PATCH", "/admin/v1/routes/load-to-file",
                          {{"types", cycle % 2 ? kAllTypes : json::array()}});
          break;
        case 3:
          r = admin_.call("DELETE", "/admin/v1/sinks/churn-sink-" + c + "?discard=true");
          break;
        case 4:
          r = admin_.call("DELETE", "/admin/v1/sources/churn-src-" + c);
          break;
      }
      if (r.status >= 200 && r.status < 300) {
        ++ok_;
      } else {
        if (failed_++ == 0) first_error_ = std::to_string(r.status) + " " + r.body.substr(0, 300);
      }
    }
  }

  Admin admin_;
  std::string tag_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::string first_error_;
  std::thread thread_;
};

void line(const char* id, const char* what, double v, const char* unit, const char* base_what,
          double base, double ratio, const char* target, bool met) {
  std::printf("%-2s %-40s %12.2f %-6s | baseline %-36s %12.2f | ratio %7.3f (target %s) %s\n", id,
              what, v, unit, base_what, base, ratio, target, met ? "MET" : "MISSED");
  std::fflush(stdout);
}

int fail(const std::string& why) {
  std::fprintf(stderr, "control_bench: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string parent;
  std::string relay_bin;
#ifdef TERN_BENCH_RELAY
  relay_bin = TERN_BENCH_RELAY;
#endif
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (a == "--relay" && i + 1 < argc) {
      relay_bin = argv[++i];
    } else {
      std::fprintf(stderr, "usage: control_bench [--quick] [--dir DIR] [--relay PATH]\n");
      return 2;
    }
  }
  if (relay_bin.empty()) return fail("no tern-relay: pass --relay PATH");
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp && *tmp ? tmp : "/tmp";
  }
  const int commits = quick ? 15 : 50;
  const double phase_s = quick ? 1.5 : 4.0;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  RunDir dir(parent, "control-bench");
  if (!dir.ok()) return fail("cannot make a run directory under " + parent);
  std::random_device rd;
  const std::string token = "tat_bench_" + std::to_string(rd()) + std::to_string(rd());
  std::ofstream(dir.file("admin.token")) << token << "\n";

  // ---- the control relay and its pipeline for the load
  step("starting the control relay");
  std::string why;
  auto control = start_relay(relay_bin,
                             {"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                              "--data-dir", dir.file("control"), "--admin-token-file",
                              dir.file("admin.token"), "--write-key", "bench-seed"},
                             dir.file("control.log"), true, &why);
  if (!control) return fail(why);
  Admin admin(control->admin_address, token);

  Reply edge_token = admin.call("POST", "/admin/v1/tokens",
                                {{"name", "edges"}, {"scopes", json::array({"relay"})}});
  if (edge_token.status != 201) {
    return fail("POST /admin/v1/tokens answered " + std::to_string(edge_token.status) + " " +
                edge_token.body.substr(0, 300));
  }
  std::ofstream(dir.file("relay.token")) << edge_token.parsed().value("token", "") << "\n";

  std::string load_key = create_source(admin, "load", "local", &why);
  if (load_key.empty()) return fail(why);
  // No "dir": every relay that runs this state (the edges too) writes under
  // its own data dir, <data_dir>/events, files prefixed with the sink's name.
  Reply sink = admin.call("POST", "/admin/v1/sinks", {{"name", "load-file"}, {"type", "file"}});
  if (sink.status != 201) return fail("POST /admin/v1/sinks: " + sink.body.substr(0, 300));
  // The load goes to its sink only: the seeded routes (every source to the
  // embedded default's sink) are removed.
  json routes = admin.call("GET", "/admin/v1/routes").parsed();
  if (routes.is_object() && routes.contains("items")) {
    for (const json& r : routes["items"]) {
      Reply d = admin.call("DELETE", "/admin/v1/routes/" + r.value("id", ""));
      if (d.status != 204) return fail("cannot delete the seeded route: " + d.body.substr(0, 300));
    }
  }
  Reply route = admin.call("POST", "/admin/v1/routes",
                           {{"id", "load-to-file"},
                            {"sources", json::array({"load"})},
                            {"sinks", json::array({"load-file"})}});
  if (route.status != 201) return fail("POST /admin/v1/routes: " + route.body.substr(0, 300));

  step("baseline: HTTP round trip + fsync");
  double roundtrip_fsync_ms =
      roundtrip_fsync_median_ms(control->address, dir.file("fsync.probe"), 50);
  if (roundtrip_fsync_ms <= 0) return fail("the round trip + fsync baseline failed");

  // ---- P: propagation to two edges. On failure the reason is printed and
  // the load figures are still measured.
  std::vector<double> propagation;
  int timeouts = 0;
  std::string propagation_error = [&]() -> std::string {
    step("starting two edge relays");
    std::vector<std::unique_ptr<Relay>> edges;
    std::vector<std::string> edge_addresses;
    for (int e = 1; e <= 2; ++e) {
      std::string name = "edge-" + std::to_string(e);
      auto edge = start_relay(relay_bin,
                              {"--listen", "127.0.0.1:0", "--data-dir", dir.file(name), "--control",
                               "http://" + control->admin_address, "--control-token-file",
                               dir.file("relay.token"), "--relay-id", name},
                              dir.file(name + ".log"), false, &why);
      if (!edge) return why;
      edge_addresses.push_back(edge->address);
      edges.push_back(std::move(edge));
    }
    std::vector<std::unique_ptr<HttpClient>> probes;
    for (size_t e = 0; e < edges.size(); ++e) probes.push_back(std::make_unique<HttpClient>());

    step("propagation: " + std::to_string(commits) + " commits");
    std::string warm_key = create_source(admin, "prop-warm", "memory", &why);
    if (warm_key.empty()) return why;
    if (until_applied(probes, edge_addresses, warm_key, Clock::now()) < 0) {
      return "the edges did not apply the first commit in 10 s; edge-1 log: " +
             edges[0]->log_tail();
    }
    for (int i = 0; i < commits; ++i) {
      std::string key = create_source(admin, "prop-" + std::to_string(i), "memory", &why);
      auto t0 = Clock::now();  // the 201 has arrived
      if (key.empty()) return why;
      double ms = until_applied(probes, edge_addresses, key, t0);
      if (ms < 0) {
        ++timeouts;
        ms = ms_since(t0);
      }
      propagation.push_back(ms);
      sleep_ms(20);
    }
    for (auto& edge : edges) (void)edge->process->terminate(std::chrono::seconds(10));
    return "";
  }();
  if (!propagation_error.empty()) propagation.clear();
  double p50 = percentile(propagation, 50), p99 = percentile(propagation, 99);

  // ---- C: ingest with and without config changes
  UniqueBatches batches(control->address, load_key);
  uint16_t port =
      static_cast<uint16_t>(std::atoi(control->address.c_str() + control->address.rfind(':') + 1));
  auto phase = [&](uint32_t n, bool churn, int* changes_ok, int* changes_failed,
                   std::string* change_error) {
    step(std::string(churn ? "churn" : "steady") + " phase " + std::to_string(n));
    LoadOptions o;
    o.port = port;
    o.connections = kLoadConnections;
    o.warmup_s = 0.5;
    o.duration_s = phase_s;
    std::unique_ptr<Churner> churner;
    if (churn)
      churner = std::make_unique<Churner>(control->admin_address, token, "p" + std::to_string(n));
    LoadResult r = run_load(o, batches.source(n));
    if (churner) {
      churner->stop();
      *changes_ok += churner->ok();
      *changes_failed += churner->failed();
      if (change_error->empty()) *change_error = churner->first_error();
    }
    if (r.non_2xx > 0 || r.errors > 0) {
      std::fprintf(stderr, "control_bench: phase %u: %llu non-2xx, %llu errors (%s)\n", n,
                   static_cast<unsigned long long>(r.non_2xx),
                   static_cast<unsigned long long>(r.errors), r.first_error.c_str());
    }
    double events = static_cast<double>(r.ok) * kEventsPerBatch;
    std::printf("C  phase %u (%s): %.0f events/s\n", n, churn ? "churn" : "steady",
                r.measured_s > 0 ? events / r.measured_s : 0.0);
    return std::pair<double, double>(events, r.measured_s);
  };
  int changes_ok = 0, changes_failed = 0;
  std::string change_error;
  double steady_events = 0, steady_s = 0, churn_events = 0, churn_s = 0;
  const bool order[] = {false, true, true, false};
  for (uint32_t n = 0; n < 4; ++n) {
    auto [events, seconds] = phase(n + 1, order[n], &changes_ok, &changes_failed, &change_error);
    (order[n] ? churn_events : steady_events) += events;
    (order[n] ? churn_s : steady_s) += seconds;
  }
  double steady_eps = steady_s > 0 ? steady_events / steady_s : 0;
  double churn_eps = churn_s > 0 ? churn_events / churn_s : 0;
  (void)control->process->terminate(std::chrono::seconds(15));

  // ---- report
  double propagation_ratio = roundtrip_fsync_ms > 0 ? p99 / roundtrip_fsync_ms : 0;
  double churn_ratio = steady_eps > 0 ? churn_eps / steady_eps : 0;
  std::printf("control_bench (%s): %d commits to 2 edges; load phases of %.1f s\n",
              quick ? "quick" : "full", commits, phase_s);
  if (!propagation_error.empty()) {
    std::printf("P  propagation NOT MEASURED: %s\n", propagation_error.c_str());
  } else {
    std::printf("P  propagation p50 %.2f ms (edges that missed 10 s: %d)\n", p50, timeouts);
    line("P", "propagation p99, commit to 2 edges applied", p99, "ms",
         "HTTP round trip + fsync (median)", roundtrip_fsync_ms, propagation_ratio, "<= 10",
         propagation_ratio <= 10);
  }
  std::printf("C  config changes during the churn phases: %d ok, %d failed%s%s\n", changes_ok,
              changes_failed, change_error.empty() ? "" : "; first: ", change_error.c_str());
  line("C", "events/s, config changing 10/s", churn_eps, "ev/s", "events/s, no changes", steady_eps,
       churn_ratio, ">= 0.9", churn_ratio >= 0.9);

  nlohmann::ordered_json out;
  // A figure that could not be measured is null.
  auto figure = [](bool measured, double v) { return measured ? json(v) : json(nullptr); };
  bool propagated = !propagation.empty();
  out["propagation_p50_ms"] = figure(propagated, p50);
  out["propagation_p99_ms"] = figure(propagated, p99);
  out["roundtrip_fsync_ms"] = roundtrip_fsync_ms;
  out["propagation_ratio"] = figure(propagated, propagation_ratio);
  out["churn_eps"] = churn_eps;
  out["steady_eps"] = steady_eps;
  out["churn_ratio"] = churn_ratio;
  std::printf("%s\n", out.dump().c_str());
  return steady_eps > 0 && churn_eps > 0 && propagated ? 0 : 1;
}
