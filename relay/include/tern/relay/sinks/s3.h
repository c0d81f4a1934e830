// The "s3" sink: the data lake. Events go to an S3-compatible bucket (AWS,
// MinIO, Ceph, Cloudflare R2, GCS's S3 interface) as gzip NDJSON objects, one
// event per line exactly as the spool holds it, partitioned by source and UTC
// hour, each object written exactly once under a name made of the spool
// sequence numbers it covers:
//
//   {prefix}/{source}/dt=YYYY-MM-DD/hour=HH/{relay_id}-{first_seq:020}-{last_seq:020}.ndjson.gz
//
// then, once an hour has ended and `marker_grace` passed,
//   _manifests/{source}/dt=YYYY-MM-DD/hour=HH/{relay_id}.json   (at the bucket's root)
//   {prefix}/{source}/dt=YYYY-MM-DD/hour=HH/_SUCCESS.{relay_id}
//
// Settings (SinkConfig::settings):
//   bucket                  the bucket (required)
//   prefix                  key prefix, no leading or trailing "/" (default "events")
//   region                  (default AWS_REGION, else AWS_DEFAULT_REGION, else "us-east-1")
//   endpoint                custom endpoint URL (MinIO, Ceph, R2, ...)
//   path_style              bucket in the path, not the host (default false)
//   max_object_bytes        seal an object at this compressed size (default "64MiB")
//   max_object_age          seal an object this old (default "5m")
//   partition               "received" (relay's receive time, UTC) or "event" (the
//                           event's timestamp) (default "received")
//   gzip_level              1..9 (default 6)
//   storage_class           x-amz-storage-class (default: none sent)
//   server_side_encryption  "AES256" or "aws:kms" (default: none sent)
//   sse_kms_key_id          with aws:kms
//   marker_grace            wait after an hour ends before its markers (default "10m")
//   max_concurrent_uploads  uploads in flight at once (default 4)
//   multipart_threshold     single PUT up to this size, multipart above (default "64MiB")
//   part_size               multipart part size, at least 5 MiB on AWS (default "8MiB")
//   access_key_id, secret_access_key, session_token, profile,
//   assume_role, external_id, role_session_name
//                           credentials (see docs: the AWS chain is used when unset)
//
// Durability: the spool cursor moves past an event only once the object
// holding it is confirmed by the store; the sealed ranges are kept in
// <data_dir>/s3/<sink>/state.db with the objects' staging files.
#pragma once

#include <memory>

#include "tern/relay/sink_registry.h"

namespace tern::relay {

Result<std::unique_ptr<Sink>> make_s3_sink(const SinkConfig& config, const SinkContext& ctx);

}  // namespace tern::relay
