#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int make_temp_dir(char* out, size_t capacity) {
  const char* base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0') base = "/tmp";
  int n = snprintf(out, capacity, "%s/tern-c-test-XXXXXX", base);
  if (n < 0 || (size_t)n >= capacity) return -1;
  return mkdtemp(out) != NULL ? 0 : -1;
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void remove_tree(const char* path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int64_t ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)((ms % 1000) * 1000000);
  nanosleep(&ts, NULL);
}

recorder* recorder_new(void) {
  recorder* r = calloc(1, sizeof *r);
  if (r == NULL) abort();
  pthread_mutex_init(&r->mu, NULL);
  r->creator = pthread_self();
  return r;
}

void recorder_script(recorder* r, int status, int64_t retry_after_ms) {
  pthread_mutex_lock(&r->mu);
  if (r->script_length < RECORDER_MAX_SCRIPT) {
    r->statuses[r->script_length] = status;
    r->retry_after_ms[r->script_length] = retry_after_ms;
    r->script_length++;
  }
  pthread_mutex_unlock(&r->mu);
}

void recorder_settings(recorder* r, int status, const char* body, const char* etag) {
  pthread_mutex_lock(&r->mu);
  r->settings_status = status;
  snprintf(r->settings_body, sizeof r->settings_body, "%s", body != NULL ? body : "");
  snprintf(r->settings_etag, sizeof r->settings_etag, "%s", etag != NULL ? etag : "");
  pthread_mutex_unlock(&r->mu);
}

int recorder_count_method(recorder* r, const char* method) {
  int n = 0;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->requests && i < RECORDER_MAX_REQUESTS; ++i) {
    if (strcmp(r->methods[i], method) == 0) ++n;
  }
  pthread_mutex_unlock(&r->mu);
  return n;
}

int recorder_requests(recorder* r) {
  pthread_mutex_lock(&r->mu);
  int n = r->requests;
  pthread_mutex_unlock(&r->mu);
  return n;
}

char* recorder_body(recorder* r, int i) {
  char* copy = NULL;
  pthread_mutex_lock(&r->mu);
  if (i >= 0 && i < r->requests && i < RECORDER_MAX_REQUESTS && r->bodies[i] != NULL) {
    copy = strdup(r->bodies[i]);
  }
  pthread_mutex_unlock(&r->mu);
  return copy;
}

int recorder_count_bodies_with(recorder* r, const char* needle) {
  int n = 0;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->requests && i < RECORDER_MAX_REQUESTS; ++i) {
    if (r->bodies[i] != NULL && strstr(r->bodies[i], needle) != NULL) ++n;
  }
  pthread_mutex_unlock(&r->mu);
  return n;
}

int recorder_freed(recorder* r) {
  pthread_mutex_lock(&r->mu);
  int f = r->freed;
  pthread_mutex_unlock(&r->mu);
  return f;
}

