#!/usr/bin/env bash
# Issue 14's performance check: does PostgreSQL stay off the hot path?
#   - GET /v1/me (bearer) on SQLite and on PostgreSQL, each one server
#     (target: PostgreSQL >= 0.9 of SQLite in the same run);
#   - the database statements a cache hit issues, counted by the servers
#     themselves (gatehouse_db_statements_total on /metrics) during each
#     measured /v1/me run, beside what the same server runs idle over the
#     same time (the change-feed poll, upkeep): target none beyond idle;
#   - POST /v1/signin on SQLite and on PostgreSQL (target >= 0.9);
#   - GET /v1/me through a local nginx `upstream` to 1, 2 and 3 PostgreSQL
#     replicas sharing one database and one Redis (on 2 cores expect flat).
# Rounds interleave every target (sqlite, pg, nginx x1, x2, x3, ...), so a
# shared machine's drift falls on all alike; medians of RUNS rounds.
# Self-contained: a private PostgreSQL cluster (scripts/pg_cluster.sh, roles
# and database from docs/examples/postgresql-roles.sql, migrated by the
# owner role, served by the runtime role), a private redis-server and nginx,
# free loopback ports, temp dirs; the EXIT trap stops everything it started.
# Results: stdout and bench/results/scale-<UTC>.txt.
#
# Env: RUNS=3, DURATION=10s, CONNS=64, THREADS=2 (wrk), SIGNIN_CONNS=8,
#      NGINX_WORKERS=2, GATEHOUSE_BIN=build/release/gatehouse, NGINX,
#      SIZE_USERS=1000 (the row-size setup; 0 skips it),
#      AUDIT_ROWS=200000 (the audit verify and prune timing; 0 skips it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${GATEHOUSE_BIN:-$ROOT/build/release/gatehouse}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SIGNIN_CONNS=${SIGNIN_CONNS:-8}
NGINX_WORKERS=${NGINX_WORKERS:-2}
REPLICAS="p1 p2 p3"

die() { echo "scale.sh: FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ "$DURATION" =~ ^[1-9][0-9]*s$ ]] || die "DURATION must be whole seconds, like 10s"
[ -x "$BIN" ] || die "$BIN not found: run 'make build-release' first"
[ -x "$NGINX" ] || die "nginx not found: run './scripts/deps.sh --bench'"
[ -x "$REDIS_SERVER" ] || die "redis-server not found: run ./scripts/deps.sh"
for t in wrk curl python3 psql redis-cli; do
    command -v "$t" >/dev/null || die "$t not found (./scripts/deps.sh --bench)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench-scale.XXXXXX")
# The cluster runs as the postgres user when this runs as root: it must
# reach its own directory inside TMP.
chmod 0755 "$TMP"
declare -A PID PORT
REDIS_PID="" NGX_PID="" PG_DIR="$TMP/pg"

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    stop_pid "$NGX_PID"
    for s in sqlite $REPLICAS setup; do stop_pid "${PID[$s]:-}"; done
    stop_pid "$REDIS_PID"
    "$ROOT/scripts/pg_cluster.sh" stop "$PG_DIR" 2>/dev/null || true
    if [ $rc -ne 0 ]; then
        for s in sqlite $REPLICAS; do
            [ -f "$TMP/$s.log" ] && { echo "--- last lines of the $s gatehouse log:" >&2; tail -n 5 "$TMP/$s.log" >&2; }
        done
        [ -f "$PG_DIR/server.log" ] && { echo "--- last lines of the PostgreSQL log:" >&2; tail -n 5 "$PG_DIR/server.log" >&2; }
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

metric() { # metric SERVER NAME: a counter's value from that server's /metrics
    curl -sS --max-time 5 "http://127.0.0.1:${PORT[$1]}/metrics" |
        awk -v n="$2" '$1==n{v=$2} END{if (v=="") exit 1; print v}' || die "$1: no $2 on /metrics"
}
stmts() { metric "$1" gatehouse_db_statements_total; }
misses() { # auth cache misses, all tables
    curl -sS --max-time 5 "http://127.0.0.1:${PORT[$1]}/metrics" |
        awk '$1 ~ /^gatehouse_authcache_misses_total/{n += $2} END{print n+0}'
}
SECS=${DURATION%s}

