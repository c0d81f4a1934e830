/* tern-lifecycle-app: one run of a mobile app's life through the C API, for
 * the end-to-end test (lifecycle_e2e_test.cc), which runs it twice against a
 * real tern-relay: a launch with one build, then a relaunch with a new one.
 *
 *   tern-lifecycle-app --endpoint URL --write-key KEY --db PATH --version V --build B
 *
 * Each run: tern_client_app_launched (with a deep link and a referrer),
 * tern_client_app_foreground, one track ("E2E Tracked" {"build": B}),
 * tern_client_app_background, then tern_client_flush_async as an app going
 * to the background would, waiting for its callback. Prints
 * "session <id>" (the session the tracked event is in) and
 * "flush <sent|timed_out|cancelled>", and exits 0 when the flush sent
 * everything. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/tern.h"

typedef struct flush_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  tern_flush_result result;
} flush_wait;

static void on_flushed(tern_flush_result result, void* user_data) {
  flush_wait* w = user_data;
  pthread_mutex_lock(&w->mu);
  w->done = 1;
  w->result = result;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static int fail(tern_client* client, const char* what, tern_status status) {
  fprintf(stderr, "tern-lifecycle-app: %s: %s (%s)\n", what, tern_status_str(status),
          tern_client_last_error(client));
  return 1;
}

static const char* arg(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return NULL;
}

int main(int argc, char** argv) {
  const char* endpoint = arg(argc, argv, "--endpoint");
  const char* write_key = arg(argc, argv, "--write-key");
  const char* db = arg(argc, argv, "--db");
  const char* version = arg(argc, argv, "--version");
  const char* build = arg(argc, argv, "--build");
  if (endpoint == NULL || write_key == NULL || db == NULL || version == NULL || build == NULL) {
    fprintf(stderr,
            "usage: tern-lifecycle-app --endpoint URL --write-key KEY --db PATH --version V "
            "--build B\n");
    return 2;
  }

  tern_options* options = tern_options_new();
  if (options == NULL) return 1;
  tern_status st;
  if ((st = tern_options_set_endpoint(options, endpoint)) != TERN_OK ||
      (st = tern_options_set_write_key(options, write_key)) != TERN_OK ||
      (st = tern_options_set_storage_path(options, db)) != TERN_OK ||
      (st = tern_options_set_backoff_base_ms(options, 20)) != TERN_OK ||
      (st = tern_options_set_backoff_max_ms(options, 200)) != TERN_OK) {
    tern_options_free(options);
    return fail(NULL, "options", st);
  }
  tern_client* client = NULL;
  st = tern_client_create(options, &client);
  tern_options_free(options);
  if (st != TERN_OK) return fail(NULL, "create", st);

  /* The app starts (the OS launched it from a link in another app), comes to
   * the foreground, is used, and goes to the background. */
  if ((st = tern_client_app_launched(client, version, build, "myapp://e2e/welcome",
                                     "com.example.mail")) != TERN_OK) {
    return fail(client, "app_launched", st);
  }
  if ((st = tern_client_app_foreground(client)) != TERN_OK) {
    return fail(client, "app_foreground", st);
  }
  char properties[128];
  snprintf(properties, sizeof properties, "{\"build\":\"%s\"}", build);
  if ((st = tern_client_track(client, "E2E Tracked", properties, NULL)) != TERN_OK) {
    return fail(client, "track", st);
  }
  int64_t session = 0;
  if ((st = tern_client_session_id(client, &session)) != TERN_OK) {
    return fail(client, "session_id", st);
  }
  if ((st = tern_client_app_background(client)) != TERN_OK) {
    return fail(client, "app_background", st);
  }

  flush_wait w;
  memset(&w, 0, sizeof w);
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  if ((st = tern_client_flush_async(client, 20000, on_flushed, &w)) != TERN_OK) {
    return fail(client, "flush_async", st);
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30;
  pthread_mutex_lock(&w.mu);
  int rc = 0;
  while (!w.done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w.cv, &w.mu, &until);
  const int done = w.done;
  const tern_flush_result result = w.result;
  pthread_mutex_unlock(&w.mu);

  tern_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  (void)tern_client_stats(client, &stats);
  printf("session %lld\n", (long long)session);
  printf("flush %s\n", !done                            ? "no_callback"
                       : result == TERN_FLUSH_SENT      ? "sent"
                       : result == TERN_FLUSH_TIMED_OUT ? "timed_out"
                                                        : "cancelled");
  printf(
      "stats lifecycle_events=%llu sessions_started=%llu sent=%llu settings_fetched=%llu "
      "settings_failed=%llu\n",
      (unsigned long long)stats.lifecycle_events, (unsigned long long)stats.sessions_started,
      (unsigned long long)stats.sent, (unsigned long long)stats.settings_fetched,
      (unsigned long long)stats.settings_failed);
  fflush(stdout);

  /* The process exits (the shutdown's callbacks have all run by then). */
  (void)tern_client_shutdown(client, 5000);
  tern_client_destroy(client);
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return done && result == TERN_FLUSH_SENT ? 0 : 1;
}
