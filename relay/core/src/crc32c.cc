#include "crc32c.h"

#include <boost/crc.hpp>

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <arm_acle.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tern::relay {
namespace {

using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

#if defined(__x86_64__)
#define TERN_CRC32C_HW 1
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const void* data,
                                                     std::size_t n) {
  auto p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}
bool detect() { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__) && defined(__linux__)
#define TERN_CRC32C_HW 1
__attribute__((target("+crc"))) uint32_t crc32c_hw(uint32_t crc, const void* data, std::size_t n) {
  auto p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __crc32cd(c, v);
  }
  for (; n > 0; --n, ++p) c = __crc32cb(c, *p);
  return ~c;
}
bool detect() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#endif

#ifdef TERN_CRC32C_HW
const bool kHardware = detect();
#else
const bool kHardware = false;
#endif

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const void* p, std::size_t n) {
  // Boost takes the initial remainder unreflected: a continued checksum
  // starts from the previous one with the final XOR undone, bit-reversed.
  uint32_t reg = crc ^ 0xFFFFFFFFu, init = 0;
  for (int i = 0; i < 32; ++i, reg >>= 1) init = (init << 1) | (reg & 1u);
  Crc32c c(init);
  c.process_bytes(p, n);
  return c.checksum();
}

uint32_t crc32c(uint32_t crc, const void* p, std::size_t n) {
#ifdef TERN_CRC32C_HW
  if (kHardware) return crc32c_hw(crc, p, n);
#endif
  return crc32c_portable(crc, p, n);
}

bool crc32c_hardware() { return kHardware; }

}  // namespace tern::relay
