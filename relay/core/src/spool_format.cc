#include "spool_format.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "crc32c.h"
#include "tern/relay/spool.h"

namespace tern::relay::spool_format {
namespace {

constexpr char kMagic[8] = {'T', 'E', 'R', 'N', '-', 'S', 'E', 'G'};

uint16_t get16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
template <typename T>
void put(std::string& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}

uint32_t crc_of(const char* p, std::size_t n) { return crc32c(0, p, n); }

// zlib's CRC-32, which relays before CRC-32C wrote (version 0 segments only).
bool zlib_crc_matches(const char* p, std::size_t n, uint32_t want) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc) == want;
}

}  // namespace

std::string segment_header() {
  std::string h(kMagic, sizeof kMagic);
  put<uint32_t>(h, kSegmentVersion);
  put<uint32_t>(h, 0);
  return h;
}

uint32_t segment_version(std::string_view head) {
  if (head.size() < kSegmentHeaderBytes || std::memcmp(head.data(), kMagic, sizeof kMagic) != 0) {
    return 0;
  }
  return get32(head.data() + 8);
}

uint64_t segment_data_start(uint32_t version) { return version == 0 ? 0 : kSegmentHeaderBytes; }

std::string segment_name(uint64_t first_seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "seg-%020" PRIu64 ".log", first_seq);
  return buf;
}

bool parse_segment_name(const char* name, uint64_t* first_seq) {
  std::size_t n = std::strlen(name);
  if (n != 4 + 20 + 4 || std::strncmp(name, "seg-", 4) != 0 ||
      std::strcmp(name + 24, ".log") != 0) {
    return false;
  }
  uint64_t v = 0;
  for (int i = 4; i < 24; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *first_seq = v;
  return true;
}

void begin_record(std::string& buf, std::string_view source, std::string_view type) {
  put<uint32_t>(buf, 0);  // CRC, at commit
  put<uint32_t>(buf, 0);  // length, at finish_record()
  put<uint64_t>(buf, 0);  // sequence number, at commit
  put<uint16_t>(buf, static_cast<uint16_t>(source.size()));
  put<uint16_t>(buf, static_cast<uint16_t>(type.size()));
  buf += source;
  buf += type;
}

std::size_t finish_record(std::string& buf, std::size_t start) {
  const std::size_t body = buf.size() - start - kRecordHeaderBytes;
  const auto len = static_cast<uint32_t>(std::min<std::size_t>(body, UINT32_MAX));
  std::memcpy(&buf[start + 4], &len, 4);
  return body;
}

std::string_view record_type(const char* p) {
  return std::string_view(p + kRecordHeaderBytes + get16(p + 16), get16(p + 18));
}

std::string_view record_event(const char* p) {
  const std::size_t skip = std::size_t{get16(p + 16)} + get16(p + 18);
  return std::string_view(p + kRecordHeaderBytes + skip, get32(p + 4) - skip);
}

void seal_record(char* p, uint64_t seq) {
  std::memcpy(p + 8, &seq, 8);
  const uint32_t crc = crc_of(p + 4, kRecordHeaderBytes - 4 + get32(p + 4));
  std::memcpy(p, &crc, 4);
}

Check check_for(uint32_t version) { return version == 0 ? Check::kCrc32cOrZlib : Check::kCrc32c; }

Parse parse_record(const char* p, std::size_t n, SpoolRecord* rec, std::size_t* len, Check check) {
  if (n < kRecordHeaderBytes) {
    *len = kRecordHeaderBytes;
    return Parse::kNeedMore;
  }
  uint32_t body = get32(p + 4);
  uint16_t src_len = get16(p + 16);
  uint16_t type_len = get16(p + 18);
  if (body > kMaxRecordLen || static_cast<uint32_t>(src_len) + type_len > body) return Parse::kBad;
  *len = kRecordHeaderBytes + body;
  if (n < *len) return Parse::kNeedMore;
  if (check != Check::kNone) {
    const uint32_t want = get32(p);
    if (crc_of(p + 4, *len - 4) != want &&
        !(check == Check::kCrc32cOrZlib && zlib_crc_matches(p + 4, *len - 4, want))) {
      return Parse::kBad;
    }
  }
  if (rec) {
    const char* strings = p + kRecordHeaderBytes;
    rec->seq = get64(p + 8);
    rec->source_id = std::string_view(strings, src_len);
    rec->type = std::string_view(strings + src_len, type_len);
    rec->event = std::string_view(strings + src_len + type_len, body - src_len - type_len);
  }
  return Parse::kOk;
}

}  // namespace tern::relay::spool_format
