// CORS allowlist (issue 5): GATEHOUSE_CORS_ORIGINS, preflights, credentials, Vary.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawRequest, runCli, mkTempDir, signup } from './lib/harness.mjs';

const APP = 'https://app.example.com';
const DEV = 'http://localhost:5173';
const CORS_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials',
  'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers',
  'access-control-max-age'];

const noCors = (r, what) => {
  for (const h of CORS_HEADERS) assert.equal(r.headers[h], undefined, `${what}: ${h}`);
};
const preflight = (srv, path, origin, method = 'POST', extra = {}) => rawRequest(srv.port, {
  method: 'OPTIONS', path,
  headers: { Origin: origin, 'Access-Control-Request-Method': method, ...extra },
});

describe('CORS with an allowlist', () => {
  let srv; let a;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_CORS_ORIGINS: `HTTPS://App.Example.com:443, ${DEV}` } });
    a = await signup(srv);
  });
  after(async () => { await srv?.stop(); });

  test('a listed origin\'s preflight is answered with that origin, credentials and the path\'s methods', async () => {
    const r = await preflight(srv, '/v1/signin', APP, 'POST', { 'Access-Control-Request-Headers': 'content-type' });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-allow-methods'], 'POST');
    const allowed = r.headers['access-control-allow-headers'].toLowerCase().split(/,\s*/);
    for (const h of ['authorization', 'content-type', 'idempotency-key', 'x-csrf-token']) assert.ok(allowed.includes(h), h);
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers.vary, 'Origin');
    assert.equal(r.headers['x-content-type-options'], 'nosniff', 'security headers on a preflight too');
    const m = await preflight(srv, '/v1/mfa/totp', DEV, 'DELETE');
    assert.equal(m.status, 204);
    assert.equal(m.headers['access-control-allow-origin'], DEV);
    assert.equal(m.headers['access-control-allow-methods'], 'POST, DELETE');
    const s = await preflight(srv, '/v1/sessions/abc', APP, 'DELETE', { 'Access-Control-Request-Headers': 'authorization' });
    assert.equal(s.status, 204);
    assert.equal(s.headers['access-control-allow-methods'], 'DELETE');
  });

  test('unlisted origins, look-alikes included, get no CORS headers at all', async () => {
    for (const o of ['https://evil.example', 'http://app.example.com', 'https://app.example.com:443',
      'https://app.example.com.evil.test', 'https://sub.app.example.com', 'null', 'HTTPS://APP.EXAMPLE.COM', '*']) {
      const p = await preflight(srv, '/v1/signin', o);
      assert.equal(p.status, 403, `${o}: ${p.text}`);
      assert.equal(p.json.error.code, 'origin_not_allowed');
      noCors(p, `preflight from ${o}`);
      assert.equal(p.headers.vary, 'Origin');
      const g = await rawRequest(srv.port, { path: '/v1/me', headers: { Origin: o, Authorization: `Bearer ${a.access}` } });
      assert.equal(g.status, 200, 'the request itself is answered (CORS is for browsers to enforce)');
      noCors(g, `GET from ${o}`);
      assert.equal(g.headers.vary, 'Origin');
    }
  });

  test('actual requests from a listed origin carry the origin, credentials and the exposed headers; never *', async () => {
    const r = await rawRequest(srv.port, { path: '/v1/me', headers: { Origin: APP, Authorization: `Bearer ${a.access}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match(r.headers['access-control-expose-headers'], /X-Request-Id/);
    assert.match(r.headers['access-control-expose-headers'], /Retry-After/);
    assert.equal(r.headers['access-control-allow-methods'], undefined, 'methods only on preflights');
    assert.equal(r.headers.vary, 'Origin');
    const e = await rawRequest(srv.port, { method: 'POST', path: '/v1/signin', headers: { Origin: DEV, 'Content-Type': 'application/json' }, body: '{"email":"x@example.com","password":"wrong password for sure"}' });
    assert.equal(e.status, 401);
    assert.equal(e.headers['access-control-allow-origin'], DEV, 'errors are readable by the listed app too');
    const none = await rawRequest(srv.port, { path: '/healthz' });
    noCors(none, 'no Origin');
    assert.equal(none.headers.vary, 'Origin');
  });

  test('preflights for paths or methods that do not exist are refused', async () => {
    const p = await preflight(srv, '/v1/nope', APP);
    assert.equal(p.status, 404);
    const m = await preflight(srv, '/v1/me', APP, 'DELETE');
    assert.equal(m.status, 405);
    assert.equal(m.headers['access-control-allow-methods'], undefined);
    const w = await preflight(srv, '/v1/me', APP, 'TRACE');
    assert.equal(w.status, 405);
    // OPTIONS that is not a preflight is just another method
    const o = await rawRequest(srv.port, { method: 'OPTIONS', path: '/v1/me', headers: { Origin: APP } });
    assert.equal(o.status, 405);
  });
});

describe('CORS off (no GATEHOUSE_CORS_ORIGINS)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('no origin is listed: no CORS headers, no Vary, preflights refused', async () => {
    const p = await preflight(srv, '/v1/signin', APP);
    assert.equal(p.status, 403);
    noCors(p, 'preflight');
    const r = await rawRequest(srv.port, { path: '/healthz', headers: { Origin: APP } });
    noCors(r, 'GET');
    assert.equal(r.headers.vary, undefined);
  });
});

test('a wildcard, null, a path or (in production) http stops the start, naming the entry', () => {
  for (const [v, prod, re] of [['*', false, /"\*" is a wildcard/], ['null', false, /"null"/],
    [`${APP}/`, false, /must not have a path/], ['https://ok.example, https://x.example/login', false, /x\.example\/login/],
    ['http://app.example.com', true, /must be https:\/\/ in production/]]) {
    const env = { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_CORS_ORIGINS: v };
    if (prod) Object.assign(env, { GATEHOUSE_ENV: 'production' });
    const r = runCli(['migrate'], { env });
    assert.notEqual(r.code, 0, v);
    assert.match(r.stderr, re, `${v}: ${r.stderr}`);
    assert.match(r.stderr, /GATEHOUSE_CORS_ORIGINS/);
  }
});
