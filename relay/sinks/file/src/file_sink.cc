#include "tern/relay/sinks/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "tern/base/file.h"
#include "tern/relay/log.h"
#include "tern/relay/sink_settings.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char kOpenSuffix[] = ".open";

Status errno_status(const std::string& what) {
  return Status(StatusCode::kIOError, what + ": " + std::strerror(errno));
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Options {
  std::string dir;
  std::string prefix;
  std::size_t max_bytes;
  std::chrono::milliseconds max_age;
  bool gzip;
  int gzip_level;
};

class FileSink final : public Sink {
 public:
  FileSink(std::string name, Options o, Metrics& metrics, const Clock& clock)
      : name_(std::move(name)), opt_(std::move(o)), clock_(clock) {
    const std::string l = sink_label(name_);
    rotations_ = &metrics.counter("tern_relay_file_sink_rotations_total", l,
                                  "Files finished by the file sink");
    bytes_ = &metrics.counter("tern_relay_file_sink_bytes_total", l,
                              "Bytes written by the file sink (after gzip)");
  }
  ~FileSink() override {
    if (fd_ >= 0) (void)finish_file();
  }

  Status open() override {
    Status st = base::make_dirs(opt_.dir);
    if (!st) return st;
    if (::access(opt_.dir.c_str(), W_OK) != 0) return errno_status("cannot write to " + opt_.dir);
    return recover_open_files();
  }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    DeliveryResult res;
    if (fd_ >= 0 &&
        (file_bytes_ >= opt_.max_bytes || clock_.steady_now() - opened_at_ >= opt_.max_age)) {
      res.status = finish_file();
      if (!res.status) return res;
    }
    if (fd_ < 0) {
      res.status = open_file();
      if (!res.status) return res;
    }
    text_.clear();
    for (const auto& r : batch) {
      std::size_t start = text_.size();
      text_.append(r.event.data(), r.event.size());
      // Valid JSON has raw newlines only as whitespace: keep one event per line.
      for (char nl : {'\n', '\r'}) {
        char* p = &text_[start];
        char* end = text_.data() + text_.size();
        while ((p = static_cast<char*>(std::memchr(p, nl, static_cast<std::size_t>(end - p)))) !=
               nullptr)
          *p++ = ' ';
      }
      text_ += '\n';
    }
    res.status = opt_.gzip ? write_gzip(text_) : write_bytes(text_.data(), text_.size());
    return res;
  }

  // Written with write(2) in deliver(), made durable here: one fdatasync for
  // all the batches the runner delivered since the last flush.
  bool defers_durability() const override { return true; }

  DeliveryResult flush() override {
    DeliveryResult res;
    if (fd_ < 0 || synced_bytes_ == file_bytes_) return res;
    if (::fdatasync(fd_) != 0) {
      res.status = last_error_ = errno_status("fdatasync " + path_);
      discard_unsynced();
      return res;
    }
    synced_bytes_ = file_bytes_;
    return res;
  }

  Status health() override {
    // Idle rotation: publish a file once it is max_age old even without new events.
    if (fd_ >= 0 && clock_.steady_now() - opened_at_ >= opt_.max_age) {
      Status st = finish_file();
      if (!st) return st;
    }
    if (::access(opt_.dir.c_str(), W_OK) != 0) return errno_status("cannot write to " + opt_.dir);
    return last_error_;
  }

  Status close(SteadyClock::time_point) override {
    if (fd_ < 0) return Status::ok();
    return finish_file();
  }

 private:
  Status open_file() {
    char stamp[32];
    std::time_t now = std::chrono::system_clock::to_time_t(clock_.system_now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int n = 0; n < 100000; ++n) {
      char num[16];
      std::snprintf(num, sizeof num, "%04d", n);
      std::string final_path = opt_.dir + "/" + opt_.prefix + "-" + stamp + "-" + num +
                               (opt_.gzip ? ".ndjson.gz" : ".ndjson");
      if (::access(final_path.c_str(), F_OK) == 0) continue;
      std::string path = final_path + kOpenSuffix;
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd_ < 0) {
        if (errno == EEXIST) continue;
        last_error_ = errno_status("create " + path);
        return last_error_;
      }
      path_ = path;
      final_path_ = final_path;
      break;
    }
    if (fd_ < 0) return Status(StatusCode::kIOError, "no free file name in " + opt_.dir);
    file_bytes_ = 0;
    synced_bytes_ = 0;
    opened_at_ = clock_.steady_now();
    if (opt_.gzip) {
      zs_ = z_stream{};
      // windowBits 15 + 16: a gzip header and trailer, as gzip(1) writes.
      if (deflateInit2(&zs_, opt_.gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        ::close(fd_);
        fd_ = -1;
        return Status(StatusCode::kInternal, "deflateInit2 failed");
      }
      z_open_ = true;
    }
    // Make the new file's directory entry durable; report a failure, never drop it.
    Status synced = base::sync_dir(opt_.dir);
    if (!synced) {
      if (z_open_) deflateEnd(&zs_);
      z_open_ = false;
      ::close(fd_);
      fd_ = -1;
      (void)::unlink(path_.c_str());  // empty: nothing to publish
      last_error_ = synced;
      return synced;
    }
    return Status::ok();
  }

  // Appends to the file; on failure rolls the file back to its last synced
  // size: the runner delivers everything since the last flush again, so
  // nothing is duplicated or torn.
  Status write_bytes(const char* p, std::size_t n) {
    if (!base::write_all(fd_, p, n)) {
      last_error_ = errno_status("write " + path_);
      discard_unsynced();
      return last_error_;
    }
    file_bytes_ += n;
    bytes_->inc(n);
    last_error_ = Status::ok();
    return Status::ok();
  }

  // Drops what was written since the last fdatasync. A gzip stream cannot go
  // back: its file ends at the last synced flush point (a valid, if
  // trailer-less, gzip prefix) and the next delivery starts a new one.
  void discard_unsynced() {
    if (::ftruncate(fd_, static_cast<off_t>(synced_bytes_)) == 0) {
      (void)::lseek(fd_, static_cast<off_t>(synced_bytes_), SEEK_SET);
      (void)::fdatasync(fd_);
    }
    file_bytes_ = synced_bytes_;
    if (opt_.gzip) abandon_file();
  }

  Status deflate_into(const std::string& text, int flush, std::string* out) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    zs_.avail_in = static_cast<uInt>(text.size());
    char buf[64 * 1024];
    do {
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof buf;
      int rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_ERROR) return Status(StatusCode::kInternal, "deflate failed");
      out->append(buf, sizeof buf - zs_.avail_out);
    } while (zs_.avail_out == 0 || zs_.avail_in > 0);
    return Status::ok();
  }

  Status write_gzip(const std::string& text) {
    std::string out;
    Status st = deflate_into(text, Z_SYNC_FLUSH, &out);
    if (!st) {
      discard_unsynced();  // the stream is unusable: a new file on the retry
      return st;
    }
    return write_bytes(out.data(), out.size());
  }

  void abandon_file() {
    if (z_open_) deflateEnd(&zs_);
    z_open_ = false;
    ::close(fd_);
    fd_ = -1;
    if (::rename(path_.c_str(), final_path_.c_str()) != 0) return;
    // Already on a failure path (its error is what the caller reports); the
    // published name may not be durable, so say so rather than lose it.
    Status synced = base::sync_dir(opt_.dir);
    if (!synced) {
      log::warn("file sink: a published file's name may not be durable",
                {{"sink", name_}, {"path", final_path_}, {"error", synced.message()}});
    }
  }

  // Ends the file (gzip trailer), makes it durable and publishes it under
  // its final name.
  Status finish_file() {
    if (opt_.gzip && z_open_) {
      std::string out;
      std::string empty;
      Status st = deflate_into(empty, Z_FINISH, &out);
      if (!st) {
        discard_unsynced();
        return st;
      }
      st = write_bytes(out.data(), out.size());  // discards what is unsynced if it fails
      if (!st) return st;
      deflateEnd(&zs_);
      z_open_ = false;
    }
    DeliveryResult synced = flush();
    if (!synced.status) return synced.status;
    ::close(fd_);
    fd_ = -1;
    if (::rename(path_.c_str(), final_path_.c_str()) != 0) {
      last_error_ = errno_status("rename " + path_);
      return last_error_;
    }
    rotations_->inc();
    // Published; if its name is not durable the runner retries the batch
    // that asked for the rotation into a new file (no event is lost).
    Status dir_synced = base::sync_dir(opt_.dir);
    if (!dir_synced) last_error_ = dir_synced;
    return dir_synced;
  }

  // Files left ".open" by a crash hold events: publish them. A crash
  // between write(2) and fdatasync can leave the end of a line on disk
  // without its start: a plain file is cut after its last complete line
  // (those events come again from the spool, whose cursor never passed
  // them), and one with no complete line is removed. A gzip file is
  // published as it is: a reader gets every complete flush, then an
  // unexpected end.
  Status recover_open_files() {
    DIR* d = ::opendir(opt_.dir.c_str());
    if (!d) return Status::ok();
    std::string want = opt_.prefix + "-";
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(want, 0) != 0 || !ends_with(n, kOpenSuffix)) continue;
      std::string from = opt_.dir + "/" + n;
      if (from == path_) continue;
      std::string to = from.substr(0, from.size() - (sizeof kOpenSuffix - 1));
      off_t cut = 0, left = 1;
      if (!ends_with(to, ".gz") && !cut_torn_line(from, &cut, &left))
        continue;  // unreadable: leave it
      if (left == 0) {
        if (::unlink(from.c_str()) == 0) {
          log::info("file sink: removed a file left open by a crash with no complete line",
                    {{"sink", name_}, {"path", from}, {"bytes_cut", static_cast<int64_t>(cut)}});
        }
        continue;
      }
      if (::rename(from.c_str(), to.c_str()) == 0) {
        log::info("file sink: published a file left open by a crash",
                  {{"sink", name_}, {"path", to}, {"bytes_cut", static_cast<int64_t>(cut)}});
      }
    }
    ::closedir(d);
    return base::sync_dir(opt_.dir);
  }

  // Truncates `path` after its last newline; `cut` gets the bytes removed,
  // `left` what remains. False if the file cannot be read or cut.
  static bool cut_torn_line(const std::string& path, off_t* cut, off_t* left) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0;
    off_t keep = ok ? st.st_size : 0;
    char buf[4096];
    while (ok && keep > 0) {
      off_t from =
          keep > static_cast<off_t>(sizeof buf) ? keep - static_cast<off_t>(sizeof buf) : 0;
      ssize_t n = ::pread(fd, buf, static_cast<std::size_t>(keep - from), from);
      if (n != keep - from) {
        ok = false;
        break;
      }
      if (const void* nl = ::memrchr(buf, '\n', static_cast<std::size_t>(n))) {
        keep = from + (static_cast<const char*>(nl) - buf) + 1;
        break;
      }
      keep = from;
    }
    if (ok && keep < st.st_size) ok = ::ftruncate(fd, keep) == 0 && ::fdatasync(fd) == 0;
    ::close(fd);
    if (ok) {
      *cut = st.st_size - keep;
      *left = keep;
    }
    return ok;
  }

  std::string name_;
  Options opt_;
  const Clock& clock_;  // rotation age and file names
  int fd_ = -1;
  std::string path_;
  std::string final_path_;
  std::size_t file_bytes_ = 0;    // written
  std::size_t synced_bytes_ = 0;  // of which made durable by fdatasync
  SteadyClock::time_point opened_at_{};
  z_stream zs_{};
  bool z_open_ = false;
  std::string text_;
  Status last_error_;
  Counter* rotations_;
  Counter* bytes_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_file_sink(const SinkConfig& config, const SinkContext& ctx) {
  SinkSettings s(config);
  Options o;
  o.dir = s.str("dir", "");
  if (o.dir.empty()) o.dir = ctx.data_dir + "/events";
  o.prefix = s.str("prefix", config.name);
  o.max_bytes = s.size("max_bytes", 128u << 20);
  o.max_age = s.duration("max_age", std::chrono::hours(1));
  o.gzip = s.boolean("gzip", false);
  o.gzip_level = static_cast<int>(s.integer("gzip_level", 6, 1, 9));
  Status st = s.finish();
  if (!st) return st;
  if (o.prefix.empty() || o.prefix.find('/') != std::string::npos) {
    return Status(StatusCode::kInvalidArgument,
                  "sink \"" + config.name + "\" (file): prefix must be a non-empty file name part");
  }
  if (o.max_age.count() <= 0) {
    return Status(StatusCode::kInvalidArgument,
                  "sink \"" + config.name + "\" (file): max_age must be positive");
  }
  return std::unique_ptr<Sink>(new FileSink(config.name, std::move(o), *ctx.metrics, *ctx.clock));
}

}  // namespace tern::relay
