// The s3 sink's parts that meet in make_s3_sink(): its validated settings
// (s3_settings.cc reads them from SinkConfig) and the sink built from them
// (s3_sink.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "aws_credentials.h"
#include "s3_client.h"
#include "s3_upload.h"
#include "tern/relay/clock.h"
#include "tern/relay/metrics.h"
#include "tern/relay/sink.h"

namespace tern::relay {

struct S3SinkOptions {
  std::string name;
  std::string bucket;
  std::string prefix;
  std::string relay_id;
  std::string data_dir;  // <data_dir>/s3/<sink>
  s3::S3Options s3;
  uint64_t max_object_bytes = 64ull << 20;
  std::chrono::milliseconds max_object_age{5 * 60 * 1000};
  bool partition_by_event = false;
  int gzip_level = 6;
  std::chrono::milliseconds marker_grace{10 * 60 * 1000};
  int max_concurrent_uploads = 4;
  s3::UploadSettings upload;
  s3::CredentialOptions credentials;
  // A connection test (SinkContext::probe): open() and health() only check
  // that the bucket answers; no state, staging files, threads or uploads.
  bool probe = false;
};

// An unopened sink (its threads start in open()).
std::unique_ptr<Sink> new_s3_sink(S3SinkOptions options,
                                  std::shared_ptr<s3::CredentialProvider> credentials,
                                  Metrics& metrics, const Clock& clock);

}  // namespace tern::relay
