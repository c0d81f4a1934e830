#!/usr/bin/env bash
# Cross-builds the SDK, its C API, the examples and the unit tests for ARM
# Linux and runs them under qemu-user, then runs the C example (ARM, under
# qemu) against a tern-relay on the host over loopback.
#
#   scripts/cross-test.sh [aarch64|armhf|all]     (default: all)
#
# Idempotent: installs what is missing (Debian's cross compilers and
# qemu-user), unpacks the target's SQLite, libcurl and zlib (and their
# dependencies) into build/cross-sysroot/<arch>, builds GoogleTest for the
# target from /usr/src/googletest, then builds in build/cross-<arch>.
# Environment: JOBS (default nproc), TERN_RELAY_BIN (a host tern-relay to use
# instead of building one in build/cross-host).
#
# Why a private sysroot and not multiarch (-dev:arm64 packages next to the
# amd64 ones): Multi-Arch "same" packages must have one version across all
# architectures, and mirrors routinely carry different versions of libssl3 or
# linux-libc-dev per architecture, so apt refuses or wants to change the
# host's own libraries. Unpacking the target's packages into a directory
# never touches the host. See platforms/iot/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
START=$SECONDS

case "${1:-all}" in
  aarch64) ARCHES=(aarch64) ;;
  armhf) ARCHES=(armhf) ;;
  all) ARCHES=(aarch64 armhf) ;;
  *) echo "usage: scripts/cross-test.sh [aarch64|armhf|all]" >&2; exit 2 ;;
esac
JOBS=${JOBS:-$(nproc)}

say() { echo "cross-test: $*"; }
fail() { echo "cross-test: FAIL: $*" >&2; exit 1; }

triple_of() { case $1 in aarch64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; esac; }
debarch_of() { case $1 in aarch64) echo arm64 ;; armhf) echo armhf ;; esac; }
qemu_of() { case $1 in aarch64) echo qemu-aarch64 ;; armhf) echo qemu-arm ;; esac; }

# ---------------------------------------------------------------- host packages
bash scripts/install-deps.sh
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
}
host_pkgs=(qemu-user googletest nlohmann-json3-dev dpkg-dev file)
for a in "${ARCHES[@]}"; do host_pkgs+=("g++-$(triple_of "$a")"); done
apt_install "${host_pkgs[@]}"

# apt must know the target architectures to download their packages (this
# does not install anything of them).
need_update=0
for a in "${ARCHES[@]}"; do
  d=$(debarch_of "$a")
  if ! dpkg --print-foreign-architectures | grep -qx "$d"; then
    dpkg --add-architecture "$d"
    need_update=1
  fi
  apt-cache show "libcurl4-openssl-dev:$d" >/dev/null 2>&1 || need_update=1
done
if ((need_update)); then
  say "apt-get update (new target architectures)"
  apt-get update -qq -o DPkg::Lock::Timeout=600 || true   # a mirror syncing one index is not fatal
fi

# Programs started by cross-built tests (the C API tests start the test
# collector) are ARM binaries too: let the kernel run them under qemu.
binfmt_ok() { [[ -e /proc/sys/fs/binfmt_misc/$1 ]]; }
register_binfmt() {  # arch
  local name magic mask q
  q=/usr/bin/$(qemu_of "$1")
  case $1 in
    aarch64) name=qemu-aarch64
      magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
      mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' ;;
    armhf) name=qemu-arm
      magic='\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00'
      mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' ;;
  esac
  binfmt_ok "$name" && return 0
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || return 1
  fi
  echo ":$name:M::$magic:$mask:$q:" >/proc/sys/fs/binfmt_misc/register 2>/dev/null || return 1
  binfmt_ok "$name"
}

