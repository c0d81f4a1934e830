// GET /admin/v1/overview and /admin/v1/sinks/{name}/dead-letters (admin_console.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "admin_console.h"

namespace tern::relay::control {
namespace {

constexpr std::size_t kDefaultDeadLetters = 50;
constexpr std::size_t kMaxDeadLetters = 1000;
// The most of a dead-letter file one request reads, from its end: the file
// only grows, and the page wants its newest lines.
constexpr std::size_t kMaxScanBytes = 4 * 1024 * 1024;
constexpr std::size_t kChunkBytes = 64 * 1024;

std::size_t dead_letter_limit(const admin::Query& q) {
  if (!q.has("limit")) return kDefaultDeadLetters;
  const std::string v = q.get("limit");
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || n > static_cast<long>(kMaxDeadLetters)) {
    admin::invalid("limit",
                   "?limit= must be a whole number from 1 to " + std::to_string(kMaxDeadLetters));
  }
  return static_cast<std::size_t>(n);
}

struct Tail {
  std::vector<std::string> lines;  // newest first
  bool truncated = false;          // the byte bound stopped the scan short of `limit`
};

// The newest `limit` lines of the open file `fd` of `size` bytes, reading
// backwards in chunks and at most kMaxScanBytes. A last line without its
// newline (a write under way, or torn by a crash) counts as a line.
Tail read_tail(int fd, uint64_t size, std::size_t limit, std::string* error) {
  Tail tail;
  // buf[start, buf.size()) holds the file's bytes [pos, size), filled from
  // the back one chunk at a time.
  std::string buf(static_cast<std::size_t>(std::min<uint64_t>(size, kMaxScanBytes)), '\0');
  std::size_t start = buf.size();
  uint64_t pos = size;
  std::size_t newlines = 0;  // in what was read, but for the file's final one
  while (pos > 0 && newlines < limit && start > 0) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>({pos, kChunkBytes, start}));
    char* at = buf.data() + start - n;
    std::size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd, at + got, n - got, static_cast<off_t>(pos - n + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        *error = r < 0 ? std::strerror(errno) : "the file shrank while it was read";
        return tail;
      }
      got += static_cast<std::size_t>(r);
    }
    newlines += static_cast<std::size_t>(std::count(at, at + n, '\n'));
    if (pos == size && at[n - 1] == '\n') --newlines;
    pos -= n;
    start -= n;
  }
  std::string_view view = std::string_view(buf).substr(start);
  if (!view.empty() && view.back() == '\n') view.remove_suffix(1);
  // Lines from the newest; the first one read is whole only at the file's
  // start. Blank lines are not dead letters.
  auto take = [&](std::string_view line) {
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) tail.lines.emplace_back(line);
  };
  while (tail.lines.size() < limit && !view.empty()) {
    const std::size_t nl = view.rfind('\n');
    if (nl == std::string_view::npos) {
      if (pos == 0) take(view);
      break;
    }
    take(view.substr(nl + 1));
    view = view.substr(0, nl);
  }
  tail.truncated = tail.lines.size() < limit && pos > 0;
  return tail;
}

// A line as the sink runner wrote it (one JSON object) goes out as it is;
// anything else as {"raw": "..."}.
void append_item(std::string& out, const std::string& line) {
  std::size_t first = line.find_first_not_of(" \t\r");
  if (first != std::string::npos && line[first] == '{' && Json::accept(line)) {
    out += line;
    return;
  }
  out += admin::dump(Json{{"raw", line}});
}

}  // namespace

HttpResponse overview_response(const StatsHistory* stats) {
  if (!stats) admin::fail(503, "unavailable", "this relay keeps no overview history");
  HttpResponse r;
  r.body = stats->overview_json();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse dead_letters_response(const DurablePipeline* pipeline, const std::string& sink,
                                   const admin::Query& query) {
  const std::size_t limit = dead_letter_limit(query);
  if (!pipeline) admin::fail(503, "unavailable", "this relay runs no pipeline");
  const DurablePipeline::State state = pipeline->state();
  auto it = std::find_if(state.sinks.begin(), state.sinks.end(),
                         [&](const DurablePipeline::SinkState& s) { return s.name == sink; });
  if (it == state.sinks.end()) {
    admin::fail(404, "not_found", "no sink named \"" + sink + "\" runs on this relay");
  }
  const std::string& path = it->dead_letter_path;

  Tail tail;
  int fd = path.empty() ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && !path.empty() && errno != ENOENT) {
    admin::fail(500, "internal", "cannot open " + path + ": " + std::strerror(errno));
  }
  if (fd >= 0) {
    struct stat st {};
    std::string error;
    if (::fstat(fd, &st) != 0) error = std::strerror(errno);
    if (error.empty()) tail = read_tail(fd, static_cast<uint64_t>(st.st_size), limit, &error);
    ::close(fd);
    if (!error.empty()) admin::fail(500, "internal", "cannot read " + path + ": " + error);
  }

  std::string out = "{\"sink\":" + admin::dump(Json(sink)) + ",\"path\":" + admin::dump(Json(path));
  out += ",\"items\":[";
  for (std::size_t i = 0; i < tail.lines.size(); ++i) {
    if (i) out += ',';
    append_item(out, tail.lines[i]);
  }
  out += ']';
  if (tail.truncated) out += ",\"truncated\":true";
  out += '}';
  HttpResponse r;
  r.body = std::move(out);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace tern::relay::control
