#include "tern/relay/sinks/kafka.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "event_template.h"
#include "tern/relay/log.h"
#include "tern/relay/sink_settings.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char kPassthroughPrefix[] = "rdkafka.";
constexpr auto kHealthProbeTimeout = milliseconds(200);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct Options {
  std::string name;
  EventTemplate topic;
  EventTemplate key;
  milliseconds delivery_timeout{10'000};
  // librdkafka properties in the order they are applied.
  std::vector<std::pair<std::string, std::string>> props;
};

// Errors librdkafka reports after giving up on its own retries that can still
// succeed later (brokers back, leader elected): the batch is retried. Every
// other delivery error is a permanent refusal of that message.
bool retryable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
      return true;
    default:
      return false;
  }
}

std::string err_text(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

// Kafka topic names: [a-zA-Z0-9._-], at most 249 characters.
void sanitize_topic(std::string* t) {
  for (char& c : *t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (t->size() > 249) t->resize(249);
}

Result<ConfPtr> build_conf(const Options& o) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : o.props) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status(StatusCode::kInvalidArgument,
                    "sink \"" + o.name + "\" (kafka): property " + k + "=\"" + v + "\": " + err);
    }
  }
  return conf;
}

// One message of the open group; the delivery report callback fills it in.
struct Slot {
  uint64_t seq = 0;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string reason;
};

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(Options o) : opt_(std::move(o)) {}
  ~KafkaSink() override { destroy_producer(); }

  Status open() override {
    if (!rk_) {
      Status st = create_producer();
      if (!st) return st;
    }
    // Verify the cluster answers so /ready reflects it from the start.
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, nullptr, &md,
                          static_cast<int>(std::min<int64_t>(opt_.delivery_timeout.count(), 5000)));
    if (md) rd_kafka_metadata_destroy(md);
    if (err) {
      down_.store(true);
      return Status(StatusCode::kUnavailable, "kafka cluster unreachable: " + err_text(err));
    }
    down_.store(false);
    return Status::ok();
  }

  // Two phases: deliver() produces a batch and returns; flush() waits for
  // the delivery reports of every batch produced since the last flush, so
  // several batches are in flight at once (acks=all, idempotent, in order).
  bool defers_durability() const override { return true; }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    DeliveryResult res;
    if (!rk_) {
      res.status = open();
      if (!res.status) return res;
    }
    if (!group_open_) {
      // A retry of the group that failed last time skips what was confirmed then.
      bool same_group = !batch.empty() && batch.front().seq == confirmed_first_seq_;
      if (!same_group) confirmed_.clear();
      confirmed_first_seq_ = batch.empty() ? 0 : batch.front().seq;
      ++generation_;
      slots_.clear();
      group_open_ = true;
    }
    auto deadline = SteadyClock::now() + opt_.delivery_timeout + milliseconds(5000);
    std::string topic, key;
    for (const SinkRecord& r : batch) {
      std::size_t i = slots_.size();
      slots_.emplace_back().seq = r.seq;
      if (confirmed_.count(r.seq)) {
        slots_[i].done = true;
        continue;
      }
      if (!opt_.topic.needs_event() && !cached_topic_.empty() &&
          cached_topic_source_ == r.source_id) {
        topic = cached_topic_;  // the same for every event of this source
      } else {
        topic = opt_.topic.render(r.event, r.source_id, &template_scratch_);
        sanitize_topic(&topic);
        if (!opt_.topic.needs_event()) {
          cached_topic_ = topic;
          cached_topic_source_ = std::string(r.source_id);
        }
      }
      key = opt_.key.render(r.event, r.source_id, &template_scratch_);
      if (topic.empty()) {
        slots_[i].done = true;
        slots_[i].err = RD_KAFKA_RESP_ERR__INVALID_ARG;
        slots_[i].reason = "topic template \"" + opt_.topic.text() + "\" rendered an empty topic";
        continue;
      }
      // Opaque: generation in the high bits, index + 1 below, so a report
      // arriving late from an abandoned group is recognised and ignored.
      auto opaque = reinterpret_cast<void*>((static_cast<uintptr_t>(generation_ & 0xffff) << 40) |
                                            static_cast<uintptr_t>(i + 1));
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(const_cast<char*>(r.event.data()), r.event.size()),
            RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && SteadyClock::now() < deadline) {
          rd_kafka_poll(rk_, 10);  // serve delivery reports to make room
          continue;
        }
        if (retryable(err)) {
          res.status = Status(StatusCode::kUnavailable, "kafka produce: " + err_text(err));
        } else {
          slots_[i].done = true;
          slots_[i].err = err;
          slots_[i].reason = "kafka refused the message: " + err_text(err);
        }
        break;
      }
      if (!res.status) break;
    }
    if (!res.status) (void)finish_group(res.status);  // remembers what was confirmed for the retry
    if (rk_) rd_kafka_poll(rk_, 0);                   // serve the reports already in
    return res;
  }

  DeliveryResult flush() override { return finish_group(Status::ok()); }

  Status health() override {
    if (!rk_) return Status(StatusCode::kUnavailable, "kafka producer not created");
    rd_kafka_poll(rk_, 0);
    if (!down_.load()) return Status::ok();
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, nullptr, &md, static_cast<int>(kHealthProbeTimeout.count()));
    if (md) rd_kafka_metadata_destroy(md);
    if (err) return Status(StatusCode::kUnavailable, "kafka cluster unreachable: " + err_text(err));
    down_.store(false);
    return Status::ok();
  }

  Status close(SteadyClock::time_point deadline) override {
    if (!rk_) return Status::ok();
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_, static_cast<int>(std::max<int64_t>(0, left)));
    destroy_producer();
    if (err) return Status(StatusCode::kTimeout, "kafka flush: " + err_text(err));
    return Status::ok();
  }

 private:
  Status create_producer() {
    auto conf = build_conf(opt_);
    if (!conf) return conf.status();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaSink::on_delivery);
    rd_kafka_conf_set_error_cb(conf->get(), &KafkaSink::on_error);
    rd_kafka_conf_set_log_cb(conf->get(), &KafkaSink::on_log);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
    if (!rk)
      return Status(StatusCode::kInvalidArgument, "sink \"" + opt_.name + "\" (kafka): " + err);
    (void)conf->release();  // rd_kafka_new took ownership
    rk_ = rk;
    return Status::ok();
  }

  void destroy_producer() {
    if (!rk_) return;
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  // Waits for the delivery reports of the open group (bounded by the
  // delivery timeout) and closes it. Refusals index into the group. On
  // failure (`status`, a report missing or retryable) what Kafka confirmed is
  // remembered so the runner's retry of the group does not send it twice.
  DeliveryResult finish_group(Status status) {
    DeliveryResult res;
    res.status = std::move(status);
    if (!group_open_) return res;
    group_open_ = false;
    // flush() sends what linger.ms would hold back: nothing more is coming.
    auto deadline = SteadyClock::now() + opt_.delivery_timeout + milliseconds(5000);
    while (rk_ && count_pending() > 0) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) break;
      (void)rd_kafka_flush(rk_, static_cast<int>(std::min<int64_t>(left, 100)));
    }
    std::size_t pending = count_pending();
    if (pending > 0 && res.status) {
      res.status = Status(StatusCode::kTimeout,
                          "kafka: " + std::to_string(pending) + " delivery reports missing after " +
                              std::to_string(opt_.delivery_timeout.count()) + " ms");
    }

    // Fatal (idempotence broken): a new producer on the next attempt.
    char fatal[512];
    rd_kafka_resp_err_t ferr =
        rk_ ? rd_kafka_fatal_error(rk_, fatal, sizeof fatal) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (ferr) {
      log::error("kafka producer fatal error; recreating it",
                 {{"sink", opt_.name}, {"error", err_text(ferr)}, {"reason", fatal}});
      destroy_producer();
      if (res.status)
        res.status = Status(StatusCode::kUnavailable, std::string("kafka fatal error: ") + fatal);
    }

    Status retry_status;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if (!s.done || s.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (retryable(s.err)) {
        if (retry_status)
          retry_status = Status(StatusCode::kUnavailable, "kafka delivery failed: " + s.reason);
      } else {
        res.rejected.push_back(SinkRejection{i, s.reason});
      }
    }
    if (res.status && !retry_status) res.status = retry_status;
    if (res.status) {
      confirmed_.clear();
      confirmed_first_seq_ = 0;
      down_.store(false);
    } else {
      // The group comes back: remember what Kafka confirmed so the retry
      // does not send it twice. (Only then: a good group records nothing.)
      for (const Slot& s : slots_) {
        if (s.done && s.err == RD_KAFKA_RESP_ERR_NO_ERROR) confirmed_.insert(s.seq);
      }
      res.rejected.clear();  // re-decided on the retry
    }
    slots_.clear();
    return res;
  }

  std::size_t count_pending() const {
    std::size_t n = 0;
    for (const Slot& s : slots_) n += s.done ? 0 : 1;
    return n;
  }

  // Called from rd_kafka_poll() on the runner thread.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto tag = reinterpret_cast<uintptr_t>(m->_private);
    uint64_t gen = tag >> 40;
    std::size_t idx = static_cast<std::size_t>(tag & ((uintptr_t{1} << 40) - 1));
    if (gen != (self->generation_ & 0xffff) || idx == 0 || idx > self->slots_.size())
      return;  // stale
    Slot& s = self->slots_[idx - 1];
    s.done = true;
    s.err = m->err;
    if (m->err) {
      s.reason = "kafka refused the message: " + err_text(m->err);
      if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) self->down_.store(true);
    }
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto e = static_cast<rd_kafka_resp_err_t>(err);
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->down_.store(true);
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__FATAL) {
      log::warn("kafka error",
                {{"sink", self->opt_.name}, {"error", err_text(e)}, {"reason", reason}});
    }
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    // Syslog levels: 0-3 errors, 4 warnings; chatty broker reconnects are
    // info at best (the runner reports the sink's state).
    if (level > 4) return;
    (void)rk;
    log::Level l = level <= 3 ? log::Level::kError : log::Level::kWarn;
    if (!log::enabled(l)) return;
    if (l == log::Level::kError) {
      log::error("librdkafka", {{"facility", fac}, {"message", buf}});
    } else {
      log::warn("librdkafka", {{"facility", fac}, {"message", buf}});
    }
  }

  Options opt_;
  rd_kafka_t* rk_ = nullptr;
  EventTemplate::Scratch template_scratch_;
  std::string cached_topic_, cached_topic_source_;  // topic templates that need no event field
  std::vector<Slot> slots_;
  uint64_t generation_ = 0;
  std::set<uint64_t> confirmed_;
  uint64_t confirmed_first_seq_ = 0;
  bool group_open_ = false;  // produced since the last flush()
  std::atomic<bool> down_{false};
};

}  // namespace

