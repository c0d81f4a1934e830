/* Round trip through the real HTTP stack: libtern's built-in libcurl
 * transport posts gzip batches to tern-test-collector (tests/support), started
 * as a child process on 127.0.0.1 with an ephemeral port. The collector's path
 * comes from $TERN_TEST_COLLECTOR (set by ctest). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tern/tern.h"
#include "test_util.h"

extern char** environ;

typedef struct collector {
  pid_t pid;
  int out_fd; /* the child's stdout */
  int port;
  char output[1 << 16];
  size_t output_length;
} collector;

/* Reads the child's stdout into c->output until `needle` appears (or EOF, or
 * the deadline). Returns 1 when found. */
static int read_until(collector* c, const char* needle, int64_t deadline) {
  for (;;) {
    c->output[c->output_length] = '\0';
    if (needle != NULL && strstr(c->output, needle) != NULL) return 1;
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {c->out_fd, POLLIN, 0};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    if (c->output_length + 1 >= sizeof c->output) return 0;
    ssize_t n =
        read(c->out_fd, c->output + c->output_length, sizeof c->output - 1 - c->output_length);
    if (n <= 0) {
      c->output[c->output_length] = '\0';
      return needle == NULL;
    }
    c->output_length += (size_t)n;
  }
}

static int collector_start(collector* c, const char* path, const char* write_key,
                           const char* events_out) {
  memset(c, 0, sizeof *c);
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  char* argv[] = {
      (char*)path,       (char*)"--write-key",   (char*)write_key, (char*)"--events-out",
      (char*)events_out, (char*)"--max-seconds", (char*)"60",      NULL};
  int rc = posix_spawn(&c->pid, path, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  c->out_fd = fds[0];
  if (!read_until(c, "\n", now_ms() + 10000)) return -1;
  const char* at = strstr(c->output, "listening on 127.0.0.1:");
  if (at == NULL) return -1;
  c->port = atoi(at + strlen("listening on 127.0.0.1:"));
  return c->port > 0 ? 0 : -1;
}

/* Asks the collector to stop (SIGTERM), reads its JSON summary to EOF and
 * reaps it. Returns its exit status, or -1. */
static int collector_stop(collector* c) {
  kill(c->pid, SIGTERM);
  read_until(c, NULL, now_ms() + 10000);
  close(c->out_fd);
  int status = 0;
  if (waitpid(c->pid, &status, 0) != c->pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int test_round_trip_to_the_local_test_collector(const char* dir) {
  const char* path = getenv("TERN_TEST_COLLECTOR");
  if (path == NULL || path[0] == '\0') {
    fprintf(stderr, "TERN_TEST_COLLECTOR is not set (run through ctest)\n");
    return 1;
  }
  static collector c;
  char events_path[512];
  snprintf(events_path, sizeof events_path, "%s/events.ndjson", dir);
  /* A short key: tests/support's base64 decoder overflows on long ones. */
  CHECK(collector_start(&c, path, "rt", events_path) == 0);

  tern_options* o = test_options(dir, "roundtrip", NULL); /* built-in libcurl transport */
  CHECK(o != NULL);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", c.port);
  CHECK_OK(NULL, tern_options_set_endpoint(o, endpoint));
  CHECK_OK(NULL, tern_options_set_write_key(o, "rt"));
  CHECK_OK(NULL, tern_options_set_gzip(o, 1));
  CHECK_OK(NULL, tern_options_set_http_request_timeout_ms(o, 5000));
  tern_client* client = NULL;
  CHECK_OK(NULL, tern_client_create(o, &client));
  tern_options_free(o);

  CHECK_OK(client, tern_client_identify(client, "round-trip-user", "{\"plan\":\"c\"}", NULL));
  CHECK_OK(client, tern_client_track(client, "C Round Trip",
                                     "{\"n\":1,\"emoji\":\"\xf0\x9f\x90\xa6\"}", NULL));
  CHECK_OK(client, tern_client_screen(client, "C Screen", NULL, NULL));
  CHECK_OK(client, tern_client_flush(client, 10000));

  tern_stats s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK(client, tern_client_stats(client, &s));
  CHECK(s.sent == 3);
  CHECK(s.queue_depth == 0);
  CHECK(s.bytes_sent > 0);
  tern_client_destroy(client);

  CHECK(collector_stop(&c) == 0);
  /* The summary: three events, each once. */
  CHECK(strstr(c.output, "\"events\":3") != NULL);
  CHECK(strstr(c.output, "\"distinct_message_ids\":3") != NULL);
  CHECK(strstr(c.output, "\"duplicates\":0") != NULL);

  /* The events as the server parsed them, one per line. */
  FILE* f = fopen(events_path, "r");
  CHECK(f != NULL);
  static char events[1 << 16];
  size_t n = fread(events, 1, sizeof events - 1, f);
  fclose(f);
  events[n] = '\0';
  CHECK(count_substr(events, "\n") == 3);
  CHECK(count_substr(events, "\"event\":\"C Round Trip\"") == 1);
  CHECK(count_substr(events, "\"name\":\"C Screen\"") == 1);
  CHECK(count_substr(events, "\"userId\":\"round-trip-user\"") == 3);
  CHECK(strstr(events, "\xf0\x9f\x90\xa6") != NULL);
  return 0;
}
