// FakeDurablePipeline: a DurablePipeline whose state() is whatever the test
// set, for what only reads the pipeline (the overview's history, the dead
// letters). Submissions are refused; there is no spool to read.
// Thread-safe: the test may change the state while a reader runs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "tern/relay/durable_pipeline.h"

namespace tern::relay::testing {

class FakeDurablePipeline final : public DurablePipeline {
 public:
  // Replaces the whole state.
  void set_state(State state) {
    std::lock_guard<std::mutex> g(mu_);
    state_ = std::move(state);
  }
  // Changes the state in place.
  void edit(const std::function<void(State&)>& change) {
    std::lock_guard<std::mutex> g(mu_);
    change(state_);
  }

  State state() const override {
    std::lock_guard<std::mutex> g(mu_);
    return state_;
  }
  void submit(Submission, std::function<void(Status)> done) override {
    done(Status(StatusCode::kCancelled, "a fake pipeline stores nothing"));
  }
  bool ready(std::string*) const override { return true; }
  int retry_after_seconds() const override { return 1; }
  Status stop(std::chrono::steady_clock::time_point) override { return Status::ok(); }
  Status reload(const RelayConfig&) override { return Status::ok(); }
  uint64_t undelivered(std::string_view sink) const override {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& s : state_.sinks) {
      if (s.name == sink) return s.lag_events;
    }
    return 0;
  }
  std::unique_ptr<SpoolReader> reader(uint64_t) override { return nullptr; }

 private:
  mutable std::mutex mu_;
  State state_;
};

}  // namespace tern::relay::testing
