// Spool: opening and recovery, group commits, segment rolls, cursors, trim
// and the maintenance pass. The records' format is spool_format.*, the reader
// spool_reader.cc.
#include <dirent.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "spool_format.h"
#include "spool_util.h"
#include "tern/base/file.h"
#include "tern/relay/log.h"
#include "tern/relay/spool.h"

namespace tern::relay {

using spool_format::kSegmentHeaderBytes;
using spool_util::errno_text;

namespace {

constexpr uint64_t kZeroChunk = 1u << 20;
constexpr std::size_t kMaxGroupBytes = 8u << 20;  // commit early past this much queued

void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace

Spool::Spool(SpoolOptions options, Metrics& metrics)
    : opt_(std::move(options)),
      clock_(opt_.clock ? opt_.clock : &real_clock()),
      metrics_(metrics),
      max_bytes_(opt_.max_bytes) {
  appended_ = &metrics.counter("tern_relay_spool_appended_events_total", {},
                               "Events committed (fdatasync'ed) to the spool");
  commits_ =
      &metrics.counter("tern_relay_spool_commits_total", {}, "Group commits (one fdatasync each)");
  refused_full_ = &metrics.counter("tern_relay_spool_refused_events_total", "reason=\"full\"",
                                   "Events refused by the spool (answered 503), by reason");
  torn_bytes_ = &metrics.counter("tern_relay_spool_torn_bytes_total", {},
                                 "Bytes of torn tail records truncated at open");
  corrupt_records_ =
      &metrics.counter("tern_relay_spool_corrupt_records_total", {},
                       "Committed records that failed their CRC when read (skipped)");
  write_errors_ = &metrics.counter("tern_relay_spool_write_errors_total", {},
                                   "Failed spool writes or fdatasyncs");
  read_memory_ = &metrics.counter(
      "tern_relay_spool_read_records_total", "from=\"memory\"",
      "Records sinks read from the spool, from recent commits kept in memory or from disk");
  read_disk_ = &metrics.counter(
      "tern_relay_spool_read_records_total", "from=\"disk\"",
      "Records sinks read from the spool, from recent commits kept in memory or from disk");
  tail_gauge_ =
      &metrics.gauge("tern_relay_spool_memory_tail_bytes", {},
                     "Bytes of recent commits kept in memory until every sink has read them");
  bytes_gauge_ = &metrics.gauge("tern_relay_spool_bytes", {}, "Bytes held in the spool");
  segments_gauge_ = &metrics.gauge("tern_relay_spool_segments", {}, "Segment files in the spool");
  commit_seconds_ = &metrics.histogram("tern_relay_spool_commit_seconds", {},
                                       "Time to write and fdatasync one group commit");
  metrics.gauge("tern_relay_spool_max_bytes", {}, "The spool's cap in bytes")
      .set(static_cast<int64_t>(max_bytes_));
}

Result<std::unique_ptr<Spool>> Spool::open(SpoolOptions options, Metrics& metrics) {
  if (options.dir.empty()) return Status(StatusCode::kInvalidArgument, "spool dir is empty");
  if (options.max_bytes == 0) return Status(StatusCode::kInvalidArgument, "spool max_bytes is 0");
  std::unique_ptr<Spool> s(new Spool(std::move(options), metrics));
  Status st = s->recover();
  if (!st) return st;
  s->committer_ = std::thread([p = s.get()] {
    log::set_thread_name("tern-spool");
    p->run_committer();
  });
  if (s->opt_.maintenance_thread) {
    s->maintenance_ = std::thread([p = s.get()] {
      log::set_thread_name("tern-spool-gc");
      p->run_maintenance();
    });
  }
  return s;
}

Spool::~Spool() {
  (void)close();
  if (active_fd_ >= 0) ::close(active_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Spool::recover() {
  Status st = base::make_dirs(opt_.dir);
  if (!st) return st;
  segment_bytes_ = opt_.segment_bytes;
  if (segment_bytes_ == 0) {
    segment_bytes_ = std::clamp<std::size_t>(opt_.max_bytes / 16, 64u << 10, 64u << 20);
  }

  std::string lock_path = opt_.dir + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return Status(StatusCode::kIOError, errno_text("open", lock_path));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(StatusCode::kFailedPrecondition,
                    "spool " + opt_.dir + " is in use by another relay process");
    }
    return Status(StatusCode::kIOError, errno_text("flock", lock_path));
  }

  // Cursors.
  uint64_t max_cursor = 0;
  {
    std::ifstream in(opt_.dir + "/cursors");
    std::string line;
    while (std::getline(in, line)) {
      auto sp = line.rfind(' ');
      if (sp == std::string::npos || sp == 0) continue;
      char* end = nullptr;
      uint64_t v = std::strtoull(line.c_str() + sp + 1, &end, 10);
      if (!end || *end != '\0') continue;
      cursors_[line.substr(0, sp)] = v;
      max_cursor = std::max(max_cursor, v);
    }
  }

  // Segments, and each one's format version from its first bytes.
  DIR* d = ::opendir(opt_.dir.c_str());
  if (!d) return Status(StatusCode::kIOError, errno_text("opendir", opt_.dir));
  while (dirent* e = ::readdir(d)) {
    uint64_t first = 0;
    if (!spool_format::parse_segment_name(e->d_name, &first)) continue;
    Segment seg;
    seg.path = opt_.dir + "/" + e->d_name;
    struct stat sb {};
    if (::stat(seg.path.c_str(), &sb) == 0) seg.size = static_cast<uint64_t>(sb.st_size);
    segments_.emplace(first, std::move(seg));
  }
  ::closedir(d);
  std::size_t unversioned = 0;
  for (auto& [key, seg] : segments_) {
    std::string head(kSegmentHeaderBytes, '\0');
    std::size_t got = 0;
    const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
    const bool read_ok = fd >= 0 && spool_util::read_full(fd, head.data(), head.size(), 0, &got);
    if (!read_ok) st = Status(StatusCode::kIOError, errno_text(fd < 0 ? "open" : "read", seg.path));
    if (fd >= 0) ::close(fd);
    if (!st) return st;
    head.resize(got);
    seg.version = spool_format::segment_version(head);
    if (seg.version > spool_format::kSegmentVersion) {
      return Status(StatusCode::kIOError, "spool segment " + seg.path + " has format version " +
                                              std::to_string(seg.version) +
                                              "; this relay reads versions up to " +
                                              std::to_string(spool_format::kSegmentVersion) +
                                              " (written by a newer relay?)");
    }
    seg.data_start = spool_format::segment_data_start(seg.version);
    if (seg.version == 0) ++unversioned;
  }
  if (unversioned > 0) {
    log::info("spool: reading segments written before segment versions as version 0",
              {{"segments", unversioned}});
  }

  if (segments_.empty()) {
    last_seq_ = max_cursor;
    st = create_active_segment(max_cursor + 1);
  } else {
    st = recover_last_segment(max_cursor);
  }
  if (!st) return st;
  committed_bytes_ = 0;
  for (const auto& [k, seg] : segments_) committed_bytes_ += seg.size;
  bytes_gauge_->set(static_cast<int64_t>(committed_bytes_));
  segments_gauge_->set(static_cast<int64_t>(segments_.size()));
  log::info("spool opened", {{"dir", opt_.dir},
                             {"segments", segments_.size()},
                             {"bytes", committed_bytes_},
                             {"last_seq", last_seq_}});
  return Status::ok();
}

Status Spool::recover_last_segment(uint64_t max_cursor) {
  // Only the last segment can have a torn tail: earlier ones were truncated
  // to their data and fdatasync'ed before the next was created.
  auto it = std::prev(segments_.end());
  const uint64_t key = it->first;
  Segment& seg = it->second;
  const int fd = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kIOError, errno_text("open", seg.path));
  auto fail = [&](const char* what) {
    Status st(StatusCode::kIOError, errno_text(what, seg.path));
    ::close(fd);
    return st;
  };
  const uint64_t file_size = seg.size;
  std::string data(static_cast<std::size_t>(file_size), '\0');
  std::size_t got = 0;
  if (!spool_util::read_full(fd, data.data(), data.size(), 0, &got)) return fail("read");
  data.resize(got);
  uint64_t off = seg.data_start;
  uint64_t expect = key;
  const spool_format::Check check = spool_format::check_for(seg.version);
  while (off < data.size()) {
    SpoolRecord rec;
    std::size_t len = 0;
    auto p = spool_format::parse_record(data.data() + off, data.size() - off, &rec, &len, check);
    if (p != spool_format::Parse::kOk || rec.seq != expect) break;
    off += len;
    ++expect;
  }
  if (off < file_size) {
    bool zeros = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(off), data.end(),
                             [](char c) { return c == '\0'; });
    if (!zeros) {
      torn_bytes_->inc(file_size - off);
      log::warn("spool: truncated a torn tail left by a crash",
                {{"segment", seg.path}, {"offset", off}, {"bytes", file_size - off}});
    }
    if (::ftruncate(fd, static_cast<off_t>(off)) != 0 || ::fdatasync(fd) != 0)
      return fail("truncate");
  }
  seg.size = off;
  last_seq_ = expect - 1;
  if (last_seq_ < max_cursor) last_seq_ = max_cursor;  // never reuse a delivered number
  const bool has_records = off > seg.data_start;
  // Appends go on in a versioned segment whose name is consistent with the
  // next sequence number.
  if (seg.version == spool_format::kSegmentVersion && (has_records || key == last_seq_ + 1)) {
    active_fd_ = fd;
    active_key_ = key;
    active_path_ = seg.path;
    active_off_ = off;
    zeroed_end_ = off;
    return Status::ok();
  }
  ::close(fd);
  if (!has_records) {
    // Nothing to keep: replaced by a fresh segment.
    const std::string old = seg.path;
    segments_.erase(it);
    ::unlink(old.c_str());
  }
  // A version-0 segment with records stays as it is, sealed (it was
  // truncated to its records above), and is read as version 0 until trimmed.
  return create_active_segment(last_seq_ + 1);
}