# ---------------------------------------------------------------- target sysroot
# The target's -dev packages and the closure of their run-time dependencies,
# minus what the cross toolchain already provides in /usr/<triple> (glibc,
# libgcc, libstdc++).
make_sysroot() {  # arch
  local a=$1 d sysroot debs stamp list
  d=$(debarch_of "$a")
  sysroot=$ROOT/build/cross-sysroot/$a
  debs=$ROOT/build/cross-sysroot/debs-$a
  stamp=$sysroot/.tern-packages
  list=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
           --no-replaces --no-enhances --no-pre-depends \
           "libsqlite3-dev:$d" "libcurl4-openssl-dev:$d" "zlib1g-dev:$d" 2>/dev/null |
         grep -v '^ ' | grep -v '^<' | grep ":$d\$" |
         grep -Ev '^(libc6|libc6-dev|libc-dev-bin|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|linux-libc-dev|libcrypt-dev|libnsl-dev|libtirpc-dev|rpcsvc-proto):' |
         sort -u)
  [[ -n "$list" ]] || fail "apt knows no $d packages (apt-get update failed?)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$list" ]]; then
    return 0
  fi
  say "unpacking $(wc -l <<<"$list") $d packages into ${sysroot#$ROOT/}"
  rm -rf "$sysroot" "$debs"
  mkdir -p "$sysroot" "$debs"
  # shellcheck disable=SC2046
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root $(tr '\n' ' ' <<<"$list")) || fail "apt-get download failed"
  local f
  for f in "$debs"/*.deb; do dpkg -x "$f" "$sysroot"; done
  # Absolute symlinks (libfoo.so -> /lib/<triple>/libfoo.so.1) must point
  # inside the sysroot.
  while IFS= read -r -d '' f; do
    local t
    t=$(readlink "$f")
    [[ "$t" == /* ]] && ln -sfn "$sysroot$t" "$f"
  done < <(find "$sysroot" -type l -print0)
  echo "$list" >"$stamp"
}

# GoogleTest for the target, from Debian's source package, installed into the
# sysroot so that find_package(GTest) finds it like any target library.
make_gtest() {  # arch
  local a=$1 sysroot=$ROOT/build/cross-sysroot/$1
  [[ -f "$sysroot/usr/lib/cmake/GTest/GTestConfig.cmake" ]] && return 0
  say "building GoogleTest for $a"
  cmake -S /usr/src/googletest -B "$ROOT/build/cross-gtest-$a" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/platforms/iot/toolchain-$a.cmake" -DTERN_CROSS_SYSROOT="$sysroot" \
    -DCMAKE_INSTALL_PREFIX="$sysroot/usr" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
  cmake --build "$ROOT/build/cross-gtest-$a" -j "$JOBS" >/dev/null
  cmake --install "$ROOT/build/cross-gtest-$a" >/dev/null
}

# ---------------------------------------------------------------- host relay
host_relay() {
  if [[ -n "${TERN_RELAY_BIN:-}" ]]; then echo "$TERN_RELAY_BIN"; return; fi
  local b=$ROOT/build/cross-host
  cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_BUILD_TESTS=OFF -DTERN_BUILD_BENCH=OFF \
    -DTERN_BUILD_JNI=OFF >/dev/null
  cmake --build "$b" -j "$JOBS" --target tern-relay >&2
  echo "$b/relay/tern-relay"
}

declare -A RESULT
RELAY_PID=
TMP=$(mktemp -d)
cleanup() {
  if [[ -n "$RELAY_PID" ]]; then kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# The C example, cross-built, under qemu → tern-relay on the host → file sink.
example_round_trip() {  # arch build-dir relay
  local a=$1 b=$2 relay=$3 t triple data addr stats key=cross-test-key count=25 landed=0 f
  triple=$(triple_of "$a")
  data=$TMP/relay-$a
  "$relay" --listen 127.0.0.1:0 --data-dir "$data" --write-key "$key" >"$TMP/relay-$a.out" 2>"$TMP/relay-$a.log" &
  RELAY_PID=$!
  addr=
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/^listening on //p' "$TMP/relay-$a.out" | head -1)
    [[ -n "$addr" ]] && break
    kill -0 "$RELAY_PID" 2>/dev/null || { cat "$TMP/relay-$a.log" >&2; return 1; }
    sleep 0.05
  done
  [[ -n "$addr" ]] || return 1
  file "$b/examples/c/tern-example-c" | grep -q "ARM" || { echo "tern-example-c is not an ARM binary" >&2; return 1; }
  stats=$("$ROOT/platforms/iot/qemu-run.sh" "$triple" "$ROOT/build/cross-sysroot/$a" \
            "$b/examples/c/tern-example-c" --endpoint "http://$addr" --write-key "$key" \
            --db "$TMP/example-$a.db" --count "$count") || { echo "tern-example-c failed" >&2; return 1; }
  say "$a: tern-example-c (qemu) → tern-relay (host) at $addr: $stats"
  kill -TERM "$RELAY_PID"; wait "$RELAY_PID" || true; RELAY_PID=
  shopt -s nullglob
  for f in "$data"/events/*.ndjson.gz; do landed=$((landed + $(zcat "$f" | wc -l))); done
  for f in "$data"/events/*.ndjson; do landed=$((landed + $(wc -l <"$f"))); done
  shopt -u nullglob
  # count tracks + identify + screen
  [[ $landed -eq $((count + 2)) ]] || { echo "$landed events landed, expected $((count + 2))" >&2; return 1; }
  say "$a: all $landed events landed in the relay's file sink"
}

RELAY=
failed=0
for a in "${ARCHES[@]}"; do
  t0=$SECONDS
  triple=$(triple_of "$a")
  sysroot=$ROOT/build/cross-sysroot/$a
  b=$ROOT/build/cross-$a
  make_sysroot "$a"
  make_gtest "$a"
  if register_binfmt "$a"; then
    say "$a: binfmt_misc runs $a programs under qemu"
  else
    say "$a: no binfmt_misc: tests that start another program will fail"
  fi

  cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/platforms/iot/toolchain-$a.cmake" -DTERN_CROSS_SYSROOT="$sysroot" \
    -DTERN_BUILD_RELAY=OFF -DTERN_BUILD_JNI=OFF -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_TESTS=ON \
    -DTERN_WERROR=ON >/dev/null || { RESULT[$a]="configure failed"; failed=1; continue; }
  t1=$SECONDS
  if ! cmake --build "$b" -j "$JOBS"; then
    RESULT[$a]="build failed after $((SECONDS - t1)) s"; failed=1; continue
  fi
  t2=$SECONDS
  rc=0
  # Tests started through a script (bash → the ARM program, via binfmt_misc)
  # need the same loader prefix and library path as qemu-run.sh gives.
  export QEMU_LD_PREFIX=/usr/$triple
  export LD_LIBRARY_PATH=$sysroot/usr/lib/$triple:$sysroot/lib/$triple
  ctest --test-dir "$b" --output-on-failure -j "$JOBS" >"$b/ctest.log" 2>&1 || rc=$?
  tail -n 15 "$b/ctest.log"; say "$a: full ctest output in ${b#$ROOT/}/ctest.log"
  t3=$SECONDS
  unset QEMU_LD_PREFIX LD_LIBRARY_PATH
  [[ -n "$RELAY" ]] || RELAY=$(host_relay)
  ex=0
  example_round_trip "$a" "$b" "$RELAY" || ex=1
  RESULT[$a]="ctest rc=$rc, example rc=$ex; build $((t2 - t1)) s, tests $((t3 - t2)) s, total $((SECONDS - t0)) s"
  ((rc == 0 && ex == 0)) || failed=1
done

echo
echo "=== cross-test summary ($((SECONDS - START)) s)"
for a in "${ARCHES[@]}"; do echo "  $a: ${RESULT[$a]}"; done
exit $failed
