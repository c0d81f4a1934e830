// DurablePipeline implementation: spool → router → one SinkRunner per sink.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "sink_runner.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/log.h"
#include "tern/relay/router.h"
#include "tern/relay/spool.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Done = std::function<void(Status)>;

std::string spool_dir(const RelayConfig& c) {
  return c.spool.dir.empty() ? c.data_dir + "/spool" : c.spool.dir;
}

std::string dead_letter_path(const RelayConfig& c, const SinkConfig& s) {
  return s.dead_letter_path.empty() ? c.data_dir + "/dead-letter/" + s.name + ".ndjson"
                                    : s.dead_letter_path;
}

bool same_sink(const SinkConfig& a, const SinkConfig& b) {
  return a.name == b.name && a.type == b.type && a.batch_max_events == b.batch_max_events &&
         a.batch_max_bytes == b.batch_max_bytes && a.batch_linger == b.batch_linger &&
         a.backoff_base == b.backoff_base && a.backoff_max == b.backoff_max &&
         a.dead_letter_path == b.dead_letter_path && a.settings == b.settings;
}

class PipelineImpl final : public DurablePipeline {
 public:
  PipelineImpl(RelayConfig config, Metrics& metrics, SinkRegistry& registry, const Clock& clock)
      : config_(std::move(config)), metrics_(metrics), registry_(registry), clock_(clock) {
    submitted_ = &metrics.counter("tern_relay_pipeline_events_total", {},
                                  "Events submitted to the pipeline and queued in the spool");
    refused_shutdown_ =
        &metrics.counter("tern_relay_pipeline_refused_events_total", "reason=\"shutdown\"",
                         "Events the pipeline refused, by reason");
    refused_storage_ =
        &metrics.counter("tern_relay_pipeline_refused_events_total", "reason=\"storage\"");
    refused_full_ =
        &metrics.counter("tern_relay_pipeline_refused_events_total", "reason=\"spool_full\"");
    lost_memory_ = &metrics.counter(
        "tern_relay_pipeline_lost_events_total", "reason=\"memory_ack_write_failed\"",
        "Events acknowledged in memory ack mode whose spool write then failed");
    sink_timeouts_ =
        &metrics.counter("tern_relay_pipeline_sink_ack_timeouts_total", {},
                         "Sink-ack-mode submissions answered before the sinks acknowledged");
    unrouted_ = &metrics.counter(
        "tern_relay_pipeline_unrouted_events_total", {},
        "Events no route sends to any sink (kept until trimmed, delivered nowhere)");
  }

  ~PipelineImpl() override {
    (void)stop(SteadyClock::now() + std::chrono::seconds(2));
    // The callback thread outlives stop(): later submissions still get their
    // kCancelled answer from it, never inside submit().
    {
      std::lock_guard<std::mutex> g(cb_mu_);
      cb_stop_ = true;
    }
    cb_cv_.notify_all();
    if (callbacks_.joinable()) callbacks_.join();
  }

  Status start() {
    SpoolOptions so;
    so.dir = spool_dir(config_);
    so.max_bytes = config_.spool.max_bytes;
    so.commit_window = config_.spool.commit_window;
    so.memory_tail_bytes = config_.spool.memory_tail_bytes;
    so.clock = &clock_;  // the runners' read deadlines are times on this clock
    auto spool = Spool::open(so, metrics_);
    if (!spool) return spool.status();
    spool_ = std::move(spool.value());

    // Build every sink first: a bad sink config fails the start before any thread runs.
    std::vector<std::pair<SinkConfig, std::unique_ptr<Sink>>> built;
    for (const auto& sc : config_.sinks) {
      auto s = build_sink(sc);
      if (!s) return s.status();
      built.emplace_back(sc, std::move(s.value()));
    }
    // Cursors of sinks no longer configured would pin the spool forever.
    std::set<std::string> names;
    for (const auto& sc : config_.sinks) names.insert(sc.name);
    for (const auto& [name, seq] : spool_->cursors()) {
      if (!names.count(name)) {
        log::info("dropping the spool cursor of a sink no longer configured",
                  {{"sink", name}, {"seq", seq}});
        (void)spool_->drop_cursor(name);
      }
    }
    router_ = std::make_shared<const Router>(config_.routes);
    for (auto& [sc, sink] : built) {
      Status st = start_runner(sc, std::move(sink));
      if (!st) return st;
    }
    callbacks_ = std::thread([this] {
      log::set_thread_name("tern-callbacks");
      run_callbacks();
    });
    log::info("pipeline started", {{"sinks", config_.sinks.size()},
                                   {"spool", spool_dir(config_)},
                                   {"last_seq", spool_->last_seq()}});
    return Status::ok();
  }