Status Spool::create_active_segment(uint64_t key) {
  Segment seg;
  seg.path = opt_.dir + "/" + spool_format::segment_name(key);
  seg.version = spool_format::kSegmentVersion;
  seg.data_start = kSegmentHeaderBytes;
  seg.size = kSegmentHeaderBytes;
  const int fd = ::open(seg.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(StatusCode::kIOError, errno_text("create", seg.path));
  // The header is made durable by the first commit's fdatasync; a crash
  // before that leaves a segment with no records, which recovery replaces.
  const std::string header = spool_format::segment_header();
  Status st;
  if (!spool_util::write_full(fd, header.data(), header.size(), 0)) {
    st = Status(StatusCode::kIOError, errno_text("write", seg.path));
  }
  if (st.is_ok()) st = base::sync_dir(opt_.dir);
  if (!st) {
    ::close(fd);
    return st;
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = fd;
  active_off_ = kSegmentHeaderBytes;
  zeroed_end_ = kSegmentHeaderBytes;
  active_path_ = seg.path;
  std::lock_guard<std::mutex> g(mu_);
  active_key_ = key;
  committed_bytes_ += seg.size;
  segments_.emplace(key, std::move(seg));
  bytes_gauge_->set(static_cast<int64_t>(committed_bytes_));
  segments_gauge_->set(static_cast<int64_t>(segments_.size()));
  return Status::ok();
}

Status Spool::append(SpoolBatch events, AppendCallback done) {
  if (events.empty()) return Status(StatusCode::kInvalidArgument, "empty append");
  if (events.invalid_) return Status(StatusCode::kInvalidArgument, events.invalid_);
  const std::size_t bytes = events.bytes();
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return Status(StatusCode::kCancelled, "the spool is closed");
  if (!broken_.is_ok()) return broken_;
  if (committed_bytes_ + pending_bytes_ + bytes > max_bytes_) {
    const bool first = !refused_;
    refused_ = true;
    refused_full_->inc(events.size());
    const std::size_t used = committed_bytes_ + pending_bytes_;
    const std::size_t cap = max_bytes_;
    lock.unlock();
    if (first) {
      log::warn("spool full: refusing events (503) until the sinks catch up",
                {{"bytes", used}, {"max_bytes", cap}});
    }
    return Status(StatusCode::kUnavailable,
                  "the spool is full (" + std::to_string(cap) + " bytes); sinks are behind");
  }
  refused_ = false;  // there is room again
  const bool first = pending_.empty();
  if (first) first_pending_ = clock_->steady_now();
  pending_bytes_ += bytes;
  pending_.push_back(Pending{std::move(events), std::move(done)});
  // Wake the committer for the first append of a group, or when the group is
  // full. Otherwise it is already awake (committing) or waiting out the
  // commit window, and a wake-up per append would only cost it and this
  // thread a context switch each.
  if (first || pending_bytes_ >= kMaxGroupBytes) commit_cv_.notify_one();
  return Status::ok();
}

void Spool::run_committer() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (pending_.empty() && !closing_) {
      if (!roll_requested_) {
        commit_cv_.wait(lock);
        continue;
      }
      // Idle with a roll asked for by trim (every cursor consumed the active
      // segment): done only once no commit came for cursor_flush_interval,
      // so a busy spool never stalls its commits on sealing a segment early.
      const auto due = std::max(roll_requested_at_, last_commit_at_) + opt_.cursor_flush_interval;
      if (spool_util::wait_until(commit_cv_, lock, *clock_, due,
                                 [&] { return !pending_.empty() || closing_; })) {
        continue;
      }
      roll_requested_ = false;
      if (active_off_ > kSegmentHeaderBytes) {
        lock.unlock();
        Status st = roll_segment();  // the next maintenance pass frees the sealed one
        if (!st) log::error("spool: cannot roll the segment", {{"error", st.to_string()}});
        lock.lock();
        last_commit_at_ = clock_->steady_now();
      }
      continue;
    }
    // Wait for company only under concurrency (the previous group had
    // several appends, like PostgreSQL's commit_siblings): a lone request is
    // committed at once, while under load the window grows the groups.
    if (!pending_.empty() && !closing_ && opt_.commit_window.count() > 0 &&
        last_group_appends_ > 1) {
      spool_util::wait_until(commit_cv_, lock, *clock_, first_pending_ + opt_.commit_window,
                             [&] { return closing_ || pending_bytes_ >= kMaxGroupBytes; });
    }
    std::vector<Pending> batch;
    batch.swap(pending_);
    const bool any = !batch.empty();
    if (any) last_group_appends_ = batch.size();
    bool stop = closing_;
    lock.unlock();
    if (any) commit(std::move(batch));
    lock.lock();
    if (any) last_commit_at_ = clock_->steady_now();
    // Appends are refused once closing_ is set, so one pass after it drains all.
    if (stop && pending_.empty()) break;
  }
}

