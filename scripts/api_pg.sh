#!/bin/sh
# `make api-pg`: the black-box API suite (tests/api) and the store's unit
# tests against a real PostgreSQL. Starts a throwaway cluster
# (scripts/pg_cluster.sh) in a temporary directory on a free loopback port,
# runs everything with GATEHOUSE_TEST_PG set to its superuser URL (the
# harness then gives every test server its own database and roles:
# tests/api/lib/harness.mjs), and always stops and removes the cluster.
#   scripts/api_pg.sh ASAN_BUILD_DIR API_ERRORS_DIR JOBS [TEST FILES...]
set -eu
build=$(cd "${1:?asan build dir}" && pwd); errors=${2:?errors dir}; jobs=${3:-2}
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/gatehouse-pg-XXXXXX)
chmod 0755 "$dir"
cleanup() {
  "$root/scripts/pg_cluster.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A free port: bind 0, read it, close (the cluster binds it a moment later).
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url=$("$root/scripts/pg_cluster.sh" start "$dir" "$port")
echo "api-pg: PostgreSQL $(psql -X -At -d "$url" -c 'SHOW server_version') at 127.0.0.1:$port ($dir)"
start=$(date +%s)
rc=0
( cd "$build" && GATEHOUSE_TEST_PG=$url ctest --output-on-failure -j "$jobs" -R '^unit/store/' ) || rc=$?
cd "$root/tests/api"
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
# --test-concurrency needs node >= 20.10 (as in `make api`)
conc=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a>20||(a==20&&b>=10)) console.log("--test-concurrency='"$jobs"'")')
[ $# -gt 0 ] || set -- $(ls ./*.test.mjs)
# shellcheck disable=SC2086
GATEHOUSE_TEST_PG=$url GH_API_ERRORS_DIR=$errors GATEHOUSE_BIN=$build/gatehouse node --test $conc "$@" || rc=$?
echo "api-pg: $(( $(date +%s) - start )) s"
exit $rc
