#include "s3_upload.h"

#include "s3_layout.h"
#include "tern/relay/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tern::relay::s3 {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

UploadOutcome failed(S3Response r) {
  UploadOutcome out;
  out.result = r.failure == S3Failure::kRetry ? UploadResult::kRetry : UploadResult::kPause;
  // The client's messages name the call and the key already.
  out.message = r.status.message();
  out.response = std::move(r);
  return out;
}

UploadOutcome confirmed(S3Response r) {
  UploadOutcome out;
  out.result = UploadResult::kConfirmed;
  out.response = std::move(r);
  return out;
}

// After a 412: is the object under the key ours?
UploadOutcome settle_existing(S3Client& client, const ObjectRecord& o, S3Response put) {
  S3Response head = client.head_object(o.key);
  if (head.failure != S3Failure::kNone) return failed(std::move(head));
  auto header = [&](const char* name) {
    auto it = head.headers.find(name);
    return it == head.headers.end() ? std::string() : it->second;
  };
  const std::string length = header("content-length");
  const std::string sha = header("x-amz-meta-sha256");
  if (length == std::to_string(o.bytes) && sha == o.sha256_hex) return confirmed(std::move(put));
  UploadOutcome out;
  out.result = UploadResult::kPause;
  out.message = client.describe(o.key) + ": a different object already has this key (size " +
                (length.empty() ? "?" : length) + ", sha256 " + (sha.empty() ? "none" : sha) +
                "; ours: size " + std::to_string(o.bytes) + ", sha256 " + o.sha256_hex +
                "); it is not overwritten and the events stay in the spool";
  out.response = std::move(head);
  return out;
}

PutOptions options_for(const ObjectRecord& o, const UploadSettings& s) {
  PutOptions put = s.put;
  put.metadata["sha256"] = o.sha256_hex;
  put.metadata["events"] = std::to_string(o.events);
  put.metadata["first-seq"] = std::to_string(o.first_seq);
  put.metadata["last-seq"] = std::to_string(o.last_seq);
  put.if_none_match = true;
  return put;
}

}  // namespace

std::string retry_cause(const S3Response& r) {
  if (r.code == "SlowDown") return "slowdown";
  if (r.http_status == 429) return "throttled";
  if (r.http_status >= 500) return "5xx";
  if (r.http_status == 0) return r.status.code() == StatusCode::kTimeout ? "timeout" : "connection";
  return "other";
}

UploadOutcome upload_object(S3Client& client, S3State& state, const ObjectRecord& o,
                            const UploadSettings& s) {
  if (!o.upload_id.empty()) {
    // A multipart upload left by an earlier attempt or process: never resumed
    // (its parts' bytes are not known to be ours), always aborted first.
    S3Response r = client.abort_multipart_upload(o.key, o.upload_id);
    if (r.failure != S3Failure::kNone && r.http_status != 404) return failed(std::move(r));
    Status st = state.set_upload_id(o.key, "");
    if (!st) {
      UploadOutcome out;
      out.result = UploadResult::kRetry;
      out.message = st.message();
      return out;
    }
  }
  Fd fd(::open(o.staging_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    // Nothing to send: the store may hold it already (confirmed just before a
    // crash lost the state's mark); otherwise a person must look.
    int err = errno;
    S3Response head = client.head_object(o.key);
    if (head.failure == S3Failure::kNone && head.headers["x-amz-meta-sha256"] == o.sha256_hex)
      return confirmed(std::move(head));
    UploadOutcome out;
    out.result = UploadResult::kPause;
    out.message = client.describe(o.key) + ": its staging file " + o.staging_path +
                  " cannot be read: " + std::strerror(err);
    out.response = std::move(head);
    return out;
  }
  const PutOptions put = options_for(o, s);
  if (o.bytes <= s.multipart_threshold) {
    S3Response r = client.put_object(o.key, fd.get(), 0, o.bytes, o.sha256_hex, put);
    if (r.failure == S3Failure::kNone) return confirmed(std::move(r));
    if (r.failure == S3Failure::kPrecondition) return settle_existing(client, o, std::move(r));
    return failed(std::move(r));
  }

  std::string upload_id;
  S3Response r = client.create_multipart_upload(o.key, put, &upload_id);
  if (r.failure != S3Failure::kNone) return failed(std::move(r));
  // Recorded before any part is sent: a crash from here on leaves an id the
  // next start aborts.
  Status st = state.set_upload_id(o.key, upload_id);
  if (!st) {
    (void)client.abort_multipart_upload(o.key, upload_id);
    UploadOutcome out;
    out.result = UploadResult::kRetry;
    out.message = st.message();
    return out;
  }
  auto give_up = [&](UploadOutcome out) {
    S3Response a = client.abort_multipart_upload(o.key, upload_id);
    if (a.failure == S3Failure::kNone || a.http_status == 404) (void)state.set_upload_id(o.key, "");
    return out;
  };
  std::vector<std::string> etags;
  int part = 1;
  for (uint64_t off = 0; off < o.bytes; off += s.part_size, ++part) {
    const uint64_t len = std::min<uint64_t>(s.part_size, o.bytes - off);
    auto sha = sha256_file_range(fd.get(), off, len);
    if (!sha) {
      UploadOutcome out;
      out.result = UploadResult::kRetry;
      out.message = sha.status().message();
      return give_up(std::move(out));
    }
    std::string etag;
    S3Response pr = client.upload_part(o.key, upload_id, part, fd.get(), off, len, *sha, &etag);
    if (pr.failure != S3Failure::kNone) return give_up(failed(std::move(pr)));
    etags.push_back(std::move(etag));
  }
  S3Response done = client.complete_multipart_upload(o.key, upload_id, etags, true);
  if (done.failure == S3Failure::kNone) return confirmed(std::move(done));
  if (done.failure == S3Failure::kPrecondition) {
    UploadOutcome out = settle_existing(client, o, std::move(done));
    return give_up(std::move(out));
  }
  return give_up(failed(std::move(done)));
}

UploadOutcome abort_leftover_uploads(S3Client& c, const std::string& prefix,
                                     const std::string& relay_id) {
  std::vector<MultipartUpload> uploads;
  S3Response listed = c.list_multipart_uploads(prefix.empty() ? "" : prefix + "/", &uploads);
  if (listed.failure != S3Failure::kNone) return failed(std::move(listed));
  for (const auto& u : uploads) {
    if (!is_object_key_of(prefix, relay_id, u.key)) continue;
    S3Response r = c.abort_multipart_upload(u.key, u.upload_id);
    if (r.failure != S3Failure::kNone && r.http_status != 404) return failed(std::move(r));
    log::info("s3 sink: aborted a multipart upload left by an earlier run", {{"key", u.key}});
  }
  UploadOutcome out;
  out.result = UploadResult::kConfirmed;
  return out;
}

}  // namespace tern::relay::s3
