#include "tern/relay/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <zlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "manual_clock.h"
#include "temp_dir.h"
#include "tern/relay/clock.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::TempDir;
using tern::testing::wait_until;
using testing::ManualClock;

// The real time, counting how often steady time was read.
class CountingClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override {
    ++reads_;
    return real_clock().steady_now();
  }
  std::chrono::system_clock::time_point system_now() const override {
    return real_clock().system_now();
  }
  int reads() const { return reads_.load(); }

 private:
  mutable std::atomic<int> reads_{0};
};

SpoolOptions options(const std::string& dir) {
  SpoolOptions o;
  o.dir = dir;
  o.commit_window = 1ms;
  o.cursor_flush_interval = 5ms;
  return o;
}

SpoolBatch events(int from, int n, const std::string& type = "track") {
  SpoolBatch b("web");
  for (int i = from; i < from + n; ++i) {
    b.add(type, "{\"type\":\"" + type + "\",\"n\":" + std::to_string(i) + "}");
  }
  return b;
}

// Appends and waits for the commit; returns {first, last}.
std::pair<uint64_t, uint64_t> append_sync(Spool& s, SpoolBatch ev) {
  std::promise<std::tuple<Status, uint64_t, uint64_t>> p;
  auto f = p.get_future();
  Status st = s.append(std::move(ev), [&](Status st, uint64_t a, uint64_t b) {
    p.set_value({st, a, b});
  });
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (!st) return {0, 0};
  auto [cst, a, b] = f.get();
  EXPECT_TRUE(cst.is_ok()) << cst.to_string();
  return {a, b};
}

// Everything after `after` that is committed (read() deadlines are on the
// spool's clock).
std::vector<SpoolRecord> read_all(Spool& s, uint64_t after, const Clock& clock = real_clock()) {
  auto r = s.reader(after);
  std::vector<SpoolRecord> out;
  for (;;) {
    std::size_t before = out.size();
    EXPECT_TRUE(r->read(1000, 1 << 20, clock.steady_now(), &out).is_ok());
    if (out.size() == before) break;
  }
  return out;
}

uint64_t reads_from(Metrics& m, const char* from) {
  return m.counter("tern_relay_spool_read_records_total", std::string("from=\"") + from + "\"")
      .value();
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("seg-", 0) == 0) v.push_back(e.path().string());
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

constexpr std::size_t kSegmentHeaderBytes = 16;  // magic, version, reserved

// Rewrites the segment at `path` as relays wrote segments before they had a
// header (format version 0): its records from offset 0.
void strip_segment_header(const std::string& path) {
  std::string data = file_bytes(path);
  ASSERT_EQ(data.compare(0, 8, "TERN-SEG"), 0);
  write_file(path, data.substr(kSegmentHeaderBytes));
}

// A closed spool in `dir` holding events 0..2 in one segment, whose path
// is returned (empty if that failed; the caller asserts).
std::string closed_spool_of_three(const TempDir& dir, Metrics& m) {
  {
    auto s = Spool::open(options(dir.path()), m);
    if (!s.is_ok()) return {};
    append_sync(**s, events(0, 3));
  }
  auto segs = segment_files(dir.path());
  return segs.size() == 1 ? segs[0] : std::string();
}

TEST(SpoolTest, AppendedEventsReadBackInOrderWithSequenceNumbers) {
  TempDir dir;
  Metrics m;
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  auto [a, b] = append_sync(**s, events(0, 3));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 3u);
  auto [c, d] = append_sync(**s, events(3, 2, "identify"));
  EXPECT_EQ(c, 4u);
  EXPECT_EQ(d, 5u);
  auto recs = read_all(**s, 0);
  ASSERT_EQ(recs.size(), 5u);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].seq, i + 1);
    EXPECT_EQ(recs[i].source_id, "web");
    EXPECT_NE(recs[i].event.find("\"n\":" + std::to_string(i) + "}"), std::string::npos);
  }
  EXPECT_EQ(recs[4].type, "identify");
  EXPECT_EQ(read_all(**s, 3).size(), 2u);
  EXPECT_EQ(m.counter("tern_relay_spool_appended_events_total").value(), 5u);
}