  void submit(Submission submission, Done done) override {
    if (!done) done = [](Status) {};
    const std::size_t n = submission.events.size();
    if (stopping_.load()) {
      refused_shutdown_->inc(n);
      post(std::move(done), Status(StatusCode::kCancelled, "the relay is shutting down"));
      return;
    }
    if (n == 0) {
      post(std::move(done), Status::ok());
      return;
    }
    std::shared_ptr<const Router> router;
    {
      std::lock_guard<std::mutex> g(mu_);
      router = router_;
    }
    const std::string& source_id = submission.events.source_id();
    std::set<std::string> routed;
    std::size_t unrouted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string_view type = submission.events.type(i);
      if (submission.ack_mode == AckMode::kSink) {
        auto sinks = router->sinks_for(source_id, type);
        if (sinks.empty()) ++unrouted;
        routed.insert(sinks.begin(), sinks.end());
      } else if (!router->routed_anywhere(source_id, type)) {
        ++unrouted;
      }
    }
    if (unrouted) {
      unrouted_->inc(unrouted);
      if (!warned_unrouted_.exchange(true)) {
        log::warn(
            "events match no route and go to no sink (counted in "
            "tern_relay_pipeline_unrouted_events_total; logged once)",
            {{"source", source_id}});
      }
    }

