/* Tests of the C API's application lifecycle, sessions, flush_async and the
 * settings fetch through a host transport (tern/tern.h), in C11. The cases
 * are listed in tern_c_test.c's table, which ctest reads. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"
#include "test_util.h"

/* Every body the recorder saw, joined (caller frees). */
static char* all_bodies(recorder* r) {
  int n = recorder_requests(r);
  size_t total = 1;
  for (int i = 0; i < n; ++i) {
    char* b = recorder_body(r, i);
    if (b != NULL) total += strlen(b);
    free(b);
  }
  char* all = calloc(1, total);
  if (all == NULL) abort();
  for (int i = 0; i < n; ++i) {
    char* b = recorder_body(r, i);
    if (b != NULL) strcat(all, b);
    free(b);
  }
  return all;
}

static tern_stats stats_of(tern_client* c) {
  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  if (tern_client_stats(c, &s) != TERN_OK) abort();
  return s;
}

/* A test client over `r` that does not fetch settings (unless a test turns
 * it back on). */
static tern_client* lifecycle_client(const char* dir, const char* name, recorder* r,
                                     int fetch_settings) {
  tern_options* o = test_options(dir, name, r);
  if (o == NULL) return NULL;
  tern_client* c = NULL;
  if (tern_options_set_fetch_settings(o, fetch_settings) != TERN_OK ||
      tern_client_create(o, &c) != TERN_OK) {
    c = NULL;
  }
  tern_options_free(o);
  return c;
}

/* The text of the JSON object (event) in `body` that contains `needle`:
 * from the '{' that opens the event to its matching '}' (events are flat
 * enough: strings in these tests hold no braces). Caller frees. */
static char* event_with(const char* body, const char* needle) {
  const char* hit = body != NULL ? strstr(body, needle) : NULL;
  if (hit == NULL) return NULL;
  /* Walk back to the event's opening brace: the '{' at depth 0 relative
   * to the batch array, i.e. just after "[" or "},". */
  const char* start = hit;
  int depth = 0;
  while (start > body) {
    --start;
    if (*start == '}') ++depth;
    if (*start == '{') {
      if (depth == 0 && (start[-1] == '[' || start[-1] == ',')) break;
      if (depth > 0) --depth;
    }
  }
  const char* end = start;
  depth = 0;
  do {
    if (*end == '{') ++depth;
    if (*end == '}') --depth;
    ++end;
  } while (*end != '\0' && depth > 0);
  size_t n = (size_t)(end - start);
  char* out = malloc(n + 1);
  if (out == NULL) abort();
  memcpy(out, start, n);
  out[n] = '\0';
  return out;
}

