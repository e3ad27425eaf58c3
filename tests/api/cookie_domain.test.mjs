// Sessions across hosts (docs/api.md, "Cookie domain"): with
// GATEHOUSE_COOKIE_DOMAIN the session cookie is __Secure-gh_session with
// Domain=<domain> (and __Secure-gh_csrf), so a gate on any host under the
// domain gets it; a __Host-gh_session a browser still holds from before the
// upgrade is read while the new name is absent, and replaced when it
// rotates. The https public URL makes the cookies Secure on loopback.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, signup, assertError, sleep, sql } from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };
const NEW = '__Secure-gh_session';
const NEW_CSRF = '__Secure-gh_csrf';
const OLD = '__Host-gh_session';
const OLD_CSRF = '__Host-gh_csrf';

async function cookieSignin(srv, a, names) {
  const res = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME });
  assert.equal(res.status, 200, res.text);
  const c = cookiesOf(res);
  return { res, c, session: c[names[0]]?.value, csrf: c[names[1]]?.value };
}

const expired = (c, name, domain) => {
  assert.ok(c[name], `${name} is expired: ${Object.keys(c)}`);
  assert.equal(c[name].value, '');
  assert.ok(c[name].attrs.includes('Max-Age=0'), c[name].line);
  assert.equal(c[name].attrs.includes(`Domain=${domain}`), name.startsWith('__Secure-'), c[name].line);
};

