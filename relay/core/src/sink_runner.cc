#include "sink_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fs_util.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kIdlePoll = std::chrono::milliseconds(250);
constexpr auto kHealthCheckEvery = std::chrono::seconds(1);

std::string label(const std::string& sink) {
  std::string l = "sink=";
  log::append_json_string(l, sink);  // a JSON string is a valid Prometheus label value here
  return l;
}

}  // namespace

SinkRunner::SinkRunner(SinkConfig config, std::unique_ptr<Sink> sink, Spool& spool, uint64_t cursor,
                       std::string dead_letter_path, std::shared_ptr<const Router> router,
                       Metrics& metrics, AckListener on_ack)
    : config_(std::move(config)),
      sink_(std::move(sink)),
      spool_(spool),
      reader_(spool.reader(cursor)),
      dead_letter_path_(std::move(dead_letter_path)),
      metrics_(metrics),
      on_ack_(std::move(on_ack)),
      rng_(std::random_device{}()),
      router_(std::move(router)),
      health_(StatusCode::kUnavailable, "not opened yet"),
      acked_(cursor) {
  std::string l = label(config_.name);
  delivered_ = &metrics.counter("tern_relay_sink_delivered_events_total", l,
                                "Events delivered by each sink");
  batches_ = &metrics.counter("tern_relay_sink_batches_total", l, "Batches delivered by each sink");
  failures_ = &metrics.counter("tern_relay_sink_failures_total", l,
                               "Failed open/delivery attempts (retried with backoff)");
  dead_lettered_ = &metrics.counter("tern_relay_sink_dead_lettered_events_total", l,
                                    "Events a sink refused for good, written to its dead-letter file");
  filtered_ = &metrics.counter("tern_relay_sink_unrouted_events_total", l,
                               "Spool events skipped by a sink because no route sends them to it");
  latency_ = &metrics.histogram("tern_relay_sink_delivery_seconds", l,
                                "Time of one successful deliver() call");
  lag_events_ = &metrics.gauge("tern_relay_sink_lag_events", l, "Events in the spool a sink has not acknowledged");
  lag_bytes_ = &metrics.gauge("tern_relay_sink_lag_bytes", l, "Spool bytes a sink has not acknowledged");
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

bool SinkRunner::past_deadline() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopping_ && SteadyClock::now() >= deadline_;
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
  auto wake = SteadyClock::now() + milliseconds(d - d / 2 + jitter(rng_));
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    auto until = stopping_ ? std::min(wake, deadline_) : wake;
    if (SteadyClock::now() >= until) break;
    cv_.wait_until(l, until);
  }
  return !(stopping_ && SteadyClock::now() >= deadline_);
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

