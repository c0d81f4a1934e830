#!/bin/sh
# moto-fixture.sh: a throwaway S3 (moto's server, from the project's Python
# virtual environment) for the s3 sink's tests.
#
#   moto-fixture.sh start <dir> [--auth]
#       start moto on a free 127.0.0.1 port in the background; write
#       <dir>/endpoint (http://127.0.0.1:PORT) and <dir>/pid; print the endpoint.
#       Multipart parts may be as small as 256 KiB (S3_UPLOAD_PART_MIN_SIZE,
#       overridable from the environment) so tests need not upload 5 MiB parts.
#       With --auth, moto checks every request's SigV4 signature against its
#       IAM (INITIAL_NO_AUTH_ACTION_COUNT=0), and moto_bootstrap.py leaves
#       credentials for the tests: <dir>/access_key_id, <dir>/secret_access_key
#       (an IAM user's key) and <dir>/session.json (AccessKeyId,
#       SecretAccessKey, SessionToken, Expiration from STS AssumeRole).
#       Without it, any key is accepted; the same files hold a dummy key.
#   moto-fixture.sh stop <dir>
#       stop the server (if running) and remove <dir>
#
# Python: $PYTHON, else <repo>/.venv/bin/python (scripts/install-deps.sh makes
# it). A missing interpreter or moto fails the start, loudly.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
PYTHON=${PYTHON:-$root/.venv/bin/python}

usage() { echo "usage: moto-fixture.sh start <dir> [--auth] | stop <dir>" >&2; exit 2; }
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
auth=no
if [ "${3:-}" = "--auth" ]; then auth=yes; elif [ -n "${3:-}" ]; then usage; fi

# Stops the server whose pid <dir>/pid holds, if that process is still moto.
stop_server() {
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if [ -n "$pid" ] && grep -q moto "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

# The HTTP status moto answers on <endpoint>/ ("000": nothing answers yet).
probe() {
  "$PYTHON" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

case "$cmd" in
  start)
    [ -x "$PYTHON" ] || { echo "moto-fixture: no Python at $PYTHON (run scripts/install-deps.sh)" >&2; exit 1; }
    "$PYTHON" -c 'import moto.server, boto3' 2>/dev/null \
      || { echo "moto-fixture: $PYTHON has no moto[server]/boto3 (run scripts/install-deps.sh)" >&2; exit 1; }
    stop_server  # one left by an interrupted run
    rm -rf "$dir"
    mkdir -p "$dir"
    export S3_UPLOAD_PART_MIN_SIZE=${S3_UPLOAD_PART_MIN_SIZE:-262144}
    if [ $auth = yes ]; then export INITIAL_NO_AUTH_ACTION_COUNT=0; else unset INITIAL_NO_AUTH_ACTION_COUNT; fi
    # A port taken between the probe and moto's bind: try another.
    tries=0
    while :; do
      tries=$((tries + 1))
      port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
      endpoint=http://127.0.0.1:$port
      # Detached, every descriptor on a file: ctest must not wait for it.
      setsid "$PYTHON" -m moto.server -H 127.0.0.1 -p "$port" \
        </dev/null >"$dir/server.log" 2>&1 &
      echo $! >"$dir/pid"
      i=0
      while [ "$(probe "$endpoint")" = 000 ] && [ $i -lt 150 ]; do
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
      done
      [ "$(probe "$endpoint")" != 000 ] && break
      stop_server
      if [ $tries -ge 3 ]; then
        echo "moto-fixture: moto's server did not start:" >&2
        cat "$dir/server.log" >&2
        exit 1
      fi
    done
    if [ $auth = yes ]; then
      "$PYTHON" "$here/moto_bootstrap.py" "$endpoint" "$dir" >"$dir/bootstrap.log" 2>&1 || {
        echo "moto-fixture: could not create the tests' credentials:" >&2
        cat "$dir/bootstrap.log" >&2
        stop_server
        exit 1
      }
    else
      echo testing-key-id >"$dir/access_key_id"
      echo testing-secret >"$dir/secret_access_key"
    fi
    echo "$endpoint" >"$dir/endpoint"
    echo "$endpoint"
    ;;
  stop)
    stop_server
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
