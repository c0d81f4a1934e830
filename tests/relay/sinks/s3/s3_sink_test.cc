// The s3 sink against moto's S3 server (the fixture started by ctest), driven
// through the Sink interface as the runner drives it, with a ManualClock.
// Every assertion reads the bucket back as a lake user would: list, GET,
// gunzip, parse.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "manual_clock.h"
#include "s3_client.h"
#include "s3_sink_options.h"
#include "s3_state.h"
#include "temp_dir.h"
#include "tern/relay/sinks/s3.h"
#include "wait_until.h"

namespace tern::relay {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using SysTime = std::chrono::system_clock::time_point;
using Json = nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

SysTime at(int hour, int minute = 0, int second = 0) {
  // 2026-11-26T00:00:00Z
  SysTime day{std::chrono::seconds(1795651200)};
  return day + hours(hour) + minutes(minute) + seconds(second);
}

std::string iso(SysTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[40];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return b;
}

// An enriched event as the spool holds it, with some text that compresses
// as real events do.
std::string event(int n, SysTime received) {
  static const char* kNames[] = {"Clicked", "Viewed", "Purchased", "Signed Up", "Searched"};
  std::mt19937 rng(static_cast<unsigned>(n));
  std::string props;
  for (int i = 0; i < 4; ++i) props += std::to_string(rng() % 100000) + "-";
  return "{\"type\":\"track\",\"event\":\"" + std::string(kNames[n % 5]) + "\",\"messageId\":\"m-" +
         std::to_string(n) + "\",\"userId\":\"u" + std::to_string(rng() % 500) +
         "\",\"properties\":{\"n\":" + std::to_string(n) + ",\"r\":\"" + props +
         "\"},\"timestamp\":\"" + iso(received - seconds(2)) + "\",\"receivedAt\":\"" +
         iso(received) + "\",\"context\":{\"sourceId\":\"web\"}}";
}

// Records over stored event text (SinkRecord holds views).
struct Batch {
  std::vector<std::string> texts;
  std::vector<std::string> sources;
  std::vector<uint64_t> seqs;
  std::vector<SinkRecord> records() const {
    std::vector<SinkRecord> v;
    for (std::size_t i = 0; i < texts.size(); ++i) v.push_back({seqs[i], sources[i], texts[i]});
    return v;
  }
  void add(uint64_t seq, std::string text, std::string source = "web") {
    seqs.push_back(seq);
    texts.push_back(std::move(text));
    sources.push_back(std::move(source));
  }
};

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return "<bad>";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&zs);
  return rc == Z_STREAM_END && zs.avail_in == 0 ? out : "<bad gzip>";
}

std::string unique_bucket(const std::string& hint) {
  static std::atomic<int> counter{0};
  static const unsigned seed = std::random_device{}();
  std::string name =
      "tern-sink-" + hint + "-" + std::to_string(seed % 100000) + "-" + std::to_string(counter++);
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  if (name.size() > 63) name = name.substr(name.size() - 63);
  if (name.front() == '-') name.front() = 't';
  return name;
}

// moto as it starts (any key), or with request signing enforced.
enum class Mode { kAsItStarts, kSigningEnforced };

void PrintTo(Mode mode, std::ostream* os) {
  *os << (mode == Mode::kAsItStarts ? "moto as it starts" : "signing enforced");
}

