/* tern.h - the C API of the Tern SDK: the one ABI every binding uses.
 *
 * Conventions:
 *  1. Names. Every symbol is tern_<noun>_<verb>, every macro TERN_*. Handles
 *     are opaque (tern_options, tern_client, tern_http_response); their memory
 *     layout is not part of the ABI.
 *  2. Statuses. Fallible calls return a tern_status. Its values are fixed
 *     forever: new ones are only appended.
 *     tern_status_str() gives static text; tern_client_last_error() gives the
 *     message of the calling thread's last failed call on a client.
 *  3. Ownership. Pointers passed in are borrowed for the duration of the call;
 *     the library copies what it keeps. Pointers returned are owned by the
 *     library and say how long they stay valid. Objects created by _new or
 *     _create are released by the matching _free or _destroy, which accept
 *     NULL as a no-op.
 *  4. Text. Every char* is NUL-terminated UTF-8. JSON arguments (properties,
 *     traits, context, integrations) are the text of one JSON object, or NULL
 *     for none; they are validated, and bad text is TERN_INVALID_ARGUMENT.
 *  5. Threads. tern_options is not thread-safe (build it on one thread, then
 *     share it read-only). Every tern_client_* call except _destroy may be
 *     made from any thread at any time. Host callbacks run on the client's
 *     background worker thread unless their comment says otherwise.
 *  6. Versioned structs. A struct the caller fills or receives starts with
 *     `uint32_t struct_size` (set it to sizeof the struct you compiled with);
 *     a host vtable starts with `uint32_t version` (set it to the TERN_*_VERSION
 *     macro you compiled with). Both only ever grow at the end, so a binary
 *     built against an older header keeps working with a newer library.
 *  7. No C++ exception ever crosses this API; an unexpected internal error is
 *     reported as TERN_INTERNAL.
 *  8. Enums are 32-bit ints (each has a *_FORCE_INT32_ member that is not a
 *     value); a value the library does not know is TERN_INVALID_ARGUMENT.
 */
#ifndef TERN_TERN_H_
#define TERN_TERN_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(TERN_C_BUILDING)
#define TERN_EXPORT __declspec(dllexport)
#else
#define TERN_EXPORT __declspec(dllimport)
#endif
#else
#define TERN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Statuses and version                                                      */

typedef enum tern_status {
  TERN_OK = 0,
  TERN_INVALID_ARGUMENT = 1, /* bad input: NULL handle, empty name, bad JSON, bad UTF-8 */
  TERN_TOO_LARGE = 2,        /* the event is above max_event_bytes */
  TERN_QUEUE_FULL = 3,       /* the in-memory hand-off queue is full; the event was dropped */
  TERN_STORAGE = 4,          /* SQLite failed: disk full, read-only, I/O error */
  TERN_LOCKED = 5,           /* another process owns the database file */
  TERN_CORRUPT = 6,          /* the database was corrupt (it was moved aside) */
  TERN_TIMEOUT = 7,          /* flush/shutdown did not finish within the deadline */
  TERN_SHUTDOWN = 8,         /* the client is shut down */
  TERN_DISABLED = 9,         /* opted out or consent denied: nothing recorded or sent */
  TERN_TRANSPORT = 10,       /* the upload failed (network error or HTTP status) */
  TERN_INTERNAL = 11,        /* a bug in Tern; the last error says where */
  TERN_NOT_FOUND = 12,       /* reserved: no call of this version returns it */
  TERN_UNAVAILABLE = 13,     /* reserved: a dependency is down; not returned by this version */
  TERN_STATUS_FORCE_INT32_ = 0x7FFFFFFF /* not a status: keeps the enum 32 bits wide */
} tern_status;

/* Static English name of a status ("ok", "invalid argument", ...); "unknown
 * status" for a value this library does not know. Never NULL. Any thread. */
TERN_EXPORT const char* tern_status_str(tern_status status);

