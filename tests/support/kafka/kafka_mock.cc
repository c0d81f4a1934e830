#include "kafka_mock.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>

namespace tern::testing {

Result<std::unique_ptr<KafkaMock>> KafkaMock::start(int brokers) {
  std::unique_ptr<KafkaMock> m(new KafkaMock());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  // Silence the owning handle: it never connects anywhere.
  (void)rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  m->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!m->rk_) {
    rd_kafka_conf_destroy(conf);
    return Status(StatusCode::kInternal, std::string("rd_kafka_new: ") + err);
  }
  m->cluster_ = rd_kafka_mock_cluster_new(m->rk_, brokers);
  if (!m->cluster_) return Status(StatusCode::kInternal, "rd_kafka_mock_cluster_new failed");
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->cluster_);
  m->brokers_ = brokers;
  return m;
}

KafkaMock::~KafkaMock() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_) rd_kafka_destroy(rk_);
}

Status KafkaMock::create_topic(const std::string& topic, int partitions, int replication) {
  rd_kafka_resp_err_t e =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication);
  if (e) return Status(StatusCode::kInternal, std::string("create topic: ") + rd_kafka_err2str(e));
  return Status::ok();
}

Status KafkaMock::set_broker_down(int32_t id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(cluster_, id);
  if (e) return Status(StatusCode::kInternal, std::string("broker down: ") + rd_kafka_err2str(e));
  return Status::ok();
}

Status KafkaMock::set_broker_up(int32_t id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(cluster_, id);
  if (e) return Status(StatusCode::kInternal, std::string("broker up: ") + rd_kafka_err2str(e));
  return Status::ok();
}

void KafkaMock::set_all_brokers_down() {
  for (int id = 1; id <= brokers_; ++id) (void)set_broker_down(id);
}

void KafkaMock::set_all_brokers_up() {
  for (int id = 1; id <= brokers_; ++id) (void)set_broker_up(id);
}

void KafkaMock::push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, 0 /* Produce */, errors.size(), errors.data());
}

int KafkaMock::set_nodelay_on_broker_connections() const {
  std::set<int> ports;
  std::size_t i = 0;
  while (i < bootstrap_.size()) {
    std::size_t comma = bootstrap_.find(',', i);
    if (comma == std::string::npos) comma = bootstrap_.size();
    std::string hp = bootstrap_.substr(i, comma - i);
    std::size_t colon = hp.rfind(':');
    if (colon != std::string::npos) ports.insert(std::atoi(hp.c_str() + colon + 1));
    i = comma + 1;
  }
  int changed = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in local{}, peer{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        local.sin_family != AF_INET)
      continue;
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;  // a listener
    if (!ports.count(ntohs(local.sin_port))) continue;  // not the broker side
    int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++changed;
  }
  ::closedir(d);
  return changed;
}

int64_t KafkaMock::message_count(const std::string& topic, int partitions,
                                 std::chrono::milliseconds timeout) const {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  (void)rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err, sizeof err);
  (void)rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!c) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  int64_t total = 0;
  for (int p = 0; p < partitions && total >= 0; ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(c, topic.c_str(), p, &lo, &hi,
                                         static_cast<int>(timeout.count()))) {
      total = -1;
    } else {
      total += hi;
    }
  }
  rd_kafka_destroy(c);
  return total;
}

std::vector<KafkaMessage> KafkaMock::consume(const std::string& topic, int partitions,
                                             std::size_t n,
                                             std::chrono::milliseconds timeout) const {
  std::vector<KafkaMessage> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  (void)rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err, sizeof err);
  (void)rd_kafka_conf_set(conf, "group.id", "tern-test-reader", err, sizeof err);
  (void)rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  (void)rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  (void)rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!c) {
    rd_kafka_conf_destroy(conf);
    return out;
  }
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  (void)rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  auto until = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < until) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 50);
    if (!m) continue;
    if (!m->err) {
      KafkaMessage km;
      km.topic = rd_kafka_topic_name(m->rkt);
      km.partition = m->partition;
      km.offset = m->offset;
      if (m->key) km.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) km.value.assign(static_cast<const char*>(m->payload), m->len);
      out.push_back(std::move(km));
    }
    rd_kafka_message_destroy(m);
  }
  (void)rd_kafka_assign(c, nullptr);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return out;
}

}  // namespace tern::testing
