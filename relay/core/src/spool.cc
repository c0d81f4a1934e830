#include "tern/relay/spool.h"

#include <dirent.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "crc32c.h"
#include "tern/base/file.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kHeader = 20;
constexpr uint32_t kMaxRecordLen = 64u << 20;  // sanity bound; events are ≤ a few MiB
constexpr uint64_t kZeroChunk = 1u << 20;
constexpr std::size_t kMaxGroupBytes = 8u << 20;  // commit early past this much queued

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint16_t get16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
template <typename T>
void put(std::string& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Records carry CRC-32C (hardware-assisted, see crc32c.h).
uint32_t crc_of(const char* p, std::size_t n) { return crc32c(0, p, n); }

// Spools written before CRC-32C carried zlib's CRC-32; such a record is still
// accepted (checked only when the CRC-32C does not match, so new records pay
// nothing for it).
bool legacy_crc_matches(const char* p, std::size_t n, uint32_t want) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc) == want;
}

// Fills in a record encoded by SpoolBatch: its sequence number, then its CRC.
void seal_record(char* p, uint64_t seq) {
  std::memcpy(p + 8, &seq, 8);
  const uint32_t crc = crc_of(p + 4, kHeader - 4 + get32(p + 4));
  std::memcpy(p, &crc, 4);
}

enum class Parse { kOk, kNeedMore, kBad };

enum class Check { kCrc, kNone };

// Parses the record at p[0..n). On kOk, *len is its full size. kNeedMore
// means the header says it is longer than n (want *len bytes). Check::kNone
// is for a commit kept in memory: those bytes never left the process, so
// their CRC is not computed again. rec's views point into p; the caller sets
// rec->storage to what holds p.
Parse parse_record(const char* p, std::size_t n, SpoolRecord* rec, std::size_t* len, Check check = Check::kCrc) {
  if (n < kHeader) {
    *len = kHeader;
    return Parse::kNeedMore;
  }
  uint32_t body = get32(p + 4);
  uint16_t src_len = get16(p + 16);
  uint16_t type_len = get16(p + 18);
  if (body > kMaxRecordLen || static_cast<uint32_t>(src_len) + type_len > body) return Parse::kBad;
  *len = kHeader + body;
  if (n < *len) return Parse::kNeedMore;
  if (check == Check::kCrc) {
    const uint32_t want = get32(p);
    if (crc_of(p + 4, *len - 4) != want && !legacy_crc_matches(p + 4, *len - 4, want)) return Parse::kBad;
  }
  if (rec) {
    rec->seq = get64(p + 8);
    rec->source_id = std::string_view(p + kHeader, src_len);
    rec->type = std::string_view(p + kHeader + src_len, type_len);
    rec->event = std::string_view(p + kHeader + src_len + type_len, body - src_len - type_len);
  }
  return Parse::kOk;
}

bool read_full(int fd, char* buf, std::size_t n, uint64_t off, std::size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::pread(fd, buf + *got, n - *got, static_cast<off_t>(off + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) break;
    *got += static_cast<std::size_t>(r);
  }
  return true;
}