TEST(SpoolTest, ConcurrentAppendsShareGroupCommits) {
  TempDir dir;
  Metrics m;
  auto o = options(dir.path());
  o.commit_window = 20ms;
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*s)->append(events(i, 1),
                             [&](Status st, uint64_t, uint64_t) {
                               EXPECT_TRUE(st.is_ok());
                               done++;
                             })
                    .is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return done.load() == 50; }));
  EXPECT_LT(m.counter("tern_relay_spool_commits_total").value(), 50u);
  EXPECT_EQ(read_all(**s, 0).size(), 50u);
}

TEST(SpoolBatchTest, GivesBackEachEventAndItsTypeAsAdded) {
  SpoolBatch b("web");
  EXPECT_TRUE(b.empty());
  b.add("track", R"({"type":"track","n":0})");
  std::string& out = b.begin_event("identify");
  out += R"({"type":"identify",)";
  out += R"("n":1})";
  b.end_event();
  b.add("page", "");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.source_id(), "web");
  EXPECT_EQ(b.type(0), "track");
  EXPECT_EQ(b.event(0), R"({"type":"track","n":0})");
  EXPECT_EQ(b.type(1), "identify");
  EXPECT_EQ(b.event(1), R"({"type":"identify","n":1})");
  EXPECT_EQ(b.type(2), "page");
  EXPECT_EQ(b.event(2), "");
  EXPECT_GT(b.bytes(), b.event(0).size() + b.event(1).size());
}

TEST(SpoolTest, AnEmptyOrOverlongBatchIsRefusedAndTakesNoSequenceNumber) {
  TempDir dir;
  Metrics m;
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  auto refused = [&](SpoolBatch b) { return (*s)->append(std::move(b), {}).code(); };
  EXPECT_EQ(refused(SpoolBatch("web")), StatusCode::kInvalidArgument);
  SpoolBatch long_type("web");
  long_type.add("track", "{}");
  long_type.add(std::string(70000, 't'), "{}");
  EXPECT_EQ(refused(std::move(long_type)), StatusCode::kInvalidArgument);
  SpoolBatch long_source(std::string(70000, 's'));
  long_source.add("track", "{}");
  EXPECT_EQ(refused(std::move(long_source)), StatusCode::kInvalidArgument);
  auto [a, b] = append_sync(**s, events(0, 2));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
}

TEST(SpoolTest, AppendsSharingACommitReadBackAlikeFromMemoryAndFromDisk) {
  TempDir dir;
  Metrics m;
  auto o = options(dir.path());
  o.commit_window = 20ms;
  std::vector<std::string> from_memory;
  {
    auto s = Spool::open(o, m);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->register_cursor("file", false).is_ok());
    // 40 appends of 1..4 events each, most of them in shared commits.
    std::atomic<int> done{0};
    int n = 0;
    for (int i = 0; i < 40; ++i) {
      const int count = 1 + i % 4;
      ASSERT_TRUE((*s)->append(events(n, count),
                               [&](Status st, uint64_t, uint64_t) {
                                 EXPECT_TRUE(st.is_ok());
                                 done++;
                               })
                      .is_ok());
      n += count;
    }
    ASSERT_TRUE(wait_until([&] { return done.load() == 40; }));
    EXPECT_LT(m.counter("tern_relay_spool_commits_total").value(), 40u);
    auto recs = read_all(**s, 0);
    ASSERT_EQ(recs.size(), 100u);
    for (const auto& r : recs) from_memory.emplace_back(r.event);
    EXPECT_EQ(reads_from(m, "memory"), 100u);
  }
  // Reopened, the same records come from the segment file.
  Metrics m2;
  auto s = Spool::open(o, m2);
  ASSERT_TRUE(s.is_ok());
  auto recs = read_all(**s, 0);
  ASSERT_EQ(recs.size(), 100u);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].seq, i + 1);
    EXPECT_EQ(recs[i].event, from_memory[i]);
    EXPECT_EQ(recs[i].event, "{\"type\":\"track\",\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(m2.counter("tern_relay_spool_corrupt_records_total").value(), 0u);
}

