#!/bin/sh
# Runs a cross-built program under qemu-user (the CMAKE_CROSSCOMPILING_EMULATOR
# of the IoT toolchains):  qemu-run.sh TRIPLE SYSROOT PROGRAM [ARGS...]
#
# The C/C++ runtime and the dynamic loader come from Debian's cross packages
# in /usr/TRIPLE (QEMU_LD_PREFIX); the target's SQLite, libcurl, zlib and their
# dependencies from SYSROOT (LD_LIBRARY_PATH, read by the target's loader).
# Both variables are inherited by programs this one starts, which run under
# qemu too when binfmt_misc knows the architecture (scripts/cross-test.sh
# registers it when it can).
set -eu
triple=$1
sysroot=$2
shift 2
case "$triple" in
  aarch64-linux-gnu) qemu=qemu-aarch64 ;;
  arm-linux-gnueabihf) qemu=qemu-arm ;;
  *) echo "qemu-run.sh: unknown target $triple" >&2; exit 2 ;;
esac
if ! command -v "$qemu" >/dev/null 2>&1; then
  echo "qemu-run.sh: $qemu not found (apt-get install qemu-user)" >&2
  exit 2
fi
export QEMU_LD_PREFIX=/usr/$triple
export LD_LIBRARY_PATH=$sysroot/usr/lib/$triple:$sysroot/lib/$triple${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
exec "$qemu" "$@"