// Writes every buffer of `iov` in order from `off`; `iov` is used up.
bool write_full_v(int fd, std::vector<iovec>& iov, uint64_t off) {
  std::size_t i = 0;
  while (i < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - i, IOV_MAX));
    ssize_t r = ::pwritev(fd, &iov[i], count, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<uint64_t>(r);
    auto left = static_cast<std::size_t>(r);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (left > 0) {  // a short write ended inside iov[i]
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return true;
}

bool write_full(int fd, const char* buf, std::size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, buf, n, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

std::string segment_name(uint64_t first_seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "seg-%020" PRIu64 ".log", first_seq);
  return buf;
}

bool parse_segment_name(const char* name, uint64_t* first) {
  std::size_t n = std::strlen(name);
  if (n != 4 + 20 + 4 || std::strncmp(name, "seg-", 4) != 0 || std::strcmp(name + 24, ".log") != 0) {
    return false;
  }
  uint64_t v = 0;
  for (int i = 4; i < 24; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *first = v;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- SpoolBatch

SpoolBatch::SpoolBatch(std::string source_id) : source_id_(std::move(source_id)) {
  if (source_id_.size() > 0xffff) invalid_ = "source id longer than 65535 bytes";
}

std::string& SpoolBatch::begin_event(std::string_view type) {
  if (type.size() > 0xffff) {
    invalid_ = "type longer than 65535 bytes";
    type = {};
  }
  // An over-long source id is left out so that the records still parse; the
  // batch is refused anyway.
  const std::string_view source = source_id_.size() > 0xffff ? std::string_view() : source_id_;
  starts_.push_back(buf_.size());
  put<uint32_t>(buf_, 0);  // CRC, at commit
  put<uint32_t>(buf_, 0);  // length, at end_event()
  put<uint64_t>(buf_, 0);  // sequence number, at commit
  put<uint16_t>(buf_, static_cast<uint16_t>(source.size()));
  put<uint16_t>(buf_, static_cast<uint16_t>(type.size()));
  buf_ += source;
  buf_ += type;
  return buf_;
}

void SpoolBatch::end_event() {
  const std::size_t start = starts_.back();
  const std::size_t body = buf_.size() - start - kHeader;
  if (body > kMaxRecordLen) invalid_ = "event larger than 64 MiB";
  const auto len = static_cast<uint32_t>(std::min<std::size_t>(body, UINT32_MAX));
  std::memcpy(&buf_[start + 4], &len, 4);
}

void SpoolBatch::add(std::string_view type, std::string_view event) {
  begin_event(type).append(event);
  end_event();
}

void SpoolBatch::reserve(std::size_t events, std::size_t text_bytes) {
  starts_.reserve(events);
  buf_.reserve(text_bytes + events * (kHeader + source_id_.size() + 8));
}

std::string_view SpoolBatch::type(std::size_t i) const {
  const char* p = buf_.data() + starts_[i];
  return std::string_view(p + kHeader + get16(p + 16), get16(p + 18));
}

std::string_view SpoolBatch::event(std::size_t i) const {
  const char* p = buf_.data() + starts_[i];
  const std::size_t skip = std::size_t{get16(p + 16)} + get16(p + 18);
  return std::string_view(p + kHeader + skip, get32(p + 4) - skip);
}

// ---------------------------------------------------------------- Spool

Spool::Spool(SpoolOptions options, Metrics& metrics)
    : opt_(std::move(options)), metrics_(metrics), max_bytes_(opt_.max_bytes) {
  appended_ = &metrics.counter("tern_relay_spool_appended_events_total", {},
                               "Events committed (fdatasync'ed) to the spool");
  commits_ = &metrics.counter("tern_relay_spool_commits_total", {},
                              "Group commits (one fdatasync each)");
  refused_full_ = &metrics.counter("tern_relay_spool_refused_events_total", "reason=\"full\"",
                                   "Events refused by the spool (answered 503), by reason");
  torn_bytes_ = &metrics.counter("tern_relay_spool_torn_bytes_total", {},
                                 "Bytes of torn tail records truncated at open");
  corrupt_records_ = &metrics.counter("tern_relay_spool_corrupt_records_total", {},
                                      "Committed records that failed their CRC when read (skipped)");
  write_errors_ = &metrics.counter("tern_relay_spool_write_errors_total", {},
                                   "Failed spool writes or fdatasyncs");
  read_memory_ = &metrics.counter("tern_relay_spool_read_records_total", "from=\"memory\"",
                                  "Records sinks read from the spool, from recent commits kept in memory or from disk");
  read_disk_ = &metrics.counter("tern_relay_spool_read_records_total", "from=\"disk\"",
                                "Records sinks read from the spool, from recent commits kept in memory or from disk");
  tail_gauge_ = &metrics.gauge("tern_relay_spool_memory_tail_bytes", {},
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
  s->maintenance_ = std::thread([p = s.get()] {
    log::set_thread_name("tern-spool-gc");
    p->run_maintenance();
  });
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
      return Status(StatusCode::kFailedPrecondition, "spool " + opt_.dir + " is in use by another relay process");
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

  // Segments.
  DIR* d = ::opendir(opt_.dir.c_str());
  if (!d) return Status(StatusCode::kIOError, errno_text("opendir", opt_.dir));
  while (dirent* e = ::readdir(d)) {
    uint64_t first = 0;
    if (!parse_segment_name(e->d_name, &first)) continue;
    Segment seg;
    seg.path = opt_.dir + "/" + e->d_name;
    struct stat sb {};
    if (::stat(seg.path.c_str(), &sb) == 0) seg.size = static_cast<uint64_t>(sb.st_size);
    segments_.emplace(first, std::move(seg));
  }
  ::closedir(d);

  uint64_t next_seq = max_cursor + 1;
  if (segments_.empty()) {
    active_key_ = next_seq;
    Segment seg;
    seg.path = opt_.dir + "/" + segment_name(active_key_);
    segments_.emplace(active_key_, seg);
    active_fd_ = ::open(seg.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (active_fd_ < 0) return Status(StatusCode::kIOError, errno_text("create", seg.path));
    st = base::sync_dir(opt_.dir);
    if (!st) return st;
    last_seq_ = next_seq - 1;
  } else {
    // Only the last segment can have a torn tail: earlier ones were
    // truncated to their data and fdatasync'ed before the next was created.
    auto it = std::prev(segments_.end());
    active_key_ = it->first;
    Segment& seg = it->second;
    active_fd_ = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
    if (active_fd_ < 0) return Status(StatusCode::kIOError, errno_text("open", seg.path));
    uint64_t file_size = seg.size;
    std::string data(static_cast<std::size_t>(file_size), '\0');
    std::size_t got = 0;
    if (!read_full(active_fd_, data.data(), data.size(), 0, &got)) {
      return Status(StatusCode::kIOError, errno_text("read", seg.path));
    }
    data.resize(got);
    uint64_t off = 0;
    uint64_t expect = active_key_;
    while (off < data.size()) {
      SpoolRecord rec;
      std::size_t len = 0;
      Parse p = parse_record(data.data() + off, data.size() - off, &rec, &len);
      if (p != Parse::kOk || rec.seq != expect) break;
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
      if (::ftruncate(active_fd_, static_cast<off_t>(off)) != 0 || ::fdatasync(active_fd_) != 0) {
        return Status(StatusCode::kIOError, errno_text("truncate", seg.path));
      }
    }
    seg.size = off;
    last_seq_ = expect - 1;
    if (last_seq_ < max_cursor) last_seq_ = max_cursor;  // never reuse a delivered number
    // An empty last segment must keep its name consistent with the next seq.
    if (off == 0 && active_key_ != last_seq_ + 1) {
      std::string old = seg.path;
      ::close(active_fd_);
      segments_.erase(it);
      ::unlink(old.c_str());
      active_key_ = last_seq_ + 1;
      Segment fresh;
      fresh.path = opt_.dir + "/" + segment_name(active_key_);
      active_fd_ = ::open(fresh.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (active_fd_ < 0) return Status(StatusCode::kIOError, errno_text("create", fresh.path));
      segments_.emplace(active_key_, fresh);
      st = base::sync_dir(opt_.dir);
      if (!st) return st;
    }
  }
  active_off_ = segments_[active_key_].size;
  active_path_ = segments_[active_key_].path;
  zeroed_end_ = active_off_;
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
  if (first) first_pending_ = SteadyClock::now();
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
      // Idle: a roll asked for by trim (every cursor consumed the active
      // segment) is done only once no commit came for a while, so a busy
      // spool never stalls its commits on sealing a segment early.
      if (roll_requested_) {
        bool woke = commit_cv_.wait_for(lock, opt_.cursor_flush_interval,
                                        [&] { return !pending_.empty() || closing_; });
        if (!woke && roll_requested_ && active_off_ > 0) {
          roll_requested_ = false;
          lock.unlock();
          Status st = roll_segment();  // the maintenance thread frees the sealed one
          if (!st) log::error("spool: cannot roll the segment", {{"error", st.to_string()}});
          lock.lock();
          continue;
        }
      } else {
        commit_cv_.wait(lock, [&] { return !pending_.empty() || closing_ || roll_requested_; });
        continue;
      }
    }
    // Wait for company only under concurrency (the previous group had
    // several appends, like PostgreSQL's commit_siblings): a lone request is
    // committed at once, while under load the window grows the groups.
    if (!pending_.empty() && !closing_ && opt_.commit_window.count() > 0 && last_group_appends_ > 1) {
      auto until = first_pending_ + opt_.commit_window;
      commit_cv_.wait_until(lock, until, [&] { return closing_ || pending_bytes_ >= kMaxGroupBytes; });
    }
    std::vector<Pending> batch;
    batch.swap(pending_);
    if (!batch.empty()) last_group_appends_ = batch.size();
    bool stop = closing_;
    lock.unlock();
    if (!batch.empty()) commit(std::move(batch));
    lock.lock();
    // Appends are refused once closing_ is set, so one pass after it drains all.
    if (stop && pending_.empty()) break;
  }
}

namespace {
void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}
}  // namespace

void Spool::run_maintenance() {
  // Cursor files and segment deletes are slow (fdatasync, directory fsync,
  // unlinking a large file): they run here, never in the committer's way.
  auto last_flush = SteadyClock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    maintenance_cv_.wait_until(lock, last_flush + opt_.cursor_flush_interval,
                               [&] { return maintenance_stop_; });
    if (maintenance_stop_) break;
    bool dirty = cursors_dirty_;
    lock.unlock();
    if (dirty) {
      Status st = persist_cursors();
      if (!st) log::error("spool: cannot persist cursors", {{"error", st.to_string()}});
    }
    trim();
    last_flush = SteadyClock::now();
    lock.lock();
    // After a burst, once commits have paused, hand the memory the burst
    // used (request buffers, commits kept for the sinks) back to the system:
    // glibc keeps freed heap memory otherwise, and an idle relay should not
    // stay at its peak RSS.
    if (last_seq_ != trimmed_at_seq_ && last_seq_ == seq_at_last_pass_ && pending_.empty()) {
      trimmed_at_seq_ = last_seq_;
      lock.unlock();
      release_free_memory();
      lock.lock();
    }
    seq_at_last_pass_ = last_seq_;
  }
}

void Spool::commit(std::vector<Pending> batch) {
  auto t0 = SteadyClock::now();
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
  if (st.is_ok() && active_off_ > 0 && active_off_ + total > segment_bytes_) st = roll_segment();

  const uint64_t first = last_seq_ + 1;  // last_seq_ is only written by this thread
  const uint64_t last = first + n_events - 1;
  if (st.is_ok()) {
    // Each append's buffer is written as it is, after its records are sealed.
    std::vector<iovec> iov;
    iov.reserve(batch.size());
    uint64_t seq = first;
    for (auto& p : batch) {
      std::string& buf = p.events.buf_;
      for (std::size_t start : p.events.starts_) seal_record(buf.data() + start, seq++);
      iov.push_back(iovec{buf.data(), buf.size()});
    }
    static const std::string zeros(kZeroChunk, '\0');
    while (st.is_ok() && active_off_ + total > zeroed_end_) {
      if (!write_full(active_fd_, zeros.data(), zeros.size(), zeroed_end_)) {
        st = Status(StatusCode::kIOError, errno_text("write", active_path_));
      }
      zeroed_end_ += kZeroChunk;
    }
    if (st.is_ok() && !write_full_v(active_fd_, iov, active_off_)) {
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
    commit_seconds_->observe(std::chrono::duration<double>(SteadyClock::now() - t0).count());
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
  if (::ftruncate(active_fd_, static_cast<off_t>(active_off_)) != 0 || ::fdatasync(active_fd_) != 0) {
    return Status(StatusCode::kIOError, errno_text("seal", active_path_));
  }
  uint64_t key = last_seq_ + 1;
  Segment seg;
  seg.path = opt_.dir + "/" + segment_name(key);
  int fd = ::open(seg.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(StatusCode::kIOError, errno_text("create", seg.path));
  Status st = base::sync_dir(opt_.dir);
  if (!st) {
    ::close(fd);
    return st;
  }
  ::close(active_fd_);
  active_fd_ = fd;
  active_off_ = 0;
  zeroed_end_ = 0;
  active_path_ = seg.path;
  std::lock_guard<std::mutex> g(mu_);
  active_key_ = key;
  segments_.emplace(key, std::move(seg));
  segments_gauge_->set(static_cast<int64_t>(segments_.size()));
  return Status::ok();
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
    if (!write_full(fd, text.data(), text.size(), 0) || ::fdatasync(fd) != 0) {
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
    if (min_cursor >= last_seq_ && active.size > 0 && active.size >= segment_bytes_ / 4) {
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
    if (::unlink(p.c_str()) != 0) log::warn("spool: cannot delete segment", {{"path", p}, {"error", std::strerror(errno)}});
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
    if (key > pos.segment) total += seg.size;
    else if (key == pos.segment && seg.size > pos.offset) total += seg.size - pos.offset;
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
  cursors_dirty_ = true;  // persisted by the maintenance thread's next pass
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
    if (::ftruncate(active_fd_, static_cast<off_t>(active_off_)) == 0) (void)::fdatasync(active_fd_);
    zeroed_end_ = active_off_;
  }
  return st;
}

// ---------------------------------------------------------------- SpoolReader

SpoolReader::SpoolReader(Spool* spool, uint64_t after_seq) : spool_(spool), next_seq_(after_seq + 1) {}

SpoolReader::~SpoolReader() {
  if (fd_ >= 0) ::close(fd_);
}

void SpoolReader::interrupt() {
  {
    std::lock_guard<std::mutex> g(spool_->mu_);
    interrupted_ = true;
  }
  spool_->data_cv_.notify_all();
}

void SpoolReader::clear_interrupt() {
  std::lock_guard<std::mutex> g(spool_->mu_);
  interrupted_ = false;
}

bool SpoolReader::open_segment(uint64_t key, uint64_t offset) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::string path;
  {
    std::lock_guard<std::mutex> g(spool_->mu_);
    auto it = spool_->segments_.find(key);
    if (it == spool_->segments_.end()) return false;
    path = it->second.path;
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    log::error("spool: cannot open segment for reading", {{"path", path}, {"error", std::strerror(errno)}});
    return false;
  }
  seg_key_ = key;
  off_ = offset;
  return true;
}

Status SpoolReader::read(std::size_t max_events, std::size_t max_bytes,
                         SteadyClock::time_point deadline, std::vector<SpoolRecord>* out) {
  if (max_events == 0) max_events = 1;
  // Limits apply to `out` as a whole, so a caller can top up a batch.
  std::size_t got_events = out->size();
  std::size_t got_bytes = 0;
  for (const auto& r : *out) got_bytes += r.event.size();
  if (got_events >= max_events) return Status::ok();
  std::size_t taken = 0, from_memory = 0;
  struct CountReads {  // however read() returns
    Spool* spool;
    const std::size_t& taken;
    const std::size_t& from_memory;
    ~CountReads() {
      spool->read_memory_->inc(from_memory);
      spool->read_disk_->inc(taken - from_memory);
    }
  } count_reads{spool_, taken, from_memory};
  // Takes `rec` (at `offset` of the current segment, `len` bytes) unless
  // `out` is full; false when full.
  auto take = [&](SpoolRecord& rec, uint64_t offset, std::size_t len) {
    if (rec.seq < next_seq_) return true;  // already returned
    std::size_t ev = rec.event.size();
    if (got_events > 0 && (got_events >= max_events || got_bytes + ev > max_bytes)) return false;
    next_seq_ = rec.seq + 1;
    rec.end = SpoolPosition{seg_key_, offset + len};
    got_events++;
    taken++;
    got_bytes += ev;
    out->push_back(std::move(rec));
    return true;
  };
  for (int guard = 0; guard < 1'000'000; ++guard) {
    uint64_t limit = 0;
    bool has_next = false;
    uint64_t next_key = 0;
    Spool::TailChunk chunk;
    {
      std::unique_lock<std::mutex> lock(spool_->mu_);
      if (taken == 0) {
        spool_->data_cv_.wait_until(lock, deadline, [&] {
          return spool_->last_seq_ >= next_seq_ || interrupted_ || spool_->closed_;
        });
      }
      if (spool_->last_seq_ < next_seq_) return Status::ok();
      // A recent commit still in memory?
      const auto& tail = spool_->tail_;
      auto after = std::upper_bound(tail.begin(), tail.end(), next_seq_,
                                    [](uint64_t seq, const Spool::TailChunk& c) { return seq < c.first_seq; });
      if (after != tail.begin() && next_seq_ <= std::prev(after)->last_seq) chunk = *std::prev(after);
      auto& segs = spool_->segments_;
      if (!chunk.bytes) {
        // Find the segment holding next_seq_ when we have none or ours is
        // gone; after reading from memory we know the position in it.
        if (fd_ < 0 || !segs.count(seg_key_)) {
          uint64_t key = 0, offset = 0;
          if (fd_ < 0 && positioned_ && segs.count(seg_key_)) {
            key = seg_key_;
            offset = off_;
          } else {
            auto it = segs.upper_bound(next_seq_);
            if (it != segs.begin()) --it;
            key = it->first;
          }
          lock.unlock();
          if (!open_segment(key, offset)) return Status(StatusCode::kIOError, "spool segment unreadable");
          continue;
        }
        auto it = segs.find(seg_key_);
        limit = it->second.size;
        auto nx = std::next(it);
        has_next = nx != segs.end();
        if (has_next) next_key = nx->first;
      }
    }
    if (chunk.bytes) {
      // Parse the commit as the committer wrote it; the reader's place in
      // the segment follows, so it can go on from the file if it falls behind.
      const std::string& bytes = *chunk.bytes;
      std::size_t pos = 0;
      if (seg_key_ == chunk.segment && off_ >= chunk.offset && off_ < chunk.offset + bytes.size()) {
        pos = static_cast<std::size_t>(off_ - chunk.offset);
      }
      if (seg_key_ != chunk.segment && fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
      }
      seg_key_ = chunk.segment;
      positioned_ = true;
      bool full = false;
      const std::size_t taken_before = taken;
      while (pos < bytes.size()) {
        SpoolRecord rec;
        std::size_t len = 0;
        if (parse_record(bytes.data() + pos, bytes.size() - pos, &rec, &len, Check::kNone) != Parse::kOk) {
          return Status(StatusCode::kInternal, "spool: a commit kept in memory does not parse");
        }
        rec.storage = chunk.bytes;
        if (!take(rec, chunk.offset + pos, len)) {
          full = true;
          break;
        }
        pos += len;
      }
      off_ = chunk.offset + pos;
      from_memory += taken - taken_before;
      if (full || got_events >= max_events) return Status::ok();
      continue;
    }
    if (off_ >= limit) {
      if (!has_next) return Status::ok();  // caught up with the committed end
      if (got_events > 0 && got_events >= max_events) return Status::ok();
      if (!open_segment(next_key)) return Status(StatusCode::kIOError, "spool segment unreadable");
      continue;
    }
    // Read a chunk and parse whole records from it. The chunk is a buffer of
    // its own while records returned earlier still point into the last one.
    std::size_t want = static_cast<std::size_t>(
        std::min<uint64_t>(limit - off_, std::max<std::size_t>(max_bytes, 64u << 10) + kHeader + 512));
    if (!buf_ || buf_.use_count() > 1) buf_ = std::make_shared<std::string>();
    std::string& buf = *buf_;
    buf.resize(want);
    std::size_t n = 0;
    if (!read_full(fd_, buf.data(), want, off_, &n)) {
      return Status(StatusCode::kIOError, std::string("spool read: ") + std::strerror(errno));
    }
    std::size_t pos = 0;
    bool corrupt = false;
    while (pos < n) {
      SpoolRecord rec;
      std::size_t len = 0;
      Parse p = parse_record(buf.data() + pos, n - pos, &rec, &len);
      if (p == Parse::kNeedMore) {
        if (pos > 0) break;  // re-read from this record next round
        if (off_ + len <= limit) {
          // One record larger than the chunk: read exactly it.
          buf.resize(len);
          if (!read_full(fd_, buf.data(), len, off_, &n) || n != len) {
            return Status(StatusCode::kIOError, "spool read: short record");
          }
          continue;
        }
        p = Parse::kBad;  // a committed range never ends inside a record
      }
      if (p == Parse::kBad) {
        spool_->corrupt_records_->inc();
        log::error("spool: corrupt record, skipping the rest of its segment",
                   {{"segment", seg_key_}, {"offset", off_ + pos}});
        off_ = limit;
        corrupt = true;
        break;
      }
      rec.storage = buf_;
      if (!take(rec, off_ + pos, len)) {
        off_ += pos;
        return Status::ok();
      }
      pos += len;
    }
    if (!corrupt) off_ += pos;
    if (got_events >= max_events) return Status::ok();
  }
  return Status::ok();
}

}  // namespace tern::relay
