// Client: the Tern SDK's entry point.
//
// A Client records Segment-spec events (track, identify, screen, page, group,
// alias), stores them durably in SQLite and uploads them in gzip batches with
// retry and backoff, from one background worker thread.
//
// Threads: every public method is thread-safe. The event calls only validate,
// serialise and hand the text to the worker: they never block on disk or
// network (except with Durability::kImmediate) and never throw. flush() and
// shutdown() block up to their timeout.
//
// Lifetime: destroying a Client calls shutdown(Config-independent 2 s) if the
// host did not; what is not sent stays on disk for the next Client opened on
// the same storage_path. Several clients may live in one process, each on its
// own database file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tern/config.h"
#include "tern/stats.h"
#include "tern/status.h"

namespace tern {

enum class MessageType : int { kTrack = 0, kIdentify, kScreen, kPage, kGroup, kAlias };

const char* message_type_name(MessageType type) noexcept;  // "track", "identify", ...

// Per-call options shared by every event call.
struct EventOptions {
  // Override the client's identity for this one event (empty: use the stored one).
  std::string user_id;
  std::string anonymous_id;
  // Merged over the provider's context (top-level keys replace). Object or null.
  nlohmann::json context;
  // The Segment `integrations` object. Object or null.
  nlohmann::json integrations;
  // Device time of the event; default now.
  std::optional<std::chrono::system_clock::time_point> timestamp;
};

// One event with every JSON field already serialised: the entry point for
// bindings (the C API) that receive JSON as text. Each *_json field is empty
// (absent) or the text of one JSON object; it is validated without building
// a DOM. String fields must be valid UTF-8.
struct RawMessage {
  MessageType type = MessageType::kTrack;
  std::string_view event;            // track: the event name (required)
  std::string_view name;             // screen/page: the name (required for screen)
  std::string_view user_id;          // identify/alias: the new user id; others: override
  std::string_view anonymous_id;     // override
  std::string_view group_id;         // group (required)
  std::string_view previous_id;      // alias: empty means the current user or anonymous id
  std::string_view properties_json;  // track/screen/page
  std::string_view traits_json;      // identify/group
  std::string_view context_json;
  std::string_view integrations_json;
  std::optional<std::chrono::system_clock::time_point> timestamp;
};

// How a flush_async() ended; its callback gets exactly one of these.
enum class FlushResult : int {
  // Nothing queued when it was called is left: sent, or dropped by the retry
  // policy (max_attempts / max_batch_age, counted in Stats), or nothing was queued.
  kSent = 0,
  kTimedOut = 1,   // the deadline came first (offline, server down): the rest stays queued
  kCancelled = 2,  // shut down, or nothing may be sent (consent, opt-out, the kill switch)
};

const char* flush_result_name(FlushResult result) noexcept;  // "sent", "timed_out", "cancelled"

class Client {
 public:
  // Opens (or creates) the store at config.storage_path, restores identity
  // and queue, and starts the worker. Errors: kInvalidArgument (missing
  // write_key/storage_path, bad limits), kFailedPrecondition (another process
  // owns the database), kIOError (cannot open or create it), kCorruption (a
  // fresh database failed its check).
  static Result<std::unique_ptr<Client>> create(Config config);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Event calls. Return kOk when the event was accepted (it will be stored
  // and sent), or a non-ok status saying why it was dropped (also counted in
  // stats()): kInvalidArgument, kOutOfRange (above max_event_bytes),
  // kResourceExhausted (the hand-off queue is full), kPermissionDenied (opted
  // out, consent denied, or dropped by a plugin), kCancelled (shut down), and,
  // with Durability::kImmediate only, kIOError.
  Status track(std::string_view event, const nlohmann::json& properties = nullptr,
               const EventOptions& options = {});
  // Sets (and persists) the user id and merges `traits` into the stored traits.
  Status identify(std::string_view user_id, const nlohmann::json& traits = nullptr,
                  const EventOptions& options = {});
  Status screen(std::string_view name, const nlohmann::json& properties = nullptr,
                const EventOptions& options = {});
  Status page(std::string_view name, const nlohmann::json& properties = nullptr,
              const EventOptions& options = {});
  Status group(std::string_view group_id, const nlohmann::json& traits = nullptr,
               const EventOptions& options = {});
  // Links the current identity (previousId) to `new_user_id`, which becomes the user id.
  Status alias(std::string_view new_user_id, const EventOptions& options = {});
  Status enqueue(const RawMessage& message);

  // Commits what is pending and uploads everything queued now. Returns kOk
  // when the queue is empty, kUnavailable when an upload failed (the events
  // stay on disk and are retried by the normal policy), kTimeout,
  // kPermissionDenied (consent unknown/denied or opted out: nothing may be
  // sent), kCancelled (shut down).
  Status flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Starts a flush that never blocks the caller: the worker uploads what is
  // queued now until `deadline` from now, then calls `done` exactly once, on
  // the worker thread (it must return promptly and must not call into this
  // client's flush/shutdown). Nothing on the caller's thread touches disk or
  // network. kOk when started (`done` will be called); kInvalidArgument (no
  // callback, negative deadline) or kCancelled (shut down) otherwise, and
  // then `done` is never called. Counted in Stats::background_flushes_*.
  Status flush_async(std::chrono::milliseconds deadline, std::function<void(FlushResult)> done);

  // Application lifecycle, as Segment's mobile spec names it. Calling them is
  // the opt-in (C and C++ hosts call them; the Swift and Java bindings call
  // them from the operating system's callbacks). Any thread; never block.
  // They return kOk, kInvalidArgument (a string is not valid UTF-8) or
  // kCancelled (shut down); an event refused otherwise (opt-out, consent, the
  // settings' kill switch, a plugin) is counted in stats() like any other.
  //
  // app_launched: at process start. Records "Application Installed" on the
  // first launch ever, "Application Updated" when `build` differs from the
  // stored one (an existing queue from an SDK without lifecycle counts as an
  // update from an unknown version), in the same transaction that stores
  // the new version and build. Remembers url/referrer for the next Opened.
  // Does not by itself mean the app is in the foreground: a process woken in
  // the background (push, background fetch) calls only this.
  Status app_launched(std::string_view version, std::string_view build, std::string_view url = {},
                      std::string_view referrer = {});
  // The app came to the foreground: "Application Opened" (from_background
  // false for the first one after launch), continuing or starting a session.
  // Idempotent while already in the foreground.
  Status app_foreground();
  // The app went to the background: "Application Backgrounded" (idempotent
  // while already in the background); the session's timeout runs from here.
  Status app_background();
  // The current session's id (its start, ms since the epoch), or nullopt
  // when there is none (sessions off, none started yet, or it expired).
  std::optional<int64_t> session_id() const;

  // Forgets the user: clears user id and traits, makes a new anonymous id.
  // Queued events keep the identity they were recorded with.
  void reset();

  // Consent is persisted. kDenied purges the queue (counted as kConsentDenied).
  Status set_consent(Consent consent);
  Consent consent() const;
  // Opt-out is persisted: while set, event calls return kPermissionDenied (counted
  // as kOptOut) and nothing is uploaded; queued events stay on disk.
  Status set_opt_out(bool opted_out);
  bool opted_out() const;

  std::string anonymous_id() const;
  std::string user_id() const;

  // Stops accepting events, commits what is pending, tries one last upload
  // if the deadline allows, and stops the worker. kOk, or kTimeout when the
  // worker did not finish in time (it is then detached safely and stops at
  // its next step). What is not sent stays on disk. Idempotent.
  Status shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  Stats stats() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Process-wide initialisation (curl_global_init). Thread-safe and idempotent;
// the default transport calls it before its first request (make_curl_transport),
// so hosts rarely need to. A host that must initialise libcurl/OpenSSL at a
// time of its choosing (e.g. before starting threads) may call it first.
// In a build without libcurl (TERN_TRANSPORT=none) it does nothing.
void global_init();

}  // namespace tern