void Spool::run_maintenance() {
  // Cursor files and segment deletes are slow (fdatasync, directory fsync,
  // unlinking a large file): they run here, never in the committer's way.
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const auto next = clock_->steady_now() + opt_.cursor_flush_interval;
    if (spool_util::wait_until(maintenance_cv_, lock, *clock_, next,
                               [&] { return maintenance_stop_; })) {
      break;
    }
    lock.unlock();
    Status st = run_maintenance_once();
    if (!st) log::error("spool: cannot persist cursors", {{"error", st.to_string()}});
    lock.lock();
  }
}

Status Spool::run_maintenance_once() {
  bool dirty;
  {
    std::lock_guard<std::mutex> g(mu_);
    dirty = cursors_dirty_;
  }
  Status st = dirty ? persist_cursors() : Status::ok();
  trim();
  // After a burst, once commits have paused, hand the memory the burst used
  // (request buffers, commits kept for the sinks) back to the system: glibc
  // keeps freed heap memory otherwise, and an idle relay should not stay at
  // its peak RSS.
  bool release = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (last_seq_ != trimmed_at_seq_ && last_seq_ == seq_at_last_pass_ && pending_.empty()) {
      trimmed_at_seq_ = last_seq_;
      release = true;
    }
    seq_at_last_pass_ = last_seq_;
  }
  if (release) release_free_memory();
  return st;
}