# ---------------------------------------------------------------- PostgreSQL, Redis
PG_PORT=$(free_port)
PG_SUPER=$("$ROOT/scripts/pg_cluster.sh" start "$PG_DIR" "$PG_PORT") || die "scripts/pg_cluster.sh start failed"
pw() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
OWNER_PW=$(pw) APP_PW=$(pw)
psql "$PG_SUPER" -X -q -v ON_ERROR_STOP=1 -v dbname=gatehouse_bench -v owner_password="$OWNER_PW" \
    -v app_password="$APP_PW" -v prune_password="$(pw)" -f "$ROOT/docs/examples/postgresql-roles.sql" \
    >"$TMP/roles.log" 2>&1 || die "postgresql-roles.sql failed: $(cat "$TMP/roles.log")"
PG_OWNER="postgres://gatehouse_owner:$OWNER_PW@127.0.0.1:$PG_PORT/gatehouse_bench"
PG_APP="postgres://gatehouse_app:$APP_PW@127.0.0.1:$PG_PORT/gatehouse_bench"
PG_VERSION=$(psql "$PG_SUPER" -XAtc 'SHOW server_version' 2>/dev/null || echo '?')
log "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT (fsync on), database gatehouse_bench"

REDIS_PORT=$(free_port)
mkdir -p "$TMP/redis"
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save '' \
    --appendonly no --daemonize no --loglevel warning >"$TMP/redis-server.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited: $(cat "$TMP/redis-server.log")"
    sleep 0.1
done

# ---------------------------------------------------------------- gatehouse: 1 SQLite, 3 PostgreSQL
# Every server alike but for its database: development mode (a test key),
# limits off (the budgets would refuse the load), the default Argon2id. The
# replicas share the master key, issuer and audience, as docs/scale-out.md says.
MASTER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
ISSUER="http://bench-scale.invalid"
common_env() {
    echo GATEHOUSE_ENV=development GATEHOUSE_RATE_LIMITS=off GATEHOUSE_ACCESS_TTL=7200 \
        GATEHOUSE_ISSUER="$ISSUER" GATEHOUSE_MASTER_KEY="$MASTER_KEY"
}
for s in sqlite $REPLICAS; do
    PORT[$s]=$(free_port)
    mkdir -p "$TMP/data-$s"
done
# The owner role migrates once; serve runs as the runtime role (it refuses the owner).
# shellcheck disable=SC2046
env -u GATEHOUSE_DATABASE_URL -u GATEHOUSE_REDIS_URL $(common_env) GATEHOUSE_DATA_DIR="$TMP/data-p1" \
    GATEHOUSE_DATABASE_URL="$PG_APP" GATEHOUSE_DATABASE_MIGRATE_URL="$PG_OWNER" \
    "$BIN" migrate >"$TMP/migrate.log" 2>&1 || die "gatehouse migrate failed: $(cat "$TMP/migrate.log")"
