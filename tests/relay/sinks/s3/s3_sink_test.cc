// The s3 sink against moto's S3 server (the fixture started by ctest), driven
// through the Sink interface as the runner drives it, with a ManualClock.
// Every assertion reads the bucket back as a lake user would: list, GET,
// gunzip, parse.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "s3_sink_test_fixture.h"

namespace tern::relay::s3_sink_test {
namespace {

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
    std::optional<KeyParts> parts = parse_key(key);
    ASSERT_TRUE(parts) << key << " does not have the documented layout";
    EXPECT_EQ(parts->hour, "05");
    uint64_t first = parts->first, last = parts->last;
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
  Batch b = Batch::of(10, at(5, 0, 1));
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
  Batch b = Batch::of(5, at(5, 59, 10));
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

TEST_P(S3SinkTest, UploadsFarBehindRefuseNewBatchesWithoutTakingThem) {
  if (GetParam() == Mode::kSigningEnforced) GTEST_SKIP() << "no server is involved";
  RefusedPort refused;  // uploads are retried (not paused) and fall behind
  ASSERT_TRUE(refused.ok());
  settings_["endpoint"] = refused.url();
  settings_["max_object_bytes"] = "4KiB";
  settings_["max_concurrent_uploads"] = "1";
  auto sink = make_sink();
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

TEST_P(S3SinkTest, APausedBucketRefusesNewBatchesNamingWhyAndTakesThemOnceItIsBack) {
  auto sink = make_sink();  // no bucket yet: the first upload pauses the sink
  ASSERT_TRUE(sink);
  Batch first = Batch::of(10, at(5, 7));
  ASSERT_TRUE(sink->deliver(first.records()).status);
  Batch next;
  for (uint64_t seq = 11; seq <= 20; ++seq) next.add(seq, event(static_cast<int>(seq), at(5, 8)));
  DeliveryResult r;
  ASSERT_TRUE(tern::testing::wait_until([&] {
    clock_.advance(minutes(6));  // seals the first object by age; its upload finds no bucket
    r = sink->deliver(next.records());
    return !r.status;
  }));
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("NoSuchBucket"), std::string::npos) << r.status.to_string();
  EXPECT_FALSE(sink->health());
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1)) << "nothing dropped";

  create_bucket();
  ASSERT_TRUE(tern::testing::wait_until([&] {
    clock_.advance(seconds(31));  // past the paused upload's backoff
    return sink->deliver(next.records()).status.is_ok();
  }));
  ASSERT_TRUE(tern::testing::wait_until([&] {
    clock_.advance(minutes(6));
    return !sink->pending().has_value();
  }));
  auto counts = message_counts(objects());
  EXPECT_EQ(counts.size(), 20u) << "the refused batch was taken once the bucket was back";
  for (const auto& [id, c] : counts) EXPECT_EQ(c, 1) << id;
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
  Json session = Json::parse(s3::moto_env::read_file(moto_dir_ + "/session.json"), nullptr, false);
  ASSERT_TRUE(session.is_object());
  create_bucket();
  settings_["access_key_id"] = session["AccessKeyId"].get<std::string>();
  settings_["secret_access_key"] = session["SecretAccessKey"].get<std::string>();
  settings_["session_token"] = session["SessionToken"].get<std::string>();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b = Batch::of(10, at(5, 6));
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
  Batch b = Batch::of(10, at(5, 6));
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
  RefusedPort refused;
  ASSERT_TRUE(refused.ok());
  settings_["endpoint"] = refused.url();
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b = Batch::of(10, at(5, 7));
  ASSERT_TRUE(sink->deliver(b.records()).status);
  clock_.advance(minutes(5));
  const char* kRetries = "tern_relay_s3_retries_total";
  auto retries = [&] {
    return metrics_.counter(kRetries, "sink=\"lake\",cause=\"connection\"").value();
  };
  // The start's multipart cleanup is refused too and counted by the same
  // cause: wait for the object's own attempts, after its seal.
  ASSERT_TRUE(tern::testing::wait_until([&] {
    clock_.advance(seconds(31));  // past any backoff (capped at 30 s)
    return counter("tern_relay_s3_objects_sealed_total") == 1 &&
           metrics_.gauge("tern_relay_s3_sealed_bytes_waiting", "sink=\"lake\"").value() > 0 &&
           retries() >= 3;
  }));
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1)) << "nothing dropped";
  EXPECT_EQ(counter("tern_relay_s3_objects_sealed_total"), 1u);
  EXPECT_EQ(metrics_.gauge("tern_relay_s3_paused", "sink=\"lake\"").value(), 0)
      << "a connection failure is retried, not a pause";
  EXPECT_GT(metrics_.gauge("tern_relay_s3_sealed_bytes_waiting", "sink=\"lake\"").value(), 0);
  EXPECT_TRUE(sink->close(std::chrono::steady_clock::now() + seconds(5)));
  EXPECT_EQ(sink->pending(), std::optional<uint64_t>(1));
}

TEST_P(S3SinkTest, StorageClassAndEncryptionSettingsReachTheObjects) {
  create_bucket();
  settings_["storage_class"] = "STANDARD_IA";
  settings_["server_side_encryption"] = "AES256";
  auto sink = make_sink();
  ASSERT_TRUE(sink);
  Batch b = Batch::of(10, at(5, 8));
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
  Batch b = Batch::of(10, at(5, 9));
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
}  // namespace tern::relay::s3_sink_test
