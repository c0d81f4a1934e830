#!/usr/bin/env bash
# Builds the Debian packages (tern-relay, libtern-dev) with CPack from a plain
# Release tree and checks them the way a user would use them:
#   1. unpacks both .debs into a scratch root (dpkg -x) and checks their files,
#      control data (dependencies, conffiles, maintainer scripts) and unit;
#   2. builds a program against the unpacked SDK with find_package(tern)
#      (CMAKE_PREFIX_PATH into the scratch root) and with pkg-config
#      (PKG_CONFIG_SYSROOT_DIR / PKG_CONFIG_LIBDIR);
#   3. starts the unpacked tern-relay with the packaged /etc/tern/relay.toml
#      (on 127.0.0.1, port 0, a temp data dir), runs both programs against it
#      and checks every event landed in the file sink.
#
#   scripts/package-test.sh            (TERN_PKG_BUILD_DIR=... to move the build, default build/pkg)
#
# Not part of scripts/test.sh: it needs its own non-sanitizer build of the
# relay (several minutes on 2 cores); once that build exists a run takes ~20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
START=$SECONDS

bash scripts/install-deps.sh

BUILD=${TERN_PKG_BUILD_DIR:-$ROOT/build/pkg}
JOBS=${JOBS:-$(nproc)}
ARCH_TRIPLE=$(gcc -dumpmachine)