/* The library's version, e.g. "0.1.0". Static text. Any thread. */
TERN_EXPORT const char* tern_version(void);

/* ------------------------------------------------------------------------ */
/* Enumerations                                                              */

typedef enum tern_durability {
  TERN_DURABILITY_GROUP_COMMIT = 0, /* committed within the commit window (default) */
  TERN_DURABILITY_IMMEDIATE = 1,    /* committed before the event call returns */
  TERN_DURABILITY_FORCE_INT32_ = 0x7FFFFFFF
} tern_durability;

typedef enum tern_consent {
  TERN_CONSENT_UNKNOWN = 0, /* events are stored but not sent */
  TERN_CONSENT_GRANTED = 1, /* events are sent */
  TERN_CONSENT_DENIED = 2,  /* queued events are purged; new events are refused */
  TERN_CONSENT_FORCE_INT32_ = 0x7FFFFFFF
} tern_consent;

typedef enum tern_log_level {
  TERN_LOG_DEBUG = 0,
  TERN_LOG_INFO = 1,
  TERN_LOG_WARN = 2,
  TERN_LOG_ERROR = 3,
  TERN_LOG_FORCE_INT32_ = 0x7FFFFFFF
} tern_log_level;

/* Why an event was dropped; indexes tern_stats.dropped_by_reason. Fixed
 * values, mirroring tern::DropReason; new reasons are appended. */
typedef enum tern_drop_reason {
  TERN_DROP_INVALID = 0,         /* rejected by an event call: bad name, JSON, UTF-8 */
  TERN_DROP_TOO_LARGE = 1,       /* above max_event_bytes */
  TERN_DROP_QUEUE_FULL = 2,      /* the in-memory hand-off queue was full */
  TERN_DROP_CAP_EVENTS = 3,      /* oldest dropped: the store held max_queue_events */
  TERN_DROP_CAP_BYTES = 4,       /* oldest dropped: the store held max_queue_bytes */
  TERN_DROP_CAP_AGE = 5,         /* older than max_event_age while still queued */
  TERN_DROP_SERVER_REJECTED = 6, /* the server rejected it */
  TERN_DROP_RETRY_BUDGET = 7,    /* its batch exceeded max_batch_age or max_attempts */
  TERN_DROP_STORAGE_ERROR = 8,   /* SQLite could not store it */
  TERN_DROP_CORRUPT_DB = 9,      /* lost with a corrupt database file moved aside */
  TERN_DROP_CONSENT_DENIED = 10, /* purged or refused because consent was denied */
  TERN_DROP_OPT_OUT = 11,        /* refused because the user opted out */
  TERN_DROP_PLUGIN = 12,         /* a plugin dropped it */
  TERN_DROP_SHUTDOWN = 13,       /* recorded after shutdown */
  TERN_DROP_FORCE_INT32_ = 0x7FFFFFFF
} tern_drop_reason;

/* Room in tern_stats for drop reasons, present and future. */
#define TERN_DROP_REASON_SLOTS 32

/* Static name of a drop reason ("invalid", "too_large", ...), or "unknown".
 * Never NULL. Any thread. */
TERN_EXPORT const char* tern_drop_reason_str(tern_drop_reason reason);

/* ------------------------------------------------------------------------ */
/* Host hooks                                                                */

/* Logger. Copied by tern_options_set_logger; the library owns `state` from
 * then on and calls free_state(state) (if not NULL) exactly once, after the
 * last log call, when neither the options nor any client created from them
 * holds it any longer (on the thread that releases the last of them).
 * log() runs on any SDK thread: the caller's thread for a rejected event, the
 * worker thread for storage and upload. It must be thread-safe, must not call
 * into the client that logs. `message` is NUL-terminated, `length` bytes
 * long, and valid only during the call. */
