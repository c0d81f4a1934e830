#include "tern/relay/tap.h"

#include <gtest/gtest.h>

#include <future>

#include "temp_dir.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::TempDir;
using tern::testing::wait_until;

// A viewer that takes everything its tap sends, as the HTTP layer does.
class Viewer {
 public:
  explicit Viewer(std::shared_ptr<TapStream> stream) : stream_(std::move(stream)) {
    pull(state_, stream_.get());
  }
  ~Viewer() { stream_->cancel(); }

  std::string text() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->text;
  }
  bool ended() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->ended;
  }
  // How many events (`id:` lines) arrived.
  int events() const {
    const std::string t = text();
    int n = 0;
    for (std::size_t at = t.find("id: "); at != std::string::npos; at = t.find("id: ", at + 1)) {
      if (at == 0 || t[at - 1] == '\n') ++n;
    }
    return n;
  }
  TapStream& stream() { return *stream_; }

 private:
  struct State {
    mutable std::mutex mu;
    std::string text;
    bool ended = false;
  };
  // The callback holds the state, not the viewer: the tap's thread may
  // answer after the viewer is gone.
  static void pull(std::shared_ptr<State> state, TapStream* stream) {
    stream->next([state, stream](std::string text, bool end) {
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->text += text;
        state->ended = end;
      }
      if (!end) pull(state, stream);
    });
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::shared_ptr<TapStream> stream_;
};

// The numbers in the `dropped` notices for `reason`, summed (0 when there
// is none). (No <regex>: g++ 12 warns inside it at -O1, and CI builds with
// -Werror.)
uint64_t dropped_told(const std::string& text, const std::string& reason) {
  const std::string head = "event: dropped\ndata: {\"dropped\":";
  const std::string tail = ",\"reason\":\"" + reason + "\"}";
  uint64_t total = 0;
  for (std::size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
    std::size_t digits = at + head.size();
    std::size_t end = digits;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == digits || text.compare(end, tail.size(), tail) != 0) continue;
    total += std::stoull(text.substr(digits, end - digits));
  }
  return total;
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SpoolOptions o;
    o.dir = dir_.path();
    auto s = Spool::open(o, metrics_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    spool_ = std::move(s.value());
  }
  void TearDown() override {
    if (hub_) hub_->close();
    if (spool_) (void)spool_->close();
  }

  TapHub& hub(TapOptions options = {}) {
    hub_ = std::make_unique<TapHub>(
        options, metrics_, [this](uint64_t after) { return spool_->reader(after); },
        [this] { return spool_->last_seq(); });
    return *hub_;
  }

  std::shared_ptr<TapStream> open(TapFilter filter = {}) {
    auto t = hub_->open(std::move(filter));
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? t.value() : nullptr;
  }

  // Appends events of `source` ({type, event text} each) and waits for the commit.
  void append(const std::string& source,
              const std::vector<std::pair<std::string, std::string>>& events) {
    SpoolBatch b(source);
    for (const auto& [type, text] : events) b.add(type, text);
    std::promise<Status> done;
    Status st =
        spool_->append(std::move(b), [&](Status s, uint64_t, uint64_t) { done.set_value(s); });
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    Status committed = done.get_future().get();
    ASSERT_TRUE(committed.is_ok()) << committed.to_string();
  }

  static std::pair<std::string, std::string> track(const std::string& name, int n = 0) {
    return {"track", "{\"type\":\"track\",\"event\":\"" + name +
                         "\",\"properties\":{\"n\":" + std::to_string(n) + "}}"};
  }

  uint64_t counter(const std::string& name, const std::string& labels = {}) {
    return metrics_.counter(name, labels).value();
  }

  TempDir dir_;
  Metrics metrics_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<TapHub> hub_;
};

TEST_F(TapTest, EventsAppendedAfterOpenArriveInOrderWithTheirSeqSourceAndType) {
  hub();
  append("web", {track("Before")});
  Viewer v(open());
  append("web", {track("Signed Up"), {"identify", "{\"type\":\"identify\",\"userId\":\"u1\"}"}});
  append("ios", {track("Opened")});
  ASSERT_TRUE(wait_until([&] { return v.events() == 3; })) << v.text();
  EXPECT_EQ(v.text(),
            ": tap open after seq 1\n\n"
            "id: 2\ndata: {\"seq\":2,\"source\":\"web\",\"type\":\"track\",\"event\":{\"type\":"
            "\"track\",\"event\":\"Signed Up\",\"properties\":{\"n\":0}}}\n\n"
            "id: 3\ndata: {\"seq\":3,\"source\":\"web\",\"type\":\"identify\",\"event\":{\"type\":"
            "\"identify\",\"userId\":\"u1\"}}\n\n"
            "id: 4\ndata: {\"seq\":4,\"source\":\"ios\",\"type\":\"track\",\"event\":{\"type\":"
            "\"track\",\"event\":\"Opened\",\"properties\":{\"n\":0}}}\n\n");
  EXPECT_EQ(counter("tern_relay_tap_messages_total"), 3u);
}

