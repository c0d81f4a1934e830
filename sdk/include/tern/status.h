// The short name of tern/base/status.h: tern::Status, tern::Result<T> and
// tern::StatusCode for the SDK's public API and its users.
#pragma once

#include "tern/base/status.h"
