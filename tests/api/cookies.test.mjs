// Browser cookie mode and CSRF (docs/api.md, "Cookie mode").
//
// The Secure configuration runs on loopback the way it runs behind a TLS
// proxy: GATEHOUSE_PUBLIC_URL says https://auth.example.test, so cookies are
// __Host- and Secure, and "same origin" is that origin. Requests go through
// node:http so that Cookie, Origin and Sec-Fetch-Site are exactly what the
// test sends (fetch adds Sec-Fetch-Mode and manages nothing we want).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, signin, assertError, sql, sleep, runCli, freePort, mkTempDir,
  uniqueEmail, strongPassword,
  markVerified, hexOf, dumpDb,
} from './lib/harness.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };

/** One request over node:http; the body is JSON when json is given. */
function req(srv, method, p, { json, headers = {}, cookie } = {}) {
  const h = { ...headers };
  let body;
  if (json !== undefined) {
    body = Buffer.from(JSON.stringify(json));
    h['Content-Type'] = 'application/json';
    h['Content-Length'] = String(body.length);
  }
  if (cookie !== undefined) h.Cookie = cookie;
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: srv.port, method, path: p, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json: j, setCookie: res.headers['set-cookie'] || [] });
      });
    });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}

/** Set-Cookie lines -> { name: { value, attrs: [..], line } } */
function cookiesOf(res) {
  const out = {};
  for (const line of res.setCookie) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const i = pair.indexOf('=');
    out[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs, line };
  }
  return out;
}

const SESSION = '__Host-gh_session';
const CSRF = '__Host-gh_csrf';

/** Signs in by cookie; returns { res, session, csrf, cookie (header), user }. */
async function cookieSignin(srv, email, password, headers = SAME, names = [SESSION, CSRF]) {
  const res = await req(srv, 'POST', '/v1/signin', { json: { email, password, mode: 'cookie' }, headers });
  assert.equal(res.status, 200, res.text);
  const c = cookiesOf(res);
  const session = c[names[0]]?.value;
  const csrf = c[names[1]]?.value;
  assert.ok(session && csrf, `both cookies set: ${res.setCookie}`);
  return { res, session, csrf, cookie: `${names[0]}=${session}; ${names[1]}=${csrf}`, user: res.json.user };
}

const meByCookie = (srv, cookie, headers = {}) => req(srv, 'GET', '/v1/me', { cookie, headers });
const signoutByCookie = (srv, s, headers) => req(srv, 'POST', '/v1/signout', { cookie: s.cookie, headers });
const liveSessions = (srv, uid) => Number(sql(srv.dbPath,
  `SELECT COUNT(*) FROM sessions WHERE user_id = '${uid}' AND revoked_at IS NULL;`).trim());

function assertCsrfFailed(res, what) {
  assert.equal(res.status, 403, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json?.error?.code, 'csrf_failed', what);
}

