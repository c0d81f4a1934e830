// The names spool_test.cc still uses; everything else includes the shared
// helpers in tests/support (temp_dir.h, wait_until.h) directly.
#pragma once

#include <chrono>
#include <functional>

#include "temp_dir.h"
#include "wait_until.h"

namespace tern::relay::testing {

using tern::testing::TempDir;

inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return tern::testing::wait_until(pred, timeout);
}

}  // namespace tern::relay::testing
