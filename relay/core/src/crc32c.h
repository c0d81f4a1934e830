// CRC-32C (Castagnoli), the checksum of every spool record.
//
// CRC-32C rather than zlib's CRC-32 because CPUs compute it in hardware
// (SSE4.2 on x86-64, the CRC extension on ARMv8): about 8 bytes per cycle
// instead of zlib's table-driven ~1-2, and the relay checksums every byte it
// spools twice (once when writing, once when a sink reads it back). The
// hardware path is chosen at run time; without it the portable one
// (Boost.CRC's table-driven implementation) gives the same values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern::relay {

// CRC-32C of p[0..n) continued from `crc` (0 to start): crc32c(crc32c(0, a), b) == crc32c(0, ab).
uint32_t crc32c(uint32_t crc, const void* p, std::size_t n);

// The portable implementation, for tests comparing it with the hardware one.
uint32_t crc32c_portable(uint32_t crc, const void* p, std::size_t n);

// Whether crc32c() uses a CPU instruction on this machine.
bool crc32c_hardware();

}  // namespace tern::relay
