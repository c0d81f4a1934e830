// The s3 sink (tern/relay/sinks/s3.h): self-acknowledging delivery.
//
// deliver() takes records over into open objects, one per partition (source,
// UTC hour), each a deterministic gzip stream on local disk (ObjectWriter). An
// object is sealed when it nears max_object_bytes, when it is max_object_age
// old, or (partition = received) when the stream has left its hour: the
// runner, caught up, asked health() after the hour's end, or an event received
// after it came (a replay of an old hour does not seal an object per batch).
// Sealing finishes and renames its file, records its range in S3State and
// queues it for the uploader threads. The sink's pending() is the smallest
// first seq over open and not yet confirmed objects, so the runner moves the
// spool cursor only past confirmed objects; after a crash the runner replays
// from there, recorded ranges are skipped and recorded objects are uploaded
// again from their staging files under the same keys. A housekeeping thread
// seals by age and hour end while no deliver() comes, and writes each hour's
// manifest and _SUCCESS marker.
//
// Locking: mu_ guards the open objects, the upload queue and the counters
// shared with the threads. No S3 call is made under it (local file and
// SQLite writes are: sealing is rare).
#include "tern/relay/sinks/s3.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "object_writer.h"
#include "s3_client.h"
#include "s3_layout.h"
#include "s3_sink_options.h"
#include "s3_state.h"
#include "s3_upload.h"
#include "tern/base/file.h"
#include "tern/base/iso8601.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SysTime = std::chrono::system_clock::time_point;
using s3::ObjectRecord;
using s3::Partition;
using std::chrono::milliseconds;