#define TERN_LOGGER_VERSION 1u
typedef struct tern_logger {
  uint32_t version; /* TERN_LOGGER_VERSION */
  void* state;
  void (*free_state)(void* state);
  void (*log)(void* state, tern_log_level level, const char* message, size_t length);
} tern_logger;

/* Context provider: facts the platform knows (app, device, os, locale,
 * timezone, network, screen), as the text of one JSON object with Segment
 * keys, e.g. {"app":{"name":"x","version":"1.2"},"os":{"name":"Android"}}.
 * Ownership of `state` as for tern_logger. context_json() is called once per
 * client while it starts (on the thread calling tern_client_create or on the
 * worker) and its result is cached and spliced into every event. It returns
 * text owned by the host that must stay valid until the call returns to the
 * library (which copies it) - e.g. a static string or a buffer in `state`; NULL
 * means no facts. Text that is not a JSON object is ignored and logged. */
#define TERN_CONTEXT_PROVIDER_VERSION 1u
typedef struct tern_context_provider {
  uint32_t version; /* TERN_CONTEXT_PROVIDER_VERSION */
  void* state;
  void (*free_state)(void* state);
  const char* (*context_json)(void* state);
} tern_context_provider;

/* One HTTP request the library asks a host transport to perform: POST `body`
 * to `url` with HTTP Basic auth (write_key as user name, empty password),
 * Content-Type `content_type`, and Content-Encoding: gzip when `gzip` is
 * non-zero. Every pointer is owned by the library and valid during send(). */
typedef struct tern_http_request {
  uint32_t struct_size; /* sizeof(tern_http_request) of the library */
  const char* url;
  const char* write_key;
  const void* body;
  size_t body_length;
  int gzip;
  const char* content_type;
  /* Appended in 0.x (read them only when struct_size covers them): */
  const char* method;        /* "POST" (batches) or "GET" (settings, no body) */
  const char* if_none_match; /* send as If-None-Match; NULL: none */
} tern_http_request;

/* Where a host transport reports the outcome of one request, through the
 * tern_http_response_set_* calls below. Owned by the library; valid only
 * during send(), on the worker thread. A response left untouched reads as
 * "no HTTP answer" (status 0). */
typedef struct tern_http_response tern_http_response;

/* Transport: the host performs one HTTP request and reports what came back;
 * queueing, retry, backoff and bisection stay in the library. Ownership of
 * `state` as for tern_logger. send() runs only on the client's worker thread,
 * one request at a time per client; it may block but should return within
 * its own timeouts, must not call into the client, and reports a network
 * failure as status 0 with an error text. */
#define TERN_TRANSPORT_VERSION 1u
typedef struct tern_transport {
  uint32_t version; /* TERN_TRANSPORT_VERSION */
  void* state;
  void (*free_state)(void* state);
  void (*send)(void* state, const tern_http_request* request, tern_http_response* response);
} tern_transport;

/* The HTTP status code (100-599), or 0 for no HTTP answer. TERN_OK, or
 * TERN_INVALID_ARGUMENT for NULL or a code outside 0 and 100-599. Only inside
 * send(), on the worker thread. */
TERN_EXPORT tern_status tern_http_response_set_status(tern_http_response* response,
                                                      int status_code);
/* Retry-After as milliseconds (>= 0). TERN_OK or TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_http_response_set_retry_after_ms(tern_http_response* response,
                                                              int64_t milliseconds);
/* Retry-After as the raw header value (delta seconds or an HTTP date), parsed
 * by the library; an unparsable value is ignored. TERN_OK or
 * TERN_INVALID_ARGUMENT (NULL). */
TERN_EXPORT tern_status tern_http_response_set_retry_after_header(tern_http_response* response,
                                                                  const char* value);
/* The response body (copied; the library reads per-event rejections from it).
 * `body` may be NULL when `length` is 0. TERN_OK or TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_http_response_set_body(tern_http_response* response, const void* body,
                                                    size_t length);
/* The transport-level error text for status 0 (copied). TERN_OK or
 * TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_http_response_set_error(tern_http_response* response,
                                                     const char* error);
/* The response's ETag header (copied), for the settings fetch. TERN_OK or
 * TERN_INVALID_ARGUMENT (NULL). */
