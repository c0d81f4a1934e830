#include "loadgen.h"

#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

namespace tern::bench {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

double seconds_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

bool iequal_prefix(const char* p, const char* end, const char* lit) {
  for (; *lit; ++lit, ++p) {
    if (p == end) return false;
    char c = *p;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != *lit) return false;
  }
  return true;
}

// Where one answer ends in `in`, if it is complete.
enum class Parse { kNeedMore, kDone, kBad };
struct Answer {
  int status = 0;
  std::size_t length = 0;  // bytes of `in` the answer takes
  bool close = false;
};

Parse parse_answer(const std::string& in, Answer* a) {
  std::size_t hdr_end = in.find("\r\n\r\n");
  if (hdr_end == std::string::npos) return in.size() > 65536 ? Parse::kBad : Parse::kNeedMore;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return Parse::kBad;
  std::size_t sp = in.find(' ');
  if (sp == std::string::npos || sp + 4 > hdr_end) return Parse::kBad;
  a->status = std::atoi(in.c_str() + sp + 1);
  bool http10 = in.compare(0, 8, "HTTP/1.0") == 0;
  a->close = http10;
  long long content_length = -1;
  bool chunked = false;
  const char* base = in.data();
  std::size_t pos = in.find("\r\n") + 2;
  while (pos < hdr_end) {
    std::size_t eol = in.find("\r\n", pos);
    const char* p = base + pos;
    const char* e = base + eol;
    if (iequal_prefix(p, e, "content-length:")) {
      content_length = std::atoll(p + 15);
    } else if (iequal_prefix(p, e, "transfer-encoding:")) {
      std::string v(p + 18, e);
      chunked = v.find("chunked") != std::string::npos;
    } else if (iequal_prefix(p, e, "connection:")) {
      std::string v(p + 11, e);
      for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v.find("close") != std::string::npos) a->close = true;
      if (v.find("keep-alive") != std::string::npos) a->close = false;
    }
    pos = eol + 2;
  }
  std::size_t body = hdr_end + 4;
  if (chunked) {
    std::size_t p = body;
    for (;;) {
      std::size_t eol = in.find("\r\n", p);
      if (eol == std::string::npos) return Parse::kNeedMore;
      unsigned long size = std::strtoul(in.c_str() + p, nullptr, 16);
      if (size == 0) {
        // No trailers expected: the last chunk is followed by an empty line.
        if (in.size() < eol + 4) return Parse::kNeedMore;
        a->length = eol + 4;
        return Parse::kDone;
      }
      p = eol + 2 + size + 2;
      if (in.size() < p) return Parse::kNeedMore;
    }
  }
  if (content_length < 0) {
    if (a->status == 204 || a->status == 304 || (a->status >= 100 && a->status < 200))
      content_length = 0;
    else
      return Parse::kBad;  // read-until-close answers are not supported
  }
  if (in.size() < body + static_cast<std::size_t>(content_length)) return Parse::kNeedMore;
  a->length = body + static_cast<std::size_t>(content_length);
  return Parse::kDone;
}

bool resolve(const std::string& host, uint16_t port, sockaddr_in* out) {
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(port);
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  return ::inet_pton(AF_INET, h.c_str(), &out->sin_addr) == 1;
}

enum class ConnState { kDown, kConnecting, kIdle, kBusy };

struct Conn {
  int fd = -1;
  ConnState state = ConnState::kDown;
  const std::string* req = nullptr;
  std::size_t sent = 0;
  std::string in;
  TimePoint sched{};     // latency origin: scheduled (open loop) or send (closed loop) time
  TimePoint sent_at{};   // when the first byte went out (timeouts)
  TimePoint retry_at{};  // kDown: reconnect not before this
  bool want_out = false;
};

class Runner {
 public:
  Runner(const LoadOptions& opt, const RequestSource& source) : opt_(opt), source_(source) {}

