// SinkRunner: drives one sink instance on a thread of its own: reads the
// spool from the sink's cursor, keeps the records the router sends to this
// sink, batches them (batch_max_events / batch_max_bytes / batch_linger),
// delivers with retry (exponential backoff with jitter, backoff_base up to
// backoff_max), writes permanent refusals to the dead-letter file and moves
// the cursor. A failing sink only stalls its own runner; its events stay in
// the spool until it recovers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "tern/relay/clock.h"
#include "tern/relay/config.h"
#include "tern/relay/metrics.h"
#include "tern/relay/router.h"
#include "tern/relay/sink.h"
#include "tern/relay/spool.h"

namespace tern::relay {

class SinkRunner {
 public:
  // Called from the runner thread after the cursor moved to `seq`.
  using AckListener = std::function<void(const std::string& sink, uint64_t seq)>;

  // `clock` times batch_linger, the retry backoff and the sink's health
  // checks; deadlines given to stop()/begin_stop() are real steady_clock time.
  // A clock other than real_clock() may jump (a test's ManualClock moves only
  // when advanced): waits on it re-read it every kJumpyClockRecheck of real time.
  SinkRunner(SinkConfig config, std::unique_ptr<Sink> sink, Spool& spool, uint64_t cursor,
             std::string dead_letter_path, std::shared_ptr<const Router> router, Metrics& metrics,
             const Clock& clock, AckListener on_ack);

  static constexpr std::chrono::milliseconds kJumpyClockRecheck{2};
  ~SinkRunner();  // stop() with a short deadline if still running

  void start();
  // Keeps delivering until the cursor reaches the spool's last sequence
  // number as of this call, or `deadline`; then closes the sink. What is not
  // delivered stays in the spool. kTimeout if it did not catch up.
  Status stop(std::chrono::steady_clock::time_point deadline);
  // Asks the thread to stop at the deadline without waiting (stop() then joins).
  void begin_stop(std::chrono::steady_clock::time_point deadline);

  void set_router(std::shared_ptr<const Router> router);
  // False while open() or the last delivery failed; `why` gets the error.
  bool healthy(std::string* why) const;
  uint64_t acked() const { return acked_.load(); }
  const std::string& name() const { return config_.name; }
  const SinkConfig& config() const { return config_; }
  const std::string& dead_letter_path() const { return dead_letter_path_; }

 private:
  // Read and delivered since the cursor last moved: the spool records, the
  // ones routed to this sink (`batch`) and where each came from.
  struct Group {
    std::vector<SpoolRecord> records;
    std::vector<SinkRecord> batch;
    std::vector<std::size_t> index_map;  // batch index -> records index
    std::size_t batches = 0;             // deliver() calls it took
    std::size_t rejected = 0;            // sent to the dead-letter file
    void clear() {
      records.clear();
      batch.clear();
      index_map.clear();
      batches = 0;
      rejected = 0;
    }
  };

  void run();
  // Delivers `fresh` (group.batch from `first` on) and, with `flush`, settles
  // the group (Sink::flush for a two-phase sink), retrying with backoff; after
  // a failure the whole group is delivered again. False if stopping first.
  bool deliver(Group& group, std::size_t first, const std::vector<SinkRecord>& fresh, bool flush);
  // Counts the group as delivered and moves the cursor past it.
  void acknowledge(Group& group);
  // A self-acknowledging sink took the group: counts it and forgets it.
  void hand_over(Group& group);
  // Moves the cursor as far as a self-acknowledging sink allows: to just
  // before what it still holds, else past every record read.
  void advance_to_sink_pending();
  // Moves the cursor to `seq` (> acked_), at spool position `pos`.
  void move_cursor(uint64_t seq, SpoolPosition pos, bool pos_known);
  // Writes refusals (indexes into group.batch from `offset`) to the
  // dead-letter file, retrying; false if stopping first.
  bool dead_letter(Group& group, std::size_t offset, const std::vector<SinkRejection>& rejected);
  bool stopping() const;
  // Sleeps the backoff for `attempt`; false if stopping past the deadline.
  bool backoff(int attempt);
  // Real time to wait for clock_ to reach `until` before looking again.
  std::chrono::steady_clock::duration real_wait(std::chrono::steady_clock::time_point until) const;
  void set_health(const Status& st);
  Status write_dead_letters(const Group& group, std::size_t offset,
                            const std::vector<SinkRejection>& rejected);
  void update_lag();

  SinkConfig config_;
  std::unique_ptr<Sink> sink_;
  bool two_phase_ = false;  // sink_->defers_durability()
  bool self_ack_ = false;   // sink_->acknowledges_itself()
  // Self-acknowledging sinks: the last record read, and where each handed
  // over group ended (to know the spool position of a cursor move).
  uint64_t read_through_ = 0;
  std::deque<std::pair<uint64_t, SpoolPosition>> handed_over_;
  Spool& spool_;
  std::unique_ptr<SpoolReader> reader_;
  std::string dead_letter_path_;
  int dead_letter_fd_ = -1;
  const Clock& clock_;
  AckListener on_ack_;
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Router> router_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  uint64_t drain_target_ = 0;
  Status health_;

  std::atomic<uint64_t> acked_;
  SpoolPosition acked_pos_{};
  bool acked_pos_known_ = false;
  std::thread thread_;
  bool started_ = false;
  bool joined_ = false;
  Status exit_status_;

  Counter* delivered_;
  Counter* batches_;
  Counter* failures_;
  Counter* dead_lettered_;
  Counter* filtered_;
  Histogram* latency_;
  Gauge* lag_events_;
  Gauge* lag_bytes_;
  Gauge* up_;
};

}  // namespace tern::relay