class S3SinkTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    const char* var =
        GetParam() == Mode::kAsItStarts ? "TERN_S3_MOTO_DIR" : "TERN_S3_MOTO_AUTH_DIR";
    const char* dir = std::getenv(var);
    ASSERT_NE(dir, nullptr) << "run through ctest (the moto fixtures set " << var << ")";
    moto_dir_ = dir;
    endpoint_ = read_file(std::string(dir) + "/endpoint");
    ASSERT_FALSE(endpoint_.empty());
    key_id_ = read_file(std::string(dir) + "/access_key_id");
    secret_ = read_file(std::string(dir) + "/secret_access_key");
    bucket_ = unique_bucket(::testing::UnitTest::GetInstance()->current_test_info()->name());
    settings_ = {{"bucket", bucket_},           {"endpoint", endpoint_},
                 {"path_style", "true"},        {"region", "us-east-1"},
                 {"access_key_id", key_id_},    {"secret_access_key", secret_},
                 {"max_object_bytes", "64KiB"}, {"max_object_age", "5m"},
                 {"marker_grace", "1m"},        {"max_concurrent_uploads", "2"}};
  }

  void create_bucket() {
    s3::S3Response r = reader()->create_bucket();
    ASSERT_EQ(r.failure, s3::S3Failure::kNone) << r.status.to_string();
  }

  std::unique_ptr<s3::S3Client> reader() {
    s3::S3Options o;
    o.bucket = bucket_;
    o.endpoint = endpoint_;
    o.path_style = true;
    return std::make_unique<s3::S3Client>(
        o, s3::make_static_credentials(s3::Credentials{key_id_, secret_, "", std::nullopt}));
  }

  std::unique_ptr<Sink> make_sink() {
    SinkConfig c;
    c.name = "lake";
    c.type = "s3";
    c.settings = settings_;
    SinkContext ctx;
    ctx.data_dir = dir_.path();
    ctx.metrics = &metrics_;
    ctx.clock = &clock_;
    ctx.relay_id = "relay-a";
    auto s = make_s3_sink(c, ctx);
    EXPECT_TRUE(s) << s.status().to_string();
    if (!s) return nullptr;
    Status st = (*s)->open();
    EXPECT_TRUE(st) << st.to_string();
    return std::move(*s);
  }

  uint64_t counter(const char* name) { return metrics_.counter(name, "sink=\"lake\"").value(); }

  // Waits until the sink holds nothing (every object confirmed).
  bool drained(Sink& sink) {
    return tern::testing::wait_until([&] { return !sink.pending().has_value(); },
                                     std::chrono::seconds(30));
  }

  // Every object key under the prefix, with its lines.
  std::map<std::string, std::vector<std::string>> objects(const std::string& prefix = "events/") {
    auto c = reader();
    std::vector<std::string> keys;
    s3::S3Response r = c->list_objects(prefix, &keys);
    EXPECT_EQ(r.failure, s3::S3Failure::kNone) << r.status.to_string();
    std::map<std::string, std::vector<std::string>> out;
    for (const std::string& k : keys) {
      if (k.find(".ndjson.gz") == std::string::npos) continue;
      s3::S3Response g = c->get_object(k);
      EXPECT_EQ(g.failure, s3::S3Failure::kNone) << k << ": " << g.status.to_string();
      std::istringstream in(gunzip(g.body));
      std::string line;
      auto& lines = out[k];
      while (std::getline(in, line)) lines.push_back(line);
    }
    return out;
  }

  // messageId -> how many times the bucket holds it.
  std::map<std::string, int> message_counts(
      const std::map<std::string, std::vector<std::string>>& objs) {
    std::map<std::string, int> counts;
    for (const auto& [key, lines] : objs) {
      for (const std::string& l : lines) {
        Json j = Json::parse(l, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << key << ": " << l;
        if (!j.is_discarded()) counts[j.value("messageId", "?")]++;
      }
    }
    return counts;
  }

  tern::testing::TempDir dir_;
  testing::ManualClock clock_{at(5, 0, 0)};
  Metrics metrics_;
  std::string moto_dir_, endpoint_, key_id_, secret_, bucket_;
  std::map<std::string, std::string> settings_;
};

const std::regex kKeyLayout(
    R"(events/web/dt=2026-11-26/hour=(\d\d)/relay-a-(\d{20})-(\d{20})\.ndjson\.gz)");

TEST_P(S3SinkTest, EveryEventIsReadBackExactlyOnceAndSealedObjectsAreNearMaxObjectBytes) {
  create_bucket();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->acknowledges_itself());
  const int kEvents = 12000;
  uint64_t seq = 100;
  for (int n = 0; n < kEvents; n += 500) {
    Batch b;
    for (int i = n; i < n + 500; ++i) b.add(seq++, event(i, at(5, 10) + seconds(i / 100)));
    DeliveryResult r = sink->deliver(b.records());
    ASSERT_TRUE(r.status) << r.status.to_string();
    ASSERT_TRUE(r.rejected.empty());
    auto held = sink->pending();
    ASSERT_TRUE(held.has_value());
    EXPECT_GE(*held, 100u);
  }
  // The hour ends and the runner, caught up, asks health(): the last object is sealed.
  clock_.advance(minutes(51));
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(drained(*sink));

  auto objs = objects();
  auto counts = message_counts(objs);
  ASSERT_EQ(counts.size(), static_cast<std::size_t>(kEvents));
  for (const auto& [id, c] : counts) ASSERT_EQ(c, 1) << id;
  ASSERT_GE(objs.size(), 3u);

  auto c = reader();
  uint64_t next_first = 100;
  std::size_t i = 0;
  for (const auto& [key, lines] : objs) {  // keys sort by first seq
    std::smatch m;
    ASSERT_TRUE(std::regex_match(key, m, kKeyLayout)) << key;
    EXPECT_EQ(m[1].str(), "05");
    uint64_t first = std::stoull(m[2].str()), last = std::stoull(m[3].str());
    EXPECT_EQ(first, next_first) << key;
    EXPECT_EQ(last - first + 1, lines.size()) << key;
    next_first = last + 1;
    s3::S3Response h = c->head_object(key);
    ASSERT_EQ(h.failure, s3::S3Failure::kNone);
    const uint64_t size = std::stoull(h.headers["content-length"]);
    EXPECT_EQ(h.headers["content-type"], "application/x-ndjson");
    EXPECT_EQ(h.headers.count("content-encoding"), 0u);
    EXPECT_EQ(h.headers["x-amz-meta-sha256"].size(), 64u);
    EXPECT_LE(size, 64u * 1024 + 2048) << key;
    if (++i < objs.size()) {
      EXPECT_GE(size, 64u * 1024 * 9 / 10) << key << " is a small object";
    }
  }
  EXPECT_EQ(next_first, 100u + kEvents);
  EXPECT_EQ(counter("tern_relay_s3_objects_uploaded_total"), objs.size());
  EXPECT_TRUE(sink->close(std::chrono::steady_clock::now() + seconds(5)));
  EXPECT_FALSE(sink->pending().has_value());
}