start_server() { # start_server NAME
    local s=$1 db=()
    [ "$s" = sqlite ] || db=(GATEHOUSE_DATABASE_URL="$PG_APP" GATEHOUSE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT")
    # shellcheck disable=SC2046
    env -u GATEHOUSE_DATABASE_URL -u GATEHOUSE_REDIS_URL -u GATEHOUSE_ARGON2_MEMORY_KIB \
        -u GATEHOUSE_ARGON2_ITERATIONS $(common_env) GATEHOUSE_LISTEN="127.0.0.1:${PORT[$s]}" \
        GATEHOUSE_DATA_DIR="$TMP/data-$s" "${db[@]}" "$BIN" serve >"$TMP/$s.log" 2>&1 &
    PID[$s]=$!
    wait_http "http://127.0.0.1:${PORT[$s]}/healthz" "${PID[$s]}"
    log "gatehouse ($s) pid ${PID[$s]} on 127.0.0.1:${PORT[$s]}"
}
for s in sqlite $REPLICAS; do start_server "$s"; done
for s in $REPLICAS; do # the fan-out listener is up: hits may answer from memory
    for _ in $(seq 100); do [ "$(metric "$s" gatehouse_authcache_trusted)" = 1 ] && break; sleep 0.1; done
    [ "$(metric "$s" gatehouse_authcache_trusted)" = 1 ] || die "$s: its cache is not trusted (listener down?)"
done

PASSWORD="correct horse battery staple 42"
declare -A TOKEN BODY
for s in sqlite p1; do
    BODY[$s]=$(python3 -c 'import json,sys; print(json.dumps({"email":sys.argv[1],"password":sys.argv[2]}))' \
        "bench-$s-$$@example.com" "$PASSWORD")
    code=$(curl -sS -o "$TMP/signup-$s.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "${BODY[$s]}" "http://127.0.0.1:${PORT[$s]}/v1/signup")
    [ "$code" = 201 ] || die "$s: POST /v1/signup returned $code: $(cat "$TMP/signup-$s.json")"
    TOKEN[$s]=$(json_get "$TMP/signup-$s.json" access_token)
done
# The replicas' token is p1's: any replica verifies it (one database, one key set).
for s in p2 p3; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[p1]}" \
        "http://127.0.0.1:${PORT[$s]}/v1/me")
    [ "$code" = 200 ] || die "$s refused p1's token ($code)"
done

# ---------------------------------------------------------------- nginx: upstreams of 1, 2, 3 replicas
NGX="$TMP/nginx"
mkdir -p "$NGX/tmp"
declare -A NPORT
{
    echo "worker_processes $NGINX_WORKERS; pid $NGX/nginx.pid; error_log $NGX/error.log warn; daemon off;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off; keepalive_requests 1000000; client_body_temp_path $NGX/tmp;"
    echo "  proxy_temp_path $NGX/tmp; fastcgi_temp_path $NGX/tmp; uwsgi_temp_path $NGX/tmp; scgi_temp_path $NGX/tmp;"
    n=0 list=""
    for s in $REPLICAS; do
        n=$((n + 1)) list="$list server 127.0.0.1:${PORT[$s]};"
        NPORT[$n]=$(free_port)
        echo "  upstream gh$n { $list keepalive 64; }"
        echo "  server { listen 127.0.0.1:${NPORT[$n]} reuseport; location / { proxy_pass http://gh$n;"
        echo "    proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; } }"
    done
    echo "}"
} >"$NGX/nginx.conf"
"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$NGX/stdout.log" 2>&1 &
NGX_PID=$!
for n in 1 2 3; do
    for _ in $(seq 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[p1]}" \
            "http://127.0.0.1:${NPORT[$n]}/v1/me" || true)
        [ "$code" = 200 ] && break
        kill -0 "$NGX_PID" 2>/dev/null || die "nginx exited: $(cat "$NGX/error.log" "$NGX/stdout.log")"
        sleep 0.1
    done
    [ "$code" = 200 ] || die "nginx upstream of $n replica(s) answered $code"
done
log "nginx pid $NGX_PID: upstreams of 1, 2, 3 replicas on ${NPORT[1]}, ${NPORT[2]}, ${NPORT[3]}"

# ---------------------------------------------------------------- the background statement rate
# What each server runs on its own (change-feed poll, upkeep) over one
# DURATION with no requests: a cache hit's share is what a run adds to it.
declare -A IDLE
for s in sqlite $REPLICAS; do IDLE[$s]=$(stmts "$s"); done
log "idle window: $DURATION with no requests"
sleep "$SECS"
for s in sqlite $REPLICAS; do IDLE[$s]=$(($(stmts "$s") - IDLE[$s])); done

# ---------------------------------------------------------------- runs
check_wrk() { # check_wrk OUT NAME
    [ -n "$(wrk_rps "$1")" ] || die "could not parse wrk output $1: $(cat "$1")"
    local n
    n=$(wrk_non2xx "$1")
    [ "$n" -eq 0 ] || die "$2: $n non-2xx responses:
$(cat "$1")"
}
# me OUT URL TOKEN SERVERS...: warm-up, then the measured run; the statements
# and cache misses of the named servers during it go to OUT.stmts / OUT.miss.
me() {
    local out=$1 url=$2 tok=$3 s a=0 b=0 m0=0 m1=0
    shift 3
    wrk -t"$THREADS" -c"$CONNS" -d2s -H "Authorization: Bearer $tok" "$url/v1/me" >/dev/null
    for s in "$@"; do a=$((a + $(stmts "$s"))) m0=$((m0 + $(misses "$s"))); done
    timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
        -H "Authorization: Bearer $tok" "$url/v1/me" >"$out"
    for s in "$@"; do b=$((b + $(stmts "$s"))) m1=$((m1 + $(misses "$s"))); done
    echo $((b - a)) >"$out.stmts"
    echo $((m1 - m0)) >"$out.miss"
    check_wrk "$out" "$out"
}
signin() { # signin OUT SERVER
    local out=$1 s=$2 a
    a=$(stmts "$s")
    SIGNIN_BODY="${BODY[$s]}" timeout 120 wrk -t"$THREADS" -c"$SIGNIN_CONNS" -d"$DURATION" --latency \
        -s "$ROOT/bench/signin.lua" "http://127.0.0.1:${PORT[$s]}/v1/signin" >"$out"
    echo $(($(stmts "$s") - a)) >"$out.stmts"
    check_wrk "$out" "sign-in $s"
}
TARGETS="me_sqlite me_pg nginx1 nginx2 nginx3 signin_sqlite signin_pg"
for r in $(seq "$RUNS"); do
    for t in $TARGETS; do
        log "round $r/$RUNS: $t ($(psi))"
        o="$TMP/${t}_$r.txt"
        case $t in
        me_sqlite) me "$o" "http://127.0.0.1:${PORT[sqlite]}" "${TOKEN[sqlite]}" sqlite ;;
        me_pg) me "$o" "http://127.0.0.1:${PORT[p1]}" "${TOKEN[p1]}" p1 ;;
        nginx1) me "$o" "http://127.0.0.1:${NPORT[1]}" "${TOKEN[p1]}" p1 ;;
        nginx2) me "$o" "http://127.0.0.1:${NPORT[2]}" "${TOKEN[p1]}" p1 p2 ;;
        nginx3) me "$o" "http://127.0.0.1:${NPORT[3]}" "${TOKEN[p1]}" p1 p2 p3 ;;
        signin_sqlite) signin "$o" sqlite ;;
        signin_pg) signin "$o" p1 ;;
        esac
        echo "   $t: $(wrk_rps "$o") req/s, p99 $(wrk_p99_ms "$o") ms, $(cat "$o.stmts") statements" >&2
    done
