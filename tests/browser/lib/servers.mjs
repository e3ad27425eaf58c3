// What the browser tests run against: the real (ASan) gatehouse started by
// tests/api/lib/harness.mjs (cookie mode over http on loopback, its mail
// to a real SMTP sink), the sink itself (Debian's aiosmtpd writing a
// Maildir), the real nginx of tests/proxy/lib from the quickstart's own
// example file, and a tiny upstream app that shows the identity header
// nginx passes it.

import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startServer, freePort, mkTempDir, sleep, strongPassword, rand } from '../../api/lib/harness.mjs';

export { strongPassword };

/** A fresh address for one test. */
export const newEmail = (what = 'u') => `${what}-${rand(5)}@example.com`;

/**
 * A real SMTP server on loopback writing every message to a Maildir, as
 * tests/api/magic_link.test.mjs runs it. messages(): every raw message.
 */
export async function startMailSink() {
  const port = await freePort();
  const dir = mkTempDir('gatehouse-browser-smtp-');
  const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`,
    '-c', 'aiosmtpd.handlers.Mailbox', path.join(dir, 'Maildir')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync("/usr/bin/python3", ["-c", `import socket; socket.create_connection(("127.0.0.1", ${port}), 1)`], { stdio: "ignore" });
      break;
    } catch { await sleep(100); }
  }
  const messages = () => {
    const out = [];
    for (const sub of ['new', 'cur']) {
      const d = path.join(dir, 'Maildir', sub);
      if (fs.existsSync(d)) {
        for (const f of fs.readdirSync(d).sort()) out.push(fs.readFileSync(path.join(d, f), 'utf8'));
      }
    }
    return out;
  };
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    /**
     * Waits for a message to `to` holding a link to linkPath ("/magic-link")
     * that is not in `seen`; returns the link as it is in the mail.
     */
    async link(to, linkPath, { seen = new Set(), timeoutMs = 10000 } = {}) {
      const re = new RegExp(`https?://[^\\s"<>]*${linkPath.replace(/[/.?]/g, '\\$&')}\\?token=[A-Za-z0-9_-]+`, 'g');
      const end = Date.now() + timeoutMs;
      for (;;) {
        for (const m of messages()) {
          if (!m.includes(to)) continue;
          for (const l of m.replace(/=\r?\n/g, '').match(re) || []) if (!seen.has(l)) return l;
        }
        if (Date.now() > end) assert.fail(`no mail to ${to} with a new ${linkPath} link within ${timeoutMs} ms (${messages().length} messages)`);
        await sleep(100);
      }
    },
    stop() { child.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * Gatehouse in development on a free loopback port: public URL its own
 * http://127.0.0.1:<port> (the default), cookie mode there by
 * GATEHOUSE_INSECURE_DEV_COOKIES=on (cookies gh_session / gh_csrf), mail to
 * the sink.
 */
export async function startGatehouse({ mail, env = {} } = {}) {
  return startServer({
    env: {
      GATEHOUSE_INSECURE_DEV_COOKIES: 'on',
      ...(mail ? { GATEHOUSE_SMTP_URL: mail.url, GATEHOUSE_SMTP_STARTTLS: 'off' } : {}),
      ...env,
    },
  });
}

/**
 * Whether the server has the page at p (a GET that is not 404): the pages
 * of issue 12 arrive from several branches; a test of a page that is not
 * there yet is skipped with the reason (never passed silently).
 */
export async function hasPages(t, srv, paths) {
  const missing = [];
  for (const p of paths) {
    const r = await fetch(srv.url + p, { redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status === 404 || r.status === 405) missing.push(p);
  }
  // Every page of the flows exists: a missing one fails the test (it was a
  // skip while the pages were being built).
  assert.deepEqual(missing, [], `pages missing: ${missing.join(', ')}`);
  return true;
}

/**
 * The upstream app behind nginx: an HTML page that says who nginx said the
 * visitor is (X-Gatehouse-Email) and which URL was asked for; remembers
 * every request it saw.
 */
export async function startApp() {
  const seen = [];
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const srv = http.createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    const email = req.headers['x-gatehouse-email'];
    const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>The app</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>The app</h1><p>Signed in as <strong id="who">${esc(email)}</strong>.</p>
<p>You asked for <code id="path">${esc(req.url)}</code>.</p></main></body></html>`;
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'",
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  srv.keepAliveTimeout = 1000;
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: srv.address().port,
    seen,
    async stop() { srv.closeAllConnections?.(); await new Promise((r) => srv.close(r)); },
  };
}

/**
 * A cookie sign-in through the JSON API from inside a browser context (its
 * request object shares the context's cookie jar), for the tests of pages
 * that need a session whatever the sign-in page does.
 */
export async function apiCookieSignin(context, srv, email, password) {
  const r = await context.request.post(`${srv.url}/v1/signin`, {
    data: { email, password, mode: 'cookie' }, headers: { Origin: srv.url },
  });
  assert.equal(r.status(), 200, await r.text());
  return r.json();
}
