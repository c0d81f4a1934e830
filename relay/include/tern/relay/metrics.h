// Metrics: counters, gauges and latency histograms rendered as Prometheus text
// for GET /metrics.
//
// Threads: all methods are thread-safe. counter()/gauge()/histogram() return a
// reference that stays valid for the Metrics object's life, so hot paths look
// a series up once and then only touch an atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed buckets in seconds (Prometheus histogram semantics).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds) noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  uint64_t bucket(std::size_t i) const noexcept;  // cumulative count for bounds_[i]
  uint64_t count() const noexcept;
  double sum() const noexcept;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  // Out of line: Family is defined in metrics.cc.
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // `labels` is the Prometheus label body, e.g. `reason="too_large"` (may be empty).
  Counter& counter(std::string_view name, std::string_view labels = {}, std::string_view help = {});
  Gauge& gauge(std::string_view name, std::string_view labels = {}, std::string_view help = {});
  Histogram& histogram(std::string_view name, std::string_view labels = {},
                       std::string_view help = {});
  // The Prometheus text exposition format, families sorted by name.
  std::string render() const;

  // One series of a family as values() reads it.
  struct SeriesValue {
    std::string labels;  // the label body, as given to counter() or gauge()
    int64_t value = 0;   // a counter past INT64_MAX reads as INT64_MAX
  };
  // The current value of every series of the counter or gauge family `name`,
  // ordered by label body; empty for an unknown name or a histogram. For
  // readers that sample (the overview's history, once a second): one lock and
  // a copy of the label bodies, no text rendering or parsing.
  std::vector<SeriesValue> values(std::string_view name) const;

 private:
  struct Family;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

// The label body naming one sink, `sink="name"` (the name JSON-escaped: a
// valid Prometheus label value here), as every per-sink series carries it.
std::string sink_label(std::string_view sink);

// The value of the label `name` in a label body such as
// `source="web",reason="too_large"`, its escapes (\" \\ \n and JSON's)
// undone; nullopt when the body has no such label or is malformed.
std::optional<std::string> label_value(std::string_view labels, std::string_view name);

}  // namespace tern::relay