void recorder_delete(recorder* r) {
  if (r == NULL) return;
  for (int i = 0; i < RECORDER_MAX_REQUESTS; ++i) free(r->bodies[i]);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static void recorder_send(void* state, const tern_http_request* request,
                          tern_http_response* response) {
  recorder* r = state;
  /* method and if_none_match were appended to the struct: read them only
   * when the library's struct has them (a binary built against an older
   * header would do the same with a newer library). */
  const int has_method =
      request->struct_size >= offsetof(tern_http_request, method) + sizeof request->method;
  const int has_if_none_match = request->struct_size >= offsetof(tern_http_request, if_none_match) +
                                                            sizeof request->if_none_match;
  const char* method = has_method && request->method != NULL ? request->method : "POST";
  const char* if_none_match =
      has_if_none_match && request->if_none_match != NULL ? request->if_none_match : "";
  const int is_get = strcmp(method, "GET") == 0;
  pthread_mutex_lock(&r->mu);
  int i = r->requests++;
  int post = is_get ? -1 : r->posts++;
  if (pthread_equal(pthread_self(), r->creator)) r->on_caller_thread = 1;
  if (i < RECORDER_MAX_REQUESTS) {
    snprintf(r->methods[i], sizeof r->methods[i], "%s", method);
    snprintf(r->if_none_match[i], sizeof r->if_none_match[i], "%s", if_none_match);
    char* body = malloc(request->body_length + 1);
    if (body == NULL) abort();
    if (request->body_length > 0) memcpy(body, request->body, request->body_length);
    body[request->body_length] = '\0';
    r->bodies[i] = body;
    snprintf(r->write_keys[i], sizeof r->write_keys[i], "%s", request->write_key);
    snprintf(r->urls[i], sizeof r->urls[i], "%s", request->url);
    r->gzip[i] = request->gzip;
  }
  if (is_get) {
    int status = r->settings_status != 0 ? r->settings_status : 404;
    char body[sizeof r->settings_body];
    char etag[sizeof r->settings_etag];
    snprintf(body, sizeof body, "%s", r->settings_body);
    snprintf(etag, sizeof etag, "%s", r->settings_etag);
    pthread_mutex_unlock(&r->mu);
    tern_http_response_set_status(response, status);
    tern_http_response_set_body(response, body, strlen(body));
    if (etag[0] != '\0') tern_http_response_set_etag(response, etag);
    return;
  }
  int status = 200;
  int64_t retry_after = -1;
  if (r->script_length > 0) {
    int k = post < r->script_length ? post : r->script_length - 1;
    status = r->statuses[k];
    retry_after = r->retry_after_ms[k];
  }
  pthread_mutex_unlock(&r->mu);
  if (status == 0) {
    tern_http_response_set_error(response, "scripted connection failure");
  } else {
    tern_http_response_set_status(response, status);
    if (status == 200) tern_http_response_set_body(response, "{}", 2);
  }
  if (retry_after >= 0) tern_http_response_set_retry_after_ms(response, retry_after);
}

static void recorder_free_state(void* state) {
  recorder* r = state;
  pthread_mutex_lock(&r->mu);
  r->freed++;
  pthread_mutex_unlock(&r->mu);
}

tern_transport recorder_transport(recorder* r) {
  tern_transport t;
  memset(&t, 0, sizeof t);
  t.version = TERN_TRANSPORT_VERSION;
  t.state = r;
  t.free_state = recorder_free_state;
  t.send = recorder_send;
  return t;
}

int count_substr(const char* haystack, const char* needle) {
  int n = 0;
  size_t len = strlen(needle);
  if (haystack == NULL || len == 0) return 0;
  for (const char* p = strstr(haystack, needle); p != NULL; p = strstr(p + len, needle)) ++n;
  return n;
}

tern_options* test_options(const char* dir, const char* name, recorder* r) {
  tern_options* o = tern_options_new();
  if (o == NULL) return NULL;
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  if (tern_options_set_write_key(o, "wk") != TERN_OK ||
      tern_options_set_storage_path(o, path) != TERN_OK || tern_options_set_gzip(o, 0) != TERN_OK ||
      tern_options_set_flush_at(o, 1000) != TERN_OK ||
      tern_options_set_flush_interval_ms(o, 60000) != TERN_OK ||
      tern_options_set_backoff_base_ms(o, 1) != TERN_OK ||
      tern_options_set_backoff_max_ms(o, 5) != TERN_OK ||
      tern_options_set_commit_window_ms(o, 1) != TERN_OK) {
    tern_options_free(o);
    return NULL;
  }
  if (r != NULL) {
    tern_transport t = recorder_transport(r);
    if (tern_options_set_transport(o, &t) != TERN_OK) {
      tern_options_free(o);
      return NULL;
    }
  }
  return o;
}

uint64_t wait_for_sent(tern_client* client, uint64_t sent, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  tern_stats s;
  for (;;) {
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    if (tern_client_stats(client, &s) != TERN_OK) return 0;
    if (s.sent >= sent || now_ms() >= deadline) return s.sent;
    sleep_ms(2);
  }
}
