// A short multi-threaded run of the server under ThreadSanitizer (`make
// test` runs it against build/tsan/gatehouse; it is not a *.test.mjs file,
// so the ASan API run does not pick it up).
//
// The server runs with several event loops, database workers and hash
// workers, and a burst of concurrent clients signs up, signs in, reads
// /v1/me by bearer token and by session cookie (the auth cache's rwlocks,
// on every loop), refreshes, lists and revokes sessions and signs out (the workers' inboxes and the replies
// travelling back to the loops). Any "WARNING: ThreadSanitizer" on the
// server's stderr, or a non-zero exit (TSAN_OPTIONS exitcode), fails it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, me, refresh, uniqueEmail, strongPassword, rawRequest,
} from './lib/harness.mjs';

const CLIENTS = Number(process.env.GH_TSAN_CLIENTS || 16);
const PUBLIC = 'https://auth.example.test'; // cookie mode, as behind a TLS proxy
const ROUNDS = Number(process.env.GH_TSAN_ROUNDS || 2);

async function client(srv) {
  const a = await signup(srv, uniqueEmail(), strongPassword());
  const browser = cookieClient(srv, a.email, a.password); // runs alongside the bearer calls
  // the same account from several sessions at once
  const sessions = await Promise.all([signin(srv, a.email, a.password), signin(srv, a.email, a.password)]);
  const reads = [];
  for (const s of [a, ...sessions]) for (let i = 0; i < 4; i++) reads.push(me(srv, s.access));
  for (const r of await Promise.all(reads)) assert.equal(r.status, 200, r.text);
  // a refresh while the same account is read on another loop
  const [r1] = await Promise.all([refresh(srv, sessions[0].refresh), me(srv, a.access)]);
  assert.equal(r1.status, 200, r1.text);
  assert.equal((await me(srv, r1.json.access_token)).status, 200);
  const list = await api(srv.url, 'GET', '/v1/sessions', { token: a.access });
  assert.equal(list.status, 200, list.text);
  const other = list.json.sessions.find((s) => !s.current && s.mode === 'bearer');
  const [rev, wrong] = await Promise.all([
    api(srv.url, 'DELETE', `/v1/sessions/${encodeURIComponent(other.id)}`, { token: a.access }),
    api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: 'not the password at all' } }),
  ]);
  assert.equal(rev.status, 204, rev.text);
  assert.equal(wrong.status, 401, wrong.text);
  // sign-outs racing reads of the same sessions through the auth cache
  const outs = await Promise.all([
    api(srv.url, 'POST', '/v1/signout', { token: a.access }),
    me(srv, a.access),
    api(srv.url, 'POST', '/v1/signout', { token: r1.json.access_token }),
    me(srv, r1.json.access_token),
    api(srv.url, 'POST', '/v1/signout', { token: sessions[1].access }),
  ]);
  for (const r of outs) assert.ok([200, 204, 401].includes(r.status), `${r.status} ${r.text}`);
  assert.equal((await me(srv, a.access)).status, 401, 'signed out');
  await browser;
}

// A browser: cookie sign-in, reads by cookie on several loops at once (the
// auth cache's cookie table), then a sign-out with the CSRF token.
async function cookieClient(srv, email, password) {
  const json = (o) => JSON.stringify(o);
  const r = await rawRequest(srv.port, {
    method: 'POST', path: '/v1/signin', body: json({ email, password, mode: 'cookie' }),
    headers: { 'Content-Type': 'application/json', Origin: PUBLIC },
  });
  assert.equal(r.status, 200, r.text);
  const jar = Object.fromEntries((r.headers['set-cookie'] || []).map((c) => c.split(';')[0].split('=')));
  const cookie = Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ');
  const csrf = jar['__Host-gh_csrf'];
  assert.ok(jar['__Host-gh_session'] && csrf, `cookies: ${r.headers['set-cookie']}`);
  const reads = await Promise.all(Array.from({ length: 6 }, () =>
    rawRequest(srv.port, { path: '/v1/me', headers: { Cookie: cookie } })));
  for (const x of reads) assert.equal(x.status, 200, x.text);
  const out = await rawRequest(srv.port, {
    method: 'POST', path: '/v1/signout', headers: { Cookie: cookie, Origin: PUBLIC, 'X-CSRF-Token': csrf },
  });
  assert.equal(out.status, 204, out.text);
}

test('TSan smoke: concurrent sign-ups, sign-ins, /v1/me, refreshes, sign-outs on 3 loops', { timeout: 600_000 }, async () => {
  const srv = await startServer({
    readyTimeoutMs: 120_000,
    env: {
      GATEHOUSE_THREADS: '3', GATEHOUSE_WORKERS: '4', GATEHOUSE_HASH_WORKERS: '2',
      GATEHOUSE_PUBLIC_URL: `${PUBLIC}/`,
    },
  });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(Array.from({ length: CLIENTS }, () => client(srv)));
      // the public, loop-side routes too
      const pub = await Promise.all(['/healthz', '/readyz', '/metrics', '/.well-known/jwks.json']
        .map((p) => api(srv.url, 'GET', p)));
      for (const r of pub) assert.equal(r.status, 200, r.text);
    }
  } finally {
    await srv.stop(); // exit 0, and no sanitizer text on stderr
  }
  assert.ok(!srv.stderr().includes('WARNING: ThreadSanitizer'), srv.stderr().slice(0, 4000));
});
