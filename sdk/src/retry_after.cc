// parse_retry_after (tern/transport.h): every transport's Retry-After, the
// built-in one's and those a host injects through the C API. It needs no
// HTTP library, so it is here and not in a transport; the parsing itself is
// tern::base's, shared with the relay's http sink.
#include "tern/base/retry_after.h"

#include "tern/transport.h"

namespace tern {

std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& raw, std::chrono::system_clock::time_point now) {
  return base::parse_retry_after(raw, now);
}

}  // namespace tern