Status SinkRunner::write_dead_letters(const std::vector<SpoolRecord>& records,
                                      const std::vector<std::size_t>& index_map,
                                      const std::vector<SinkRejection>& rejected) {
  if (dead_letter_fd_ < 0) {
    Status st = fs::make_dirs(fs::parent_dir(dead_letter_path_));
    if (!st) return st;
    dead_letter_fd_ = ::open(dead_letter_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (dead_letter_fd_ < 0) {
      return Status(StatusCode::kStorage, "open " + dead_letter_path_ + ": " + std::strerror(errno));
    }
  }
  std::string text;
  for (const auto& r : rejected) {
    if (r.index >= index_map.size()) continue;  // a sink bug; the record counts as delivered
    const SpoolRecord& rec = records[index_map[r.index]];
    text += "{\"sink\":";
    log::append_json_string(text, config_.name);
    text += ",\"reason\":";
    log::append_json_string(text, r.reason);
    text += ",\"seq\":";
    text += std::to_string(rec.seq);
    text += ",\"source\":";
    log::append_json_string(text, rec.source_id);
    text += ",\"event\":";
    text += rec.event;  // the original event, one JSON object
    text += "}\n";
  }
  if (!fs::write_all(dead_letter_fd_, text.data(), text.size()) || ::fdatasync(dead_letter_fd_) != 0) {
    Status st(StatusCode::kStorage, "write " + dead_letter_path_ + ": " + std::strerror(errno));
    ::close(dead_letter_fd_);
    dead_letter_fd_ = -1;
    return st;
  }
  return Status::ok();
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
    if ((attempt & (attempt + 1)) == 0 || attempt == 0) {
      log::warn("sink open failed; retrying", {{"sink", name}, {"attempt", attempt + 1}, {"error", st.to_string()}});
    }
    if (!backoff(attempt++)) break;
  }

  std::vector<SpoolRecord> records;
  std::vector<SinkRecord> batch;
  std::vector<std::size_t> index_map;
  auto last_health_check = SteadyClock::now();
  bool gave_up = !opened;
  while (opened) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopping_ && (acked_.load() >= drain_target_ || SteadyClock::now() >= deadline_)) break;
    }
    records.clear();
    auto now = SteadyClock::now();
    Status st = reader_->read(config_.batch_max_events, config_.batch_max_bytes, now + kIdlePoll, &records);
    if (!st) {
      set_health(st);
      log::error("sink cannot read the spool", {{"sink", name}, {"error", st.to_string()}});
      if (!backoff(attempt++)) {
        gave_up = true;
        break;
      }
      continue;
    }
    if (records.empty()) {
      update_lag();
      if (SteadyClock::now() - last_health_check >= kHealthCheckEvery) {
        set_health(sink_->health());
        last_health_check = SteadyClock::now();
      }
      continue;
    }
    // Linger to fill the batch, unless stopping (then flush what we have).
    auto linger_until = SteadyClock::now() + config_.batch_linger;
    while (records.size() < config_.batch_max_events && SteadyClock::now() < linger_until) {
      {
        std::lock_guard<std::mutex> g(mu_);
        if (stopping_) break;
      }
      std::size_t before = records.size();
      if (!reader_->read(config_.batch_max_events, config_.batch_max_bytes, linger_until, &records)) break;
      if (records.size() == before) break;
    }

    std::shared_ptr<const Router> router;
    {
      std::lock_guard<std::mutex> g(mu_);
      router = router_;
    }
    batch.clear();
    index_map.clear();
    for (std::size_t i = 0; i < records.size(); ++i) {
      const SpoolRecord& r = records[i];
      if (!router->routes_to(r.source_id, r.type, name)) continue;
      batch.push_back(SinkRecord{r.seq, r.source_id, r.event});
      index_map.push_back(i);
    }
    if (records.size() > batch.size()) filtered_->inc(records.size() - batch.size());

    bool delivered = batch.empty();
    attempt = 0;
    while (!delivered) {
      auto t0 = SteadyClock::now();
      DeliveryResult res = sink_->deliver(batch);
      if (res.status) {
        latency_->observe(std::chrono::duration<double>(SteadyClock::now() - t0).count());
        if (!res.rejected.empty()) {
          int dl_attempt = 0;
          Status dl;
          while (!(dl = write_dead_letters(records, index_map, res.rejected))) {
            log::error("cannot write dead-letter file; retrying",
                       {{"sink", name}, {"path", dead_letter_path_}, {"error", dl.to_string()}});
            if (!backoff(dl_attempt++)) break;
          }
          if (!dl) {
            gave_up = true;  // stopping: the batch stays in the spool
            break;
          }
          dead_lettered_->inc(res.rejected.size());
          log::warn("sink rejected events; written to dead-letter file",
                    {{"sink", name}, {"count", res.rejected.size()}, {"path", dead_letter_path_},
                     {"reason", res.rejected.front().reason}});
        }
        if (attempt > 0) log::info("sink recovered", {{"sink", name}, {"attempts", attempt + 1}});
        delivered_->inc(batch.size() - std::min(batch.size(), res.rejected.size()));
        batches_->inc();
        set_health(Status::ok());
        delivered = true;
        break;
      }
      failures_->inc();
      set_health(res.status);
      update_lag();  // the backlog grows while we retry
      // Attempts 1, 2, 4, 8, ...: a sink down for an hour logs a few lines, not thousands.
      if ((attempt & (attempt + 1)) == 0 || attempt == 0) {
        log::warn("sink delivery failed; retrying",
                  {{"sink", name}, {"attempt", attempt + 1}, {"events", batch.size()},
                   {"error", res.status.to_string()}});
      }
      if (!backoff(attempt++)) {
        gave_up = true;
        break;
      }
    }
    if (!delivered) break;
    attempt = 0;
    uint64_t last = records.back().seq;
    acked_.store(last);
    acked_pos_ = records.back().end;
    acked_pos_known_ = true;
    spool_.ack(name, last);
    if (on_ack_) on_ack_(name, last);
    update_lag();
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
  }
  update_lag();
  if (gave_up || acked_.load() < target) {
    exit_status_ = Status(StatusCode::kTimeout,
                          "sink \"" + name + "\" stopped " + std::to_string(target - std::min(target, acked_.load())) +
                              " events behind; they stay in the spool");
  }
}

}  // namespace tern::relay
