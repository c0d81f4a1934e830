// The uploader (uploader.h): Engine::upload_one, run by the worker with the
// engine's mutex released, and the pure pieces it is made of.
#include "uploader.h"

#include <algorithm>

#include "default_transport.h"
#include "engine.h"
#include "event_writer.h"
#include "tern/base/gzip.h"
#include "tern/base/uuid.h"
#include "text.h"

namespace tern {

RetryBudget retry_budget(const std::vector<StoredEvent>& batch, const Config& config,
                         int64_t now_ms) {
  RetryBudget b;
  int64_t first_attempt = 0;
  for (const auto& e : batch) {
    b.attempts = std::max(b.attempts, e.attempts);
    if (e.first_attempt_ms && (!first_attempt || e.first_attempt_ms < first_attempt))
      first_attempt = e.first_attempt_ms;
  }
  const int64_t max_age_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.max_batch_age).count();
  b.spent =
      b.attempts >= config.max_attempts || (first_attempt && now_ms - first_attempt > max_age_ms);
  return b;
}

HttpRequest make_batch_request(const std::vector<StoredEvent>& batch, const std::string& url,
                               const Config& config, std::chrono::system_clock::time_point now) {
  std::string body = write_batch(
      batch, [](const StoredEvent& e) -> const std::string& { return e.body; }, now);
  HttpRequest req;
  req.url = url;
  req.write_key = config.write_key;
  req.gzip = config.gzip;
  if (config.gzip) {
    auto z = base::gzip_compress(body);
    if (z) {
      req.body = std::move(z).value();
    } else {
      req.gzip = false;
      req.body = std::move(body);
    }
  } else {
    req.body = std::move(body);
  }
  return req;
}

std::vector<RejectedEvent> parse_rejections(const std::string& body, std::size_t batch_size) {
  std::vector<RejectedEvent> out;
  if (body.find("rejected") == std::string::npos) return out;
  auto j = parse_json(body);
  if (!j.is_object() || !j.contains("rejected") || !j["rejected"].is_array()) return out;
  std::vector<bool> seen(batch_size, false);
  for (const auto& item : j["rejected"]) {
    if (!item.is_object() || !item.contains("index") || !item["index"].is_number_integer())
      continue;
    auto idx = item["index"].get<int64_t>();
    if (idx < 0 || static_cast<std::size_t>(idx) >= batch_size || seen[idx]) continue;
    seen[idx] = true;
    out.push_back(
        {static_cast<std::size_t>(idx), item.contains("reason") && item["reason"].is_string()
                                            ? item["reason"].get<std::string>()
                                            : "unspecified"});
  }
  return out;
}

Engine::UploadResult Engine::upload_one() {
  if (batches_.empty()) {
    enforce_caps();
    std::size_t budget = config_.max_batch_bytes - kBatchOverhead - config_.max_batch_events;
    auto r = store_->read_oldest(config_.max_batch_events, budget);
    if (!r) {
      last_error_ = r.status().to_string();
      log(LogLevel::kWarn, "could not read a batch: " + last_error_);
      policy_.on_failure(clock_->monotonic(), std::nullopt, base::random_u64());
      return UploadResult::kFailed;
    }
    if (r->empty()) return UploadResult::kNothing;
    batches_.push_back(std::move(r).value());
  }
  Batch& batch = batches_.front();
  std::vector<int64_t> ids;
  ids.reserve(batch.size());
  for (const auto& e : batch) ids.push_back(e.id);

  // Retry budget: attempts, and age since the batch was first attempted.
  const int64_t now_ms = to_unix_ms(clock_->wall());
  if (RetryBudget b = retry_budget(batch, config_, now_ms); b.spent) {
    Status s = store_->remove(ids);
    if (!s) log(LogLevel::kWarn, "could not delete an expired batch: " + s.to_string());
    count_drop(DropReason::kRetryBudget, batch.size());
    log(LogLevel::kWarn, "dropped a batch of " + std::to_string(batch.size()) + " events after " +
                             std::to_string(b.attempts) + " attempts (retry budget)");
    batches_.pop_front();
    return UploadResult::kDropped;
  }

  // The attempt is recorded in the store (one transaction, the "claim")
  // before a retry is sent, and after a first attempt only if it fails: a
  // batch that goes through on its first try costs no claim write. A crash
  // during a first attempt forgets at most that one attempt.
  const bool retrying =
      std::any_of(batch.begin(), batch.end(), [](const StoredEvent& e) { return e.attempts > 0; });
  auto claim = [&] {
    if (Status s = store_->mark_attempt(ids, now_ms); !s) {
      log(LogLevel::kWarn, "could not record an upload attempt: " + s.to_string());
    }
  };
  if (retrying) claim();
  for (auto& e : batch) {
    ++e.attempts;
    if (!e.first_attempt_ms) e.first_attempt_ms = now_ms;
  }

  HttpRequest req = make_batch_request(batch, url_, config_, clock_->wall());
  attempts_.fetch_add(1);
  bytes_sent_.fetch_add(req.body.size());
  if (!transport_) transport_ = make_default_transport(config_.http);
  HttpResponse resp = transport_->send(req);
  last_upload_ = clock_->monotonic();

  {
    MutexLock lock(mu_);
    if (batches_invalid_) {  // consent was denied meanwhile: the rows are gone
      batches_.clear();
      batches_invalid_ = false;
      return UploadResult::kDropped;
    }
  }

  switch (classify_http_status(resp.status_code)) {
    case UploadVerdict::kSuccess: {
      std::vector<RejectedEvent> rejected = parse_rejections(resp.body, batch.size());
      for (const auto& r : rejected)
        log(LogLevel::kWarn, "the server rejected an event: " + r.reason);
      const uint64_t n_rejected = rejected.size();
      Status s = store_->remove(ids);
      if (!s)
        log(LogLevel::kWarn,
            "sent, but could not delete the batch (it may be sent again): " + s.to_string());
      sent_.fetch_add(batch.size() - n_rejected);
      count_drop(DropReason::kServerRejected, n_rejected);
      batches_sent_.fetch_add(1);
      batches_.pop_front();
      policy_.on_success();
      return UploadResult::kSent;
    }
    case UploadVerdict::kBisect: {
      policy_.on_success();  // the server answered: no backoff, narrow it down
      if (batch.size() == 1) {
        Status s = store_->remove(ids);
        if (!s) log(LogLevel::kWarn, "could not delete a rejected event: " + s.to_string());
        count_drop(DropReason::kServerRejected, 1);
        log(LogLevel::kWarn, "the server rejected an event with HTTP " +
                                 std::to_string(resp.status_code) + "; it is dropped");
        batches_.pop_front();
        return UploadResult::kDropped;
      }
      std::size_t half = batch.size() / 2;
      Batch second(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(half)),
                   std::make_move_iterator(batch.end()));
      batch.resize(half);
      batches_.insert(batches_.begin() + 1, std::move(second));
      return UploadResult::kBisected;
    }
    case UploadVerdict::kRetry:
      break;
  }
  if (!retrying) claim();
  retried_.fetch_add(1);
  last_error_ = resp.status_code == 0 ? "network error: " + resp.error
                                      : "HTTP " + std::to_string(resp.status_code);
  auto delay = policy_.on_failure(clock_->monotonic(), resp.retry_after, base::random_u64());
  log(LogLevel::kWarn,
      "upload failed (" + last_error_ + "); retrying in " + std::to_string(delay.count()) + " ms");
  return UploadResult::kFailed;
}

}  // namespace tern