Result<std::unique_ptr<Sink>> make_kafka_sink(const SinkConfig& config, const SinkContext&) {
  const std::string where = "sink \"" + config.name + "\" (kafka): ";
  SinkSettings s(config);
  Options o;
  o.name = config.name;
  std::string brokers = s.str("brokers", "");
  std::string topic = s.str("topic", "tern.events");
  std::string key = s.str("key", "{userId|anonymousId}");
  std::string compression = s.str("compression", "lz4");
  auto linger = s.duration("linger", milliseconds(5));
  int64_t batch_messages = s.integer("batch_max_messages", 10000, 1, 1000000);
  std::size_t batch_bytes = s.size("batch_max_bytes", 1u << 20);
  o.delivery_timeout = s.duration("delivery_timeout", milliseconds(10'000));
  std::string client_id = s.str("client_id", "tern-relay");
  std::vector<std::pair<std::string, std::string>> passthrough;
  for (const auto& [k, v] : config.settings) {
    if (k.rfind(kPassthroughPrefix, 0) != 0) continue;
    passthrough.emplace_back(k.substr(sizeof kPassthroughPrefix - 1), s.str(k, v));
  }
  Status st = s.finish();
  if (!st) return st;
  if (brokers.empty()) return Status(StatusCode::kInvalidArgument, where + "brokers is required");
  if (o.delivery_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidArgument, where + "delivery_timeout must be positive");
  }
  auto tt = EventTemplate::parse(topic);
  if (!tt) return Status(StatusCode::kInvalidArgument, where + "topic: " + tt.status().message());
  if (tt->empty()) return Status(StatusCode::kInvalidArgument, where + "topic must not be empty");
  auto kt = EventTemplate::parse(key);
  if (!kt) return Status(StatusCode::kInvalidArgument, where + "key: " + kt.status().message());
  o.topic = std::move(*tt);
  o.key = std::move(*kt);

  o.props = {
      {"bootstrap.servers", brokers},
      {"client.id", client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.codec", compression},
      {"linger.ms", std::to_string(linger.count())},
      {"batch.num.messages", std::to_string(batch_messages)},
      {"batch.size", std::to_string(batch_bytes)},
      {"message.timeout.ms", std::to_string(o.delivery_timeout.count())},
      // Java-client-compatible key hashing: one user's events land in the
      // same partition whichever producer wrote them.
      {"partitioner", "murmur2_random"},
      // TCP_NODELAY, as the Java client: deliver() waits for each batch's
      // acks, and Nagle + delayed ACKs would add ~40 ms to every batch.
      {"socket.nagle.disable", "true"},
  };
  for (auto& [k, v] : passthrough) {
    if (k == "enable.idempotence" && v != "true") {
      return Status(StatusCode::kInvalidArgument,
                    where + "rdkafka.enable.idempotence cannot be turned off");
    }
    if (k == "acks" && v != "all" && v != "-1") {
      return Status(StatusCode::kInvalidArgument, where + "rdkafka.acks must stay \"all\"");
    }
    o.props.emplace_back(k, v);
  }
  // Validate every property now (no I/O): a typo fails the config load.
  auto conf = build_conf(o);
  if (!conf) return conf.status();
  return std::unique_ptr<Sink>(new KafkaSink(std::move(o)));
}

}  // namespace tern::relay