TEST_F(TapTest, FiltersShowOnlyTheChosenSourcesTypesAndEventNames) {
  hub();
  TapFilter by_source;
  by_source.sources = {"ios"};
  TapFilter by_type;
  by_type.types = {"identify"};
  TapFilter by_name;
  by_name.events = {"Opened", "Bought"};
  Viewer source_viewer(open(by_source));
  Viewer type_viewer(open(by_type));
  Viewer name_viewer(open(by_name));
  append("web", {track("Signed Up"),
                 {"identify", "{\"type\":\"identify\",\"traits\":{\"event\":\"Opened\"}}"},
                 // The name inside a property is not the event's name.
                 track("Viewed", 1),
                 {"track",
                  "{\"type\":\"track\",\"properties\":{\"event\":\"Bought\"},"
                  "\"event\":\"Bought\"}"}});
  append("ios", {track("Opened", 2)});
  ASSERT_TRUE(wait_until([&] { return source_viewer.events() == 1; }));
  ASSERT_TRUE(wait_until([&] { return type_viewer.events() == 1; }));
  ASSERT_TRUE(wait_until([&] { return name_viewer.events() == 2; }));
  // The last event reached every tap, so nothing else is on its way.
  EXPECT_NE(source_viewer.text().find("\"seq\":5,\"source\":\"ios\""), std::string::npos);
  EXPECT_NE(type_viewer.text().find("\"seq\":2,\"source\":\"web\",\"type\":\"identify\""),
            std::string::npos);
  EXPECT_NE(name_viewer.text().find("\"seq\":4,"), std::string::npos);
  EXPECT_NE(name_viewer.text().find("\"seq\":5,"), std::string::npos);
  EXPECT_EQ(source_viewer.events(), 1);
  EXPECT_EQ(type_viewer.events(), 1);
  EXPECT_EQ(name_viewer.events(), 2);
}

