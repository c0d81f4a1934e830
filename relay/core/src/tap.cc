// TapHub (tap.h): each tap is a thread reading the spool without a cursor,
// filtering, sampling and queueing Server-Sent Events text for its viewer.
#include "tern/relay/tap.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "tern/base/json_text.h"
#include "tern/relay/log.h"

namespace tern::relay {

namespace {

using SteadyClock = std::chrono::steady_clock;

// How long one spool read waits: the bound on how late a heartbeat, a
// cancel or the hub's close is seen by a tap's thread.
constexpr std::chrono::milliseconds kReadWait{200};
constexpr std::size_t kReadEvents = 512;
constexpr std::size_t kReadBytes = 1u << 20;
constexpr int kMaxReadFailures = 3;

bool listed(const std::vector<std::string>& list, std::string_view v) {
  if (list.empty()) return true;
  return std::any_of(list.begin(), list.end(), [&](const std::string& s) { return s == v; });
}

// The raw text (between the quotes, escapes as written) of the top-level
// string member `key` of the JSON object `json`; false when it has none.
// The spool holds JSON the relay wrote, so a scanner that only tracks
// nesting and strings is enough.
bool top_level_string(std::string_view json, std::string_view key, std::string_view* value) {
  int depth = 0;
  bool expect_key = false;
  std::string_view last_key;
  bool have_key = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      if (j >= json.size()) return false;
      std::string_view s = json.substr(i + 1, j - i - 1);
      if (depth == 1) {
        if (expect_key) {
          last_key = s;
          have_key = true;
          expect_key = false;
        } else if (have_key && last_key == key) {
          *value = s;
          return true;
        }
      }
      i = j;
    } else if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1 && c == '{') expect_key = true;
      have_key = depth == 1 ? false : have_key;
    } else if (c == '}' || c == ']') {
      --depth;
      if (depth == 1) have_key = false;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
      have_key = false;
    } else if (c == ':' && depth == 1) {
      // the value follows; a string value is checked above
    } else if (depth == 1 && have_key && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      have_key = false;  // a non-string value
    }
  }
  return false;
}

// Appends `event` as one line of JSON: the spool's events are JSON the
// relay validated, whose only line breaks are whitespace between tokens (a
// string cannot hold a raw one), and a `data:` field ends at a line break.
void append_one_line(std::string& out, std::string_view event) {
  const std::size_t at = out.size();
  out.append(event);
  for (std::size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
  }
}

