#include "tern/stats.h"

#include <cstdio>

namespace tern {

const char* drop_reason_name(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::kInvalid:
      return "invalid";
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kQueueFull:
      return "queue_full";
    case DropReason::kCapEvents:
      return "cap_events";
    case DropReason::kCapBytes:
      return "cap_bytes";
    case DropReason::kCapAge:
      return "cap_age";
    case DropReason::kServerRejected:
      return "server_rejected";
    case DropReason::kRetryBudget:
      return "retry_budget";
    case DropReason::kStorageError:
      return "storage_error";
    case DropReason::kCorruptDb:
      return "corrupt_db";
    case DropReason::kConsentDenied:
      return "consent_denied";
    case DropReason::kOptOut:
      return "opt_out";
    case DropReason::kPlugin:
      return "plugin";
    case DropReason::kShutdown:
      return "shutdown";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

namespace {
// Out of line on purpose: one small helper instead of many inlined
// std::to_string expansions (the SDK's size is a tracked figure).
void append_field(std::string& out, const char* name, uint64_t v) {
  char buf[96];
  int n = std::snprintf(buf, sizeof(buf), "%s\"%s\":%llu", out.size() > 1 ? "," : "", name,
                        static_cast<unsigned long long>(v));
  if (n > 0)
    out.append(buf, static_cast<std::size_t>(n) < sizeof(buf) ? static_cast<std::size_t>(n)
                                                              : sizeof(buf) - 1);
}
}  // namespace

std::string Stats::to_json() const {
  std::string out = "{";
  append_field(out, "enqueued", enqueued);
  append_field(out, "stored", stored);
  append_field(out, "sent", sent);
  append_field(out, "retried", retried);
  append_field(out, "attempts", attempts);
  append_field(out, "batches_sent", batches_sent);
  append_field(out, "dropped", dropped);
  out += ",\"dropped_by_reason\":{";
  for (std::size_t i = 0; i < dropped_by_reason.size(); ++i) {
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "%s\"%s\":%llu", i ? "," : "",
                          drop_reason_name(static_cast<DropReason>(i)),
                          static_cast<unsigned long long>(dropped_by_reason[i]));
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  out += '}';
  append_field(out, "queue_depth", queue_depth);
  append_field(out, "queue_bytes", queue_bytes);
  append_field(out, "pending", pending);
  append_field(out, "bytes_sent", bytes_sent);
  append_field(out, "corrupt_db_recoveries", corrupt_db_recoveries);
  append_field(out, "lifecycle_events", lifecycle_events);
  append_field(out, "sessions_started", sessions_started);
  append_field(out, "settings_fetched", settings_fetched);
  append_field(out, "settings_not_modified", settings_not_modified);
  append_field(out, "settings_failed", settings_failed);
  append_field(out, "sampled_out", sampled_out);
  append_field(out, "kill_switch_refused", kill_switch_refused);
  append_field(out, "background_flushes_sent", background_flushes_sent);
  append_field(out, "background_flushes_timed_out", background_flushes_timed_out);
  append_field(out, "background_flushes_cancelled", background_flushes_cancelled);
  out += '}';
  return out;
}

}  // namespace tern