describe('cookie mode (Secure configuration: https public URL)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: `${PUBLIC}/` } }); });
  after(async () => { await srv?.stop(); });

  test('sign-in sets __Host-gh_session (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain) and a script-readable __Host-gh_csrf; no token in the body', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    const c = cookiesOf(s.res);
    assert.deepEqual(Object.keys(c).sort(), [CSRF, SESSION].sort(), 'exactly the two cookies');
    assert.match(s.session, /^[A-Za-z0-9_-]{43}$/, '256-bit opaque token');
    assert.match(s.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(c[SESSION].line, `${SESSION}=${s.session}; Path=/; Max-Age=604800; Secure; HttpOnly; SameSite=Lax`);
    assert.equal(c[CSRF].line, `${CSRF}=${s.csrf}; Path=/; Max-Age=604800; Secure; SameSite=Lax`);
    for (const x of Object.values(c)) assert.ok(!/domain=/i.test(x.line), 'no Domain attribute');
    const b = s.res.json;
    assert.equal(b.mode, 'cookie');
    assert.equal(b.csrf_token, s.csrf, 'the body repeats the CSRF token (for allowlisted origins)');
    assert.equal(b.user.email, a.email.toLowerCase());
    for (const k of ['access_token', 'refresh_token', 'token_type']) assert.ok(!(k in b), `no ${k} in the body`);
    assert.ok(!s.res.text.includes(s.session), 'the session token is only in Set-Cookie');
    assert.equal(s.res.headers['cache-control'], 'no-store');
    // stored only as SHA-256
    const h = crypto.createHash('sha256').update(s.session).digest('hex').toUpperCase();
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM refresh_tokens WHERE ${hexOf('token_hash')} = '${h}';`).trim(), '1');
    assert.ok(!dumpDb(srv.dbPath).includes(s.session), 'the token itself is nowhere in the database');
    // two sign-ins: different tokens, and different CSRF tokens (bound to the session)
    const s2 = await cookieSignin(srv, a.email, a.password);
    assert.notEqual(s2.session, s.session);
    assert.notEqual(s2.csrf, s.csrf);
  });

  test('GET /v1/me and /v1/sessions work by cookie; the list says mode cookie', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    const m = await meByCookie(srv, s.cookie);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.id, a.user.id);
    assert.equal(m.json.csrf_token, s.csrf, '/v1/me tells a cookie session its CSRF token');
    assert.equal(m.headers['cache-control'], 'no-store');
    assert.equal(m.setCookie.length, 0, 'no rotation for a fresh token');
    // the session cookie alone is enough for a GET
    assert.equal((await meByCookie(srv, `${SESSION}=${s.session}`)).status, 200);
    const l = await req(srv, 'GET', '/v1/sessions', { cookie: s.cookie });
    assert.equal(l.status, 200, l.text);
    const modes = Object.fromEntries(l.json.sessions.map((x) => [x.current ? 'current' : x.id, x.mode]));
    assert.equal(modes.current, 'cookie');
    assert.ok(Object.values(modes).includes('bearer'), 'the sign-up session is a bearer one');
    // bearer /v1/me has no csrf_token
    const bm = await api(srv.url, 'GET', '/v1/me', { token: a.access });
    assert.equal(bm.status, 200);
    assert.ok(!('csrf_token' in bm.json));
  });

  test('a bad, unknown or absent cookie -> 401, and a bad one is cleared', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    const flipped = s.session.slice(0, -1) + (s.session.endsWith('A') ? 'B' : 'A');
    for (const [what, cookie] of [['edited', `${SESSION}=${flipped}`], ['short', `${SESSION}=abc`],
      ['random', `${SESSION}=${crypto.randomBytes(32).toString('base64url')}`],
      ['quoted garbage', `${SESSION}="%00;"`]]) {
      const r = await meByCookie(srv, cookie);
      assertError(r, 401, 'invalid_token', what);
      const c = cookiesOf(r);
      assert.equal(c[SESSION]?.line, `${SESSION}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`, `${what}: cleared`);
      assert.equal(c[CSRF]?.value, '', `${what}: csrf cleared too`);
    }
    assertError(await meByCookie(srv, `other=1; ${CSRF}=${s.csrf}`), 401, 'invalid_token', 'no session cookie');
    // the dev names mean nothing in the Secure configuration
    assertError(await meByCookie(srv, `gh_session=${s.session}`), 401, 'invalid_token', 'gh_session is not __Host-gh_session');
    // the same cookie twice: refused, not a guess at which one counts
    assertError(await meByCookie(srv, `${SESSION}=${s.session}; ${SESSION}=${s.session}`), 400, 'duplicate_cookie');
    assertError(await req(srv, 'GET', '/v1/me', { headers: { Cookie: [`${SESSION}=${s.session}`, `${SESSION}=${flipped}`] } }),
      400, 'duplicate_cookie', 'split over two Cookie headers');
    assert.equal((await meByCookie(srv, ` a=b ;${SESSION}=${s.session} ; c=d`)).status, 200, 'spaces around pairs are fine');
  });

  test('cookie sign-in itself needs an allowed origin (no login CSRF), and an unknown mode is refused, before any work', async () => {
    const a = await signup(srv);
    const before = liveSessions(srv, a.user.id);
    for (const [what, headers] of [['no Origin, no Sec-Fetch-Site', {}], ['foreign Origin', { Origin: 'https://evil.example' }],
      ['cross-site', { 'Sec-Fetch-Site': 'cross-site' }], ['Origin null', { Origin: 'null' }],
      ['look-alike origin', { Origin: 'https://auth.example.test.evil.example' }],
      ['other port', { Origin: 'https://auth.example.test:8443' }], ['http', { Origin: 'http://auth.example.test' }]]) {
      const r = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers });
      assertCsrfFailed(r, what);
      assert.equal(r.setCookie.length, 0, `${what}: no cookie`);
    }
    assertError(await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'Cookie' }, headers: SAME }),
      422, 'invalid_field');
    assertError(await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: true }, headers: SAME }),
      422, 'invalid_field');
    assert.equal(liveSessions(srv, a.user.id), before, 'no session was started');
    // Sec-Fetch-Site: same-origin without Origin is a same-origin request
    const ok = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: { 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(ok.status, 200, ok.text);
    // mode bearer is the default and the same as leaving it out
    const b = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'bearer' } });
    assert.equal(b.status, 200);
    assert.ok(b.json.access_token && b.json.refresh_token);
    assert.equal(b.setCookie.length, 0);
  });

  test('a mutation by cookie without the right X-CSRF-Token or from a foreign origin -> 403 csrf_failed, nothing changes', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    const other = await cookieSignin(srv, a.email, a.password); // same user, another session
    const stranger = await signup(srv);
    const ss = await cookieSignin(srv, stranger.email, stranger.password);
    const cases = [
      ['no X-CSRF-Token', SAME],
      ['wrong token', { ...SAME, 'X-CSRF-Token': crypto.randomBytes(32).toString('base64url') }],
      ['token of another session of the same user', { ...SAME, 'X-CSRF-Token': other.csrf }],
      ['token of another user', { ...SAME, 'X-CSRF-Token': ss.csrf }],
      ['token with a byte changed', { ...SAME, 'X-CSRF-Token': s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A') }],
      ['token too long', { ...SAME, 'X-CSRF-Token': s.csrf + 'A' }],
      ['token truncated', { ...SAME, 'X-CSRF-Token': s.csrf.slice(0, 42) }],
      ['foreign Origin', { Origin: 'https://evil.example', 'X-CSRF-Token': s.csrf }],
      ['Origin null', { Origin: 'null', 'X-CSRF-Token': s.csrf }],
      ['Sec-Fetch-Site cross-site', { 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': s.csrf }],
      ['Sec-Fetch-Site same-site', { 'Sec-Fetch-Site': 'same-site', 'X-CSRF-Token': s.csrf }],
      ['Sec-Fetch-Site none', { 'Sec-Fetch-Site': 'none', 'X-CSRF-Token': s.csrf }],
      ['same Origin but Sec-Fetch-Site cross-site', { ...SAME, 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': s.csrf }],
      ['neither Origin nor Sec-Fetch-Site', { 'X-CSRF-Token': s.csrf }],
    ];
    for (const [what, headers] of cases) {
      assertCsrfFailed(await signoutByCookie(srv, s, headers), `signout: ${what}`);
      assertCsrfFailed(await req(srv, 'DELETE', `/v1/sessions/${other.res.json.user.id}`, { cookie: s.cookie, headers }), `revoke: ${what}`);
      assertCsrfFailed(await req(srv, 'POST', '/v1/password', { cookie: s.cookie, headers, json: { current_password: a.password, new_password: strongPassword() } }),
        `password: ${what}`);
    }
    // nothing changed: both sessions live, the password is the old one
    assert.equal((await meByCookie(srv, s.cookie)).status, 200);
    assert.equal((await meByCookie(srv, other.cookie)).status, 200);
    assert.ok((await signin(srv, a.email, a.password)).access, 'password unchanged');
    // the right token from our origin works, and the CSRF cookie itself is not needed
    const ok = await req(srv, 'POST', '/v1/signout', { cookie: `${SESSION}=${s.session}`, headers: { ...SAME, 'X-CSRF-Token': s.csrf } });
    assert.equal(ok.status, 204, ok.text);
  });

  test('signout by cookie clears both cookies and the cookie stops working on the next request', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    assert.equal((await meByCookie(srv, s.cookie)).status, 200); // cached
    const r = await signoutByCookie(srv, s, { ...SAME, 'Sec-Fetch-Site': 'same-origin', 'X-CSRF-Token': s.csrf });
    assert.equal(r.status, 204, r.text);
    const c = cookiesOf(r);
    assert.equal(c[SESSION]?.line, `${SESSION}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`);
    assert.equal(c[CSRF]?.line, `${CSRF}=; Path=/; Max-Age=0; Secure; SameSite=Lax`);
    assertError(await meByCookie(srv, s.cookie), 401, 'invalid_token');
    assert.equal(liveSessions(srv, a.user.id), 1, 'only the bearer session of sign-up is left');
  });

  test('DELETE /v1/sessions/{id} of a cookie session from another device kills it at once; a password change elsewhere too', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    assert.equal((await meByCookie(srv, s.cookie)).status, 200); // warm the cache
    const list = await api(srv.url, 'GET', '/v1/sessions', { token: a.access });
    const sid = list.json.sessions.find((x) => x.mode === 'cookie').id;
    const d = await api(srv.url, 'DELETE', `/v1/sessions/${sid}`, { token: a.access });
    assert.equal(d.status, 204, d.text);
    assertError(await meByCookie(srv, s.cookie), 401, 'invalid_token', 'revoked cookie session');

    const s2 = await cookieSignin(srv, a.email, a.password);
    assert.equal((await meByCookie(srv, s2.cookie)).status, 200);
    const p = await api(srv.url, 'POST', '/v1/password', { token: a.access, json: { current_password: a.password, new_password: strongPassword() } });
    assert.equal(p.status, 204, p.text);
    assertError(await meByCookie(srv, s2.cookie), 401, 'invalid_token', 'after a password change on another device');
  });

  test('a password change by cookie keeps this cookie session and ends the others', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    const other = await cookieSignin(srv, a.email, a.password);
    const np = strongPassword();
    const p = await req(srv, 'POST', '/v1/password', { cookie: s.cookie, headers: { ...SAME, 'X-CSRF-Token': s.csrf }, json: { current_password: a.password, new_password: np } });
    assert.equal(p.status, 204, p.text);
    assert.equal((await meByCookie(srv, s.cookie)).status, 200, 'this session lives on');
    assertError(await meByCookie(srv, other.cookie), 401, 'invalid_token', 'the other cookie session');
    assertError(await api(srv.url, 'GET', '/v1/me', { token: a.access }), 401, 'invalid_token', 'the bearer session');
    assert.ok((await signin(srv, a.email, np)).access);
  });

  test('bearer requests ignore Origin and cookies; with both, the bearer token decides and never falls back', async () => {
    const a = await signup(srv);
    const b = await signup(srv);
    const sb = await cookieSignin(srv, b.email, b.password);
    // bearer from a foreign origin, no CSRF token: fine
    const m = await api(srv.url, 'GET', '/v1/me', { token: a.access, headers: { Origin: 'https://evil.example' } });
    assert.equal(m.status, 200);
    // bearer + another user's cookie: the bearer user, no CSRF needed, the cookie untouched
    const both = await req(srv, 'GET', '/v1/me', { cookie: sb.cookie, headers: { Authorization: `Bearer ${a.access}` } });
    assert.equal(both.json.id, a.user.id);
    assert.ok(!('csrf_token' in both.json));
    // a bad bearer with a good cookie: 401, not the cookie's user
    assertError(await req(srv, 'GET', '/v1/me', { cookie: sb.cookie, headers: { Authorization: 'Bearer nope' } }), 401, 'invalid_token');
    assertError(await req(srv, 'GET', '/v1/me', { cookie: sb.cookie, headers: { Authorization: 'Basic Zm9vOmJhcg==' } }), 401, 'invalid_token');
    const so = await req(srv, 'POST', '/v1/signout', { cookie: sb.cookie, headers: { Authorization: `Bearer ${a.access}`, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(so.status, 204, 'a bearer sign-out from anywhere');
    assert.equal(so.setCookie.length, 0, 'and it does not touch the cookies');
    assertError(await api(srv.url, 'GET', '/v1/me', { token: a.access }), 401, 'invalid_token', 'the bearer session ended');
    assert.equal((await meByCookie(srv, sb.cookie)).status, 200, 'the cookie session did not');
  });

  test('a cookie token is not a refresh token, and a refresh token is not a cookie', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: s.session } }), 401, 'invalid_token');
    assertError(await meByCookie(srv, `${SESSION}=${a.refresh}`), 401, 'invalid_token');
    // neither attempt revoked anything
    assert.equal((await meByCookie(srv, s.cookie)).status, 200);
    assert.equal((await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } })).status, 200);
  });

  test('fixation: a planted cookie is never adopted; sign-in sets a new one and the planted value stays invalid', async () => {
    const a = await signup(srv);
    const planted = crypto.randomBytes(32).toString('base64url');
    const res = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME, cookie: `${SESSION}=${planted}` });
    assert.equal(res.status, 200);
    const v = cookiesOf(res)[SESSION].value;
    assert.notEqual(v, planted);
    assertError(await meByCookie(srv, `${SESSION}=${planted}`), 401, 'invalid_token');
    assert.equal((await meByCookie(srv, `${SESSION}=${v}`)).status, 200);
  });

  test('a cookie sign-in ends the cookie session the browser still sends (re-authentication never leaves the old token alive)', async () => {
    const a = await signup(srv);
    const s1 = await cookieSignin(srv, a.email, a.password);
    assert.equal((await meByCookie(srv, s1.cookie)).status, 200);
    const res = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME, cookie: s1.cookie });
    assert.equal(res.status, 200, res.text);
    const v = cookiesOf(res)[SESSION].value;
    assertError(await meByCookie(srv, s1.cookie), 401, 'invalid_token', 'the replaced session');
    assert.equal((await meByCookie(srv, `${SESSION}=${v}`)).status, 200);
    assert.ok(Number(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = 'signout' AND details LIKE '%"reason":"signin"%' AND target = '${a.user.id}';`).trim()) >= 1);
    // a bearer sign-in leaves cookies alone
    const b = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password }, cookie: `${SESSION}=${v}` });
    assert.equal(b.status, 200);
    assert.equal((await meByCookie(srv, `${SESSION}=${v}`)).status, 200);
  });

  test('magic-link sign-in by cookie', async () => {
    const a = await signup(srv);
    const outbox = path.join(srv.dataDir, 'outbox');
    const seen = new Set(fs.existsSync(outbox) ? fs.readdirSync(outbox) : []);
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
    let token;
    for (let i = 0; i < 80 && !token; i++) {
      await sleep(100);
      for (const f of fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((x) => !seen.has(x)) : []) {
        token ??= /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(fs.readFileSync(path.join(outbox, f), 'utf8'))?.[1];
      }
    }
    assert.ok(token, 'the link arrived');
    // refused from another origin, and the link is not spent by that
    assertCsrfFailed(await req(srv, 'POST', '/v1/magic-link/verify', { json: { token, mode: 'cookie' }, headers: { Origin: 'https://evil.example' } }), 'magic link');
    const r = await req(srv, 'POST', '/v1/magic-link/verify', { json: { token, mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 200, r.text);
    assert.ok(!('access_token' in r.json) && !('refresh_token' in r.json));
    assert.equal((await meByCookie(srv, `${SESSION}=${cookiesOf(r)[SESSION].value}`)).json.id, a.user.id);
  });

  test('no session or CSRF value reaches the server log, the request log or the audit log', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    await meByCookie(srv, s.cookie);
    const metric = async () => Number(/^gatehouse_csrf_failed_total (\d+)$/m.exec((await api(srv.url, 'GET', '/metrics')).text)[1]);
    const before = await metric();
    assertCsrfFailed(await signoutByCookie(srv, s, SAME), 'logged failure');
    assertCsrfFailed(await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' } }), 'sign-in without origin');
    assert.equal(await metric(), before + 2, 'both counted in /metrics');
    await signoutByCookie(srv, s, { ...SAME, 'X-CSRF-Token': s.csrf });
    await sleep(200); // the request log is flushed when the loop idles
    const log = srv.stderr();
    assert.match(log, /CSRF check failed/, 'the failure is logged');
    for (const v of [s.session, s.csrf]) {
      assert.ok(!log.includes(v), 'not in the process log');
      assert.ok(!sql(srv.dbPath, 'SELECT * FROM audit_log;').includes(v), 'not in the audit log');
    }
  });

  test('sign-up by cookie; Idempotency-Key works for cookie requests like bearer ones', async () => {
    const email = uniqueEmail();
    const password = strongPassword();
    const r = await req(srv, 'POST', '/v1/signup', { json: { email, password, mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 201, r.text);
    assert.ok(!('access_token' in r.json));
    const c = cookiesOf(r);
    const s = { cookie: `${SESSION}=${c[SESSION].value}`, csrf: c[CSRF].value };
    const other = await cookieSignin(srv, email, password);
    const l = await req(srv, 'GET', '/v1/sessions', { cookie: other.cookie });
    const sid = l.json.sessions.find((x) => !x.current).id;
    const h = { ...SAME, 'X-CSRF-Token': other.csrf, 'Idempotency-Key': `k-${crypto.randomUUID()}` };
    const d1 = await req(srv, 'DELETE', `/v1/sessions/${sid}`, { cookie: other.cookie, headers: h });
    assert.equal(d1.status, 204, d1.text);
    const d2 = await req(srv, 'DELETE', `/v1/sessions/${sid}`, { cookie: other.cookie, headers: h });
    assert.equal(d2.status, 204, d2.text);
    assert.equal(d2.headers['idempotent-replayed'], 'true');
    assertError(await meByCookie(srv, s.cookie), 401, 'invalid_token');
    // without the CSRF token the key does not help
    assertCsrfFailed(await req(srv, 'DELETE', `/v1/sessions/${sid}`, { cookie: other.cookie, headers: { ...h, 'X-CSRF-Token': '' } }), 'idempotent replay without CSRF');
  });

  test('MFA: the challenge sets no cookie; /v1/signin/mfa with mode cookie does', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    const code = (off = 0) => execFileSync('oathtool', ['--totp', '-b', b.json.secret, '-N', `@${Math.floor(Date.now() / 1000) + off}`], { encoding: 'utf8' }).trim();
    assert.equal((await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: code() } })).status, 200);
    const ch = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME });
    assert.equal(ch.status, 200, ch.text);
    assert.equal(ch.json.mfa_required, true);
    assert.equal(ch.setCookie.length, 0, 'no cookie before the second factor');
    // the challenge handle is not a session
    assertError(await meByCookie(srv, `${SESSION}=${ch.json.mfa_token}`), 401, 'invalid_token');
    assertCsrfFailed(await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: ch.json.mfa_token, code: code(30), mode: 'cookie' }, headers: { Origin: 'https://evil.example' } }), 'mfa step from elsewhere');
    const done = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: ch.json.mfa_token, code: code(30), mode: 'cookie' }, headers: SAME });
    assert.equal(done.status, 200, done.text);
    assert.ok(!('access_token' in done.json));
    const c = cookiesOf(done);
    assert.equal((await meByCookie(srv, `${SESSION}=${c[SESSION].value}`)).status, 200);
  });
});

