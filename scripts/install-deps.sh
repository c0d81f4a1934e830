#!/usr/bin/env bash
# Installs every Debian package Tern needs to build, test and benchmark.
# Idempotent: quiet and fast when everything is already present.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # SDK
  libsqlite3-dev sqlite3 libcurl4-openssl-dev zlib1g-dev nlohmann-json3-dev
  # relay
  libboost-dev libboost-system-dev libssl-dev libsimdjson-dev libtomlplusplus-dev
  # sinks
  librdkafka-dev libpq-dev postgresql
  # tests, benches, bindings
  libgtest-dev libgmock-dev googletest nginx-light curl procps python3
  default-jdk-headless junit5
  # fuzzing (scripts/fuzz.sh): libFuzzer comes with clang's runtime
  clang libclang-rt-14-dev
  # layout (scripts/format.sh, scripts/format-check.sh)
  clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# One update per machine is enough; refresh if the lists are missing or a day old.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