    const AckMode mode = submission.ack_mode;
    auto shared_done = std::make_shared<Done>(std::move(done));
    inflight_.fetch_add(1);
    Status st = spool_->append(
        std::move(submission.events), [this, mode, n, shared_done, routed = std::move(routed)](
                                          Status s, uint64_t, uint64_t last) mutable {
          if (!s) refused_storage_->inc(n);
          switch (mode) {
            case AckMode::kMemory:
              if (!s) {
                lost_memory_->inc(n);
                log::error("events acknowledged in memory ack mode were lost: spool write failed",
                           {{"events", n}, {"error", s.to_string()}});
              }
              break;
            case AckMode::kLocal:
              (*shared_done)(s);
              break;
            case AckMode::kSink:
              if (!s) {
                (*shared_done)(s);
              } else {
                add_waiter(last, std::move(routed), std::move(*shared_done));
              }
              break;
          }
          finish_inflight();
        });
    if (!st) {
      finish_inflight();
      if (st == StatusCode::kUnavailable)
        refused_full_->inc(n);
      else if (st == StatusCode::kCancelled)
        refused_shutdown_->inc(n);
      else
        refused_storage_->inc(n);
      post(std::move(*shared_done), st);
      return;
    }
    submitted_->inc(n);
    if (mode == AckMode::kMemory) post(std::move(*shared_done), Status::ok());
  }

  bool ready(std::string* why) const override {
    std::string reasons;
    auto add = [&](const std::string& r) {
      if (!reasons.empty()) reasons += "; ";
      reasons += r;
    };
    if (stopping_.load()) add("shutting down");
    if (spool_) {
      Status h = spool_->health();
      if (!h) add("spool: " + h.to_string());
      if (spool_->full()) {
        add("spool full (" + std::to_string(spool_->bytes()) + " of " +
            std::to_string(spool_->max_bytes()) + " bytes)");
      }
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      for (const auto& [name, r] : runners_) {
        std::string w;
        if (!r->healthy(&w)) add("sink \"" + name + "\" unhealthy: " + w);
      }
    }
    if (why) *why = reasons;
    return reasons.empty();
  }

  uint64_t undelivered(std::string_view sink) const override {
    if (!spool_) return 0;
    auto cursor = spool_->cursor(std::string(sink));
    if (!cursor) return 0;
    uint64_t last = spool_->last_seq();
    return last > *cursor ? last - *cursor : 0;
  }

  State state() const override {
    State st;
    if (spool_) {
      st.last_seq = spool_->last_seq();
      st.spool_bytes = spool_->bytes();
      st.spool_max_bytes = spool_->max_bytes();
    }
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [name, r] : runners_) {
      SinkState s;
      s.name = name;
      s.type = r->config().type;
      s.up = r->healthy(&s.last_error);
      s.cursor = r->acked();
      s.lag_events = st.last_seq > s.cursor ? st.last_seq - s.cursor : 0;
      s.dead_letter_path = r->dead_letter_path();
      st.sinks.push_back(std::move(s));
    }
    for (const auto& source : config_.sources) st.sources.push_back(source.id);
    return st;
  }

  std::unique_ptr<SpoolReader> reader(uint64_t after_seq) override {
    return spool_ ? spool_->reader(after_seq) : nullptr;
  }

  int retry_after_seconds() const override {
    std::lock_guard<std::mutex> g(mu_);
    return config_.spool.retry_after_seconds;
  }

  Status stop(SteadyClock::time_point deadline) override {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    if (stopped_) return stop_status_;
    stopping_.store(true);
    if (!spool_) {
      stopped_ = true;
      return Status::ok();
    }
    // 1. Let accepted appends reach the spool.
    {
      std::unique_lock<std::mutex> l(inflight_mu_);
      inflight_cv_.wait_until(l, deadline, [&] { return inflight_.load() == 0; });
    }
    // 2. Drain every sink in parallel until the deadline.
    std::map<std::string, std::unique_ptr<SinkRunner>> runners;
    {
      std::lock_guard<std::mutex> g(mu_);
      runners.swap(runners_);
    }
    for (auto& [name, r] : runners) r->begin_stop(deadline);
    Status result;
    for (auto& [name, r] : runners) {
      Status st = r->stop(deadline);
      if (!st) {
        log::warn("sink did not drain before shutdown",
                  {{"sink", name}, {"error", st.to_string()}});
        if (result.is_ok()) result = st;
      }
    }
    // 3. Answer sink-mode waiters that will never be acknowledged now.
    fail_all_waiters(
        Status(StatusCode::kTimeout,
               "relay shutting down before the sinks acknowledged; events are spooled"));
    Status cs = spool_->close();
    if (!cs && result.is_ok()) result = cs;
    log::info("pipeline stopped", {{"ok", result.is_ok()}, {"last_seq", spool_->last_seq()}});
    stopped_ = true;
    stop_status_ = result;
    return result;
  }

  Status reload(const RelayConfig& next) override {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    if (stopped_ || stopping_.load())
      return Status(StatusCode::kCancelled, "the pipeline is stopped");
    RelayConfig cur;
    {
      std::lock_guard<std::mutex> g(mu_);
      cur = config_;
    }
    if (next.data_dir != cur.data_dir || spool_dir(next) != spool_dir(cur)) {
      return Status(StatusCode::kInvalidArgument,
                    "data_dir and spool.dir cannot change on reload; restart the relay");
    }
    std::map<std::string, const SinkConfig*> old_sinks, new_sinks;
    for (const auto& s : cur.sinks) old_sinks[s.name] = &s;
    for (const auto& s : next.sinks) new_sinks[s.name] = &s;

    // Build new and changed sinks first: on any error nothing changes.
    std::map<std::string, std::unique_ptr<Sink>> built;
    for (const auto& [name, sc] : new_sinks) {
      auto it = old_sinks.find(name);
      if (it != old_sinks.end() && same_sink(*it->second, *sc) &&
          dead_letter_path(cur, *it->second) == dead_letter_path(next, *sc)) {
        continue;
      }
      auto s = build_sink(*sc);
      if (!s) return s.status();
      built[name] = std::move(s.value());
    }

    // New routes judge the events committed from now on; the old ones keep
    // judging what was committed before (routing is decided when an event
    // is accepted). Every runner gets the chain first, then the boundary is
    // set at one exact point of the spool, where new sinks' cursors start
    // too. Unchanged routes add nothing to the chain, so its length follows
    // the route changes a lagging sink has not read past, not every reload.
    std::shared_ptr<const Router> router;
    bool routes_changed = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      uint64_t oldest_unread = spool_->last_seq() + 1;
      for (const auto& [name, seq] : spool_->cursors())
        oldest_unread = std::min(oldest_unread, seq + 1);
      routes_changed = router_->routes() != next.routes;
      router = routes_changed ? std::make_shared<const Router>(
                                    next.routes, Router::pruned(router_, oldest_unread))
                              : Router::pruned(router_, oldest_unread);
      router_ = router;
      config_ = next;
      for (auto& [name, r] : runners_) r->set_router(router);
    }
    std::vector<std::string> new_names;
    for (const auto& [name, sink] : built) {
      if (!old_sinks.count(name)) new_names.push_back(name);
    }
    auto boundary = spool_->at_commit_point(new_names, [&](uint64_t last) {
      if (routes_changed) router->begin_at(last + 1);
    });
    if (!boundary) {
      // The new sinks' cursors could not be persisted: the routes apply from
      // the next commit on anyway (their runners start at the end).
      log::error("reload: cannot persist the new sinks' cursors",
                 {{"error", boundary.status().to_string()}});
      if (routes_changed) router->begin_at(spool_->last_seq() + 1);
    }
    spool_->set_max_bytes(next.spool.max_bytes);

    // Stop removed and changed runners (their cursors stay put).
    const auto stop_deadline = SteadyClock::now() + std::chrono::seconds(5);
    std::vector<std::unique_ptr<SinkRunner>> retired;
    {
      std::lock_guard<std::mutex> g(mu_);
      for (auto it = runners_.begin(); it != runners_.end();) {
        if (!new_sinks.count(it->first) || built.count(it->first)) {
          retired.push_back(std::move(it->second));
          it = runners_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& r : retired) r->begin_stop(SteadyClock::now());  // stop promptly; nothing is lost
    for (auto& r : retired) (void)r->stop(stop_deadline);
    for (const auto& [name, sc] : old_sinks) {
      if (!new_sinks.count(name)) {
        (void)spool_->drop_cursor(name);
        forget_sink(name);
        log::info("sink removed by reload; its cursor is dropped", {{"sink", name}});
      }
    }
    Status result;
    for (auto& [name, sink] : built) {
      bool is_new = !old_sinks.count(name);
      Status st = start_runner(*new_sinks[name], std::move(sink));
      if (!st && result.is_ok()) result = st;
      log::info(is_new ? "sink added by reload; starts at the end of the spool"
                       : "sink changed by reload; restarted at its cursor",
                {{"sink", name}});
    }
    return result;
  }

 private:
  struct Waiter {
    uint64_t last_seq;
    std::set<std::string> sinks;
    SteadyClock::time_point deadline;
    Done done;
  };

  Result<std::unique_ptr<Sink>> build_sink(const SinkConfig& sc) {
    SinkContext ctx;
    ctx.data_dir = config_.data_dir;
    ctx.metrics = &metrics_;
    ctx.clock = &clock_;
    ctx.relay_id = relay_id_of(config_);
    auto s = registry_.create(sc, ctx);
    if (!s) {
      Status st = s.status();
      if (st == StatusCode::kNotFound) return Status(StatusCode::kInvalidArgument, st.message());
      return st;
    }
    return s;
  }

  // A sink new to the spool starts at its end (documented in durable_pipeline.h).
  Status start_runner(const SinkConfig& sc, std::unique_ptr<Sink> sink) {
    auto cursor = spool_->register_cursor(sc.name, /*new_at_end=*/true);
    if (!cursor) return cursor.status();
    std::shared_ptr<const Router> router;
    std::string dl;
    {
      std::lock_guard<std::mutex> g(mu_);
      router = router_;
      dl = dead_letter_path(config_, sc);
    }
    {
      std::lock_guard<std::mutex> g(waiters_mu_);
      acked_[sc.name] = *cursor;
    }
    auto runner = std::make_unique<SinkRunner>(
        sc, std::move(sink), *spool_, *cursor, dl, router, metrics_, clock_,
        [this](const std::string& name, uint64_t seq) { on_ack(name, seq); });
    runner->start();
    std::lock_guard<std::mutex> g(mu_);
    runners_[sc.name] = std::move(runner);
    return Status::ok();
  }

  // ---- sink ack mode

  void add_waiter(uint64_t last_seq, std::set<std::string> sinks, Done done) {
    std::unique_lock<std::mutex> g(waiters_mu_);
    for (auto it = sinks.begin(); it != sinks.end();) {
      auto a = acked_.find(*it);
      if (a == acked_.end() || a->second >= last_seq)
        it = sinks.erase(it);
      else
        ++it;
    }
    if (sinks.empty()) {
      g.unlock();
      done(Status::ok());
      return;
    }
    SteadyClock::duration timeout;
    {
      std::lock_guard<std::mutex> c(mu_);
      timeout = config_.limits.sink_ack_timeout;
    }
    waiters_.push_back(
        Waiter{last_seq, std::move(sinks), SteadyClock::now() + timeout, std::move(done)});
    g.unlock();
    cb_cv_.notify_all();  // the callback thread tracks the earliest deadline
  }

  void on_ack(const std::string& name, uint64_t seq) {
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> g(waiters_mu_);
      acked_[name] = seq;
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->last_seq <= seq) it->sinks.erase(name);
        if (it->sinks.empty()) {
          ready.push_back(std::move(it->done));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& d : ready) d(Status::ok());
  }

  // A removed sink no longer holds up sink-mode answers.
  void forget_sink(const std::string& name) {
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> g(waiters_mu_);
      acked_.erase(name);
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        it->sinks.erase(name);
        if (it->sinks.empty()) {
          ready.push_back(std::move(it->done));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& d : ready) d(Status::ok());
  }

  void fail_all_waiters(const Status& st) {
    std::list<Waiter> all;
    {
      std::lock_guard<std::mutex> g(waiters_mu_);
      all.swap(waiters_);
    }
    for (auto& w : all) {
      sink_timeouts_->inc();
      w.done(st);
    }
  }

  // ---- the callback thread: memory-mode answers, refusals and sink-ack timeouts

  void post(Done done, Status st) {
    {
      std::lock_guard<std::mutex> g(cb_mu_);
      tasks_.emplace_back(std::move(done), std::move(st));
    }
    cb_cv_.notify_all();
  }

  void run_callbacks() {
    std::unique_lock<std::mutex> l(cb_mu_);
    for (;;) {
      while (!tasks_.empty()) {
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        l.unlock();
        task.first(task.second);
        l.lock();
      }
      if (cb_stop_) break;
      // Time out sink-mode waiters.
      auto now = SteadyClock::now();
      std::vector<Done> expired;
      SteadyClock::time_point next = now + std::chrono::seconds(1);
      {
        std::lock_guard<std::mutex> g(waiters_mu_);
        for (auto it = waiters_.begin(); it != waiters_.end();) {
          if (it->deadline <= now) {
            expired.push_back(std::move(it->done));
            it = waiters_.erase(it);
          } else {
            next = std::min(next, it->deadline);
            ++it;
          }
        }
      }
      if (!expired.empty()) {
        l.unlock();
        for (auto& d : expired) {
          sink_timeouts_->inc();
          d(Status(StatusCode::kTimeout,
                   "the sinks did not acknowledge in time; the events are durable in the spool"));
        }
        l.lock();
        continue;
      }
      cb_cv_.wait_until(l, next, [&] { return !tasks_.empty() || cb_stop_ || waiter_added(); });
    }
    // Drain what was posted during stop.
    while (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      l.unlock();
      task.first(task.second);
      l.lock();
    }
  }

  // Wakes the callback thread when a waiter with an earlier deadline may exist.
  bool waiter_added() {
    std::lock_guard<std::mutex> g(waiters_mu_);
    bool changed = waiters_.size() != seen_waiters_;
    seen_waiters_ = waiters_.size();
    return changed;
  }

  void finish_inflight() {
    if (inflight_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> l(inflight_mu_);
      inflight_cv_.notify_all();
    }
  }

  RelayConfig config_;  // guarded by mu_ after start()
  Metrics& metrics_;
  SinkRegistry& registry_;
  const Clock& clock_;  // the sinks' and their runners'
  std::unique_ptr<Spool> spool_;

  mutable std::mutex mu_;
  std::shared_ptr<const Router> router_;
  std::map<std::string, std::unique_ptr<SinkRunner>> runners_;

  std::mutex stop_mu_;  // serialises stop() and reload()
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  Status stop_status_;

  std::atomic<bool> warned_unrouted_{false};
  std::atomic<int64_t> inflight_{0};
  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;

  std::mutex waiters_mu_;
  std::list<Waiter> waiters_;
  std::size_t seen_waiters_ = 0;
  std::map<std::string, uint64_t> acked_;

  std::mutex cb_mu_;
  std::condition_variable cb_cv_;
  std::deque<std::pair<Done, Status>> tasks_;
  bool cb_stop_ = false;
  std::thread callbacks_;

  Counter* submitted_;
  Counter* refused_shutdown_;
  Counter* refused_storage_;
  Counter* refused_full_;
  Counter* lost_memory_;
  Counter* sink_timeouts_;
  Counter* unrouted_;
};

}  // namespace

Result<std::unique_ptr<DurablePipeline>> make_pipeline(const RelayConfig& config, Metrics& metrics,
                                                       SinkRegistry& registry, const Clock& clock) {
  auto p = std::make_unique<PipelineImpl>(config, metrics, registry, clock);
  Status st = p->start();
  if (!st) return st;
  return std::unique_ptr<DurablePipeline>(std::move(p));
}

}  // namespace tern::relay
