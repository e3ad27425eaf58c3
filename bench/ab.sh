#!/usr/bin/env bash
# A/B of two builds on the hot path: GET /v1/me (bearer) against binary A and
# binary B running side by side, in interleaved rounds (A, B, A, B, ...), so
# that the machine's noise falls on both alike. Used for "the hot path does
# not get slower" across a change (issue 10): build the old commit's release
# binary in a worktree, then `bench/ab.sh old/gatehouse build/release/gatehouse`.
# Prints each round and the median req/s and p99 per binary; writes
# bench/results/ab-<UTC>.txt. Any non-2xx reply fails the run.
# Env: ROUNDS=5, DURATION=8s, CONNS=64, THREADS=2.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
[ $# -eq 2 ] && [ -x "$1" ] && [ -x "$2" ] || { echo "usage: bench/ab.sh BINARY_A BINARY_B" >&2; exit 2; }
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-8s} CONNS=${CONNS:-64} THREADS=${THREADS:-2}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-ab.XXXXXX")
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT

start() { # NAME BINARY -> port on stdout
    local port; port=$(free_port)
    mkdir -p "$TMP/$1"
    env -u GATEHOUSE_ARGON2_MEMORY_KIB -u GATEHOUSE_ARGON2_ITERATIONS GATEHOUSE_ENV=development \
        GATEHOUSE_RATE_LIMITS=off GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_DATA_DIR="$TMP/$1" \
        "$2" serve >"$TMP/$1.log" 2>&1 &
    PIDS+=($!)
    echo "$port"
}
token() { # PORT
    local body='{"email":"ab-'"$1"'@example.com","password":"correct horse battery staple 42"}'
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && break; sleep 0.2; done
    curl -sf -H 'Content-Type: application/json' --data-binary "$body" "http://127.0.0.1:$1/v1/signup" >"$TMP/t.json"
    json_get "$TMP/t.json" access_token
}
PA=$(start a "$1"); PB=$(start b "$2")
TA=$(token "$PA"); TB=$(token "$PB")
OUT="$ROOT/bench/results/ab-$(date -u +%Y%m%dT%H%M%SZ).txt"
mkdir -p "$ROOT/bench/results"
{
    echo "A = $1"; echo "B = $2"; echo "round binary req/s p99_ms"
    for r in $(seq "$ROUNDS"); do
        for x in a b; do
            if [ "$x" = a ]; then port=$PA tok=$TA; else port=$PB tok=$TB; fi
            url="http://127.0.0.1:$port/v1/me"
            wrk -t"$THREADS" -c"$CONNS" -d2s -H "Authorization: Bearer $tok" "$url" >/dev/null
            wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $tok" "$url" >"$TMP/w.txt"
            [ "$(wrk_non2xx "$TMP/w.txt")" = 0 ] || { echo "non-2xx replies from $x" >&2; exit 1; }
            echo "$r ${x^^} $(wrk_rps "$TMP/w.txt") $(wrk_p99_ms "$TMP/w.txt")"
        done
    done | tee "$TMP/rounds.txt"
    for x in A B; do
        rps=$(awk -v x="$x" '$2==x{print $3}' "$TMP/rounds.txt" | median)
        p99=$(awk -v x="$x" '$2==x{print $4}' "$TMP/rounds.txt" | median)
        echo "median $x: $rps req/s, p99 $p99 ms"
    done
} | tee "$OUT"
