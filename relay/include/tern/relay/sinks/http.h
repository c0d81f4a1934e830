// The "http" sink: forwards batches to another Segment-compatible endpoint —
// a core tern-relay (edge → core chaining) or any /v1/batch receiver.
//
// Settings (SinkConfig::settings):
//   url               endpoint; a URL without a path gets "/v1/batch"  (required)
//   write_key         sent as HTTP Basic user name, empty password     (default: none)
//   gzip              Content-Encoding: gzip                           (default true)
//   timeout           whole request                                    (default "10s")
//   connect_timeout   TCP/TLS connect                                  (default "3s")
//   retry_after_max   cap on a server's Retry-After                    (default "5m")
//   ca_file           CA bundle for https                              (default: system)
//   headers.<Name>    extra request header, e.g. headers.X-Env = "edge"
// Batching (count/bytes/time) is the runner's: batch_max_events,
// batch_max_bytes, batch_linger of the [[sinks]] entry.
//
// Answers:
//   2xx            delivered; a JSON body {"rejected":[{"index":i,"reason":r}]}
//                  (the relay's partial answer) sends those events to the
//                  dead-letter file with the server's reason.
//   400/413/422    the batch is bisected to isolate the poison event(s); a
//                  single event refused this way is dead-lettered.
//   network error, 408, 429, 5xx, 401/403/404 and other codes: the batch is
//                  retried with the runner's backoff; Retry-After (seconds or
//                  an HTTP date) is honoured: nothing is sent before it.
// One libcurl easy handle is reused (keep-alive). health() reports the last
// failure until a request succeeds again.
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_http_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
