#include "tern/relay/sinks/s3.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_s3_sink(const SinkConfig& config, const SinkContext&) {
  return Status(StatusCode::kInvalidArgument, "sink \"" + config.name + "\": s3 is being built");
}

}  // namespace tern::relay