TEST_P(S3SinkTest, AnObjectIsSealedWhenItReachesMaxObjectAge) {
  create_bucket();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 0, 1)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
  clock_.advance(minutes(2));
  auto& age = metrics_.gauge("tern_relay_s3_oldest_unsealed_event_age_seconds", "sink=\"lake\"");
  EXPECT_TRUE(tern::testing::wait_until([&] { return age.value() == 119; })) << age.value();
  clock_.advance(minutes(3));  // no deliver(), no health(): the sink's own thread seals it
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs.begin()->first,
            "events/web/dt=2026-11-26/hour=05/relay-a-00000000000000000001-00000000000000000010"
            ".ndjson.gz");
  EXPECT_EQ(objs.begin()->second, b.texts);
  EXPECT_TRUE(tern::testing::wait_until([&] { return age.value() == 0; })) << age.value();
}

TEST_P(S3SinkTest, AnObjectIsSealedWhenItsHourEndsAndTheNextHourGetsItsOwn) {
  create_bucket();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  clock_.advance(minutes(59));
  Batch b;
  for (int i = 0; i < 5; ++i) b.add(1 + i, event(i, at(5, 59, 10)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(1));  // 06:00:00
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(drained(*sink));
  Batch c;
  for (int i = 5; i < 8; ++i) c.add(1 + i, event(i, at(6, 0, 5)));
  ASSERT_TRUE(sink->deliver(c.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  ASSERT_EQ(objs.size(), 2u);
  auto it = objs.begin();
  EXPECT_NE(it->first.find("/hour=05/relay-a-00000000000000000001-00000000000000000005"),
            std::string::npos)
      << it->first;
  EXPECT_EQ(it->second.size(), 5u);
  ++it;
  EXPECT_NE(it->first.find("/hour=06/relay-a-00000000000000000006-00000000000000000008"),
            std::string::npos)
      << it->first;
  EXPECT_EQ(it->second.size(), 3u);
}

TEST_P(S3SinkTest, AMissingBucketPausesTheSinkAndItResumesWhenTheBucketIsCreated) {
  auto sink = make_sink();  // no bucket yet
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 20; ++i) b.add(7 + i, event(i, at(5, 1)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(tern::testing::wait_until([&] { return !sink->health(); }))
      << "health() must report the missing bucket";
  Status h = sink->health();
  EXPECT_NE(h.message().find("NoSuchBucket"), std::string::npos) << h.to_string();
  EXPECT_NE(h.message().find(bucket_), std::string::npos) << h.to_string();
  EXPECT_EQ(h.message().find(secret_), std::string::npos);
  EXPECT_EQ(metrics_.gauge("tern_relay_s3_paused", "sink=\"lake\"").value(), 1);
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(7)) << "nothing dropped";

  create_bucket();
  ASSERT_TRUE(tern::testing::wait_until(
      [&] {
        clock_.advance(seconds(5));  // the paused sink retries every few seconds
        return !sink->pending().has_value();
      },
      seconds(30)));
  EXPECT_TRUE(sink->health());
  EXPECT_EQ(metrics_.gauge("tern_relay_s3_paused", "sink=\"lake\"").value(), 0);
  auto counts = message_counts(objects());
  EXPECT_EQ(counts.size(), 20u);
}

TEST_P(S3SinkTest, ACrashBeforeTheUploadIsConfirmedWritesEachObjectOnceWithTheSameBytes) {
  Batch b;
  for (int i = 0; i < 8000; ++i) b.add(1 + i, event(i, at(5, 2) + seconds(i / 100)));
  std::map<std::string, std::string> staged;  // key -> bytes sealed before the crash
  {
    auto sink = make_sink();  // the bucket does not exist yet: uploads pause
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->deliver(b.records()).status);
    ASSERT_GE(counter("tern_relay_s3_objects_sealed_total"), 2u);
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/s3/lake/staging")) {
      std::string name = e.path().filename().string();
      if (name.size() > 10 && name.substr(name.size() - 10) == ".ndjson.gz") {
        std::ifstream in(e.path(), std::ios::binary);
        staged[name] = std::string(std::istreambuf_iterator<char>(in), {});
      }
    }
    ASSERT_EQ(staged.size(), counter("tern_relay_s3_objects_sealed_total"));
    EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
    // Dropped without close(): a crash.
  }
  create_bucket();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  // The runner replays from its cursor, which never passed seq 1.
  DeliveryResult replay = sink->deliver(b.records());
  ASSERT_TRUE(replay.status) << replay.status.to_string();
  clock_.advance(minutes(6));
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(drained(*sink));

  auto objs = objects();
  auto counts = message_counts(objs);
  ASSERT_EQ(counts.size(), 8000u);
  for (const auto& [id, c] : counts) ASSERT_EQ(c, 1) << id << " is in two objects";
  auto c = reader();
  for (const auto& [name, bytes] : staged) {
    std::string key = name;
    std::replace(key.begin(), key.end(), '_', '/');
    s3::S3Response g = c->get_object(key);
    ASSERT_EQ(g.failure, s3::S3Failure::kNone) << key;
    EXPECT_EQ(g.body, bytes) << key << " changed across the crash";
  }
  EXPECT_EQ(counter("tern_relay_s3_replayed_events_skipped_total"), [&] {
    uint64_t n = 0;
    for (const auto& [name, bytes] : staged) {
      std::string key = name;
      std::replace(key.begin(), key.end(), '_', '/');
      n += objs[key].size();
    }
    return n;
  }());
}

TEST_P(S3SinkTest, AnObjectAlreadyStoredWithTheSameBytesCountsAsConfirmed) {
  Batch b;
  for (int i = 0; i < 50; ++i) b.add(1 + i, event(i, at(5, 3)));
  std::string key, bytes, path;
  {
    auto sink = make_sink();  // no bucket: the upload waits
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->deliver(b.records()).status);
    clock_.advance(minutes(5));
    ASSERT_TRUE(tern::testing::wait_until(
        [&] { return counter("tern_relay_s3_objects_sealed_total") == 1; }));
  }
  key =
      "events/web/dt=2026-11-26/hour=05/relay-a-00000000000000000001-00000000000000000050"
      ".ndjson.gz";
  path = dir_.path() + "/s3/lake/staging/" + [&] {
    std::string f = key;
    std::replace(f.begin(), f.end(), '/', '_');
    return f;
  }();
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(bytes.empty());
  // The upload went through just before the crash; only its confirmation was lost.
  create_bucket();
  auto c = reader();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  auto sha = s3::sha256_file_range(fd, 0, bytes.size());
  ASSERT_TRUE(sha);
  s3::PutOptions put;
  put.metadata["sha256"] = *sha;
  ASSERT_EQ(c->put_object(key, fd, 0, bytes.size(), *sha, put).failure, s3::S3Failure::kNone);
  ::close(fd);

  auto sink = make_sink();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(drained(*sink));
  EXPECT_TRUE(sink->health());
  EXPECT_EQ(counter("tern_relay_s3_objects_uploaded_total"), 1u);
  EXPECT_EQ(c->get_object(key).body, bytes);
}