void Spool::commit(std::vector<Pending> batch) {
  const auto t0 = clock_->steady_now();
  std::size_t total = 0;
  std::size_t n_events = 0;
  for (const auto& p : batch) {
    total += p.events.bytes();
    n_events += p.events.size();
  }
  Status st;
  {
    std::lock_guard<std::mutex> g(mu_);
    st = broken_;
  }
  if (st.is_ok() && active_off_ > kSegmentHeaderBytes && active_off_ + total > segment_bytes_) {
    st = roll_segment();
  }

  const uint64_t first = last_seq_ + 1;  // last_seq_ is only written by this thread
  const uint64_t last = first + n_events - 1;
  if (st.is_ok()) {
    // Each append's buffer is written as it is, after its records are sealed.
    std::vector<iovec> iov;
    iov.reserve(batch.size());
    uint64_t seq = first;
    for (auto& p : batch) {
      std::string& buf = p.events.buf_;
      for (std::size_t start : p.events.starts_)
        spool_format::seal_record(buf.data() + start, seq++);
      iov.push_back(iovec{buf.data(), buf.size()});
    }
    static const std::string zeros(kZeroChunk, '\0');
    while (st.is_ok() && active_off_ + total > zeroed_end_) {
      if (!spool_util::write_full(active_fd_, zeros.data(), zeros.size(), zeroed_end_)) {
        st = Status(StatusCode::kIOError, errno_text("write", active_path_));
      }
      zeroed_end_ += kZeroChunk;
    }
    if (st.is_ok() && !spool_util::write_full_v(active_fd_, iov, active_off_)) {
      st = Status(StatusCode::kIOError, errno_text("write", active_path_));
    }
    if (!st.is_ok()) {
      // Nothing of this batch is committed; the next batch overwrites it.
      write_errors_->inc();
      zeroed_end_ = active_off_;
    } else if (::fdatasync(active_fd_) != 0) {
      // After a failed fdatasync the kernel may have dropped dirty pages: we
      // can no longer tell what is on disk, so refuse until a restart
      // recovers from the file itself.
      st = Status(StatusCode::kIOError, errno_text("fdatasync", active_path_));
      write_errors_->inc();
      std::lock_guard<std::mutex> g(mu_);
      broken_ = st;
    }
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    pending_bytes_ -= total;
    if (st.is_ok() && opt_.memory_tail_bytes > 0) {
      // Each append's records stay in memory as written, for the sinks.
      uint64_t seq = first;
      uint64_t offset = active_off_;
      for (auto& p : batch) {
        const std::size_t n = p.events.size();
        const std::size_t size = p.events.bytes();
        tail_.push_back(TailChunk{seq, seq + n - 1, active_key_, offset,
                                  std::make_shared<const std::string>(std::move(p.events.buf_))});
        seq += n;
        offset += size;
        // The memory held, not just the records: a request's buffer may
        // have grown past what its records fill.
        tail_bytes_ += tail_.back().bytes->capacity();
      }
      while (tail_bytes_ > opt_.memory_tail_bytes && !tail_.empty()) {
        tail_bytes_ -= tail_.front().bytes->capacity();
        tail_.pop_front();
      }
    }
    trim_tail_locked();  // nothing to keep when every cursor is already past it
    if (st.is_ok()) {
      active_off_ += total;
      segments_[active_key_].size = active_off_;
      committed_bytes_ += total;
      last_seq_ = last;
      bytes_gauge_->set(static_cast<int64_t>(committed_bytes_));
    }
  }
  if (st.is_ok()) {
    data_cv_.notify_all();
    appended_->inc(n_events);
    commits_->inc();
    commit_seconds_->observe(std::chrono::duration<double>(clock_->steady_now() - t0).count());
  } else {
    log::error("spool: commit failed", {{"error", st.to_string()}, {"events", n_events}});
  }
  uint64_t s = first;
  for (auto& p : batch) {
    const uint64_t f = s;
    s += p.events.size();
    if (p.done) p.done(st, st.is_ok() ? f : 0, st.is_ok() ? s - 1 : 0);
  }
}

