// loadgen: an HTTP/1.1 keep-alive load generator for the relay benchmarks
// (bench/relay_bench.cc) and the `loadgen` command-line program.
//
// One thread, plain non-blocking sockets and epoll, IPv4 loopback or any
// IPv4 address. N persistent connections, one request in flight on each (no
// pipelining). Two modes:
//   - closed loop (rate == 0): each connection sends its next request as soon
//     as the previous answer is complete — the server's throughput;
//   - open loop (rate > 0): requests are due on a fixed schedule, whatever
//     the answers do; a due request waits for a free connection, and its
//     latency is measured from its *scheduled* time, so a stalled server is
//     charged for every request it delayed (no coordinated omission).
//
// Requests are complete HTTP/1.1 request texts (headers and body) handed out
// by a RequestSource, so callers control bodies (e.g. unique messageIds).
// Answers are parsed far enough to find their end (Content-Length or
// chunked) and status; `Connection: close` answers are followed by a
// reconnect, which is counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tern::bench {

// The i-th request text to send (i counts from 0 over the whole run), or
// nullptr when there are no more: the run ends when the in-flight ones finish.
// Called on the load thread only; the returned text must outlive the run.
using RequestSource = std::function<const std::string*(uint64_t i)>;

struct LoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int connections = 16;
  // Measured phase length. The run ends earlier when the source runs out.
  double duration_s = 5.0;
  // Not measured: answers completed during the first warmup_s seconds are
  // neither counted nor timed (connections warm, server caches fill).
  double warmup_s = 0.0;
  // Requests per second for the open loop; 0 = closed loop.
  double rate_rps = 0.0;
  // Give up on an answer after this long (counted as a timeout, connection reset).
  double request_timeout_s = 10.0;
};

struct LoadResult {
  uint64_t ok = 0;          // 2xx answers in the measured phase
  uint64_t non_2xx = 0;     // other complete answers in the measured phase
  uint64_t errors = 0;      // connect/read/write errors, bad answers, timeouts (whole run)
  uint64_t reconnects = 0;  // connections re-opened (server closed, or after an error)
  uint64_t late = 0;        // open loop: requests sent later than 1 ms after their schedule
  uint64_t bytes_sent = 0;  // measured phase, request bytes
  double measured_s = 0.0;  // wall time of the measured phase
  double load_cpu_s = 0.0;  // CPU time of the load thread over the measured phase
  std::map<int, uint64_t> statuses;  // status code → answers (measured phase)
  std::vector<double> latency_us;    // one per measured answer (any status)
  std::string first_error;           // the first error's text, if any

  double rps() const { return measured_s > 0 ? static_cast<double>(ok) / measured_s : 0.0; }
  // p in [0, 100]; 0 when there are no samples. Sorts latency_us.
  double percentile_us(double p);
};

// Runs the load against opt.host:opt.port. Never throws; errors are counted
// in the result (a server that refuses every connection gives ok == 0).
LoadResult run_load(const LoadOptions& opt, const RequestSource& source);

// Opens `count` keep-alive connections, sends `request` once on each and
// reads the complete answer, leaving the connections open and idle. Returns
// their file descriptors (fewer on error, with *why set); the caller closes them.
std::vector<int> open_idle_connections(const std::string& host, uint16_t port, int count,
                                       const std::string& request, std::string* why);

// ---------------------------------------------------------------- request bodies

// Realistic Segment batches: mostly `track` with some `identify`, `page` and
// `screen`, mobile-like context, ~500 bytes per event (350–550), each messageId
// unique within the generator (a random 64-bit run prefix plus a counter, in
// UUID text form) so a deduplicating receiver accepts every event.
class BatchGenerator {
 public:
  explicit BatchGenerator(uint64_t seed);
  // The JSON text of one `{"batch":[...],"sentAt":...}` with `events` events.
  std::string batch_json(int events);
  // The same, gzip-compressed (zlib level 6, gzip wrapper), as the SDK sends it.
  std::string batch_gzip(int events, int level = 6);
  uint64_t events_made() const { return counter_; }

 private:
  void append_event(std::string& out);
  uint64_t next_random();

  uint64_t state_;
  uint64_t prefix_;
  uint64_t counter_ = 0;
};

// gzip (wrapper 15+16) of `text` at `level`; empty on a zlib error.
std::string gzip_text(const std::string& text, int level);

// A complete HTTP/1.1 POST with `Content-Encoding: gzip` when `gzip`, HTTP
// Basic auth for `write_key` (omitted when empty) and keep-alive.
std::string http_post(const std::string& host_port, const std::string& path,
                      const std::string& write_key, const std::string& body, bool gzip);
// A complete HTTP/1.1 GET with keep-alive.
std::string http_get(const std::string& host_port, const std::string& path);

}  // namespace tern::bench
