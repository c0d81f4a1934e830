#include "config_check.h"

#include "event_writer.h"

namespace tern {

Status validate_config(const Config& c) {
  if (c.write_key.empty()) return Status(StatusCode::kInvalidArgument, "write_key is required");
  if (c.storage_path.empty() && !c.store) {
    return Status(StatusCode::kInvalidArgument, "storage_path is required");
  }
  if (c.endpoint.empty()) return Status(StatusCode::kInvalidArgument, "endpoint is required");
  if (c.max_event_bytes == 0 || c.max_batch_events == 0 || c.flush_at == 0 ||
      c.commit_max_events == 0 || c.max_pending_events == 0 || c.max_queue_events == 0 ||
      c.max_queue_bytes == 0 || c.max_attempts < 1) {
    return Status(StatusCode::kInvalidArgument, "limits must be positive");
  }
  if (c.max_batch_bytes < c.max_event_bytes + kBatchOverhead + c.max_batch_events) {
    return Status(StatusCode::kInvalidArgument,
                  "max_batch_bytes must hold one max_event_bytes event plus the batch envelope");
  }
  if (c.backoff_base.count() <= 0 || c.backoff_max < c.backoff_base) {
    return Status(StatusCode::kInvalidArgument, "need 0 < backoff_base <= backoff_max");
  }
  if (c.commit_window.count() < 0 || c.flush_interval.count() <= 0) {
    return Status(StatusCode::kInvalidArgument,
                  "commit_window and flush_interval must be positive");
  }
  if (c.session_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidArgument, "session_timeout must be positive");
  }
  if (c.settings_min_interval.count() < 0) {
    return Status(StatusCode::kInvalidArgument, "settings_min_interval must not be negative");
  }
  return Status::ok();
}

}  // namespace tern