// Committer thread only.
Status Spool::roll_segment() {
  if (::ftruncate(active_fd_, static_cast<off_t>(active_off_)) != 0 ||
      ::fdatasync(active_fd_) != 0) {
    return Status(StatusCode::kIOError, errno_text("seal", active_path_));
  }
  return create_active_segment(last_seq_ + 1);
}

Status Spool::persist_cursors() {
  std::lock_guard<std::mutex> file_lock(cursor_file_mu_);
  std::string text;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [name, seq] : cursors_) text += name + " " + std::to_string(seq) + "\n";
    cursors_dirty_ = false;
  }
  std::string tmp = opt_.dir + "/cursors.tmp";
  std::string path = opt_.dir + "/cursors";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  Status st;
  if (fd < 0) {
    st = Status(StatusCode::kIOError, errno_text("create", tmp));
  } else {
    if (!spool_util::write_full(fd, text.data(), text.size(), 0) || ::fdatasync(fd) != 0) {
      st = Status(StatusCode::kIOError, errno_text("write", tmp));
    }
    ::close(fd);
  }
  if (st.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status(StatusCode::kIOError, errno_text("rename", tmp));
  }
  if (st.is_ok()) st = base::sync_dir(opt_.dir);
  if (!st.is_ok()) {
    std::lock_guard<std::mutex> g(mu_);
    cursors_dirty_ = true;  // try again at the next flush
  }
  return st;
}

