#!/bin/sh
# pg-fixture.sh: a throwaway PostgreSQL server for the tests, from Debian's
# postgresql package (no system service).
#
#   pg-fixture.sh start <dir>   initdb <dir>/data (trust auth), start on a free
#                               loopback port with its unix socket in <dir>;
#                               prints the libpq connection string and writes
#                               it to <dir>/conninfo
#   pg-fixture.sh stop <dir>    stop the server (if running) and remove <dir>
#   pg-fixture.sh pause <dir>   pg_ctl stop -m fast (data kept)
#   pg-fixture.sh resume <dir>  start again on the same port
#
# As root, the server runs as the "postgres" user (PostgreSQL refuses root),
# which then owns <dir>.
set -eu

PGBIN=${PGBIN:-}
if [ -z "$PGBIN" ]; then
  for v in 17 16 15 14 13; do
    if [ -x /usr/lib/postgresql/$v/bin/pg_ctl ]; then PGBIN=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
[ -n "$PGBIN" ] || { echo "pg-fixture: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg-fixture.sh start|stop|pause|resume <dir>" >&2; exit 2; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  # A port nothing listens on (bash's /dev/tcp is not in sh: ask python3 or ss).
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    port=$(( 20000 + $$ % 30000 ))
    while ss -ltn | grep -q ":$port "; do port=$((port + 1)); done
    echo $port
  fi
}

start_server() {
  port=$(cat "$dir/port")
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
}

case "$cmd" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then  # left by an interrupted run
      as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    chmod 700 "$dir"
    as_owner "$PGBIN/initdb" -D "$dir/data" -A trust -U tern --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    free_port > "$dir/port.tmp" && mv "$dir/port.tmp" "$dir/port"
    start_server || { cat "$dir/server.log" >&2; exit 1; }
    conninfo="host=127.0.0.1 port=$(cat "$dir/port") user=tern dbname=postgres"
    echo "$conninfo" > "$dir/conninfo"
    chmod 755 "$dir"  # let the (root) tests read conninfo
    echo "$conninfo"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  pause)
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    ;;
  resume)
    start_server
    ;;
  *)
    echo "usage: pg-fixture.sh start|stop|pause|resume <dir>" >&2
    exit 2
    ;;
esac
