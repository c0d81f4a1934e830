// The s3 sink's recovery paths against moto (the S3SinkTest fixture of
// s3_sink_test_fixture.h, instantiated in s3_sink_test.cc): a crash at any
// point writes each object once with the same bytes, an object already in
// the bucket is confirmed or refused, multipart uploads left open are
// aborted, and the hourly markers carry the manifests' counts.
#include <chrono>
#include <string>
#include <vector>

#include "s3_sink_test_fixture.h"

namespace tern::relay::s3_sink_test {
namespace {

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
  Batch b = Batch::of(50, at(5, 3));
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
  Batch b = Batch::of(50, at(5, 3));
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

TEST_P(S3SinkTest, CloseLeavesOpenObjectsInTheSpoolAndTheNextStartWritesThemWhole) {
  create_bucket();
  Batch b = Batch::of(10, at(5, 9));
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

}  // namespace
}  // namespace tern::relay::s3_sink_test