// Deletes sealed segments that every persisted cursor has passed.
void Spool::trim() {
  std::vector<std::string> doomed;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (cursors_.empty()) return;
    uint64_t min_cursor = UINT64_MAX;
    for (const auto& [name, seq] : cursors_) min_cursor = std::min(min_cursor, seq);
    while (segments_.size() > 1) {
      auto it = segments_.begin();
      uint64_t last_in_seg = std::next(it)->first - 1;
      if (last_in_seg > min_cursor || it->first == active_key_) break;
      committed_bytes_ -= it->second.size;
      doomed.push_back(it->second.path);
      segments_.erase(it);
    }
    const Segment& active = segments_[active_key_];
    const uint64_t active_data = active.size - active.data_start;
    if (min_cursor >= last_seq_ && active_data > 0 && active_data >= segment_bytes_ / 4) {
      if (!roll_requested_) roll_requested_at_ = clock_->steady_now();
      roll_requested_ = true;
      commit_cv_.notify_one();
    }
    if (!doomed.empty()) {
      refused_ = false;
      bytes_gauge_->set(static_cast<int64_t>(committed_bytes_));
      segments_gauge_->set(static_cast<int64_t>(segments_.size()));
    }
  }
  for (const auto& p : doomed) {
    if (::unlink(p.c_str()) != 0)
      log::warn("spool: cannot delete segment", {{"path", p}, {"error", std::strerror(errno)}});
  }
}

uint64_t Spool::last_seq() const {
  std::lock_guard<std::mutex> g(mu_);
  return last_seq_;
}

std::size_t Spool::bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return committed_bytes_ + pending_bytes_;
}

std::size_t Spool::max_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return max_bytes_;
}

void Spool::set_max_bytes(std::size_t max_bytes) {
  std::lock_guard<std::mutex> g(mu_);
  max_bytes_ = max_bytes;
  refused_ = false;
  metrics_.gauge("tern_relay_spool_max_bytes").set(static_cast<int64_t>(max_bytes));
}

