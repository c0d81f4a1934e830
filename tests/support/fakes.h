// Fakes for every SDK seam, so tests run without disk, network or wall time:
// ManualClock, MemoryStore, ScriptedTransport, CapturingLogger,
// StaticContextProvider, FunctionPlugin; plus TempDir (temp_dir.h) and
// wait_until() (wait_until.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store.h"
#include "temp_dir.h"
#include "tern/clock.h"
#include "tern/context_provider.h"
#include "tern/logger.h"
#include "tern/plugin.h"
#include "tern/transport.h"
#include "wait_until.h"

namespace tern::testing {

// Time moves only when advance() is called. The SDK's worker re-reads an
// injected clock every millisecond of real time, so advance() takes effect
// at once and backoff tests take no wall time.
//
// advance() only means something once the worker has acted on the present
// time (e.g. set its next backoff deadline after a failed upload): advancing
// earlier moves "now" under a worker that is still computing from it, and the
// deadline lands past the advanced time. wait_for_worker_idle() is the
// synchronisation point: it returns once the worker has done everything due
// at the current time and is waiting for a later deadline.
class ManualClock final : public Clock {
 public:
  ManualClock();
  std::chrono::system_clock::time_point wall() override;
  std::chrono::steady_clock::time_point monotonic() override;
  void on_worker_wait(std::chrono::steady_clock::time_point now,
                      std::chrono::steady_clock::time_point deadline) override;
  void advance(std::chrono::milliseconds d);
  // Moves only the wall clock (a user changing the device's time, or NTP);
  // `d` may be negative. The monotonic clock stays where it is.
  void shift_wall(std::chrono::milliseconds d);

  // Blocks until a worker using this clock has twice, after this call began,
  // reported that it did everything due at the current time and waits for a
  // later deadline (twice: the second report comes from a pass that began
  // after this call, so it saw everything the test did before calling).
  // False if that does not happen within `timeout` of real time (the worker
  // is stuck, e.g. in a transport that does not answer). Meant for one
  // client per clock at a time.
  bool wait_for_worker_idle(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point mono_;
  uint64_t idle_reports_ = 0;  // worker waits reported at the current time
};

// An in-memory Store with the SQLite store's semantics, plus failure injection.
class MemoryStore final : public Store {
 public:
  Status append(const std::vector<std::string>& bodies, int64_t created_ms) override;
  Status append_and_put(const std::vector<std::string>& bodies, int64_t created_ms,
                        const std::vector<std::pair<std::string, std::string>>& pairs) override;
  int64_t last_id() const override;
  Result<std::vector<StoredEvent>> read_oldest(std::size_t max_events,
                                               std::size_t max_bytes) override;
  Status mark_attempt(const std::vector<int64_t>& ids, int64_t now_ms) override;
  Status remove(const std::vector<int64_t>& ids) override;
  Result<uint64_t> remove_all() override;
  Result<CapDrops> enforce_caps(std::size_t max_events, std::size_t max_bytes,
                                int64_t min_created_ms) override;
  uint64_t count() const override;
  uint64_t bytes() const override;
  Result<std::optional<std::string>> get(const std::string& key) override;
  Status put(const std::vector<std::pair<std::string, std::string>>& pairs) override;

  // While set, append() fails with kIOError (like SQLITE_FULL).
  void fail_appends(bool fail) { fail_appends_ = fail; }
  std::vector<StoredEvent> all() const;
  // A copy of what is stored now: what a process killed with SIGKILL at this
  // moment leaves behind (a test reopens it; the old client's later commits
  // go to the original only).
  std::shared_ptr<MemoryStore> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<int64_t, StoredEvent> events_;
  std::map<std::string, std::string> kv_;
  int64_t next_id_ = 1;
  uint64_t bytes_ = 0;
  std::atomic<bool> fail_appends_{false};
};

// Answers each send() with the next scripted response (default: 200 "{}"),
// and records every request with its decompressed body and events.
class ScriptedTransport final : public Transport {
 public:
  struct Recorded {
    HttpRequest request;
    std::string body;  // decompressed
    std::vector<nlohmann::json> events;
  };
  HttpResponse send(const HttpRequest& request) override;

  // GET requests (the settings) are answered by this function, not the
  // script (default: 404), and recorded apart: requests() holds the batches.
  void set_settings_responder(std::function<HttpResponse(const HttpRequest&)> f);
  std::vector<HttpRequest> settings_requests() const;

  void push(HttpResponse response, int times = 1);
  // Decides the answer from the batch (after the scripted queue is empty).
  void set_responder(std::function<HttpResponse(const std::vector<nlohmann::json>&)> f);
  std::vector<Recorded> requests() const;
  std::size_t request_count() const;
  // Events of requests answered 2xx.
  std::vector<nlohmann::json> delivered() const;

 private:
  mutable std::mutex mu_;
  std::deque<HttpResponse> script_;
  std::function<HttpResponse(const std::vector<nlohmann::json>&)> responder_;
  std::function<HttpResponse(const HttpRequest&)> settings_responder_;
  std::vector<HttpRequest> settings_requests_;
  std::vector<Recorded> requests_;
  std::vector<nlohmann::json> delivered_;
};

HttpResponse http_status(int status, std::string body = "{}");
HttpResponse network_error(std::string error = "connection refused");

class CapturingLogger final : public Logger {
 public:
  void log(LogLevel level, std::string_view message) override;
  std::vector<std::pair<LogLevel, std::string>> lines() const;
  bool contains(std::string_view needle) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

class StaticContextProvider final : public ContextProvider {
 public:
  explicit StaticContextProvider(std::string json) : json_(std::move(json)) {}
  std::string context_json() override { return json_; }

 private:
  std::string json_;
};

class FunctionPlugin final : public Plugin {
 public:
  explicit FunctionPlugin(std::function<bool(nlohmann::json&)> f) : f_(std::move(f)) {}
  bool process(nlohmann::json& event) override { return f_(event); }

 private:
  std::function<bool(nlohmann::json&)> f_;
};

// Format checks for assertions on events.
bool is_uuid(const std::string& s, char version);  // canonical lower-case text, RFC 9562 variant
bool is_iso8601_ms(const std::string& s);          // YYYY-MM-DDTHH:MM:SS.mmmZ

}  // namespace tern::testing