TEST_P(S3SinkTest, ADifferentObjectUnderTheKeyIsNeverOverwrittenAndPausesTheSink) {
  Batch b;
  for (int i = 0; i < 50; ++i) b.add(1 + i, event(i, at(5, 3)));
  {
    auto sink = make_sink();
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->deliver(b.records()).status);
    clock_.advance(minutes(5));
    ASSERT_TRUE(tern::testing::wait_until(
        [&] { return counter("tern_relay_s3_objects_sealed_total") == 1; }));
  }
  const std::string key =
      "events/web/dt=2026-11-26/hour=05/relay-a-00000000000000000001-00000000000000000050"
      ".ndjson.gz";
  create_bucket();
  auto c = reader();
  ASSERT_EQ(c->put_object(key, std::string_view("someone else's"), s3::PutOptions{}).failure,
            s3::S3Failure::kNone);
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(tern::testing::wait_until([&] { return !sink->health(); }));
  Status h = sink->health();
  EXPECT_NE(h.message().find(key), std::string::npos) << h.to_string();
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
  EXPECT_EQ(c->get_object(key).body, "someone else's");
  EXPECT_EQ(counter("tern_relay_s3_objects_uploaded_total"), 0u);
}

TEST_P(S3SinkTest, MarkersAreWrittenOncePerHourWithTheManifestsCounts) {
  create_bucket();
  settings_["max_object_bytes"] = "16KiB";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 1500; ++i) b.add(1 + i, event(i, at(5, 20) + seconds(i)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(61));  // 06:01
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(drained(*sink));
  // Hour 06 gets events too, so the second marker shows the first is not rewritten.
  Batch n;
  for (int i = 1500; i < 1510; ++i) n.add(1 + i, event(i, at(6, 1)));
  ASSERT_TRUE(sink->deliver(n.records()).status);
  ASSERT_TRUE(tern::testing::wait_until(
      [&] { return counter("tern_relay_s3_markers_written_total") == 1; }));
  clock_.advance(hours(1));  // 07:01: hour 06 is over and its grace passed
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(tern::testing::wait_until(
      [&] { return counter("tern_relay_s3_markers_written_total") == 2; }));
  clock_.advance(hours(1));
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(clock_.wait_for_reads(50));
  EXPECT_EQ(counter("tern_relay_s3_markers_written_total"), 2u);

  auto c = reader();
  s3::S3Response m = c->get_object("_manifests/web/dt=2026-11-26/hour=05/relay-a.json");
  ASSERT_EQ(m.failure, s3::S3Failure::kNone) << m.status.to_string();
  Json j = Json::parse(m.body);
  EXPECT_EQ(j["relay_id"], "relay-a");
  EXPECT_EQ(j["source"], "web");
  EXPECT_EQ(j["dt"], "2026-11-26");
  EXPECT_EQ(j["hour"], "05");
  EXPECT_EQ(j["events"], 1500);
  auto objs = objects("events/web/dt=2026-11-26/hour=05/");
  ASSERT_EQ(j["objects"].size(), objs.size());
  uint64_t bytes = 0;
  for (const auto& o : j["objects"]) {
    ASSERT_EQ(objs.count(o["key"].get<std::string>()), 1u) << o;
    EXPECT_EQ(o["events"], objs[o["key"].get<std::string>()].size());
    EXPECT_EQ(o["sha256"].get<std::string>().size(), 64u);
    EXPECT_LE(o["min_received_at"].get<std::string>(), o["max_received_at"].get<std::string>());
    bytes += o["bytes"].get<uint64_t>();
  }
  EXPECT_EQ(j["bytes"], bytes);
  EXPECT_EQ(c->head_object("events/web/dt=2026-11-26/hour=05/_SUCCESS.relay-a").failure,
            s3::S3Failure::kNone);
  EXPECT_EQ(c->head_object("events/web/dt=2026-11-26/hour=06/_SUCCESS.relay-a").failure,
            s3::S3Failure::kNone);
}

