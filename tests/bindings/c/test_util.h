/* Small helpers for the C API tests (plain C11 + POSIX): checks that report
 * the status name and the client's last error, temp dirs, and a scripted
 * host transport that records every request it is asked to send. */
#ifndef TERN_TESTS_BINDINGS_C_TEST_UTIL_H_
#define TERN_TESTS_BINDINGS_C_TEST_UTIL_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/tern.h"

/* Fails the current test (returns 1 from it) when `cond` is false. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                                \
    }                                                                          \
  } while (0)

/* Fails the current test unless `expr` returns `expected`; prints both
 * statuses and the last error of `client` (may be NULL). */
#define CHECK_STATUS(expected, client, expr)                                                 \
  do {                                                                                       \
    tern_status check_status_got_ = (expr);                                                  \
    if (check_status_got_ != (expected)) {                                                   \
      fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s; last error: %s\n", __FILE__, \
              __LINE__, #expr, tern_status_str(check_status_got_), (int)check_status_got_,   \
              tern_status_str(expected), tern_client_last_error(client));                    \
      return 1;                                                                              \
    }                                                                                        \
  } while (0)

#define CHECK_OK(client, expr) CHECK_STATUS(TERN_OK, client, expr)

/* A fresh directory under $TMPDIR (or /tmp), into `out` (capacity >= 256).
 * Returns 0 on success. */
int make_temp_dir(char* out, size_t capacity);
/* Removes a directory tree made by make_temp_dir. */
void remove_tree(const char* path);

/* Monotonic milliseconds. */
int64_t now_ms(void);
void sleep_ms(int64_t ms);

/* A scripted transport: answers the i-th POST (batch) with statuses[i] (the
 * last entry repeats; 200 when the script is empty) and every GET (the
 * settings fetch) with the settings answer (recorder_settings; 404 until one
 * is set), and keeps a copy of every request. Thread-safe: send() runs on the
 * worker thread while the test reads from the main thread. */
#define RECORDER_MAX_REQUESTS 64
#define RECORDER_MAX_SCRIPT 16
typedef struct recorder {
  pthread_mutex_t mu;
  int statuses[RECORDER_MAX_SCRIPT];
  int64_t retry_after_ms[RECORDER_MAX_SCRIPT]; /* -1: none */
  int script_length;
  int requests;                        /* requests seen */
  char* bodies[RECORDER_MAX_REQUESTS]; /* NUL-terminated copies */
  char write_keys[RECORDER_MAX_REQUESTS][64];
  char urls[RECORDER_MAX_REQUESTS][256];
  int gzip[RECORDER_MAX_REQUESTS];
  char methods[RECORDER_MAX_REQUESTS][8];
  char if_none_match[RECORDER_MAX_REQUESTS][64]; /* "" when none was sent */
  int posts;                                     /* POST requests seen (indexes the script) */
  int settings_status;                           /* the answer to GETs */
  char settings_body[2048];
  char settings_etag[64]; /* "" sends none */
  int on_caller_thread;   /* set when send() ran on the thread that created it */
  pthread_t creator;
  int freed; /* set by free_state */
} recorder;

/* A heap-allocated recorder (free_state does not free it, so the test can
 * check `freed` after the client is gone; call recorder_delete then). */
recorder* recorder_new(void);
void recorder_script(recorder* r, int status, int64_t retry_after_ms);
/* What GETs are answered with from now on: `status`, `body` and `etag`
 * (NULL: none). */
void recorder_settings(recorder* r, int status, const char* body, const char* etag);
int recorder_requests(recorder* r);
/* Requests whose method is `method` ("GET" or "POST"). */
int recorder_count_method(recorder* r, const char* method);
/* Copy of body `i` (caller frees), or NULL. */
char* recorder_body(recorder* r, int i);
/* Number of requests whose body contains `needle`. */
int recorder_count_bodies_with(recorder* r, const char* needle);
int recorder_freed(recorder* r);
void recorder_delete(recorder* r);
/* A tern_transport vtable over `r`. */
tern_transport recorder_transport(recorder* r);

/* Counts occurrences of `needle` in `haystack`. */
int count_substr(const char* haystack, const char* needle);

/* Options for a test client: write key "wk", storage at <dir>/<name>.db,
 * recorder transport (when r is not NULL), no gzip, flush_at 1000 and a long
 * flush interval (tests flush explicitly), 1-5 ms backoff. */
tern_options* test_options(const char* dir, const char* name, recorder* r);

/* Polls until `client`'s stats.sent >= `sent` or `timeout_ms` passes;
 * returns the last stats.sent. */
uint64_t wait_for_sent(tern_client* client, uint64_t sent, int64_t timeout_ms);

#endif /* TERN_TESTS_BINDINGS_C_TEST_UTIL_H_ */