done

# ---------------------------------------------------------------- row sizes (docs/scale-out.md's sizing)
# What a user, a session and its tokens cost on PostgreSQL: a fourth server
# on the same database (cheapest Argon2id: the setup is not measured) makes
# SIZE_USERS users with 3 sessions each and 2 refreshes per session through
# the API (bench/tokens.py), then each table's size (heap, indexes, TOAST)
# is divided by its rows. Audit rows per user action are counted as well.
SIZE_USERS=${SIZE_USERS:-1000}
if [ "$SIZE_USERS" -gt 0 ]; then
    PORT[setup]=$(free_port)
    mkdir -p "$TMP/data-setup"
    # shellcheck disable=SC2046
    env -u GATEHOUSE_DATABASE_URL -u GATEHOUSE_REDIS_URL $(common_env) GATEHOUSE_ARGON2_MEMORY_KIB=1024 \
        GATEHOUSE_ARGON2_ITERATIONS=1 GATEHOUSE_LISTEN="127.0.0.1:${PORT[setup]}" \
        GATEHOUSE_DATA_DIR="$TMP/data-setup" GATEHOUSE_DATABASE_URL="$PG_APP" "$BIN" serve >"$TMP/setup.log" 2>&1 &
    PID[setup]=$!
    wait_http "http://127.0.0.1:${PORT[setup]}/healthz" "${PID[setup]}"
    AUDIT0=$(psql "$PG_OWNER" -XAtc 'SELECT count(*) FROM audit_log')
    log "row sizes: $SIZE_USERS users x 3 sessions x 3 tokens through the API"
    python3 "$ROOT/bench/tokens.py" "http://127.0.0.1:${PORT[setup]}" "$TMP/size-tokens.txt" --users "$SIZE_USERS" \
        --sessions 3 --tokens 3 --concurrency 8 >"$TMP/size-setup.txt" 2>&1 || die "tokens.py: $(cat "$TMP/size-setup.txt")"
    # audit_log is partitioned on PostgreSQL (decision 0048): its size is its partitions'.
    psql "$PG_OWNER" -XqAtF ' ' -c 'VACUUM ANALYZE users, sessions, refresh_tokens, audit_log' -c "SELECT c.relname, c.n,
        COALESCE((SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i
            WHERE i.inhparent = c.relname::regclass), 0) + pg_total_relation_size(c.relname::regclass)
        FROM (SELECT 'users' relname, count(*) n FROM users UNION ALL SELECT 'sessions', count(*) FROM sessions
        UNION ALL SELECT 'refresh_tokens', count(*) FROM refresh_tokens
        UNION ALL SELECT 'audit_log', count(*) FROM audit_log) c" >"$TMP/sizes.txt" 2>&1 ||
        die "size query: $(cat "$TMP/sizes.txt")"
    # The ceiling of audited writes: sign-ins with the cheapest hash, so the
    # chain's lock held through each commit (and its WAL flush) is the limit.
    AUDIT_T=$(psql "$PG_OWNER" -XAtc 'SELECT count(*) FROM audit_log')
    BODY[setup]=$(python3 -c 'import json,sys; print(json.dumps({"email":sys.argv[1],"password":sys.argv[2]}))' \
        "bench-setup-$$@example.com" "$PASSWORD")
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "${BODY[setup]}" "http://127.0.0.1:${PORT[setup]}/v1/signup")
    [ "$code" = 201 ] || die "setup: POST /v1/signup returned $code"
    SIGNIN_BODY="${BODY[setup]}" timeout 120 wrk -t"$THREADS" -c32 -d"$DURATION" --latency \
        -s "$ROOT/bench/signin.lua" "http://127.0.0.1:${PORT[setup]}/v1/signin" >"$TMP/cheap_signin.txt"
    check_wrk "$TMP/cheap_signin.txt" "cheap sign-ins"
    stop_pid "${PID[setup]}"
