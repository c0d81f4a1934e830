// SpoolReader: committed records in sequence order, from the commits the
// spool keeps in memory when they are still there, else from the segment
// files.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "spool_format.h"
#include "spool_util.h"
#include "tern/relay/log.h"
#include "tern/relay/spool.h"

namespace tern::relay {

using spool_format::Parse;

struct SpoolReader::Batch {
  std::vector<SpoolRecord>* out;
  std::size_t max_events;
  std::size_t max_bytes;
  // In *out, the caller's records included: limits apply to `out` as a
  // whole, so a caller can top up a batch.
  std::size_t events = 0;
  std::size_t bytes = 0;
  std::size_t taken = 0;        // added by this read()
  std::size_t from_memory = 0;  // of which from commits kept in memory

  bool full() const { return events >= max_events; }
};

SpoolReader::SpoolReader(Spool* spool, uint64_t after_seq)
    : spool_(spool), next_seq_(after_seq + 1) {}

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
  uint64_t data_start = 0;
  uint32_t version = 0;
  {
    std::lock_guard<std::mutex> g(spool_->mu_);
    auto it = spool_->segments_.find(key);
    if (it == spool_->segments_.end()) return false;
    path = it->second.path;
    data_start = it->second.data_start;
    version = it->second.version;
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    log::error("spool: cannot open segment for reading",
               {{"path", path}, {"error", std::strerror(errno)}});
    return false;
  }
  seg_key_ = key;
  seg_version_ = version;
  off_ = std::max(offset, data_start);
  return true;
}

bool SpoolReader::take(Batch& b, SpoolRecord& rec, uint64_t offset, std::size_t len) {
  if (rec.seq < next_seq_) return true;  // already returned
  const std::size_t ev = rec.event.size();
  if (b.events > 0 && (b.full() || b.bytes + ev > b.max_bytes)) return false;
  next_seq_ = rec.seq + 1;
  rec.end = SpoolPosition{seg_key_, offset + len};
  b.events++;
  b.taken++;
  b.bytes += ev;
  b.out->push_back(std::move(rec));
  return true;
}

Status SpoolReader::read(std::size_t max_events, std::size_t max_bytes,
                         std::chrono::steady_clock::time_point deadline,
                         std::vector<SpoolRecord>* out) {
  Batch b{out, std::max<std::size_t>(max_events, 1), max_bytes};
  b.events = out->size();
  for (const auto& r : *out) b.bytes += r.event.size();
  if (b.full()) return Status::ok();
  struct CountReads {  // however read() returns
    Spool* spool;
    const Batch& b;
    ~CountReads() {
      spool->read_memory_->inc(b.from_memory);
      spool->read_disk_->inc(b.taken - b.from_memory);
    }
  } count_reads{spool_, b};
  for (int guard = 0; guard < 1'000'000; ++guard) {
    uint64_t limit = 0;
    uint64_t next_key = 0;
    Spool::TailChunk chunk;
    {
      std::unique_lock<std::mutex> lock(spool_->mu_);
      if (b.taken == 0) {
        spool_util::wait_until(spool_->data_cv_, lock, *spool_->clock_, deadline, [&] {
          return spool_->last_seq_ >= next_seq_ || interrupted_ || spool_->closed_;
        });
      }
      if (spool_->last_seq_ < next_seq_) return Status::ok();
      // A recent commit still in memory?
      const auto& tail = spool_->tail_;
      auto after = std::upper_bound(
          tail.begin(), tail.end(), next_seq_,
          [](uint64_t seq, const Spool::TailChunk& c) { return seq < c.first_seq; });
      if (after != tail.begin() && next_seq_ <= std::prev(after)->last_seq)
        chunk = *std::prev(after);
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
          if (!open_segment(key, offset))
            return Status(StatusCode::kIOError, "spool segment unreadable");
          continue;
        }
        auto it = segs.find(seg_key_);
        limit = it->second.size;
        auto nx = std::next(it);
        if (nx != segs.end()) next_key = nx->first;
      }
    }
    bool done = false;
    Status st = chunk.bytes ? read_from_memory(chunk.segment, chunk.offset, chunk.bytes, b, &done)
                            : read_from_disk(limit, next_key, b, &done);
    if (!st || done) return st;
  }
  return Status::ok();
}

Status SpoolReader::read_from_memory(uint64_t segment, uint64_t offset,
                                     const std::shared_ptr<const std::string>& bytes, Batch& b,
                                     bool* done) {
  // Parse the commit as the committer wrote it; the reader's place in the
  // segment follows, so it can go on from the file if it falls behind.
  const std::string& data = *bytes;
  std::size_t pos = 0;
  if (seg_key_ == segment && off_ >= offset && off_ < offset + data.size()) {
    pos = static_cast<std::size_t>(off_ - offset);
  }
  if (seg_key_ != segment && fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  seg_key_ = segment;
  positioned_ = true;
  bool full = false;
  const std::size_t taken_before = b.taken;
  while (pos < data.size()) {
    SpoolRecord rec;
    std::size_t len = 0;
    if (spool_format::parse_record(data.data() + pos, data.size() - pos, &rec, &len,
                                   spool_format::Check::kNone) != Parse::kOk) {
      return Status(StatusCode::kInternal, "spool: a commit kept in memory does not parse");
    }
    rec.storage = bytes;
    if (!take(b, rec, offset + pos, len)) {
      full = true;
      break;
    }
    pos += len;
  }
  off_ = offset + pos;
  b.from_memory += b.taken - taken_before;
  *done = full || b.full();
  return Status::ok();
}

Status SpoolReader::read_from_disk(uint64_t limit, uint64_t next_segment, Batch& b, bool* done) {
  *done = false;
  if (off_ >= limit) {
    if (next_segment == 0 || b.full()) {  // caught up with the committed end, or full
      *done = true;
      return Status::ok();
    }
    if (!open_segment(next_segment))
      return Status(StatusCode::kIOError, "spool segment unreadable");
    return Status::ok();
  }
  // Read a chunk and parse whole records from it. The chunk is a buffer of
  // its own while records returned earlier still point into the last one.
  std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(
      limit - off_,
      std::max<std::size_t>(b.max_bytes, 64u << 10) + spool_format::kRecordHeaderBytes + 512));
  if (!buf_ || buf_.use_count() > 1) buf_ = std::make_shared<std::string>();
  std::string& buf = *buf_;
  buf.resize(want);
  std::size_t n = 0;
  if (!spool_util::read_full(fd_, buf.data(), want, off_, &n)) {
    return Status(StatusCode::kIOError, std::string("spool read: ") + std::strerror(errno));
  }
  const spool_format::Check check = spool_format::check_for(seg_version_);
  std::size_t pos = 0;
  bool corrupt = false;
  while (pos < n) {
    SpoolRecord rec;
    std::size_t len = 0;
    Parse p = spool_format::parse_record(buf.data() + pos, n - pos, &rec, &len, check);
    if (p == Parse::kNeedMore) {
      if (pos > 0) break;  // re-read from this record next round
      if (off_ + len <= limit) {
        // One record larger than the chunk: read exactly it.
        buf.resize(len);
        if (!spool_util::read_full(fd_, buf.data(), len, off_, &n) || n != len) {
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
    if (!take(b, rec, off_ + pos, len)) {
      off_ += pos;
      *done = true;
      return Status::ok();
    }
    pos += len;
  }
  if (!corrupt) off_ += pos;
  *done = b.full();
  return Status::ok();
}

}  // namespace tern::relay