describe('cookie mode with GATEHOUSE_MFA_REQUIRED=all', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_MFA_REQUIRED: 'all' } }); });
  after(async () => { await srv?.stop(); });

  test('a restricted cookie session may only enrol (with CSRF), then it is a full session', async () => {
    const r = await req(srv, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword(), mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.mfa_enrolment_required, true);
    const c = cookiesOf(r);
    const cookie = `${SESSION}=${c[SESSION].value}`;
    const h = { ...SAME, 'X-CSRF-Token': c[CSRF].value };
    markVerified(srv, r.json.user.id);
    assertError(await req(srv, 'GET', '/v1/sessions', { cookie }), 403, 'mfa_enrolment_required');
    assertCsrfFailed(await req(srv, 'POST', '/v1/mfa/totp', { cookie, headers: SAME }), 'enrolment without the token');
    const b = await req(srv, 'POST', '/v1/mfa/totp', { cookie, headers: h });
    assert.equal(b.status, 200, b.text);
    const code = execFileSync('oathtool', ['--totp', '-b', b.json.secret], { encoding: 'utf8' }).trim();
    const cf = await req(srv, 'POST', '/v1/mfa/totp/confirm', { cookie, headers: h, json: { code } });
    assert.equal(cf.status, 200, cf.text);
    assert.equal((await req(srv, 'GET', '/v1/sessions', { cookie })).status, 200, 'no longer restricted');
  });
});