say() { echo "package-test: $*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- build + cpack
# -Werror stays off here (TERN_WERROR=ON to turn it on): CI's -Werror build is
# the Asan one; -O3 adds warnings (e.g. -Wformat-truncation) that are no
# reason to refuse to package.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DTERN_BUILD_TESTS=OFF -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=OFF \
  -DTERN_WERROR="${TERN_WERROR:-OFF}" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target tern-relay tern_c
rm -rf "$BUILD/packages"
(cd "$BUILD" && cpack -G DEB >/dev/null)
BUILT=$SECONDS
RELAY_DEB=$(ls "$BUILD"/packages/tern-relay_*.deb)
SDK_DEB=$(ls "$BUILD"/packages/libtern-dev_*.deb)
say "built $(basename "$RELAY_DEB") ($(stat -c %s "$RELAY_DEB") B), $(basename "$SDK_DEB") ($(stat -c %s "$SDK_DEB") B)"

SCRATCH=$(mktemp -d)
RELAY_PID=
cleanup() {
  if [[ -n "$RELAY_PID" ]]; then kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
R=$SCRATCH/root
mkdir -p "$R"
dpkg -x "$RELAY_DEB" "$R"
dpkg -x "$SDK_DEB" "$R"

# ---------------------------------------------------------------- contents
for f in usr/bin/tern-relay usr/bin/ternctl usr/lib/systemd/system/tern-relay.service etc/tern/relay.toml \
         usr/share/man/man1/tern-relay.1 usr/lib/sysusers.d/tern-relay.conf \
         usr/share/doc/tern-relay/examples/tern-relay.example.toml \
         "usr/lib/$ARCH_TRIPLE/libtern.so" "usr/lib/$ARCH_TRIPLE/libtern.so.0" usr/include/tern/tern.h \
         "usr/lib/$ARCH_TRIPLE/cmake/tern/ternConfig.cmake" "usr/lib/$ARCH_TRIPLE/cmake/tern/ternTargets.cmake" \
         "usr/lib/$ARCH_TRIPLE/pkgconfig/tern.pc"; do
  [[ -e "$R/$f" ]] || fail "/$f is missing from the packages"
done
dpkg-deb -f "$RELAY_DEB" Depends | grep -q 'libc6' || fail "tern-relay has no shared-library dependencies"
"$R/usr/bin/ternctl" --help >/dev/null || fail "the packaged ternctl does not run"
dpkg-deb -f "$RELAY_DEB" Depends | grep -q 'adduser' || fail "tern-relay does not depend on adduser"
dpkg-deb -f "$SDK_DEB" Depends | grep -q 'libcurl' || fail "libtern-dev does not depend on libcurl"
mkdir -p "$SCRATCH/control"
dpkg-deb -e "$RELAY_DEB" "$SCRATCH/control"
grep -qx /etc/tern/relay.toml "$SCRATCH/control/conffiles" || fail "/etc/tern/relay.toml is not a conffile"
for s in postinst prerm postrm; do
  [[ -x "$SCRATCH/control/$s" ]] || fail "tern-relay has no executable $s"
  sh -n "$SCRATCH/control/$s" || fail "$s is not valid sh"
done
unit=$R/usr/lib/systemd/system/tern-relay.service
for k in 'User=tern-relay' 'StateDirectory=tern-relay' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
         'ReadWritePaths=/var/lib/tern-relay' 'ExecReload=/bin/kill -HUP $MAINPID' \
         'ExecStart=/usr/bin/tern-relay --config /etc/tern/relay.toml'; do
  grep -qxF "$k" "$unit" || fail "the unit lacks '$k'"
done
if command -v systemd-analyze >/dev/null; then
  # verify checks every directive; it needs ExecStart's binary at its real
  # path, so check a copy pointing into the scratch root.
  sed "s|^ExecStart=/usr/bin/tern-relay|ExecStart=$R/usr/bin/tern-relay|" "$unit" >"$SCRATCH/tern-relay.service"
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$SCRATCH/tern-relay.service" 2>&1 | grep -F "tern-relay.service" || true)
  [[ -z "$out" ]] || fail "systemd-analyze verify: $out"
  say "systemd-analyze verify: the unit is valid"
fi
say "package contents, control files and unit: ok"

# ---------------------------------------------------------------- consumers
# find_package(tern): only the scratch root may provide it.
cmake -S tests/packaging/consumer -B "$SCRATCH/consumer-cmake" -G Ninja \
  -DCMAKE_PREFIX_PATH="$R/usr" -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$SCRATCH/consumer.log" \
  || { cat "$SCRATCH/consumer.log"; fail "find_package(tern) failed"; }
grep -q "tern 0\.[0-9.]* from $R/usr/lib/$ARCH_TRIPLE/cmake/tern" "$SCRATCH/consumer.log" \
  || { cat "$SCRATCH/consumer.log"; fail "find_package(tern) did not use the scratch root"; }
cmake --build "$SCRATCH/consumer-cmake" >/dev/null || fail "the find_package(tern) consumer does not build"
CMAKE_PROG=$SCRATCH/consumer-cmake/tern-consumer

# pkg-config: the sysroot prefixes -I/-L with the scratch root.
export PKG_CONFIG_SYSROOT_DIR=$R
export PKG_CONFIG_LIBDIR=$R/usr/lib/$ARCH_TRIPLE/pkgconfig
flags=$(pkg-config --cflags --libs tern) || fail "pkg-config does not find tern"
[[ "$(pkg-config --modversion tern)" =~ ^0\. ]] || fail "pkg-config: unexpected version"
[[ "$flags" == *"-I$R/usr/include"* && "$flags" == *"-L$R/usr/lib/$ARCH_TRIPLE"* ]] \
  || fail "pkg-config flags do not point into the scratch root: $flags"
PC_PROG=$SCRATCH/tern-consumer-pc
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror examples/c/tern_example.c -o "$PC_PROG" $flags \
  || fail "the pkg-config consumer does not build"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
say "a program builds with find_package(tern) and with pkg-config"

# ---------------------------------------------------------------- run them against the packaged relay
KEY=package-test-key
"$R/usr/bin/tern-relay" --config "$R/etc/tern/relay.toml" --listen 127.0.0.1:0 \
  --data-dir "$SCRATCH/data" --write-key "$KEY" >"$SCRATCH/relay.out" 2>"$SCRATCH/relay.log" &
RELAY_PID=$!
ADDR=
for _ in $(seq 1 200); do
  ADDR=$(sed -n 's/^listening on //p' "$SCRATCH/relay.out" | head -1)
  [[ -n "$ADDR" ]] && break
  kill -0 "$RELAY_PID" 2>/dev/null || { cat "$SCRATCH/relay.log"; fail "the packaged relay did not start with /etc/tern/relay.toml"; }
  sleep 0.05
done
[[ -n "$ADDR" ]] || fail "the packaged relay did not report its address"

COUNT=20
expect=0
for prog in "$CMAKE_PROG" "$PC_PROG"; do
  # The find_package build carries an RPATH into the scratch root; the
  # pkg-config build (plain -L) needs LD_LIBRARY_PATH like any non-system lib.
  lib=$(LD_LIBRARY_PATH=$R/usr/lib/$ARCH_TRIPLE ldd "$prog" | awk '/libtern\.so/ {print $3}')
  [[ "$lib" == "$R/"* ]] || fail "$(basename "$prog") does not load the packaged libtern.so ($lib)"
  stats=$(LD_LIBRARY_PATH=$R/usr/lib/$ARCH_TRIPLE "$prog" --endpoint "http://$ADDR" --write-key "$KEY" \
            --db "$SCRATCH/$(basename "$prog").db" --count "$COUNT") || fail "$(basename "$prog") failed"
  say "$(basename "$prog"): $stats"
  grep -q "\"sent\":$((COUNT + 2))," <<<"$stats" || fail "$(basename "$prog") did not deliver every event"
  expect=$((expect + COUNT + 2))   # COUNT tracks + identify + screen
done

curl -fsS "http://$ADDR/ready" >/dev/null || fail "/ready does not answer 200"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID" || fail "the relay did not exit 0 after SIGTERM"
RELAY_PID=
landed=0
shopt -s nullglob
for f in "$SCRATCH"/data/events/*.ndjson.gz; do landed=$((landed + $(zcat "$f" | wc -l))); done
for f in "$SCRATCH"/data/events/*.ndjson; do landed=$((landed + $(wc -l <"$f"))); done
[[ $landed -eq $expect ]] || fail "$landed events in the file sink, expected $expect"
say "$landed events sent by both programs landed in the packaged relay's file sink"
say "PASS ($((BUILT - START)) s build + cpack, $((SECONDS - BUILT)) s checks)"
