/* Tests of the C API (tern/tern.h), written in C11 as a C host would use it.
 *
 * Each test is a function taking a fresh temp dir and returning 0 on success.
 * `tern_c_test NAME` runs one (ctest registers each by name);
 * `tern_c_test` runs them all.
 *
 * Longer than 800 lines on purpose: this file is the runner as well as the
 * core cases. Its kTests table is where CMakeLists.txt reads the ctest names
 * from, and the core cases share its static helpers; cases of a later
 * feature go into a file of their own (collector_round_trip.c,
 * lifecycle_test.c) and are only named in the table here. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"
#include "test_util.h"

/* ------------------------------------------------------------------------ */

static int test_version_and_names_are_static_text(const char* dir) {
  (void)dir;
  CHECK(strcmp(tern_version(), "0.1.0") == 0);
  CHECK(strcmp(tern_status_str(TERN_OK), "ok") == 0);
  CHECK(strcmp(tern_status_str(TERN_INVALID_ARGUMENT), "invalid argument") == 0);
  CHECK(strcmp(tern_status_str(TERN_UNAVAILABLE), "unavailable") == 0);
  CHECK(strcmp(tern_status_str((tern_status)999), "unknown status") == 0);
  CHECK(strcmp(tern_status_str((tern_status)-1), "unknown status") == 0);
  CHECK(strcmp(tern_drop_reason_str(TERN_DROP_INVALID), "") != 0);
  CHECK(strcmp(tern_drop_reason_str((tern_drop_reason)999), "unknown") == 0);
  /* Fixed values: part of the ABI. */
  CHECK(TERN_TRANSPORT == 10 && TERN_UNAVAILABLE == 13 && TERN_DROP_SHUTDOWN == 13);
  return 0;
}

static int test_every_option_setter_accepts_valid_values(const char* dir) {
  (void)dir;
  tern_options* o = tern_options_new();
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_endpoint(o, "http://127.0.0.1:1"));
  CHECK_OK(NULL, tern_options_set_write_key(o, "key"));
  CHECK_OK(NULL, tern_options_set_storage_path(o, "/tmp/x.db"));
  CHECK_OK(NULL, tern_options_set_flush_at(o, 5));
  CHECK_OK(NULL, tern_options_set_flush_interval_ms(o, 100));
  CHECK_OK(NULL, tern_options_set_max_event_bytes(o, 1024));
  CHECK_OK(NULL, tern_options_set_max_batch_bytes(o, 4096));
  CHECK_OK(NULL, tern_options_set_max_batch_events(o, 10));
  CHECK_OK(NULL, tern_options_set_max_queue_events(o, 100));
  CHECK_OK(NULL, tern_options_set_max_queue_bytes(o, 100000));
  CHECK_OK(NULL, tern_options_set_max_event_age_s(o, 3600));
  CHECK_OK(NULL, tern_options_set_durability(o, TERN_DURABILITY_IMMEDIATE));
  CHECK_OK(NULL, tern_options_set_commit_window_ms(o, 0));
  CHECK_OK(NULL, tern_options_set_commit_max_events(o, 10));
  CHECK_OK(NULL, tern_options_set_max_pending_events(o, 10));
  CHECK_OK(NULL, tern_options_set_backoff_base_ms(o, 10));
  CHECK_OK(NULL, tern_options_set_backoff_max_ms(o, 100));
  CHECK_OK(NULL, tern_options_set_max_batch_age_s(o, 60));
  CHECK_OK(NULL, tern_options_set_max_attempts(o, 3));
  CHECK_OK(NULL, tern_options_set_gzip(o, 1));
  CHECK_OK(NULL, tern_options_set_default_consent(o, TERN_CONSENT_UNKNOWN));
  CHECK_OK(NULL, tern_options_set_library_name(o, "tern-c-test"));
  CHECK_OK(NULL, tern_options_set_library_version(o, ""));
  CHECK_OK(NULL, tern_options_set_track_sessions(o, 0));
  CHECK_OK(NULL, tern_options_set_session_timeout_ms(o, 60000));
  CHECK_OK(NULL, tern_options_set_session_events(o, 1));
  CHECK_OK(NULL, tern_options_set_fetch_settings(o, 0));
  CHECK_OK(NULL, tern_options_set_settings_endpoint(o, "https://cdn.example.com"));
  CHECK_OK(NULL, tern_options_set_settings_endpoint(o, "")); /* the endpoint */
  CHECK_OK(NULL, tern_options_set_http_connect_timeout_ms(o, 100));
  CHECK_OK(NULL, tern_options_set_http_request_timeout_ms(o, 100));
  CHECK_OK(NULL, tern_options_set_http_verify_tls(o, 0));
  CHECK_OK(NULL, tern_options_set_http_ca_bundle(o, ""));
  CHECK_OK(NULL, tern_options_set_http_user_agent(o, "ua/1"));
  CHECK_OK(NULL, tern_options_clear_hooks(o));
  tern_options_free(o);
  tern_options_free(NULL); /* no-op */
  return 0;
}