fi

# ---------------------------------------------------------------- audit on PostgreSQL: verify and prune
# The audit log is the table that grows without bound: how fast a check of
# the chain and a retention prune go on PostgreSQL. `audit fill` appends
# AUDIT_ROWS chained rows (development only) in two halves; `audit verify`
# runs as the runtime role; `audit prune --before <between the halves>` as
# the retention role removes the first half behind a checkpoint.
AUDIT_ROWS=${AUDIT_ROWS:-200000}
now_s() { date +%s.%N; }
if [ "$AUDIT_ROWS" -gt 1 ]; then
    PRUNE_PW=$(pw)
    psql "$PG_SUPER" -XqAtc "ALTER ROLE gatehouse_prune PASSWORD '$PRUNE_PW'" >/dev/null || die "prune role"
    PG_PRUNE="postgres://gatehouse_prune:$PRUNE_PW@127.0.0.1:$PG_PORT/gatehouse_bench"
    # shellcheck disable=SC2046
    acli() { env -u GATEHOUSE_DATABASE_URL $(common_env) GATEHOUSE_DATA_DIR="$TMP/data-p1" \
        GATEHOUSE_DATABASE_URL="$PG_APP" "$@"; }
    HALF=$((AUDIT_ROWS / 2))
    log "audit: appending $AUDIT_ROWS rows on PostgreSQL"
    t0=$(now_s)
    acli "$BIN" audit fill "$HALF" >"$TMP/fill.log" 2>&1 || die "audit fill: $(cat "$TMP/fill.log")"
    sleep 1
    CUT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    sleep 1
    acli "$BIN" audit fill "$((AUDIT_ROWS - HALF))" >>"$TMP/fill.log" 2>&1 || die "audit fill: $(cat "$TMP/fill.log")"
    FILL_S=$(calc "$(now_s) - $t0 - 2" .1f)
    AROWS=$(psql "$PG_OWNER" -XAtc 'SELECT count(*) FROM audit_log')
    t0=$(now_s)
    acli "$BIN" audit verify >"$TMP/verify.log" 2>&1 || die "audit verify: $(cat "$TMP/verify.log")"
    VERIFY_S=$(calc "$(now_s) - $t0" .2f)
    t0=$(now_s)
    acli env GATEHOUSE_DATABASE_RETENTION_URL="$PG_PRUNE" "$BIN" audit prune --before "$CUT" >"$TMP/prune.log" 2>"$TMP/prune.err" ||
        die "audit prune: $(cat "$TMP/prune.log" "$TMP/prune.err")"
    PRUNE_S=$(calc "$(now_s) - $t0" .2f)
    PRUNED=$(awk '{print $1; exit}' "$TMP/prune.log")
    acli "$BIN" audit verify >>"$TMP/verify.log" 2>&1 || die "audit verify after the prune: $(cat "$TMP/verify.log")"
