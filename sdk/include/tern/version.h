// The Tern version: TERN_VERSION_MAJOR/_MINOR/_PATCH/_STRING (generated from
// the project version into tern/base/version.h) and the SDK's version().
#pragma once

#include "tern/base/version.h"

namespace tern {
const char* version() noexcept;
}  // namespace tern