describe('cookie mode with GATEHOUSE_CORS_ORIGINS', () => {
  const APP = 'https://app.example.test';
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_CORS_ORIGINS: APP } }); });
  after(async () => { await srv?.stop(); });

  test('an allowlisted origin (same-site or cross-site) may sign in and mutate by cookie with the token; others may not', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password, { Origin: APP, 'Sec-Fetch-Site': 'same-site' });
    assert.equal(s.res.headers['access-control-allow-origin'], APP);
    assert.equal(s.res.headers['access-control-allow-credentials'], 'true');
    for (const [what, headers] of [['unlisted', { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }],
      ['unlisted sibling', { Origin: 'https://other.example.test', 'Sec-Fetch-Site': 'same-site' }],
      ['Sec-Fetch-Site same-site without Origin', { 'Sec-Fetch-Site': 'same-site' }]]) {
      assertCsrfFailed(await signoutByCookie(srv, s, { ...headers, 'X-CSRF-Token': s.csrf }), what);
    }
    assertCsrfFailed(await signoutByCookie(srv, s, { Origin: APP, 'Sec-Fetch-Site': 'same-site' }), 'allowlisted but no token');
    // the page on the other origin cannot read our CSRF cookie: /v1/me tells it
    const m = await meByCookie(srv, `${SESSION}=${s.session}`, { Origin: APP });
    assert.equal(m.json.csrf_token, s.csrf);
    const ok = await signoutByCookie(srv, s, { Origin: APP, 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': m.json.csrf_token });
    assert.equal(ok.status, 204, ok.text);
    assertError(await meByCookie(srv, s.cookie), 401, 'invalid_token');
  });
});