constexpr auto kRetryBase = milliseconds(200);
constexpr auto kRetryCap = milliseconds(30'000);
constexpr auto kPauseBase = milliseconds(2'000);
constexpr auto kPauseCap = milliseconds(30'000);
// How often the threads look at a clock that is not the real one (a test's
// ManualClock), so its advances take effect at once; and at the real one.
constexpr auto kManualClockPoll = milliseconds(5);
constexpr auto kRealClockPoll = milliseconds(1'000);
// Objects forgotten from the state lag the cursor by this much real time:
// the runner persists its cursor some time after asking pending().
constexpr auto kForgetLag = std::chrono::seconds(60);

struct OpenObject {
  std::unique_ptr<s3::ObjectWriter> writer;
  std::string part_path;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string min_received_at;
  std::string max_received_at;
  SteadyClock::time_point opened_at{};
  SysTime oldest_received{};
  // For the size estimate: deflate emits a block at a time; what it holds
  // is estimated at the ratio of what it emitted.
  uint64_t last_compressed = 0;
  uint64_t in_at_output = 0;
};

struct Upload {
  ObjectRecord object;
  int attempt = 0;
  SteadyClock::time_point not_before{};
  bool in_flight = false;
};

std::string flat(const std::string& key) {
  std::string s = key;
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

class S3Sink final : public Sink {
 public:
  S3Sink(S3SinkOptions o, std::shared_ptr<s3::CredentialProvider> creds, Metrics& metrics,
         const Clock& clock)
      : opt_(std::move(o)),
        creds_(std::move(creds)),
        metrics_(metrics),
        clock_(clock),
        poll_(&clock == &real_clock() ? kRealClockPoll : kManualClockPoll),
        rng_(std::random_device{}()) {
    label_ = sink_label(opt_.name);
    objects_uploaded_ = &metrics.counter("tern_relay_s3_objects_uploaded_total", label_,
                                         "Objects the store confirmed");
    bytes_uploaded_ = &metrics.counter("tern_relay_s3_bytes_uploaded_total", label_,
                                       "Compressed bytes of the objects the store confirmed");
    objects_sealed_ = &metrics.counter("tern_relay_s3_objects_sealed_total", label_,
                                       "Objects sealed and queued for upload");
    markers_ = &metrics.counter("tern_relay_s3_markers_written_total", label_,
                                "Hours whose manifest and _SUCCESS marker were written");
    replay_skipped_ =
        &metrics.counter("tern_relay_s3_replayed_events_skipped_total", label_,
                         "Replayed events skipped because a recorded object holds them already");
    waiting_gauge_ = &metrics.gauge("tern_relay_s3_sealed_bytes_waiting", label_,
                                    "Bytes of sealed objects not yet confirmed by the store");
    oldest_age_ = &metrics.gauge("tern_relay_s3_oldest_unsealed_event_age_seconds", label_,
                                 "Age of the oldest event in an object not yet sealed");
    paused_gauge_ = &metrics.gauge("tern_relay_s3_paused", label_,
                                   "1 while uploads wait for a person or a new credential");
  }

  ~S3Sink() override { stop_threads(); }

  Status open() override {
    if (opt_.probe) return probe();
    if (state_) return Status::ok();
    staging_ = opt_.data_dir + "/staging";
    Status st = base::make_dirs(staging_);
    if (!st) return st;
    auto state = s3::S3State::open(opt_.data_dir + "/state.db");
    if (!state) return state.status();
    auto pending = (*state)->pending_uploads();
    if (!pending) return pending.status();
    // Staging files that are not a recorded object's are an object that was
    // never sealed (or sealed but not recorded): its events come again from
    // the spool. Remove them.
    std::set<std::string> keep;
    for (const ObjectRecord& o : *pending) keep.insert(o.staging_path);
    if (DIR* d = ::opendir(staging_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string path = staging_ + "/" + n;
        if (keep.count(path)) continue;
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          ::closedir(d);
          return Status::IOError("cannot remove " + path + ": " + std::strerror(errno));
        }
      }
      ::closedir(d);
    }
    state_ = std::move(*state);
    {
      std::lock_guard<std::mutex> g(mu_);
      paused_gauge_->set(0);  // the series may hold an earlier instance's values
      add_waiting(0);
      for (ObjectRecord& o : *pending) {
        add_waiting(static_cast<int64_t>(o.bytes));
        queue_.push_back(Upload{std::move(o), 0, {}, false});
      }
      if (!queue_.empty()) {
        log::info("s3 sink: uploading objects sealed before the last stop",
                  {{"sink", opt_.name}, {"objects", static_cast<uint64_t>(queue_.size())}});
      }
      cleanup_needed_ = true;
    }
    try {
      for (int i = 0; i < opt_.max_concurrent_uploads; ++i) {
        threads_.emplace_back([this, i] { uploader(i); });
      }
      threads_.emplace_back([this] { housekeeper(); });
    } catch (const std::system_error& e) {
      stop_threads();  // and start over at the next open()
      {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = false;
        add_waiting(-static_cast<int64_t>(waiting_bytes_));
        queue_.clear();
      }
      state_.reset();
      return Status::Unavailable("s3 sink \"" + opt_.name +
                                 "\": cannot start a thread: " + e.what());
    }
    return Status::ok();
  }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    DeliveryResult res;
    if (opt_.probe || !state_) {
      res.status = Status::FailedPrecondition("s3 sink \"" + opt_.name + "\" is not open");
      return res;
    }
    std::lock_guard<std::mutex> g(mu_);
    if (!broken_.is_ok()) {
      res.status = broken_;
      return res;
    }
    // Paused for the bucket (refused, missing, a credential): take nothing
    // more, so the runner reports it at once (/ready names the sink) and the
    // events wait in the spool rather than in staging files. A conflict on
    // one key pauses only that object.
    for (const auto& [key, why] : paused_) {
      if (conflicts_.count(key) == 0) {
        res.status = Status::Unavailable("s3 sink \"" + opt_.name + "\": " + why.message());
        return res;
      }
    }
    const std::size_t limit_objects = 2 * static_cast<std::size_t>(opt_.max_concurrent_uploads);
    const uint64_t limit_bytes = limit_objects * opt_.max_object_bytes;
    if (queue_.size() > limit_objects || waiting_bytes_ > limit_bytes) {
      res.status = Status::Unavailable(
          "s3 sink \"" + opt_.name + "\": uploads behind: " + std::to_string(queue_.size()) +
          " objects (" + std::to_string(waiting_bytes_) + " bytes) waiting for s3://" +
          opt_.bucket +
          (paused_.empty() ? std::string() : "; " + paused_.begin()->second.message()));
      return res;
    }
    seal_due_locked();
    for (const SinkRecord& r : batch) {
      if (r.seq <= taken_through_) continue;  // taken before (a retried batch)
      res.status = take(r);
      if (!res.status) return res;
      taken_through_ = r.seq;
    }
    return res;
  }

  bool acknowledges_itself() const override { return true; }

  std::optional<uint64_t> pending() override {
    std::lock_guard<std::mutex> g(mu_);
    return pending_locked();
  }

  Status health() override {
    if (opt_.probe) return probe();
    SysTime now = clock_.system_now();
    std::lock_guard<std::mutex> g(mu_);
    // The runner asks only when it has read everything the spool holds.
    caught_up_at_ = std::max(caught_up_at_, now);
    if (!broken_.is_ok()) return broken_;
    if (!paused_.empty()) return paused_.begin()->second;
    return Status::ok();
  }

  Status close(SteadyClock::time_point deadline) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      closing_ = true;
      // In-flight uploads may finish; queued ones stay recorded for the next start.
      cv_.wait_until(l, deadline, [&] {
        return std::none_of(queue_.begin(), queue_.end(),
                            [](const Upload& u) { return u.in_flight; });
      });
    }
    stop_threads();
    // Open objects are not sealed: their events stay in the spool, and the
    // next start replays them into objects of full size.
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [p, o] : open_) o.writer.reset();
    return Status::ok();
  }

 private:
  // A connection test: can the bucket be reached with these credentials? The
  // sink's state, staging files and uploads belong to the live instance and
  // are left alone.
  Status probe() {
    s3::S3Response r = client()->head_bucket();
    if (r.failure == s3::S3Failure::kNone) return Status::ok();
    return Status::Unavailable(r.status.message());
  }

  // ---- taking records (deliver, under mu_) --------------------------------

  Status take(const SinkRecord& r) {
    std::string_view received = s3::received_at_of(r.event);
    std::optional<SysTime> received_t;
    if (!received.empty()) received_t = base::parse_iso8601(received);
    SysTime at = received_t.value_or(clock_.system_now());
    if (opt_.partition_by_event) {
      std::string_view text = s3::top_level_string(r.event, "timestamp");
      if (auto ts = text.empty() ? std::nullopt : base::parse_iso8601(text)) at = *ts;
    }
    const Partition& p = partition_of(r.source_id, at);
    auto covered = state_->covers(p, r.seq);
    if (!covered) return covered.status();
    if (*covered) {
      replay_skipped_->inc();
      return Status::ok();
    }
    auto it = open_.find(p);
    if (it == open_.end()) {
      OpenObject o;
      o.first_seq = r.seq;
      o.part_path = staging_ + "/" +
                    flat(s3::partition_dir(opt_.prefix, p) + "/" + opt_.relay_id + "-" +
                         std::to_string(r.seq)) +
                    ".gz.part";
      auto w = s3::ObjectWriter::create(o.part_path, opt_.gzip_level);
      if (!w) return w.status();
      o.writer = std::move(*w);
      o.opened_at = clock_.steady_now();
      o.oldest_received = received_t.value_or(clock_.system_now());
      it = open_.emplace(p, std::move(o)).first;
    }
    OpenObject& o = it->second;
    Status st = o.writer->add(r.event);
    if (!st) return abandon(it, st);
    o.last_seq = r.seq;
    if (received_t) {
      if (o.min_received_at.empty() || received < o.min_received_at)
        o.min_received_at.assign(received);
      if (received > o.max_received_at) o.max_received_at.assign(received);
      if (*received_t > max_received_seen_) max_received_seen_ = *received_t;
    }
    if (estimated_size(o) + opt_.max_object_bytes / 256 >= opt_.max_object_bytes) return seal(it);
    return Status::ok();
  }

  // Consecutive events mostly share a source and an hour: the partition is
  // built (strings and all) only when either changes.
  const Partition& partition_of(std::string_view source, SysTime at) {
    if (!(cached_.valid && source == cached_.partition.source && at >= cached_.start &&
          at < cached_.start + std::chrono::hours(1))) {
      cached_.partition = s3::partition_at(std::string(source), at);
      cached_.start = s3::hour_start(cached_.partition);
      cached_.valid = true;
    }
    return cached_.partition;
  }

  uint64_t estimated_size(OpenObject& o) const {
    const uint64_t c = o.writer->compressed_bytes();
    const uint64_t in = o.writer->uncompressed_bytes();
    if (c != o.last_compressed) {
      o.last_compressed = c;
      o.in_at_output = in;
    }
    const double ratio = o.in_at_output > 0 ? static_cast<double>(c) / o.in_at_output : 0.5;
    return c + static_cast<uint64_t>(static_cast<double>(in - o.in_at_output) * ratio) + 8;
  }

  // An object whose file failed cannot be finished: its events stay in the
  // spool (pending() keeps the cursor before them) and a restart replays
  // them; until then the sink takes nothing more.
  Status abandon(std::map<Partition, OpenObject>::iterator it, const Status& why) {
    lost_floor_ = std::min(lost_floor_.value_or(UINT64_MAX), it->second.first_seq);
    it->second.writer.reset();
    (void)::unlink(it->second.part_path.c_str());
    open_.erase(it);
    broken_ = Status(why.code(), "s3 sink \"" + opt_.name + "\": " + why.message() +
                                     "; its events stay in the spool until the relay restarts");
    log::error("s3 sink: a staging file failed; the sink stops taking events until a restart",
               {{"sink", opt_.name}, {"error", why.to_string()}});
    return broken_;
  }

  Status seal(std::map<Partition, OpenObject>::iterator it) {
    const Partition& p = it->first;
    OpenObject& o = it->second;
    Status st = o.writer->finish();
    if (!st) return abandon(it, st);
    ObjectRecord rec;
    rec.partition = p;
    rec.key = s3::object_key(opt_.prefix, p, opt_.relay_id, o.first_seq, o.last_seq);
    rec.first_seq = o.first_seq;
    rec.last_seq = o.last_seq;
    rec.events = o.writer->events();
    rec.bytes = o.writer->size();
    rec.sha256_hex = o.writer->sha256_hex();
    rec.min_received_at = o.min_received_at;
    rec.max_received_at = o.max_received_at;
    rec.staging_path = staging_ + "/" + flat(rec.key);
    o.writer.reset();
    if (::rename(o.part_path.c_str(), rec.staging_path.c_str()) != 0)
      return abandon(it, Status::IOError("rename " + o.part_path + ": " + std::strerror(errno)));
    st = base::sync_dir(staging_);
    if (st) st = state_->record_sealed(rec);
    if (!st) {
      o.part_path = rec.staging_path;  // removed by abandon()
      return abandon(it, st);
    }
    open_.erase(it);
    objects_sealed_->inc();
    add_waiting(static_cast<int64_t>(rec.bytes));
    queue_.push_back(Upload{std::move(rec), 0, {}, false});
    cv_.notify_all();
    return Status::ok();
  }

  // Seals the objects that are old enough, or whose hour the stream has left.
  void seal_due_locked() {
    const auto now = clock_.steady_now();
    const SysTime stream_at = std::max(caught_up_at_, max_received_seen_);
    for (auto it = open_.begin(); it != open_.end();) {
      auto next = std::next(it);
      bool due = now - it->second.opened_at >= opt_.max_object_age ||
                 (!opt_.partition_by_event && stream_at >= s3::hour_end(it->first));
      if (due) (void)seal(it);  // a failure is broken_, reported by deliver() and health()
      if (!broken_.is_ok()) return;
      it = next;
    }
  }

  void add_waiting(int64_t delta) {
    waiting_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(waiting_bytes_) + delta);
    waiting_gauge_->set(static_cast<int64_t>(waiting_bytes_));
  }

  std::optional<uint64_t> pending_locked() const {
    std::optional<uint64_t> low = lost_floor_;
    auto lower = [&](uint64_t v) { low = std::min(low.value_or(UINT64_MAX), v); };
    for (const auto& [p, o] : open_) lower(o.first_seq);
    for (const Upload& u : queue_) lower(u.object.first_seq);
    return low;
  }

  // ---- uploads --------------------------------------------------------------

  std::unique_ptr<s3::S3Client> client() { return std::make_unique<s3::S3Client>(opt_.s3, creds_); }

  // Waits on cv_ until `until` (by clock_) or a notify; a manual clock is
  // looked at every few milliseconds.
  void wait_locked(std::unique_lock<std::mutex>& l, SteadyClock::time_point until) {
    auto now = clock_.steady_now();
    auto wait = std::min<SteadyClock::duration>(poll_, until > now ? until - now : poll_);
    cv_.wait_for(l, std::max<SteadyClock::duration>(wait, milliseconds(1)));
  }

  void uploader(int index) {
    log::set_thread_name("tern-s3-up-" + std::to_string(index));
    auto c = client();
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (cleanup_needed_ && !cleanup_running_ && !closing_ &&
          clock_.steady_now() >= cleanup_not_before_) {
        cleanup_running_ = true;
        l.unlock();
        s3::UploadOutcome out = s3::abort_leftover_uploads(*c, opt_.prefix, opt_.relay_id);
        l.lock();
        cleanup_running_ = false;
        settle_cleanup(out);
        continue;
      }
      Upload* job = nullptr;
      auto now = clock_.steady_now();
      auto next = now + poll_;
      if (!cleanup_needed_ && !closing_) {
        for (Upload& u : queue_) {
          if (u.in_flight) continue;
          if (u.not_before <= now) {
            job = &u;
            break;
          }
          next = std::min(next, u.not_before);
        }
      }
      if (!job) {
        wait_locked(l, next);
        continue;
      }
      job->in_flight = true;
      ObjectRecord object = job->object;
      l.unlock();
      s3::UploadOutcome out = s3::upload_object(*c, *state_, object, opt_.upload);
      Status marked;
      if (out.result == s3::UploadResult::kConfirmed) marked = state_->mark_uploaded(object.key);
      l.lock();
      settle_upload(object, out, marked);
      cv_.notify_all();
    }
  }

  // The start's cleanup (no multipart upload of this relay's keys is left
  // open across a restart) gates every upload; it is retried like one.
  void settle_cleanup(const s3::UploadOutcome& out) {
    static const std::string kKey = "(multipart cleanup)";
    if (out.result == s3::UploadResult::kConfirmed) {
      cleanup_needed_ = false;
      unpause(kKey);
      cv_.notify_all();
      return;
    }
    cleanup_not_before_ = clock_.steady_now() + next_delay(out, cleanup_attempt_++);
    note_failure(kKey, out);
  }

  void settle_upload(const ObjectRecord& object, const s3::UploadOutcome& out,
                     const Status& marked) {
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [&](const Upload& u) { return u.object.key == object.key; });
    if (it == queue_.end()) return;
    it->in_flight = false;
    if (out.result == s3::UploadResult::kConfirmed && marked) {
      objects_uploaded_->inc();
      ++confirmed_;
      bytes_uploaded_->inc(object.bytes);
      add_waiting(-static_cast<int64_t>(object.bytes));
      if (::unlink(object.staging_path.c_str()) != 0 && errno != ENOENT) {
        log::warn(
            "s3 sink: cannot remove an uploaded object's staging file",
            {{"sink", opt_.name}, {"path", object.staging_path}, {"error", std::strerror(errno)}});
      }
      queue_.erase(it);
      unpause(object.key);
      // A problem of the bucket (not of one key) is over once any object goes
      // through: the objects it held go now, not at their next slow retry.
      for (Upload& u : queue_) {
        if (!u.in_flight && paused_.count(u.object.key) && !conflicts_.count(u.object.key))
          u.not_before = {};
      }
      for (auto p = paused_.begin(); p != paused_.end();) {
        p = conflicts_.count(p->first) == 0 ? paused_.erase(p) : std::next(p);
      }
      paused_gauge_->set(paused_.empty() ? 0 : 1);
      return;
    }
    if (out.result == s3::UploadResult::kConfirmed) {
      it->not_before = clock_.steady_now() + kRetryBase;  // the state failed: try again
      log::error("s3 sink: cannot record an uploaded object",
                 {{"sink", opt_.name}, {"key", object.key}, {"error", marked.to_string()}});
      return;
    }
    it->not_before = clock_.steady_now() + next_delay(out, it->attempt++);
    if (out.result == s3::UploadResult::kPause && out.response.failure == s3::S3Failure::kNone)
      conflicts_.insert(object.key);  // our HEAD succeeded: a different object has the key
    note_failure(object.key, out);
  }

  // Full jitter for retries; a slow, capped doubling while paused.
  SteadyClock::duration next_delay(const s3::UploadOutcome& out, int attempt) {
    const int shift = std::min(attempt, 16);
    if (out.result == s3::UploadResult::kPause)
      return std::min<milliseconds>(kPauseBase * (1 << std::min(shift, 4)), kPauseCap);
    const auto cap = std::min<milliseconds>(kRetryBase * (1 << shift), kRetryCap);
    std::uniform_int_distribution<int64_t> pick(0, cap.count());
    return milliseconds(pick(rng_));
  }

  void note_failure(const std::string& key, const s3::UploadOutcome& out) {
    const auto& r = out.response;
    if (r.code == "ExpiredToken" || r.code == "InvalidToken" || r.code == "TokenRefreshRequired")
      creds_->invalidate();
    if (out.result == s3::UploadResult::kRetry) {
      metrics_
          .counter("tern_relay_s3_retries_total", label_ + ",cause=\"" + s3::retry_cause(r) + "\"",
                   "Uploads retried, by cause")
          .inc();
      log::warn("s3 sink: upload failed; retrying", {{"sink", opt_.name}, {"error", out.message}});
      return;
    }
    const bool first = paused_.find(key) == paused_.end();
    paused_[key] = Status::Unavailable("uploads paused: " + out.message);
    paused_gauge_->set(1);
    if (first) {
      log::error("s3 sink: uploads paused until the problem is fixed; nothing is dropped",
                 {{"sink", opt_.name}, {"error", out.message}});
    }
  }

  void unpause(const std::string& key) {
    if (paused_.erase(key) > 0) {
      conflicts_.erase(key);
      log::info("s3 sink: uploads resumed", {{"sink", opt_.name}, {"key", key}});
    }
    paused_gauge_->set(paused_.empty() ? 0 : 1);
  }

  // ---- housekeeping: age and hour-end seals, markers, forgetting --------------

  void housekeeper() {
    log::set_thread_name("tern-s3-house");
    auto c = client();
    SteadyClock::time_point markers_not_before{};
    int marker_attempt = 0;
    SysTime last_marker_look{};
    uint64_t confirmed_at_look = 0;
    std::deque<std::pair<SteadyClock::time_point, uint64_t>> floors;  // real time, safe seq
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (!closing_ && broken_.is_ok()) seal_due_locked();
      update_oldest_age_locked();
      // The cursor is at or past this once the runner has asked pending().
      auto floor = pending_locked();
      floors.emplace_back(SteadyClock::now(), floor ? *floor - 1 : taken_through_);
      const SysTime now_sys = clock_.system_now();
      // Markers are looked at when time moved or an upload was confirmed.
      const bool look = (now_sys != last_marker_look || confirmed_ != confirmed_at_look) &&
                        clock_.steady_now() >= markers_not_before;
      confirmed_at_look = confirmed_;
      l.unlock();
      if (look) {
        last_marker_look = now_sys;
        s3::UploadOutcome out = write_due_markers(*c, now_sys);
        l.lock();
        if (out.result == s3::UploadResult::kConfirmed) {
          marker_attempt = 0;
          unpause("(markers)");
        } else {
          markers_not_before = clock_.steady_now() + next_delay(out, marker_attempt++);
          note_failure("(markers)", out);
        }
        l.unlock();
      }
      uint64_t forget_at = 0;
      while (floors.size() > 1 && SteadyClock::now() - floors[1].first >= kForgetLag)
        floors.pop_front();
      if (!floors.empty() && SteadyClock::now() - floors.front().first >= kForgetLag)
        forget_at = floors.front().second;
      if (forget_at > 0 && forget_at != forgot_through_) {
        Status st = state_->forget_through(forget_at);
        if (st) forgot_through_ = forget_at;
      }
      l.lock();
      if (stop_) break;
      cv_.wait_for(l, poll_);
    }
  }

  void update_oldest_age_locked() {
    SysTime oldest = SysTime::max();
    for (const auto& [p, o] : open_) oldest = std::min(oldest, o.oldest_received);
    if (oldest == SysTime::max()) {
      oldest_age_->set(0);
      return;
    }
    oldest_age_->set(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(clock_.system_now() - oldest).count()));
  }

  // Writes the markers of every hour that is over; kConfirmed when nothing failed.
  s3::UploadOutcome write_due_markers(s3::S3Client& c, SysTime now) {
    s3::UploadOutcome ok;
    ok.result = s3::UploadResult::kConfirmed;
    auto parts = state_->partitions_without_marker();
    if (!parts) return ok;  // read again at the next look
    for (const Partition& p : *parts) {
      const SysTime end = s3::hour_end(p);
      if (now < end + opt_.marker_grace) break;  // oldest first: the rest are later
      {
        std::lock_guard<std::mutex> g(mu_);
        // Everything received before the hour's end has been taken.
        if (caught_up_at_ < end && max_received_seen_ < end + opt_.marker_grace) continue;
        if (open_.count(p)) continue;
        bool waiting = std::any_of(queue_.begin(), queue_.end(),
                                   [&](const Upload& u) { return u.object.partition == p; });
        if (waiting) continue;
      }
      auto objects = state_->objects_of(p);
      if (!objects || objects->empty()) continue;
      if (std::any_of(objects->begin(), objects->end(),
                      [](const ObjectRecord& o) { return !o.uploaded; }))
        continue;
      s3::UploadOutcome out = write_marker(c, p, *objects);
      if (out.result != s3::UploadResult::kConfirmed) return out;
    }
    return ok;
  }

  s3::UploadOutcome write_marker(s3::S3Client& c, const Partition& p,
                                 const std::vector<ObjectRecord>& objects) {
    uint64_t events = 0;
    for (const ObjectRecord& o : objects) events += o.events;
    const std::string m = s3::manifest_json(opt_.relay_id, p, objects);
    s3::PutOptions put;
    put.content_type = "application/json";
    put.storage_class = opt_.upload.put.storage_class;
    put.server_side_encryption = opt_.upload.put.server_side_encryption;
    put.sse_kms_key_id = opt_.upload.put.sse_kms_key_id;
    s3::UploadOutcome out;
    // The manifest first, then the marker a job waits on: a marker always has
    // its manifest. Rewritten after a crash between them, with the same text.
    for (const auto& [key, body] :
         {std::pair<std::string, std::string_view>{s3::manifest_key(p, opt_.relay_id), m},
          std::pair<std::string, std::string_view>{s3::success_key(opt_.prefix, p, opt_.relay_id),
                                                   ""}}) {
      s3::PutOptions o = put;
      if (body.empty()) o.content_type = "application/octet-stream";
      out.response = c.put_object(key, body, o);
      if (out.response.failure != s3::S3Failure::kNone) {
        out.result = out.response.failure == s3::S3Failure::kRetry ? s3::UploadResult::kRetry
                                                                   : s3::UploadResult::kPause;
        out.message = out.response.status.message();
        return out;
      }
    }
    Status st = state_->mark_marker_written(p);
    if (!st) {
      out.result = s3::UploadResult::kRetry;
      out.message = st.message();
      return out;
    }
    markers_->inc();
    log::info("s3 sink: hour complete; manifest and _SUCCESS marker written",
              {{"sink", opt_.name},
               {"partition", s3::partition_dir(opt_.prefix, p)},
               {"objects", static_cast<uint64_t>(objects.size())},
               {"events", events}});
    out.result = s3::UploadResult::kConfirmed;
    return out;
  }

  void stop_threads() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

  const S3SinkOptions opt_;
  std::shared_ptr<s3::CredentialProvider> creds_;
  Metrics& metrics_;
  const Clock& clock_;
  const SteadyClock::duration poll_;
  std::string label_;
  std::string staging_;
  std::unique_ptr<s3::S3State> state_;  // set by open(); thread-safe

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Partition, OpenObject> open_;
  struct {
    bool valid = false;
    Partition partition;
    SysTime start{};
  } cached_;                  // deliver() only
  std::deque<Upload> queue_;  // sealed, not confirmed (in flight or waiting)
  uint64_t taken_through_ = 0;
  std::optional<uint64_t> lost_floor_;    // the first seq of an abandoned object
  Status broken_;                         // a staging file failed: nothing more taken
  std::map<std::string, Status> paused_;  // by key ("(markers)", "(multipart cleanup)")
  std::set<std::string> conflicts_;       // keys held by a different object
  SysTime caught_up_at_{};                // the clock at the last health()
  SysTime max_received_seen_{};
  bool cleanup_needed_ = false;
  bool cleanup_running_ = false;
  int cleanup_attempt_ = 0;
  SteadyClock::time_point cleanup_not_before_{};
  bool closing_ = false;
  bool stop_ = false;
  uint64_t waiting_bytes_ = 0;   // sealed, not confirmed (this instance's; the gauge shows it)
  uint64_t confirmed_ = 0;       // objects confirmed by this instance
  uint64_t forgot_through_ = 0;  // housekeeper only
  std::mt19937_64 rng_;
  std::vector<std::thread> threads_;

  Counter* objects_uploaded_;
  Counter* bytes_uploaded_;
  Counter* objects_sealed_;
  Counter* markers_;
  Counter* replay_skipped_;
  Gauge* waiting_gauge_;
  Gauge* oldest_age_;
  Gauge* paused_gauge_;
};

}  // namespace

std::unique_ptr<Sink> new_s3_sink(S3SinkOptions options,
                                  std::shared_ptr<s3::CredentialProvider> credentials,
                                  Metrics& metrics, const Clock& clock) {
  return std::make_unique<S3Sink>(std::move(options), std::move(credentials), metrics, clock);
}

}  // namespace tern::relay
