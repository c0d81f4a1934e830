#!/usr/bin/env bash
# Builds the libFuzzer targets in a separate clang ASan+UBSan tree (build/fuzz)
# and runs them, $JOBS (default 2) at a time.
#
#   scripts/fuzz.sh                  the CI smoke run (scripts/test.sh runs it):
#                                    each target with its fixed -seed and -runs
#                                    (table below, ~45-60 s each), starting from
#                                    the checked-in corpus only
#   scripts/fuzz.sh --seconds 600    a longer randomised run by hand: a new
#                                    random seed each time (printed), and a
#                                    corpus in build/fuzz that grows across runs
#   scripts/fuzz.sh --seconds 600 --seed 1234   repeat a randomised run
#   scripts/fuzz.sh --only fuzz_c_api           one target (either mode)
#
# The smoke run is pinned so that its work does not depend on the machine or
# the day: libFuzzer's mutations follow -seed, it stops after -runs executions
# (the seed inputs included), the seed files are passed by name in sorted
# order (-seed_inputs; a directory listing's order differs between file
# systems), its work corpus starts empty, ASLR is off where the system allows
# it (setarch -R: libFuzzer's comparison tracing feeds pointer values into its
# mutations), the fuzz tree defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
# (the SDK's UUID seed is fixed), the relay rig's request times are fake and
# the C API target uploads synchronously; in the fuzz build the relay's
# generated messageIds come from a fixed seed and its latency histogram is
# not timed. -max_total_time only caps a much slower machine, which then runs
# a prefix of the same schedule and says so. fuzz_event_serialiser,
# fuzz_request_handler and fuzz_event_validator are then identical run to run
# (same coverage, features and corpus). Known limit: fuzz_c_api still differs
# slightly (a few coverage features): the SDK's worker thread runs beside its
# calls, so the inputs mutated after the first difference can differ. The
# checked-in corpora are minimised from long runs (every edge they reached),
# so the smoke run re-checks known ground first; a crash is reproduced from
# its file, not from the seed.
#
# Targets (tests/fuzz): fuzz_request_handler (relay request handling: headers,
# gzip, JSON body, limits), fuzz_event_validator (relay per-event validation
# and enrichment), fuzz_event_serialiser (SDK event text from arbitrary
# properties), fuzz_c_api (the C API's JSON-taking calls).
# A crash leaves build/fuzz/tests/fuzz/crash-<sha1> (or oom-/timeout-/leak-):
# reproduce it with `build/fuzz/tests/fuzz/<target> <file>`, fix the cause,
# copy the file into tests/fuzz/corpus/<target>/ under a descriptive name
# (FuzzCorpus.<target> replays it in every build, GCC included) and add a unit
# test next to the code it broke. After changing a target or its corpus,
# re-check the smoke run's time and adjust RUNS below.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGETS=(fuzz_request_handler fuzz_event_validator fuzz_event_serialiser fuzz_c_api)
# The smoke run: seed and executions per target, each ~45-55 s in this ASan
# build on the shared 2-core machine (up to ~70 s when the other core is busy).
declare -A SEED=([fuzz_request_handler]=7101 [fuzz_event_validator]=7102
                 [fuzz_event_serialiser]=7103 [fuzz_c_api]=7104)
declare -A RUNS=([fuzz_request_handler]=1800000 [fuzz_event_validator]=750000
                 [fuzz_event_serialiser]=2000000 [fuzz_c_api]=150000)
CAP_SECONDS=${TERN_FUZZ_CAP_SECONDS:-90}  # per target: safety cap of the smoke run

SECONDS_PER_TARGET=0  # 0: the smoke run
RANDOM_SEED=0         # 0: libFuzzer picks one
ONLY=""
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
    --seed) RANDOM_SEED=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -n "$ONLY" ]]; then
  [[ -n "${SEED[$ONLY]:-}" ]] || { echo "fuzz.sh: unknown target $ONLY (${TARGETS[*]})" >&2; exit 2; }
  TARGETS=("$ONLY")
