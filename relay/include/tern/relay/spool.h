// Spool: the relay's durable, append-only log of accepted events, between
// ingest and the sinks.
//
// Storage (chosen by bench/spool_bench: 1.2–1.9× SQLite WAL's durable
// events/s at the same group size, cheaper trim, sequential reads): segment
// files <dir>/seg-<first seq>.log, a header with the format's version, then
// records
//   crc32c u32 | len u32 | seq u64 | source_len u16 | type_len u16 | source | type | event
// (little-endian; the CRC covers everything after itself). Segments written
// before segments had a header (version 0) are still read; new records always
// go to a versioned segment. The active segment is extended with written
// zeros 1 MiB ahead of the data so that most fdatasyncs flush data only, not
// the file size through the journal.
//
// Durability: appends are group-committed by one committer thread: what
// arrives while an fdatasync runs, and, under concurrency (the previous group
// held several appends), within `commit_window` of the first pending append,
// shares one pwritev + fdatasync; a lone append is committed at once. Each
// append's callback fires after its fdatasync.
// At open, the last segment is scanned and a torn tail (short record, CRC or
// sequence mismatch) is truncated, never replayed. A segment of a version
// newer than this relay's is refused (open() fails).
//
// Cursors: each consumer (sink) has a named cursor, the last sequence number
// it has delivered. Cursors are persisted to <dir>/cursors (write, fdatasync,
// rename) at most every `cursor_flush_interval` and at close; whole segments
// every cursor has passed are deleted. With no cursor registered nothing is
// trimmed. That maintenance runs on a thread of its own, or, without it
// (SpoolOptions::maintenance_thread), when the owner calls
// run_maintenance_once().
//
// Time: the commit window, maintenance passes, segment rolls and read()
// deadlines are measured on SpoolOptions::clock.
//
// Cap: an append that would take the spool past `max_bytes` is refused with
// kUnavailable (nothing written); full() stays true until a trim frees space
// or an append fits again.
//
// Threads: every method is thread-safe. A SpoolReader is used by one thread
// at a time (its sink runner); interrupt() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tern/base/status.h"
#include "tern/relay/clock.h"
#include "tern/relay/metrics.h"

namespace tern::relay {

struct SpoolOptions {
  std::string dir;
  std::size_t max_bytes = 1024ull * 1024 * 1024;
  std::chrono::milliseconds commit_window{0};
  // A segment rolls over once it holds this many bytes; trim frees whole
  // segments. 0: max_bytes / 16, clamped to [64 KiB, 64 MiB].
  std::size_t segment_bytes = 0;
  std::chrono::milliseconds cursor_flush_interval{100};
  // The most recent commits are also kept in memory, as written, until every
  // cursor has passed them (at most this many bytes of memory, buffers'
  // spare capacity included): sinks that keep up read them from there,
  // without a read(2) and a second CRC check. 0: off.
  std::size_t memory_tail_bytes = 16u << 20;
  // Where the spool reads time. Not owned; must outlive the spool. Null:
  // real_clock(). A clock cannot wake the spool's threads: one waiting for a
  // time sees a test clock's advance when it is woken (run_maintenance_once()
  // wakes the committer for a segment roll that has become due) or once the
  // time that was left has passed for real; with a clock that stands still,
  // use commit_window 0 and no maintenance thread.
  const Clock* clock = nullptr;
  // Whether open() starts the maintenance thread, which runs
  // run_maintenance_once() every cursor_flush_interval. Without it the owner
  // calls run_maintenance_once() (cursors are then persisted only by it,
  // register_cursor(), drop_cursor() and close()).
  bool maintenance_thread = true;
};

// Events of one source to append, encoded as spool records as they are
// added: one buffer per request rather than a string per event, and the
// committer writes the buffer as it is, filling in each record's sequence
// number and CRC. Not thread-safe; moved into Spool::append().
class SpoolBatch {
 public:
  explicit SpoolBatch(std::string source_id = {});

  const std::string& source_id() const { return source_id_; }
  // Appends one event of type `type` ("track", ...: what routes it).
  void add(std::string_view type, std::string_view event);
  // The same, for an event written in place: append its text to the string
  // begin_event() returns, then call end_event(). No other call in between.
  std::string& begin_event(std::string_view type);
  void end_event();
  void reserve(std::size_t events, std::size_t text_bytes);

  std::size_t size() const { return starts_.size(); }
  bool empty() const { return starts_.empty(); }
  // Event i's type and text, as added (an event being written in place
  // has no text until end_event()).
  std::string_view type(std::size_t i) const;
  std::string_view event(std::size_t i) const;
  // The encoded size, headers included.
  std::size_t bytes() const { return buf_.size(); }

 private:
  friend class Spool;
  std::string source_id_;
  std::string buf_;
  std::vector<std::size_t> starts_;  // where each record begins in buf_
  // Why Spool::append() must refuse the batch (a source id or type over
  // 65535 bytes, an event over the record limit); null when fine.
  const char* invalid_ = nullptr;
};

// A place between two records: the segment's first sequence number and a
// byte offset in it.
struct SpoolPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
};

