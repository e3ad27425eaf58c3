#!/usr/bin/env bash
# Gatehouse performance check against local ceilings on this machine:
#   - GET /v1/me (bearer token) vs a private nginx `return 204` (same wrk settings),
#   - POST /v1/signin throughput vs the ideal (cores / one Argon2id hash time),
#   - RSS idle and after load.
# Self-contained: free loopback ports, temp data dir, every process it starts is
# stopped by the EXIT trap. Results: stdout and bench/results/verify-<UTC>.txt.
#
# Env: RUNS=1 (measured runs per HTTP target; median is reported), DURATION=10s,
#      GATEHOUSE_BIN=build/release/gatehouse, NGINX=/usr/sbin/nginx.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BIN=${GATEHOUSE_BIN:-$ROOT/build/release/gatehouse}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
RUNS=${RUNS:-1}
DURATION=${DURATION:-10s}
CORES=$(nproc)
ARGON2_KIB=19456 # Gatehouse defaults (src/core/config.c); we do not set GATEHOUSE_ARGON2_*
ARGON2_T=2

die() { echo "verify.sh: FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[ -x "$BIN" ] || die "$BIN not found: run 'make build-release' first"
[ -x "$NGINX" ] || die "nginx not found: run './scripts/deps.sh --bench'"
for t in wrk curl python3 cc pkg-config; do
    command -v "$t" >/dev/null || die "$t not found (./scripts/deps.sh --bench)"
done
pkg-config --exists libsodium || die "libsodium dev files not found"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
GH_PID=""
NGX_PID=""

stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 5 s, then SIGKILL
    local pid=$1 sig=$2
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$GH_PID" TERM
    stop_pid "$NGX_PID" QUIT # master stops its worker on QUIT
    if [ $rc -ne 0 ] && [ -f "$TMP/gatehouse.log" ]; then
        echo "--- last lines of gatehouse log:" >&2
        tail -n 20 "$TMP/gatehouse.log" >&2 || true
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
# Private anonymous memory (heap, stacks): RSS also counts ~11 MiB of shared
# library text (libcrypto, gnutls via libcurl, sqlite) that every process
# using those libraries shares. Pss_Anon where the kernel has it (>= 5.9).
anon_kib() {
    awk '/^Pss_Anon:/{a=$2} /^Private_Dirty:/{d=$2} END{print (a != "" ? a : d)}' \
        "/proc/$1/smaps_rollup"
}
ANON_LABEL=$(grep -q '^Pss_Anon:' "/proc/self/smaps_rollup" 2>/dev/null && echo Pss_Anon || echo Private_Dirty)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; } # utime+stime of the whole process
thread_ticks() { # "TID TICKS" per thread (top -H is not used: its row for the main thread shows the process total)
    local t
    for t in /proc/"$1"/task/*; do
        awk -v tid="${t##*/}" '{print tid, $14+$15}' "$t/stat" 2>/dev/null || true
    done | sort
}

# wrk output -> requests/s, p99 in ms, non-2xx count
wrk_seconds() { awk '/ requests in /{v=$4; sub(/,$/,"",v); u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
    print v * ((u=="m") ? 60 : (u=="ms") ? 0.001 : 1)}' "$1"; }
wrk_errors() { awk '/Socket errors:/{print}' "$1"; }

wait_http() { # wait_http URL EXPECTED_CODE PID
    local code
    for _ in $(seq 100); do
        kill -0 "$3" 2>/dev/null || die "process $3 exited while starting (url $1)"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)
        [ "$code" = "$2" ] && return 0
        sleep 0.1
    done
    die "$1 did not answer $2 within 10 s (last: $code)"
}

# ---------------------------------------------------------------- gatehouse
GH_PORT=$(free_port)
GH_URL="http://127.0.0.1:$GH_PORT"
mkdir -p "$TMP/data"
log "starting gatehouse on $GH_URL ($(psi))"
env -u GATEHOUSE_ARGON2_MEMORY_KIB -u GATEHOUSE_ARGON2_ITERATIONS \
    GATEHOUSE_ENV=development GATEHOUSE_RATE_LIMITS=off GATEHOUSE_LISTEN="127.0.0.1:$GH_PORT" GATEHOUSE_DATA_DIR="$TMP/data" \
    "$BIN" serve >"$TMP/gatehouse.log" 2>&1 &
GH_PID=$!
wait_http "$GH_URL/healthz" 200 "$GH_PID"
sleep 1
RSS_IDLE=$(rss_kib "$GH_PID")
# The floor: the same libraries, linked and started, doing nothing else.
read -r -a FLOOR_FLAGS <<<"$(pkg-config --cflags --libs libevent_core libevent_extra libevent_pthreads \
    jansson libsodium cjose sqlite3 libcrypto liboath libqrencode libcurl)"