TEST(SpoolTest, RestartKeepsEventsSequenceAndCursors) {
  TempDir dir;
  Metrics m;
  {
    auto s = Spool::open(options(dir.path()), m);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->register_cursor("a", false).is_ok());
    append_sync(**s, events(0, 4));
    (*s)->ack("a", 2);
    ASSERT_TRUE((*s)->close().is_ok());
  }
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->last_seq(), 4u);
  EXPECT_EQ((*s)->cursor("a"), std::optional<uint64_t>(2));
  auto [a, b] = append_sync(**s, events(4, 1));
  EXPECT_EQ(a, 5u);
  auto recs = read_all(**s, *(*s)->cursor("a"));
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].seq, 3u);
}

TEST(SpoolTest, TornTailIsTruncatedAtOpenNotReplayed) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  // A crash in the middle of a write: a record header promising 200 bytes and
  // only some of them.
  auto size = std::filesystem::file_size(seg);
  {
    int fd = ::open(seg.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    unsigned char torn[40] = {0x12, 0x34, 0x56, 0x78, 200, 0, 0, 0, 4, 0,
                              0,    0,    0,    0,    0,   0, 3, 0, 5, 0};
    for (int i = 20; i < 40; ++i) torn[i] = 'x';
    ASSERT_EQ(::write(fd, torn, sizeof torn), static_cast<ssize_t>(sizeof torn));
    ::close(fd);
  }
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->last_seq(), 3u);
  EXPECT_EQ(std::filesystem::file_size(seg), size);
  EXPECT_EQ(m.counter("tern_relay_spool_torn_bytes_total").value(), 40u);
  auto [a, b] = append_sync(**s, events(3, 1));
  EXPECT_EQ(a, 4u);
  auto recs = read_all(**s, 0);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_NE(recs[3].event.find("\"n\":3"), std::string::npos);
}

TEST(SpoolTest, RecordWithBadCrcAtTheTailIsDropped) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  // Flip the last byte of the file: the third record's CRC no longer matches.
  std::filesystem::resize_file(seg, std::filesystem::file_size(seg));
  {
    int fd = ::open(seg.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    off_t end = ::lseek(fd, 0, SEEK_END);
    char c;
    ASSERT_EQ(::pread(fd, &c, 1, end - 1), 1);
    c ^= 0x55;
    ASSERT_EQ(::pwrite(fd, &c, 1, end - 1), 1);
    ::close(fd);
  }
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->last_seq(), 2u);
  EXPECT_EQ(read_all(**s, 0).size(), 2u);
}

TEST(SpoolTest, RecordsOfAnOlderRelayWithZlibCrc32InASegmentWithoutHeaderAreStillRead) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  // Rewrite the segment as an earlier relay wrote it: no header, and every
  // record's checksum zlib's CRC-32 of everything after the checksum field.
  strip_segment_header(seg);
  std::string data = file_bytes(seg);
  std::size_t pos = 0;
  int rewritten = 0;
  while (pos + 20 <= data.size()) {
    uint32_t body;
    std::memcpy(&body, data.data() + pos + 4, 4);
    if (body == 0) break;  // preallocated zeros past the last record
    uint32_t crc = static_cast<uint32_t>(::crc32(
        0L, reinterpret_cast<const Bytef*>(data.data() + pos + 4), static_cast<uInt>(16 + body)));
    std::memcpy(&data[pos], &crc, 4);
    pos += 20 + body;
    ++rewritten;
  }
  ASSERT_EQ(rewritten, 3);
  write_file(seg, data);
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->last_seq(), 3u);
  auto recs = read_all(**s, 0);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_NE(recs[2].event.find("\"n\":2"), std::string::npos);
  EXPECT_EQ(m.counter("tern_relay_spool_corrupt_records_total").value(), 0u);
  EXPECT_EQ(m.counter("tern_relay_spool_torn_bytes_total").value(), 0u);
}

