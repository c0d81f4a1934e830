// What the s3 sink tests share (s3_sink_test.cc, s3_sink_recovery_test.cc):
// the S3SinkTest fixture, run against each of moto's servers, and helpers
// that make events and read the bucket back as a lake user would.
#pragma once

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
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "manual_clock.h"
#include "moto_env.h"
#include "s3_client.h"
#include "s3_sink_options.h"
#include "s3_state.h"
#include "temp_dir.h"
#include "tern/relay/sinks/s3.h"
#include "wait_until.h"

namespace tern::relay::s3_sink_test {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using SysTime = std::chrono::system_clock::time_point;
using Json = nlohmann::json;

inline SysTime at(int hour, int minute = 0, int second = 0) {
  // 2026-11-26T00:00:00Z
  SysTime day{std::chrono::seconds(1795651200)};
  return day + hours(hour) + minutes(minute) + seconds(second);
}

inline std::string iso(SysTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[40];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return b;
}

// An enriched event as the spool holds it, with some text that compresses
// as real events do.
inline std::string event(int n, SysTime received) {
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
  // `n` events of source "web" received at `received`, seqs 1..n.
  static Batch of(int n, SysTime received) {
    Batch b;
    for (int i = 0; i < n; ++i) b.add(1 + i, event(i, received));
    return b;
  }
  void add(uint64_t seq, std::string text, std::string source = "web") {
    seqs.push_back(seq);
    texts.push_back(std::move(text));
    sources.push_back(std::move(source));
  }
};

inline std::string gunzip(const std::string& gz) {
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

inline std::string unique_bucket(const std::string& hint) {
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

inline void PrintTo(Mode mode, std::ostream* os) {
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
    endpoint_ = s3::moto_env::read_file(std::string(dir) + "/endpoint");
    ASSERT_FALSE(endpoint_.empty());
    key_id_ = s3::moto_env::read_file(std::string(dir) + "/access_key_id");
    secret_ = s3::moto_env::read_file(std::string(dir) + "/secret_access_key");
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

// A loopback port bound and never listened on, for the life of the object:
// connections to it are refused, and no other process can take the port.
class RefusedPort {
 public:
  RefusedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusedPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  RefusedPort(const RefusedPort&) = delete;
  RefusedPort& operator=(const RefusedPort&) = delete;
  bool ok() const { return port_ != 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The parts of a key of this fixture's layout,
// events/web/dt=2026-11-26/hour=HH/relay-a-<20 digits>-<20 digits>.ndjson.gz;
// nullopt for any other key. (Hand-parsed: g++ 12's <regex> does not build
// with -O1 -Werror, the ASan build's flags.)
struct KeyParts {
  std::string hour;
  uint64_t first = 0;
  uint64_t last = 0;
};

inline std::optional<KeyParts> parse_key(const std::string& key) {
  static const std::string kHead = "events/web/dt=2026-11-26/hour=";
  static const std::string kName = "/relay-a-";
  static const std::string kTail = ".ndjson.gz";
  const std::size_t seqs = kHead.size() + 2 + kName.size();
  if (key.size() != seqs + 41 + kTail.size() || key.compare(0, kHead.size(), kHead) != 0 ||
      key.compare(kHead.size() + 2, kName.size(), kName) != 0 ||
      key.compare(seqs + 41, kTail.size(), kTail) != 0 || key[seqs + 20] != '-') {
    return std::nullopt;
  }
  auto digits = [&](std::size_t at, std::size_t n) {
    for (std::size_t i = at; i < at + n; ++i) {
      if (key[i] < '0' || key[i] > '9') return false;
    }
    return true;
  };
  if (!digits(kHead.size(), 2) || !digits(seqs, 20) || !digits(seqs + 21, 20)) return std::nullopt;
  return KeyParts{key.substr(kHead.size(), 2), std::stoull(key.substr(seqs, 20)),
                  std::stoull(key.substr(seqs + 21, 20))};
}

}  // namespace tern::relay::s3_sink_test
