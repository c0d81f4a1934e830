// Many relays, one Kafka cluster: two tern-relay processes (each its own
// port and data dir) configured from TOML with a kafka sink to the same mock
// cluster; events POSTed to both over HTTP arrive exactly once, keyed and
// ordered per user.
#include <curl/curl.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "kafka_mock.h"
#include "relay_process.h"
#include "temp_dir.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using tern::testing::KafkaMock;

// POSTs {"batch":[...]} with the write key; the HTTP status (0: no answer).
long post_batch(const std::string& address, const std::vector<std::string>& events) {
  std::string body = "{\"batch\":[";
  for (std::size_t i = 0; i < events.size(); ++i) body += (i ? "," : "") + events[i];
  body += "],\"sentAt\":\"2026-11-26T05:00:00.000Z\"}";
  CURL* c = curl_easy_init();
  std::string url = "http://" + address + "/v1/batch";
  curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_USERPWD, "e2e-key:");
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

std::string event(int relay, int n) {
  return "{\"type\":\"track\",\"event\":\"Clicked\",\"messageId\":\"r" + std::to_string(relay) +
         "-" + std::to_string(n) + "\",\"userId\":\"u" + std::to_string(n % 7) +
         "\",\"properties\":{\"relay\":" + std::to_string(relay) + ",\"n\":" + std::to_string(n) +
         "}}";
}

TEST(RelayKafkaEndToEndTest, TwoRelaysFeedOneClusterExactlyOnceKeyedByUser) {
  auto mock = KafkaMock::start(3);
  ASSERT_TRUE(mock.is_ok());
  ASSERT_TRUE((*mock)->create_topic("events.track", 4).is_ok());
  tern::testing::TempDir dir;
  std::vector<std::unique_ptr<tern::testing::RelayProcess>> relays;
  for (int r = 0; r < 2; ++r) {
    std::string name = dir.path() + "/relay" + std::to_string(r);
    std::string toml = "data_dir = \"" + name +
                       "\"\n"
                       "[server]\nlisten = \"127.0.0.1:0\"\n"
                       "[[sources]]\nid = \"app\"\nwrite_keys = [\"e2e-key\"]\n"
                       "[[sinks]]\nname = \"kafka\"\ntype = \"kafka\"\nbatch_linger = \"2ms\"\n"
                       "brokers = \"" +
                       (*mock)->bootstrap() +
                       "\"\n"
                       "topic = \"events.{type}\"\nlinger = \"1ms\"\n";
    relays.push_back(std::make_unique<tern::testing::RelayProcess>());
    ASSERT_TRUE(relays.back()->start_with_config(name + ".toml", toml, name + ".log"))
        << relays.back()->error();
  }
  for (int round = 0; round < 5; ++round) {
    for (int r = 0; r < 2; ++r) {
      std::vector<std::string> batch;
      for (int i = round * 40; i < (round + 1) * 40; ++i) batch.push_back(event(r, i));
      ASSERT_EQ(post_batch(relays[static_cast<std::size_t>(r)]->address(), batch), 200);
    }
  }
  // On failure, show what the relays logged (their dir is removed afterwards).
  struct DumpLogs {
    const std::string& dir;
    ~DumpLogs() {
      if (!::testing::Test::HasFailure()) return;
      for (int r = 0; r < 2; ++r) {
        std::ifstream in(dir + "/relay" + std::to_string(r) + ".log");
        std::string line;
        std::vector<std::string> tail;
        while (std::getline(in, line)) tail.push_back(line);
        for (std::size_t i = tail.size() > 20 ? tail.size() - 20 : 0; i < tail.size(); ++i) {
          std::fprintf(stderr, "relay%d: %s\n", r, tail[i].c_str());
        }
      }
    }
  } dump{dir.path()};
  auto msgs = (*mock)->consume("events.track", 4, 400, 30s);
  ASSERT_EQ(msgs.size(), 400u);
  std::set<std::string> ids;
  std::map<std::string, int32_t> partition_of_user;
  std::map<std::string, int> last_n;  // per relay+user: order kept
  for (const auto& m : msgs) {
    auto j = nlohmann::json::parse(m.value);
    EXPECT_TRUE(ids.insert(j["messageId"].get<std::string>()).second);
    EXPECT_TRUE(j.contains("receivedAt"));  // enriched by the relay
    EXPECT_EQ(m.key, j["userId"].get<std::string>());
    auto p = partition_of_user.emplace(m.key, m.partition);
    EXPECT_EQ(p.first->second, m.partition);
    std::string stream = std::to_string(j["properties"]["relay"].get<int>()) + "/" + m.key;
    int n = j["properties"]["n"].get<int>();
    auto it = last_n.find(stream);
    if (it != last_n.end()) {
      EXPECT_GT(n, it->second) << stream;
    }
    last_n[stream] = n;
  }
  for (auto& r : relays) EXPECT_EQ(r->terminate(), 0);
  EXPECT_EQ((*mock)->message_count("events.track", 4, 10s), 400);  // nothing more after the drain
}

}  // namespace
}  // namespace tern::relay
