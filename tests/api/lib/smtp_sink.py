#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd, from Debian): TLS with the
given certificate, AUTH PLAIN/LOGIN required with one user and password,
every message written to a Maildir. MODE is starttls (the default: plain
connection, STARTTLS required before AUTH) or implicit (smtps: TLS from the
first byte, nothing in the clear). Usage:
  smtp_sink.py PORT MAILDIR CERT KEY USER PASSWORD [MODE]"""
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
mode = sys.argv[7] if len(sys.argv) > 7 else "starttls"
if mode not in ("starttls", "implicit"):
    sys.exit(f"unknown mode {mode}")


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd then answers 535 itself (its default, True, sends nothing)
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
if mode == "implicit":
    # The TLS is the transport's, not STARTTLS's: aiosmtpd's auth_require_tls
    # only knows the latter, and nothing here is ever in the clear.
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port),
                            ssl_context=ctx, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
else:
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port),
                            tls_context=ctx, require_starttls=True,
                            authenticator=authenticator, auth_required=True,
                            auth_require_tls=True)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