fi

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
# the Asan build type adds ASan+UBSan; tests/fuzz/fuzz_build.cmake trims the
# debug info to line tables. -Werror stays on (TERN_FUZZ_WERROR=OFF turns it
# off for a local experiment): this is the one clang build CI runs, and clang
# flags what GCC does not (e.g. -Wunused-private-field). It applies to Tern's
# own targets only (tern_warnings); third-party headers come from system
# include directories, where warnings are not reported.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Asan \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DCMAKE_EXE_LINKER_FLAGS="$LINK_FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$LINK_FLAGS" \
  -DCMAKE_PROJECT_INCLUDE="$ROOT/tests/fuzz/fuzz_build.cmake" \
  -DTERN_BUILD_FUZZ=ON -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=OFF -DTERN_WERROR="${TERN_FUZZ_WERROR:-ON}" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"
built=$(date +%s)

# verify_asan_link_order=0: with the shared runtime, libFuzzer's link puts
# libstdc++ before the ASan runtime; ASan still intercepts everything it needs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:verify_asan_link_order=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
OUT=$BUILD/tests/fuzz
NO_ASLR=()
if [[ "$SECONDS_PER_TARGET" == 0 ]]; then
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    NO_ASLR=(setarch "$(uname -m)" -R)
  else
    echo "fuzz.sh: note: cannot turn ASLR off here (setarch -R); coverage may differ between runs"
  fi
fi
# One target's run; its summary (and, on failure, the excerpt of its log)
# goes to $OUT/$t.summary, printed in the targets' order once all are done.
run_target() {
  local t=$1 bin=$OUT/$1 seeds=$ROOT/tests/fuzz/corpus/$1 log=$OUT/$1.log
  local common=(-timeout=10 -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$OUT/")
  local work what args
  if [[ "$SECONDS_PER_TARGET" == 0 ]]; then
    # Fresh work corpus; the seed files by name, in an order every machine shares.
    work=$OUT/smoke-corpus/$t
    rm -rf "$work" && mkdir -p "$work"
    find "$seeds" -type f | LC_ALL=C sort | paste -sd, - >"$OUT/$t.seeds"
    what="seed ${SEED[$t]}, ${RUNS[$t]} runs"
    args=(-seed="${SEED[$t]}" -runs="${RUNS[$t]}" -max_total_time="$CAP_SECONDS" -reload=0
          -seed_inputs=@"$OUT/$t.seeds" "$work")
  else
    work=$OUT/corpus/$t  # grows across runs; the checked-in corpus is read, not written
    mkdir -p "$work"
    what="${SECONDS_PER_TARGET} s, seed $([[ "$RANDOM_SEED" == 0 ]] && echo random || echo "$RANDOM_SEED")"
    args=(-seed="$RANDOM_SEED" -max_total_time="$SECONDS_PER_TARGET" "$work" "$seeds")
  fi
  local t0 t1 rc=0 done_runs stats
  t0=$(date +%s)
  "${NO_ASLR[@]}" "$bin" "${common[@]}" "${args[@]}" >"$log" 2>&1 || rc=$?
  t1=$(date +%s)
  done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  stats=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1 || true)
  {
    echo "=== $t ($what)"
    echo "$t: rc=$rc, ${done_runs:-?} runs in $((t1 - t0)) s, $stats, $(grep -m1 -o 'Seed: [0-9]*' "$log" || true)"
    if [[ $rc -ne 0 ]]; then
      grep -E -A40 'ERROR: |fuzz oracle: |runtime error: ' "$log" | head -60 || tail -40 "$log"
      grep -E '^artifact_prefix|Test unit written to' "$log" || true
      echo "$t: FAILED (full log: $log; reproduce: $bin <the file above>)"
    elif [[ "$SECONDS_PER_TARGET" == 0 && "${done_runs:-0}" -lt "${RUNS[$t]}" ]]; then
      echo "$t: warning: the ${CAP_SECONDS} s cap stopped the smoke run after ${done_runs:-?} of ${RUNS[$t]} runs"
    fi
  } >"$OUT/$t.summary"
  return $rc
}

# The targets run $JOBS at a time (each fuzzer is one process on one core;
# a target's work follows its seed and runs, not what runs beside it).
failed=0
pids=()
for t in "${TARGETS[@]}"; do
  rm -f "$OUT/$t.summary"
  run_target "$t" &
  pids+=($!)
  if ((${#pids[@]} >= JOBS)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for t in "${TARGETS[@]}"; do cat "$OUT/$t.summary" 2>/dev/null || { echo "$t: no summary"; failed=1; }; done
end=$(date +%s)
echo "fuzz.sh: build $((built - start)) s, runs $((end - built)) s, total $((end - start)) s"
exit $failed