fi

# ---------------------------------------------------------------- summary
declare -A RPS P99 REQ ST MISS
for t in $TARGETS; do
    RPS[$t]=$(for r in $(seq "$RUNS"); do wrk_rps "$TMP/${t}_$r.txt"; done | median)
    P99[$t]=$(for r in $(seq "$RUNS"); do wrk_p99_ms "$TMP/${t}_$r.txt"; done | median)
    REQ[$t]=$(for r in $(seq "$RUNS"); do wrk_requests "$TMP/${t}_$r.txt"; done | awk '{n += $1} END{print n}')
    ST[$t]=$(for r in $(seq "$RUNS"); do cat "$TMP/${t}_$r.txt.stmts"; done | awk '{n += $1} END{print n}')
    MISS[$t]=$(for r in $(seq "$RUNS"); do cat "$TMP/${t}_$r.txt.miss" 2>/dev/null || echo 0; done |
        awk '{n += $1} END{print n}')
done
mark() { python3 -c "import sys; print('ok' if eval(sys.argv[1]) else 'MISS')" "$1"; }
# Idle statements expected over all RUNS measured runs of a target's servers.
idle_of() { local s n=0; for s in "$@"; do n=$((n + IDLE[$s])); done; echo $((n * RUNS)); }
declare -A EXP=([me_sqlite]=$(idle_of sqlite) [me_pg]=$(idle_of p1) [nginx1]=$(idle_of p1)
    [nginx2]=$(idle_of p1 p2) [nginx3]=$(idle_of p1 p2 p3))
ME_RATIO=$(calc "${RPS[me_pg]} / ${RPS[me_sqlite]}" .3f)
SI_RATIO=$(calc "${RPS[signin_pg]} / ${RPS[signin_sqlite]}" .3f)
# A hit issues no statement: a run may add no more than the idle rate's
# jitter (twice the idle count, plus 10) to what the server runs anyway.
HIT_OK=1
for t in me_sqlite me_pg nginx1 nginx2 nginx3; do
    python3 -c "import sys; sys.exit(0 if ${ST[$t]} <= 2 * ${EXP[$t]} + 10 else 1)" || HIT_OK=0