TERN_EXPORT tern_status tern_http_response_set_etag(tern_http_response* response, const char* etag);

/* Plugin: enriches, filters or drops an event before it is stored. Ownership
 * of `state` as for tern_logger. process() runs on the thread making the
 * event call (inside tern_client_track and friends), in the order plugins
 * were added, so it must be fast and thread-safe and must not call into the
 * client. It receives the complete event as JSON object text (`event_json`,
 * `length` bytes, NUL-terminated, valid during the call). Return non-zero to
 * keep the event, 0 to drop it (the event call then returns TERN_DISABLED and
 * the drop is counted as TERN_DROP_PLUGIN). To change the event, call
 * tern_plugin_event_replace(event, ...) before returning non-zero. */
typedef struct tern_plugin_event tern_plugin_event;
#define TERN_PLUGIN_VERSION 1u
typedef struct tern_plugin {
  uint32_t version; /* TERN_PLUGIN_VERSION */
  void* state;
  void (*free_state)(void* state);
  int (*process)(void* state, const char* event_json, size_t length, tern_plugin_event* event);
} tern_plugin;

/* Replaces the event being processed with `json` (the text of one JSON
 * object, `length` bytes; copied). Only inside process(), on its thread.
 * TERN_OK, or TERN_INVALID_ARGUMENT (NULL, not a JSON object: the event is
 * then unchanged). A replacement without a valid messageId or type gets the
 * library's own back (the messageId is what makes a retry idempotent). */
TERN_EXPORT tern_status tern_plugin_event_replace(tern_plugin_event* event, const char* json,
                                                  size_t length);

/* ------------------------------------------------------------------------ */
/* Options                                                                   */

typedef struct tern_options tern_options;

/* A new set of options with the defaults of tern::Config (endpoint
 * http://127.0.0.1:8080, flush_at 20, ...). write_key and storage_path must
 * be set before tern_client_create. Release with tern_options_free. Returns
 * NULL only when out of memory. */
TERN_EXPORT tern_options* tern_options_new(void);

/* Releases the options (NULL: no-op). Clients created from them are not
 * affected; host hooks they hold are released when the last client using
 * them is destroyed. */
TERN_EXPORT void tern_options_free(tern_options* options);

/* Setters. Each copies its argument and returns TERN_OK, or
 * TERN_INVALID_ARGUMENT for a NULL options or string, invalid UTF-8, a
 * negative or zero value where one is meaningless, or an unknown enum value
 * (the options are then unchanged). Semantics are those of tern::Config
 * (sdk/include/tern/config.h). Durations are in the unit their name says.
 * Config's clock and store are C++ test seams and are not exposed here. */
TERN_EXPORT tern_status tern_options_set_endpoint(tern_options* options, const char* url);
TERN_EXPORT tern_status tern_options_set_write_key(tern_options* options, const char* write_key);
TERN_EXPORT tern_status tern_options_set_storage_path(tern_options* options, const char* path);
TERN_EXPORT tern_status tern_options_set_flush_at(tern_options* options, uint64_t events);
TERN_EXPORT tern_status tern_options_set_flush_interval_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_max_event_bytes(tern_options* options, uint64_t bytes);
TERN_EXPORT tern_status tern_options_set_max_batch_bytes(tern_options* options, uint64_t bytes);
TERN_EXPORT tern_status tern_options_set_max_batch_events(tern_options* options, uint64_t events);
TERN_EXPORT tern_status tern_options_set_max_queue_events(tern_options* options, uint64_t events);
TERN_EXPORT tern_status tern_options_set_max_queue_bytes(tern_options* options, uint64_t bytes);
TERN_EXPORT tern_status tern_options_set_max_event_age_s(tern_options* options, int64_t seconds);
TERN_EXPORT tern_status tern_options_set_durability(tern_options* options,
                                                    tern_durability durability);
