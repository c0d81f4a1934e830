#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test
# (C++ under ASan+UBSan, C, JNI, Swift). ctest prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh

JOBS=${JOBS:-$(nproc)}
WERROR=OFF
if [[ "${CI:-}" == "true" ]]; then WERROR=ON; fi

BUILD=${TERN_TEST_BUILD_DIR:-$ROOT/build/asan}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Asan -DTERN_WERROR=$WERROR \
  -DTERN_BUILD_TESTS=ON -DTERN_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 300