cc -O2 -o "$TMP/rss_floor" "$BENCH/rss_floor.c" -Wl,--no-as-needed "${FLOOR_FLAGS[@]}" -lzxcvbn -lpthread -lm
read -r FLOOR_RSS FLOOR_ANON <<<"$("$TMP/rss_floor")"
ANON_IDLE=$(anon_kib "$GH_PID")
GH_THREADS=$(awk '/^Threads:/{print $2}' "/proc/$GH_PID/status")
log "gatehouse pid $GH_PID, $GH_THREADS threads, idle RSS $RSS_IDLE KiB ($ANON_LABEL $ANON_IDLE KiB)"

# ---------------------------------------------------------------- user + token
EMAIL="bench-$(date +%s)-$$@example.com"
PASSWORD="correct horse battery staple 42"
CRED=$(python3 -c 'import json,sys; print(json.dumps({"email":sys.argv[1],"password":sys.argv[2]}))' "$EMAIL" "$PASSWORD")
code=$(curl -sS -o "$TMP/signup.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$CRED" "$GH_URL/v1/signup")
[ "$code" = 201 ] || die "POST /v1/signup returned $code: $(cat "$TMP/signup.json")"
TOKEN=$(json_get "$TMP/signup.json" access_token)
[ -n "$TOKEN" ] || die "no access_token in signup response"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$GH_URL/v1/me")
[ "$code" = 200 ] || die "GET /v1/me with the new token returned $code"
log "signed up $EMAIL"

# ---------------------------------------------------------------- nginx ceiling
NGX_PORT=$(free_port)
NGX_URL="http://127.0.0.1:$NGX_PORT/"
NGX="$TMP/nginx"
mkdir -p "$NGX/tmp" "$NGX/logs"
sed -e "s|@RUN@|$NGX|g" -e "s|@PORT@|$NGX_PORT|g" "$BENCH/nginx.conf.in" >"$NGX/nginx.conf"
"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$NGX/stdout.log" 2>&1 &
NGX_PID=$!
wait_http "$NGX_URL" 204 "$NGX_PID"
log "nginx pid $NGX_PID on $NGX_URL"

# ---------------------------------------------------------------- HTTP runs
# run_wrk OUTFILE PID URL [wrk args...]: 2 s warm-up, then the measured run; writes
# OUTFILE.cpu = CPU seconds PID used during the measured run. Fails on any non-2xx.
run_wrk() {
    local out=$1 pid=$2 url=$3 c0 c1 n
    shift 3
    wrk -d2s "$@" "$url" >/dev/null
    thread_ticks "$pid" >"$out.t0"
    c0=$(cpu_ticks "$pid")
    timeout 120 wrk -d"$DURATION" --latency "$@" "$url" >"$out"
    c1=$(cpu_ticks "$pid")
    thread_ticks "$pid" >"$out.t1"
    calc "($c1 - $c0) / $(getconf CLK_TCK)" .2f >"$out.cpu"
    [ -n "$(wrk_rps "$out")" ] || die "could not parse wrk output $out: $(cat "$out")"
    n=$(wrk_non2xx "$out")
    [ "$n" -eq 0 ] || die "$n non-2xx responses from $url:
$(cat "$out")"
}
# per-thread CPU % during a run_wrk OUTFILE: "tid=PCT% ..." (threads with >= 1 %)
thread_pcts() {
    local secs
    secs=$(wrk_seconds "$1")
    join "$1.t0" "$1.t1" | awk -v hz="$(getconf CLK_TCK)" -v s="$secs" \
        '{p = 100 * ($3 - $2) / hz / s; if (p >= 1) printf "%s=%.0f%% ", $1, p}'
}
# CPU microseconds per request, and CPU % (100 = one core), for a run_wrk OUTFILE
cpu_us_per_req() { calc "$(cat "$1.cpu") * 1e6 / $(wrk_requests "$1")" .1f; }
cpu_pct() { calc "100 * $(cat "$1.cpu") / $(wrk_seconds "$1")" .0f; }
runs_median() { # runs_median PREFIX FUNC: median of FUNC over PREFIX_1.txt .. PREFIX_RUNS.txt
    for r in $(seq "$RUNS"); do "$2" "$TMP/${1}_$r.txt"; done | median
}

NGX_WORKER=$(awk '{print $1}' "/proc/$NGX_PID/task/$NGX_PID/children")
[ -n "$NGX_WORKER" ] || die "cannot find the nginx worker process"
for r in $(seq "$RUNS"); do
    log "run $r/$RUNS: nginx ($(psi))"
    run_wrk "$TMP/nginx_$r.txt" "$NGX_WORKER" "$NGX_URL" -t2 -c64
    log "run $r/$RUNS: GET /v1/me ($(psi))"
    run_wrk "$TMP/me_$r.txt" "$GH_PID" "$GH_URL/v1/me" -t2 -c64 -H "Authorization: Bearer $TOKEN"
    for t in nginx me; do
        f="$TMP/${t}_$r.txt"
        echo "   $t: $(wrk_rps "$f") req/s, p99 $(wrk_p99_ms "$f") ms, CPU $(cpu_pct "$f") % [$(thread_pcts "$f")], $(cpu_us_per_req "$f") us/req $(wrk_errors "$f")" >&2
    done
