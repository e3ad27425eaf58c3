#!/usr/bin/env python3
"""Many distinct live access tokens, made through the real HTTP API.

bench/verify.sh runs this against a Gatehouse started for it (cheap Argon2,
rate limits off). For each of USERS users: POST /v1/signup (its first
session), then POST /v1/signin SESSIONS-1 more times; then for every session
POST /v1/token (refresh) TOKENS-1 times in a chain, keeping each access token
it hands out (an access token stays valid until its exp when its session is
refreshed: only the refresh token rotates). That gives USERS * SESSIONS *
TOKENS distinct access tokens, written one per line to OUT in a shuffled
order (fixed seed), so consecutive requests of a round robin hit different
tokens, sessions and users. Any unexpected status stops it (exit 1).

usage: tokens.py BASE_URL OUT [--users N] [--sessions N] [--tokens N]
                              [--concurrency N] [--password P]
Prints one line per phase with its count and time to stderr, and a last line
"tokens=<n> users=<n> sessions=<n> seconds=<s>" to stdout.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

_local = threading.local()


def conn(base):
    c = getattr(_local, "conn", None)
    if c is None:
        u = urllib.parse.urlsplit(base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        _local.conn = c
    return c


def post(base, path, body, want):
    data = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"}
    for attempt in range(2):  # one retry on a dropped keep-alive connection
        c = conn(base)
        try:
            c.request("POST", path, data, hdrs)
            r = c.getresponse()
            raw = r.read()
            break
        except (http.client.HTTPException, ConnectionError, OSError):
            c.close()
            _local.conn = None
            if attempt:
                raise
    if r.status != want:
        raise RuntimeError(f"POST {path} returned {r.status} (want {want}): {raw[:300]!r}")
    return json.loads(raw)


def run_phase(name, fn, items, workers):
    t0 = time.monotonic()
    out = []
    with cf.ThreadPoolExecutor(max_workers=workers) as ex:
        for res in ex.map(fn, items):
            out.append(res)
    dt = time.monotonic() - t0
    print(f"   tokens.py: {name}: {len(items)} in {dt:.1f} s ({len(items) / max(dt, 1e-9):.0f}/s)",
          file=sys.stderr, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=10, help="sessions per user (sign-up included)")
    ap.add_argument("--tokens", type=int, default=10, help="access tokens per session")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--password", default="correct horse battery staple 42")
    ap.add_argument("--tag", default=str(int(time.time())))
    a = ap.parse_args()
    if min(a.users, a.sessions, a.tokens, a.concurrency) < 1:
        ap.error("every count must be at least 1")
    base = a.base.rstrip("/")
    t_start = time.monotonic()

    emails = [f"bench-{a.tag}-{i}@example.com" for i in range(a.users)]

    def signup(email):
        j = post(base, "/v1/signup", {"email": email, "password": a.password}, 201)
        return (j["access_token"], j["refresh_token"])

    def signin(email):
        j = post(base, "/v1/signin", {"email": email, "password": a.password}, 200)
        return (j["access_token"], j["refresh_token"])

    sessions = run_phase("signup", signup, emails, a.concurrency)
    if a.sessions > 1:
        more = [e for e in emails for _ in range(a.sessions - 1)]
        sessions += run_phase("signin", signin, more, a.concurrency)

    def chain(first):
        access, refresh = first
        got = [access]
        for _ in range(a.tokens - 1):
            j = post(base, "/v1/token", {"grant_type": "refresh_token", "refresh_token": refresh}, 200)
            got.append(j["access_token"])
            refresh = j["refresh_token"]
        return got

    if a.tokens > 1:
        chains = run_phase(f"refresh x{a.tokens - 1} per session", chain, sessions, a.concurrency)
    else:
        chains = [[s[0]] for s in sessions]
    tokens = [t for c in chains for t in c]
    if len(set(tokens)) != len(tokens):
        raise RuntimeError("duplicate access tokens")
    random.Random(11).shuffle(tokens)
    with open(a.out, "w") as f:
        f.write("\n".join(tokens))
        f.write("\n")
    dt = time.monotonic() - t_start
    print(f"tokens={len(tokens)} users={a.users} sessions={len(sessions)} seconds={dt:.1f}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one clear line; verify.sh stops on the exit status
        print(f"tokens.py: FAIL: {e}", file=sys.stderr)
        sys.exit(1)