TERN_EXPORT tern_status tern_options_set_commit_window_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_commit_max_events(tern_options* options, uint64_t events);
TERN_EXPORT tern_status tern_options_set_max_pending_events(tern_options* options, uint64_t events);
TERN_EXPORT tern_status tern_options_set_backoff_base_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_backoff_max_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_max_batch_age_s(tern_options* options, int64_t seconds);
TERN_EXPORT tern_status tern_options_set_max_attempts(tern_options* options, int32_t attempts);
/* Non-zero: gzip request bodies (the default). */
TERN_EXPORT tern_status tern_options_set_gzip(tern_options* options, int enabled);
/* Consent used when none was persisted yet (default granted). */
TERN_EXPORT tern_status tern_options_set_default_consent(tern_options* options,
                                                         tern_consent consent);
/* context.library.name / .version (defaults "tern-cpp" and the SDK version;
 * an empty version means the SDK's). */
TERN_EXPORT tern_status tern_options_set_library_name(tern_options* options, const char* name);
TERN_EXPORT tern_status tern_options_set_library_version(tern_options* options,
                                                         const char* version);
/* Sessions (default on): events carry context.sessionId and, first in a
 * session, context.sessionStart. Session Started/Ended events are off by
 * default. */
TERN_EXPORT tern_status tern_options_set_track_sessions(tern_options* options, int enabled);
TERN_EXPORT tern_status tern_options_set_session_timeout_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_session_events(tern_options* options, int enabled);
/* Settings served by the relay (default on), fetched by the lifecycle calls
 * from the settings endpoint ("" means the endpoint). */
TERN_EXPORT tern_status tern_options_set_fetch_settings(tern_options* options, int enabled);
TERN_EXPORT tern_status tern_options_set_settings_endpoint(tern_options* options, const char* url);
/* The built-in libcurl transport (used when no host transport is set; a
 * library built with CMake TERN_TRANSPORT=none has none). */
TERN_EXPORT tern_status tern_options_set_http_connect_timeout_ms(tern_options* options, int64_t ms);
TERN_EXPORT tern_status tern_options_set_http_request_timeout_ms(tern_options* options, int64_t ms);
/* Non-zero (default): verify the TLS peer and host. Turn off only for local tests. */
TERN_EXPORT tern_status tern_options_set_http_verify_tls(tern_options* options, int verify);
/* A CA bundle file; "" means the system's. */
TERN_EXPORT tern_status tern_options_set_http_ca_bundle(tern_options* options, const char* path);
/* "" means "tern-cpp/<version>". */
TERN_EXPORT tern_status tern_options_set_http_user_agent(tern_options* options,
                                                         const char* user_agent);

/* Host hooks. Each copies the vtable; on TERN_OK the library owns `state`
 * (see the vtable's comment) and releases a hook set earlier. On an error
 * (NULL options or vtable, NULL required callback, version 0 or newer than
 * this library knows) nothing is taken: the caller still owns `state`.
 * Passing a NULL vtable pointer is TERN_INVALID_ARGUMENT; use the _clear
 * calls to go back to the built-in default. */
TERN_EXPORT tern_status tern_options_set_logger(tern_options* options, const tern_logger* logger,
                                                tern_log_level min_level);
TERN_EXPORT tern_status tern_options_set_context_provider(tern_options* options,
                                                          const tern_context_provider* provider);
TERN_EXPORT tern_status tern_options_set_transport(tern_options* options,
                                                   const tern_transport* transport);
/* Appends a plugin; plugins run in the order they were added. */
TERN_EXPORT tern_status tern_options_add_plugin(tern_options* options, const tern_plugin* plugin);
/* Back to the defaults: stderr logger (warnings and up), system context
 * facts, libcurl transport, no plugins. TERN_OK or TERN_INVALID_ARGUMENT
 * (NULL). */
