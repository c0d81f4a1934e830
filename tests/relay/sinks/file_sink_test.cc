#include "tern/relay/sinks/file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "manual_clock.h"
#include "temp_dir.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/durable_pipeline.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::TempDir;
using tern::testing::wait_until;
using testing::ManualClock;
namespace fs = std::filesystem;

SinkConfig file_config(std::map<std::string, std::string> settings) {
  SinkConfig c;
  c.name = "archive";
  c.type = "file";
  c.settings = std::move(settings);
  return c;
}

std::vector<std::string> files_in(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> v;
  if (!fs::exists(dir)) return v;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string p = e.path().string();
    if (p.size() >= suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      v.push_back(p);
    }
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::size_t i = 0;
  while (i < text.size()) {
    auto nl = text.find('\n', i);
    if (nl == std::string::npos) nl = text.size();
    v.push_back(text.substr(i, nl - i));
    i = nl + 1;
  }
  return v;
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string read_gzip(const std::string& path) {
  gzFile g = gzopen(path.c_str(), "rb");
  EXPECT_NE(g, nullptr);
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(g, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  int err = 0;
  gzerror(g, &err);
  EXPECT_TRUE(err == Z_OK || err == Z_STREAM_END) << path;
  gzclose(g);
  return out;
}

struct Batch {
  std::vector<std::string> texts;
  std::vector<SinkRecord> records;
  explicit Batch(int from, int n) {
    for (int i = from; i < from + n; ++i)
      texts.push_back("{\"type\":\"track\",\"n\":" + std::to_string(i) + "}");
    for (std::size_t i = 0; i < texts.size(); ++i)
      records.push_back(SinkRecord{i + 1, "web", texts[i]});
  }
};

TEST(FileSinkTest, WritesOneEventPerLineAndPublishesTheFileOnClose) {
  TempDir dir;
  Metrics m;
  auto sink = make_file_sink(file_config({{"dir", dir.path()}}), SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok()) << sink.status().to_string();
  ASSERT_TRUE((*sink)->open().is_ok());
  Batch b(0, 3);
  std::string multi = "{\"type\":\"track\",\n \"n\":3}";
  b.records.push_back(SinkRecord{4, "web", multi});
  ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  // While open, only the ".open" file exists: readers never see a partial file.
  EXPECT_TRUE(files_in(dir.path(), ".ndjson").empty());
  ASSERT_EQ(files_in(dir.path(), ".ndjson.open").size(), 1u);
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  auto files = files_in(dir.path(), ".ndjson");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename().string().rfind("archive-", 0), 0u);
  auto lines = lines_of(read_plain(files[0]));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "{\"type\":\"track\",\"n\":0}");
  EXPECT_EQ(lines[3], "{\"type\":\"track\",  \"n\":3}");  // the newline became a space
}

TEST(FileSinkTest, RotatesBySize) {
  TempDir dir;
  Metrics m;
  auto sink = make_file_sink(file_config({{"dir", dir.path()}, {"max_bytes", "50"}}),
                             SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  for (int i = 0; i < 5; ++i) {
    Batch b(i * 4, 4);  // ~90 bytes per batch: past max_bytes after each one
    ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  }
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  auto files = files_in(dir.path(), ".ndjson");
  EXPECT_EQ(files.size(), 5u);
  std::size_t total = 0;
  for (const auto& f : files) total += lines_of(read_plain(f)).size();
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(m.counter("tern_relay_file_sink_rotations_total", "sink=\"archive\"").value(), 5u);
}

TEST(FileSinkTest, FileNamesCarryTheClocksUtcTime) {
  TempDir dir;
  Metrics m;
  // 2030-01-02T03:04:05Z
  ManualClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1893553445)));
  auto sink =
      make_file_sink(file_config({{"dir", dir.path()}}), SinkContext{dir.path(), &m, &clock});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  Batch b(0, 1);
  ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  auto files = files_in(dir.path(), ".ndjson");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename().string().rfind("archive-20300102T030405Z-", 0), 0u)
      << files[0];
}

