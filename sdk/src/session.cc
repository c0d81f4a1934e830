// Sessions (session.h).
#include "session.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "text.h"

namespace tern {

namespace {

std::size_t append_literal(char* buf, std::size_t n, const char* s) {
  std::size_t len = std::strlen(s);
  std::memcpy(buf + n, s, len);
  return n + len;
}

std::size_t append_int(char* buf, std::size_t n, int64_t v) {
  auto r = std::to_chars(buf + n, buf + n + 24, v);
  return static_cast<std::size_t>(r.ptr - buf);
}

// The shortest of %.15g / %.17g that reads back as `v` (rates are in [0, 1]).
std::size_t append_rate(char* buf, std::size_t n, double v) {
  char tmp[40];
  int len = std::snprintf(tmp, sizeof(tmp), "%.15g", v);
  if (len <= 0 || std::strtod(tmp, nullptr) != v) len = std::snprintf(tmp, sizeof(tmp), "%.17g", v);
  if (len <= 0 || len >= static_cast<int>(sizeof(tmp))) return append_literal(buf, n, "1");
  std::memcpy(buf + n, tmp, static_cast<std::size_t>(len));
  return n + static_cast<std::size_t>(len);
}

}  // namespace

std::string session_to_json(const SessionState& s) {
  char buf[192];
  std::size_t n = append_literal(buf, 0, "{\"id\":");
  n = append_int(buf, n, s.id);
  n = append_literal(buf, n, ",\"last_event_ms\":");
  n = append_int(buf, n, s.last_event_ms);
  n = append_literal(buf, n, ",\"started_ms\":");
  n = append_int(buf, n, s.id);
  n = append_literal(buf, n, s.keep ? ",\"keep\":true" : ",\"keep\":false");
  if (s.has_rate) {
    n = append_literal(buf, n, ",\"rate\":");
    n = append_rate(buf, n, s.rate);
  }
  n = append_literal(buf, n, "}");
  return std::string(buf, n);
}

std::optional<SessionState> session_from_json(std::string_view text) {
  auto j = parse_json(text);
  if (!j.is_object()) return std::nullopt;
  auto id = j.find("id");
  auto last = j.find("last_event_ms");
  if (id == j.end() || !id->is_number_integer() || last == j.end() || !last->is_number_integer()) {
    return std::nullopt;
  }
  SessionState s;
  s.id = id->get<int64_t>();
  s.last_event_ms = last->get<int64_t>();
  auto keep = j.find("keep");
  if (keep != j.end() && keep->is_boolean()) s.keep = keep->get<bool>();
  auto rate = j.find("rate");
  if (rate != j.end() && rate->is_number()) {
    s.has_rate = true;
    s.rate = rate->get<double>();
  }
  return s;
}

uint64_t session_hash(std::string_view anonymous_id, int64_t session_id) noexcept {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](char c) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  };
  for (char c : anonymous_id) mix(c);
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof(digits), session_id);
  for (char* p = digits; p < r.ptr; ++p) mix(*p);
  return h;
}

bool sample_keep(std::string_view anonymous_id, int64_t session_id, double rate) noexcept {
  if (!(rate < 1.0)) return true;
  if (!(rate > 0.0)) return false;
  // h / 2^64 < rate, in long double to keep the low bits of h.
  long double fraction =
      static_cast<long double>(session_hash(anonymous_id, session_id)) / 18446744073709551616.0L;
  return fraction < static_cast<long double>(rate);
}

void SessionTracker::restore(const SessionState& s) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = s;
}

void SessionTracker::set_rate(bool has_rate, double rate) {
  std::lock_guard<std::mutex> lock(mu_);
  has_rate_ = has_rate;
  any_rate_ = has_rate;
  rate_ = has_rate ? rate : 1.0;
}

bool SessionTracker::valid(int64_t now_ms, int64_t timeout_ms) const {
  return state_.id != 0 && now_ms >= state_.last_event_ms &&
         now_ms - state_.last_event_ms < timeout_ms && now_ms - state_.id < kMaxSessionMs;
}

SessionStamp SessionTracker::on_event(int64_t now_ms, bool sessions, bool may_start, bool refresh,
                                      int64_t timeout_ms, std::string_view anonymous_id) {
  SessionStamp st;
  // Sessions off and no sampling: nothing to decide, no lock to take.
  if (!sessions && !any_rate_.load(std::memory_order_relaxed)) return st;
  std::lock_guard<std::mutex> lock(mu_);
  if (!sessions) {
    st.has_rate = has_rate_;
    st.rate = rate_;
    st.keep = !has_rate_ || sample_keep(anonymous_id, 0, rate_);
    return st;
  }
  bool live = valid(now_ms, timeout_ms);
  if (!live && may_start) {
    st.ended_id = state_.id;
    state_.id = now_ms;
    state_.has_rate = has_rate_;
    state_.rate = rate_;
    state_.keep = !has_rate_ || sample_keep(anonymous_id, now_ms, rate_);
    start_pending_ = true;
    ++started_;
    live = true;
    refresh = true;
  }
  if (!live) {  // in the background with no session: none, sampled by the user alone
    st.has_rate = has_rate_;
    st.rate = rate_;
    st.keep = !has_rate_ || sample_keep(anonymous_id, 0, rate_);
    return st;
  }
  st.id = state_.id;
  st.keep = state_.keep;
  st.has_rate = state_.has_rate;
  st.rate = state_.rate;
  if (start_pending_) {
    st.start = true;
    start_pending_ = false;
  }
  if (may_start || refresh) {
    state_.last_event_ms = now_ms;
    st.seq = ++seq_;
    st.snapshot = state_;
  }
  return st;
}

void SessionTracker::start_refused(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_.id == id) start_pending_ = true;
}

std::optional<int64_t> SessionTracker::current(int64_t now_ms, int64_t timeout_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!valid(now_ms, timeout_ms)) return std::nullopt;
  return state_.id;
}

uint64_t SessionTracker::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

std::size_t write_session_context(char* buf, const SessionStamp& stamp, bool exempt) noexcept {
  std::size_t n = 0;
  if (stamp.id != 0) {
    n = append_literal(buf, n, "\"sessionId\":");
    n = append_int(buf, n, stamp.id);
    if (stamp.start) n = append_literal(buf, n, ",\"sessionStart\":true");
  }
  if (stamp.has_rate) {
    n = append_literal(buf, n, n ? ",\"sampleRate\":" : "\"sampleRate\":");
    n = exempt ? append_literal(buf, n, "1") : append_rate(buf, n, stamp.rate);
  }
  return n;
}

}  // namespace tern
