#include "tern/relay/sinks/stdout.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tern/relay/sink_settings.h"

namespace tern::relay {
namespace {

class StdoutSink final : public Sink {
 public:
  explicit StdoutSink(int fd) : fd_(fd) {}
  Status open() override { return Status::ok(); }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    text_.clear();
    for (const auto& r : batch) {
      std::size_t start = text_.size();
      text_.append(r.event.data(), r.event.size());
      for (std::size_t i = start; i < text_.size(); ++i) {
        if (text_[i] == '\n' || text_[i] == '\r') text_[i] = ' ';
      }
      text_ += '\n';
    }
    DeliveryResult res;
    const char* p = text_.data();
    std::size_t n = text_.size();
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        // A partial batch may have been written; the retry repeats it
        // (at-least-once, like every sink).
        res.status = Status(StatusCode::kUnavailable,
                            std::string("write to stdout: ") + std::strerror(errno));
        return res;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return res;
  }

  Status health() override { return Status::ok(); }
  Status close(std::chrono::steady_clock::time_point) override { return Status::ok(); }

 private:
  int fd_;
  std::string text_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_stdout_sink(const SinkConfig& config, const SinkContext&) {
  SinkSettings s(config);
  // "fd" exists for tests and for embedding (write to another descriptor).
  int fd = static_cast<int>(s.integer("fd", STDOUT_FILENO, 0, 1 << 20));
  Status st = s.finish();
  if (!st) return st;
  return std::unique_ptr<Sink>(new StdoutSink(fd));
}

}  // namespace tern::relay