  LoadResult run() {
    if (!resolve(opt_.host, opt_.port, &addr_)) {
      res_.errors = 1;
      res_.first_error = "cannot parse IPv4 address " + opt_.host;
      return res_;
    }
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep_ < 0 || tfd_ < 0) {
      res_.errors = 1;
      res_.first_error = std::string("epoll/timerfd: ") + std::strerror(errno);
      cleanup();
      return res_;
    }
    epoll_event tev{};
    tev.events = EPOLLIN;
    tev.data.u64 = kTimerTag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, tfd_, &tev);

    conns_.resize(static_cast<std::size_t>(std::max(1, opt_.connections)));
    t0_ = Clock::now();
    m_start_ = t0_ + to_dur(opt_.warmup_s);
    m_end_ = m_start_ + to_dur(opt_.duration_s);
    for (std::size_t i = 0; i < conns_.size(); ++i) connect_conn(i);

    std::vector<epoll_event> events(conns_.size() + 1);
    bool measuring = false;
    double cpu_start = 0;
    for (;;) {
      TimePoint now = Clock::now();
      if (!measuring && now >= m_start_) {
        measuring = true;
        cpu_start = thread_cpu_s();
      }
      if (now >= m_end_ || exhausted_) stopping_ = true;
      if (!stopping_) schedule(now);
      check_timeouts(now);
      dispatch(now);
      if (stopping_ && busy_count() == 0) break;
      if (stopping_ && now > m_end_ + to_dur(opt_.request_timeout_s) + std::chrono::seconds(1))
        break;

      int timeout_ms = arm_timer(now);
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR) {
        note_error(std::string("epoll_wait: ") + std::strerror(errno));
        break;
      }
      now = Clock::now();
      for (int k = 0; k < n; ++k) {
        if (events[k].data.u64 == kTimerTag) {
          uint64_t ticks;
          while (::read(tfd_, &ticks, sizeof ticks) > 0) {
          }
          continue;
        }
        on_event(static_cast<std::size_t>(events[k].data.u64), events[k].events, now);
      }
    }
    TimePoint end = std::min(Clock::now(), m_end_);
    if (measuring) {
      res_.measured_s = std::max(0.0, seconds_between(m_start_, end));
      res_.load_cpu_s = thread_cpu_s() - cpu_start;
    }
    cleanup();
    return res_;
  }

 private:
  static constexpr uint64_t kTimerTag = ~uint64_t{0};

  static Clock::duration to_dur(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  void cleanup() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
    if (tfd_ >= 0) ::close(tfd_);
    if (ep_ >= 0) ::close(ep_);
    tfd_ = ep_ = -1;
  }

  void note_error(const std::string& what) {
    ++res_.errors;
    if (res_.first_error.empty()) res_.first_error = what;
  }

  std::size_t busy_count() const {
    std::size_t n = 0;
    for (const auto& c : conns_) n += c.state == ConnState::kBusy;
    return n + pending_.size();
  }

  // Open loop: move every request due by `now` to the pending queue.
  void schedule(TimePoint now) {
    if (opt_.rate_rps <= 0) return;
    for (;;) {
      TimePoint due = t0_ + to_dur(static_cast<double>(next_index_) / opt_.rate_rps);
      if (due > now || due >= m_end_) return;
      const std::string* r = source_(next_index_);
      if (!r) {
        exhausted_ = true;
        return;
      }
      pending_.push_back({r, due});
      ++next_index_;
    }
  }

  int arm_timer(TimePoint now) {
    TimePoint next = now + std::chrono::milliseconds(50);
    if (opt_.rate_rps > 0 && !stopping_) {
      next = std::min(next, t0_ + to_dur(static_cast<double>(next_index_) / opt_.rate_rps));
    }
    if (!stopping_ || !pending_.empty()) {
      for (const auto& c : conns_) {
        if (c.state == ConnState::kDown) next = std::min(next, c.retry_at);
      }
    }
    if (!measuring_started(now)) next = std::min(next, m_start_);
    if (!stopping_) next = std::min(next, m_end_);
    if (next <= now) return 0;
    // timerfd gives sub-millisecond wake-ups for the schedule.
    itimerspec its{};
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next.time_since_epoch()).count();
    its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    ::timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &its, nullptr);
    return 100;
  }

  bool measuring_started(TimePoint now) const { return now >= m_start_; }

  void check_timeouts(TimePoint now) {
    auto limit = to_dur(opt_.request_timeout_s);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if ((c.state == ConnState::kBusy || c.state == ConnState::kConnecting) &&
          now - c.sent_at > limit) {
        note_error("request timed out");
        reconnect(i, now);
      }
    }
  }

  // Give idle connections their next request.
  void dispatch(TimePoint now) {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      bool wanted = !stopping_ || !pending_.empty();
      if (c.state == ConnState::kDown && now >= c.retry_at && wanted) connect_conn(i);
      if (c.state != ConnState::kIdle) continue;
      if (opt_.rate_rps <= 0 && stopping_) continue;
      const std::string* r = nullptr;
      TimePoint sched = now;
      if (opt_.rate_rps > 0) {
        if (pending_.empty()) return;
        r = pending_.front().req;
        sched = pending_.front().due;
        pending_.pop_front();
        if (sched >= m_start_ && sched < m_end_ && now - sched > std::chrono::milliseconds(1))
          ++res_.late;
      } else {
        r = source_(next_index_);
        if (!r) {
          exhausted_ = true;
          return;
        }
        ++next_index_;
      }
      start_request(i, r, sched, now);
    }
  }

  void start_request(std::size_t i, const std::string* r, TimePoint sched, TimePoint now) {
    Conn& c = conns_[i];
    c.state = ConnState::kBusy;
    c.req = r;
    c.sent = 0;
    c.in.clear();
    c.sched = sched;
    c.sent_at = now;
    flush_out(i, now);
  }

  void set_interest(std::size_t i, bool out) {
    Conn& c = conns_[i];
    if (c.want_out == out) return;
    c.want_out = out;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void flush_out(std::size_t i, TimePoint now) {
    Conn& c = conns_[i];
    while (c.sent < c.req->size()) {
      ssize_t n = ::send(c.fd, c.req->data() + c.sent, c.req->size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(i, true);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      note_error(std::string("send: ") + std::strerror(errno));
      reconnect(i, now);
      return;
    }
    if (in_window(c.sched)) res_.bytes_sent += c.req->size();
    set_interest(i, false);
  }

  bool in_window(TimePoint t) const { return t >= m_start_ && t < m_end_; }

  void on_event(std::size_t i, uint32_t ev, TimePoint now) {
    if (i >= conns_.size()) return;
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (c.state == ConnState::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        note_error(std::string("connect: ") + std::strerror(err ? err : ECONNREFUSED));
        mark_down(i, now);
        return;
      }
      c.state = ConnState::kIdle;
      set_interest(i, false);
      return;
    }
    if ((ev & EPOLLOUT) && c.state == ConnState::kBusy && c.req && c.sent < c.req->size()) {
      flush_out(i, now);
      if (c.fd < 0 || c.state != ConnState::kBusy) return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_in(i, now);
  }

  void read_in(std::size_t i, TimePoint now) {
    Conn& c = conns_[i];
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      // EOF or error: an answer cut short is an error; an idle close is not.
      if (c.state == ConnState::kBusy) {
        Answer a;
        if (parse_answer(c.in, &a) == Parse::kDone) {
          complete(i, a, now);
        } else {
          note_error(n == 0 ? "server closed the connection mid-request"
                            : std::string("recv: ") + std::strerror(errno));
        }
      }
      reconnect(i, now);
      return;
    }
    if (c.state != ConnState::kBusy) {
      if (!c.in.empty()) {
        note_error("unexpected bytes on an idle connection");
        reconnect(i, now);
      }
      return;
    }
    Answer a;
    Parse p = parse_answer(c.in, &a);
    if (p == Parse::kNeedMore) return;
    if (p == Parse::kBad) {
      note_error("unparseable answer: " + c.in.substr(0, 80));
      reconnect(i, now);
      return;
    }
    complete(i, a, now);
    if (a.close) {
      reconnect(i, now);
      return;
    }
    c.in.erase(0, a.length);
    c.state = ConnState::kIdle;
    c.req = nullptr;
  }

  void complete(std::size_t i, const Answer& a, TimePoint now) {
    Conn& c = conns_[i];
    if (!in_window(c.sched)) return;
    if (a.status >= 200 && a.status < 300)
      ++res_.ok;
    else
      ++res_.non_2xx;
    ++res_.statuses[a.status];
    res_.latency_us.push_back(std::chrono::duration<double, std::micro>(now - c.sched).count());
  }

  void connect_conn(std::size_t i) {
    Conn& c = conns_[i];
    c.in.clear();
    c.req = nullptr;
    c.want_out = true;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    TimePoint now = Clock::now();
    if (c.fd < 0) {
      note_error(std::string("socket: ") + std::strerror(errno));
      mark_down(i, now);
      return;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
    if (rc != 0 && errno != EINPROGRESS) {
      note_error(std::string("connect: ") + std::strerror(errno));
      mark_down(i, now);
      return;
    }
    c.state = ConnState::kConnecting;
    c.sent_at = now;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void mark_down(std::size_t i, TimePoint now) {
    Conn& c = conns_[i];
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.state = ConnState::kDown;
    c.retry_at = now + std::chrono::milliseconds(10);
  }

  void reconnect(std::size_t i, TimePoint now) {
    ++res_.reconnects;
    mark_down(i, now);
    conns_[i].retry_at = now;
    if (!stopping_ || !pending_.empty()) connect_conn(i);
  }

  struct Pending {
    const std::string* req;
    TimePoint due;
  };

  const LoadOptions& opt_;
  const RequestSource& source_;
  sockaddr_in addr_{};
  int ep_ = -1;
  int tfd_ = -1;
  std::vector<Conn> conns_;
  std::deque<Pending> pending_;
  TimePoint t0_, m_start_, m_end_;
  uint64_t next_index_ = 0;
  bool stopping_ = false;
  bool exhausted_ = false;
  LoadResult res_;
};

}  // namespace

double LoadResult::percentile_us(double p) {
  if (latency_us.empty()) return 0.0;
  std::sort(latency_us.begin(), latency_us.end());
  double rank = p / 100.0 * static_cast<double>(latency_us.size() - 1);
  std::size_t idx = static_cast<std::size_t>(std::llround(rank));
  return latency_us[std::min(idx, latency_us.size() - 1)];
}

LoadResult run_load(const LoadOptions& opt, const RequestSource& source) {
  Runner r(opt, source);
  return r.run();
}

std::vector<int> open_idle_connections(const std::string& host, uint16_t port, int count,
                                       const std::string& request, std::string* why) {
  std::vector<int> fds;
  sockaddr_in addr{};
  if (!resolve(host, port, &addr)) {
    *why = "cannot parse IPv4 address " + host;
    return fds;
  }
  for (int k = 0; k < count; ++k) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *why = std::string("socket: ") + std::strerror(errno);
      return fds;
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      *why = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      return fds;
    }
    std::size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    std::string in;
    Answer a;
    Parse p = Parse::kNeedMore;
    char buf[16384];
    while (sent == request.size() && p == Parse::kNeedMore) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
      p = parse_answer(in, &a);
    }
    if (p != Parse::kDone || a.close) {
      *why = p != Parse::kDone
                 ? "no complete answer on connection " + std::to_string(k)
                 : "the server closed connection " + std::to_string(k) + " after its answer";
      ::close(fd);
      return fds;
    }
    fds.push_back(fd);
  }
  return fds;
}

