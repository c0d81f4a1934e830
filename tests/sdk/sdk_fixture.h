// A Client over the fakes (MemoryStore, ScriptedTransport, ManualClock), for
// the client, lifecycle, session, settings and flush_async tests: time only moves
// when a test advances the clock, and a "kill -9" is a copy of what the
// store held at that moment (MemoryStore::snapshot) reopened by a new client.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fakes.h"
#include "tern/client.h"

namespace tern::testing {

using namespace std::chrono_literals;

class SdkFixture : public ::testing::Test {
 protected:
  SdkFixture() {
    config.write_key = "wk";
    config.endpoint = "https://collector.example/";
    config.store = store;
    config.transport = transport;
    config.clock = clock;
    config.logger = logger;
    config.context_provider =
        std::make_shared<StaticContextProvider>(R"({"os":{"name":"TestOS"},"locale":"fr-FR"})");
    config.flush_at = 1000;         // uploads only when a test flushes...
    config.flush_interval = 3600s;  // ...or advances the clock this far
  }
  ~SdkFixture() override {
    if (client) (void)client->shutdown(2s);
  }

  void start() {
    auto r = Client::create(config);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    client = std::move(r).value();
  }

  // A clean restart: shutdown (which commits what is pending), then a new
  // client on the same store.
  void restart() {
    ASSERT_TRUE(client->shutdown(5s).is_ok());
    client.reset();
    start();
  }

  // SIGKILL now: what is not committed is lost; a new client opens what the
  // store held at this moment.
  void kill_and_relaunch() {
    store = store->snapshot();
    config.store = store;
    // The old client's shutdown commits into the old store, which is gone;
    // opted out, it uploads nothing on its way out either.
    (void)client->set_opt_out(true);
    client.reset();
    start();
  }

  // Commits what is pending by moving past the group-commit window, and
  // waits until the worker has finished with it (the queue caps are applied
  // after the rows are stored, so `pending == 0` alone is too early).
  void commit() {
    clock->advance(config.commit_window);
    ASSERT_TRUE(wait_until([&] { return client->stats().pending == 0; }));
    ASSERT_TRUE(clock->wait_for_worker_idle());
  }

  // Waits until the worker has acted on everything the test did so far and
  // on the current time: what it has not done by then, it will not do until
  // the clock moves. Use before a negative check or before advancing.
  void settle() { ASSERT_TRUE(clock->wait_for_worker_idle()); }

  // Everything delivered so far, after a flush.
  std::vector<nlohmann::json> flushed() {
    Status s = client->flush(5s);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return transport->delivered();
  }
  static std::vector<nlohmann::json> named(const std::vector<nlohmann::json>& events,
                                           const std::string& name) {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e.value("event", std::string()) == name) out.push_back(e);
    return out;
  }
  static std::vector<std::string> names(const std::vector<nlohmann::json>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.value("event", e.value("type", std::string())));
    return out;
  }
  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->wall().time_since_epoch())
        .count();
  }

  Config config;
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<CapturingLogger> logger = std::make_shared<CapturingLogger>();
  std::unique_ptr<Client> client;
};

}  // namespace tern::testing