describe('cookie rotation and reuse', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_ACCESS_TTL: '1', GATEHOUSE_REFRESH_REUSE_GRACE: '2' } });
  });
  after(async () => { await srv?.stop(); });

  test('older than the access TTL -> re-issued; the old value works within the grace and gets the same successor; after it, reuse signs the user out everywhere', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    await sleep(1300);
    const r1 = await meByCookie(srv, s.cookie);
    assert.equal(r1.status, 200, r1.text);
    const c1 = cookiesOf(r1);
    const next = c1[SESSION]?.value;
    assert.ok(next && next !== s.session, 'a new session cookie');
    assert.equal(c1[SESSION].line, `${SESSION}=${next}; Path=/; Max-Age=604800; Secure; HttpOnly; SameSite=Lax`);
    assert.equal(c1[CSRF]?.value, s.csrf, 'the CSRF token is the session\'s: unchanged');
    // a parallel request still holding the old value (within the grace): same successor
    const r2 = await meByCookie(srv, s.cookie);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(cookiesOf(r2)[SESSION]?.value, next);
    // the old CSRF token still goes with the rotated cookie
    const nc = `${SESSION}=${next}`;
    assert.equal((await meByCookie(srv, nc)).status, 200);
    await sleep(2300); // past the grace
    const reuse = await meByCookie(srv, s.cookie);
    assertError(reuse, 401, 'token_reused');
    assert.equal(cookiesOf(reuse)[SESSION]?.value, '', 'cleared');
    // (invalid_token: its session is revoked; token_reused if it was itself
    // rotated meanwhile, when a second boundary fell between two requests)
    const succ = await meByCookie(srv, nc);
    assert.equal(succ.status, 401, 'the successor died with the family');
    assert.ok(['invalid_token', 'token_reused'].includes(succ.json.error.code), succ.text);
    assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } }), 401, 'invalid_token',
      'every session of the user, bearer ones too');
    assert.ok(Number(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = 'token.reuse_detected' AND target = '${a.user.id}';`)) >= 1, 'audited');
  });

  test('parallel requests with a cookie due for rotation all succeed and converge on one successor', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    await sleep(1300);
    const rs = await Promise.all(Array.from({ length: 8 }, () => meByCookie(srv, s.cookie)));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const values = new Set(rs.map((r) => cookiesOf(r)[SESSION]?.value));
    assert.equal(values.size, 1, `one successor for all: ${[...values]}`);
    const [next] = values;
    assert.ok(next && next !== s.session);
    assert.equal((await meByCookie(srv, `${SESSION}=${next}`)).status, 200, 'no reuse was detected');
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = 'token.reuse_detected' AND target = '${a.user.id}';`).trim(), '0');
  });

  test('a rotation on a mutation still carries the new cookie, even when CSRF fails', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    await sleep(1300);
    const bad = await req(srv, 'DELETE', '/v1/sessions/00000000-0000-4000-8000-000000000000', { cookie: s.cookie, headers: SAME });
    assertCsrfFailed(bad, 'no token');
    const next = cookiesOf(bad)[SESSION]?.value;
    assert.ok(next && next !== s.session, 'rotated cookie handed out with the 403');
    const ok = await req(srv, 'DELETE', '/v1/sessions/00000000-0000-4000-8000-000000000000', { cookie: `${SESSION}=${next}`, headers: { ...SAME, 'X-CSRF-Token': s.csrf } });
    assertError(ok, 404, 'not_found', 'passes CSRF with the new cookie and the same token');
  });
});