static int test_option_setters_reject_bad_values_with_a_message(const char* dir) {
  (void)dir;
  tern_options* o = tern_options_new();
  CHECK(o != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_write_key(NULL, "k"));
  CHECK(strstr(tern_client_last_error(NULL), "options") != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_write_key(o, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_write_key(o, "bad\xff"));
  CHECK(strstr(tern_client_last_error(NULL), "UTF-8") != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_endpoint(o, "\xc0\x80"));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_flush_at(o, 0));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_flush_interval_ms(o, -1));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_backoff_base_ms(o, 0));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_backoff_max_ms(o, INT64_MAX));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_max_attempts(o, 0));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_commit_window_ms(o, -5));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_durability(o, (tern_durability)7));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_default_consent(o, (tern_consent)3));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_transport(o, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_http_user_agent(o, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_session_timeout_ms(o, 0));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_session_timeout_ms(o, -1));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_settings_endpoint(o, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_track_sessions(NULL, 1));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_fetch_settings(NULL, 1));

  /* A vtable with an unknown version or no callback is refused and its
   * state is not taken (free_state is not called). */
  recorder* r = recorder_new();
  tern_transport t = recorder_transport(r);
  t.version = 99;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_transport(o, &t));
  CHECK(strstr(tern_client_last_error(NULL), "version") != NULL);
  t.version = 0;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_transport(o, &t));
  t.version = TERN_TRANSPORT_VERSION;
  t.send = NULL;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_transport(o, &t));
  tern_logger l;
  memset(&l, 0, sizeof l);
  l.version = TERN_LOGGER_VERSION;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_logger(o, &l, TERN_LOG_INFO));
  tern_context_provider cp;
  memset(&cp, 0, sizeof cp);
  cp.version = TERN_CONTEXT_PROVIDER_VERSION;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_set_context_provider(o, &cp));
  tern_options_free(o);
  CHECK(recorder_freed(r) == 0);
  recorder_delete(r);
  return 0;
}

static int test_create_reports_missing_settings_and_null_pointers(const char* dir) {
  (void)dir;
  tern_client* c = (tern_client*)0x1;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_create(NULL, &c));
  CHECK(c == NULL);
  tern_options* o = tern_options_new();
  CHECK(o != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_create(o, NULL));
  /* No write key, no storage path. */
  c = (tern_client*)0x1;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_create(o, &c));
  CHECK(c == NULL);
  CHECK(strlen(tern_client_last_error(NULL)) > 0);
  tern_options_free(o);
  return 0;
}

static int test_destroy_null_is_a_no_op(const char* dir) {
  (void)dir;
  tern_client_destroy(NULL);
  tern_options_free(NULL);
  return 0;
}

