// StatsHistory (stats_history.h): a ring of per-second slots filled by one
// thread from Metrics::values() and DurablePipeline::state().
#include "tern/relay/stats_history.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tern/base/json_text.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kAccepted = "tern_relay_events_accepted_total";
constexpr std::string_view kRejected = "tern_relay_source_events_rejected_total";
constexpr std::string_view kDelivered = "tern_relay_sink_delivered_events_total";
constexpr std::string_view kDeadLettered = "tern_relay_sink_dead_lettered_events_total";

// The counters' values at the previous sample, by label body: what the next
// sample subtracts. Bounded by the series Metrics holds.
using Baseline = std::map<std::string, int64_t, std::less<>>;

// How much `s` grew since the baseline, which it then replaces. A counter
// never shrinks; should one read lower, the difference is 0.
uint64_t growth(Baseline& baseline, const Metrics::SeriesValue& s) {
  auto it = baseline.find(s.labels);
  if (it == baseline.end()) {
    baseline.emplace(s.labels, s.value);
    return static_cast<uint64_t>(std::max<int64_t>(s.value, 0));
  }
  const int64_t d = s.value - it->second;
  it->second = s.value;
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}

void fill_baseline(Baseline& baseline, const std::vector<Metrics::SeriesValue>& values) {
  for (const auto& s : values) baseline[s.labels] = s.value;
}

std::string iso_seconds(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void append_uint(std::string& out, uint64_t v) { out += std::to_string(v); }

void append_key(std::string& out, std::string_view key) {
  base::append_json_string(out, key);
  out += ':';
}

}  // namespace

struct StatsHistory::Impl {
  // One value per slot, indexed like the shared ring (slot = head_ - 1 is
  // the newest).
  using Ring = std::vector<uint64_t>;

  struct SourceSeries {
    Ring accepted, rejected;
    uint64_t accepted_total = 0, rejected_total = 0;
    std::map<std::string, uint64_t> rejected_by_reason;
    bool configured = false;
    std::size_t zero_run = 0;  // newest slots in a row that are all zero
  };
  struct SinkSeries {
    Ring delivered, dead_lettered;
    uint64_t delivered_total = 0, dead_lettered_total = 0;
    std::string type;  // as last seen in the pipeline's state
    bool present = false;
    std::size_t zero_run = 0;
  };

  Impl(Metrics& m, const DurablePipeline& p, std::chrono::seconds w, const Clock& c)
      : metrics(m),
        pipeline(p),
        clock(c),
        window(static_cast<std::size_t>(std::max<std::chrono::seconds::rep>(w.count(), 1))),
        times(window),
        spool_bytes(window),
        last_seq(window) {
    // Counted before the history began: not part of its first second.
    fill_baseline(accepted_seen, metrics.values(kAccepted));
    fill_baseline(rejected_seen, metrics.values(kRejected));
    fill_baseline(delivered_seen, metrics.values(kDelivered));
    fill_baseline(dead_seen, metrics.values(kDeadLettered));
  }

  void sample();
  std::string overview() const;

  // The slot index of the i-th recorded second, oldest first.
  std::size_t slot(std::size_t i) const { return (head + window - count + i) % window; }

  void append_ring(std::string& out, const Ring& ring) const {
    out += '[';
    for (std::size_t i = 0; i < count; ++i) {
      if (i) out += ',';
      append_uint(out, ring[slot(i)]);
    }
    out += ']';
  }

  // Seconds since the spool's last sequence number first passed `cursor`
  // within the window; 0 when the recorded seconds never saw it pass.
  uint64_t lag_seconds(uint64_t cursor, SteadyTime now) const {
    if (count == 0 || last_seq[slot(count - 1)] <= cursor) return 0;
    std::size_t first = count - 1;  // the oldest recorded second past the cursor
    while (first > 0 && last_seq[slot(first - 1)] > cursor) --first;
    auto age = now - times[slot(first)];
    if (age.count() < 0) return 0;
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(age).count());
  }

  Metrics& metrics;
  const DurablePipeline& pipeline;
  const Clock& clock;
  const std::size_t window;

  mutable std::mutex mu;  // guards everything below
  std::size_t head = 0;   // the slot the next sample writes
  std::size_t count = 0;  // seconds recorded, at most window
  std::vector<SteadyTime> times;
  Ring spool_bytes, last_seq;
  std::map<std::string, SourceSeries> sources;
  std::map<std::string, SinkSeries> sinks;
  Baseline accepted_seen, rejected_seen, delivered_seen, dead_seen;

  // The sampling thread.
  std::mutex thread_mu;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;
};

