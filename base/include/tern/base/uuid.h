// UUIDs (RFC 9562): version 7 (48-bit Unix ms timestamp, then random bits)
// for message ids, version 4 (all random) for other ids.
//
// The random bits come from a per-thread xoshiro256** generator seeded once
// per process from the OS (std::random_device), so generating an id makes no
// syscall and takes no lock.
#pragma once

#include <cstdint>
#include <string>

namespace tern::base {

// Appends the 36-character canonical text form of a new UUIDv7.
void append_uuid_v7(std::string& out, int64_t unix_ms);
std::string uuid_v7(int64_t unix_ms);

// A random (version 4) UUID, for anonymous and generated ids.
std::string uuid_v4();

// A uniformly random 64-bit value from the same per-thread generator.
uint64_t random_u64();

}  // namespace tern::base
