#include "tern/relay/pipeline.h"

namespace tern::relay {

const char* ack_mode_name(AckMode mode) noexcept {
  switch (mode) {
    case AckMode::kLocal:
      return "local";
    case AckMode::kSink:
      return "sink";
    case AckMode::kMemory:
      return "memory";
  }
  return "local";
}

}  // namespace tern::relay
