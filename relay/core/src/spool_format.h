// The spool's on-disk format: segment files, their header, and the records
// in them. Private to the spool (spool_batch.cc encodes records,
// spool_writer.cc seals and recovers them, spool_reader.cc decodes them).
//
// A segment file <dir>/seg-<first seq, 20 digits>.log is
//   header (kSegmentHeaderBytes) | record | record | ...
// and a header is
//   magic "TERN-SEG" (8 bytes) | version u32 | reserved u32 (0)
// A record is
//   crc u32 | len u32 | seq u64 | source_len u16 | type_len u16 | source | type | event
// where len counts source + type + event and the CRC covers everything after
// itself. Integers are little-endian.
//
// Versions:
//   0  a file without a header: every segment written before segments had
//      one, records from offset 0. Its records carry CRC-32C or, if an older
//      relay wrote them, zlib's CRC-32 (both may be in one segment: a relay
//      upgraded across that change appended to the segment the old one left),
//      so both are accepted, and only in such a segment.
//   1  the header above; records carry CRC-32C (crc32c.h) only.
// A version-0 file cannot be mistaken for a header: its first record's top
// length byte (offset 7) is at most 0x04 (records are at most 64 MiB), the
// magic's is 'G'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::relay {
struct SpoolRecord;
}

namespace tern::relay::spool_format {

constexpr uint32_t kSegmentVersion = 1;  // what this relay writes
constexpr std::size_t kSegmentHeaderBytes = 16;
constexpr std::size_t kRecordHeaderBytes = 20;
constexpr uint32_t kMaxRecordLen = 64u << 20;  // sanity bound; events are ≤ a few MiB

// The header of a segment this relay writes.
std::string segment_header();
// The version of a segment whose file starts with `head` (its first
// kSegmentHeaderBytes bytes, or the whole file if shorter): the header's
// version, 0 when the file does not start with a header.
uint32_t segment_version(std::string_view head);
// Where a segment's first record begins in its file.
uint64_t segment_data_start(uint32_t version);

// seg-<first_seq>.log, and back (false for any other file name).
std::string segment_name(uint64_t first_seq);
bool parse_segment_name(const char* name, uint64_t* first_seq);

// Encoding, for SpoolBatch: appends the header of a record of `source` and
// `type` (CRC, length and sequence number left 0) and the two strings; the
// caller appends the event and then calls finish_record() with where the
// record began. finish_record() returns the record's length field (source +
// type + event bytes; past kMaxRecordLen the batch must be refused).
void begin_record(std::string& buf, std::string_view source, std::string_view type);
std::size_t finish_record(std::string& buf, std::size_t start);
// The type and event of the encoded record at p.
std::string_view record_type(const char* p);
std::string_view record_event(const char* p);

// Fills in an encoded record's sequence number, then its CRC-32C.
void seal_record(char* p, uint64_t seq);

enum class Parse { kOk, kNeedMore, kBad };

// How parse_record() checks a record's CRC.
enum class Check {
  kCrc32c,        // version 1 segments
  kCrc32cOrZlib,  // version 0 segments (see the top of this file)
  kNone,          // a commit kept in memory: those bytes never left the process
};
// The check for records of a segment of `version`.
Check check_for(uint32_t version);

// Parses the record at p[0..n). On kOk, *len is its full size. kNeedMore
// means the header says it is longer than n (want *len bytes); kBad, that the
// header is impossible or the CRC does not match. rec (may be null) gets the
// record's sequence number and views into p; the caller sets rec->storage to
// what holds p, and rec->end.
Parse parse_record(const char* p, std::size_t n, SpoolRecord* rec, std::size_t* len, Check check);

}  // namespace tern::relay::spool_format
