#!/bin/sh
# A throwaway PostgreSQL cluster on loopback for tests and development:
#   scripts/pg_cluster.sh start DIR PORT   initdb into DIR (if empty) and start
#   scripts/pg_cluster.sh stop DIR         stop it (fast)
# Debian's postgresql package; the server runs as the `postgres` user when
# this runs as root (initdb refuses root). Trust authentication on
# 127.0.0.1 only: the superuser URL is postgres://postgres@127.0.0.1:PORT/postgres
set -eu
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "pg_cluster: Debian postgresql is not installed" >&2; exit 1; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
case "$cmd" in
start)
  port=${3:?port}
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "'$BIN/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --no-locale >'$dir/initdb.log' 2>&1"
  fi
  # fsync stays on: the tests check durability claims. Small shared memory.
  as_pg "'$BIN/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 30 start -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=32MB\"" >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_pg "'$BIN/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null
  ;;
*) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
