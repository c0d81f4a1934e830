// TestCollector: a small dependency-free HTTP/1.1 server that plays a
// Segment-compatible endpoint in tests (and, as tern-test-collector, for the
// JNI/Swift tests and scripts/run.sh).
//
// It listens on 127.0.0.1 (port 0 picks a free one), keeps connections alive,
// inflates Content-Encoding: gzip bodies, and records every request: path,
// headers, decompressed body and the parsed events. Replies are scriptable
// ("answer 503 with Retry-After: 1 to the next 3 requests"); a poison event
// name makes it reject batches the way a strict server (400) or the relay
// (200 + {"rejected":[...]}) does.
//
// Threads: one accept thread plus one thread per connection; every public
// method is thread-safe. The destructor stops and joins them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/status.h"

namespace tern::testing {

struct CollectedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string raw_body;                        // as received
  std::string body;                            // decompressed
  std::vector<nlohmann::json> events;          // the batch (or the single event)
  nlohmann::json sent_at;                      // the body's sentAt, or null
  int status = 0;                              // what the collector answered
};

struct ScriptedReply {
  int status = 200;
  std::string body = "{}";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Retry-After","1"}
  std::chrono::milliseconds delay{0};  // wait this long before answering (a slow server)
  bool drop_connection = false;        // close the connection instead of answering
};

enum class PoisonMode {
  kBadRequest,  // any batch holding a poison event gets 400
  kRejectList,  // 200 with {"rejected":[{"index":i,"reason":"poison"}]}, like the relay
};

class TestCollector {
 public:
  // Binds 127.0.0.1:port (0: any free port) and starts serving.
  static Result<std::unique_ptr<TestCollector>> start(uint16_t port = 0);
  ~TestCollector();
  TestCollector(const TestCollector&) = delete;
  TestCollector& operator=(const TestCollector&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:<port>"

  // The next `times` POST requests get `reply` (queued after earlier scripts).
  void script(const ScriptedReply& reply, int times = 1);
  // Answer 401 unless the Basic user name is `key` (empty: accept any).
  void require_write_key(std::string key);
  void set_poison(std::string event_name, PoisonMode mode = PoisonMode::kBadRequest);

  std::vector<CollectedRequest> requests() const;
  // Events of the requests answered 2xx, minus those listed as rejected.
  std::vector<nlohmann::json> events() const;
  std::size_t event_count() const;
  std::size_t request_count() const;
  std::size_t connection_count() const { return connections_accepted_.load(); }
  // Waits (real time, bounded) until at least `n` accepted events arrived.
  bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  // {"requests":R,"events":E,"distinct_message_ids":D,"duplicates":E-D,...}
  std::string summary_json() const;

  void stop();

 private:
  TestCollector() = default;
  void accept_loop();
  void serve(int fd);
  CollectedRequest handle(CollectedRequest req, ScriptedReply& reply,
                          std::vector<nlohmann::json>& accepted);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_accepted_{0};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::thread> conn_threads_;
  std::vector<int> conn_fds_;
  std::deque<ScriptedReply> script_;
  std::string write_key_;
  std::string poison_;
  PoisonMode poison_mode_ = PoisonMode::kBadRequest;
  std::vector<CollectedRequest> requests_;
  std::vector<nlohmann::json> events_;
};

}  // namespace tern::testing