TEST_P(S3SinkTest, ObjectsAboveTheMultipartThresholdGoInParts) {
  create_bucket();
  settings_["max_object_bytes"] = "900KiB";
  settings_["multipart_threshold"] = "300KiB";
  settings_["part_size"] = "256KiB";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  std::mt19937 rng(7);
  for (int i = 0; i < 9000; ++i) {
    std::string noise;
    for (int k = 0; k < 40; ++k) noise += "0123456789abcdef"[rng() % 16];
    std::string e = event(i, at(5, 4));
    e.insert(e.size() - 1, ",\"noise\":\"" + noise + noise + noise + "\"");
    b.add(1 + i, e);
  }
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  auto counts = message_counts(objs);
  EXPECT_EQ(counts.size(), 9000u);
  auto c = reader();
  bool multipart = false;
  for (const auto& [key, lines] : objs) {
    s3::S3Response h = c->head_object(key);
    if (std::stoull(h.headers["content-length"]) > 300 * 1024)
      multipart = multipart || h.etag.find('-') != std::string::npos;
  }
  EXPECT_TRUE(multipart) << "an object above the threshold has a multipart ETag";
  std::vector<s3::MultipartUpload> open_uploads;
  ASSERT_EQ(c->list_multipart_uploads("events/", &open_uploads).failure, s3::S3Failure::kNone);
  EXPECT_TRUE(open_uploads.empty());
}