bool Spool::full() const {
  std::lock_guard<std::mutex> g(mu_);
  return refused_ || committed_bytes_ + pending_bytes_ >= max_bytes_;
}

Status Spool::health() const {
  std::lock_guard<std::mutex> g(mu_);
  return broken_;
}

uint64_t Spool::bytes_after(SpoolPosition pos) const {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t total = 0;
  for (const auto& [key, seg] : segments_) {
    const uint64_t from = key > pos.segment ? seg.data_start : std::max(pos.offset, seg.data_start);
    if (key >= pos.segment && seg.size > from) total += seg.size - from;
  }
  return total;
}

Result<uint64_t> Spool::register_cursor(const std::string& name, bool new_at_end) {
  if (name.empty() || name.find_first_of(" \n") != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "bad cursor name \"" + name + "\"");
  }
  uint64_t v;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = cursors_.find(name);
    if (it != cursors_.end()) return it->second;
    // "Everything still in the spool": just before the oldest segment.
    v = new_at_end ? last_seq_ : segments_.begin()->first - 1;
    cursors_[name] = v;
    cursors_dirty_ = true;
  }
  Status st = persist_cursors();
  if (!st) return st;
  return v;
}

Result<uint64_t> Spool::at_commit_point(const std::vector<std::string>& new_cursors,
                                        const std::function<void(uint64_t)>& fn) {
  for (const std::string& name : new_cursors) {
    if (name.empty() || name.find_first_of(" \n") != std::string::npos) {
      return Status(StatusCode::kInvalidArgument, "bad cursor name \"" + name + "\"");
    }
  }
  uint64_t at;
  {
    std::lock_guard<std::mutex> g(mu_);
    at = last_seq_;
    for (const std::string& name : new_cursors) {
      if (cursors_.emplace(name, at).second) cursors_dirty_ = true;
    }
    fn(at);
  }
  if (!new_cursors.empty()) {
    Status st = persist_cursors();
    if (!st) return st;
  }
  return at;
}

Status Spool::drop_cursor(const std::string& name) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!cursors_.erase(name)) return Status(StatusCode::kNotFound, "no cursor \"" + name + "\"");
    cursors_dirty_ = true;
    trim_tail_locked();
  }
  return persist_cursors();
}

void Spool::trim_tail_locked() {
  uint64_t passed = last_seq_;
  for (const auto& [name, seq] : cursors_) passed = std::min(passed, seq);
  while (!tail_.empty() && tail_.front().last_seq <= passed) {
    tail_bytes_ -= tail_.front().bytes->capacity();
    tail_.pop_front();
  }
  tail_gauge_->set(static_cast<int64_t>(tail_bytes_));
}

void Spool::ack(const std::string& name, uint64_t seq) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = cursors_.find(name);
  if (it == cursors_.end() || seq <= it->second) return;
  it->second = std::min(seq, last_seq_);
  trim_tail_locked();
  cursors_dirty_ = true;  // persisted by the next maintenance pass
}

std::optional<uint64_t> Spool::cursor(const std::string& name) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = cursors_.find(name);
  if (it == cursors_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, uint64_t> Spool::cursors() const {
  std::lock_guard<std::mutex> g(mu_);
  return cursors_;
}

std::unique_ptr<SpoolReader> Spool::reader(uint64_t after_seq) {
  return std::unique_ptr<SpoolReader>(new SpoolReader(this, after_seq));
}

Status Spool::close() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return Status::ok();
    closed_ = true;
    closing_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard<std::mutex> g(mu_);
    maintenance_stop_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  data_cv_.notify_all();
  Status st = persist_cursors();
  trim();
  // Leave the active segment without its zero preallocation.
  if (active_fd_ >= 0 && broken_.is_ok() && zeroed_end_ > active_off_) {
    if (::ftruncate(active_fd_, static_cast<off_t>(active_off_)) == 0)
      (void)::fdatasync(active_fd_);
    zeroed_end_ = active_off_;
  }
  return st;
}

}  // namespace tern::relay