done
NGX_RPS=$(runs_median nginx wrk_rps)
NGX_P99=$(runs_median nginx wrk_p99_ms)
NGX_US=$(runs_median nginx cpu_us_per_req)
NGX_PCT=$(runs_median nginx cpu_pct)
ME_RPS=$(runs_median me wrk_rps)
ME_P99=$(runs_median me wrk_p99_ms)
ME_US=$(runs_median me cpu_us_per_req)
ME_PCT=$(runs_median me cpu_pct)
ME_RATIO=$(calc "$ME_RPS / $NGX_RPS" .3f)

sleep 1
RSS_LOAD=$(rss_kib "$GH_PID")
ANON_LOAD=$(anon_kib "$GH_PID")
log "RSS after /v1/me load: $RSS_LOAD KiB"

# ---------------------------------------------------------------- sign-in
log "timing Argon2id m=$ARGON2_KIB KiB t=$ARGON2_T p=1 ($(psi))"
read -r -a SODIUM_FLAGS <<<"$(pkg-config --cflags --libs libsodium)"
cc -O2 -o "$TMP/argon2_time" "$BENCH/argon2_time.c" "${SODIUM_FLAGS[@]}"
A2_LINE=$("$TMP/argon2_time" "$ARGON2_KIB" "$ARGON2_T")
HASH_MS=$(awk '{print $1}' <<<"$A2_LINE")
echo "   argon2id: $A2_LINE" >&2
IDEAL=$(calc "$CORES * 1000 / $HASH_MS" .1f)
# Argon2id is memory-bound: with every core hashing at once (as under a
# sign-in load) each hash is slower than alone. Shown beside the issue's
# single-hash ideal, not instead of it.
# Wait for these hashers only: a bare `wait` would also wait for the
# server and nginx, which run in the background until the EXIT trap.
A2_PIDS=()
for i in $(seq "$CORES"); do
    "$TMP/argon2_time" "$ARGON2_KIB" "$ARGON2_T" >"$TMP/a2_all_$i.txt" &
    A2_PIDS+=($!)
done
wait "${A2_PIDS[@]}"
HASH_ALL_MS=$(for i in $(seq "$CORES"); do awk '{print $1}' "$TMP/a2_all_$i.txt"; done | median)
IDEAL_ALL=$(calc "$CORES * 1000 / $HASH_ALL_MS" .1f)
echo "   argon2id, $CORES at once: $HASH_ALL_MS ms median" >&2

log "POST /v1/signin, wrk -t2 -c8 -d$DURATION ($(psi))"
export SIGNIN_BODY="$CRED"
run_wrk "$TMP/signin.txt" "$GH_PID" "$GH_URL/v1/signin" -t2 -c8 -s "$BENCH/signin.lua"
SIGNIN_RPS=$(wrk_rps "$TMP/signin.txt")
SIGNIN_PCT=$(cpu_pct "$TMP/signin.txt")
echo "   signin: $SIGNIN_RPS /s, p99 $(wrk_p99_ms "$TMP/signin.txt") ms, CPU $SIGNIN_PCT % [$(thread_pcts "$TMP/signin.txt")]" >&2
SIGNIN_P99=$(wrk_p99_ms "$TMP/signin.txt")
SIGNIN_RATIO=$(calc "$SIGNIN_RPS / $IDEAL" .3f)
RSS_SIGNIN=$(rss_kib "$GH_PID")
ANON_SIGNIN=$(anon_kib "$GH_PID")
RSS_PEAK=$(awk '/^VmHWM:/{print $2}' "/proc/$GH_PID/status")