TEST_P(S3SinkTest, UploadsFarBehindRefuseNewBatchesWithoutTakingThem) {
  settings_["max_object_bytes"] = "4KiB";
  settings_["max_concurrent_uploads"] = "1";
  auto sink = make_sink();  // no bucket: nothing is confirmed
  ASSERT_TRUE(sink);
  uint64_t seq = 1;
  DeliveryResult r;
  for (int round = 0; round < 50 && r.status; ++round) {
    Batch b;
    for (int i = 0; i < 100; ++i, ++seq) b.add(seq, event(static_cast<int>(seq), at(5, 5)));
    r = sink->deliver(b.records());
  }
  ASSERT_FALSE(r.status) << "deliver() must refuse while uploads are behind";
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("uploads behind"), std::string::npos) << r.status.to_string();
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
  const uint64_t sealed = counter("tern_relay_s3_objects_sealed_total");
  Batch again;
  again.add(seq, event(static_cast<int>(seq), at(5, 5)));
  EXPECT_FALSE(sink->deliver(again.records()).status);
  EXPECT_EQ(counter("tern_relay_s3_objects_sealed_total"), sealed);
}

TEST_P(S3SinkTest, BadSettingsAreRefusedNamingTheSetting) {
  struct Case {
    const char* key;
    const char* value;
    const char* says;
  } cases[] = {{"bucket", "", "bucket"},
               {"prefix", "/events", "prefix"},
               {"prefix", "events/", "prefix"},
               {"partition", "sent", "partition"},
               {"gzip_level", "0", "gzip_level"},
               {"server_side_encryption", "rot13", "server_side_encryption"},
               {"max_concurrent_uploads", "65", "max_concurrent_uploads"},
               {"part_size", "1KiB", "part_size"},
               {"colour", "blue", "colour"}};
  for (const Case& c : cases) {
    SinkConfig cfg;
    cfg.name = "lake";
    cfg.type = "s3";
    cfg.settings = settings_;
    cfg.settings[c.key] = c.value;
    SinkContext ctx;
    ctx.data_dir = dir_.path();
    ctx.metrics = &metrics_;
    auto s = make_s3_sink(cfg, ctx);
    ASSERT_FALSE(s) << c.key << "=" << c.value;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.says), std::string::npos) << s.status().to_string();
    EXPECT_EQ(s.status().message().find(secret_), std::string::npos);
  }
}

TEST_P(S3SinkTest, TemporaryCredentialsWithASessionTokenUpload) {
  if (GetParam() == Mode::kAsItStarts) GTEST_SKIP() << "the signing-enforced server checks them";
  Json session = Json::parse(read_file(moto_dir_ + "/session.json"), nullptr, false);
  ASSERT_TRUE(session.is_object());
  create_bucket();
  settings_["access_key_id"] = session["AccessKeyId"].get<std::string>();
  settings_["secret_access_key"] = session["SecretAccessKey"].get<std::string>();
  settings_["session_token"] = session["SessionToken"].get<std::string>();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 6)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  EXPECT_TRUE(sink->health());
  EXPECT_EQ(message_counts(objects()).size(), 10u);
}

TEST_P(S3SinkTest, AWrongSecretPausesTheSinkWithoutNamingTheSecret) {
  if (GetParam() == Mode::kAsItStarts) GTEST_SKIP() << "moto accepts any key as it starts";
  create_bucket();
  settings_["secret_access_key"] = "wrong-secret-0123456789";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 6)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(tern::testing::wait_until([&] { return !sink->health(); }));
  Status h = sink->health();
  EXPECT_NE(h.message().find("403"), std::string::npos) << h.to_string();
  EXPECT_EQ(h.message().find("wrong-secret-0123456789"), std::string::npos) << h.to_string();
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1)) << "nothing dropped";
  std::vector<std::string> keys;
  ASSERT_EQ(reader()->list_objects("events/", &keys).failure, s3::S3Failure::kNone);
  EXPECT_TRUE(keys.empty());
}

