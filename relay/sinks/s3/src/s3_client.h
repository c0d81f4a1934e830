// S3Client: the S3 REST calls the s3 sink makes, over one reused libcurl
// handle, signed with AWS SigV4 by libcurl (CURLOPT_AWS_SIGV4) with the
// x-amz-content-sha256 header set here (curl 7.88 does not add it). Works
// against AWS and S3-compatible stores (MinIO, Ceph, R2, GCS, moto):
// `endpoint` overrides the host, `path_style` puts the bucket in the path.
//
// Every call returns an S3Response; none throws or logs. An ExpiredToken
// (or InvalidToken) answer also invalidates the CredentialProvider's cached
// credentials, so the next call fetches new ones. Bodies are streamed
// from a file descriptor (no copy of an object in memory). Error messages
// carry the HTTP status, S3's error Code and Message and the request id, never
// a credential.
//
// Threads: one S3Client per thread (it owns a curl handle); the
// CredentialProvider is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws_credentials.h"
#include "tern/base/status.h"

namespace tern::relay::s3 {

struct S3Options {
  std::string bucket;
  std::string region = "us-east-1";
  // "http://127.0.0.1:9000", "https://s3.example.com"; empty: AWS's
  // https://s3.{region}.amazonaws.com (virtual-hosted unless path_style).
  // An endpoint given as an IP address, or a bucket name that is no DNS
  // label, is always addressed path style.
  std::string endpoint;
  bool path_style = false;
  std::chrono::milliseconds connect_timeout{5000};
  // A request is abandoned (kTimeout, S3Failure::kRetry) when it
  // moves fewer than 1 KiB/s for this long; no total cap (objects are big).
  // Whole seconds (curl's granularity), at least one.
  std::chrono::milliseconds stall_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};  // calls without a body
  // Entries per page of list_objects (max-keys) and list_multipart_uploads
  // (max-uploads); S3 caps both at 1000. Tests make pages small.
  int list_page_size = 1000;
};

// How the sink should react to a failed call.
enum class S3Failure {
  kNone,          // 2xx
  kRetry,         // 5xx, 503 SlowDown, 429, timeouts, connection errors: back off and retry
  kPrecondition,  // 412: If-None-Match: * found the object already there
  kPause,         // 403, 404 NoSuchBucket, 400 ExpiredToken/InvalidAccessKeyId, other 4xx:
                  // needs a person (or a refreshed credential); retry slowly, never drop
};

struct S3Response {
  Status status;  // ok for 2xx; otherwise a message as described above
  S3Failure failure = S3Failure::kNone;
  long http_status = 0;  // 0: no answer (connection refused, reset, timed out)
  std::string code;      // S3's error Code ("NoSuchBucket", "SlowDown", "ExpiredToken")
  std::string etag;      // the ETag header, quotes included
  // Response headers, names lowercased (HEAD: content-length, x-amz-meta-*).
  std::map<std::string, std::string> headers;
  std::string body;  // the response body (error XML, list XML), capped at 1 MiB
};

struct PutOptions {
  std::string content_type = "application/x-ndjson";
  std::string content_encoding;        // e.g. "gzip" (empty: none sent)
  std::string storage_class;           // x-amz-storage-class, empty: none sent
  std::string server_side_encryption;  // x-amz-server-side-encryption ("AES256", "aws:kms")
  std::string sse_kms_key_id;          // x-amz-server-side-encryption-aws-kms-key-id
  std::map<std::string, std::string> metadata;  // x-amz-meta-<name>: value
  bool if_none_match = false;                   // sends If-None-Match: * (412 when the key exists)
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
};

class S3Client {
 public:
  S3Client(S3Options options, std::shared_ptr<CredentialProvider> credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // PUT of bytes [offset, offset + length) of `fd` (pread; the fd's offset is
  // not moved). `sha256_hex` is the body's SHA-256 (64 lowercase hex digits).
  // A failed read of `fd`, or a file shorter than the range, is a kIOError
  // status (S3Failure::kRetry, http_status 0); so for upload_part.
  S3Response put_object(const std::string& key, int fd, uint64_t offset, uint64_t length,
                        const std::string& sha256_hex, const PutOptions& options);
  // PUT of a small in-memory body (manifests, markers).
  S3Response put_object(const std::string& key, std::string_view body, const PutOptions& options);
  S3Response head_object(const std::string& key);
  S3Response get_object(const std::string& key);  // body capped as above; for small objects
  S3Response head_bucket();
  // PUT Bucket (with a LocationConstraint outside us-east-1). For tests and
  // tools: the sink never creates its bucket.
  S3Response create_bucket();

  // Multipart: parts are numbered from 1; every part but the last must be at
  // least 5 MiB on AWS.
  S3Response create_multipart_upload(const std::string& key, const PutOptions& options,
                                     std::string* upload_id);
  S3Response upload_part(const std::string& key, const std::string& upload_id, int part_number,
                         int fd, uint64_t offset, uint64_t length, const std::string& sha256_hex,
                         std::string* etag);
  // `etags[i]` is part i+1's ETag. With if_none_match, 412 when the key exists.
  S3Response complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                       const std::vector<std::string>& etags, bool if_none_match);
  S3Response abort_multipart_upload(const std::string& key, const std::string& upload_id);
  // The multipart uploads in progress under `prefix` (all pages).
  S3Response list_multipart_uploads(const std::string& prefix, std::vector<MultipartUpload>* out);
  // Keys under `prefix` (all pages; ListObjectsV2). For tests and tools.
  S3Response list_objects(const std::string& prefix, std::vector<std::string>* keys);

  // "s3://bucket/key" for logs.
  std::string describe(const std::string& key) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The SHA-256 of bytes [offset, offset + length) of `fd`, as 64 lowercase hex
// digits (pread in 1 MiB chunks).
Result<std::string> sha256_file_range(int fd, uint64_t offset, uint64_t length);

}  // namespace tern::relay::s3