describe('cookie domain', () => {
  let dataDir;
  let srv;
  let legacy; // a __Host- cookie session made before the upgrade
  let acct;
  const domainEnv = { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_COOKIE_DOMAIN: 'example.test', GATEHOUSE_ACCESS_TTL: '1', GATEHOUSE_REFRESH_REUSE_GRACE: '2' };

  before(async () => {
    // Before the upgrade: no cookie domain, __Host- cookies.
    const old = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC } });
    dataDir = old.dataDir;
    acct = await signup(old);
    legacy = await cookieSignin(old, acct, [OLD, OLD_CSRF]);
    assert.ok(legacy.session && legacy.csrf);
    await old.stop();
    srv = await startServer({ dataDir, env: domainEnv });
  });
  after(async () => { await srv?.stop(); });

  test('sign-in sets __Secure-gh_session and __Secure-gh_csrf with Domain, Secure, SameSite=Lax, Path=/ (session HttpOnly), and expires the __Host- names', async () => {
    const s = await cookieSignin(srv, acct, [NEW, NEW_CSRF]);
    assert.match(s.session, /^[A-Za-z0-9_-]{43}$/, 'small and opaque');
    assert.equal(s.c[NEW].line, `${NEW}=${s.session}; Path=/; Max-Age=604800; Domain=example.test; Secure; HttpOnly; SameSite=Lax`);
    assert.equal(s.c[NEW_CSRF].line, `${NEW_CSRF}=${s.csrf}; Path=/; Max-Age=604800; Domain=example.test; Secure; SameSite=Lax`);
    assert.equal(s.c[OLD].line, `${OLD}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`, 'no Domain on a __Host- cookie');
    expired(s.c, OLD_CSRF, 'example.test');
    assert.equal(s.res.json.csrf_token, s.csrf);
  });

  test('a session cookie set for the parent domain works on another host name under it', async () => {
    const s = await cookieSignin(srv, acct, [NEW, NEW_CSRF]);
    for (const host of ['auth.example.test', 'app.example.test', 'admin.example.test']) {
      const m = await req(srv, 'GET', '/v1/me', { cookie: `${NEW}=${s.session}`, headers: { Host: host } });
      assert.equal(m.status, 200, `${host}: ${m.text}`);
      assert.equal(m.json.id, acct.user.id);
    }
    // a mutation from another host still needs our origin and the CSRF token
    const bad = await req(srv, 'POST', '/v1/signout', { cookie: `${NEW}=${s.session}`, headers: { Host: 'app.example.test', Origin: 'https://app.example.test', 'X-CSRF-Token': s.csrf } });
    assertError(bad, 403, 'csrf_failed', 'app.example.test is not our origin (nor allowlisted)');
  });

  test('the new name wins when both are sent; the old one is read only when the new one is absent', async () => {
    const s = await cookieSignin(srv, acct, [NEW, NEW_CSRF]);
    const junk = 'A'.repeat(43);
    const both = await req(srv, 'GET', '/v1/me', { cookie: `${OLD}=${junk}; ${NEW}=${s.session}` });
    assert.equal(both.status, 200, 'a dead __Host- cookie beside a good new one does not matter');
    const deadNew = await req(srv, 'GET', '/v1/me', { cookie: `${OLD}=${legacy.session}; ${NEW}=${junk}` });
    assertError(deadNew, 401, 'invalid_token', 'the new name decides alone, even beside a good old cookie');
    const c = cookiesOf(deadNew);
    for (const n of [NEW, NEW_CSRF, OLD, OLD_CSRF]) expired(c, n, 'example.test');
    assertError(await req(srv, 'GET', '/v1/me', { cookie: `${NEW}=${s.session}; ${NEW}=${s.session}` }), 400, 'duplicate_cookie');
    assertError(await req(srv, 'GET', '/v1/me', { cookie: `${OLD}=${junk}; ${OLD}=${junk}` }), 400, 'duplicate_cookie');
  });

  test('a __Host- cookie of before the upgrade stays valid, and its rotation moves it to the new name', async () => {
    const m = await req(srv, 'GET', '/v1/me', { cookie: `${OLD}=${legacy.session}` });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.id, acct.user.id);
    assert.equal(m.json.csrf_token, legacy.csrf, 'its CSRF token is the session\'s (unchanged by the names)');
    await sleep(1300); // past the access TTL: due for rotation
    const r = await req(srv, 'GET', '/v1/me', { cookie: `${OLD}=${legacy.session}; ${OLD_CSRF}=${legacy.csrf}` });
    assert.equal(r.status, 200, r.text);
    const c = cookiesOf(r);
    const next = c[NEW]?.value;
    assert.ok(next && next !== legacy.session, `rotated under the new name: ${r.setCookie}`);
    assert.ok(c[NEW].attrs.includes('Domain=example.test'));
    assert.equal(c[NEW_CSRF]?.value, legacy.csrf);
    expired(c, OLD, 'example.test');
    expired(c, OLD_CSRF, 'example.test');
    const again = await req(srv, 'GET', '/v1/me', { cookie: `${NEW}=${next}`, headers: { Host: 'app.example.test' } });
    assert.equal(again.status, 200, again.text);
  });

  test('sign-out clears both names, and the session ends', async () => {
    const s = await cookieSignin(srv, acct, [NEW, NEW_CSRF]);
    const out = await req(srv, 'POST', '/v1/signout', { cookie: `${NEW}=${s.session}`, headers: { ...SAME, 'X-CSRF-Token': s.csrf } });
    assert.equal(out.status, 204, out.text);
    const c = cookiesOf(out);
    for (const n of [NEW, NEW_CSRF, OLD, OLD_CSRF]) expired(c, n, 'example.test');
    assertError(await req(srv, 'GET', '/v1/me', { cookie: `${NEW}=${s.session}`, headers: { Host: 'app.example.test' } }), 401, 'invalid_token');
  });
});

describe('without a cookie domain nothing changes', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC } }); });
  after(async () => { await srv?.stop(); });

  test('__Host- names, no Domain, no __Secure- name read', async () => {
    const a = await signup(srv);
    const s = await cookieSignin(srv, a, [OLD, OLD_CSRF]);
    assert.deepEqual(Object.keys(s.c).sort(), [OLD, OLD_CSRF].sort());
    for (const x of Object.values(s.c)) assert.ok(!/domain=/i.test(x.line));
    assertError(await req(srv, 'GET', '/v1/me', { cookie: `${NEW}=${s.session}` }), 401, 'invalid_token');
  });
});