TEST_P(S3SinkTest, AnUnreachableEndpointIsRetriedWithBackoffCountedByCauseAndNothingIsDropped) {
  if (GetParam() == Mode::kSigningEnforced) GTEST_SKIP() << "no server is involved";
  // A loopback port bound and never listened on: connections are refused,
  // and no other process can take the port while the test runs.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  settings_["endpoint"] = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 7)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  const char* kRetries = "tern_relay_s3_retries_total";
  auto retries = [&] {
    return metrics_.counter(kRetries, "sink=\"lake\",cause=\"connection\"").value();
  };
  ASSERT_TRUE(tern::testing::wait_until([&] {
    clock_.advance(seconds(31));  // past any backoff (capped at 30 s)
    return retries() >= 3;
  }));
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1)) << "nothing dropped";
  EXPECT_EQ(counter("tern_relay_s3_objects_sealed_total"), 1u);
  EXPECT_EQ(metrics_.gauge("tern_relay_s3_paused", "sink=\"lake\"").value(), 0)
      << "a connection failure is retried, not a pause";
  EXPECT_GT(metrics_.gauge("tern_relay_s3_sealed_bytes_waiting", "sink=\"lake\"").value(), 0);
  EXPECT_TRUE(sink->close(std::chrono::steady_clock::now() + seconds(5)));
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
}

TEST_P(S3SinkTest, MultipartUploadsThisRelayLeftOpenAreAbortedAtStart) {
  create_bucket();
  auto c = reader();
  const std::string ours =
      "events/web/dt=2026-11-26/hour=05/relay-a-00000000000000000001-00000000000000000009"
      ".ndjson.gz";
  const std::string theirs =
      "events/web/dt=2026-11-26/hour=05/relay-b-00000000000000000001-00000000000000000009"
      ".ndjson.gz";
  for (const std::string& key : {ours, theirs}) {
    std::string id;
    ASSERT_EQ(c->create_multipart_upload(key, s3::PutOptions{}, &id).failure, s3::S3Failure::kNone);
  }
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  std::vector<s3::MultipartUpload> open_uploads;
  ASSERT_TRUE(tern::testing::wait_until([&] {
    open_uploads.clear();
    return c->list_multipart_uploads("events/", &open_uploads).failure == s3::S3Failure::kNone &&
           open_uploads.size() == 1;
  })) << open_uploads.size()
      << " uploads open";
  EXPECT_EQ(open_uploads[0].key, theirs) << "another relay's upload is left alone";
}

TEST_P(S3SinkTest, StorageClassAndEncryptionSettingsReachTheObjects) {
  create_bucket();
  settings_["storage_class"] = "STANDARD_IA";
  settings_["server_side_encryption"] = "AES256";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 8)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  ASSERT_EQ(objs.size(), 1u);
  s3::S3Response h = reader()->head_object(objs.begin()->first);
  ASSERT_EQ(h.failure, s3::S3Failure::kNone);
  EXPECT_EQ(h.headers["x-amz-storage-class"], "STANDARD_IA");
  EXPECT_EQ(h.headers["x-amz-server-side-encryption"], "AES256");
  EXPECT_EQ(h.headers["x-amz-meta-events"], "10");
}

TEST_P(S3SinkTest, PartitionEventPutsEventsUnderTheirOwnTimestampsHour) {
  create_bucket();
  settings_["partition"] = "event";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  b.add(1, event(1, at(3, 30) + seconds(2)));  // timestamp 03:30, received 03:30:02
  std::string late = event(2, at(5, 1));
  late.replace(late.find("\"timestamp\":\"") + 13, 24, iso(at(2, 15)));
  b.add(2, late);  // sent from a device offline since 02:15
  std::string none = event(3, at(5, 1));
  none.erase(none.find(",\"timestamp\""), 39);
  b.add(3, none);  // no timestamp: its receive hour
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  std::vector<std::string> keys;
  for (const auto& [k, lines] : objs) keys.push_back(k.substr(0, k.find("/relay-a-")));
  EXPECT_EQ(keys, (std::vector<std::string>{"events/web/dt=2026-11-26/hour=02",
                                            "events/web/dt=2026-11-26/hour=03",
                                            "events/web/dt=2026-11-26/hour=05"}));
}

TEST_P(S3SinkTest, ABatchDeliveredAgainIsTakenOnce) {
  create_bucket();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 9)));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  ASSERT_TRUE(sink->deliver(b.records()).status);  // the runner's retry after a failure
  Batch more = b;
  more.add(11, event(10, at(5, 9)));
  ASSERT_TRUE(sink->deliver(more.records()).status);
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto counts = message_counts(objects());
  EXPECT_EQ(counts.size(), 11u);
  for (const auto& [id, c] : counts) EXPECT_EQ(c, 1) << id;
}

TEST_P(S3SinkTest, CloseLeavesOpenObjectsInTheSpoolAndTheNextStartWritesThemWhole) {
  create_bucket();
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(1 + i, event(i, at(5, 9)));
  {
    auto sink = make_sink();
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->deliver(b.records()).status);
    ASSERT_TRUE(sink->close(std::chrono::steady_clock::now() + seconds(5)));
    EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1)) << "held events stay in the spool";
  }
  EXPECT_TRUE(objects().empty()) << "no small object on every stop";
  Batch c = b;
  for (int i = 10; i < 20; ++i) c.add(1 + i, event(i, at(5, 9)));
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(c.records()).status);  // replayed from the cursor, then new ones
  clock_.advance(minutes(5));
  ASSERT_TRUE(drained(*sink));
  auto objs = objects();
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs.begin()->second, c.texts);
}

