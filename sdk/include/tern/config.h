// Config: every knob of a Tern client, with its default (promises: docs/architecture.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tern/clock.h"
#include "tern/context_provider.h"
#include "tern/logger.h"
#include "tern/plugin.h"
#include "tern/transport.h"

namespace tern {

class Store;  // private seam (sdk/src/store.h); tests inject fakes

enum class Durability : int {
  kGroupCommit = 0,  // committed within commit_window or commit_max_events (default)
  kImmediate = 1,    // committed before track() returns (slower; blocks on disk)
};

enum class Consent : int {
  kUnknown = 0,  // events are stored but not sent
  kGranted = 1,  // events are sent
  kDenied = 2,   // queued events are purged; new events are refused
};

struct Config {
  // Where to send: a Segment-compatible base URL; the SDK posts to
  // <endpoint>/v1/batch.
  std::string endpoint = "http://127.0.0.1:8080";
  std::string write_key;  // required
  // The SQLite database file. Required. One process owns it at a time.
  std::string storage_path;

  // Upload triggers.
  std::size_t flush_at = 20;                         // events queued
  std::chrono::milliseconds flush_interval{30'000};  // or this much time

  // Limits, as UTF-8 bytes of the serialised event / batch body (before gzip).
  std::size_t max_event_bytes = 32 * 1024;
  std::size_t max_batch_bytes = 500 * 1024;
  std::size_t max_batch_events = 500;

  // Disk caps; past one, the oldest events are dropped and counted.
  std::size_t max_queue_events = 10'000;
  std::size_t max_queue_bytes = 10 * 1024 * 1024;
  std::chrono::seconds max_event_age{7 * 24 * 3600};

  // Group commit.
  Durability durability = Durability::kGroupCommit;
  std::chrono::milliseconds commit_window{20};
  std::size_t commit_max_events = 256;
  // Bound of the caller → worker hand-off. Past it, track() drops the new
  // event and returns StatusCode::kResourceExhausted (it never blocks).
  std::size_t max_pending_events = 10'000;

  // Retry policy: exponential backoff with full jitter.
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{300'000};
  std::chrono::seconds max_batch_age{12 * 3600};  // a batch older than this is dropped
  int max_attempts = 100;                         // ... or after this many attempts

  bool gzip = true;
  CurlTransportOptions http;  // used when `transport` is null

  // Sessions: every event carries context.sessionId (the session's start in
  // ms since the epoch, a number) and the session's first event
  // context.sessionStart: true. A session starts with the first event after
  // launch, or after session_timeout in the background or idle; it ends
  // past 24 h. Its state is a row of the store, written with the events.
  bool track_sessions = true;
  std::chrono::milliseconds session_timeout{300'000};
  bool session_events = false;  // also record "Session Started" / "Session Ended"

  // Settings served by the relay: fetched with If-None-Match from
  // <settings_endpoint>/v1/projects/<write_key>/settings by app_launched()
  // and app_foreground() (at most every settings_min_interval); the last
  // good copy is kept in the store and applied at the next start. The fetch
  // carries no user data and happens whatever the consent; a 304 confirms
  // the stored copy (its kill switch's ttlSeconds run again from then).
  bool fetch_settings = true;
  std::string settings_endpoint;  // empty: `endpoint`
  std::chrono::milliseconds settings_min_interval{300'000};

  // Consent when none was persisted yet.
  Consent default_consent = Consent::kGranted;

  // context.library
  std::string library_name = "tern-cpp";
  std::string library_version;  // empty: the SDK's version

  // Seams. Null means the default implementation.
  // Default: libcurl. Required in builds without a default transport
  // (CMake TERN_TRANSPORT=none, the mobile builds): Client::create fails
  // with kInvalidArgument without one.
  std::shared_ptr<Transport> transport;
  std::shared_ptr<Clock> clock;                       // default: system clocks
  std::shared_ptr<Logger> logger;                     // default: stderr, warnings and up
  std::shared_ptr<ContextProvider> context_provider;  // default: system facts
  std::vector<std::shared_ptr<Plugin>> plugins;
  std::shared_ptr<Store> store;  // default: SQLite at storage_path
};

}  // namespace tern