struct SpoolRecord {
  uint64_t seq = 0;
  std::string_view source_id;
  std::string_view type;
  std::string_view event;
  SpoolPosition end;  // just after this record
  // The bytes the views point into (a chunk read from a segment, or a recent
  // commit still in memory), kept alive as long as the record is.
  std::shared_ptr<const std::string> storage;
};

class Spool;

// Reads committed (fdatasync'ed) records in sequence order. Must not
// outlive the Spool that made it.
class SpoolReader {
 public:
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;

  // Appends to `out` the next committed records until `out` holds
  // `max_events` records or `max_bytes` of event text (a single record larger
  // than max_bytes is returned alone when `out` is empty). Waits until
  // `deadline` when no new record is committed yet. Returning with nothing
  // added (ok status) means: nothing arrived in time, the reader was
  // interrupted, the spool closed, or the next record does not fit. A record
  // whose CRC fails in a committed segment is skipped with the rest of its
  // segment, logged and counted (tern_relay_spool_corrupt_records_total).
  // `deadline` is a time on the spool's clock (SpoolOptions::clock).
  Status read(std::size_t max_events, std::size_t max_bytes,
              std::chrono::steady_clock::time_point deadline, std::vector<SpoolRecord>* out);
  // Wakes a read() that is waiting, now and until clear_interrupt().
  void interrupt();
  void clear_interrupt();
  // The next sequence number this reader will return (or a later one).
  uint64_t next_seq() const { return next_seq_; }

 private:
  friend class Spool;
  struct Batch;  // one read()'s limits and what it has added so far
  SpoolReader(Spool* spool, uint64_t after_seq);
  // Opens segment `key` for reading at `offset` (at its first record if
  // `offset` is before it).
  bool open_segment(uint64_t key, uint64_t offset = 0);
  // Adds `rec` (at `offset` of segment seg_key_, `len` bytes) to `b` unless
  // `b` is full; false when full.
  bool take(Batch& b, SpoolRecord& rec, uint64_t offset, std::size_t len);
  // The two ways read() gets records: from a recent commit kept in memory
  // (`bytes`, written at `offset` of segment `segment`), or from the current
  // segment's file, whose committed data ends at `limit`, followed by
  // `next_segment` (0: none yet). *done: read() has what it can return.
  Status read_from_memory(uint64_t segment, uint64_t offset,
                          const std::shared_ptr<const std::string>& bytes, Batch& b, bool* done);
  Status read_from_disk(uint64_t limit, uint64_t next_segment, Batch& b, bool* done);

  Spool* spool_;
  uint64_t next_seq_;
  uint64_t seg_key_ = 0;
  uint32_t seg_version_ = 0;  // the format version of segment seg_key_
  uint64_t off_ = 0;
  int fd_ = -1;
  bool positioned_ = false;   // off_ is a known place in seg_key_ (fd_ may be closed)
  bool interrupted_ = false;  // guarded by the spool's mutex
  // The last chunk read from a segment; reused when no record holds it.
  std::shared_ptr<std::string> buf_;
};

class Spool {
 public:
  using AppendCallback = std::function<void(Status status, uint64_t first_seq, uint64_t last_seq)>;

  // Creates the directory if needed, takes its lock (kFailedPrecondition if another
  // process holds it), recovers the last segment and starts the committer.
  static Result<std::unique_ptr<Spool>> open(SpoolOptions options, Metrics& metrics);
  ~Spool();  // close()

  // Queues `events` for the next group commit. On a non-ok return nothing was
  // queued and `done` is not called: kUnavailable (cap), kCancelled (closed),
  // kIOError (an earlier fdatasync failed; the spool refuses until restart),
  // kInvalidArgument (empty batch, source or type longer than 65535 bytes,
  // an event over 64 MiB).
  // Otherwise `done` is called exactly once from the committer thread, after
  // the fdatasync (ok, with the sequence numbers given) or after a failed
  // write (kIOError; nothing of this batch is readable).
  Status append(SpoolBatch events, AppendCallback done);

  uint64_t last_seq() const;  // last committed sequence number (0: none yet)
  std::size_t bytes() const;  // committed + queued bytes
  std::size_t max_bytes() const;
  void set_max_bytes(std::size_t max_bytes);
  bool full() const;
  // Not ok after an fdatasync failure (the spool then refuses appends).
  Status health() const;
  // Committed bytes after `pos` (for a consumer's lag in bytes).
  uint64_t bytes_after(SpoolPosition pos) const;