TEST(FileSinkTest, RotatesByAgeEvenWhenIdle) {
  TempDir dir;
  Metrics m;
  ManualClock clock;
  auto sink = make_file_sink(file_config({{"dir", dir.path()}, {"max_age", "1h"}}),
                             SinkContext{dir.path(), &m, &clock});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  Batch b(0, 2);
  ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  clock.advance(59min);
  ASSERT_TRUE((*sink)->health().is_ok());
  EXPECT_TRUE(files_in(dir.path(), ".ndjson").empty());  // not an hour old yet
  clock.advance(1min);
  ASSERT_TRUE((*sink)->health().is_ok());  // the idle check publishes the old file
  EXPECT_EQ(files_in(dir.path(), ".ndjson").size(), 1u);
  ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  EXPECT_EQ(files_in(dir.path(), ".ndjson").size(), 2u);
}

TEST(FileSinkTest, GzipFilesAreCompleteStreamsThatReadBack) {
  TempDir dir;
  Metrics m;
  auto sink =
      make_file_sink(file_config({{"dir", dir.path()}, {"gzip", "true"}, {"max_bytes", "200"}}),
                     SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  for (int i = 0; i < 30; ++i) {
    Batch b(i * 10, 10);
    ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  }
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  auto files = files_in(dir.path(), ".ndjson.gz");
  ASSERT_GE(files.size(), 2u);
  std::vector<std::string> all;
  for (const auto& f : files) {
    auto l = lines_of(read_gzip(f));
    all.insert(all.end(), l.begin(), l.end());
  }
  ASSERT_EQ(all.size(), 300u);
  for (int i = 0; i < 300; ++i)
    EXPECT_EQ(all[i], "{\"type\":\"track\",\"n\":" + std::to_string(i % 10 + (i / 10) * 10) + "}");
}

// A write that fails part-way (here the file-size limit, as a full disk
// would) loses everything since the last flush, and only that: the file goes
// back to its flushed size, and the runner's second delivery of those
// batches leaves each event in it once.
TEST(FileSinkTest, AFailedWriteGoesBackToTheLastFlushSoTheRedeliveryIsNotDuplicated) {
  TempDir dir;
  Metrics m;
  auto sink = make_file_sink(file_config({{"dir", dir.path()}}), SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  Sink& s = **sink;
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.defers_durability());
  Batch a(0, 3), b(3, 3), c(6, 3);
  ASSERT_TRUE(s.deliver(a.records).status.is_ok());
  ASSERT_TRUE(s.flush().status.is_ok());
  auto open_files = files_in(dir.path(), ".ndjson.open");
  ASSERT_EQ(open_files.size(), 1u);
  auto flushed = fs::file_size(open_files[0]);
  ASSERT_TRUE(s.deliver(b.records).status.is_ok());  // written, not flushed
  EXPECT_GT(fs::file_size(open_files[0]), flushed);

  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old), 0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = fs::file_size(open_files[0]) + 10;  // c gets 10 bytes in
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  DeliveryResult failed = s.deliver(c.records);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &old, nullptr), 0);
  EXPECT_FALSE(failed.status.is_ok());
  EXPECT_EQ(fs::file_size(open_files[0]), flushed);  // b's and c's bytes are gone

  std::vector<SinkRecord> again = b.records;
  again.insert(again.end(), c.records.begin(), c.records.end());
  ASSERT_TRUE(s.deliver(again).status.is_ok());
  ASSERT_TRUE(s.flush().status.is_ok());
  ASSERT_TRUE(s.close(std::chrono::steady_clock::now() + 1s).is_ok());
  auto files = files_in(dir.path(), ".ndjson");
  ASSERT_EQ(files.size(), 1u);
  auto lines = lines_of(read_plain(files[0]));
  ASSERT_EQ(lines.size(), 9u);
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(lines[i], "{\"type\":\"track\",\"n\":" + std::to_string(i) + "}");
}

