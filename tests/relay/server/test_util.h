// Shared helpers for the relay server tests: a fake Pipeline and gzip.
#pragma once

#include <zlib.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tern/relay/pipeline.h"

namespace tern::relay::testing {

// A Pipeline that records submissions. As the real one, it never answers
// inside submit(): answers wait until the test calls fire(), which answers
// every pending submission with `result`.
class FakePipeline : public Pipeline {
 public:
  void submit(Submission submission, std::function<void(Status)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    submissions.push_back(std::move(submission));
    pending_.push_back(std::move(done));
    cv_.notify_all();
  }
  bool ready(std::string* why) const override {
    if (!is_ready) *why = not_ready_reason;
    return is_ready;
  }
  int retry_after_seconds() const override { return retry_after; }

  // Answers every pending submission with `result`.
  void fire() {
    std::vector<std::function<void(Status)>> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending.swap(pending_);
    }
    for (auto& done : pending) done(result);
  }
  std::size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
  }
  std::vector<std::string> all_events() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (auto& s : submissions) {
      for (std::size_t i = 0; i < s.events.size(); ++i) out.emplace_back(s.events.event(i));
    }
    return out;
  }

  Status result;
  bool is_ready = true;
  std::string not_ready_reason = "spool full";
  int retry_after = 7;
  std::vector<Submission> submissions;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void(Status)>> pending_;
};

inline std::string gzip(std::string_view in, int level = 6) {
  z_stream s{};
  deflateInit2(&s, level, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, static_cast<uLong>(in.size())) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(&out[0]);
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// A gzip stream of `n` zero bytes, compressed in chunks (so a huge n costs
// little memory to build).
inline std::string gzip_zeros(std::size_t n) {
  z_stream s{};
  deflateInit2(&s, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
  std::string zeros(1 << 16, '\0');
  std::string out;
  char buf[1 << 14];
  std::size_t left = n;
  do {
    std::size_t take = std::min(left, zeros.size());
    left -= take;
    s.next_in = reinterpret_cast<Bytef*>(&zeros[0]);
    s.avail_in = static_cast<uInt>(take);
    int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      s.next_out = reinterpret_cast<Bytef*>(buf);
      s.avail_out = sizeof buf;
      deflate(&s, flush);
      out.append(buf, sizeof buf - s.avail_out);
    } while (s.avail_out == 0);
  } while (left > 0);
  deflateEnd(&s);
  return out;
}

}  // namespace tern::relay::testing
