// Sessions: which session an event belongs to, and whether its session is
// sampled in. SessionTracker is the one piece of session state, behind a
// small mutex taken once per event on the caller's thread (no disk, no
// allocation); the worker persists its snapshots with the events that made
// them (kv key "session", in the batch's transaction).
//
// Rules (one event at wall time t, Unix ms):
// - the session continues when it exists and last_event_ms <= t,
//   t - last_event_ms < timeout and t - id < 24 h (a wall clock that jumped
//   back, an idle or backgrounded app past the timeout, or a day-long
//   session all end it);
// - otherwise a new one starts with id t, unless the app is in the
//   background (may_start false): then the event has no session;
// - a session's sampling decision is made once, when it starts: keep iff
//   fnv1a64(anonymousId + decimal id) / 2^64 < rate, so it is the same after
//   a restart.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

constexpr int64_t kMaxSessionMs = 24 * 3600 * 1000;

struct SessionState {
  int64_t id = 0;  // the session's start, Unix ms; 0: none yet
  int64_t last_event_ms = 0;
  bool keep = true;       // the sampling decision
  bool has_rate = false;  // a sampleRate setting was in force when it started
  double rate = 1.0;
};

// The session's row in the store, as JSON text, and back (nullopt: unusable).
std::string session_to_json(const SessionState& s);
std::optional<SessionState> session_from_json(std::string_view text);

// FNV-1a 64 over `anonymous_id` followed by the decimal `session_id`.
uint64_t session_hash(std::string_view anonymous_id, int64_t session_id) noexcept;
bool sample_keep(std::string_view anonymous_id, int64_t session_id, double rate) noexcept;

// What one event gets.
struct SessionStamp {
  int64_t id = 0;        // context.sessionId; 0: none
  bool start = false;    // context.sessionStart: the session's first event
  int64_t ended_id = 0;  // the expired session the new one replaces (for "Session Ended")
  bool keep = true;      // false: sampled out
  bool has_rate = false;
  double rate = 1.0;  // context.sampleRate when has_rate
  uint64_t seq = 0;   // > 0 when the state changed: `snapshot` is to be persisted
  SessionState snapshot;
};

class SessionTracker {
 public:
  void restore(const SessionState& s);
  // The sampleRate setting in force (has_rate false: none).
  void set_rate(bool has_rate, double rate);

  // One event at `now_ms`. `may_start`: the app is not in the background.
  // `refresh`: the event counts as activity even in the background (the
  // "Application Backgrounded" event: the timeout runs from it).
  // `sessions` false: only the sampling decision (by anonymous id alone).
  SessionStamp on_event(int64_t now_ms, bool sessions, bool may_start, bool refresh,
                        int64_t timeout_ms, std::string_view anonymous_id);
  // The first event of session `id` was not recorded after all (a plugin,
  // a full queue): the next event of that session is its first.
  void start_refused(int64_t id);

  std::optional<int64_t> current(int64_t now_ms, int64_t timeout_ms) const;
  uint64_t started() const;

 private:
  bool valid(int64_t now_ms, int64_t timeout_ms) const;

  mutable std::mutex mu_;
  SessionState state_;
  bool start_pending_ = false;
  bool has_rate_ = false;
  std::atomic<bool> any_rate_{false};  // has_rate_, readable without mu_
  double rate_ = 1.0;
  uint64_t seq_ = 0;
  uint64_t started_ = 0;
};

// Writes the SDK's context keys for `stamp` ("sessionId":..,"sessionStart":true,
// "sampleRate":..) into `buf` without braces; returns the length (0: none).
// `exempt`: an event that is never sampled out carries sampleRate 1.
// `buf` must hold kSessionContextMax bytes.
constexpr std::size_t kSessionContextMax = 96;
std::size_t write_session_context(char* buf, const SessionStamp& stamp, bool exempt) noexcept;

}  // namespace tern
