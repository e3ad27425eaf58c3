// GATEHOUSE_SESSION_MAX_AGE (issue 9, item 10; ASVS 7.3.2): a session ends
// a fixed time after sign-in however often it refreshes. Each refresh
// still moves the idle expiry (GATEHOUSE_REFRESH_TTL); after the maximum
// age the refresh is refused with 401 session_expired, the session is
// ended, and the person signs in again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServer, api, signup, signin, me, refresh, sql, sleep, assertError, runCli, mkTempDir,
} from './lib/harness.mjs';

const sessionOf = (srv, access) => JSON.parse(Buffer.from(access.split('.')[1], 'base64url')).sid;
const created = (srv, sid) => Number(sql(srv.dbPath, `SELECT created_at FROM sessions WHERE id = '${sid}';`));
const expires = (srv, sid) => Number(sql(srv.dbPath, `SELECT expires_at FROM sessions WHERE id = '${sid}';`));
// Sleeps until the wall clock reads at least t seconds (t may be fractional).
async function until(t) { while (Date.now() / 1000 < t) await sleep(20); }

describe('GATEHOUSE_SESSION_MAX_AGE', () => {
  test('bearer: refresh works before the maximum age, each moving the idle expiry, and is refused after it; signing in again works', async () => {
    const srv = await startServer({ env: { GATEHOUSE_SESSION_MAX_AGE: '3' } });
    try {
      const a = await signup(srv);
      const sid = sessionOf(srv, a.access);
      const t0 = created(srv, sid);
      let tok = a.refresh; let exp = expires(srv, sid);
      for (const at of [1.2, 2.5]) { // whole seconds since sign-in: 1, then 2
        await until(t0 + at);
        const r = await refresh(srv, tok);
        assert.equal(r.status, 200, `refresh ${at} s after sign-in: ${r.text}`);
        tok = r.json.refresh_token;
        const e = expires(srv, sid);
        assert.ok(e > exp, `the idle expiry moved (${exp} -> ${e})`);
        exp = e;
      }
      const access = (await refresh(srv, tok)).json;
      tok = access.refresh_token;
      await until(t0 + 3.05);
      const r = await refresh(srv, tok);
      assertError(r, 401, 'session_expired');
      assert.ok(exp > Date.now() / 1000 + 600, 'refused although the idle expiry was far ahead');
      assert.ok(Number(sql(srv.dbPath, `SELECT revoked_at IS NOT NULL FROM sessions WHERE id = '${sid}';`)), 'the session is ended');
      assertError(await me(srv, access.access_token), 401, 'invalid_token', 'its access tokens end with it');
      assertError(await refresh(srv, tok), 401, 'invalid_token', 'and it stays ended');
      const again = await signin(srv, a.email, a.password);
      assert.equal((await refresh(srv, again.refresh)).status, 200, 'a new sign-in starts a new lifetime');
    } finally {
      await srv.stop();
    }
  });

  test('cookie mode: the session cookie is refused (and cleared) at its first rotation after the maximum age', async () => {
    const PUBLIC = 'https://auth.example.test';
    const srv = await startServer({ env: { GATEHOUSE_SESSION_MAX_AGE: '3', GATEHOUSE_ACCESS_TTL: '1', GATEHOUSE_PUBLIC_URL: PUBLIC } });
    const req = (p, { json, cookie } = {}) => new Promise((resolve, reject) => {
      const h = { Origin: PUBLIC };
      let body;
      if (json) { body = Buffer.from(JSON.stringify(json)); h['Content-Type'] = 'application/json'; h['Content-Length'] = body.length; }
      if (cookie) h.Cookie = cookie;
      const q = http.request({ host: '127.0.0.1', port: srv.port, method: json ? 'POST' : 'GET', path: p, headers: h, agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode, text, json: text ? JSON.parse(text) : null, setCookie: res.headers['set-cookie'] || [] }));
      });
      q.on('error', reject);
      if (body) q.write(body);
      q.end();
    });
    const cookieFrom = (res, old) => {
      const m = res.setCookie.map((l) => /^__Host-gh_session=([^;]*)/.exec(l)).find(Boolean);
      return m ? `__Host-gh_session=${m[1]}` : old;
    };
    try {
      const a = await signup(srv);
      const s = await req('/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' } });
      assert.equal(s.status, 200, s.text);
      let cookie = cookieFrom(s, null);
      const sid = sql(srv.dbPath, `SELECT id FROM sessions WHERE user_id = '${a.user.id}' AND mode = 'cookie';`);
      const t0 = created(srv, sid);
      let rotations = 0;
      for (const at of [1.2, 2.5]) {
        await until(t0 + at);
        const r = await req('/v1/me', { cookie });
        assert.equal(r.status, 200, r.text);
        const next = cookieFrom(r, cookie);
        if (next !== cookie) rotations++;
        cookie = next;
      }
      assert.ok(rotations >= 1, 'the cookie was rotated before the maximum age');
      await until(t0 + 4.1); // past the maximum age, and the current cookie is due for rotation
      const r = await req('/v1/me', { cookie });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error.code, 'session_expired');
      assert.ok(r.setCookie.some((l) => /^__Host-gh_session=;/.test(l)), `cleared: ${r.setCookie}`);
      assert.equal((await req('/v1/me', { cookie })).status, 401, 'and stays refused');
    } finally {
      await srv.stop();
    }
  });

  test('30 days by default, counted from created_at: a session begun before the limit (as after an upgrade) ends at its next refresh; 0 turns the limit off', async () => {
    const backdate = (srv, sid, s) => sql(srv.dbPath, `UPDATE sessions SET created_at = created_at - ${s} WHERE id = '${sid}';`);
    let srv = await startServer();
    try {
      const a = await signup(srv);
      const b = await signup(srv);
      backdate(srv, sessionOf(srv, a.access), 30 * 86400 + 5);
      backdate(srv, sessionOf(srv, b.access), 30 * 86400 - 60);
      assertError(await refresh(srv, a.refresh), 401, 'session_expired');
      assert.equal((await refresh(srv, b.refresh)).status, 200, 'a minute short of 30 days still refreshes');
    } finally {
      await srv.stop();
    }
    srv = await startServer({ env: { GATEHOUSE_SESSION_MAX_AGE: '0' } });
    try {
      const a = await signup(srv);
      backdate(srv, sessionOf(srv, a.access), 3650 * 86400);
      const r = await refresh(srv, a.refresh);
      assert.equal(r.status, 200, r.text);
    } finally {
      await srv.stop();
    }
  });

  test('a bad GATEHOUSE_SESSION_MAX_AGE stops the start, naming it', () => {
    const dir = mkTempDir();
    for (const v of ['-1', 'abc', '1e3', '30d', '315360001', '99999999999999999999']) {
      const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_SESSION_MAX_AGE: v } });
      assert.notEqual(r.code, 0, `'${v}' was accepted`);
      assert.match(r.stderr, /GATEHOUSE_SESSION_MAX_AGE/, v);
    }
    for (const v of ['0', '3', '2592000', '315360000']) {
      const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_SESSION_MAX_AGE: v } });
      assert.equal(r.code, 0, `${v}: ${r.stderr}`);
    }
  });
});
