#!/usr/bin/env bash
# Audit trail benchmark:
#   1. append 1,000,000 rows (`gatehouse audit fill`, development only) and time
#      `gatehouse audit verify` (median of RUNS); target >= 1,000,000 rows/s;
#   2. POST /v1/signin throughput with auditing on vs GATEHOUSE_AUDIT=off, run
#      back to back (ABAB); target: on within 5 % of off.
# Self-contained: temp data dirs, free loopback ports, processes stopped on exit.
# Env: ROWS=1000000, RUNS=3, DURATION=10s, GATEHOUSE_BIN=build/release/gatehouse.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${GATEHOUSE_BIN:-$ROOT/build/release/gatehouse}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
die() { echo "audit.sh: FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN not found: run 'make build-release' first"
command -v wrk >/dev/null || die "wrk not found (./scripts/deps.sh --bench)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-audit-bench.XXXXXX")
chmod 700 "$TMP"
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# ---- 1. verification throughput ----
export GATEHOUSE_DATA_DIR="$TMP/fill"
mkdir -m 700 "$GATEHOUSE_DATA_DIR"
"$BIN" migrate >/dev/null 2>&1
t0=$(date +%s.%N)
"$BIN" audit fill "$ROWS" >/dev/null 2>"$TMP/fill.log" || { cat "$TMP/fill.log"; die "fill"; }
t1=$(date +%s.%N)
echo "appended $ROWS rows in $(echo "$t1 - $t0" | bc -l | cut -c1-6) s"
for i in $(seq "$RUNS"); do
    rm -f "$GATEHOUSE_DATA_DIR/audit.head"
    out=$("$BIN" audit verify 2>&1) || die "verify: $out"
    echo "$out" | awk '/rows\/s/{gsub(/[()]/,"",$5); print $5}'
done >"$TMP/rates"
VERIFY_RATE=$(median <"$TMP/rates")
echo "audit verify: $(tr '\n' ' ' <"$TMP/rates")rows/s -> median $VERIFY_RATE"
unset GATEHOUSE_DATA_DIR

# ---- 2. sign-in with and without auditing ----
signin_rate() { # signin_rate on|off -> prints req/s
    local mode=$1 dir="$TMP/signin-$1" port
    port=$(free_port)
    mkdir -p -m 700 "$dir"
    GATEHOUSE_AUDIT=$mode GATEHOUSE_RATE_LIMITS=off GATEHOUSE_DATA_DIR=$dir GATEHOUSE_LISTEN=127.0.0.1:$port \
        "$BIN" serve 2>"$dir/log" &
    PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    local body='{"email":"bench@example.com","password":"correct horse battery staple 42"}'
    curl -fs -XPOST "http://127.0.0.1:$port/v1/signup" -H 'Content-Type: application/json' \
        -d "$body" >/dev/null || die "signup ($mode)"
    local out
    out=$(SIGNIN_BODY=$body wrk -t2 -c8 -d"$DURATION" -s "$ROOT/bench/signin.lua" \
        "http://127.0.0.1:$port/v1/signin")
    echo "$out" | grep -q "Non-2xx" && die "sign-in errors ($mode): $out"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    echo "$out" | awk '/Requests\/sec/{print $2}'
}
ON=(); OFF=()
for i in $(seq "$RUNS"); do
    ON+=("$(signin_rate on)")
    OFF+=("$(signin_rate off)")
    rm -rf "$TMP"/signin-*
done
ON_M=$(printf '%s\n' "${ON[@]}" | median)
OFF_M=$(printf '%s\n' "${OFF[@]}" | median)
RATIO=$(echo "$ON_M / $OFF_M" | bc -l | cut -c1-5)

mkdir -p "$ROOT/bench/results"
RES="$ROOT/bench/results/audit-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
    echo "metric                      | value                     | target"
    echo "audit verify rows/s         | $VERIFY_RATE (median of $RUNS, $ROWS rows) | >= 1000000"
    echo "signin/s audit on           | $ON_M (${ON[*]})          |"
    echo "signin/s audit off          | $OFF_M (${OFF[*]})        |"
    echo "on / off                    | $RATIO                     | >= 0.95"
} | tee "$RES"