static int test_lifecycle_create_track_flush_shutdown_destroy(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "life", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  CHECK(c != NULL);
  tern_options_free(o); /* the client keeps what it needs */

  CHECK_OK(c, tern_client_track(c, "Order Completed", "{\"total\":12.5,\"items\":[1,2]}", NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(recorder_requests(r) == 1);
  char* body = recorder_body(r, 0);
  CHECK(body != NULL);
  CHECK(strstr(body, "\"batch\"") != NULL);
  CHECK(strstr(body, "\"event\":\"Order Completed\"") != NULL);
  CHECK(strstr(body, "\"total\":12.5") != NULL);
  CHECK(strstr(body, "\"messageId\"") != NULL);
  free(body);
  CHECK(strcmp(r->write_keys[0], "wk") == 0);
  CHECK(strstr(r->urls[0], "/v1/batch") != NULL);
  CHECK(r->gzip[0] == 0);
  /* The transport runs on the worker, never on the caller's thread. */
  CHECK(r->on_caller_thread == 0);

  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.enqueued == 1);
  CHECK(s.sent == 1);
  CHECK(s.batches_sent == 1);
  CHECK(s.queue_depth == 0);
  CHECK(s.dropped == 0);

  CHECK_OK(c, tern_client_shutdown(c, 2000));
  CHECK_OK(c, tern_client_shutdown(c, 2000)); /* idempotent */
  CHECK_STATUS(TERN_SHUTDOWN, c, tern_client_track(c, "late", NULL, NULL));
  CHECK(strlen(tern_client_last_error(c)) > 0);
  tern_client_destroy(c);
  /* The transport's state is released exactly once, with its last holder. */
  CHECK(recorder_freed(r) == 1);
  recorder_delete(r);
  return 0;
}

static int test_every_event_call_reaches_the_server(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "calls", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  char anon[128];
  size_t len = 0;
  CHECK_OK(c, tern_client_anonymous_id(c, anon, sizeof anon, &len));
  CHECK(len > 0 && len == strlen(anon));

  tern_event_options eo;
  memset(&eo, 0, sizeof eo);
  eo.struct_size = sizeof eo;
  eo.context_json = "{\"campaign\":{\"name\":\"spring\"}}";
  eo.integrations_json = "{\"All\":false}";
  eo.timestamp_ms = 1700000000123; /* 2023-11-14T22:13:20.123Z */

  CHECK_OK(c, tern_client_track(c, "Clicked", "{\"button\":\"buy\"}", &eo));
  CHECK_OK(c, tern_client_identify(c, "user-42", "{\"plan\":\"pro\"}", NULL));
  CHECK_OK(c, tern_client_screen(c, "Home", "{\"tab\":1}", NULL));
  CHECK_OK(c, tern_client_page(c, "Pricing", NULL, NULL));
  CHECK_OK(c, tern_client_page(c, NULL, NULL, NULL)); /* a page name is optional */
  CHECK_OK(c, tern_client_group(c, "acme", "{\"employees\":10}", NULL));
  CHECK_OK(c, tern_client_alias(c, "user-43", NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));

  char user[64];
  CHECK_OK(c, tern_client_user_id(c, user, sizeof user, &len));
  CHECK(strcmp(user, "user-43") == 0);

  int n = recorder_requests(r);
  CHECK(n >= 1);
  /* Join every body to look for each event once. */
  size_t total = 1;
  for (int i = 0; i < n; ++i) {
    char* b = recorder_body(r, i);
    total += strlen(b);
    free(b);
  }
  char* all = calloc(1, total);
  CHECK(all != NULL);
  for (int i = 0; i < n; ++i) {
    char* b = recorder_body(r, i);
    strcat(all, b);
    free(b);
  }
  CHECK(count_substr(all, "\"type\":\"track\"") == 1);
  CHECK(count_substr(all, "\"type\":\"identify\"") == 1);
  CHECK(count_substr(all, "\"type\":\"screen\"") == 1);
  CHECK(count_substr(all, "\"type\":\"page\"") == 2);
  CHECK(count_substr(all, "\"type\":\"group\"") == 1);
  CHECK(count_substr(all, "\"type\":\"alias\"") == 1);
  CHECK(strstr(all, "\"button\":\"buy\"") != NULL);
  CHECK(strstr(all, "\"plan\":\"pro\"") != NULL);
  CHECK(strstr(all, "\"groupId\":\"acme\"") != NULL);
  CHECK(strstr(all, "\"previousId\":\"user-42\"") != NULL);
  CHECK(strstr(all, "\"userId\":\"user-43\"") != NULL);
  CHECK(strstr(all, "\"spring\"") != NULL);
  CHECK(strstr(all, "\"All\":false") != NULL);
  CHECK(strstr(all, "2023-11-14T22:13:20.123Z") != NULL);
  CHECK(strstr(all, anon) != NULL);
  free(all);

  /* reset: a new anonymous id, no user id. */
  CHECK_OK(c, tern_client_reset(c));
  char anon2[128];
  CHECK_OK(c, tern_client_anonymous_id(c, anon2, sizeof anon2, NULL));
  CHECK(strcmp(anon, anon2) != 0);
  CHECK_OK(c, tern_client_user_id(c, user, sizeof user, &len));
  CHECK(len == 0 && user[0] == '\0');

  /* A small buffer is truncated and NUL-terminated; the length tells the full size. */
  char tiny[4];
  CHECK_OK(c, tern_client_anonymous_id(c, tiny, sizeof tiny, &len));
  CHECK(strlen(tiny) == 3 && len == strlen(anon2));
  CHECK_OK(c, tern_client_anonymous_id(c, NULL, 0, &len));
  CHECK(len == strlen(anon2));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_anonymous_id(c, NULL, 5, &len));

  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_bad_input_gets_the_right_status_and_is_counted(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "bad", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_max_event_bytes(o, 2048));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  /* NULL handles. */
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_track(NULL, "e", NULL, NULL));
  CHECK(strstr(tern_client_last_error(NULL), "client") != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_identify(NULL, "u", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_screen(NULL, "s", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_page(NULL, "p", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_group(NULL, "g", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_alias(NULL, "a", NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_flush(NULL, 10));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_reset(NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_shutdown(NULL, 10));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_set_consent(NULL, TERN_CONSENT_GRANTED));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_set_opt_out(NULL, 1));
  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_stats(NULL, &s));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_stats(c, NULL));
  tern_consent consent;
  int opted;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_consent(NULL, &consent));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_consent(c, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_opted_out(NULL, &opted));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_flush(c, -1));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_set_consent(c, (tern_consent)9));

  /* Missing or empty required names. */
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, NULL, NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_screen(c, "", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_group(c, NULL, NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_identify(c, "", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_alias(c, "", NULL));

  /* Bad JSON, with a message saying so. */
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", "{\"a\":", NULL));
  CHECK(strlen(tern_client_last_error(c)) > 0);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", "[1,2]", NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", "{\"a\":1} x", NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_identify(c, "u", "{'a':1}", NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_screen(c, "s", "{\"a\":tru}", NULL));
  tern_event_options eo;
  memset(&eo, 0, sizeof eo);
  eo.struct_size = sizeof eo;
  eo.context_json = "{";
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_page(c, "p", NULL, &eo));
  eo.context_json = NULL;
  eo.struct_size = 0;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", NULL, &eo));

  /* Invalid UTF-8 in names and in JSON strings. */
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "bad\xff\xfe", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", "{\"k\":\"\xc3\x28\"}", NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_identify(c, "\xed\xa0\x80", NULL, NULL));

  /* Oversized: 4 KB of properties against a 2 KB limit. */
  char big[4200];
  memcpy(big, "{\"blob\":\"", 9);
  memset(big + 9, 'x', 4096);
  memcpy(big + 9 + 4096, "\"}", 3);
  CHECK_STATUS(TERN_TOO_LARGE, c, tern_client_track(c, "e", big, NULL));

  /* Valid UTF-8 and escapes pass. */
  CHECK_OK(c,
           tern_client_track(c, "caf\xc3\xa9 \xf0\x9f\x9a\x80", "{\"q\":\"\\\"x\\\"\\n\"}", NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));

  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.enqueued == 1);
  CHECK(s.sent == 1);
  CHECK(s.dropped_by_reason[TERN_DROP_TOO_LARGE] == 1);
  /* Every rejected event above was counted as invalid (NULL handles and
   * malformed per-call options never reached a client). */
  CHECK(s.dropped_by_reason[TERN_DROP_INVALID] >= 14);
  CHECK(s.dropped == s.dropped_by_reason[TERN_DROP_INVALID] + 1);
  char* body = recorder_body(r, 0);
  CHECK(body != NULL && strstr(body, "caf\xc3\xa9 \xf0\x9f\x9a\x80") != NULL);
  free(body);

  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_consent_and_opt_out_gate_sending(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "consent", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_default_consent(o, TERN_CONSENT_UNKNOWN));
  /* Each event is on disk when track returns, so the purge below sees it (an
   * event still in the worker's hands can escape a purge; reported to the SDK). */
  CHECK_OK(NULL, tern_options_set_durability(o, TERN_DURABILITY_IMMEDIATE));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  tern_consent consent = TERN_CONSENT_DENIED;
  CHECK_OK(c, tern_client_consent(c, &consent));
  CHECK(consent == TERN_CONSENT_UNKNOWN);
  /* Unknown: stored, not sent. */
  CHECK_OK(c, tern_client_track(c, "buffered", NULL, NULL));
  CHECK_STATUS(TERN_DISABLED, c, tern_client_flush(c, 2000));
  CHECK(recorder_requests(r) == 0);
  /* Granted: the buffered event goes out. */
  CHECK_OK(c, tern_client_set_consent(c, TERN_CONSENT_GRANTED));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(recorder_count_bodies_with(r, "\"buffered\"") == 1);

  /* Opt-out: refused and counted; nothing uploaded. */
  CHECK_OK(c, tern_client_set_opt_out(c, 1));
  int opted = 0;
  CHECK_OK(c, tern_client_opted_out(c, &opted));
  CHECK(opted == 1);
  CHECK_STATUS(TERN_DISABLED, c, tern_client_track(c, "refused", NULL, NULL));
  CHECK_OK(c, tern_client_set_opt_out(c, 0));
  CHECK_OK(c, tern_client_opted_out(c, &opted));
  CHECK(opted == 0);

  /* Denied: purges what is queued and refuses new events. */
  CHECK_OK(c, tern_client_set_consent(c, TERN_CONSENT_UNKNOWN));
  CHECK_OK(c, tern_client_track(c, "purged", NULL, NULL));
  CHECK_OK(c, tern_client_set_consent(c, TERN_CONSENT_DENIED));
  CHECK_STATUS(TERN_DISABLED, c, tern_client_track(c, "denied", NULL, NULL));

  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.dropped_by_reason[TERN_DROP_OPT_OUT] == 1);
  CHECK(s.dropped_by_reason[TERN_DROP_CONSENT_DENIED] == 2);
  CHECK(s.queue_depth == 0);
  CHECK(recorder_count_bodies_with(r, "\"refused\"") == 0);
  CHECK(recorder_count_bodies_with(r, "\"purged\"") == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_custom_transport_503_then_200_delivers_the_event_once(const char* dir) {
  recorder* r = recorder_new();
  recorder_script(r, 503, 1); /* Retry-After: 1 ms */
  recorder_script(r, 200, -1);
  tern_options* o = test_options(dir, "retry", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  CHECK_OK(c, tern_client_track(c, "Retried", "{\"n\":1}", NULL));
  tern_status st = tern_client_flush(c, 5000);
  CHECK(st == TERN_OK || st == TERN_TRANSPORT);
  /* The worker retries on its own after the (millisecond) backoff. */
  CHECK(wait_for_sent(c, 1, 5000) == 1);
  CHECK(recorder_requests(r) == 2);

  /* Both attempts carried the same event (same messageId): it arrives once. */
  char* first = recorder_body(r, 0);
  char* second = recorder_body(r, 1);
  CHECK(first != NULL && second != NULL);
  const char* id1 = strstr(first, "\"messageId\":\"");
  const char* id2 = strstr(second, "\"messageId\":\"");
  CHECK(id1 != NULL && id2 != NULL);
  CHECK(strncmp(id1, id2, 13 + 36) == 0);
  CHECK(count_substr(second, "\"Retried\"") == 1);
  free(first);
  free(second);

  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.sent == 1);
  CHECK(s.attempts == 2);
  CHECK(s.retried == 1);
  CHECK(s.queue_depth == 0);
  CHECK(s.dropped == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_network_failure_then_success_is_retried(const char* dir) {
  recorder* r = recorder_new();
  recorder_script(r, 0, -1); /* no HTTP answer */
  recorder_script(r, 500, -1);
  recorder_script(r, 200, -1);
  tern_options* o = test_options(dir, "netfail", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_OK(c, tern_client_track(c, "Eventually", NULL, NULL));
  (void)tern_client_flush(c, 5000);
  CHECK(wait_for_sent(c, 1, 5000) == 1);
  CHECK(recorder_requests(r) == 3);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_a_400_drops_the_poison_event_and_counts_it(const char* dir) {
  recorder* r = recorder_new();
  recorder_script(r, 400, -1);
  tern_options* o = test_options(dir, "poison", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_OK(c, tern_client_track(c, "Poison", NULL, NULL));
  (void)tern_client_flush(c, 5000);
  int64_t deadline = now_ms() + 5000;
  tern_stats s;
  do {
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    CHECK_OK(c, tern_client_stats(c, &s));
    if (s.dropped_by_reason[TERN_DROP_SERVER_REJECTED] == 1) break;
    sleep_ms(2);
  } while (now_ms() < deadline);
  CHECK(s.dropped_by_reason[TERN_DROP_SERVER_REJECTED] == 1);
  CHECK(s.sent == 0);
  CHECK(s.queue_depth == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_several_clients_live_in_one_process(const char* dir) {
  enum { kClients = 3 };
  recorder* rs[kClients];
  tern_client* cs[kClients];
  for (int i = 0; i < kClients; ++i) {
    char name[32];
    snprintf(name, sizeof name, "multi%d", i);
    rs[i] = recorder_new();
    tern_options* o = test_options(dir, name, rs[i]);
    CHECK(o != NULL);
    cs[i] = NULL;
    CHECK_OK(NULL, tern_client_create(o, &cs[i]));
    tern_options_free(o);
  }
  for (int i = 0; i < kClients; ++i) {
    char event[48];
    snprintf(event, sizeof event, "from-client-%d", i);
    for (int k = 0; k <= i; ++k) CHECK_OK(cs[i], tern_client_track(cs[i], event, NULL, NULL));
  }
  for (int i = 0; i < kClients; ++i) CHECK_OK(cs[i], tern_client_flush(cs[i], 5000));
  for (int i = 0; i < kClients; ++i) {
    char event[48];
    snprintf(event, sizeof event, "\"from-client-%d\"", i);
    char* body = recorder_body(rs[i], 0);
    CHECK(body != NULL);
    CHECK(count_substr(body, event) == i + 1);
    CHECK(count_substr(body, "\"type\":\"track\"") == i + 1);
    free(body);
  }

  /* A second client on a database another client owns gets a clear error. */
  tern_options* o = test_options(dir, "multi0", NULL);
  CHECK(o != NULL);
  tern_client* dup = (tern_client*)0x1;
  CHECK_STATUS(TERN_LOCKED, NULL, tern_client_create(o, &dup));
  CHECK(dup == NULL);
  CHECK(strlen(tern_client_last_error(NULL)) > 0);
  tern_options_free(o);

  for (int i = 0; i < kClients; ++i) {
    tern_client_destroy(cs[i]);
    CHECK(recorder_freed(rs[i]) == 1);
    recorder_delete(rs[i]);
  }
  return 0;
}

static int test_one_options_object_serves_several_clients(const char* dir) {
  /* The same hook state is shared; it is freed once, after the last holder. */
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "shared-a", r);
  CHECK(o != NULL);
  tern_client* a = NULL;
  CHECK_OK(NULL, tern_client_create(o, &a));
  char path[512];
  snprintf(path, sizeof path, "%s/shared-b.db", dir);
  CHECK_OK(NULL, tern_options_set_storage_path(o, path));
  tern_client* b = NULL;
  CHECK_OK(NULL, tern_client_create(o, &b));
  tern_options_free(o);
  tern_client_destroy(a);
  CHECK(recorder_freed(r) == 0);
  CHECK_OK(b, tern_client_track(b, "still-works", NULL, NULL));
  CHECK_OK(b, tern_client_flush(b, 5000));
  CHECK(recorder_count_bodies_with(r, "still-works") == 1);
  tern_client_destroy(b);
  CHECK(recorder_freed(r) == 1);
  recorder_delete(r);
  return 0;
}

static int test_queue_survives_a_restart(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "restart", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_default_consent(o, TERN_CONSENT_UNKNOWN));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  CHECK_OK(c, tern_client_identify(c, "persisted-user", NULL, NULL));
  CHECK_OK(c, tern_client_track(c, "kept", NULL, NULL));
  CHECK_OK(c, tern_client_shutdown(c, 2000));
  tern_client_destroy(c);
  CHECK(recorder_requests(r) == 0);

  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  char user[64];
  CHECK_OK(c, tern_client_user_id(c, user, sizeof user, NULL));
  CHECK(strcmp(user, "persisted-user") == 0);
  CHECK_OK(c, tern_client_set_consent(c, TERN_CONSENT_GRANTED));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(recorder_count_bodies_with(r, "\"kept\"") == 1);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

static int test_stats_fill_only_what_an_older_struct_holds(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "stats", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_OK(c, tern_client_track(c, "one", NULL, NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));

  /* An "old" caller whose struct ends after `sent`: nothing beyond is written. */
  unsigned char buf[sizeof(tern_stats)];
  memset(buf, 0xAB, sizeof buf);
  tern_stats* s = (tern_stats*)buf;
  s->struct_size = (uint32_t)(offsetof(tern_stats, sent) + sizeof(uint64_t));
  CHECK_OK(c, tern_client_stats(c, s));
  CHECK(s->enqueued == 1 && s->sent == 1);
  for (size_t i = s->struct_size; i < sizeof buf; ++i) CHECK(buf[i] == 0xAB);
  CHECK(s->struct_size == offsetof(tern_stats, sent) + sizeof(uint64_t));

  tern_stats tiny;
  tiny.struct_size = 4;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_stats(c, &tiny));
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

/* Logger and context provider hooks. */
typedef struct log_state {
  pthread_mutex_t mu;
  int lines;
  int frees;
  int saw_rejection;
} log_state;

static void log_cb(void* state, tern_log_level level, const char* message, size_t length) {
  log_state* s = state;
  pthread_mutex_lock(&s->mu);
  s->lines++;
  if (level >= TERN_LOG_WARN && strlen(message) == length) s->saw_rejection = 1;
  pthread_mutex_unlock(&s->mu);
}
static void log_free(void* state) {
  log_state* s = state;
  pthread_mutex_lock(&s->mu);
  s->frees++;
  pthread_mutex_unlock(&s->mu);
}
typedef struct ctx_state {
  int calls;
  int frees;
} ctx_state;
static const char* ctx_json(void* state) {
  ctx_state* s = state;
  s->calls++;
  return "{\"app\":{\"name\":\"c-test-app\",\"version\":\"9.9\"},\"os\":{\"name\":\"TestOS\"}}";
}
static void ctx_free(void* state) { ((ctx_state*)state)->frees++; }

static int test_logger_and_context_provider_hooks_are_used_and_freed(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "hooks", r);
  CHECK(o != NULL);
  log_state ls;
  memset(&ls, 0, sizeof ls);
  pthread_mutex_init(&ls.mu, NULL);
  tern_logger logger = {TERN_LOGGER_VERSION, &ls, log_free, log_cb};
  CHECK_OK(NULL, tern_options_set_logger(o, &logger, TERN_LOG_DEBUG));
  ctx_state cs = {0, 0};
  tern_context_provider provider = {TERN_CONTEXT_PROVIDER_VERSION, &cs, ctx_free, ctx_json};
  CHECK_OK(NULL, tern_options_set_context_provider(o, &provider));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  CHECK_OK(c, tern_client_track(c, "with-context", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "bad", "{", NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  char* body = recorder_body(r, 0);
  CHECK(body != NULL);
  CHECK(strstr(body, "c-test-app") != NULL);
  CHECK(strstr(body, "TestOS") != NULL);
  free(body);
  CHECK(cs.calls >= 1);
  tern_client_destroy(c);
  CHECK(ls.lines > 0);
  CHECK(ls.frees == 1);
  CHECK(cs.frees == 1);
  pthread_mutex_destroy(&ls.mu);
  recorder_delete(r);
  return 0;
}

/* Plugins: one enriches every event, one drops "secret" events. */
static int enrich(void* state, const char* json, size_t length, tern_plugin_event* event) {
  (void)state;
  /* Insert a property at the front of the object: {"plugin":"c",...}. */
  char* out = malloc(length + 32);
  if (out == NULL) return 0;
  int n = snprintf(out, length + 32, "{\"plugin\":\"c\",%s", json + 1);
  int ok = tern_plugin_event_replace(event, out, (size_t)n) == TERN_OK;
  free(out);
  /* A replacement that is not an object is refused and leaves the event as is. */
  ok = ok && tern_plugin_event_replace(event, "[1]", 3) == TERN_INVALID_ARGUMENT;
  ok = ok && tern_plugin_event_replace(event, "{\"a\":", 5) == TERN_INVALID_ARGUMENT;
  return ok;
}
static int drop_secret(void* state, const char* json, size_t length, tern_plugin_event* event) {
  (void)event;
  ++*(int*)state;
  return strlen(json) == length && strstr(json, "\"event\":\"secret\"") == NULL;
}
static void count_free(void* state) { *(int*)state += 1000; }

static int test_plugins_enrich_and_drop_events_in_order(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "plugins", r);
  CHECK(o != NULL);
  tern_plugin p1 = {TERN_PLUGIN_VERSION, NULL, NULL, enrich};
  int calls = 0;
  tern_plugin p2 = {TERN_PLUGIN_VERSION, &calls, count_free, drop_secret};
  CHECK_OK(NULL, tern_options_add_plugin(o, &p1));
  CHECK_OK(NULL, tern_options_add_plugin(o, &p2));
  p2.process = NULL;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_options_add_plugin(o, &p2));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_plugin_event_replace(NULL, "{}", 2));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);

  CHECK_OK(c, tern_client_track(c, "public", "{\"x\":1}", NULL));
  CHECK_STATUS(TERN_DISABLED, c, tern_client_track(c, "secret", NULL, NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(calls == 2);
  CHECK(recorder_count_bodies_with(r, "\"plugin\":\"c\"") == 1);
  CHECK(recorder_count_bodies_with(r, "\"secret\"") == 0);
  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.sent == 1);
  CHECK(s.dropped_by_reason[TERN_DROP_PLUGIN] == 1);
  tern_client_destroy(c);
  CHECK(calls == 1002); /* free_state ran once */
  recorder_delete(r);
  return 0;
}

/* Last error is per client and per thread. */
typedef struct thread_arg {
  tern_client* client;
  int ok;
} thread_arg;
static void* other_thread(void* p) {
  thread_arg* a = p;
  /* This thread has made no failing call on the client: its error is empty. */
  a->ok = strcmp(tern_client_last_error(a->client), "") == 0;
  if (a->ok) {
    a->ok = tern_client_track(a->client, "", NULL, NULL) == TERN_INVALID_ARGUMENT &&
            strlen(tern_client_last_error(a->client)) > 0;
  }
  return NULL;
}

static int test_last_error_belongs_to_the_calling_thread(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "lasterr", r);
  CHECK(o != NULL);
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_track(c, "e", "not json", NULL));
  const char* mine = tern_client_last_error(c);
  CHECK(strlen(mine) > 0);
  char saved[512];
  snprintf(saved, sizeof saved, "%s", mine);
  thread_arg a = {c, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, other_thread, &a) == 0);
  pthread_join(t, NULL);
  CHECK(a.ok);
  CHECK(strcmp(tern_client_last_error(c), saved) == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

/* Concurrent tracking from several threads on one client. */
typedef struct tracker_arg {
  tern_client* client;
  int failures;
} tracker_arg;
static void* tracker(void* p) {
  tracker_arg* a = p;
  for (int i = 0; i < 200; ++i) {
    if (tern_client_track(a->client, "concurrent", "{\"i\":1}", NULL) != TERN_OK) a->failures++;
  }
  return NULL;
}

static int test_concurrent_tracking_from_four_threads_loses_nothing(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "threads", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_max_batch_events(o, 1000));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  pthread_t ts[4];
  tracker_arg args[4];
  for (int i = 0; i < 4; ++i) {
    args[i].client = c;
    args[i].failures = 0;
    CHECK(pthread_create(&ts[i], NULL, tracker, &args[i]) == 0);
  }
  for (int i = 0; i < 4; ++i) {
    pthread_join(ts[i], NULL);
    CHECK(args[i].failures == 0);
  }
  CHECK_OK(c, tern_client_flush(c, 10000));
  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(c, tern_client_stats(c, &s));
  CHECK(s.enqueued == 800);
  CHECK(s.sent == 800);
  int total = 0;
  for (int i = 0; i < recorder_requests(r); ++i) {
    char* b = recorder_body(r, i);
    total += count_substr(b, "\"concurrent\"");
    free(b);
  }
  CHECK(total == 800);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

/* Defined in collector_round_trip.c. */
int test_round_trip_to_the_local_test_collector(const char* dir);
/* lifecycle_test.c */
int test_launch_foreground_and_background_record_segments_lifecycle_events(const char* dir);
int test_a_relaunch_with_a_new_build_is_an_update_and_with_the_same_build_nothing(const char* dir);
int test_a_process_woken_in_the_background_starts_no_session(const char* dir);
int test_lifecycle_calls_check_their_arguments(const char* dir);
int test_flush_async_sends_the_queue_and_calls_back_once_on_the_worker(const char* dir);
int test_flush_async_times_out_while_the_server_fails_and_keeps_the_events(const char* dir);
int test_flush_async_without_consent_is_cancelled(const char* dir);
int test_flush_async_refused_never_calls_back(const char* dir);
int test_settings_are_fetched_with_a_get_through_the_host_transport(const char* dir);
int test_a_failed_settings_fetch_is_counted_and_capture_goes_on(const char* dir);
int test_stats_from_before_lifecycle_keep_their_size(const char* dir);

/* ------------------------------------------------------------------------ */

typedef struct test_case {
  const char* name;
  int (*fn)(const char* dir);
} test_case;

#define TEST_CASE(fn) \
  { #fn + 5, fn } /* drop the "test_" prefix */

static const test_case kTests[] = {
    TEST_CASE(test_version_and_names_are_static_text),
    TEST_CASE(test_every_option_setter_accepts_valid_values),
    TEST_CASE(test_option_setters_reject_bad_values_with_a_message),
    TEST_CASE(test_create_reports_missing_settings_and_null_pointers),
    TEST_CASE(test_destroy_null_is_a_no_op),
    TEST_CASE(test_lifecycle_create_track_flush_shutdown_destroy),
    TEST_CASE(test_every_event_call_reaches_the_server),
    TEST_CASE(test_bad_input_gets_the_right_status_and_is_counted),
    TEST_CASE(test_consent_and_opt_out_gate_sending),
    TEST_CASE(test_custom_transport_503_then_200_delivers_the_event_once),
    TEST_CASE(test_network_failure_then_success_is_retried),
    TEST_CASE(test_a_400_drops_the_poison_event_and_counts_it),
    TEST_CASE(test_several_clients_live_in_one_process),
    TEST_CASE(test_one_options_object_serves_several_clients),
    TEST_CASE(test_queue_survives_a_restart),
    TEST_CASE(test_stats_fill_only_what_an_older_struct_holds),
    TEST_CASE(test_logger_and_context_provider_hooks_are_used_and_freed),
    TEST_CASE(test_plugins_enrich_and_drop_events_in_order),
    TEST_CASE(test_last_error_belongs_to_the_calling_thread),
    TEST_CASE(test_concurrent_tracking_from_four_threads_loses_nothing),
    TEST_CASE(test_round_trip_to_the_local_test_collector),
    TEST_CASE(test_launch_foreground_and_background_record_segments_lifecycle_events),
    TEST_CASE(test_a_relaunch_with_a_new_build_is_an_update_and_with_the_same_build_nothing),
    TEST_CASE(test_a_process_woken_in_the_background_starts_no_session),
    TEST_CASE(test_lifecycle_calls_check_their_arguments),
    TEST_CASE(test_flush_async_sends_the_queue_and_calls_back_once_on_the_worker),
    TEST_CASE(test_flush_async_times_out_while_the_server_fails_and_keeps_the_events),
    TEST_CASE(test_flush_async_without_consent_is_cancelled),
    TEST_CASE(test_flush_async_refused_never_calls_back),
    TEST_CASE(test_settings_are_fetched_with_a_get_through_the_host_transport),
    TEST_CASE(test_a_failed_settings_fetch_is_counted_and_capture_goes_on),
    TEST_CASE(test_stats_from_before_lifecycle_keep_their_size),
};

static int run(const test_case* t) {
  char dir[512];
  if (make_temp_dir(dir, sizeof dir) != 0) {
    fprintf(stderr, "cannot create a temp dir\n");
    return 1;
  }
  int rc = t->fn(dir);
  remove_tree(dir);
  fprintf(stderr, "[%s] %s\n", rc == 0 ? "  OK  " : "FAILED", t->name);
  return rc;
}

int main(int argc, char** argv) {
  const size_t n = sizeof kTests / sizeof kTests[0];
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; ++i) printf("%s\n", kTests[i].name);
    return 0;
  }
  int failures = 0;
  int ran = 0;
  for (size_t i = 0; i < n; ++i) {
    if (argc > 1 && strcmp(argv[1], kTests[i].name) != 0) continue;
    ++ran;
    if (run(&kTests[i]) != 0) ++failures;
  }
  if (ran == 0) {
    fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
