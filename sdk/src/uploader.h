// The uploader: what the worker does to send one batch. Engine::upload_one
// (uploader.cc) reads the oldest events, checks the batch's retry budget,
// records the attempt (the "claim"), sends the request and acts on the
// server's verdict: delete, bisect or back off.
//
// These helpers are pure: no store, no transport, no counters.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store.h"
#include "tern/config.h"
#include "tern/transport.h"

namespace tern {

// The retry budget of a batch: spent once any of its events has been
// attempted config.max_attempts times, or was first attempted more than
// config.max_batch_age before `now_ms`.
struct RetryBudget {
  bool spent = false;
  int attempts = 0;  // the most attempts any event of the batch has had
};
RetryBudget retry_budget(const std::vector<StoredEvent>& batch, const Config& config,
                         int64_t now_ms);

// The request that sends `batch` to `url`: the batch body with sentAt `now`,
// gzipped when config.gzip asks for it and compression works.
HttpRequest make_batch_request(const std::vector<StoredEvent>& batch, const std::string& url,
                               const Config& config, std::chrono::system_clock::time_point now);

// Per-event rejections in a 2xx answer's body,
// {"rejected":[{"index":i,"reason":"..."},...]}: one entry per distinct index
// inside the batch, in the order the server listed them; entries that are not
// objects with an integer index are ignored. A body that is not JSON has none.
struct RejectedEvent {
  std::size_t index;
  std::string reason;  // "unspecified" when the server gave none
};
std::vector<RejectedEvent> parse_rejections(const std::string& body, std::size_t batch_size);

}  // namespace tern