int test_launch_foreground_and_background_record_segments_lifecycle_events(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "lifecycle", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.2.0", "120", "myapp://promo", "com.example.mail"));
  CHECK_OK(c, tern_client_app_foreground(c));
  CHECK_OK(c, tern_client_app_foreground(c)); /* idempotent in the foreground */
  CHECK_OK(c, tern_client_track(c, "Song Played", NULL, NULL));
  CHECK_OK(c, tern_client_app_background(c));
  CHECK_OK(c, tern_client_app_background(c)); /* idempotent in the background */
  CHECK_OK(c, tern_client_flush(c, 5000));

  char* all = all_bodies(r);
  CHECK(count_substr(all, "\"Application Installed\"") == 1);
  CHECK(count_substr(all, "\"Application Updated\"") == 0);
  CHECK(count_substr(all, "\"Application Opened\"") == 1);
  CHECK(count_substr(all, "\"Application Backgrounded\"") == 1);
  CHECK(count_substr(all, "\"Song Played\"") == 1);
  char* installed = event_with(all, "\"Application Installed\"");
  CHECK(installed != NULL);
  CHECK(strstr(installed, "\"version\":\"1.2.0\"") != NULL);
  CHECK(strstr(installed, "\"build\":\"120\"") != NULL);
  free(installed);
  char* opened = event_with(all, "\"Application Opened\"");
  CHECK(opened != NULL);
  CHECK(strstr(opened, "\"from_background\":false") != NULL);
  CHECK(strstr(opened, "\"url\":\"myapp://promo\"") != NULL);
  CHECK(strstr(opened, "\"referring_application\":\"com.example.mail\"") != NULL);
  CHECK(strstr(opened, "\"sessionStart\":true") != NULL);

  /* Opened started the session; the tracked event is in it. */
  int64_t session = 0;
  CHECK_OK(c, tern_client_session_id(c, &session));
  CHECK(session > 0);
  char needle[64];
  snprintf(needle, sizeof needle, "\"sessionId\":%lld", (long long)session);
  CHECK(strstr(opened, needle) != NULL);
  free(opened);
  char* played = event_with(all, "\"Song Played\"");
  CHECK(played != NULL);
  CHECK(strstr(played, needle) != NULL);
  CHECK(strstr(played, "\"sessionStart\"") == NULL);
  free(played);
  CHECK(count_substr(all, "\"sessionStart\":true") == 1);
  free(all);

  tern_stats s = stats_of(c);
  CHECK(s.lifecycle_events == 3);
  CHECK(s.sessions_started == 1);
  CHECK(r->on_caller_thread == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

int test_a_relaunch_with_a_new_build_is_an_update_and_with_the_same_build_nothing(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "upgrade", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.0", "100", NULL, NULL));
  CHECK_OK(c, tern_client_app_launched(c, "9.9", "999", NULL, NULL)); /* once per process */
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  tern_client_destroy(c);

  c = lifecycle_client(dir, "upgrade", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.1", "101", NULL, NULL));
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  tern_client_destroy(c);

  c = lifecycle_client(dir, "upgrade", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.1", "101", NULL, NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  tern_stats s = stats_of(c);
  CHECK(s.lifecycle_events == 0);

  char* all = all_bodies(r);
  CHECK(count_substr(all, "\"Application Installed\"") == 1);
  CHECK(count_substr(all, "\"Application Updated\"") == 1);
  CHECK(count_substr(all, "\"999\"") == 0);
  char* updated = event_with(all, "\"Application Updated\"");
  CHECK(updated != NULL);
  CHECK(strstr(updated, "\"version\":\"1.1\"") != NULL);
  CHECK(strstr(updated, "\"build\":\"101\"") != NULL);
  CHECK(strstr(updated, "\"previous_version\":\"1.0\"") != NULL);
  CHECK(strstr(updated, "\"previous_build\":\"100\"") != NULL);
  free(updated);
  free(all);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

int test_a_process_woken_in_the_background_starts_no_session(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "wake", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.0", "1", NULL, NULL));
  CHECK_OK(c, tern_client_track(c, "Push Received", NULL, NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  int64_t session = -1;
  CHECK_OK(c, tern_client_session_id(c, &session));
  CHECK(session == 0);
  char* all = all_bodies(r);
  char* push = event_with(all, "\"Push Received\"");
  CHECK(push != NULL);
  CHECK(strstr(push, "\"sessionId\"") == NULL);
  free(push);
  CHECK(count_substr(all, "\"Application Opened\"") == 0);
  free(all);
  CHECK(stats_of(c).sessions_started == 0);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

int test_lifecycle_calls_check_their_arguments(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "args", r, 0);
  CHECK(c != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_app_launched(NULL, "1", "1", NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_app_launched(c, NULL, "1", NULL, NULL));
  CHECK(strstr(tern_client_last_error(c), "version") != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_app_launched(c, "1", NULL, NULL, NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_app_launched(c, "1", "1", "bad\xff", NULL));
  CHECK(strstr(tern_client_last_error(c), "UTF-8") != NULL);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_app_foreground(NULL));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_app_background(NULL));
  int64_t session = 0;
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_session_id(NULL, &session));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_session_id(c, NULL));
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  CHECK_STATUS(TERN_SHUTDOWN, c, tern_client_app_launched(c, "1", "1", NULL, NULL));
  CHECK_STATUS(TERN_SHUTDOWN, c, tern_client_app_foreground(c));
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

/* --- flush_async ---------------------------------------------------------- */

typedef struct flush_waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  tern_flush_result result;
  pthread_t caller;
  int on_caller_thread;
} flush_waiter;

static void flush_waiter_init(flush_waiter* w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->caller = pthread_self();
}

static void flush_waiter_destroy(flush_waiter* w) {
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static void on_flushed(tern_flush_result result, void* user_data) {
  flush_waiter* w = user_data;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->result = result;
  if (pthread_equal(pthread_self(), w->caller)) w->on_caller_thread = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Waits (bounded) for the first callback; returns the number of calls. */
static int flush_waiter_wait(flush_waiter* w, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  pthread_mutex_lock(&w->mu);
  while (w->calls == 0 && now_ms() < deadline) {
    pthread_mutex_unlock(&w->mu);
    sleep_ms(2);
    pthread_mutex_lock(&w->mu);
  }
  int calls = w->calls;
  pthread_mutex_unlock(&w->mu);
  return calls;
}

static int flush_waiter_calls(flush_waiter* w) {
  pthread_mutex_lock(&w->mu);
  int calls = w->calls;
  pthread_mutex_unlock(&w->mu);
  return calls;
}

int test_flush_async_sends_the_queue_and_calls_back_once_on_the_worker(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "async", r, 0);
  CHECK(c != NULL);
  for (int i = 0; i < 3; ++i)
    CHECK_OK(c, tern_client_track(c, "Queued Before Background", NULL, NULL));
  flush_waiter w;
  flush_waiter_init(&w);
  CHECK_OK(c, tern_client_flush_async(c, 10000, on_flushed, &w));
  CHECK(flush_waiter_wait(&w, 15000) == 1);
  CHECK(w.result == TERN_FLUSH_SENT);
  CHECK(w.on_caller_thread == 0);
  char* all = all_bodies(r);
  CHECK(count_substr(all, "\"Queued Before Background\"") == 3);
  free(all);
  tern_stats s = stats_of(c);
  CHECK(s.sent == 3);
  CHECK(s.background_flushes_sent == 1);
  /* Shutdown joins the worker: a second call would have happened by now. */
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  CHECK(flush_waiter_calls(&w) == 1);
  tern_client_destroy(c);
  flush_waiter_destroy(&w);
  recorder_delete(r);
  return 0;
}

int test_flush_async_times_out_while_the_server_fails_and_keeps_the_events(const char* dir) {
  recorder* r = recorder_new();
  recorder_script(r, 503, -1);
  /* Slow retries and no attempt budget: the event stays queued until the
   * deadline (a budget spent within it would drop the event, and a flush
   * with nothing left to send is SENT). */
  tern_options* o = test_options(dir, "async_timeout", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_fetch_settings(o, 0));
  CHECK_OK(NULL, tern_options_set_backoff_base_ms(o, 50));
  CHECK_OK(NULL, tern_options_set_backoff_max_ms(o, 100));
  CHECK_OK(NULL, tern_options_set_max_attempts(o, 1000000));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_OK(c, tern_client_track(c, "Stuck", NULL, NULL));
  flush_waiter w;
  flush_waiter_init(&w);
  CHECK_OK(c, tern_client_flush_async(c, 200, on_flushed, &w));
  CHECK(flush_waiter_wait(&w, 15000) == 1);
  CHECK(w.result == TERN_FLUSH_TIMED_OUT);
  tern_stats s = stats_of(c);
  CHECK(s.background_flushes_timed_out == 1);
  CHECK(s.sent == 0);
  CHECK(s.dropped == 0);
  CHECK(s.queue_depth == 1);
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  CHECK(flush_waiter_calls(&w) == 1);
  tern_client_destroy(c);
  flush_waiter_destroy(&w);
  recorder_delete(r);
  return 0;
}

int test_flush_async_without_consent_is_cancelled(const char* dir) {
  recorder* r = recorder_new();
  tern_options* o = test_options(dir, "async_consent", r);
  CHECK(o != NULL);
  CHECK_OK(NULL, tern_options_set_default_consent(o, TERN_CONSENT_UNKNOWN));
  tern_client* c = NULL;
  CHECK_OK(NULL, tern_client_create(o, &c));
  tern_options_free(o);
  CHECK_OK(c, tern_client_track(c, "Waiting For Consent", NULL, NULL));
  flush_waiter w;
  flush_waiter_init(&w);
  CHECK_OK(c, tern_client_flush_async(c, 10000, on_flushed, &w));
  CHECK(flush_waiter_wait(&w, 15000) == 1);
  CHECK(w.result == TERN_FLUSH_CANCELLED);
  CHECK(stats_of(c).background_flushes_cancelled == 1);
  CHECK(recorder_count_method(r, "POST") == 0);
  tern_client_destroy(c);
  CHECK(flush_waiter_calls(&w) == 1);
  flush_waiter_destroy(&w);
  recorder_delete(r);
  return 0;
}

int test_flush_async_refused_never_calls_back(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "async_refused", r, 0);
  CHECK(c != NULL);
  flush_waiter w;
  flush_waiter_init(&w);
  CHECK_STATUS(TERN_INVALID_ARGUMENT, NULL, tern_client_flush_async(NULL, 10, on_flushed, &w));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_flush_async(c, 10, NULL, &w));
  CHECK_STATUS(TERN_INVALID_ARGUMENT, c, tern_client_flush_async(c, -1, on_flushed, &w));
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  CHECK_STATUS(TERN_SHUTDOWN, c, tern_client_flush_async(c, 10, on_flushed, &w));
  tern_client_destroy(c); /* every thread of the client is gone */
  CHECK(flush_waiter_calls(&w) == 0);
  flush_waiter_destroy(&w);
  recorder_delete(r);
  return 0;
}

/* --- settings through a host transport ------------------------------------ */

static const char kSettings[] =
    "{\"integrations\":{\"Segment.io\":{\"apiKey\":\"wk\",\"apiHost\":\"relay.test/v1\"}},"
    "\"plan\":{\"track\":{\"__default\":{\"enabled\":true}}},"
    "\"tern\":{\"enabled\":false,\"sampleRate\":1,\"flushAt\":20,\"flushIntervalMs\":30000,"
    "\"sessionTimeoutMs\":300000,\"ttlSeconds\":86400}}";

static int wait_for_settings_answer(tern_client* c, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    tern_stats s = stats_of(c);
    if (s.settings_fetched + s.settings_not_modified + s.settings_failed > 0) return 1;
    if (now_ms() >= deadline) return 0;
    sleep_ms(2);
  }
}

int test_settings_are_fetched_with_a_get_through_the_host_transport(const char* dir) {
  recorder* r = recorder_new();
  recorder_settings(r, 200, kSettings, "\"v1\"");
  tern_client* c = lifecycle_client(dir, "settings", r, 1);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.0", "1", NULL, NULL));
  CHECK(wait_for_settings_answer(c, 15000));
  tern_stats s = stats_of(c);
  CHECK(s.settings_fetched == 1);
  CHECK(recorder_count_method(r, "GET") == 1);
  int get = -1;
  for (int i = 0; i < recorder_requests(r); ++i) {
    if (strcmp(r->methods[i], "GET") == 0) get = i;
  }
  CHECK(get >= 0);
  CHECK(strstr(r->urls[get], "/v1/projects/wk/settings") != NULL);
  CHECK(strcmp(r->write_keys[get], "wk") == 0);
  CHECK(r->if_none_match[get][0] == '\0'); /* nothing cached yet */
  /* The body arrived: its kill switch holds new events (kept, not sent). */
  CHECK_OK(c, tern_client_track(c, "Held By The Kill Switch", NULL, NULL));
  int64_t deadline = now_ms() + 15000;
  while (stats_of(c).kill_switch_refused == 0 && now_ms() < deadline) sleep_ms(2);
  CHECK(stats_of(c).kill_switch_refused == 1);
  /* Shutdown commits whatever was pending: only the launch's event is stored. */
  CHECK_OK(c, tern_client_shutdown(c, 5000));
  s = stats_of(c);
  CHECK(s.lifecycle_events == 1);
  CHECK(s.stored == 1);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

int test_a_failed_settings_fetch_is_counted_and_capture_goes_on(const char* dir) {
  recorder* r = recorder_new();
  recorder_settings(r, 500, "oops", NULL);
  tern_client* c = lifecycle_client(dir, "settings_500", r, 1);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.0", "1", NULL, NULL));
  CHECK(wait_for_settings_answer(c, 15000));
  CHECK(stats_of(c).settings_failed == 1);
  CHECK_OK(c, tern_client_track(c, "Still Captured", NULL, NULL));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(recorder_count_bodies_with(r, "\"Still Captured\"") == 1);
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}

/* --- stats ------------------------------------------------------------------ */

int test_stats_from_before_lifecycle_keep_their_size(const char* dir) {
  recorder* r = recorder_new();
  tern_client* c = lifecycle_client(dir, "stats_v1", r, 0);
  CHECK(c != NULL);
  CHECK_OK(c, tern_client_app_launched(c, "1.0", "1", NULL, NULL));
  CHECK_OK(c, tern_client_app_foreground(c));
  CHECK_OK(c, tern_client_flush(c, 5000));
  CHECK(stats_of(c).lifecycle_events == 2);

  /* A caller compiled before the lifecycle fields: its struct ends at
   * dropped_by_reason, and nothing beyond it is written. */
  unsigned char buf[sizeof(tern_stats)];
  memset(buf, 0xAB, sizeof buf);
  tern_stats* s = (tern_stats*)buf;
  s->struct_size = (uint32_t)offsetof(tern_stats, lifecycle_events);
  CHECK_OK(c, tern_client_stats(c, s));
  CHECK(s->sent == 2);
  for (size_t i = offsetof(tern_stats, lifecycle_events); i < sizeof buf; ++i) {
    CHECK(buf[i] == 0xAB);
  }
  tern_client_destroy(c);
  recorder_delete(r);
  return 0;
}
