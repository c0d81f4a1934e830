#include "sink_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tern/base/file.h"
#include "tern/base/json_text.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kIdlePoll = std::chrono::milliseconds(250);
constexpr auto kHealthCheckEvery = std::chrono::seconds(1);
// While a retry backs off, the lag gauges are refreshed this often.
constexpr auto kLagRefresh = std::chrono::seconds(1);
// A sink that defers durability settles (flushes) at least every this many
// batches, so its cursor and the spool's trim keep up under a backlog.
constexpr std::size_t kMaxUnsettledBatches = 16;

}  // namespace

SinkRunner::SinkRunner(SinkConfig config, std::unique_ptr<Sink> sink, Spool& spool, uint64_t cursor,
                       std::string dead_letter_path, std::shared_ptr<const Router> router,
                       Metrics& metrics, const Clock& clock, AckListener on_ack)
    : config_(std::move(config)),
      sink_(std::move(sink)),
      spool_(spool),
      reader_(spool.reader(cursor)),
      dead_letter_path_(std::move(dead_letter_path)),
      clock_(clock),
      on_ack_(std::move(on_ack)),
      rng_(std::random_device{}()),
      router_(std::move(router)),
      health_(StatusCode::kUnavailable, "not opened yet"),
      acked_(cursor) {
  std::string l = sink_label(config_.name);
  delivered_ = &metrics.counter("tern_relay_sink_delivered_events_total", l,
                                "Events delivered by each sink");
  batches_ = &metrics.counter("tern_relay_sink_batches_total", l, "Batches delivered by each sink");
  failures_ = &metrics.counter("tern_relay_sink_failures_total", l,
                               "Failed open/delivery attempts (retried with backoff)");
  dead_lettered_ =
      &metrics.counter("tern_relay_sink_dead_lettered_events_total", l,
                       "Events a sink refused for good, written to its dead-letter file");
  filtered_ = &metrics.counter("tern_relay_sink_unrouted_events_total", l,
                               "Spool events skipped by a sink because no route sends them to it");
  latency_ = &metrics.histogram("tern_relay_sink_delivery_seconds", l,
                                "Time of one successful deliver() call");
  lag_events_ = &metrics.gauge("tern_relay_sink_lag_events", l,
                               "Events in the spool a sink has not acknowledged");
  lag_bytes_ =
      &metrics.gauge("tern_relay_sink_lag_bytes", l, "Spool bytes a sink has not acknowledged");
  up_ = &metrics.gauge("tern_relay_sink_up", l, "1 when the sink is healthy, 0 when failing");
  up_->set(0);
}

SinkRunner::~SinkRunner() {
  if (started_ && !joined_) (void)stop(SteadyClock::now() + std::chrono::seconds(2));
  if (dead_letter_fd_ >= 0) ::close(dead_letter_fd_);
}

void SinkRunner::start() {
  started_ = true;
  thread_ = std::thread([this] {
    log::set_thread_name("tern-sink-" + config_.name);
    run();
  });
}

void SinkRunner::begin_stop(SteadyClock::time_point deadline) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) {
      deadline_ = std::min(deadline_, deadline);
    } else {
      stopping_ = true;
      deadline_ = deadline;
      drain_target_ = spool_.last_seq();
    }
  }
  cv_.notify_all();
  reader_->interrupt();
}

Status SinkRunner::stop(SteadyClock::time_point deadline) {
  if (!started_) return Status::ok();
  begin_stop(deadline);
  if (!joined_) {
    thread_.join();
    joined_ = true;
  }
  return exit_status_;
}

void SinkRunner::set_router(std::shared_ptr<const Router> router) {
  std::lock_guard<std::mutex> g(mu_);
  router_ = std::move(router);
}

bool SinkRunner::healthy(std::string* why) const {
  std::lock_guard<std::mutex> g(mu_);
  if (health_.is_ok()) return true;
  if (why) *why = health_.to_string();
  return false;
}

void SinkRunner::set_health(const Status& st) {
  std::lock_guard<std::mutex> g(mu_);
  health_ = st;
  up_->set(st.is_ok() ? 1 : 0);
}

