#include "tern/stats.h"

namespace tern {

const char* drop_reason_name(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::kInvalid: return "invalid";
    case DropReason::kTooLarge: return "too_large";
    case DropReason::kQueueFull: return "queue_full";
    case DropReason::kCapEvents: return "cap_events";
    case DropReason::kCapBytes: return "cap_bytes";
    case DropReason::kCapAge: return "cap_age";
    case DropReason::kServerRejected: return "server_rejected";
    case DropReason::kRetryBudget: return "retry_budget";
    case DropReason::kStorageError: return "storage_error";
    case DropReason::kCorruptDb: return "corrupt_db";
    case DropReason::kConsentDenied: return "consent_denied";
    case DropReason::kOptOut: return "opt_out";
    case DropReason::kPlugin: return "plugin";
    case DropReason::kShutdown: return "shutdown";
    case DropReason::kCount: break;
  }
  return "unknown";
}

std::string Stats::to_json() const {
  std::string out = "{";
  auto field = [&out](const char* name, uint64_t v) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += name;
    out += "\":";
    out += std::to_string(v);
  };
  field("enqueued", enqueued);
  field("stored", stored);
  field("sent", sent);
  field("retried", retried);
  field("attempts", attempts);
  field("batches_sent", batches_sent);
  field("dropped", dropped);
  out += ",\"dropped_by_reason\":{";
  for (std::size_t i = 0; i < dropped_by_reason.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += drop_reason_name(static_cast<DropReason>(i));
    out += "\":";
    out += std::to_string(dropped_by_reason[i]);
  }
  out += '}';
  field("queue_depth", queue_depth);
  field("queue_bytes", queue_bytes);
  field("pending", pending);
  field("bytes_sent", bytes_sent);
  field("corrupt_db_recoveries", corrupt_db_recoveries);
  out += '}';
  return out;
}

}  // namespace tern
