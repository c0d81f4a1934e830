#include "relay_applier.h"

#include <chrono>
#include <thread>
#include <utility>

#include "tern/relay/log.h"

namespace tern::relay::control {

RelayApplier::RelayApplier(RelayConfig base, DurablePipeline* pipeline, RequestHandler* handler,
                           const SinkRegistry* registry, Metrics* metrics)
    : base_(std::move(base)),
      pipeline_(pipeline),
      handler_(handler),
      registry_(registry),
      metrics_(metrics),
      revision_gauge_(metrics->gauge("tern_relay_config_revision", {},
                                     "The control plane revision this relay runs (0: none)")) {}

Result<RelayConfig> RelayApplier::build(const State& state, std::vector<FieldError>* errors,
                                        std::shared_ptr<const IngestConfig>* ingest_out) {
  std::vector<FieldError> found;
  auto config = to_relay_config(state, base_, &found);
  if (config) {
    SinkContext ctx;
    ctx.data_dir = base_.data_dir;
    ctx.metrics = metrics_;
    ctx.relay_id = relay_id_of(base_);
    for (const SinkConfig& sink : config->sinks) {
      // The factory validates the sink's own settings without I/O.
      auto built = registry_->create(sink, ctx);
      if (!built) found.push_back(sink_field_error(sink.name, built.status()));
    }
    if (found.empty()) {
      auto ingest = make_ingest_config(config.value());
      if (!ingest) {
        found.push_back(FieldError{"sources", "write_keys", ingest.status().message()});
      } else if (ingest_out) {
        *ingest_out = std::move(ingest.value());
      }
    }
  } else if (found.empty()) {
    found.push_back(FieldError{"state", "", config.status().message()});
  }
  if (found.empty()) return config;
  Status first(StatusCode::kInvalidArgument,
               found.front().resource + ": " +
                   (found.front().field.empty() ? std::string() : found.front().field + ": ") +
                   found.front().message);
  if (errors) errors->insert(errors->end(), found.begin(), found.end());
  return first;
}

bool RelayApplier::validate(const State& state, std::vector<FieldError>* errors) {
  return build(state, errors, nullptr).is_ok();
}

Status RelayApplier::apply(const State& state) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const IngestConfig> ingest;
  auto config = build(state, nullptr, &ingest);
  if (!config) return config.status();
  // The pipeline first: it builds new and changed sinks before changing
  // anything, so a sink that cannot be built leaves everything as it was.
  // Then the handler, so a new source's key is taken only once its routes
  // and sinks are in place.
  if (Status st = pipeline_->reload(config.value()); !st) return st;
  handler_->reload(std::move(ingest));
  applied_ = state.revision;
  revision_gauge_.set(state.revision);
  log::info("control plane revision applied",
            {{"revision", state.revision},
             {"sources", static_cast<int64_t>(config->sources.size())},
             {"sinks", static_cast<int64_t>(config->sinks.size())},
             {"routes", static_cast<int64_t>(config->routes.size())}});
  return Status::ok();
}

int64_t RelayApplier::applied_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
}

uint64_t RelayApplier::undelivered(std::string_view sink) const {
  return pipeline_->undelivered(sink);
}

void RelayApplier::count_discarded(std::string_view sink, uint64_t n) {
  metrics_
      ->counter("tern_relay_events_discarded_total", "sink=\"" + std::string(sink) + "\"",
                "Events left undelivered in the spool by a sink deleted with ?discard=true")
      .inc(n);
}

Status RelayApplier::test_sink(const Json& sink) {
  State probe;
  probe.sinks = Json::array({sink});
  std::vector<FieldError> errors;
  auto config = to_relay_config(probe, base_, &errors);
  if (!config) return config.status();
  if (config->sinks.empty()) return Status(StatusCode::kInvalidArgument, "no sink to test");
  SinkContext ctx;
  ctx.data_dir = base_.data_dir;
  ctx.metrics = metrics_;
  ctx.relay_id = relay_id_of(base_);
  ctx.probe = true;
  auto built = registry_->create(config->sinks.front(), ctx);
  if (!built) return built.status();
  Sink& s = *built.value();
  Status st = s.open();
  if (st) {
    // A sink may connect in the background: give it a moment to say so.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (;;) {
      st = s.health();
      if (st || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  (void)s.close(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  return st;
}

}  // namespace tern::relay::control