  // The cursor `name`, creating it if absent: at last_seq() when
  // `new_at_end`, else at 0 (everything still in the spool). A new cursor is
  // persisted before this returns.
  Result<uint64_t> register_cursor(const std::string& name, bool new_at_end);
  Status drop_cursor(const std::string& name);
  // Runs `fn(last_seq())` while no commit can be published (readers see no
  // record past that number until it returns), after creating each of
  // `new_cursors` that does not exist yet at that number (persisted before
  // this returns). Returns that number. For swapping routes at an exact
  // point of the spool; `fn` must be quick and must not call the spool.
  Result<uint64_t> at_commit_point(const std::vector<std::string>& new_cursors,
                                   const std::function<void(uint64_t last_seq)>& fn);
  // Moves `name` forward to `seq` (never backward). Persisted lazily.
  void ack(const std::string& name, uint64_t seq);
  std::optional<uint64_t> cursor(const std::string& name) const;
  std::map<std::string, uint64_t> cursors() const;

  // A reader returning records with seq > after_seq.
  std::unique_ptr<SpoolReader> reader(uint64_t after_seq);

  // Commits what is queued, persists cursors, stops the committer, wakes
  // readers. Later appends get kCancelled. Idempotent.
  Status close();

  // One maintenance pass, as the maintenance thread runs every
  // cursor_flush_interval: persists the cursors if they moved, deletes the
  // segments every cursor has passed (freeing room under the cap), asks the
  // committer to seal the active segment once every cursor has consumed it
  // (done when no commit came for cursor_flush_interval), and after a burst
  // hands freed memory back to the system. Returns the cursor write's status.
  // Any thread; also when the maintenance thread runs.
  Status run_maintenance_once();

 private:
  friend class SpoolReader;
  struct Pending {
    SpoolBatch events;
    AppendCallback done;
  };
  struct Segment {
    std::string path;
    uint64_t size = 0;  // the file's committed bytes, its header included
    uint32_t version = 0;
    uint64_t data_start = 0;  // where its first record begins
  };
  // One append's records kept in memory as committed: first_seq..last_seq,
  // written at `offset` of segment `segment`.
  struct TailChunk {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    uint64_t segment = 0;
    uint64_t offset = 0;
    std::shared_ptr<const std::string> bytes;
  };

  Spool(SpoolOptions options, Metrics& metrics);
  Status recover();
  // Scans the last segment, truncating a torn tail, sets last_seq_ from it
  // and makes it the active one, or, if it is not of the current version or
  // is misnamed and empty, a new segment after it.
  Status recover_last_segment(uint64_t max_cursor);
  // Creates the segment whose first record will be `key`, header written,
  // and makes it the active one (open() or the committer thread).
  Status create_active_segment(uint64_t key);
  void run_committer();
  void run_maintenance();
  void commit(std::vector<Pending> batch);
  Status roll_segment();
  Status persist_cursors();
  void trim();
  // Drops the tail chunks every cursor has passed. Needs mu_.
  void trim_tail_locked();

  SpoolOptions opt_;
  const Clock* clock_;
  Metrics& metrics_;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable commit_cv_;       // committer: work arrived / stop
  std::condition_variable maintenance_cv_;  // maintenance thread: stop
  bool maintenance_stop_ = false;
  uint64_t seq_at_last_pass_ = 0;    // last_seq_ at the previous maintenance pass
  uint64_t trimmed_at_seq_ = 0;      // last_seq_ when free memory was last released
  std::condition_variable data_cv_;  // readers: new committed data / close
  std::vector<Pending> pending_;
  std::size_t pending_bytes_ = 0;
  std::chrono::steady_clock::time_point first_pending_{};
  std::chrono::steady_clock::time_point roll_requested_at_{};
  std::chrono::steady_clock::time_point last_commit_at_{};  // or roll; committer only
  std::map<uint64_t, Segment> segments_;                    // by first seq
  std::size_t committed_bytes_ = 0;
  uint64_t last_seq_ = 0;
  std::size_t max_bytes_;
  bool refused_ = false;  // refused an append since the last trim
  bool roll_requested_ = false;
  bool closing_ = false;
  bool closed_ = false;
  Status broken_;
  std::map<std::string, uint64_t> cursors_;
  bool cursors_dirty_ = false;
  std::deque<TailChunk> tail_;  // in seq order
  std::size_t tail_bytes_ = 0;

  // Committer-thread state.
  int active_fd_ = -1;
  uint64_t active_key_ = 0;
  uint64_t active_off_ = 0;
  // The active segment's path, the committer's own copy: segments_ is also
  // changed by the maintenance thread (trim), so the committer reads it
  // only under mu_.
  std::string active_path_;
  uint64_t zeroed_end_ = 0;
  std::size_t segment_bytes_ = 0;
  std::size_t last_group_appends_ = 0;

  std::mutex cursor_file_mu_;  // one writer of <dir>/cursors at a time
  std::thread committer_;
  std::thread maintenance_;  // persists cursors and trims segments

  Counter* appended_;
  Counter* commits_;
  Counter* refused_full_;
  Counter* torn_bytes_;
  Counter* corrupt_records_;
  Counter* write_errors_;
  Counter* read_memory_;
  Counter* read_disk_;
  Gauge* tail_gauge_;
  Gauge* bytes_gauge_;
  Gauge* segments_gauge_;
  Histogram* commit_seconds_;
};

}  // namespace tern::relay
