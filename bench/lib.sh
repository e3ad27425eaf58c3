# Helpers shared by the bench scripts (sourced; needs python3, awk).

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