// ---------------------------------------------------------------- bodies

BatchGenerator::BatchGenerator(uint64_t seed) : state_(seed ? seed : 0x9e3779b97f4a7c15ull) {
  prefix_ = next_random();
}

uint64_t BatchGenerator::next_random() {
  // splitmix64: fast, good enough for field variety and a run prefix.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void BatchGenerator::append_event(std::string& out) {
  static const char* const kEvents[] = {"Product Viewed",  "Product Added",    "Checkout Started",
                                        "Order Completed", "Search Performed", "Video Played",
                                        "Article Shared",  "Coupon Applied"};
  static const char* const kCategories[] = {"Shoes",   "Books", "Outdoor",
                                            "Kitchen", "Toys",  "Music"};
  static const char* const kScreens[] = {"Home", "Cart", "Search", "Product Detail", "Settings"};
  static const char* const kModels[] = {"Pixel 7", "Pixel 8", "SM-S911B", "iPhone15,2",
                                        "iPhone14,5"};
  uint64_t id = counter_++;
  uint64_t r = next_random();
  uint64_t user = r % 5000;
  char mid[48];
  // UUID text form: the run prefix, then the counter (unique per generator).
  std::snprintf(mid, sizeof mid, "%08x-%04x-7%03x-8%03x-%012llx",
                static_cast<unsigned>(prefix_ >> 32),
                static_cast<unsigned>((prefix_ >> 16) & 0xffff),
                static_cast<unsigned>(prefix_ & 0xfff), static_cast<unsigned>((id >> 48) & 0xfff),
                static_cast<unsigned long long>(id & 0xffffffffffffull));
  char ts[40];
  unsigned ms = static_cast<unsigned>(id % 1000), sec = static_cast<unsigned>((id / 1000) % 60),
           min = static_cast<unsigned>((id / 60000) % 60);
  std::snprintf(ts, sizeof ts, "2026-11-26T04:%02u:%02u.%03uZ", min, sec, ms);
  const char* model = kModels[(r >> 8) % 5];
  bool ios = model[0] == 'i';
  char ctx[640];
  std::snprintf(ctx, sizeof ctx,
                R"("context":{"library":{"name":"tern-cpp","version":"0.1.0"},)"
                R"("app":{"name":"Tern Shop","version":"4.12.%u"},)"
                R"("device":{"manufacturer":"%s","model":"%s"},"os":{"name":"%s","version":"%s"},)"
                R"("locale":"de-DE","timezone":"Europe/Berlin"})",
                static_cast<unsigned>((r >> 12) % 4), ios ? "Apple" : "Google", model,
                ios ? "iOS" : "Android", ios ? "17.1" : "14");
  char buf[1400];
  int kind = static_cast<int>((r >> 24) % 10);  // 70% track, 10% each identify/page/screen
  if (kind < 7) {
    std::snprintf(
        buf, sizeof buf,
        R"({"type":"track","event":"%s","messageId":"%s","anonymousId":"anon-%05llu",)"
        R"("userId":"user-%05llu","timestamp":"%s","properties":{"product_id":"sku-%06llu",)"
        R"("price":%llu.%02llu,"currency":"EUR","category":"%s","position":%llu},%s})",
        kEvents[(r >> 28) % 8], mid, static_cast<unsigned long long>(user),
        static_cast<unsigned long long>(user), ts,
        static_cast<unsigned long long>((r >> 32) % 1000000),
        static_cast<unsigned long long>((r >> 40) % 200),
        static_cast<unsigned long long>((r >> 48) % 100), kCategories[(r >> 52) % 6],
        static_cast<unsigned long long>((r >> 56) % 20), ctx);
  } else if (kind == 7) {
    std::snprintf(
        buf, sizeof buf,
        R"({"type":"identify","messageId":"%s","anonymousId":"anon-%05llu","userId":"user-%05llu",)"
        R"("timestamp":"%s","traits":{"email":"user%05llu@example.com","plan":"pro","logins":%llu},%s})",
        mid, static_cast<unsigned long long>(user), static_cast<unsigned long long>(user), ts,
        static_cast<unsigned long long>(user), static_cast<unsigned long long>((r >> 32) % 500),
        ctx);
  } else {
    const char* type = kind == 8 ? "page" : "screen";
    std::snprintf(
        buf, sizeof buf,
        R"({"type":"%s","name":"%s","messageId":"%s","anonymousId":"anon-%05llu",)"
        R"("timestamp":"%s","properties":{"referrer":"https://example.com/ref/%llu"},%s})",
        type, kScreens[(r >> 28) % 5], mid, static_cast<unsigned long long>(user), ts,
        static_cast<unsigned long long>((r >> 32) % 1000), ctx);
  }
  out += buf;
}