TEST_P(S3SinkTest, AMultipartUploadCutShortByACrashIsAbortedAndTheObjectSentWhole) {
  settings_["max_object_bytes"] = "900KiB";
  settings_["multipart_threshold"] = "300KiB";
  settings_["part_size"] = "256KiB";
  Batch b;
  std::mt19937 rng(11);
  for (int i = 0; i < 9000; ++i) {
    std::string noise;
    for (int k = 0; k < 250; ++k) noise += "0123456789abcdef"[rng() % 16];
    std::string e = event(i, at(5, 4));
    e.insert(e.size() - 1, ",\"noise\":\"" + noise + "\"");
    b.add(1 + i, e);
  }
  {
    auto sink = make_sink();  // no bucket: sealed objects wait
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->deliver(b.records()).status);
    ASSERT_GE(counter("tern_relay_s3_objects_sealed_total"), 1u);
  }
  // The crash came after a part was sent: the state holds the upload's id.
  create_bucket();
  auto c = reader();
  std::string key, id;
  {
    auto state = s3::S3State::open(dir_.path() + "/s3/lake/state.db");
    ASSERT_TRUE(state);
    auto pending = (*state)->pending_uploads();
    ASSERT_TRUE(pending);
    ASSERT_FALSE(pending->empty());
    const s3::ObjectRecord& o = pending->front();
    ASSERT_GT(o.bytes, 300u * 1024);
    key = o.key;
    ASSERT_EQ(c->create_multipart_upload(key, s3::PutOptions{}, &id).failure, s3::S3Failure::kNone);
    int fd = ::open(o.staging_path.c_str(), O_RDONLY | O_CLOEXEC);
    auto sha = s3::sha256_file_range(fd, 0, 256 * 1024);
    ASSERT_TRUE(sha);
    std::string etag;
    ASSERT_EQ(c->upload_part(key, id, 1, fd, 0, 256 * 1024, *sha, &etag).failure,
              s3::S3Failure::kNone);
    ::close(fd);
    ASSERT_TRUE((*state)->set_upload_id(key, id));
  }
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(b.records()).status);  // the replay
  clock_.advance(minutes(5));
  EXPECT_TRUE(sink->health());
  ASSERT_TRUE(drained(*sink));
  std::vector<s3::MultipartUpload> open_uploads;
  ASSERT_EQ(c->list_multipart_uploads("events/", &open_uploads).failure, s3::S3Failure::kNone);
  EXPECT_TRUE(open_uploads.empty());
  auto counts = message_counts(objects());
  EXPECT_EQ(counts.size(), 9000u);
  for (const auto& [m, n] : counts) ASSERT_EQ(n, 1) << m;
}

TEST_P(S3SinkTest, AConnectionTestChecksTheBucketAndLeavesTheSinksStateAlone) {
  S3SinkOptions o;
  o.name = "lake";
  o.bucket = bucket_;
  o.s3.bucket = bucket_;
  o.s3.endpoint = endpoint_;
  o.s3.path_style = true;
  o.relay_id = "relay-a";
  o.data_dir = dir_.path() + "/s3/lake";
  o.probe = true;
  auto creds = s3::make_static_credentials(s3::Credentials{key_id_, secret_, "", std::nullopt});
  auto missing = new_s3_sink(o, creds, metrics_, clock_);
  Status st = missing->open();
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find(bucket_), std::string::npos) << st.to_string();
  create_bucket();
  auto sink = new_s3_sink(o, creds, metrics_, clock_);
  EXPECT_TRUE(sink->open());
  EXPECT_TRUE(sink->health());
  EXPECT_FALSE(sink->pending().has_value());
  EXPECT_TRUE(sink->close(std::chrono::steady_clock::now() + seconds(1)));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/s3")) << "no state, no staging files";
}

INSTANTIATE_TEST_SUITE_P(Moto, S3SinkTest,
                         ::testing::Values(Mode::kAsItStarts, Mode::kSigningEnforced),
                         [](const ::testing::TestParamInfo<Mode>& i) {
                           return i.param == Mode::kAsItStarts ? std::string("AsItStarts")
                                                               : std::string("SigningEnforced");
                         });

}  // namespace
}  // namespace tern::relay
