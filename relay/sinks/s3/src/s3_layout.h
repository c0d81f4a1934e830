// Where the s3 sink puts things: partitions from event times, and the keys
// of objects, manifests and markers.
//
//   {prefix}/{source}/dt=YYYY-MM-DD/hour=HH/{relay_id}-{first_seq:020}-{last_seq:020}.ndjson.gz
//   _manifests/{source}/dt=YYYY-MM-DD/hour=HH/{relay_id}.json   (at the bucket's root)
//   {prefix}/{source}/dt=YYYY-MM-DD/hour=HH/_SUCCESS.{relay_id}
//
// An empty prefix drops the leading "{prefix}/"; manifests are at the
// bucket's root, as the layout names them. Pure functions, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "s3_state.h"

namespace tern::relay::s3 {

using SysTime = std::chrono::system_clock::time_point;

// The UTC hour `t` falls in, for `source`.
Partition partition_at(std::string source, SysTime t);
// When a partition's hour starts and ends (UTC).
SysTime hour_start(const Partition& p);
inline SysTime hour_end(const Partition& p) { return hour_start(p) + std::chrono::hours(1); }

// The value of the event's top-level string member `name` (a JSON object's
// text as the spool holds it); empty when it has none or it is not a string.
// Escapes are not decoded (timestamps have none).
std::string_view top_level_string(std::string_view event, std::string_view name);
// The relay's own receivedAt: enrichment appends it after the client's
// members, so the last `"receivedAt":"` is the relay's.
std::string_view received_at_of(std::string_view event);

std::string partition_dir(const std::string& prefix, const Partition& p);
std::string object_key(const std::string& prefix, const Partition& p, const std::string& relay_id,
                       uint64_t first_seq, uint64_t last_seq);
std::string manifest_key(const Partition& p, const std::string& relay_id);
std::string success_key(const std::string& prefix, const Partition& p, const std::string& relay_id);
// The manifest of a partition's objects (one JSON object and a newline):
// relay_id, source, dt, hour, objects [{key, events, bytes, sha256,
// min_received_at, max_received_at, first_seq, last_seq}], events, bytes.
std::string manifest_json(const std::string& relay_id, const Partition& p,
                          const std::vector<ObjectRecord>& objects);
// Is `key` an object key this relay writes (under `prefix`)?
bool is_object_key_of(const std::string& prefix, const std::string& relay_id,
                      const std::string& key);

}  // namespace tern::relay::s3