bool SinkRunner::backoff(int attempt) {
  using namespace std::chrono;
  int64_t base = std::max<int64_t>(1, config_.backoff_base.count());
  int64_t cap = std::max<int64_t>(base, config_.backoff_max.count());
  int64_t d = base;
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  // Equal jitter: at least half the delay, so retries of many relays spread
  // out without collapsing to zero.
  std::uniform_int_distribution<int64_t> jitter(0, d / 2);
  auto wake = clock_.steady_now() + milliseconds(d - d / 2 + jitter(rng_));
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (clock_.steady_now() >= wake) break;
    // The lag gauges follow the backlog that grows meanwhile (every second).
    SteadyClock::duration wait = std::min<SteadyClock::duration>(real_wait(wake), kLagRefresh);
    if (stopping_) {  // the stop deadline is real time
      auto now = SteadyClock::now();
      if (now >= deadline_) break;
      wait = std::min(wait, deadline_ - now);
    }
    cv_.wait_for(l, wait);
    l.unlock();
    update_lag();
    l.lock();
  }
  return !(stopping_ && SteadyClock::now() >= deadline_);
}

SteadyClock::duration SinkRunner::real_wait(SteadyClock::time_point until) const {
  SteadyClock::duration left = until - clock_.steady_now();
  if (&clock_ != &real_clock()) left = std::min<SteadyClock::duration>(left, kJumpyClockRecheck);
  return std::max<SteadyClock::duration>(left, SteadyClock::duration::zero());
}

void SinkRunner::update_lag() {
  uint64_t last = spool_.last_seq();
  uint64_t acked = acked_.load();
  uint64_t behind = last > acked ? last - acked : 0;
  lag_events_->set(static_cast<int64_t>(behind));
  uint64_t bytes = 0;
  if (behind > 0) bytes = spool_.bytes_after(acked_pos_known_ ? acked_pos_ : SpoolPosition{});
  lag_bytes_->set(static_cast<int64_t>(bytes));
}