done
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/scale-$STAMP.txt"
{
    echo "Gatehouse bench/scale.sh  $STAMP  git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src dirty)')"
    echo "host: $(nproc) cores, $(uname -r), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), PostgreSQL $PG_VERSION (loopback, fsync on), redis $("$REDIS_SERVER" --version | awk '{print $3}'), nginx workers $NGINX_WORKERS; $(psi)"
    echo "GET /v1/me: wrk -t$THREADS -c$CONNS -d$DURATION after 2 s warm-up; POST /v1/signin: wrk -t$THREADS -c$SIGNIN_CONNS -d$DURATION (default Argon2id); $RUNS interleaved rounds (median)"
    echo "servers: development mode, limits off; SQLite data dir on $(df -P "$TMP" | awk 'NR==2{print $1}'); replicas: GATEHOUSE_DATABASE_URL (runtime role), GATEHOUSE_REDIS_URL, one master key"
    echo
    printf '%-36s | %-9s | %-8s | %-10s | %s\n' target "req/s" "p99 ms" "statements" "(idle over the same time) / cache misses"
    printf '%-36s-+-%-9s-+-%-8s-+-%-10s-+-%s\n' ------------------------------------ --------- -------- ---------- ------------------------
    for t in $TARGETS; do
        case $t in
        me_sqlite) name="GET /v1/me, SQLite" ;;
        me_pg) name="GET /v1/me, PostgreSQL" ;;
        nginx1) name="GET /v1/me, nginx -> 1 replica (PG)" ;;
        nginx2) name="GET /v1/me, nginx -> 2 replicas (PG)" ;;
        nginx3) name="GET /v1/me, nginx -> 3 replicas (PG)" ;;
        signin_sqlite) name="POST /v1/signin, SQLite" ;;
        signin_pg) name="POST /v1/signin, PostgreSQL" ;;
        esac
        case $t in
        signin_*) extra="$(calc "${ST[$t]} / max(${REQ[$t]}, 1)" .1f) per sign-in" ;;
        *) extra="(${EXP[$t]}) / ${MISS[$t]} misses in ${REQ[$t]} requests" ;;
        esac
        printf '%-36s | %-9s | %-8s | %-10s | %s\n' "$name" "${RPS[$t]}" "${P99[$t]}" "${ST[$t]}" "$extra"
    done
    echo "(statements and requests: all $RUNS measured runs together, warm-ups not counted)"
    echo
    echo "VERDICT /v1/me PostgreSQL vs SQLite: $ME_RATIO (target >= 0.9): $(mark "$ME_RATIO >= 0.9")"
    echo "VERDICT sign-in PostgreSQL vs SQLite: $SI_RATIO (target >= 0.9): $(mark "$SI_RATIO >= 0.9")"
    echo "VERDICT a cache hit issues no database statement (each /v1/me run within its servers' idle count): $([ $HIT_OK = 1 ] && echo ok || echo MISS)"
    echo "replicas behind nginx (vs 1): 2 $(calc "${RPS[nginx2]} / ${RPS[nginx1]}" .2f), 3 $(calc "${RPS[nginx3]} / ${RPS[nginx1]}" .2f) (on 2 cores: flat expected)"
    if [ "$SIZE_USERS" -gt 0 ]; then
        echo
        echo "PostgreSQL row sizes after $SIZE_USERS sign-ups, $((SIZE_USERS * 2)) sign-ins, $((SIZE_USERS * 6)) refreshes (heap + indexes + TOAST, after VACUUM):"
        awk '{printf "  %-15s %8d rows %10.1f KiB %7.0f bytes/row\n", $1, $2, $3 / 1024, $2 ? $3 / $2 : 0}' "$TMP/sizes.txt"
        echo "  audit rows written: $((AUDIT_T - AUDIT0)) for $((SIZE_USERS * 9)) API calls ($(calc "($AUDIT_T - $AUDIT0) / ($SIZE_USERS * 3)" .2f) per sign-up or sign-in)"
        echo "Audited writes' ceiling on PostgreSQL (sign-ins with the cheapest Argon2id, wrk -c32): $(wrk_rps "$TMP/cheap_signin.txt") sign-ins/s, p99 $(wrk_p99_ms "$TMP/cheap_signin.txt") ms"
    fi
    if [ "$AUDIT_ROWS" -gt 1 ]; then
        echo
        echo "Audit on PostgreSQL ($AROWS rows): audit fill $(calc "$AUDIT_ROWS / $FILL_S" .0f) rows/s (one transaction per 10,000); audit verify $VERIFY_S s ($(calc "$AROWS / $VERIFY_S" .0f) rows/s); audit prune of $PRUNED rows $PRUNE_S s ($(calc "$PRUNED / $PRUNE_S" .0f) rows/s), the chain verifies after it"
    fi
    echo
    echo "Per round (req/s / p99 ms):"
    for r in $(seq "$RUNS"); do
        line="  round $r:"
        for t in $TARGETS; do line="$line  $t $(wrk_rps "$TMP/${t}_$r.txt") / $(wrk_p99_ms "$TMP/${t}_$r.txt")"; done
        echo "$line"
    done
} >"$TMP/summary.txt"
{
    cat "$TMP/summary.txt"
    echo
    echo "===== nginx.conf"
    cat "$NGX/nginx.conf"
    echo "===== raw wrk output"
    for t in $TARGETS; do for r in $(seq "$RUNS"); do
        echo "--- ${t}_$r"
        cat "$TMP/${t}_$r.txt"
    done; done
} >"$OUT"
echo
cat "$TMP/summary.txt"
echo
echo "written: ${OUT#"$ROOT"/}"
