#!/usr/bin/env bash
# Builds a ThreadSanitizer tree (build/tsan, CMAKE_BUILD_TYPE=Tsan) and runs
# the concurrency tests under it: the SDK's client/worker, durability and
# loopback upload tests, and the relay's core (spool, pipeline, sink runners),
# HTTP server, control plane (admin API, fleet follower, a relay changed under
# load) and end-to-end integration tests. Exits non-zero on any report.
#
#   scripts/tsan.sh            build + run
#   JOBS=2 scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUILD=${TERN_TSAN_BUILD_DIR:-$ROOT/build/tsan}
JOBS=${JOBS:-2}
start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Tsan -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=OFF \
  -DTERN_WERROR=OFF >/dev/null

# target → binary path under the build tree
TESTS=(
  tern_sdk_client_test:tests/sdk/tern_sdk_client_test
  tern_sdk_durability_test:tests/sdk/tern_sdk_durability_test
  tern_sdk_collector_integration_test:tests/sdk/tern_sdk_collector_integration_test
  relay_core_test:tests/relay/core/relay_core_test
  relay_http_server_tests:tests/relay/server/relay_http_server_tests
  relay_integration_tests:tests/integration/relay_integration_tests
  relay_admin_api_tests:tests/relay/admin/relay_admin_api_tests
  relay_fleet_follower_tests:tests/relay/fleet/relay_fleet_follower_tests
  relay_fleet_api_tests:tests/relay/fleet/relay_fleet_api_tests
  control_plane_tests:tests/integration/control_plane_tests
)
targets=()
for t in "${TESTS[@]}"; do targets+=("${t%%:*}"); done
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" tern-relay
built=$(date +%s)

# halt_on_error: the first report fails the run; second_deadlock_stack for lock-order reports.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}
failed=()
for t in "${TESTS[@]}"; do
  bin="$BUILD/${t#*:}"
  echo "== tsan: ${t%%:*}"
  t0=$(date +%s)
  if ! "$bin" --gtest_brief=1; then failed+=("${t%%:*}"); fi
  echo "== tsan: ${t%%:*} took $(( $(date +%s) - t0 )) s"
done
end=$(date +%s)
echo "tsan.sh: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s"
if ((${#failed[@]})); then
  echo "tsan.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