// A rejected event as JSON when it is JSON (re-encoded on one line), else as
// the string it was. Rejected events are few, and only taps that ask for
// them pay for the parse.
void append_rejected_event(std::string& out, std::string_view event) {
  auto json = nlohmann::json::parse(event, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    base::append_json_string(out, event);
  } else {
    out += json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

const char* const kReasons[] = {"sampled", "slow_reader", "behind"};
enum Reason { kSampled = 0, kSlowReader = 1, kBehind = 2, kReasonCount = 3 };

}  // namespace

struct TapMetrics {
  Gauge* open;
  Counter* messages;
  Counter* dropped[kReasonCount];
  Counter* refused;
};

// One open tap. Its thread reads the spool; the viewer pulls with next().
class Tap final : public TapStream, public std::enable_shared_from_this<Tap> {
 public:
  Tap(TapFilter filter, TapOptions options, TapMetrics metrics, std::unique_ptr<SpoolReader> reader,
      uint64_t after_seq)
      : filter_(std::move(filter)),
        options_(options),
        metrics_(metrics),
        reader_(std::move(reader)),
        expected_seq_(after_seq + 1) {
    for (const auto& name : filter_.events) {
      std::string quoted;
      base::append_json_string(quoted, name);
      event_names_.push_back(std::move(quoted));
    }
    push_locked(": tap open after seq " + std::to_string(after_seq) + "\n\n");
  }

  void start(std::function<void()> on_exit) {
    thread_ = std::thread([this, on_exit = std::move(on_exit)] {
      log::set_thread_name("tern-tap");
      run();
      on_exit();
      done_.store(true, std::memory_order_release);
    });
  }

  void next(Deliver deliver) override {
    std::unique_lock<std::mutex> lock(mu_);
    std::string text = take_locked();
    if (!text.empty()) {
      lock.unlock();
      deliver(std::move(text), false);
      return;
    }
    if (ended_) {
      lock.unlock();
      deliver(std::string(), true);
      return;
    }
    pending_ = std::move(deliver);
    pending_since_ = SteadyClock::now();
  }

  void cancel() override { stop(); }

  std::size_t queued_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_bytes_;
  }

  // Ends the tap: its thread stops at its next read; a viewer waiting in
  // next() gets end = true.
  void stop() {
    released_.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mu_);
    if (reader_) reader_->interrupt();
    // Nobody will read it: the memory goes now, not when the hub reaps the tap.
    queue_.clear();
    queued_bytes_ = 0;
  }

  void join() {
    if (thread_.joinable()) thread_.join();
  }

  bool released() const { return released_.load(std::memory_order_acquire); }
  bool done() const { return done_.load(std::memory_order_acquire); }
  bool wants_rejected() const { return filter_.rejected; }

  // A rejected event, from an ingest thread.
  void offer_rejected(std::string_view source, std::string_view type, std::string_view reason,
                      std::string_view message, std::string_view event) {
    if (released() || !listed(filter_.sources, source) || !listed(filter_.types, type)) return;
    if (!event_names_.empty() && !names_match(event)) return;
    std::string text = "data: {\"rejected\":true,\"source\":";
    base::append_json_string(text, source);
    text += ",\"type\":";
    base::append_json_string(text, type);
    text += ",\"reason\":";
    base::append_json_string(text, reason);
    text += ",\"message\":";
    base::append_json_string(text, message);
    text += ",\"event\":";
    append_rejected_event(text, event);
    text += "}\n\n";
    Deliver deliver;
    std::string out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_ || !admit_locked(SteadyClock::now())) return;
      offer_locked(std::move(text));
      deliver = ready_locked(&out);
    }
    if (deliver) deliver(std::move(out), false);
  }

 private:
  void run() {
    std::vector<SpoolRecord> records;
    int failures = 0;  // in a row
    while (!released()) {
      records.clear();
      const auto started = SteadyClock::now();
      Status st = reader_->read(kReadEvents, kReadBytes, started + kReadWait, &records);
      if (!st) {
        // A segment trimmed between two reads: the next read finds the
        // oldest one left (and the gap is counted as "behind").
        if (++failures < kMaxReadFailures) continue;
        log::warn("tap: reading the spool failed; the tap ends", {{"error", st.to_string()}});
        break;
      }
      failures = 0;
      const auto now = SteadyClock::now();
      if (records.empty() && now - started < kReadWait / 4 && !released()) {
        // The spool is closing (reads return at once): do not spin.
        std::this_thread::sleep_for(kReadWait / 4);
      }
      Deliver deliver;
      std::string out;
      bool limit_reached = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const SpoolRecord& rec : records) {
          if (rec.seq > expected_seq_) count_drop_locked(kBehind, rec.seq - expected_seq_);
          expected_seq_ = rec.seq + 1;
          if (!matches(rec)) continue;
          if (!admit_locked(now)) continue;
          std::string text = "id: " + std::to_string(rec.seq) + "\ndata: {\"seq\":";
          text += std::to_string(rec.seq);
          text += ",\"source\":";
          base::append_json_string(text, rec.source_id);
          text += ",\"type\":";
          base::append_json_string(text, rec.type);
          text += ",\"event\":";
          append_one_line(text, rec.event);
          text += "}\n\n";
          offer_locked(std::move(text));
          if (ended_) {
            limit_reached = true;
            break;
          }
        }
        deliver = ready_locked(&out);
        if (!deliver && pending_ && now - pending_since_ >= options_.heartbeat) {
          out = ": keep-alive\n\n";
          deliver = std::move(pending_);
          pending_ = nullptr;
        }
      }
      if (deliver) deliver(std::move(out), false);
      if (limit_reached) break;
    }
    Deliver deliver;
    std::string out;
    bool end = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      reader_.reset();  // before the spool can go (close() joins this thread)
      if (pending_) {
        out = take_locked();
        end = out.empty();
        deliver = std::move(pending_);
        pending_ = nullptr;
      }
    }
    released_.store(true, std::memory_order_release);
    if (deliver) deliver(std::move(out), end);
  }

  bool matches(const SpoolRecord& rec) const {
    if (!listed(filter_.sources, rec.source_id) || !listed(filter_.types, rec.type)) return false;
    return event_names_.empty() || names_match(rec.event);
  }

  // The event-name filter: a substring test first (most events are not
  // wanted and are never parsed), then the top-level "event" member.
  bool names_match(std::string_view event) const {
    bool maybe = false;
    for (const auto& quoted : event_names_) {
      if (event.find(quoted) != std::string_view::npos) {
        maybe = true;
        break;
      }
    }
    if (!maybe) return false;
    std::string_view name;
    if (!top_level_string(event, "event", &name)) return false;
    for (const auto& quoted : event_names_) {
      if (std::string_view(quoted).substr(1, quoted.size() - 2) == name) return true;
    }
    return false;
  }

  // Whether a matching event is shown: `sample` and the per-second cap.
  bool admit_locked(SteadyClock::time_point now) {
    if (filter_.sample < 1.0) {
      sample_credit_ += filter_.sample;
      if (sample_credit_ < 1.0) {
        count_drop_locked(kSampled, 1);
        return false;
      }
      sample_credit_ -= 1.0;
    }
    if (options_.max_events_per_second > 0) {
      if (now - window_start_ >= std::chrono::seconds(1)) {
        window_start_ = now;
        window_count_ = 0;
      }
      if (window_count_ >= options_.max_events_per_second) {
        count_drop_locked(kSampled, 1);
        return false;
      }
      ++window_count_;
    }
    return true;
  }

  // Queues one event's message (or drops it when the queue is full) and
  // counts it towards the limit.
  void offer_locked(std::string text) {
    if (queued_bytes_ + text.size() > options_.queue_bytes) {
      count_drop_locked(kSlowReader, 1);
      return;
    }
    push_locked(std::move(text));
    metrics_.messages->inc();
    if (filter_.limit > 0 && ++shown_ >= filter_.limit) ended_ = true;
  }

  void push_locked(std::string text) {
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
  }

  void count_drop_locked(Reason reason, uint64_t n) {
    untold_[reason] += n;
    metrics_.dropped[reason]->inc(n);
  }

  // The queued text and, after it, the drops not told yet; empties both.
  std::string take_locked() {
    std::string out;
    out.reserve(queued_bytes_ + 128);
    for (auto& t : queue_) out += t;
    queue_.clear();
    queued_bytes_ = 0;
    for (int r = 0; r < kReasonCount; ++r) {
      if (untold_[r] == 0) continue;
      out += "event: dropped\ndata: {\"dropped\":" + std::to_string(untold_[r]) + ",\"reason\":\"" +
             kReasons[r] + "\"}\n\n";
      untold_[r] = 0;
    }
    return out;
  }

  // A waiting viewer's callback and its text, when there is text for it:
  // queued events, or drops not told yet (those alone at most once a
  // second, so a tap over its rate cap sends one notice a second, not one
  // per read, and a burst followed by silence is still told at once).
  Deliver ready_locked(std::string* out) {
    if (!pending_) return nullptr;
    if (queue_.empty()) {
      const bool untold =
          std::any_of(std::begin(untold_), std::end(untold_), [](uint64_t n) { return n > 0; });
      const auto now = SteadyClock::now();
      if (!untold || now - last_notice_ < std::chrono::seconds(1)) return nullptr;
      last_notice_ = now;
    }
    *out = take_locked();
    Deliver d = std::move(pending_);
    pending_ = nullptr;
    return d;
  }

  const TapFilter filter_;
  const TapOptions options_;
  const TapMetrics metrics_;
  std::vector<std::string> event_names_;  // as JSON string literals
  std::thread thread_;
  std::atomic<bool> released_{false};  // cancelled, closed or ended: the slot is free
  std::atomic<bool> done_{false};      // the thread has finished

  mutable std::mutex mu_;
  std::unique_ptr<SpoolReader> reader_;
  uint64_t expected_seq_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  uint64_t untold_[kReasonCount] = {0, 0, 0};
  SteadyClock::time_point last_notice_{};  // the last notice sent without events
  Deliver pending_;
  SteadyClock::time_point pending_since_{};
  bool ended_ = false;  // nothing more will be queued
  uint64_t shown_ = 0;
  double sample_credit_ = 0.0;
  SteadyClock::time_point window_start_{};
  int window_count_ = 0;
};