TERN_EXPORT tern_status tern_options_clear_hooks(tern_options* options);

/* ------------------------------------------------------------------------ */
/* Client                                                                    */

typedef struct tern_client tern_client;

/* Opens (or creates) the store at the options' storage_path, restores the
 * identity and the queue, and starts the worker thread. On TERN_OK *out is a
 * new client to release with tern_client_destroy; otherwise *out is NULL and
 * tern_client_last_error(NULL) on this thread says why. `options` is borrowed
 * (it may be freed or reused right after). Several clients may live in one
 * process, each on its own database file. Any thread.
 * Returns TERN_OK, TERN_INVALID_ARGUMENT (NULL pointer, missing write key or
 * storage path, bad limits; no host transport in a library built without a
 * default one, CMake TERN_TRANSPORT=none), TERN_LOCKED (another client or
 * process owns the database), TERN_STORAGE (cannot open or create it),
 * TERN_INTERNAL. */
TERN_EXPORT tern_status tern_client_create(const tern_options* options, tern_client** out);

/* Shuts the client down (2 s deadline unless tern_client_shutdown ran
 * earlier), stops its worker and releases it; what was not sent stays on disk.
 * NULL: no-op. Call once, when no other thread is using the client. */
TERN_EXPORT void tern_client_destroy(tern_client* client);

/* The message of the last call on `client` made by the calling thread that
 * did not return TERN_OK ("" if none). With client NULL: the message of the
 * calling thread's last failed tern_client_create (or of a call that had no
 * valid handle). Owned by the library; valid until the same thread's next
 * call on the same client (or, for NULL, the thread's next failed call
 * without a handle) or until the client is destroyed. Never NULL. */
TERN_EXPORT const char* tern_client_last_error(const tern_client* client);

/* Per-call options for the event calls (all optional; pass NULL for none).
 * Strings are borrowed for the call. */
typedef struct tern_event_options {
  uint32_t struct_size;          /* sizeof(tern_event_options) */
  const char* user_id;           /* override the stored user id for this event */
  const char* anonymous_id;      /* override the stored anonymous id */
  const char* context_json;      /* merged over the provider's context */
  const char* integrations_json; /* the Segment `integrations` object */
  int64_t timestamp_ms;          /* device time in ms since the Unix epoch; 0: now */
} tern_event_options;

/* Event calls. Each validates and serialises the event on the calling thread
 * and hands it to the worker; it never blocks on disk or network (except with
 * TERN_DURABILITY_IMMEDIATE). Any thread. Returns TERN_OK when the event was
 * accepted (it will be stored and sent), otherwise why it was dropped (and
 * counted in the stats): TERN_INVALID_ARGUMENT (NULL client, NULL or empty
 * required name, bad JSON, invalid UTF-8), TERN_TOO_LARGE, TERN_QUEUE_FULL,
 * TERN_DISABLED, TERN_SHUTDOWN, TERN_STORAGE (immediate durability only),
 * TERN_INTERNAL. */

/* A track event: `event` is its name (required); `properties_json` its
 * properties object or NULL. */
TERN_EXPORT tern_status tern_client_track(tern_client* client, const char* event,
                                          const char* properties_json,
                                          const tern_event_options* options);
/* Sets and persists the user id (required) and merges `traits_json` into the
 * stored traits. */
TERN_EXPORT tern_status tern_client_identify(tern_client* client, const char* user_id,
                                             const char* traits_json,
                                             const tern_event_options* options);
/* A screen view; `name` is required. */
TERN_EXPORT tern_status tern_client_screen(tern_client* client, const char* name,
                                           const char* properties_json,
                                           const tern_event_options* options);
/* A page view; `name` may be NULL or empty. */
TERN_EXPORT tern_status tern_client_page(tern_client* client, const char* name,
                                         const char* properties_json,
                                         const tern_event_options* options);
