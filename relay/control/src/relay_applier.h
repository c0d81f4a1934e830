// RelayApplier: the Applier of a running tern-relay. It turns a control
// plane State into a RelayConfig (this relay's process settings with the
// state's pipeline) and swaps it into the DurablePipeline and the ingest
// RequestHandler, as a SIGHUP reload does.
//
// Threads: every method is thread-safe; apply() calls are serialised.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "applier.h"
#include "request_handler.h"
#include "tern/relay/config.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/metrics.h"
#include "tern/relay/sink_registry.h"

namespace tern::relay::control {

class RelayApplier : public Applier {
 public:
  // `base`: the process settings (data_dir, server, limits, spool, log) the
  // relay started with; its pipeline part is ignored. The pointers must
  // outlive the applier.
  RelayApplier(RelayConfig base, DurablePipeline* pipeline, RequestHandler* handler,
               const SinkRegistry* registry, Metrics* metrics);

  bool validate(const State& state, std::vector<FieldError>* errors) override;
  Status apply(const State& state) override;
  int64_t applied_revision() const override;
  uint64_t undelivered(std::string_view sink) const override;
  void count_discarded(std::string_view sink, uint64_t n) override;
  Status test_sink(const Json& sink) override;

 private:
  // to_relay_config, then what only a running relay can check: every sink's
  // settings through its factory, and the ingest view (unique write keys),
  // which is stored in `ingest` when given.
  Result<RelayConfig> build(const State& state, std::vector<FieldError>* errors,
                            std::shared_ptr<const IngestConfig>* ingest);

  const RelayConfig base_;
  DurablePipeline* pipeline_;
  RequestHandler* handler_;
  const SinkRegistry* registry_;
  Metrics* metrics_;
  Gauge& revision_gauge_;
  mutable std::mutex mu_;  // serialises apply()
  int64_t applied_ = 0;
};

}  // namespace tern::relay::control