struct TapHub::Impl {
  std::function<std::unique_ptr<SpoolReader>(uint64_t)> open_reader;
  std::function<uint64_t()> last_seq;
  TapMetrics metrics;
  std::mutex mu;
  TapOptions options;
  bool closed = false;
  std::vector<std::shared_ptr<Tap>> taps;

  // Joins the threads of taps that have ended. Needs mu.
  void reap_locked() {
    for (auto it = taps.begin(); it != taps.end();) {
      if ((*it)->done()) {
        (*it)->join();
        it = taps.erase(it);
      } else {
        ++it;
      }
    }
  }
  int live_locked() const {
    return static_cast<int>(
        std::count_if(taps.begin(), taps.end(), [](const auto& t) { return !t->released(); }));
  }
};

TapHub::TapHub(TapOptions options, Metrics& metrics,
               std::function<std::unique_ptr<SpoolReader>(uint64_t after_seq)> open_reader,
               std::function<uint64_t()> last_seq)
    : impl_(std::make_unique<Impl>()) {
  impl_->open_reader = std::move(open_reader);
  impl_->last_seq = std::move(last_seq);
  impl_->options = options;
  auto& m = impl_->metrics;
  m.open = &metrics.gauge("tern_relay_tap_open", {}, "Live taps open (GET /admin/v1/tap)");
  m.messages = &metrics.counter("tern_relay_tap_messages_total", {},
                                "Events queued for a live tap's viewer");
  for (int r = 0; r < kReasonCount; ++r) {
    m.dropped[r] = &metrics.counter("tern_relay_tap_dropped_total",
                                    std::string("reason=\"") + kReasons[r] + "\"",
                                    "Events a live tap did not show, by reason");
  }
  m.refused = &metrics.counter("tern_relay_tap_refused_total", {},
                               "Taps refused because max_taps were open");
}