TEST(SpoolTest, SegmentsWithoutHeaderAreReadAndNewEventsGoToASegmentWithOne) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  strip_segment_header(seg);  // as the relay wrote segments before they had a version
  auto expect_events = [](const std::vector<SpoolRecord>& recs, std::size_t n) {
    ASSERT_EQ(recs.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(recs[i].seq, i + 1);
      EXPECT_EQ(recs[i].event, "{\"type\":\"track\",\"n\":" + std::to_string(i) + "}");
    }
  };
  {
    auto s = Spool::open(options(dir.path()), m);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ((*s)->last_seq(), 3u);
    auto [a, b] = append_sync(**s, events(3, 1));
    EXPECT_EQ(a, 4u);
    expect_events(read_all(**s, 0), 4);
    // The old segment is left as it was; the new event went to a new segment.
    auto segs = segment_files(dir.path());
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_EQ(segs[0], seg);
    EXPECT_EQ(file_bytes(segs[1]).compare(0, 8, "TERN-SEG"), 0);
  }
  Metrics m2;
  auto s = Spool::open(options(dir.path()), m2);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ((*s)->last_seq(), 4u);
  expect_events(read_all(**s, 0), 4);
  EXPECT_EQ(m.counter("tern_relay_spool_torn_bytes_total").value(), 0u);
  EXPECT_EQ(m2.counter("tern_relay_spool_torn_bytes_total").value(), 0u);
  EXPECT_EQ(m2.counter("tern_relay_spool_corrupt_records_total").value(), 0u);
}

TEST(SpoolTest, ZlibCrc32IsNotAcceptedInASegmentWithAHeader) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  // The third record's checksum as a relay before CRC-32C wrote it.
  std::string data = file_bytes(seg);
  std::size_t pos = kSegmentHeaderBytes;
  uint32_t body = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_LE(pos + 20, data.size());
    std::memcpy(&body, data.data() + pos + 4, 4);
    if (i < 2) pos += 20 + body;
  }
  ASSERT_EQ(pos + 20 + body, data.size());
  uint32_t crc = static_cast<uint32_t>(::crc32(
      0L, reinterpret_cast<const Bytef*>(data.data() + pos + 4), static_cast<uInt>(16 + body)));
  std::memcpy(&data[pos], &crc, 4);
  write_file(seg, data);
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->last_seq(), 2u);
  EXPECT_EQ(read_all(**s, 0).size(), 2u);
  EXPECT_EQ(m.counter("tern_relay_spool_torn_bytes_total").value(), 20u + body);
}

