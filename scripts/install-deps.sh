#!/usr/bin/env bash
# Installs every Debian package Tern needs to build, test and benchmark, and
# the tests' Python packages (scripts/requirements-test.txt) into one virtual
# environment at .venv. Idempotent: quiet and fast when everything is already
# present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

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
  libgtest-dev libgmock-dev googletest nginx-light curl procps python3 python3-venv python3-pip
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

install_debian_packages() {
  if ((${#missing[@]} == 0)); then
    return
  fi
  echo "install-deps: installing ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # One update per machine is enough; refresh if the lists are missing or a day old.
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
    $sudo apt-get update -qq
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
}

# The tests' Python packages, in one virtual environment made with Debian's
# python3 (not whatever python3 comes first on PATH). A stamp holding the
# requirements' checksum makes a second run a no-op.
install_python_packages() {
  local venv="$ROOT/.venv" req="$ROOT/scripts/requirements-test.txt"
  local stamp="$venv/.requirements.sha256" sum
  sum="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    return
  fi
  echo "install-deps: installing the Python test packages into $venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    /usr/bin/python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$sum" >"$stamp"
  echo "install-deps: Python packages done"
}

# The console's browser test (tests/console) drives Debian's chromium through
# chromedriver. Best effort: where they cannot be installed (no such package
# for this architecture, no network) the test reports SKIPPED instead.
install_browser() {
  local want=() p
  for p in chromium chromium-driver; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      want+=("$p")
    fi
  done
  if ((${#want[@]} == 0)); then
    return
  fi
  echo "install-deps: installing ${want[*]} (for the console's browser test; optional)"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
    $sudo apt-get update -qq || true
  fi
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${want[@]}" >/dev/null 2>&1; then
    echo "install-deps: could not install ${want[*]}: the console's browser test will be SKIPPED"
  fi
}

install_debian_packages
install_browser
install_python_packages
