#!/usr/bin/env python3
"""Tests of scripts/lint_layout.py on small hand-made trees (run by `make
test` before the lint itself, so a broken lint cannot pass silently)."""
import atexit
import contextlib
import io
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_layout  # noqa: E402


def tree(files):
    d = tempfile.mkdtemp(prefix="gh-lint-")
    atexit.register(shutil.rmtree, d, True)
    for path, text in files.items():
        p = os.path.join(d, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
    return d


def inc(*headers):
    return "".join(f'#include "{h}"\n' for h in headers) + "#include <stdio.h>\n"


CLEAN = {
    "core/err.h": "",
    "core/config.h": inc("core/err.h"),
    "core/config.c": inc("core/config.h"),
    "http/server.h": inc("core/err.h"),
    "http/server.c": inc("http/server.h", "sessions/sessions.h"),
    "sessions/sessions.h": inc("core/err.h"),
    "sessions/sessions.c": inc("sessions/sessions.h", "core/config.h"),
    "sessions/sessions_http.h": inc("http/server.h"),
    "sessions/sessions_http.c": inc("sessions/sessions_http.h", "sessions/sessions.h"),
    "accounts/accounts_http.h": inc("http/server.h"),
    "accounts/accounts_http.c": inc("accounts/accounts_http.h", "sessions/sessions.h"),
    "store/store.h": inc("core/err.h"),
    "store/sqlite.c": inc("store/store.h") + "x\n" * 698,  # 700 lines: allowed
}


class LintLayout(unittest.TestCase):
    def lint(self, changes):
        files = dict(CLEAN)
        files.update(changes)
        return lint_layout.lint(tree(files))

    def test_clean_tree(self):
        self.assertEqual(self.lint({}), [])

    def test_long_file(self):
        p = self.lint({"store/sqlite.c": inc("store/store.h") + "x\n" * 701})
        self.assertEqual(len(p), 1)
        self.assertIn("src/store/sqlite.c: 703 lines", p[0])

    def test_circle_through_c_files(self):
        # config.h -> limit_redis.h; limit_redis.c -> vault.h; vault.c -> config.h
        p = self.lint({
            "core/config.h": inc("core/err.h", "guard/limit_redis.h"),
            "guard/limit_redis.h": "",
            "guard/limit_redis.c": inc("guard/limit_redis.h", "vault/vault.h"),
            "vault/vault.h": inc("store/store.h"),
            "vault/vault.c": inc("vault/vault.h", "core/config.h"),
        })
        self.assertEqual(len(p), 1, p)
        self.assertIn("core/config, guard/limit_redis, vault/vault", p[0])
        self.assertIn("core/config -> guard/limit_redis -> vault/vault -> core/config", p[0])

    def test_two_module_circle_and_own_header_is_not_one(self):
        p = self.lint({"core/config.c": inc("core/config.h", "sessions/sessions.h")})
        self.assertEqual(len(p), 1, p)
        self.assertIn("core/config, sessions/sessions", p[0])

    def test_core_includes_http(self):
        p = self.lint({"audit/failures.c": inc("http/server.h"), "store/sqlite.h": inc("http/conn.h"),
                       "http/conn.h": ""})
        self.assertEqual(sorted(p), [
            "src/audit/failures.c includes http/server.h: src/audit/ must not depend on http/",
            "src/store/sqlite.h includes http/conn.h: src/store/ must not depend on http/",
        ])

    def test_handler_includes_other_handler(self):
        p = self.lint({
            "mfa/mfa_http.h": inc("http/server.h"),
            "mfa/mfa_http.c": inc("mfa/mfa_http.h"),
            "accounts/accounts_http.c": inc("accounts/accounts_http.h", "mfa/mfa_http.h"),
        })
        self.assertEqual(len(p), 1, p)
        self.assertIn("src/accounts/accounts_http.c includes mfa/mfa_http.h", p[0])

    def test_main_exit_codes(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            self.assertEqual(lint_layout.main(["x", tree(CLEAN)]), 0)
            self.assertEqual(lint_layout.main(["x", tree({**CLEAN, "a/b.c": "x\n" * 701})]), 1)
        self.assertIn("src/a/b.c: 701 lines", out.getvalue())


if __name__ == "__main__":
    unittest.main()
