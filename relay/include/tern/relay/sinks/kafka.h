// The "kafka" sink: a librdkafka producer. Idempotent, acks=all, lz4 by
// default; the runner's cursor advances only once every event of a batch has
// its delivery report.
//
// Settings (SinkConfig::settings):
//   brokers             bootstrap servers "host:port,..."        (required)
//   topic               topic template                             (default "tern.events")
//   key                 key template; empty renders a null key     (default "{userId|anonymousId}")
//   compression         none|gzip|snappy|lz4|zstd                  (default "lz4")
//   linger              linger.ms within a batch (deliver() flushes
//                       at the end of each batch)                  (default "5ms")
//   batch_max_messages  batch.num.messages                         (default 10000)
//   batch_max_bytes     batch.size                                 (default "1MiB")
//   delivery_timeout    message.timeout.ms: a report (ok or error) per
//                       message within this time                   (default "10s")
//   client_id           client.id                                  (default "tern-relay")
//   rdkafka.<property>  any librdkafka property, passed through as text,
//                       e.g. rdkafka.security.protocol = "sasl_ssl". Applied
//                       last; `enable.idempotence` and `acks` cannot be
//                       weakened (the delivery guarantee depends on them).
//
// Templates (topic and key): literal text with {a|b|'c'} placeholders; the
// first alternative with a non-empty value wins. `source` is the event's
// source id, any other name a (dotted) event field, 'text' a literal:
//   topic = "events.{type}"     key = "{userId|anonymousId}"     topic = "{source}"
// Characters Kafka does not allow in topic names become '_'.
//
// Delivery: deliver() produces the batch and polls until every message has
// its delivery report. A message Kafka refuses for good (too large, invalid
// record, authorization, invalid topic) is rejected with the broker's reason
// and goes to the dead-letter file; a retryable failure (timeout, brokers
// down) fails the batch, which the runner retries with backoff. Events already
// confirmed in a failed attempt are not produced again on the retry of that
// same batch. health() is down while every broker is unreachable.
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_kafka_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
