// The "postgres" sink: COPY batches into a PostgreSQL table over libpq.
//
// Settings (SinkConfig::settings):
//   conninfo          libpq connection string or URI                (required)
//                     e.g. "host=db port=5432 dbname=events user=tern"
//   table             target table, optionally schema-qualified     (default "tern_events")
//   create_table      CREATE TABLE IF NOT EXISTS at open()          (default true)
//   connect_timeout   per connection attempt (at least 2s in libpq)  (default "5s")
//   statement_timeout per statement                                 (default "30s")
//
// Table (created if missing):
//   message_id text PRIMARY KEY, type text, event text, user_id text,
//   anonymous_id text, timestamp timestamptz, received_at timestamptz,
//   source text, payload jsonb NOT NULL (the whole event),
//   inserted_at timestamptz DEFAULT now()
//
// Delivery: one transaction per batch: COPY into a session temp staging
// table, then INSERT ... SELECT ... ON CONFLICT (message_id) DO NOTHING, then
// COMMIT. A replay after a crash is therefore idempotent. A batch refused
// for its data (bad timestamp, invalid jsonb, SQLSTATE classes 22/23) is
// bisected so the bad rows alone go to the dead-letter file with the
// server's message; an event without a messageId is refused up front.
// Connection failures are retried (reconnecting) by the runner; health()
// is down while the server is unreachable.
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_postgres_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