void StatsHistory::Impl::sample() {
  // Read outside the lock: Metrics and the pipeline take their own.
  const auto accepted = metrics.values(kAccepted);
  const auto rejected = metrics.values(kRejected);
  const auto delivered = metrics.values(kDelivered);
  const auto dead = metrics.values(kDeadLettered);
  const DurablePipeline::State state = pipeline.state();
  const SteadyTime now = clock.steady_now();

  struct SourceTally {
    uint64_t accepted = 0, rejected = 0, accepted_total = 0, rejected_total = 0;
    std::map<std::string, uint64_t> by_reason;
  };
  struct SinkTally {
    uint64_t delivered = 0, dead = 0, delivered_total = 0, dead_total = 0;
  };

  std::lock_guard<std::mutex> lock(mu);
  std::map<std::string, SourceTally> src;
  for (const auto& s : accepted) {
    auto id = label_value(s.labels, "source");
    if (!id) continue;
    SourceTally& t = src[*id];
    t.accepted += growth(accepted_seen, s);
    t.accepted_total += static_cast<uint64_t>(std::max<int64_t>(s.value, 0));
  }
  for (const auto& s : rejected) {
    auto id = label_value(s.labels, "source");
    auto reason = label_value(s.labels, "reason");
    if (!id || !reason) continue;
    SourceTally& t = src[*id];
    const auto v = static_cast<uint64_t>(std::max<int64_t>(s.value, 0));
    t.rejected += growth(rejected_seen, s);
    t.rejected_total += v;
    if (v > 0) t.by_reason[*reason] += v;
  }
  std::map<std::string, SinkTally> snk;
  for (const auto& s : delivered) {
    auto name = label_value(s.labels, "sink");
    if (!name) continue;
    SinkTally& t = snk[*name];
    t.delivered += growth(delivered_seen, s);
    t.delivered_total += static_cast<uint64_t>(std::max<int64_t>(s.value, 0));
  }
  for (const auto& s : dead) {
    auto name = label_value(s.labels, "sink");
    if (!name) continue;
    SinkTally& t = snk[*name];
    t.dead += growth(dead_seen, s);
    t.dead_total += static_cast<uint64_t>(std::max<int64_t>(s.value, 0));
  }

  // A series joins when configured or when it moved this second; a new
  // ring's earlier seconds are zeros, so every array keeps the same length.
  for (auto& [id, series] : sources) series.configured = false;
  for (const auto& id : state.sources) sources[id].configured = true;
  for (const auto& [id, t] : src) {
    if (t.accepted > 0 || t.rejected > 0) sources[id];
  }
  for (auto& [name, series] : sinks) series.present = false;
  for (const auto& s : state.sinks) {
    SinkSeries& series = sinks[s.name];
    series.present = true;
    series.type = s.type;
  }
  for (const auto& [name, t] : snk) {
    if (t.delivered > 0 || t.dead > 0) sinks[name];
  }

  times[head] = now;
  spool_bytes[head] = state.spool_bytes;
  last_seq[head] = state.last_seq;
  if (count < window) ++count;
  for (auto it = sources.begin(); it != sources.end();) {
    SourceSeries& series = it->second;
    if (series.accepted.empty()) {
      series.accepted.assign(window, 0);
      series.rejected.assign(window, 0);
    }
    auto t = src.find(it->first);
    const SourceTally none{};
    const SourceTally& tally = t == src.end() ? none : t->second;
    series.accepted[head] = tally.accepted;
    series.rejected[head] = tally.rejected;
    series.accepted_total = tally.accepted_total;
    series.rejected_total = tally.rejected_total;
    series.rejected_by_reason = tally.by_reason;
    series.zero_run = tally.accepted == 0 && tally.rejected == 0 ? series.zero_run + 1 : 0;
    if (!series.configured && series.zero_run >= count) {
      it = sources.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = sinks.begin(); it != sinks.end();) {
    SinkSeries& series = it->second;
    if (series.delivered.empty()) {
      series.delivered.assign(window, 0);
      series.dead_lettered.assign(window, 0);
    }
    auto t = snk.find(it->first);
    const SinkTally none{};
    const SinkTally& tally = t == snk.end() ? none : t->second;
    series.delivered[head] = tally.delivered;
    series.dead_lettered[head] = tally.dead;
    series.delivered_total = tally.delivered_total;
    series.dead_lettered_total = tally.dead_total;
    series.zero_run = tally.delivered == 0 && tally.dead == 0 ? series.zero_run + 1 : 0;
    if (!series.present && series.zero_run >= count) {
      it = sinks.erase(it);
    } else {
      ++it;
    }
  }
  head = (head + 1) % window;
}

std::string StatsHistory::Impl::overview() const {
  // The sinks' up/down, errors, cursors and the spool as they are now; the
  // per-second arrays and totals as of the last sample.
  const DurablePipeline::State state = pipeline.state();
  const SteadyTime now = clock.steady_now();
  const auto wall = clock.system_now();

  std::lock_guard<std::mutex> lock(mu);
  std::string out;
  out.reserve(256 + (sources.size() * 2 + sinks.size() * 2 + 1) * count * 3);
  out += '{';
  append_key(out, "now");
  base::append_json_string(out, iso_seconds(wall));
  out += ",\"interval_seconds\":1,\"window_seconds\":";
  append_uint(out, window);

  out += ",\"sources\":[";
  bool first = true;
  for (const auto& [id, s] : sources) {
    if (!first) out += ',';
    first = false;
    out += '{';
    append_key(out, "id");
    base::append_json_string(out, id);
    out += ",\"configured\":";
    out += s.configured ? "true" : "false";
    out += ",\"accepted_per_second\":";
    append_ring(out, s.accepted);
    out += ",\"rejected_per_second\":";
    append_ring(out, s.rejected);
    out += ",\"accepted_total\":";
    append_uint(out, s.accepted_total);
    out += ",\"rejected_total\":";
    append_uint(out, s.rejected_total);
    out += ",\"rejected_by_reason\":{";
    bool first_reason = true;
    for (const auto& [reason, n] : s.rejected_by_reason) {
      if (!first_reason) out += ',';
      first_reason = false;
      append_key(out, reason);
      append_uint(out, n);
    }
    out += "}}";
  }

  out += "],\"sinks\":[";
  first = true;
  auto append_sink = [&](const std::string& name, const SinkSeries* series,
                         const DurablePipeline::SinkState* live) {
    if (!first) out += ',';
    first = false;
    out += '{';
    append_key(out, "name");
    base::append_json_string(out, name);
    out += ",\"type\":";
    base::append_json_string(out, live ? live->type : series->type);
    out += ",\"up\":";
    out += live && live->up ? "true" : "false";
    out += ",\"last_error\":";
    base::append_json_string(out, live ? live->last_error : "removed");
    out += ",\"removed\":";
    out += live ? "false" : "true";
    out += ",\"delivered_per_second\":";
    append_ring(out, series ? series->delivered : Ring(window, 0));
    out += ",\"dead_lettered_per_second\":";
    append_ring(out, series ? series->dead_lettered : Ring(window, 0));
    out += ",\"delivered_total\":";
    append_uint(out, series ? series->delivered_total : 0);
    out += ",\"dead_lettered_total\":";
    append_uint(out, series ? series->dead_lettered_total : 0);
    out += ",\"lag_events\":";
    append_uint(out, live ? live->lag_events : 0);
    out += ",\"lag_seconds\":";
    append_uint(out, live && live->lag_events > 0 ? lag_seconds(live->cursor, now) : 0);
    out += '}';
  };
  // By name: the pipeline's sinks, and those it dropped whose seconds are
  // not all zero yet.
  auto live = state.sinks.begin();
  auto kept = sinks.begin();
  while (live != state.sinks.end() || kept != sinks.end()) {
    if (kept == sinks.end() || (live != state.sinks.end() && live->name < kept->first)) {
      append_sink(live->name, nullptr, &*live);
      ++live;
    } else if (live == state.sinks.end() || kept->first < live->name) {
      append_sink(kept->first, &kept->second, nullptr);
      ++kept;
    } else {
      append_sink(live->name, &kept->second, &*live);
      ++live;
      ++kept;
    }
  }

  out += "],\"spool\":{";
  append_key(out, "bytes");
  append_uint(out, state.spool_bytes);
  out += ",\"max_bytes\":";
  append_uint(out, state.spool_max_bytes);
  out += ",\"last_seq\":";
  append_uint(out, state.last_seq);
  out += ",\"bytes_per_second\":";
  append_ring(out, spool_bytes);
  out += "}}";
  return out;
}

StatsHistory::StatsHistory(Metrics& metrics, const DurablePipeline& pipeline,
                           std::chrono::seconds window)
    : StatsHistory(metrics, pipeline, window, real_clock()) {}

StatsHistory::StatsHistory(Metrics& metrics, const DurablePipeline& pipeline,
                           std::chrono::seconds window, const Clock& clock)
    : impl_(std::make_unique<Impl>(metrics, pipeline, window, clock)) {}

StatsHistory::~StatsHistory() { stop(); }

void StatsHistory::start() {
  std::lock_guard<std::mutex> g(impl_->thread_mu);
  if (impl_->thread.joinable() || impl_->stopping) return;
  impl_->thread = std::thread([impl = impl_.get()] {
    log::set_thread_name("tern-stats");
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    std::unique_lock<std::mutex> l(impl->thread_mu);
    while (!impl->wake.wait_until(l, next, [impl] { return impl->stopping; })) {
      l.unlock();
      impl->sample();
      l.lock();
      next += std::chrono::seconds(1);
      // After a stall (a suspended process), one sample now, not a burst.
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now + std::chrono::seconds(1);
    }
  });
}

void StatsHistory::stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> g(impl_->thread_mu);
    impl_->stopping = true;
    thread = std::move(impl_->thread);
  }
  impl_->wake.notify_all();
  if (thread.joinable()) thread.join();
}

void StatsHistory::sample_now() { impl_->sample(); }

std::string StatsHistory::overview_json() const { return impl_->overview(); }

}  // namespace tern::relay
