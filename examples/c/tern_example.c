/* tern-example-c: sends a few events through the Tern C API.
 *
 *   tern-example-c --endpoint URL --write-key KEY --db PATH [--count N]
 *
 * It identifies a user, tracks N "Example Event" events and a screen view,
 * flushes, prints the client's stats as one line and exits 0 when every
 * event was delivered (what is not delivered stays in PATH for next time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

static void usage(void) {
  fprintf(stderr, "usage: tern-example-c --endpoint URL --write-key KEY --db PATH [--count N]\n");
}

/* Prints why a call failed and returns 1. */
static int failed(const tern_client* client, const char* what, tern_status status) {
  fprintf(stderr, "tern-example-c: %s: %s (%s)\n", what, tern_status_str(status),
          tern_client_last_error(client));
  return 1;
}

int main(int argc, char** argv) {
  const char* endpoint = NULL;
  const char* write_key = NULL;
  const char* db = NULL;
  long count = 3;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--endpoint") == 0) {
      endpoint = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--write-key") == 0) {
      write_key = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
      db = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
      count = strtol(argv[++i], NULL, 10);
    } else {
      usage();
      return 2;
    }
  }
  if (endpoint == NULL || write_key == NULL || db == NULL || count < 0) {
    usage();
    return 2;
  }

  /* 1. Options: the options object is only needed until the client exists. */
  tern_options* options = tern_options_new();
  if (options == NULL) return 1;
  tern_status st;
  if ((st = tern_options_set_endpoint(options, endpoint)) != TERN_OK ||
      (st = tern_options_set_write_key(options, write_key)) != TERN_OK ||
      (st = tern_options_set_storage_path(options, db)) != TERN_OK ||
      (st = tern_options_set_library_name(options, "tern-example-c")) != TERN_OK) {
    tern_options_free(options);
    return failed(NULL, "options", st);
  }

  /* 2. The client: opens the database and starts the upload worker. */
  tern_client* client = NULL;
  st = tern_client_create(options, &client);
  tern_options_free(options);
  if (st != TERN_OK) return failed(NULL, "tern_client_create", st);

  /* 3. Events: properties and traits are JSON text. */
  int rc = 0;
  if ((st = tern_client_identify(client, "example-user", "{\"plan\":\"free\"}", NULL)) != TERN_OK) {
    rc = failed(client, "identify", st);
  }
  for (long i = 0; rc == 0 && i < count; ++i) {
    char properties[64];
    snprintf(properties, sizeof properties, "{\"index\":%ld,\"source\":\"c\"}", i);
    if ((st = tern_client_track(client, "Example Event", properties, NULL)) != TERN_OK) {
      rc = failed(client, "track", st);
    }
  }
  if (rc == 0 && (st = tern_client_screen(client, "Example Screen", NULL, NULL)) != TERN_OK) {
    rc = failed(client, "screen", st);
  }

  /* 4. Flush: waits until everything queued is sent (or 10 s pass). */
  if (rc == 0 && (st = tern_client_flush(client, 10000)) != TERN_OK) {
    rc = failed(client, "flush", st);
  }

  tern_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  if (tern_client_stats(client, &stats) == TERN_OK) {
    printf("{\"enqueued\":%llu,\"sent\":%llu,\"dropped\":%llu,\"queue_depth\":%llu}\n",
           (unsigned long long)stats.enqueued, (unsigned long long)stats.sent,
           (unsigned long long)stats.dropped, (unsigned long long)stats.queue_depth);
  }

  /* 5. Shut down: what was not sent stays on disk for the next run. */
  if ((st = tern_client_shutdown(client, 5000)) != TERN_OK && rc == 0) {
    rc = failed(client, "shutdown", st);
  }
  tern_client_destroy(client);
  return rc;
}
