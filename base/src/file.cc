#include "tern/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tern::base {
namespace {

// kIOError "what: strerror(err)", leaving errno as it was.
Status io_error(const std::string& what, int err) {
  Status st = Status::IOError(what + ": " + std::strerror(err));
  errno = err;
  return st;
}

}  // namespace

Status make_dirs(const std::string& path) {
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    std::string cur = path.substr(0, slash);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return io_error("mkdir " + cur, errno);
    }
    i = slash + 1;
  }
  return Status::ok();
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsync " + dir, err);
  return Status::ok();
}

Status write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::write(fd, data, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("write", errno);
    }
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return Status::ok();
}

}  // namespace tern::base
