#include "fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tern::relay::fs {

Status make_dirs(const std::string& path) {
  if (path.empty()) return Status::ok();
  std::string cur;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    cur = path.substr(0, slash);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status(StatusCode::kStorage, "mkdir " + cur + ": " + std::strerror(errno));
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
  if (fd < 0) return Status(StatusCode::kStorage, "open " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status(StatusCode::kStorage, "fsync " + dir + ": " + std::strerror(err));
  return Status::ok();
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::write(fd, data, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace tern::relay::fs