TEST_F(TapTest, RejectedEventsReachOnlyTapsThatAskForThemWithTheirReason) {
  TapHub& h = hub();
  TapFilter with_rejected;
  with_rejected.rejected = true;
  with_rejected.sources = {"web"};
  Viewer plain(open());
  Viewer rejected(open(with_rejected));
  h.offer_rejected("web", "track", "invalid_event", "`event` is missing", "{\"type\":\"track\"}");
  h.offer_rejected("web", "track", "invalid_json", "not JSON", "{oops");
  h.offer_rejected("ios", "track", "invalid_event", "not this source", "{}");
  append("web", {track("After")});
  ASSERT_TRUE(wait_until([&] { return plain.events() == 1 && rejected.events() == 1; }));
  const std::string text = rejected.text();
  EXPECT_NE(text.find("data: {\"rejected\":true,\"source\":\"web\",\"type\":\"track\",\"reason\":"
                      "\"invalid_event\",\"message\":\"`event` is missing\",\"event\":"
                      "{\"type\":\"track\"}}\n\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"reason\":\"invalid_json\",\"message\":\"not JSON\",\"event\":\"{oops\"}"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("not this source"), std::string::npos);
  EXPECT_EQ(plain.text().find("rejected"), std::string::npos);
}

TEST_F(TapTest, EveryMessageIsOneLineOfValidJsonWhateverTheEventLookedLike) {
  TapHub& h = hub();
  TapFilter with_rejected;
  with_rejected.rejected = true;
  Viewer v(open(with_rejected));
  // Balanced braces, but not JSON: shown as the string it was.
  h.offer_rejected("web", "track", "invalid_json", "not JSON", "{\"event\":}");
  // Pretty-printed JSON: re-encoded on one line.
  h.offer_rejected("web", "track", "invalid_event", "no event", "{\n  \"type\": \"track\"\n}");
  // An accepted event the client sent pretty-printed, as the spool keeps it.
  append("web", {{"track", "{\r\n\"type\":\"track\",\n\"event\":\"Pretty\"\n}"}});
  ASSERT_TRUE(wait_until([&] { return v.events() == 1; })) << v.text();
  const std::string text = v.text();
  EXPECT_NE(text.find("\"event\":\"{\\\"event\\\":}\"}\n\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\"event\":{\"type\":\"track\"}}\n\n"), std::string::npos) << text;
  EXPECT_NE(text.find("id: 1\ndata: {\"seq\":1,\"source\":\"web\",\"type\":\"track\",\"event\":{  "
                      "\"type\":\"track\", \"event\":\"Pretty\" }}\n\n"),
            std::string::npos)
      << text;
}

TEST_F(TapTest, AStalledViewerKeepsTheQueueBoundedAndIsToldExactlyHowManyWereDropped) {
  TapOptions options;
  options.queue_bytes = 8 * 1024;
  options.max_events_per_second = 0;
  hub(options);
  auto stream = open();
  constexpr int kBatches = 30;
  constexpr int kPerBatch = 100;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<std::pair<std::string, std::string>> events;
    for (int i = 0; i < kPerBatch; ++i) events.push_back(track("Tick", b * kPerBatch + i));
    append("web", events);
    EXPECT_LE(stream->queued_bytes(), options.queue_bytes);
  }
  const uint64_t total = kBatches * kPerBatch;
  const std::string slow = "reason=\"slow_reader\"";
  ASSERT_TRUE(wait_until([&] {
    return counter("tern_relay_tap_messages_total") +
               counter("tern_relay_tap_dropped_total", slow) ==
           total;
  }));
  EXPECT_LE(stream->queued_bytes(), options.queue_bytes);
  EXPECT_GT(counter("tern_relay_tap_dropped_total", slow), 0u);

  Viewer v(stream);
  ASSERT_TRUE(wait_until([&] { return dropped_told(v.text(), "slow_reader") > 0; }));
  const uint64_t shown = static_cast<uint64_t>(v.events());
  EXPECT_EQ(shown, counter("tern_relay_tap_messages_total"));
  EXPECT_EQ(dropped_told(v.text(), "slow_reader"), counter("tern_relay_tap_dropped_total", slow));
  EXPECT_EQ(shown + dropped_told(v.text(), "slow_reader"), total);

  // Room is back: the next events arrive again.
  append("web", {track("After the stall")});
  ASSERT_TRUE(wait_until([&] { return v.text().find("After the stall") != std::string::npos; }));
}

TEST_F(TapTest, EventsBeyondTheRateCapAreCountedAsSampled) {
  TapOptions options;
  options.max_events_per_second = 10;
  hub(options);
  Viewer v(open());
  std::vector<std::pair<std::string, std::string>> events;
  for (int i = 0; i < 100; ++i) events.push_back(track("Burst", i));
  append("web", events);  // one commit, read at once: within one second
  ASSERT_TRUE(wait_until([&] { return dropped_told(v.text(), "sampled") == 90; })) << v.text();
  EXPECT_EQ(v.events(), 10);
  EXPECT_EQ(counter("tern_relay_tap_dropped_total", "reason=\"sampled\""), 90u);
}

TEST_F(TapTest, DropsWithNoEventAfterThemAreToldWithoutWaitingForTheKeepAlive) {
  TapOptions options;
  options.max_events_per_second = 5;
  options.heartbeat = std::chrono::seconds(600);  // not what tells them
  hub(options);
  Viewer v(open());
  std::vector<std::pair<std::string, std::string>> first, second;
  for (int i = 0; i < 5; ++i) first.push_back(track("Shown", i));
  for (int i = 0; i < 30; ++i) second.push_back(track("Burst", i));
  append("web", first);
  ASSERT_TRUE(wait_until([&] { return v.events() == 5; })) << v.text();
  append("web", second);  // over the cap, and then silence
  // Told within the second the notices are spaced by, not at the keep-alive.
  ASSERT_TRUE(wait_until(
      [&] { return dropped_told(v.text(), "sampled") + static_cast<uint64_t>(v.events()) == 35; },
      3s))
      << v.text();
  EXPECT_GT(dropped_told(v.text(), "sampled"), 0u);
}

TEST_F(TapTest, ASampleFractionShowsThatShareOfMatchingEvents) {
  TapOptions options;
  options.max_events_per_second = 0;
  hub(options);
  TapFilter filter;
  filter.sample = 0.25;
  Viewer v(open(filter));
  std::vector<std::pair<std::string, std::string>> events;
  for (int i = 0; i < 100; ++i) events.push_back(track("Tick", i));
  append("web", events);
  ASSERT_TRUE(wait_until([&] { return v.events() + dropped_told(v.text(), "sampled") == 100; }));
  EXPECT_EQ(v.events(), 25);
}

