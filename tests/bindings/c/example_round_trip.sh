#!/usr/bin/env bash
# Runs an example program (examples/c or examples/java) against
# tern-test-collector and checks that every event it sends (identify, 5
# tracks, screen) arrives exactly once.
#   example_round_trip.sh <example program> <tern-test-collector>
set -euo pipefail
example=$1
collector=$2
dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$collector" --write-key ex --max-seconds 60 >"$dir/collector.out" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$dir/collector.out" 2>/dev/null && break
  sleep 0.05
done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/collector.out")
[[ -n "$port" ]] || { echo "collector did not start"; exit 1; }

"$example" --endpoint "http://127.0.0.1:$port" --write-key ex --db "$dir/example.db" --count 5

kill -TERM "$pid"
wait "$pid"
pid=
summary=$(tail -n 1 "$dir/collector.out")
echo "collector: $summary"
grep -q '"events":7' <<<"$summary"
grep -q '"duplicates":0' <<<"$summary"
