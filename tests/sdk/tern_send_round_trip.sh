#!/bin/sh
# tern-send against tern-test-collector on loopback: every event arrives once,
# the stats line is one JSON object, and the exit status says "all sent".
# Then again with the collector answering 503 + Retry-After: 0 to the first
# two requests: still exactly once. Finally against a closed port: exit != 0.
#   tern_send_round_trip.sh <tern-send> <tern-test-collector>
set -eu
SEND=$1
COLLECTOR=$2
DIR=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT

start_collector() {
  rm -f "$DIR/collector.out"  # the background child truncates it only later
  "$COLLECTOR" --max-seconds 60 "$@" >"$DIR/collector.out" &
  PID=$!
  i=0
  while ! grep -q '^listening on' "$DIR/collector.out" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  PORT=$(head -n 1 "$DIR/collector.out" | sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p')
  [ -n "$PORT" ] || { echo "collector did not start"; exit 1; }
}

stop_collector() {  # not in a subshell: `wait` needs the collector to be our child
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}

run() {  # $1: name, $2: count, extra args after
  name=$1; count=$2; shift 2
  start_collector "$@"
  "$SEND" --endpoint "http://127.0.0.1:$PORT" --write-key k --db "$DIR/$name.db" --count "$count" \
    --timeout-ms 20000 >"$DIR/$name.stats"
  stop_collector
  summary=$(tail -n 1 "$DIR/collector.out")
  echo "$name: $(cat "$DIR/$name.stats")"
  echo "$name collector: $summary"
  echo "$summary" | grep -q "\"events\":$count," || { echo "FAIL: expected $count events"; exit 1; }
  echo "$summary" | grep -q '"duplicates":0,' || { echo "FAIL: duplicates"; exit 1; }
  grep -q "\"sent\":$count," "$DIR/$name.stats" || { echo "FAIL: stats do not say $count sent"; exit 1; }
}

run plain 240
run retried 60 --fail-first 2 --retry-after 0

# Nothing listens on a port we just closed: the events stay queued, exit != 0.
start_collector
CLOSED=$PORT
stop_collector
if "$SEND" --endpoint "http://127.0.0.1:$CLOSED" --write-key k --db "$DIR/down.db" --count 5 \
     --timeout-ms 1500 >"$DIR/down.stats" 2>"$DIR/down.err"; then
  echo "FAIL: tern-send reported success with the endpoint down"; exit 1
fi
grep -q '"queue_depth":5,' "$DIR/down.stats" || { echo "FAIL: events not kept: $(cat "$DIR/down.stats")"; exit 1; }
echo "down: $(cat "$DIR/down.stats")"
echo OK