describe('cookie mode configuration', () => {
  test('an http public URL without the development switch: cookie mode is unavailable (400), bearer unaffected', async () => {
    const srv = await startServer();
    try {
      const a = await signup(srv);
      const r = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: { Origin: srv.url } });
      assertError(r, 400, 'cookie_mode_unavailable');
      // issue 9 item 19: the message names the development switch
      assert.match(r.json.error.message, /GATEHOUSE_INSECURE_DEV_COOKIES=on/);
      assert.equal(r.setCookie.length, 0);
      // cookies are not even read
      assertError(await meByCookie(srv, `gh_session=${a.refresh}`), 401, 'invalid_token');
    } finally { await srv.stop(); }
  });

  test('GATEHOUSE_INSECURE_DEV_COOKIES=on on loopback http: gh_session / gh_csrf without Secure, with a loud warning', async () => {
    const srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    try {
      assert.match(srv.stderr(), /INSECURE_DEV_COOKIES=on: session cookies are sent WITHOUT Secure/);
      const a = await signup(srv);
      const s = await cookieSignin(srv, a.email, a.password, { Origin: srv.url }, ['gh_session', 'gh_csrf']);
      const c = cookiesOf(s.res);
      assert.equal(c.gh_session.line, `gh_session=${s.session}; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax`);
      assert.equal(c.gh_csrf.line, `gh_csrf=${s.csrf}; Path=/; Max-Age=604800; SameSite=Lax`);
      assert.equal((await meByCookie(srv, s.cookie)).status, 200);
      assertError(await meByCookie(srv, `${SESSION}=${s.session}`), 401, 'invalid_token', '__Host- names are not used here');
      const so = await req(srv, 'POST', '/v1/signout', { cookie: s.cookie, headers: { Origin: srv.url, 'X-CSRF-Token': s.csrf } });
      assert.equal(so.status, 204, so.text);
    } finally { await srv.stop(); }
  });

  test('production refuses to drop Secure; so does a non-loopback or https public URL', async () => {
    const port = await freePort();
    const base = { GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_INSECURE_DEV_COOKIES: 'on' };
    const prod = runCli(['serve'], { env: { ...base, GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64') } });
    assert.notEqual(prod.code, 0);
    assert.match(prod.stderr, /GATEHOUSE_INSECURE_DEV_COOKIES=on is refused in production/);
    for (const url of ['http://auth.example.test', 'https://localhost', 'http://127.0.0.1.evil.example', 'http://localhost.evil.example:8080']) {
      const r = runCli(['serve'], { env: { ...base, GATEHOUSE_PUBLIC_URL: url } });
      assert.notEqual(r.code, 0, url);
      assert.match(r.stderr, /INSECURE_DEV_COOKIES=on is only for development with an http/, url);
    }
    const bad = runCli(['serve'], { env: { ...base, GATEHOUSE_INSECURE_DEV_COOKIES: 'yes' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /must be on or off/);
  });

  test('GATEHOUSE_COOKIE_DOMAIN must be a domain the public URL is under', async () => {
    const port = await freePort();
    const base = { GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_PUBLIC_URL: 'https://auth.example.com' };
    for (const d of ['com', 'example..com', '-example.com', 'example-.com', 'exa mple.com', 'example.com/', 'evil.com', 'xample.com', 'auth.example.com.evil', 'ample.com']) {
      const r = runCli(['serve'], { env: { ...base, GATEHOUSE_COOKIE_DOMAIN: d } });
      assert.notEqual(r.code, 0, d);
      assert.match(r.stderr, /GATEHOUSE_COOKIE_DOMAIN/, d);
    }
  });
});

// Issue 9 item 2, the whole class: a made-up session cookie is not in the
// auth cache, so it costs a database read on a worker. Anyone can make one
// up, so each spends the client's refresh_ip budget on the loop first, as
// presenting that refresh token to POST /v1/token would.
describe('made-up session cookies spend the per-IP budget', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_LIMIT_REFRESH_IP: '5/60' } }); });
  after(async () => { await srv?.stop(); });

  test('the sixth made-up cookie within the window is a 429 before any lookup; a cached session is not charged', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a.email, a.password);
    // a real cookie: its first use may be looked up (one unit), then it is cached
    assert.equal((await meByCookie(srv, `${SESSION}=${s.session}`)).status, 200);
    assert.equal((await meByCookie(srv, `${SESSION}=${s.session}`)).status, 200);
    let looked = 0;
    let r;
    for (;;) {
      r = await req(srv, 'GET', '/v1/sessions', { cookie: `${SESSION}=${crypto.randomBytes(32).toString('base64url')}` });
      if (r.status !== 401) break;
      assertError(r, 401, 'invalid_token');
      assert.ok(++looked <= 5, 'made-up cookies kept being looked up past the budget');
    }
    assert.ok(looked >= 4, `only ${looked} made-up cookies before the 429`);
    assertError(r, 429, 'rate_limited', 'the budget is spent');
    assert.equal(r.headers['ratelimit-policy'], '"refresh_ip";q=5;w=60');
    // the cached session answers from memory and spends nothing of it
    for (let i = 0; i < 3; i++) assert.equal((await meByCookie(srv, `${SESSION}=${s.session}`)).status, 200);
  });
});