TEST(SpoolTest, ASegmentOfANewerFormatVersionIsRefusedAtOpen) {
  TempDir dir;
  Metrics m;
  const std::string seg = closed_spool_of_three(dir, m);
  ASSERT_FALSE(seg.empty());
  std::string data = file_bytes(seg);
  const uint32_t version = 2;
  std::memcpy(&data[8], &version, 4);
  write_file(seg, data);
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIOError);
  EXPECT_NE(s.status().message().find("format version 2"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(file_bytes(seg), data);  // left as it was
}

TEST(SpoolTest, ReaderCrossesSegmentsAndTrimDeletesWhatEveryCursorPassed) {
  TempDir dir;
  Metrics m;
  auto o = options(dir.path());
  o.segment_bytes = 256;         // a few events per segment
  o.maintenance_thread = false;  // trims when the test says
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("a", false).is_ok());
  ASSERT_TRUE((*s)->register_cursor("b", false).is_ok());
  for (int i = 0; i < 40; ++i) append_sync(**s, events(i, 1));
  auto before = segment_files(dir.path()).size();
  EXPECT_GT(before, 5u);
  auto recs = read_all(**s, 0);
  ASSERT_EQ(recs.size(), 40u);
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(recs[i].seq, i + 1);

  (*s)->ack("a", 40);
  // b has not moved: a maintenance pass deletes nothing.
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());
  EXPECT_EQ(segment_files(dir.path()).size(), before);
  (*s)->ack("b", 30);
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());
  EXPECT_LT(segment_files(dir.path()).size(), before);
  // Everything after b's cursor is still readable.
  auto rest = read_all(**s, 30);
  ASSERT_EQ(rest.size(), 10u);
  EXPECT_EQ(rest[0].seq, 31u);
  EXPECT_LT((*s)->bytes(), 40u * 60);
}

TEST(SpoolTest, AnIdleSpoolSealsItsConsumedSegmentOnceTheFlushIntervalHasPassedOnItsClock) {
  TempDir dir;
  Metrics m;
  ManualClock clock;  // stands still until the test advances it
  auto o = options(dir.path());
  o.clock = &clock;
  o.commit_window = 0ms;
  o.maintenance_thread = false;
  o.cursor_flush_interval = 1h;  // never passes for real during the test
  o.segment_bytes = 1024;        // ten events fill over a quarter of it
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("file", false).is_ok());
  append_sync(**s, events(0, 10));
  const auto first = segment_files(dir.path());
  ASSERT_EQ(first.size(), 1u);
  (*s)->ack("file", 10);
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());  // asks for the roll
  clock.advance(1h);
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());  // the roll is due: the committer seals
  auto segments = [&] { return m.gauge("tern_relay_spool_segments").value(); };
  ASSERT_TRUE(wait_until([&] { return segments() == 2; }));
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());  // and the sealed segment goes
  auto now = segment_files(dir.path());
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], first[0]);
  EXPECT_EQ(segments(), 1);
  // The next event goes on in the new segment.
  auto [a, b] = append_sync(**s, events(10, 1));
  EXPECT_EQ(a, 11u);
  auto recs = read_all(**s, 10, clock);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].event, "{\"type\":\"track\",\"n\":10}");
  EXPECT_EQ(segment_files(dir.path()), now);
}

TEST(SpoolTest, WithoutTheMaintenanceThreadAPassPersistsTheCursorsAcknowledgedSince) {
  TempDir dir;
  Metrics m;
  auto o = options(dir.path());
  o.maintenance_thread = false;
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("file", false).is_ok());  // persisted at once
  append_sync(**s, events(0, 4));
  (*s)->ack("file", 3);
  const std::string cursors = dir.path() + "/cursors";
  EXPECT_EQ(file_bytes(cursors), "file 0\n");  // nothing else writes it
  ASSERT_TRUE((*s)->run_maintenance_once().is_ok());
  EXPECT_EQ(file_bytes(cursors), "file 3\n");
}

