// ObjectWriter: raw deflate (windowBits -15) between a gzip header and
// trailer written here, so every byte of the header is fixed (zlib's own gzip
// wrapper is fixed too, but this keeps it obvious): magic, CM=8, no flags,
// mtime 0, XFL 0, OS 255 (unknown).
#include "object_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tern/base/file.h"
#include "tern/base/sha256.h"

namespace tern::relay::s3 {
namespace {

constexpr std::size_t kOutBuffer = 256 * 1024;
// Events are gathered and deflated this much at a time: one deflate() call
// per event costs more than the copy. Small, so compressed_bytes() follows the
// stream closely (the s3 sink seals by it).
constexpr std::size_t kInBuffer = 4 * 1024;
constexpr unsigned char kGzipHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};

Status errno_status(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

struct ObjectWriter::Impl {
  std::string path;
  int fd = -1;
  z_stream zs{};
  bool z_open = false;
  std::unique_ptr<base::Sha256> md;
  std::string in;                  // events not yet deflated
  std::vector<unsigned char> out;  // compressed bytes not yet written
  uint64_t written = 0;            // compressed bytes written to the file
  uint64_t in_bytes = 0;
  uint64_t events = 0;
  uLong crc = 0;
  bool finished = false;
  Status broken;  // a failed write leaves the stream unusable
  uint64_t size = 0;
  std::string sha256;

  ~Impl() {
    if (z_open) deflateEnd(&zs);
    if (fd >= 0) ::close(fd);
  }

  void append_out(const unsigned char* p, std::size_t n) { out.insert(out.end(), p, p + n); }

  Status write_out() {
    if (out.empty()) return Status::ok();
    if (!md->update(out.data(), out.size())) {
      broken = Status::Internal("SHA-256 update failed for " + path);
      return broken;
    }
    if (!base::write_all(fd, reinterpret_cast<const char*>(out.data()), out.size())) {
      broken = errno_status("write", path);
      return broken;
    }
    written += out.size();
    out.clear();
    return Status::ok();
  }

  // Deflates the gathered events with `flush`.
  Status deflate_in(int flush) {
    crc = crc32(crc, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(in.size()));
    zs.next_in = reinterpret_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    Status st = run(flush);
    in.clear();
    return st;
  }

  // Runs deflate over the pending input with `flush`, collecting its output.
  Status run(int flush) {
    unsigned char buf[64 * 1024];
    for (;;) {
      zs.next_out = buf;
      zs.avail_out = sizeof buf;
      int rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) {
        broken = Status::Internal("deflate failed for " + path);
        return broken;
      }
      append_out(buf, sizeof buf - zs.avail_out);
      if (out.size() >= kOutBuffer) {
        Status st = write_out();
        if (!st) return st;
      }
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (zs.avail_in == 0 && zs.avail_out != 0)) break;
    }
    return Status::ok();
  }
};

Result<std::unique_ptr<ObjectWriter>> ObjectWriter::create(std::string path, int gzip_level) {
  std::unique_ptr<ObjectWriter> w(new ObjectWriter());
  w->impl_ = std::make_unique<Impl>();
  Impl& m = *w->impl_;
  m.path = std::move(path);
  m.fd = ::open(m.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m.fd < 0) return errno_status("create", m.path);
  if (deflateInit2(&m.zs, gzip_level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::Internal("deflateInit2 failed for " + m.path);
  m.z_open = true;
  m.md = std::make_unique<base::Sha256>();
  if (!m.md->ok()) return Status::Internal("SHA-256 init failed for " + m.path);
  m.crc = crc32(0L, Z_NULL, 0);
  m.out.reserve(kOutBuffer + 64 * 1024);
  m.in.reserve(kInBuffer + 4096);
  m.append_out(kGzipHeader, sizeof kGzipHeader);
  return w;
}

ObjectWriter::~ObjectWriter() = default;

Status ObjectWriter::add(std::string_view event) {
  Impl& m = *impl_;
  if (!m.broken) return m.broken;
  if (m.finished) return Status::FailedPrecondition("object " + m.path + " is finished");
  // One event per line: valid JSON has raw newlines only as whitespace.
  const std::size_t start = m.in.size();
  m.in.append(event.data(), event.size());
  // Two memchr scans: find_first_of with a set is a loop of memchr calls, one per byte.
  if (std::memchr(event.data(), '\n', event.size()) ||
      std::memchr(event.data(), '\r', event.size())) {
    for (std::size_t i = start; i < m.in.size(); ++i) {
      if (m.in[i] == '\n' || m.in[i] == '\r') m.in[i] = ' ';
    }
  }
  m.in.push_back('\n');
  m.in_bytes += event.size() + 1;
  if (m.in.size() >= kInBuffer) {
    Status st = m.deflate_in(Z_NO_FLUSH);
    if (!st) return st;
  }
  ++m.events;
  return Status::ok();
}

uint64_t ObjectWriter::compressed_bytes() const { return impl_->written + impl_->out.size(); }
uint64_t ObjectWriter::uncompressed_bytes() const { return impl_->in_bytes; }
uint64_t ObjectWriter::events() const { return impl_->events; }

Status ObjectWriter::finish() {
  Impl& m = *impl_;
  if (!m.broken) return m.broken;
  if (m.finished) return Status::ok();
  Status st = m.deflate_in(Z_FINISH);
  if (!st) return st;
  deflateEnd(&m.zs);
  m.z_open = false;
  unsigned char trailer[8];
  const uint32_t crc = static_cast<uint32_t>(m.crc);
  const uint32_t isize = static_cast<uint32_t>(m.in_bytes & 0xffffffffu);  // mod 2^32, as gzip
  for (int i = 0; i < 4; ++i) {
    trailer[i] = static_cast<unsigned char>(crc >> (8 * i));
    trailer[4 + i] = static_cast<unsigned char>(isize >> (8 * i));
  }
  m.append_out(trailer, sizeof trailer);
  st = m.write_out();
  if (!st) return st;
  if (::fdatasync(m.fd) != 0) {
    m.broken = errno_status("fdatasync", m.path);
    return m.broken;
  }
  if (::close(m.fd) != 0) {
    m.fd = -1;
    m.broken = errno_status("close", m.path);
    return m.broken;
  }
  m.fd = -1;
  if (!m.md->finish(&m.sha256)) {
    m.broken = Status::Internal("SHA-256 final failed for " + m.path);
    return m.broken;
  }
  m.size = m.written;
  m.finished = true;
  return Status::ok();
}

uint64_t ObjectWriter::size() const { return impl_->size; }
const std::string& ObjectWriter::sha256_hex() const { return impl_->sha256; }
const std::string& ObjectWriter::path() const { return impl_->path; }

}  // namespace tern::relay::s3
