#!/usr/bin/env python3
"""Checks a Gatehouse audit log's hash chain without Gatehouse (docs/audit.md).

Python 3 standard library only. Opens the database read-only and needs no key.

usage: audit_verify.py PATH/gatehouse.db [--head ID HASH | --head-file FILE]

--head ID HASH    a head recorded earlier, e.g. from the server's
                  "audit chain ok: N rows, head ID HASH" log line: row ID must
                  still exist with that hash (this catches a truncated tail).
--head-file FILE  the same, read from a file holding "ID HASH" (audit.head).

Prints "ok N rows" and exits 0, or "broken at row N: <reason>" and exits 1
(the same wording as `gatehouse audit verify`); 2 on a usage or read error.
"""
import hashlib
import json
import pathlib
import re
import sqlite3
import sys

GENESIS = hashlib.sha256(b"gatehouse-audit-genesis-v1").hexdigest()
HEX64 = re.compile(r"[0-9a-f]{64}")
COLUMNS = "id, occurred_at, actor, action, target, ip, user_agent, request_id, details, prev_hash, hash"


def row_hash(prev_hex, row, row_id):
    """hex(SHA-256(raw(prev_hash) || canonical(row))), row_id standing in for row[0]."""
    h = hashlib.sha256(bytes.fromhex(prev_hex) + b"gatehouse-audit-v1\n")
    for v in [str(row_id), *row[1:9]]:
        b = v if isinstance(v, bytes) else ("" if v is None else str(v)).encode("utf-8")
        h.update(b"%d:%s\n" % (len(b), b))
    return h.hexdigest()


def verify(db, anchor):
    """Returns (None, rows) when intact, else (bad_id, reason)."""
    n, last, first, checkpoint = 0, None, None, None
    lo = db.execute("SELECT MIN(id) FROM audit_log").fetchone()[0]
    if lo is not None and lo < 1:  # Gatehouse numbers rows from 1
        return lo, "ids start at 1; the row was inserted by hand"
    for r in db.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY id"):
        rid, when, prev, stored = r[0], r[1], r[9], r[10]
        if not isinstance(prev, str) or not HEX64.fullmatch(prev):
            return rid, "prev_hash is malformed"
        if row_hash(prev, r, rid) != stored:
            for k in range(max(1, rid - 8), rid + 9):
                if k != rid and row_hash(prev, r, k) == stored:
                    return rid, f"reordered: it holds the entry written as row {k}"
            return rid, "hash mismatch: the row was edited"
        if last is None:
            first = (rid, prev)
            if rid == 1 and prev != GENESIS:
                return rid, "the first row does not start from the genesis value"
        elif rid != last[0] + 1:
            return rid, f"gap: rows after {last[0]} are missing"
        elif prev != last[1]:
            return rid, f"chain broken: prev_hash is not row {last[0]}'s hash (rows removed, inserted or reordered)"
        elif when < last[2]:
            return rid, f"reordered: it is older than row {last[0]}"
        if anchor and rid == anchor[0] and stored != anchor[1]:
            return rid, "differs from the head recorded earlier (rewritten)"
        if r[3] == "audit.checkpoint":
            try:
                d = json.loads(r[8])
                checkpoint = (int(d["first_kept_id"]), str(d["continues_from"]))
            except (ValueError, KeyError, TypeError):
                pass
        last, n = (rid, stored, when), n + 1
    if first and first[0] != 1 and checkpoint != first:
        return first[0], "the log starts after missing rows and no retention checkpoint accounts for them"
    end = last[0] if last else 0
    if anchor and anchor[0] > end:
        return end + 1, (f"missing: the log ends before the head recorded earlier (row {anchor[0]}); "
                         "its tail was removed")
    return None, n


def main(argv):
    anchor = None
    if len(argv) == 5 and argv[2] == "--head":
        anchor = (int(argv[3]), argv[4].lower())
    elif len(argv) == 4 and argv[2] == "--head-file":
        with open(argv[3]) as f:
            i, h = f.read().split()[:2]
        anchor = (int(i), h.lower())
    elif len(argv) != 2:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    try:
        db = sqlite3.connect(pathlib.Path(argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
        bad, info = verify(db, anchor)
    except sqlite3.Error as e:
        print(f"cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    if bad is None:
        print(f"ok {info} rows")
        return 0
    print(f"broken at row {bad}: {info}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