TEST(SpoolTest, PastTheCapAppendsAreRefusedAndNothingIsDropped) {
  TempDir dir;
  Metrics m;
  auto o = options(dir.path());
  o.max_bytes = 2000;
  o.segment_bytes = 500;
  o.maintenance_thread = false;  // trims when the test says
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("a", false).is_ok());
  int accepted = 0;
  Status st;
  for (int i = 0; i < 100; ++i) {
    st = (*s)->append(events(i, 1), [](Status, uint64_t, uint64_t) {});
    if (!st) break;
    ++accepted;
  }
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_GT(accepted, 10);
  EXPECT_TRUE((*s)->full());
  ASSERT_TRUE(wait_until([&] { return (*s)->last_seq() == static_cast<uint64_t>(accepted); }));
  EXPECT_EQ(read_all(**s, 0).size(), static_cast<std::size_t>(accepted));
  EXPECT_GT(m.counter("tern_relay_spool_refused_events_total", "reason=\"full\"").value(), 0u);

  // The consumer catches up: space is freed and appends are accepted again.
  (*s)->ack("a", (*s)->last_seq());
  EXPECT_TRUE((*s)->full());  // until maintenance deletes what the cursor passed
  // One pass may only ask the committer to seal the segment the last group
  // went to; a later one deletes it.
  ASSERT_TRUE(wait_until([&] {
    EXPECT_TRUE((*s)->run_maintenance_once().is_ok());
    return !(*s)->full();
  }));
  EXPECT_TRUE((*s)->append(events(1000, 1), [](Status, uint64_t, uint64_t) {}).is_ok());
}

TEST(SpoolTest, NewCursorStartsAtTheEndOrAtTheOldestEvent) {
  TempDir dir;
  Metrics m;
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  append_sync(**s, events(0, 5));
  EXPECT_EQ((*s)->register_cursor("late", true).value(), 5u);
  EXPECT_EQ((*s)->register_cursor("all", false).value(), 0u);
  EXPECT_EQ((*s)->register_cursor("late", false).value(), 5u);  // existing cursors are kept
  ASSERT_TRUE((*s)->drop_cursor("late").is_ok());
  EXPECT_FALSE((*s)->cursor("late").has_value());
  EXPECT_EQ((*s)->drop_cursor("late").code(), StatusCode::kNotFound);
}

TEST(SpoolTest, SecondOpenerOfTheSameDirectoryIsLockedOut) {
  TempDir dir;
  Metrics m;
  auto a = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(a.is_ok());
  auto b = Spool::open(options(dir.path()), m);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);
}

TEST(SpoolTest, ClosedSpoolRefusesAppendsWithShutdownAndWakesReaders) {
  TempDir dir;
  Metrics m;
  CountingClock clock;
  auto o = options(dir.path());
  o.clock = &clock;
  o.maintenance_thread = false;  // so that only the reader reads the clock
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  auto r = (*s)->reader(0);
  std::vector<SpoolRecord> out;
  const auto deadline = clock.steady_now() + 30s;
  const int reads_before = clock.reads();
  auto t = std::thread([&] { EXPECT_TRUE(r->read(10, 1000, deadline, &out).is_ok()); });
  // A reader with nothing to read reads the clock, under the spool's lock,
  // just before it waits: close() cannot come in between.
  ASSERT_TRUE(wait_until([&] { return clock.reads() > reads_before; }));
  const auto closing = std::chrono::steady_clock::now();
  ASSERT_TRUE((*s)->close().is_ok());
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - closing, 10s);  // 30 s if close did not wake it
  EXPECT_TRUE(out.empty());
  EXPECT_EQ((*s)->append(events(0, 1), {}).code(), StatusCode::kCancelled);
}

TEST(SpoolTest, ReadHonoursEventAndByteLimits) {
  TempDir dir;
  Metrics m;
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  append_sync(**s, events(0, 10));
  auto r = (*s)->reader(0);
  std::vector<SpoolRecord> out;
  ASSERT_TRUE(r->read(3, 1 << 20, std::chrono::steady_clock::now(), &out).is_ok());
  EXPECT_EQ(out.size(), 3u);
  std::size_t one = out[0].event.size();
  out.clear();
  ASSERT_TRUE(r->read(100, one * 2 + 1, std::chrono::steady_clock::now(), &out).is_ok());
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq, 4u);
  // Topping up the same batch respects the totals.
  ASSERT_TRUE(r->read(100, one * 2 + 1, std::chrono::steady_clock::now(), &out).is_ok());
  EXPECT_EQ(out.size(), 2u);
}

