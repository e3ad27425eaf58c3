// Issue 9, items 2 and 14: routes anyone can call without a session have
// per-IP budgets (429 on the loop, before any hashing or database write),
// and failures a client causes at will cannot write unbounded audit rows:
// past GATEHOUSE_AUDIT_FAILURE_ROWS (10 per 60 s by default) per kind and
// client they are counted, and one audit.suppressed row per window says
// how many (written by the periodic job without another request, or at
// shutdown). Refused authorisation attempts (another user's session, a
// CSRF failure settled on a worker) are audited as authz.denied, within
// the same bounds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import {
  startServer, api, signup, sql, sleep, runCli, assertError, sqlJson,
} from './lib/harness.mjs';

const fakeToken = () => crypto.randomBytes(32).toString('base64url');
const LINK_ROUTES = [
  ['/v1/magic-link/verify', () => ({ token: fakeToken() })],
  ['/v1/email/verify', () => ({ token: fakeToken() })],
  ['/v1/password/reset', () => ({ token: fakeToken(), new_password: 'correct horse battery staple x' })],
];
const rows = (srv, where = '1 = 1') => Number(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE ${where};`));
/** Audit rows as objects of the given columns, details parsed (on both backends). */
const auditObjects = (srv, cols, where) => sqlJson(srv.dbPath, `SELECT ${cols.join(', ')} FROM audit_log WHERE ${where} ORDER BY id;`)
  .map((r) => ({ ...r, details: JSON.parse(r.details) }));
const onlyAudit = (srv, cols, where) => {
  const rs = auditObjects(srv, cols, where);
  assert.equal(rs.length, 1, `one row where ${where}`);
  return rs[0];
};
const summaries = (srv) => auditObjects(srv, ['actor', 'ip', 'details'], "action = 'audit.suppressed'");
const verifyChain = (srv) => {
  const r = runCli(['audit', 'verify'], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
};

/** Sends made-up tokens to the three link routes from `workers` parallel
 *  loops for ms milliseconds; returns the count per status. */
async function flood(srv, ms, workers = 6) {
  const counts = {};
  const end = Date.now() + ms;
  let i = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (Date.now() < end) {
      const [p, body] = LINK_ROUTES[i++ % 3];
      const r = await api(srv.url, 'POST', p, { json: body() });
      counts[r.status] = (counts[r.status] || 0) + 1;
    }
  }));
  return counts;
}

describe('a flood of made-up link tokens', () => {
  test('with the default budgets and rows: 429 before any work, and the audit log grows by a bounded number of rows', async () => {
    const srv = await startServer({ env: { GATEHOUSE_LIMIT_LINK_IP: null, GATEHOUSE_AUDIT_FAILURE_ROWS: null } });
    try {
      const before = rows(srv);
      const counts = await flood(srv, 3000);
      const written = rows(srv) - before;
      assert.ok(counts[429] > 0, `429s: ${JSON.stringify(counts)}`);
      assert.ok((counts[401] || 0) <= 30, `at most the link_ip budget (30 per 15 min) reaches a handler: ${JSON.stringify(counts)}`);
      assert.deepEqual(Object.keys(counts).sort(), ['401', '429'], JSON.stringify(counts));
      assert.ok(written <= 30, `rows written: ${written} (${JSON.stringify(counts)})`);
      const r = await api(srv.url, 'POST', '/v1/password/reset', { json: LINK_ROUTES[2][1]() });
      assertError(r, 429, 'rate_limited');
      assert.match(r.headers.get('ratelimit-policy') || '', /link_ip/);
    } finally {
      await srv.stop();
    }
    verifyChain(srv);
  });

  test('past the threshold, failures of one kind from one client become one audit.suppressed row per window, written without another request', async () => {
    const srv = await startServer({ env: { GATEHOUSE_AUDIT_FAILURE_ROWS: '5/3' } });
    try {
      const t0 = Date.now();
      const st = [];
      for (let i = 0; i < 4; i++) {
        st.push(...(await Promise.all(Array.from({ length: 10 }, () => api(srv.url, 'POST', '/v1/email/verify', { json: { token: fakeToken() } })))).map((r) => r.status));
      }
      const windows = Math.floor((Date.now() - t0) / 3000) + 1;
      assert.deepEqual([...new Set(st)], [401]);
      const own = rows(srv, "action = 'email.verify_failure'");
      assert.ok(own >= 5 && own <= 5 * windows, `${own} rows in ${windows} window(s)`);
      // no further request: the periodic job writes the summary once the window ends
      let s = [];
      for (let i = 0; i < 40 && (s.length === 0 || own + s.reduce((a, x) => a + x.details.count, 0) < 40); i++) {
        await sleep(250);
        s = summaries(srv);
      }
      assert.ok(s.length >= 1 && s.length <= windows, JSON.stringify(s));
      assert.equal(own + s.reduce((a, x) => a + x.details.count, 0), 40, 'every failure is a row or counted in a summary');
      for (const x of s) {
        assert.equal(x.actor, 'system');
        assert.equal(x.ip, '127.0.0.1');
        assert.equal(x.details.action, 'email.verify_failure');
        assert.equal(x.details.window_seconds, 3);
        assert.equal(x.details.rows_written, 5);
        assert.match(x.details.window_start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      }
      // another kind from the same client has rows of its own
      const m = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: fakeToken() } });
      assert.equal(m.status, 401);
      assert.equal(rows(srv, "action = 'signin.failure'"), 1);
    } finally {
      await srv.stop();
    }
    verifyChain(srv);
  });

  test('at shutdown, the summary of a window still open is written', async () => {
    const srv = await startServer({ env: { GATEHOUSE_AUDIT_FAILURE_ROWS: '5/600' } });
    for (let i = 0; i < 12; i++) assert.equal((await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: fakeToken() } })).status, 401);
    assert.equal(rows(srv, "action = 'signin.failure'"), 5);
    assert.equal(summaries(srv).length, 0);
    await srv.stop();
    const s = summaries(srv);
    assert.equal(s.length, 1, JSON.stringify(s));
    assert.equal(s[0].details.count, 7);
    assert.equal(s[0].details.action, 'signin.failure');
    verifyChain(srv);
  });
});

describe('a spent refresh token replayed at will', () => {
  test('its first return is always audited; replays of the revoked family are bounded like failures', async () => {
    const srv = await startServer({ env: { GATEHOUSE_AUDIT_FAILURE_ROWS: '3/600', GATEHOUSE_REFRESH_REUSE_GRACE: '0' } });
    try {
      const a = await signup(srv);
      const first = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } });
      assert.equal(first.status, 200, first.text);
      for (let i = 0; i < 8; i++) {
        assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } }), 401, 'token_reused');
      }
      assert.equal(rows(srv, "action = 'token.reuse_detected'"), 1 + 3, 'the first, then 3 per window');
    } finally {
      await srv.stop();
    }
    const s = summaries(srv);
    assert.deepEqual(s.map((x) => [x.details.action, x.details.count]), [['token.reuse_detected', 4]]);
    verifyChain(srv);
  });
});

describe('refused authorisation attempts are audited (within the same bounds)', () => {
  test("DELETE of another user's session: still 404, the session lives, one authz.denied row per attempt up to the threshold", async () => {
    const srv = await startServer({ env: { GATEHOUSE_AUDIT_FAILURE_ROWS: '5/600' } });
    let a; let b;
    try {
      a = await signup(srv);
      b = await signup(srv);
      const list = await api(srv.url, 'GET', '/v1/sessions', { token: b.access });
      const bid = list.json.sessions[0].id;
      const r = await api(srv.url, 'DELETE', `/v1/sessions/${bid}`, { token: a.access });
      assertError(r, 404, 'not_found');
      const row = onlyAudit(srv, ['actor', 'target', 'ip', 'details'], "action = 'authz.denied'");
      assert.deepEqual(row, { actor: a.user.id, target: b.user.id, ip: '127.0.0.1', details: { param: bid, reason: 'not_owner', route: 'DELETE /v1/sessions/{id}' } });
      assert.equal((await api(srv.url, 'GET', '/v1/me', { token: b.access })).status, 200, "B's session is untouched");
      // an unknown id (or one's own ended session) is a plain 404, no row
      const none = await api(srv.url, 'DELETE', `/v1/sessions/${bid.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))}`, { token: a.access });
      assertError(none, 404, 'not_found');
      assert.equal(rows(srv, "action = 'authz.denied'"), 1);
      for (let i = 0; i < 10; i++) assertError(await api(srv.url, 'DELETE', `/v1/sessions/${bid}`, { token: a.access }), 404, 'not_found');
      assert.equal(rows(srv, "action = 'authz.denied'"), 5, 'bounded per kind and client');
    } finally {
      await srv.stop();
    }
    const s = summaries(srv);
    assert.equal(s.length, 1);
    assert.deepEqual([s[0].details.action, s[0].details.count], ['authz.denied', 6]);
    verifyChain(srv);
  });

  test('a CSRF failure settled on a worker (cookie not in the cache) is audited as authz.denied; the reply is still 403 csrf_failed', async () => {
    const PUBLIC = 'https://auth.example.test';
    const env = { GATEHOUSE_PUBLIC_URL: `${PUBLIC}/` };
    let srv = await startServer({ env });
    const a = await signup(srv);
    const signin = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: { Origin: PUBLIC } });
    assert.equal(signin.status, 200, signin.text);
    const cookie = signin.headers.getSetCookie().map((l) => l.split(';')[0]).join('; ');
    await srv.stop();
    // a restart empties the cache: the cookie is settled on a worker, with a database connection
    srv = await startServer({ env, dataDir: srv.dataDir });
    try {
      const post = (headers) => new Promise((resolve, reject) => {
        const rq = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/v1/signout', headers: { Cookie: cookie, ...headers }, agent: false }, (res) => {
          let t = '';
          res.on('data', (d) => { t += d; });
          res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(t || 'null') }));
        });
        rq.on('error', reject);
        rq.end();
      });
      const r = await post({ Origin: PUBLIC });
      assert.equal(r.status, 403);
      assert.equal(r.json.error.code, 'csrf_failed');
      const row = onlyAudit(srv, ['actor', 'details'], "action = 'authz.denied'");
      assert.deepEqual(row, { actor: a.user.id, details: { reason: 'csrf_failed', route: 'POST /v1/signout' } });
      assert.equal(Number(sql(srv.dbPath, `SELECT count(*) FROM sessions WHERE user_id = '${a.user.id}' AND revoked_at IS NULL;`)), 2, 'nothing signed out');
    } finally {
      await srv.stop();
    }
  });
});