/* Associates the user with a group; `group_id` is required. */
TERN_EXPORT tern_status tern_client_group(tern_client* client, const char* group_id,
                                          const char* traits_json,
                                          const tern_event_options* options);
/* Links the current identity (previousId) to `new_user_id` (required), which
 * becomes the user id. */
TERN_EXPORT tern_status tern_client_alias(tern_client* client, const char* new_user_id,
                                          const tern_event_options* options);

/* Commits what is pending and uploads everything queued now, waiting up to
 * timeout_ms (callbacks run on the worker meanwhile). Any thread. Returns
 * TERN_OK when the queue is empty, TERN_TRANSPORT when an upload failed (the
 * events stay on disk and are retried by the normal policy), TERN_TIMEOUT,
 * TERN_DISABLED (consent unknown/denied or opted out), TERN_SHUTDOWN,
 * TERN_INVALID_ARGUMENT (NULL client, negative timeout). */
TERN_EXPORT tern_status tern_client_flush(tern_client* client, int64_t timeout_ms);

/* How a tern_client_flush_async ended. */
typedef enum tern_flush_result {
  TERN_FLUSH_SENT = 0,      /* nothing queued at the call is left: sent, or dropped by
                               the retry policy (counted in the stats) */
  TERN_FLUSH_TIMED_OUT = 1, /* the deadline came first; the rest stays queued */
  TERN_FLUSH_CANCELLED = 2  /* shut down, or nothing may be sent (consent, opt-out,
                               the kill switch) */
} tern_flush_result;

typedef void (*tern_flush_callback)(tern_flush_result result, void* user_data);

/* A flush that never blocks the caller (for an app going to the
 * background): the worker uploads what is queued until deadline_ms from now,
 * then calls `callback(result, user_data)` exactly once, on the worker
 * thread (it must return promptly and must not call tern_client_flush,
 * tern_client_shutdown or tern_client_destroy). TERN_OK when started;
 * otherwise the callback is never called: TERN_INVALID_ARGUMENT (NULL
 * client or callback, negative deadline), TERN_SHUTDOWN. */
TERN_EXPORT tern_status tern_client_flush_async(tern_client* client, int64_t deadline_ms,
                                                tern_flush_callback callback, void* user_data);

/* Application lifecycle (Segment's mobile spec). Calling them is the opt-in.
 * tern_client_app_launched at process start (`url` and `referrer` may be
 * NULL): "Application Installed" on the first launch ever, "Application
 * Updated" when `build` changed; it does not mean the app is in the
 * foreground (a process woken in the background calls only this).
 * tern_client_app_foreground: "Application Opened" (idempotent while in the
 * foreground). tern_client_app_background: "Application Backgrounded".
 * Any thread; they never block. TERN_OK, TERN_INVALID_ARGUMENT (NULL client,
 * NULL version/build, invalid UTF-8), TERN_SHUTDOWN. */
TERN_EXPORT tern_status tern_client_app_launched(tern_client* client, const char* version,
                                                 const char* build, const char* url,
                                                 const char* referrer);
TERN_EXPORT tern_status tern_client_app_foreground(tern_client* client);
TERN_EXPORT tern_status tern_client_app_background(tern_client* client);
/* The current session's id (its start in ms since the epoch) into *out, or 0
 * when there is none. TERN_OK or TERN_INVALID_ARGUMENT (NULL). */
TERN_EXPORT tern_status tern_client_session_id(const tern_client* client, int64_t* out);

/* Forgets the user: clears user id and traits, makes a new anonymous id.
 * Queued events keep the identity they were recorded with. Any thread.
 * TERN_OK or TERN_INVALID_ARGUMENT (NULL). */
TERN_EXPORT tern_status tern_client_reset(tern_client* client);

