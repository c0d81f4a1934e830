#include "tern/status.h"

namespace tern {

const char* status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kTooLarge: return "too large";
    case StatusCode::kQueueFull: return "queue full";
    case StatusCode::kStorage: return "storage error";
    case StatusCode::kLocked: return "locked";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kShutdown: return "shut down";
    case StatusCode::kDisabled: return "disabled";
    case StatusCode::kTransport: return "transport error";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string out = status_code_name(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace tern
