// S3State: the s3 sink's durable record of its objects, in SQLite
// (<data_dir>/s3/<sink>/state.db, WAL, synchronous=FULL).
//
// An object is recorded as sealed — its key, partition, the spool range it
// covers and its size and checksum — in one transaction after its staging
// file is fdatasync'ed and before its upload starts; it is marked uploaded
// once the store confirms it. After a crash, sealed objects are uploaded
// again from their staging files under the same keys, and replayed spool
// records that fall in a recorded object's range for their partition are
// skipped: no event is written to two objects.
//
// Threads: every method is thread-safe (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tern/base/status.h"

namespace tern::relay::s3 {

// Where an event goes: its source and its UTC hour.
struct Partition {
  std::string source;
  std::string date;  // "YYYY-MM-DD"
  int hour = 0;      // 0..23
  bool operator<(const Partition& o) const;
  bool operator==(const Partition& o) const;
};

struct ObjectRecord {
  std::string key;
  Partition partition;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t events = 0;
  uint64_t bytes = 0;  // compressed size
  std::string sha256_hex;
  std::string min_received_at;  // ISO-8601, as in the events
  std::string max_received_at;
  std::string staging_path;  // the local file holding its bytes
  bool uploaded = false;
  std::string upload_id;  // a multipart upload in progress, else empty
};

class S3State {
 public:
  // Opens or creates the database (and its directory).
  static Result<std::unique_ptr<S3State>> open(const std::string& path);
  ~S3State();

  Status record_sealed(const ObjectRecord& object);
  Status mark_uploaded(const std::string& key);
  Status set_upload_id(const std::string& key, const std::string& upload_id);  // "" clears
  // Objects sealed and not uploaded, oldest first.
  Result<std::vector<ObjectRecord>> pending_uploads();
  // Does a recorded object of `partition` cover `seq` (first_seq <= seq <= last_seq)?
  Result<bool> covers(const Partition& partition, uint64_t seq);
  // Every recorded object of `partition` (for its manifest), by first_seq.
  Result<std::vector<ObjectRecord>> objects_of(const Partition& partition);
  // Partitions with objects and no marker yet, oldest hour first.
  Result<std::vector<Partition>> partitions_without_marker();
  Status mark_marker_written(const Partition& partition);
  Result<bool> marker_written(const Partition& partition);
  // Forgets uploaded objects whose partition has its marker and whose range
  // ends at or before `seq` (the spool cursor no longer replays them).
  Status forget_through(uint64_t seq);

 private:
  S3State() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay::s3
