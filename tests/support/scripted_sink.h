// ScriptedSink: a scriptable in-process relay Sink for pipeline tests: records what it receives,
// can be made to fail, block or reject chosen events, and can deliver in two
// phases (Sink::defers_durability) like the file and Kafka sinks. Its state lives in a
// shared Script so the test keeps a handle after the pipeline owns the sink.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tern/relay/sink_registry.h"

namespace tern::relay::testing {

struct Script {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> events;  // delivered, in order
  std::vector<uint64_t> seqs;
  bool fail = false;          // deliver() answers kUnavailable
  bool blocked = false;       // deliver() waits until unblocked
  std::string reject_marker;  // events containing it are rejected for good
  // Two-phase: deliver() stages, flush() makes `staged` delivered (and
  // reports rejections then, as Kafka's delivery reports do); a failure of
  // either loses what is staged.
  bool two_phase = false;
  int fail_flushes = 0;  // the next this many flush() calls fail
  std::vector<std::string> staged;
  std::vector<uint64_t> staged_seqs;
  std::vector<std::size_t> flush_sizes;  // events per successful flush()
  // Self-acknowledging (Sink::acknowledges_itself): deliver() takes records
  // into `held`; release() makes the oldest of them delivered.
  bool self_ack = false;
  std::vector<std::string> held;
  std::vector<uint64_t> held_seqs;
  uint64_t taken_through = 0;
  std::atomic<int> deliveries{0};
  std::atomic<int> opens{0};
  std::atomic<int> closes{0};

  std::size_t count() {
    std::lock_guard<std::mutex> g(mu);
    return events.size();
  }
  void set_fail(bool f) {
    std::lock_guard<std::mutex> g(mu);
    fail = f;
  }
  std::size_t held_count() {
    std::lock_guard<std::mutex> g(mu);
    return held.size();
  }
  void release(std::size_t n) {
    std::lock_guard<std::mutex> g(mu);
    n = std::min(n, held.size());
    events.insert(events.end(), held.begin(), held.begin() + n);
    seqs.insert(seqs.end(), held_seqs.begin(), held_seqs.begin() + n);
    held.erase(held.begin(), held.begin() + n);
    held_seqs.erase(held_seqs.begin(), held_seqs.begin() + n);
  }
  void set_blocked(bool b) {
    {
      std::lock_guard<std::mutex> g(mu);
      blocked = b;
    }
    cv.notify_all();
  }
};

class ScriptedSink final : public Sink {
 public:
  explicit ScriptedSink(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  Status open() override {
    s_->opens++;
    return Status::ok();
  }
  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    s_->deliveries++;
    std::unique_lock<std::mutex> l(s_->mu);
    // Bounded so a broken test cannot hang: 10 s.
    s_->cv.wait_for(l, std::chrono::seconds(10), [&] { return !s_->blocked; });
    DeliveryResult r;
    if (s_->fail) {
      s_->staged.clear();
      s_->staged_seqs.clear();
      r.status = Status(StatusCode::kUnavailable, "scripted failure");
      return r;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::string ev(batch[i].event);
      if (s_->self_ack) {
        if (batch[i].seq <= s_->taken_through) continue;  // a retried batch
        s_->taken_through = batch[i].seq;
        s_->held.push_back(std::move(ev));
        s_->held_seqs.push_back(batch[i].seq);
        continue;
      }
      if (s_->two_phase) {
        s_->staged.push_back(std::move(ev));
        s_->staged_seqs.push_back(batch[i].seq);
        continue;
      }
      if (rejects(ev)) {
        r.rejected.push_back(SinkRejection{i, "scripted rejection"});
        continue;
      }
      s_->events.push_back(std::move(ev));
      s_->seqs.push_back(batch[i].seq);
    }
    return r;
  }
  bool defers_durability() const override { return s_->two_phase; }
  bool acknowledges_itself() const override { return s_->self_ack; }
  std::optional<uint64_t> pending() override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->held_seqs.empty()) return std::nullopt;
    return s_->held_seqs.front();
  }
  DeliveryResult flush() override {
    std::lock_guard<std::mutex> g(s_->mu);
    DeliveryResult r;
    if (s_->fail_flushes > 0) {
      s_->fail_flushes--;
      s_->staged.clear();
      s_->staged_seqs.clear();
      r.status = Status(StatusCode::kUnavailable, "scripted flush failure");
      return r;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < s_->staged.size(); ++i) {
      if (rejects(s_->staged[i])) {
        r.rejected.push_back(SinkRejection{i, "scripted rejection"});
        continue;
      }
      s_->events.push_back(std::move(s_->staged[i]));
      s_->seqs.push_back(s_->staged_seqs[i]);
      kept++;
    }
    s_->flush_sizes.push_back(kept);
    s_->staged.clear();
    s_->staged_seqs.clear();
    return r;
  }
  Status health() override {
    std::lock_guard<std::mutex> g(s_->mu);
    return s_->fail ? Status(StatusCode::kUnavailable, "scripted failure") : Status::ok();
  }
  Status close(std::chrono::steady_clock::time_point) override {
    s_->closes++;
    return Status::ok();
  }

 private:
  bool rejects(const std::string& ev) const {
    return !s_->reject_marker.empty() && ev.find(s_->reject_marker) != std::string::npos;
  }
  std::shared_ptr<Script> s_;
};

// Registers type "scripted": the sink named N uses scripts[N] (created on demand).
inline void register_scripted(
    SinkRegistry& reg, std::shared_ptr<std::map<std::string, std::shared_ptr<Script>>> scripts) {
  (void)reg.add(
      "scripted",
      [scripts](const SinkConfig& c, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
        auto& s = (*scripts)[c.name];
        if (!s) s = std::make_shared<Script>();
        return std::unique_ptr<Sink>(new ScriptedSink(s));
      });
}

}  // namespace tern::relay::testing
