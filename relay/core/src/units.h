// The config file's units: sizes ("512KiB", "1GB", 1048576) and durations
// ("250ms", "10s", "5m"). Shared by the config reader and SinkSettings.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace tern::relay {

// Parses "250ms", "2s", "1.5m", "1h", "7d", "500us" (a space before the unit
// is allowed). False if malformed, negative or absurdly large.
bool parse_duration(std::string_view text, std::chrono::milliseconds* out);

// Parses "512KiB", "1 GiB", "32KB", "1048576". KB/MB/GB/TB are powers of
// 1000, KiB/MiB/GiB/TiB powers of 1024. False if malformed or absurdly large.
bool parse_size(std::string_view text, std::size_t* out);

}  // namespace tern::relay