/* Stops accepting events, commits what is pending, tries one last upload if
 * the deadline allows, and stops the worker. Idempotent. Any thread. Returns
 * TERN_OK, TERN_TIMEOUT (the worker stops at its next step; what is not sent
 * stays on disk), TERN_INVALID_ARGUMENT (NULL, negative timeout). */
TERN_EXPORT tern_status tern_client_shutdown(tern_client* client, int64_t timeout_ms);

/* Sets and persists consent; TERN_CONSENT_DENIED purges the queue. Any
 * thread. TERN_OK, TERN_INVALID_ARGUMENT (NULL, unknown value), TERN_STORAGE,
 * TERN_SHUTDOWN. */
TERN_EXPORT tern_status tern_client_set_consent(tern_client* client, tern_consent consent);
/* The current consent into *out. TERN_OK or TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_client_consent(const tern_client* client, tern_consent* out);

/* Sets and persists opt-out (non-zero: opted out). While set, event calls
 * return TERN_DISABLED and nothing is uploaded; queued events stay on disk.
 * Any thread. TERN_OK, TERN_INVALID_ARGUMENT, TERN_STORAGE, TERN_SHUTDOWN. */
TERN_EXPORT tern_status tern_client_set_opt_out(tern_client* client, int opted_out);
/* 1 or 0 into *out. TERN_OK or TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_client_opted_out(const tern_client* client, int* out);

/* Copy the current anonymous id / user id into `buffer` (NUL-terminated,
 * truncated to capacity - 1 bytes); *length (if not NULL) receives the full
 * length without the NUL, so a caller can retry with a larger buffer. `buffer`
 * may be NULL when capacity is 0. Any thread. TERN_OK or
 * TERN_INVALID_ARGUMENT. */
TERN_EXPORT tern_status tern_client_anonymous_id(const tern_client* client, char* buffer,
                                                 size_t capacity, size_t* length);
TERN_EXPORT tern_status tern_client_user_id(const tern_client* client, char* buffer,
                                            size_t capacity, size_t* length);

/* What the client did. The caller owns the struct and sets struct_size; the
 * library fills the fields that fit in struct_size (newer fields are only
 * appended), so old binaries keep working. */
typedef struct tern_stats {
  uint32_t struct_size; /* sizeof(tern_stats) */
  uint32_t reserved;
  uint64_t enqueued;     /* accepted by the event calls */
  uint64_t stored;       /* committed to the store */
  uint64_t sent;         /* acknowledged by the server (2xx) */
  uint64_t retried;      /* upload attempts that failed and will be retried */
  uint64_t attempts;     /* upload attempts (requests) made */
  uint64_t batches_sent; /* successful requests */
  uint64_t dropped;      /* sum of dropped_by_reason */
  uint64_t queue_depth;  /* events in the store, not yet sent */
  uint64_t queue_bytes;  /* their size in bytes */
  uint64_t pending;      /* handed to the worker, not yet stored */
  uint64_t bytes_sent;   /* request bodies on the wire, all attempts */
  uint64_t corrupt_db_recoveries;
  uint64_t dropped_by_reason[TERN_DROP_REASON_SLOTS]; /* indexed by tern_drop_reason */
  /* Appended: lifecycle, sessions, settings, background flushes. */
  uint64_t lifecycle_events;
  uint64_t sessions_started;
  uint64_t settings_fetched;
  uint64_t settings_not_modified;
  uint64_t settings_failed;
  uint64_t sampled_out;
  uint64_t kill_switch_refused;
  uint64_t background_flushes_sent;
  uint64_t background_flushes_timed_out;
  uint64_t background_flushes_cancelled;
} tern_stats;

/* Fills *stats (see tern_stats). Any thread. TERN_OK, or
 * TERN_INVALID_ARGUMENT (NULL, or struct_size smaller than the first two
 * fields). */
TERN_EXPORT tern_status tern_client_stats(const tern_client* client, tern_stats* stats);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TERN_TERN_H_ */
