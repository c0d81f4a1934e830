// register_builtin_sinks(): every sink compiled into this build. Each optional
// sink's target defines TERN_HAVE_SINK_<NAME> through tern_relay_sinks.
#include "tern/relay/builtin_sinks.h"

#include "tern/relay/sinks/file.h"
#include "tern/relay/sinks/stdout.h"
#ifdef TERN_HAVE_SINK_KAFKA
#include "tern/relay/sinks/kafka.h"
#endif
#ifdef TERN_HAVE_SINK_HTTP
#include "tern/relay/sinks/http.h"
#endif
#ifdef TERN_HAVE_SINK_POSTGRES
#include "tern/relay/sinks/postgres.h"
#endif
#ifdef TERN_HAVE_SINK_S3
#include "tern/relay/sinks/s3.h"
#endif

namespace tern::relay {

Status register_builtin_sinks(SinkRegistry& registry) {
  Status st = registry.add("file", make_file_sink);
  if (st) st = registry.add("stdout", make_stdout_sink);
#ifdef TERN_HAVE_SINK_KAFKA
  if (st) st = registry.add("kafka", make_kafka_sink);
#endif
#ifdef TERN_HAVE_SINK_HTTP
  if (st) st = registry.add("http", make_http_sink);
#endif
#ifdef TERN_HAVE_SINK_POSTGRES
  if (st) st = registry.add("postgres", make_postgres_sink);
#endif
#ifdef TERN_HAVE_SINK_S3
  if (st) st = registry.add("s3", make_s3_sink);
#endif
  return st;
}

}  // namespace tern::relay
