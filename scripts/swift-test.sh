#!/usr/bin/env bash
# Runs the Swift package's tests (bindings/swift, XCTest) against a CMake-built
# libtern.so, then builds the Swift example (examples/swift) and runs it once.
#
#   scripts/swift-test.sh [--build-dir DIR] [--no-example] [-- SWIFT_TEST_ARGS...]
#
#   --build-dir DIR  the CMake build holding libtern.so and tern-test-collector
#                    (default: $TERN_SWIFT_BUILD_DIR or build/swift-c). It must be a
#                    build without sanitizers: an ASan libtern.so cannot be loaded
#                    into the Swift test process. It is configured (RelWithDebInfo,
#                    no relay/bench/JNI) when it has no CMakeCache.txt yet, and
#                    tern_c + tern-test-collector are (re)built in it.
#   --no-example     skip building examples/swift and running it once against
#                    tern-test-collector.
#   after --         passed to `swift test`, e.g. -- --filter RoundTripTests
#
# Environment: SWIFT (the swift driver; default: swift on PATH, else
# /opt/swift/usr/bin/swift), JOBS (parallel jobs, default 2).
# Exit status: 0 when every test passed, 77 when no Swift toolchain is found
# (ctest's skip code), otherwise the failing step's status.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUILD=${TERN_SWIFT_BUILD_DIR:-$ROOT/build/swift-c}
EXAMPLE=1
SWIFT_TEST_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --no-example) EXAMPLE=0; shift ;;
    --) shift; SWIFT_TEST_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "swift-test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$BUILD" = /* ]] || BUILD=$ROOT/$BUILD
JOBS=${JOBS:-2}

SWIFT=${SWIFT:-}
if [[ -z "$SWIFT" ]]; then
  if command -v swift >/dev/null 2>&1; then SWIFT=$(command -v swift)
  elif [[ -x /opt/swift/usr/bin/swift ]]; then SWIFT=/opt/swift/usr/bin/swift
  else
    echo "swift-test.sh: no Swift toolchain (set SWIFT or put swift on PATH); skipping" >&2
    exit 77
  fi
fi

if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTERN_BUILD_RELAY=OFF -DTERN_BUILD_TESTS=ON -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=OFF
fi
if grep -q '^CMAKE_BUILD_TYPE:STRING=\(Asan\|Tsan\)$' "$BUILD/CMakeCache.txt"; then
  echo "swift-test.sh: $BUILD is a sanitizer build; use a plain one (see --help)" >&2
  exit 2
fi
cmake --build "$BUILD" -j "$JOBS" --target tern_c tern-test-collector

# Package.swift reads TERN_LIB_DIR (-L and rpath); the tests read TERN_TEST_COLLECTOR.
export TERN_LIB_DIR="$BUILD/bindings/c"
export TERN_TEST_COLLECTOR="$BUILD/tests/support/tern-test-collector"
export LD_LIBRARY_PATH="$TERN_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[[ -f "$TERN_LIB_DIR/libtern.so" ]] || { echo "swift-test.sh: no $TERN_LIB_DIR/libtern.so" >&2; exit 1; }

cd "$ROOT/bindings/swift"
"$SWIFT" build --build-tests -j "$JOBS"
"$SWIFT" test --skip-build "${SWIFT_TEST_ARGS[@]}"

if [[ $EXAMPLE == 1 ]]; then
  # Build the example and run it once against the test collector: six events
  # (identify, screen, 3 x Product Added, Order Completed) must arrive.
  cd "$ROOT/examples/swift"
  "$SWIFT" build -j "$JOBS"
  EXAMPLE_BIN="$("$SWIFT" build --show-bin-path)/tern-example-swift"
  TMP=$(mktemp -d)
  COLLECTOR_PID=
  cleanup() {
    if [[ -n $COLLECTOR_PID ]]; then kill "$COLLECTOR_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
  }
  trap cleanup EXIT
  "$TERN_TEST_COLLECTOR" --max-seconds 60 >"$TMP/collector.out" &
  COLLECTOR_PID=$!
  for _ in $(seq 50); do grep -q '^listening on' "$TMP/collector.out" && break; sleep 0.1; done
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/collector.out")
  [[ -n $PORT ]] || { echo "swift-test.sh: tern-test-collector did not start" >&2; exit 1; }
  "$EXAMPLE_BIN" --endpoint "http://127.0.0.1:$PORT" --write-key example --db "$TMP/example.db" --events 3
  kill -TERM "$COLLECTOR_PID"
  wait "$COLLECTOR_PID" || true
  COLLECTOR_PID=
  if ! grep -q '"events":6,' "$TMP/collector.out"; then
    echo "swift-test.sh: the example's events did not arrive: $(tail -1 "$TMP/collector.out")" >&2
    exit 1
  fi
fi
echo "swift-test.sh: Swift tests passed"
