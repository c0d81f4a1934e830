// Checks a Config before a client is built from it.
#pragma once

#include "tern/config.h"
#include "tern/status.h"

namespace tern {

// kInvalidArgument, with a message naming the field, for the first setting a
// client cannot run with (a missing write key, storage or endpoint; a limit
// of zero; a batch size that cannot hold one event; a bad backoff or window);
// OK otherwise. Touches nothing outside `config`.
[[nodiscard]] Status validate_config(const Config& config);

}  // namespace tern
