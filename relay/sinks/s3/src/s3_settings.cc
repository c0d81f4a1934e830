// make_s3_sink(): the s3 sink's settings (tern/relay/sinks/s3.h), each
// validated here so a bad one fails the config, not the first upload.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "s3_sink_options.h"
#include "tern/base/curl_global.h"
#include "tern/relay/sink_settings.h"
#include "tern/relay/sinks/s3.h"

namespace tern::relay {
namespace {

using std::chrono::milliseconds;

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "relay";
  return buf;
}

std::string env_or(const char* a, const char* b, const char* def) {
  for (const char* n : {a, b}) {
    const char* v = std::getenv(n);
    if (v && *v) return v;
  }
  return def;
}

}  // namespace

Result<std::unique_ptr<Sink>> make_s3_sink(const SinkConfig& config, const SinkContext& ctx) {
  base::curl_global_init_once();
  const std::string where = "sink \"" + config.name + "\" (s3): ";
  auto bad = [&](const std::string& msg) { return Status::InvalidArgument(where + msg); };
  SinkSettings s(config);
  S3SinkOptions o;
  o.name = config.name;
  o.bucket = s.str("bucket", "");
  o.prefix = s.str("prefix", "events");
  o.s3.region = s.str("region", env_or("AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1"));
  o.s3.endpoint = s.str("endpoint", "");
  o.s3.path_style = s.boolean("path_style", false);
  o.max_object_bytes = s.size("max_object_bytes", 64u << 20);
  o.max_object_age = s.duration("max_object_age", milliseconds(5 * 60 * 1000));
  const std::string partition = s.str("partition", "received");
  o.gzip_level = static_cast<int>(s.integer("gzip_level", 6, 1, 9));
  o.upload.put.storage_class = s.str("storage_class", "");
  o.upload.put.server_side_encryption = s.str("server_side_encryption", "");
  o.upload.put.sse_kms_key_id = s.str("sse_kms_key_id", "");
  o.marker_grace = s.duration("marker_grace", milliseconds(10 * 60 * 1000));
  o.max_concurrent_uploads = static_cast<int>(s.integer("max_concurrent_uploads", 4, 1, 64));
  o.upload.multipart_threshold = s.size("multipart_threshold", 64u << 20);
  o.upload.part_size = s.size("part_size", 8u << 20);
  o.credentials.access_key_id = s.str("access_key_id", "");
  o.credentials.secret_access_key = s.str("secret_access_key", "");
  o.credentials.session_token = s.str("session_token", "");
  o.credentials.profile = s.str("profile", "");
  o.credentials.assume_role = s.str("assume_role", "");
  o.credentials.external_id = s.str("external_id", "");
  o.credentials.role_session_name = s.str("role_session_name", "");
  Status st = s.finish();
  if (!st) return st;

  if (o.bucket.empty()) return bad("bucket is required");
  if (o.bucket.find('/') != std::string::npos)
    return bad("bucket must be a bucket name, not a path");
  if (!o.prefix.empty() && (o.prefix.front() == '/' || o.prefix.back() == '/'))
    return bad("prefix must not start or end with \"/\"");
  if (partition == "event") {
    o.partition_by_event = true;
  } else if (partition != "received") {
    return bad("partition must be \"received\" or \"event\"");
  }
  const std::string& sse = o.upload.put.server_side_encryption;
  if (!sse.empty() && sse != "AES256" && sse != "aws:kms")
    return bad("server_side_encryption must be \"AES256\" or \"aws:kms\"");
  if (!o.upload.put.sse_kms_key_id.empty() && sse != "aws:kms")
    return bad("sse_kms_key_id needs server_side_encryption = \"aws:kms\"");
  if (o.max_object_bytes < 1024) return bad("max_object_bytes must be at least 1KiB");
  if (o.max_object_age.count() <= 0) return bad("max_object_age must be positive");
  if (o.marker_grace.count() < 0) return bad("marker_grace must not be negative");
  // AWS wants parts of at least 5 MiB (but the last); smaller sizes are for
  // stores and tests that allow them.
  if (o.upload.part_size < 64 * 1024) return bad("part_size must be at least 64KiB (5MiB on AWS)");
  if (o.upload.multipart_threshold < o.upload.part_size)
    return bad("multipart_threshold must be at least part_size");
  // An object may end a little past max_object_bytes; S3 allows 10000 parts.
  if ((o.max_object_bytes + (o.max_object_bytes >> 3)) / o.upload.part_size >= 10000)
    return bad("part_size is too small for max_object_bytes (S3 allows 10000 parts)");
  if (!o.s3.endpoint.empty() && o.s3.endpoint.rfind("http://", 0) != 0 &&
      o.s3.endpoint.rfind("https://", 0) != 0)
    return bad("endpoint must start with http:// or https://");

  o.s3.bucket = o.bucket;
  o.relay_id = ctx.relay_id.empty() ? hostname() : ctx.relay_id;
  std::replace(o.relay_id.begin(), o.relay_id.end(), '/', '_');
  o.data_dir = ctx.data_dir + "/s3/" + config.name;
  o.upload.put.content_type = "application/x-ndjson";
  // Objects are .gz files, stored as such: no Content-Encoding: gzip, which
  // would make HTTP clients (and S3 consoles) inflate them on download while
  // their name and size say gzip.
  o.upload.put.content_encoding.clear();
  o.credentials.region = o.s3.region;
  o.probe = ctx.probe;
  auto creds = s3::make_credential_chain(o.credentials);
  if (!creds) return Status::InvalidArgument(where + creds.status().message());
  return new_s3_sink(std::move(o), std::move(*creds), *ctx.metrics, *ctx.clock);
}

}  // namespace tern::relay