# ---------------------------------------------------------------- summary
mark() { python3 -c "import sys; print('ok' if eval(sys.argv[1]) else 'MISS')" "$1"; }
mib() { calc "$1 / 1024" .1f; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH/results"
OUT="$BENCH/results/verify-$STAMP.txt"
{
    echo "Gatehouse bench/verify.sh  $STAMP  git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src dirty)')"
    echo "host: $CORES cores, $(uname -r), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$NGINX" -v 2>&1 | sed 's/.*: //'); RUNS=$RUNS x $DURATION (median); $(psi)"
    echo "wrk -t2 -c64 --latency for /v1/me and nginx (worker_processes 1); wrk -t2 -c8 for signin"
    echo
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' metric ours ceiling/ideal ratio target
    printf '%-26s-+-%-12s-+-%-22s-+-%-7s-+-%s\n' "$(printf '%.0s-' {1..26})" "------------" \
        "----------------------" "-------" "--------------------------"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "GET /v1/me req/s" "$ME_RPS" "$NGX_RPS (nginx 204)" \
        "$ME_RATIO" ">= 0.3 (product 0.5): $(mark "$ME_RATIO >= 0.3")/$(mark "$ME_RATIO >= 0.5")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "GET /v1/me p99 ms" "$ME_P99" "$NGX_P99 (nginx 204)" \
        "-" "< 5 ms: $(mark "$ME_P99 < 5")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "POST /v1/signin /s" "$SIGNIN_RPS" \
        "$IDEAL ($CORES/${HASH_MS}ms)" "$SIGNIN_RATIO" ">= 0.9: $(mark "$SIGNIN_RATIO >= 0.9")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "  vs all cores hashing" "$SIGNIN_RPS" \
        "$IDEAL_ALL ($CORES/${HASH_ALL_MS}ms)" "$(calc "$SIGNIN_RPS / $IDEAL_ALL" .3f)" "-"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "POST /v1/signin p99 ms" "$SIGNIN_P99" "-" "-" "-"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "Argon2id hash ms (m=19MiB)" "-" "$HASH_MS" "-" "-"
    # Targets judge RSS; the anonymous part is beside it for what is ours alone.
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "RSS idle MiB" "$(mib "$RSS_IDLE")" \
        "$ANON_LABEL $(mib "$ANON_IDLE")" "-" "< 8 MiB: $(mark "$RSS_IDLE < 8 * 1024")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "  floor: its libraries" "$(mib "$FLOOR_RSS")" \
        "Pss_Anon $(mib "$FLOOR_ANON")" "-" "ours above it: $(mib $((RSS_IDLE - FLOOR_RSS))) MiB"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "RSS after /v1/me MiB" "$(mib "$RSS_LOAD")" \
        "$ANON_LABEL $(mib "$ANON_LOAD")" "-" "< 32 MiB: $(mark "$RSS_LOAD < 32 * 1024")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "RSS after signin MiB" "$(mib "$RSS_SIGNIN")" \
        "$ANON_LABEL $(mib "$ANON_SIGNIN")" "-" "< 32 MiB: $(mark "$RSS_SIGNIN < 32 * 1024")"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "RSS peak (VmHWM) MiB" "$(mib "$RSS_PEAK")" "-" "-" "Argon2: 19 MiB per hash in flight"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "CPU us per /v1/me request" "$ME_US" "$NGX_US (nginx worker)" \
        "$(calc "$NGX_US / $ME_US" .3f)" "-"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "CPU % during /v1/me" "$ME_PCT" "$NGX_PCT (nginx worker)" "-" "100 = one core"
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "CPU % during signin" "$SIGNIN_PCT" "$((CORES * 100)) (all cores)" \
        "$(calc "$SIGNIN_PCT / ($CORES * 100)" .3f)" "-"
    # noise-robust view: sign-ins per CPU-second gatehouse actually got vs hashes per CPU-second
    printf '%-26s | %-12s | %-22s | %-7s | %s\n' "signins per CPU-second" \
        "$(calc "$SIGNIN_RPS * 100 / max($SIGNIN_PCT, 1)" .1f)" "$(calc "1000 / $HASH_MS" .1f) (1/hash)" \
        "$(calc "$SIGNIN_RPS * 100 / max($SIGNIN_PCT, 1) * $HASH_MS / 1000" .3f)" "-"
    echo
    echo "Per-run /v1/me vs nginx (req/s, p99 ms):"
    for r in $(seq "$RUNS"); do
        echo "  run $r: me $(wrk_rps "$TMP/me_$r.txt") / $(wrk_p99_ms "$TMP/me_$r.txt")   nginx $(wrk_rps "$TMP/nginx_$r.txt") / $(wrk_p99_ms "$TMP/nginx_$r.txt")"
    done
    echo
    echo "gatehouse per-thread CPU (tid=% of one core; main thread = pid $GH_PID = loop 0):"
    for r in $(seq "$RUNS"); do echo "  /v1/me run $r: $(thread_pcts "$TMP/me_$r.txt")"; done
    echo "  signin:       $(thread_pcts "$TMP/signin.txt")"
} >"$TMP/summary.txt"
{
    cat "$TMP/summary.txt"
    echo
    echo "===== raw wrk output"
    for f in "$TMP"/nginx_*.txt "$TMP"/me_*.txt "$TMP/signin.txt"; do
        echo "--- $(basename "$f")"
        cat "$f"
    done
} >"$OUT"
echo
cat "$TMP/summary.txt"
echo
echo "written: ${OUT#"$ROOT"/}"
