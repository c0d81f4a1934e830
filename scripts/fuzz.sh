#!/usr/bin/env bash
# Builds the libFuzzer targets in a separate clang tree (build/fuzz) and runs
# each for a bounded time, then replays the checked-in corpora.
#
#   scripts/fuzz.sh                  ~30 s per target (the CI budget)
#   scripts/fuzz.sh --seconds 600    a longer run by hand
#   scripts/fuzz.sh --only fuzz_c_api
#
# Targets (tests/fuzz): fuzz_request_handler (relay request handling: headers,
# gzip, JSON body, limits), fuzz_event_validator (relay per-event validation
# and enrichment), fuzz_event_serialiser (SDK event text from arbitrary
# properties), fuzz_c_api (the C API's JSON-taking calls).
# New interesting inputs go to build/fuzz/tests/fuzz/corpus/<target>; a crash
# leaves build/fuzz/tests/fuzz/crash-<sha1>: copy it into
# tests/fuzz/corpus/<target>/ (FuzzCorpus.<target> then replays it in every
# build, GCC included) and add a unit test next to the code it breaks.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${TERN_FUZZ_SECONDS:-30}
ONLY=""
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

CC=""; CXX=""
for v in 14 ""; do
  if command -v "clang${v:+-$v}" >/dev/null && command -v "clang++${v:+-$v}" >/dev/null; then
    CC=$(command -v "clang${v:+-$v}"); CXX=$(command -v "clang++${v:+-$v}"); break
  fi
done
if [[ -z "$CXX" ]]; then
  echo "fuzz.sh: clang not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

# libtern.so links with --no-undefined; clang's static sanitizer runtimes only
# go into executables, so every binary uses the shared runtime instead.
RT_DIR=$(dirname "$("$CXX" -print-file-name=libclang_rt.asan-x86_64.so)")
LINK_FLAGS="-shared-libsan -Wl,-rpath,$RT_DIR"

BUILD=${TERN_FUZZ_BUILD_DIR:-$ROOT/build/fuzz}
JOBS=${JOBS:-2}
start=$(date +%s)
# Every library gets coverage instrumentation (-fsanitize=fuzzer-no-link);
# the Asan build type adds ASan+UBSan. Warnings are enforced by the GCC build.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Asan \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DCMAKE_EXE_LINKER_FLAGS="$LINK_FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$LINK_FLAGS" \
  -DTERN_BUILD_FUZZ=ON -DTERN_FUZZ_SECONDS="$SECONDS_PER_TARGET" \
  -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=OFF -DTERN_WERROR=OFF >/dev/null
TARGETS=(fuzz_request_handler fuzz_event_validator fuzz_event_serialiser fuzz_c_api)
if [[ -n "$ONLY" ]]; then TARGETS=("$ONLY"); fi
build_targets=()
for t in "${TARGETS[@]}"; do build_targets+=("$t" "${t}_replay"); done
cmake --build "$BUILD" -j "$JOBS" --target "${build_targets[@]}"
built=$(date +%s)

# verify_asan_link_order=0: with the shared runtime, libFuzzer's link puts
# libstdc++ before the ASan runtime; ASan still intercepts everything it needs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:verify_asan_link_order=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
regex=$(IFS='|'; echo "${TARGETS[*]}")
# One target at a time: the machine has few cores and each run is timed.
ctest --test-dir "$BUILD" -L fuzz -R "\\.(${regex})\$" --output-on-failure -j 1
end=$(date +%s)
echo "fuzz.sh: build $((built - start)) s, runs $((end - built)) s, total $((end - start)) s"
