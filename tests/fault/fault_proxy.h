// FaultProxy: an HTTP/1.1-aware TCP proxy on 127.0.0.1 that sits between the
// SDK and the relay and injects faults per request: connection resets in the
// middle of a request, lost responses, stalled reads, latency spikes, and
// synthesised answers (500, 503/429 with Retry-After, 413) that never reach
// the relay. Requests and responses must carry Content-Length (the SDK's and
// the relay's do); anything else closes the connection.
//
// Thread-safety: every public method may be called from any thread while the
// proxy runs. One thread accepts; one thread serves each client connection.
// stop() (and the destructor) closes every socket and joins every thread
// within about 100 ms.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tern::fault {

// A synthesised answer, chosen for a request with probability `per_mille`/1000.
struct SynthRule {
  int per_mille = 0;
  int status = 503;
  int retry_after_s = -1;  // < 0: no Retry-After header
};

// What happens to each request; the probabilities are per mille and are
// tried in this order (the first that fires wins).
struct FaultPlan {
  int reset_mid_request_pm = 0;  // send part of the request upstream, then RST both sides
  int lose_response_pm = 0;      // relay answers, the client gets an RST instead
  int stall_pm = 0;              // hold the request for `stall`, then close without answering
  std::chrono::milliseconds stall{0};
  std::vector<SynthRule> synth;  // answer without forwarding
  int delay_pm = 0;              // then forward, after a random delay up to `max_delay`
  std::chrono::milliseconds max_delay{0};
  bool refuse = false;  // every new request is answered by an RST (relay "down")
};

class FaultProxy {
 public:
  explicit FaultProxy(uint32_t seed);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Listens on 127.0.0.1:0; false on a socket error.
  bool start(const std::string& upstream_host_port);
  void stop();

  // "127.0.0.1:PORT" the client should use.
  std::string address() const;
  // Where requests go from now on (e.g. a restarted relay on a new port).
  void set_upstream(const std::string& host_port);
  void set_plan(const FaultPlan& plan);

  // How many requests saw each fault ("forwarded", "reset_mid_request",
  // "lost_response", "stalled", "delayed", "refused", "synth_503", ...).
  std::map<std::string, uint64_t> counters() const;

 private:
  void accept_loop();
  void serve(int client_fd);
  void count(const std::string& what);
  int pick(int range);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;  // guards everything below
  std::string upstream_;
  FaultPlan plan_;
  std::mt19937 rng_;
  std::map<std::string, uint64_t> counters_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

}  // namespace tern::fault