TapHub::~TapHub() { close(); }

Result<std::shared_ptr<TapStream>> TapHub::open(TapFilter filter) {
  if (!(filter.sample > 0.0 && filter.sample <= 1.0)) {
    return Status(StatusCode::kInvalidArgument, "sample must be in (0, 1]");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->closed) return Status(StatusCode::kCancelled, "the tap hub is closed");
  impl_->reap_locked();
  const TapOptions options = impl_->options;
  if (impl_->live_locked() >= options.max_taps) {
    impl_->metrics.refused->inc();
    return Status(StatusCode::kResourceExhausted,
                  "every tap slot is taken (" + std::to_string(options.max_taps) +
                      " taps open at once at most); close one or try again later");
  }
  const uint64_t after = impl_->last_seq();
  auto reader = impl_->open_reader(after);
  if (!reader) return Status(StatusCode::kUnavailable, "the spool is not open");
  const bool rejected = filter.rejected;
  auto tap =
      std::make_shared<Tap>(std::move(filter), options, impl_->metrics, std::move(reader), after);
  impl_->taps.push_back(tap);
  if (rejected) rejected_taps_.fetch_add(1, std::memory_order_relaxed);
  impl_->metrics.open->add(1);
  Impl* impl = impl_.get();
  std::atomic<int>* rejected_taps = &rejected_taps_;
  tap->start([impl, rejected_taps, rejected] {
    // The hub lives until close() has joined this thread.
    if (rejected) rejected_taps->fetch_sub(1, std::memory_order_relaxed);
    impl->metrics.open->add(-1);
  });
  return std::shared_ptr<TapStream>(std::move(tap));
}

int TapHub::open_taps() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->live_locked();
}

void TapHub::set_options(TapOptions options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->options = options;
}

void TapHub::close() {
  std::vector<std::shared_ptr<Tap>> taps;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->closed = true;
    taps.swap(impl_->taps);
  }
  for (auto& t : taps) t->stop();
  for (auto& t : taps) t->join();
}

void TapHub::deliver_rejected(std::string_view source, std::string_view type,
                              std::string_view reason, std::string_view message,
                              std::string_view event) {
  std::vector<std::shared_ptr<Tap>> taps;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& t : impl_->taps) {
      if (t->wants_rejected() && !t->released()) taps.push_back(t);
    }
  }
  for (auto& t : taps) t->offer_rejected(source, type, reason, message, event);
}

}  // namespace tern::relay
