// KafkaMock: librdkafka's mock cluster (rdkafka_mock.h) on loopback, speaking
// the real Kafka protocol, plus a consumer that reads a topic back. For the
// Kafka sink's tests, its benchmark and the tern-kafka-mock program.
//
// Threads: the cluster runs its own thread; the methods may be called from
// any one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tern/base/status.h"

namespace tern::testing {

struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;  // empty for a null key
  std::string value;
};

class KafkaMock {
 public:
  // A cluster of `brokers` brokers (ids 1..brokers) on 127.0.0.1.
  static Result<std::unique_ptr<KafkaMock>> start(int brokers = 3);
  ~KafkaMock();
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  int brokers() const { return brokers_; }

  Status create_topic(const std::string& topic, int partitions, int replication = 3);
  Status set_broker_down(int32_t broker_id);
  Status set_broker_up(int32_t broker_id);
  void set_all_brokers_down();
  void set_all_brokers_up();
  // The next `errors.size()` Produce requests fail with these errors, in order.
  void push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors);

  // Sets TCP_NODELAY on every broker-side connection open right now, as real
  // Kafka brokers do (librdkafka's mock broker does not, so a second
  // response in flight on one connection waits ~40 ms for the client's
  // delayed ACK). For benchmarks; returns how many sockets it changed.
  int set_nodelay_on_broker_connections() const;

  // Messages stored in `topic` (the sum of its partitions' high watermarks),
  // or -1 if the cluster does not answer within `timeout`.
  int64_t message_count(const std::string& topic, int partitions,
                        std::chrono::milliseconds timeout) const;

  // Reads `topic` (partitions 0..partitions-1) from the beginning until `n`
  // messages arrived or `timeout` passed, with a real rdkafka consumer.
  // Messages are in arrival order (per partition: offset order).
  std::vector<KafkaMessage> consume(const std::string& topic, int partitions, std::size_t n,
                                    std::chrono::milliseconds timeout) const;

 private:
  KafkaMock() = default;
  rd_kafka_t* rk_ = nullptr;  // the handle owning the cluster; produces nothing
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace tern::testing
