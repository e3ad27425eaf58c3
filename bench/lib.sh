# Helpers shared by the bench scripts (sourced; needs python3, awk, curl;
# wait_http calls the script's own die).

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
psi() { echo "cpu pressure $(head -1 /proc/pressure/cpu 2>/dev/null | cut -d' ' -f2-3), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"; }
json_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) exit 1; print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }
calc() { python3 -c "import sys; print(format(eval(sys.argv[1]), sys.argv[2]))" "$1" "$2"; }
wrk_rps() { awk '/^Requests\/sec:/{print $2}' "$1"; }
wrk_p99_ms() {
    awk '$1=="99%"{v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
        f = (u=="us") ? 0.001 : (u=="ms") ? 1 : (u=="s") ? 1000 : (u=="m") ? 60000 : -1;
        if (f < 0) exit 1; printf "%.3f\n", v*f}' "$1"
}
wrk_requests() { awk '/ requests in /{print $1}' "$1"; }
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/{n=$NF} END{print n+0}' "$1"; }
# stop_pid PID [SIGNAL]: SIGNAL (TERM), wait up to 5 s, then SIGKILL.
stop_pid() {
    local pid=$1 sig=${2:-TERM}
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}
# wait_http URL PID: until URL answers 200 (15 s); the caller's die() if
# process PID exits first or it never does.
wait_http() {
    local code=""
    for _ in $(seq 150); do
        kill -0 "$2" 2>/dev/null || die "process $2 exited while starting (url $1)"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    die "$1 did not answer 200 within 15 s (last: $code)"
}