// Every record once, in order, reading `step` at a time.
void expect_all_in_order(Spool& s, uint64_t after, uint64_t last, std::size_t step = 1000) {
  auto r = s.reader(after);
  std::vector<SpoolRecord> out;
  uint64_t want = after + 1;
  for (int guard = 0; guard < 10000 && want <= last; ++guard) {
    out.clear();
    ASSERT_TRUE(r->read(step, 1 << 20, std::chrono::steady_clock::now(), &out).is_ok());
    for (const auto& rec : out) {
      ASSERT_EQ(rec.seq, want);
      EXPECT_NE(rec.event.find("\"n\":" + std::to_string(want - 1) + "}"), std::string::npos)
          << rec.event;
      ++want;
    }
  }
  EXPECT_EQ(want, last + 1);
}

TEST(SpoolTest, SinksThatKeepUpReadRecentCommitsFromMemory) {
  TempDir dir;
  Metrics m;
  auto s = Spool::open(options(dir.path()), m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("file", false).is_ok());
  append_sync(**s, events(0, 5));
  append_sync(**s, events(5, 5));
  EXPECT_GT(m.gauge("tern_relay_spool_memory_tail_bytes").value(), 0);
  expect_all_in_order(**s, 0, 10, 3);
  EXPECT_EQ(reads_from(m, "memory"), 10u);
  EXPECT_EQ(reads_from(m, "disk"), 0u);
  // Once every cursor has passed them, the commits leave memory.
  (*s)->ack("file", 10);
  EXPECT_EQ(m.gauge("tern_relay_spool_memory_tail_bytes").value(), 0);
  expect_all_in_order(**s, 0, 10);
  EXPECT_EQ(reads_from(m, "disk"), 10u);
}

TEST(SpoolTest, AReaderFallingBehindTheMemoryTailGoesOnFromDiskWhereItWas) {
  TempDir dir;
  Metrics m;
  SpoolOptions o = options(dir.path());
  // Five small events take ~255 bytes, held in a buffer of 255-510: the
  // tail keeps at least one such append and never five.
  o.memory_tail_bytes = 1000;
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("slow", false).is_ok());
  append_sync(**s, events(0, 5));
  auto r = (*s)->reader(0);
  std::vector<SpoolRecord> out;
  ASSERT_TRUE(r->read(3, 1 << 20, std::chrono::steady_clock::now(), &out).is_ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(reads_from(m, "memory"), 3u);
  // Four more commits push the first ones out of memory.
  for (int c = 1; c <= 4; ++c) append_sync(**s, events(5 * c, 5));
  uint64_t want = 4;
  for (int guard = 0; guard < 100 && want <= 25; ++guard) {
    std::vector<SpoolRecord> more;
    ASSERT_TRUE(r->read(4, 1 << 20, std::chrono::steady_clock::now(), &more).is_ok());
    for (const auto& rec : more) {
      ASSERT_EQ(rec.seq, want);
      EXPECT_NE(rec.event.find("\"n\":" + std::to_string(want - 1) + "}"), std::string::npos);
      ++want;
    }
  }
  EXPECT_EQ(want, 26u);
  EXPECT_GT(reads_from(m, "disk"), 0u);
  // The records read earlier stay valid: they hold their own bytes.
  EXPECT_NE(out[2].event.find("\"n\":2}"), std::string::npos);
}

TEST(SpoolTest, WithTheMemoryTailOffEverythingIsReadFromDisk) {
  TempDir dir;
  Metrics m;
  SpoolOptions o = options(dir.path());
  o.memory_tail_bytes = 0;
  auto s = Spool::open(o, m);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->register_cursor("file", false).is_ok());
  for (int c = 0; c < 4; ++c) append_sync(**s, events(5 * c, 5));
  expect_all_in_order(**s, 0, 20, 7);
  EXPECT_EQ(reads_from(m, "memory"), 0u);
  EXPECT_EQ(reads_from(m, "disk"), 20u);
}

}  // namespace
}  // namespace tern::relay