TEST_F(TapTest, ALimitEndsTheStreamAfterThatManyEvents) {
  hub();
  TapFilter filter;
  filter.limit = 2;
  Viewer v(open(filter));
  append("web", {track("One"), track("Two"), track("Three")});
  ASSERT_TRUE(wait_until([&] { return v.ended(); }));
  EXPECT_EQ(v.events(), 2);
  EXPECT_EQ(v.text().find("Three"), std::string::npos);
  ASSERT_TRUE(wait_until([&] { return hub_->open_taps() == 0; }));
}

TEST_F(TapTest, OpeningMoreThanMaxTapsIsRefusedUntilOneIsCancelled) {
  TapOptions options;
  options.max_taps = 2;
  TapHub& h = hub(options);
  auto first = open();
  auto second = open();
  auto third = h.open({});
  ASSERT_FALSE(third.is_ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("2"), std::string::npos);
  EXPECT_EQ(counter("tern_relay_tap_refused_total"), 1u);
  EXPECT_EQ(h.open_taps(), 2);

  first->cancel();
  auto again = h.open({});
  EXPECT_TRUE(again.is_ok()) << again.status().to_string();
}

TEST_F(TapTest, ABadSampleIsRefused) {
  TapHub& h = hub();
  TapFilter filter;
  filter.sample = 0;
  EXPECT_EQ(h.open(filter).status().code(), StatusCode::kInvalidArgument);
  filter.sample = 1.5;
  EXPECT_EQ(h.open(filter).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TapTest, CloseEndsEveryOpenTapAndRefusesNewOnes) {
  TapHub& h = hub();
  Viewer a(open());
  Viewer b(open());
  ASSERT_TRUE(wait_until([&] { return !a.text().empty() && !b.text().empty(); }));
  h.close();
  EXPECT_TRUE(a.ended());
  EXPECT_TRUE(b.ended());
  EXPECT_EQ(h.open_taps(), 0);
  EXPECT_EQ(h.open({}).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(metrics_.gauge("tern_relay_tap_open").value(), 0);
}

TEST_F(TapTest, ATapWhoseRecordsWereTrimmedSkipsAheadAndSaysHowManyItMissed) {
  // A spool of small segments, trimmed when the test says.
  ASSERT_TRUE(spool_->close().is_ok());
  TempDir dir;
  SpoolOptions o;
  o.dir = dir.path();
  o.segment_bytes = 256;
  o.maintenance_thread = false;
  auto s = Spool::open(o, metrics_);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  spool_ = std::move(s.value());
  ASSERT_TRUE(spool_->register_cursor("sink", false).is_ok());
  for (int i = 0; i < 40; ++i) append("web", {track("Old", i)});
  spool_->ack("sink", 30);
  ASSERT_TRUE(spool_->run_maintenance_once().is_ok());
  // A tap that is still at the start: the records it would read next are gone.
  hub_ = std::make_unique<TapHub>(
      TapOptions{}, metrics_, [this](uint64_t after) { return spool_->reader(after); },
      [] { return uint64_t{0}; });
  Viewer v(open());
  ASSERT_TRUE(wait_until([&] { return v.text().find("id: 40\n") != std::string::npos; }))
      << v.text();
  const std::string text = v.text();
  const uint64_t first_shown = std::stoull(text.substr(text.find("id: ") + 4));
  EXPECT_GT(first_shown, 1u);
  EXPECT_LE(first_shown, 31u);
  EXPECT_EQ(dropped_told(text, "behind"), first_shown - 1) << text;
  EXPECT_EQ(static_cast<uint64_t>(v.events()), 40 - first_shown + 1);
  EXPECT_EQ(counter("tern_relay_tap_dropped_total", "reason=\"behind\""), first_shown - 1);
  hub_->close();
  ASSERT_TRUE(spool_->close().is_ok());  // before its directory goes
}

TEST_F(TapTest, AQuietTapSendsAKeepAlive) {
  TapOptions options;
  options.heartbeat = 1s;
  hub(options);
  Viewer v(open());
  ASSERT_TRUE(wait_until([&] { return v.text().find(": keep-alive\n\n") != std::string::npos; }));
}

}  // namespace
}  // namespace tern::relay
