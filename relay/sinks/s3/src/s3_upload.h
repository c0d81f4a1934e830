// One sealed object of the s3 sink to the bucket, from its staging file:
// a single PUT up to multipart_threshold, a multipart upload above it, both
// with If-None-Match: * so an object is never overwritten. A 412 (the key is
// there already: an upload the sink did not live to confirm, before a crash)
// is settled by a HEAD: the same size and SHA-256 confirm it; anything else is
// a conflict that needs a person.
//
// Threads: upload_object() runs on an uploader thread with that thread's own
// S3Client; S3State is thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "s3_client.h"
#include "s3_state.h"

namespace tern::relay::s3 {

struct UploadSettings {
  PutOptions put;  // content type, storage class, SSE (metadata is added per object)
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 8ull << 20;
};

enum class UploadResult {
  kConfirmed,  // the store holds the object: 200, or 412 with a matching HEAD
  kRetry,      // back off and try again (5xx, SlowDown, timeouts, connections)
  kPause,      // needs a person or a new credential (403, NoSuchBucket, ...), or a
               // conflicting object under the key; retry slowly, never drop
};

struct UploadOutcome {
  UploadResult result = UploadResult::kRetry;
  // The call that decided it (its failure, http status and S3 error code).
  S3Response response;
  // For a failure: what went wrong, naming the key ("s3://bucket/key: ...").
  std::string message;
};

// Uploads `object` (its staging file, size and checksum). A multipart upload
// id is recorded in `state` before parts are sent; one recorded earlier
// (object.upload_id) is aborted first.
UploadOutcome upload_object(S3Client& client, S3State& state, const ObjectRecord& object,
                            const UploadSettings& settings);

// At start: aborts the multipart uploads in progress under `prefix` whose
// keys are this relay's objects (none is left open across a restart).
// kConfirmed when every one is gone.
UploadOutcome abort_leftover_uploads(S3Client& client, const std::string& prefix,
                                     const std::string& relay_id);

// The retry counter's cause for a kRetry response: "slowdown", "throttled",
// "5xx", "timeout" or "connection" (else "other").
std::string retry_cause(const S3Response& response);

}  // namespace tern::relay::s3