Status SinkRunner::write_dead_letters(const Group& group, std::size_t offset,
                                      const std::vector<SinkRejection>& rejected) {
  if (dead_letter_fd_ < 0) {
    Status st = base::make_dirs(base::parent_dir(dead_letter_path_));
    if (!st) return st;
    dead_letter_fd_ =
        ::open(dead_letter_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (dead_letter_fd_ < 0) {
      return Status(StatusCode::kIOError,
                    "open " + dead_letter_path_ + ": " + std::strerror(errno));
    }
  }
  std::string text;
  for (const auto& r : rejected) {
    std::size_t i = offset + r.index;
    if (i >= group.index_map.size()) continue;  // a sink bug; the record counts as delivered
    const SpoolRecord& rec = group.records[group.index_map[i]];
    text += "{\"sink\":";
    base::append_json_string(text, config_.name);
    text += ",\"reason\":";
    base::append_json_string(text, r.reason);
    text += ",\"seq\":";
    text += std::to_string(rec.seq);
    text += ",\"source\":";
    base::append_json_string(text, rec.source_id);
    text += ",\"event\":";
    text += rec.event;  // the original event, one JSON object
    text += "}\n";
  }
  if (!base::write_all(dead_letter_fd_, text.data(), text.size()) ||
      ::fdatasync(dead_letter_fd_) != 0) {
    Status st(StatusCode::kIOError, "write " + dead_letter_path_ + ": " + std::strerror(errno));
    ::close(dead_letter_fd_);
    dead_letter_fd_ = -1;
    return st;
  }
  return Status::ok();
}

bool SinkRunner::dead_letter(Group& group, std::size_t offset,
                             const std::vector<SinkRejection>& rejected) {
  int attempt = 0;
  Status st;
  while (!(st = write_dead_letters(group, offset, rejected))) {
    log::error("cannot write dead-letter file; retrying",
               {{"sink", config_.name}, {"path", dead_letter_path_}, {"error", st.to_string()}});
    if (!backoff(attempt++)) return false;  // stopping: the events stay in the spool
  }
  group.rejected += rejected.size();
  dead_lettered_->inc(rejected.size());
  log::warn("sink rejected events; written to dead-letter file",
            {{"sink", config_.name},
             {"count", rejected.size()},
             {"path", dead_letter_path_},
             {"reason", rejected.front().reason}});
  return true;
}

bool SinkRunner::deliver(Group& group, std::size_t first, const std::vector<SinkRecord>& fresh,
                         bool flush) {
  const std::string& name = config_.name;
  bool again = false;  // after a failure the sink may have lost everything not flushed
  for (int attempt = 0;; ++attempt) {
    const std::vector<SinkRecord>& batch = again ? group.batch : fresh;
    auto t0 = SteadyClock::now();
    DeliveryResult res;
    if (!batch.empty()) res = sink_->deliver(batch);
    if (res.status && !res.rejected.empty() && !dead_letter(group, again ? 0 : first, res.rejected))
      return false;
    if (res.status && flush && two_phase_ && !group.batch.empty()) {
      res = sink_->flush();
      if (res.status && !res.rejected.empty() && !dead_letter(group, 0, res.rejected)) return false;
    }
    if (res.status) {
      latency_->observe(std::chrono::duration<double>(SteadyClock::now() - t0).count());
      if (attempt > 0) log::info("sink recovered", {{"sink", name}, {"attempts", attempt + 1}});
      set_health(Status::ok());
      return true;
    }
    failures_->inc();
    set_health(res.status);
    update_lag();  // the backlog grows while we retry
    // Attempts 1, 2, 4, 8, ...: a sink down for an hour logs a few lines, not thousands.
    if ((attempt & (attempt + 1)) == 0) {
      log::warn("sink delivery failed; retrying", {{"sink", name},
                                                   {"attempt", attempt + 1},
                                                   {"events", group.batch.size()},
                                                   {"error", res.status.to_string()}});
    }
    if (!backoff(attempt)) return false;
    again = true;
    group.rejected = 0;  // the retry reports its refusals again
  }
}

void SinkRunner::acknowledge(Group& group) {
  delivered_->inc(group.batch.size() - std::min(group.batch.size(), group.rejected));
  batches_->inc(group.batches);
  const SpoolRecord& last = group.records.back();
  move_cursor(last.seq, last.end, true);
  group.clear();
}

void SinkRunner::move_cursor(uint64_t seq, SpoolPosition pos, bool pos_known) {
  acked_.store(seq);
  if (pos_known) {
    acked_pos_ = pos;
    acked_pos_known_ = true;
  }
  spool_.ack(config_.name, seq);
  if (on_ack_) on_ack_(config_.name, seq);
  update_lag();
}

void SinkRunner::hand_over(Group& group) {
  delivered_->inc(group.batch.size() - std::min(group.batch.size(), group.rejected));
  batches_->inc(group.batches);
  const SpoolRecord& last = group.records.back();
  read_through_ = last.seq;
  handed_over_.emplace_back(last.seq, last.end);
  group.clear();
  advance_to_sink_pending();
}

void SinkRunner::advance_to_sink_pending() {
  std::optional<uint64_t> held = sink_->pending();
  uint64_t target = held ? std::min(read_through_, *held - 1) : read_through_;
  if (target <= acked_.load()) return;
  // The position of the last group that ended at or before the target: the
  // lag in bytes counts from there (a little more than the truth at worst).
  SpoolPosition pos{};
  bool known = false;
  while (!handed_over_.empty() && handed_over_.front().first <= target) {
    pos = handed_over_.front().second;
    known = true;
    handed_over_.pop_front();
  }
  move_cursor(target, pos, known);
}

bool SinkRunner::stopping() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopping_;
}