TEST(FileSinkTest, AFileLeftOpenByACrashIsPublishedAtOpen) {
  TempDir dir;
  Metrics m;
  { std::ofstream(dir.path() + "/archive-20260101T000000Z-0000.ndjson.open") << "{\"n\":1}\n"; }
  auto sink = make_file_sink(file_config({{"dir", dir.path()}}), SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  EXPECT_TRUE(fs::exists(dir.path() + "/archive-20260101T000000Z-0000.ndjson"));
  EXPECT_TRUE(files_in(dir.path(), ".open").empty());
}

TEST(FileSinkTest, AFileLeftOpenWithATornLastLineIsCutAfterItsLastCompleteLine) {
  TempDir dir;
  Metrics m;
  {
    std::ofstream(dir.path() + "/archive-20260101T000000Z-0000.ndjson.open")
        << "{\"n\":1}\n{\"n\":2}\n{\"n\":";
    std::ofstream(dir.path() + "/archive-20260101T000000Z-0001.ndjson.open")
        << "{\"n\":3";  // no whole line
  }
  auto sink = make_file_sink(file_config({{"dir", dir.path()}}), SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  EXPECT_EQ(read_plain(dir.path() + "/archive-20260101T000000Z-0000.ndjson"),
            "{\"n\":1}\n{\"n\":2}\n");
  EXPECT_FALSE(fs::exists(dir.path() + "/archive-20260101T000000Z-0001.ndjson"));
  EXPECT_TRUE(files_in(dir.path(), ".open").empty());
}

TEST(FileSinkTest, BadOrUnknownSettingsAreRefusedNamingTheKey) {
  Metrics m;
  SinkContext ctx{"/tmp", &m};
  auto r = make_file_sink(file_config({{"max_bytes", "lots"}}), ctx);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("max_bytes"), std::string::npos);
  r = make_file_sink(file_config({{"gzip", "yes"}}), ctx);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("gzip"), std::string::npos);
  r = make_file_sink(file_config({{"compresion", "gzip"}}), ctx);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("unknown setting \"compresion\""), std::string::npos);
}

TEST(FileSinkTest, DefaultsToDataDirEvents) {
  TempDir dir;
  Metrics m;
  auto sink = make_file_sink(file_config({}), SinkContext{dir.path(), &m});
  ASSERT_TRUE(sink.is_ok());
  ASSERT_TRUE((*sink)->open().is_ok());
  Batch b(0, 1);
  ASSERT_TRUE((*sink)->deliver(b.records).status.is_ok());
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + 1s).is_ok());
  EXPECT_EQ(files_in(dir.path() + "/events", ".ndjson").size(), 1u);
}

TEST(BuiltinSinksTest, RegistersFileAndStdoutOnceOnly) {
  SinkRegistry reg;
  ASSERT_TRUE(register_builtin_sinks(reg).is_ok());
  EXPECT_TRUE(reg.contains("file"));
  EXPECT_TRUE(reg.contains("stdout"));
  Status again = register_builtin_sinks(reg);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
}

// The embedded default end to end: default_config → pipeline → file sink.
TEST(FileSinkPipelineTest, DefaultConfigLandsEventsInDataDirEventsAndSurvivesRestart) {
  TempDir dir;
  Metrics m;
  SinkRegistry reg;
  ASSERT_TRUE(register_builtin_sinks(reg).is_ok());
  RelayConfig c = default_config(dir.path(), {"key"});
  c.spool.commit_window = std::chrono::milliseconds(1);
  c.sinks[0].batch_linger = std::chrono::milliseconds(1);
  for (int round = 0; round < 2; ++round) {
    auto p = make_pipeline(c, m, reg);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Submission s;
    s.events = SpoolBatch("default");
    for (int i = 0; i < 5; ++i)
      s.events.add("track", "{\"type\":\"track\",\"n\":" + std::to_string(round * 5 + i) + "}");
    std::promise<Status> done;
    (*p)->submit(std::move(s), [&](Status st) { done.set_value(st); });
    ASSERT_TRUE(done.get_future().get().is_ok());
    ASSERT_TRUE((*p)->stop(std::chrono::steady_clock::now() + 5s).is_ok());
  }
  std::vector<std::string> all;
  for (const auto& f : files_in(dir.path() + "/events", ".ndjson")) {
    auto l = lines_of(read_plain(f));
    all.insert(all.end(), l.begin(), l.end());
  }
  ASSERT_EQ(all.size(), 10u);  // each event once: the cursor survived the restart
  EXPECT_EQ(all[9], "{\"type\":\"track\",\"n\":9}");
}

}  // namespace
}  // namespace tern::relay
