#!/usr/bin/env bash
# The main job on the embedded default: builds Tern, starts tern-relay with its
# file sink under ./tern-data, runs the example program that sends events
# through the SDK to it, and shows where the events landed. The build
# (build/release) also holds the C and Java examples (README: "Examples").
#
#   scripts/run.sh [--count N]        (TERN_PORT=8080 to pin the port; default: a free one)
#   scripts/run.sh --console          the same with the admin listener, then keeps the relay
#                                     running and sends an event a second until Ctrl-C: open
#                                     the printed console URL to watch them arrive
#                                     (TERN_ADMIN_PORT to pin its port)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COUNT=200
CONSOLE=0
while (($#)); do
  case "$1" in
    --count) COUNT=$2; shift 2 ;;
    --console) CONSOLE=1; shift ;;
    *) echo "usage: scripts/run.sh [--count N] [--console]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

BUILD=$ROOT/build/release
# The Java binding and its example are built when a JDK is present, so the
# README's C and Java example commands work in this build tree too.
JNI=OFF
if command -v javac >/dev/null 2>&1; then JNI=ON; fi
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTERN_BUILD_TESTS=OFF -DTERN_BUILD_BENCH=OFF -DTERN_BUILD_JNI=$JNI >/dev/null
# tern-examples: tern-send, tern-example-c and (with the JNI binding) tern-example-java.
cmake --build "$BUILD" -j "$(nproc)" --target tern-relay tern-examples

DATA=$ROOT/tern-data
KEY=${TERN_WRITE_KEY:-dev-write-key}
mkdir -p "$DATA"
LOG=$DATA/relay.log
OUT=$(mktemp)
ADMIN_FLAGS=()
if ((CONSOLE)); then
  # The console needs the admin listener (docs/console.md); its token is
  # kept in the data directory so the URL stays the same from run to run.
  TOKEN_FILE=$DATA/admin-token
  if [[ ! -s "$TOKEN_FILE" ]]; then
    (umask 077; printf 'tat_%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$TOKEN_FILE")
  fi
  ADMIN_FLAGS=(--admin-listen "127.0.0.1:${TERN_ADMIN_PORT:-0}" --admin-token-file "$TOKEN_FILE")
fi
"$BUILD/relay/tern-relay" --listen "127.0.0.1:${TERN_PORT:-0}" --data-dir "$DATA" \
  --write-key "$KEY" "${ADMIN_FLAGS[@]}" >"$OUT" 2>"$LOG" &
RELAY=$!
cleanup() { kill "$RELAY" 2>/dev/null || true; wait "$RELAY" 2>/dev/null || true; rm -f "$OUT"; }
trap cleanup EXIT

ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/^listening on //p' "$OUT" | head -1)
  [[ -n "$ADDR" ]] && break
  if ! kill -0 "$RELAY" 2>/dev/null; then echo "tern-relay failed to start; see $LOG" >&2; cat "$LOG" >&2; exit 1; fi
  sleep 0.1
done
[[ -n "$ADDR" ]] || { echo "tern-relay did not report its address; see $LOG" >&2; exit 1; }
echo "relay:   listening on http://$ADDR (write key $KEY, data in $DATA, log $LOG)"
if ((CONSOLE)); then
  ADMIN=""
  for _ in $(seq 1 100); do
    ADMIN=$(sed -n 's/^admin listening on //p' "$OUT" | head -1)
    [[ -n "$ADMIN" ]] && break
    sleep 0.1
  done
  [[ -n "$ADMIN" ]] || { echo "tern-relay did not report its admin address; see $LOG" >&2; exit 1; }
  echo "console: http://$ADMIN/#token=$(head -1 "$TOKEN_FILE")"
fi

count_events() {
  local n=0 f
  while IFS= read -r f; do
    if [[ "$f" == *.gz ]]; then n=$((n + $(zcat "$f" | wc -l))); else n=$((n + $(wc -l <"$f"))); fi
  done < <(find "$DATA/events" -type f -name '*.ndjson*' 2>/dev/null)
  echo "$n"
}
BEFORE=$(count_events)

DB=$DATA/example-app.db
echo "example: tern-send --endpoint http://$ADDR --count $COUNT --db $DB"
STATS=$("$BUILD/examples/cli/tern-send" --endpoint "http://$ADDR" --write-key "$KEY" \
  --db "$DB" --count "$COUNT")
echo "sdk stats: $STATS"

if ((CONSOLE)); then
  echo "sending an event a second through the SDK; Ctrl-C stops the relay"
  trap 'echo; cleanup; exit 0' INT TERM
  while kill -0 "$RELAY" 2>/dev/null; do
    "$BUILD/examples/cli/tern-send" --endpoint "http://$ADDR" --write-key "$KEY" \
      --db "$DB" --count 1 >/dev/null || true
    sleep 1
  done
  exit 0
fi

# Stop the relay cleanly: it drains and flushes its sinks on SIGTERM.
kill -TERM "$RELAY"; wait "$RELAY" || true
trap - EXIT; rm -f "$OUT"

echo "events landed in the file sink:"
total=0
while IFS= read -r f; do
  if [[ "$f" == *.gz ]]; then n=$(zcat "$f" | wc -l); else n=$(wc -l <"$f"); fi
  printf '  %8d  %s\n' "$n" "${f#$ROOT/}"
  total=$((total + n))
done < <(find "$DATA/events" -type f -name '*.ndjson*' | sort)
echo "  total: $total events ($((total - BEFORE)) from this run; earlier runs' files stay in $DATA/events)"