void SinkRunner::run() {
  const std::string& name = config_.name;
  int attempt = 0;
  bool opened = false;
  for (;;) {
    Status st = sink_->open();
    set_health(st);
    if (st) {
      opened = true;
      break;
    }
    failures_->inc();
    if ((attempt & (attempt + 1)) == 0) {
      log::warn("sink open failed; retrying",
                {{"sink", name}, {"attempt", attempt + 1}, {"error", st.to_string()}});
    }
    if (!backoff(attempt++)) break;
  }
  two_phase_ = sink_->defers_durability();
  self_ack_ = opened && sink_->acknowledges_itself();
  read_through_ = acked_.load();

  std::vector<SpoolRecord> records;
  std::vector<SinkRecord> fresh;
  Group group;  // read and delivered, not yet acknowledged
  auto last_health_check = clock_.steady_now();
  bool gave_up = !opened;
  // Makes what was delivered durable and moves the cursor past it.
  auto settle = [&] {
    if (group.records.empty()) return true;
    if (!deliver(group, group.batch.size(), {}, true)) return false;
    acknowledge(group);
    return true;
  };
  attempt = 0;
  while (opened) {
    {
      std::lock_guard<std::mutex> g(mu_);
      // A self-acknowledging sink is done once it has taken everything: what
      // it still holds stays in the spool for the next start.
      if (stopping_ && (acked_.load() >= drain_target_ ||
                        (self_ack_ && read_through_ >= drain_target_ && group.records.empty()) ||
                        SteadyClock::now() >= deadline_))
        break;
    }
    records.clear();
    // With deliveries to settle, take only what the spool already holds.
    auto now = SteadyClock::now();
    Status st = reader_->read(config_.batch_max_events, config_.batch_max_bytes,
                              group.records.empty() ? now + kIdlePoll : now, &records);
    if (!st) {
      if (!settle()) {
        gave_up = true;
        break;
      }
      set_health(st);
      log::error("sink cannot read the spool", {{"sink", name}, {"error", st.to_string()}});
      if (!backoff(attempt++)) {
        gave_up = true;
        break;
      }
      continue;
    }
    attempt = 0;
    if (records.empty()) {
      if (!group.records.empty()) {  // the spool has nothing more ready
        if (!settle()) {
          gave_up = true;
          break;
        }
        continue;
      }
      if (self_ack_) advance_to_sink_pending();  // its uploads finish on their own
      update_lag();
      if (clock_.steady_now() - last_health_check >= kHealthCheckEvery) {
        set_health(sink_->health());
        last_health_check = clock_.steady_now();
      }
      continue;
    }
    // Linger to fill the batch, unless stopping (then flush what we have).
    // The spool reader waits in real time: it gets the time left by clock_.
    auto linger_until = clock_.steady_now() + config_.batch_linger;
    while (records.size() < config_.batch_max_events && clock_.steady_now() < linger_until) {
      if (stopping()) break;
      std::size_t before = records.size();
      SteadyClock::time_point read_until = SteadyClock::now() + real_wait(linger_until);
      if (!reader_->read(config_.batch_max_events, config_.batch_max_bytes, read_until, &records))
        break;
      // Nothing came until the linger ended (a jumpy clock is looked at again).
      if (records.size() == before && &clock_ == &real_clock()) break;
    }

    std::shared_ptr<const Router> router;
    {
      std::lock_guard<std::mutex> g(mu_);
      router = router_;
    }
    fresh.clear();
    std::size_t first = group.batch.size();
    // Records come in sequence order: one forward pass over the route chain
    // finds each record's router, however long the chain of a lagging sink.
    const auto chain = router->chain();
    std::size_t link = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const SpoolRecord& r = records[i];
      while (link + 1 < chain.size() && chain[link + 1].first <= r.seq) ++link;
      if (!chain[link].second->routes_to(r.source_id, r.type, name)) continue;
      fresh.push_back(SinkRecord{r.seq, r.source_id, r.event});
      group.index_map.push_back(group.records.size() + i);
    }
    if (records.size() > fresh.size()) filtered_->inc(records.size() - fresh.size());
    // The views in `fresh` stay valid: records share their storage when moved.
    group.records.insert(group.records.end(), std::make_move_iterator(records.begin()),
                         std::make_move_iterator(records.end()));
    group.batch.insert(group.batch.end(), fresh.begin(), fresh.end());
    if (!fresh.empty()) group.batches++;
    bool flush = !two_phase_ || group.batches >= kMaxUnsettledBatches || stopping();
    if (!deliver(group, first, fresh, flush)) {
      gave_up = true;  // stopping: the batch stays in the spool
      break;
    }
    if (self_ack_) {
      hand_over(group);
    } else if (flush) {
      acknowledge(group);
    }
  }

  SteadyClock::time_point close_deadline;
  uint64_t target;
  {
    std::lock_guard<std::mutex> g(mu_);
    close_deadline = stopping_ ? deadline_ : SteadyClock::now() + std::chrono::seconds(5);
    target = drain_target_;
  }
  close_deadline = std::max(close_deadline, SteadyClock::now() + std::chrono::milliseconds(100));
  if (opened) {
    Status cs = sink_->close(close_deadline);
    if (!cs) log::warn("sink close failed", {{"sink", name}, {"error", cs.to_string()}});
    if (self_ack_) advance_to_sink_pending();  // what close() finished
  }
  update_lag();
  if (self_ack_ && !gave_up && read_through_ >= target) {
    // Held events (objects not sealed yet) stay in the spool by design.
    if (acked_.load() < target) {
      log::info("sink stopped holding events; they stay in the spool for the next start",
                {{"sink", name}, {"events", target - acked_.load()}});
    }
  } else if (gave_up || acked_.load() < target) {
    exit_status_ =
        Status(StatusCode::kTimeout, "sink \"" + name + "\" stopped " +
                                         std::to_string(target - std::min(target, acked_.load())) +
                                         " events behind; they stay in the spool");
  }
}

}  // namespace tern::relay