std::string BatchGenerator::batch_json(int events) {
  std::string out;
  out.reserve(static_cast<std::size_t>(events) * 520 + 64);
  out += "{\"batch\":[";
  for (int k = 0; k < events; ++k) {
    if (k) out += ',';
    append_event(out);
  }
  out += "],\"sentAt\":\"2026-11-26T04:59:59.999Z\"}";
  return out;
}

std::string BatchGenerator::batch_gzip(int events, int level) {
  return gzip_text(batch_json(events), level);
}

std::string gzip_text(const std::string& text, int level) {
  return deflate_text(text, level, true);
}

namespace {
std::string base64(const std::string& in) {
  static const char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += '=';
  }
  return out;
}
}  // namespace

std::string http_post(const std::string& host_port, const std::string& path,
                      const std::string& write_key, const std::string& body, bool gzip) {
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: " + host_port +
                  "\r\nUser-Agent: tern-loadgen\r\nContent-Type: application/json\r\n";
  if (!write_key.empty()) r += "Authorization: Basic " + base64(write_key + ":") + "\r\n";
  if (gzip) r += "Content-Encoding: gzip\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n";
  r += body;
  return r;
}

std::string http_get(const std::string& host_port, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
         "\r\nUser-Agent: tern-loadgen\r\nConnection: keep-alive\r\n\r\n";
}

}  // namespace tern::bench
