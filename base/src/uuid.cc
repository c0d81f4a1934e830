#include "tern/base/uuid.h"

#include <atomic>
#include <mutex>
#include <random>

namespace tern::base {
namespace {

uint64_t process_seed() {
  static uint64_t seed = [] {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    // Fuzz builds only (tests/fuzz/fuzz_build.cmake): the same ids in every
    // run, so two fuzz runs with the same -seed execute the same inputs.
    return uint64_t{0x7e5e7e5e7e5e7e5e};
#else
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
#endif
  }();
  return seed;
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

struct Xoshiro {
  uint64_t s[4];
  Xoshiro() {
    static std::atomic<uint64_t> stream{0};
    uint64_t x = process_seed() ^ (stream.fetch_add(1) * 0xD1B54A32D192ED03ull);
    for (auto& v : s) v = splitmix64(x);
  }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

Xoshiro& generator() {
  thread_local Xoshiro g;
  return g;
}

}  // namespace

uint64_t random_u64() { return generator().next(); }

void append_uuid_v7(std::string& out, int64_t unix_ms) {
  static const char kHex[] = "0123456789abcdef";
  unsigned char b[16];
  uint64_t ts = static_cast<uint64_t>(unix_ms) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ts >> (40 - 8 * i));
  uint64_t r1 = random_u64();
  uint64_t r2 = random_u64();
  b[6] = static_cast<unsigned char>(0x70 | (r1 & 0x0F));
  b[7] = static_cast<unsigned char>(r1 >> 8);
  b[8] = static_cast<unsigned char>(0x80 | ((r1 >> 16) & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(r2 >> (8 * (i - 9)));
  char buf[36];
  int j = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buf[j++] = '-';
    buf[j++] = kHex[b[i] >> 4];
    buf[j++] = kHex[b[i] & 0xF];
  }
  out.append(buf, 36);
}

std::string uuid_v4() {
  // A v7 layout with the timestamp replaced by random bits, then version 4.
  std::string s;
  append_uuid_v7(s, static_cast<int64_t>(random_u64() & 0xFFFFFFFFFFFFull));
  s[14] = '4';
  return s;
}

std::string uuid_v7(int64_t unix_ms) {
  std::string s;
  append_uuid_v7(s, unix_ms);
  return s;
}

}  // namespace tern::base
