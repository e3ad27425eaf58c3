// The forward-auth check, GET /v1/verify (docs/api.md, "The gate"), against
// the real binary started with GATEHOUSE_TRUSTED_PROXIES=127.0.0.1 and a
// rules file: every answer (pass, 401, 302/303, nginx's 401 with Location,
// step-up, 403), forged headers from an untrusted peer, 400 on a missing or
// unparsable original request, every method, a revoked session, a role
// change, an enrolment-only session, a cookie due for rotation (passes, no
// Set-Cookie, not rotated), open-redirect tricks, SIGHUP reloads and the
// per-IP budget. ASVS v5.0.0-4.1.3, 3.7.2, 9.1.1, 9.1.2, 9.2.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, api, signup, rawRequest, runCli, sql, sleep, mkTempDir, uniqueEmail, strongPassword,
} from './lib/harness.mjs';

const SIGNIN = 'https://login.example.test/in';
const PUBLIC = 'https://auth.example.test';
const RULES = `default: deny
rules:
  - path: /public
    policy: public
  - path: /app
    policy: signed_in
  - path: /billing
    policy: mfa
    max_age_minutes: 15
  - path: /admin
    policy: role:admin
  - path: /closed
    policy: deny
  - host: "*.example.test"
    path: /w
    policy: signed_in
`;
const BROWSER = { Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' };
const API = { Accept: 'application/json' };

/** Caddy's and Traefik's headers for the original request. */
const fwd = (uri, { method = 'GET', host = 'app.example.test', proto = 'https' } = {}) => ({
  'X-Forwarded-Method': method, 'X-Forwarded-Proto': proto, 'X-Forwarded-Host': host, 'X-Forwarded-Uri': uri,
});
/** nginx's. */
const orig = (url, method = 'GET') => ({ 'X-Original-Method': method, 'X-Original-URL': url });

function rulesFile(text = RULES) {
  const f = path.join(mkTempDir('gatehouse-rules-'), 'rules.yaml');
  fs.writeFileSync(f, text);
  return f;
}

const verify = (srv, headers, method = 'GET') => rawRequest(srv.port, { method, path: '/v1/verify', headers });

function assertPass(r, what = '') {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.text, '', `${what}: no body`);
  assert.equal(r.headers['set-cookie'], undefined, `${what}: never a cookie`);
}

function assertCode(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error?.code, code, `${what}: ${r.text}`);
  assert.equal(r.headers['set-cookie'], undefined, `${what}: never a cookie`);
}

/** The rd= of a Location (decoded), or null. */
function rdOf(location) {
  return new URL(location).searchParams.get('rd');
}

const common = (rules) => ({
  GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1',
  GATEHOUSE_ACCESS_RULES: rules,
  GATEHOUSE_SIGNIN_URL: SIGNIN,
  GATEHOUSE_PUBLIC_URL: PUBLIC,
  GATEHOUSE_ISSUER: PUBLIC, // tokens stay valid across a restart on another port
  GATEHOUSE_LIMIT_VERIFY_IP: '1000000/60',
});

describe('the gate', () => {
  let srv, rules, a;
  before(async () => {
    rules = rulesFile();
    srv = await startServer({ env: { ...common(rules), GATEHOUSE_GATE_REMOTE_HEADERS: 'on' } });
    a = await signup(srv);
  });
  after(async () => { await srv?.stop(); });

  test('not signed in: 401 for API clients, 302/303 to sign-in for browsers, 401 with Location for nginx', async () => {
    let r = await verify(srv, { ...API, ...fwd('/app/x?y=1') });
    assertCode(r, 401, 'signin_required', 'API client');
    assert.equal(r.headers.location, undefined);
    r = await verify(srv, fwd('/app'));
    assertCode(r, 401, 'signin_required', 'no Accept is an API client');
    r = await verify(srv, { ...BROWSER, 'X-Requested-With': 'XMLHttpRequest', ...fwd('/app') });
    assertCode(r, 401, 'signin_required', 'X-Requested-With is an API client');

    r = await verify(srv, { ...BROWSER, ...fwd('/app/x?y=1&z=%2F') });
    assert.equal(r.status, 302, r.text);
    assert.equal(r.text, '');
    assert.ok(r.headers.location.startsWith(`${SIGNIN}?rd=`), r.headers.location);
    assert.equal(rdOf(r.headers.location), 'https://app.example.test/app/x?y=1&z=%2F');
    assert.equal(r.headers['set-cookie'], undefined);

    r = await verify(srv, { ...BROWSER, ...fwd('/app', { method: 'POST' }) });
    assert.equal(r.status, 303, 'other methods: 303');
    assert.equal(rdOf(r.headers.location), 'https://app.example.test/app');

    r = await verify(srv, { ...BROWSER, ...orig('https://app.example.test/app/q') });
    assertCode(r, 401, 'signin_required', 'nginx');
    assert.equal(rdOf(r.headers.location), 'https://app.example.test/app/q');

    r = await verify(srv, { ...BROWSER, ...fwd('/public/page') });
    assertPass(r, 'public');
    assert.equal(r.headers['x-gatehouse-user-id'], undefined, 'no identity when not signed in');
    r = await verify(srv, { ...BROWSER, ...fwd('/closed') });
    assertCode(r, 403, 'forbidden', 'deny');
    r = await verify(srv, { ...BROWSER, ...fwd('/nowhere') });
    assertCode(r, 403, 'forbidden', 'the default: deny');
  });

  test('signed in by bearer: 200 with the identity headers and nothing for browsers; role and mfa rules', async () => {
    const auth = { Authorization: `Bearer ${a.access}` };
    let r = await verify(srv, { ...auth, ...BROWSER, ...fwd('/app') });
    assertPass(r, 'signed_in');
    assert.equal(r.headers['x-gatehouse-user-id'], a.user.id);
    assert.equal(r.headers['x-gatehouse-email'], a.email);
    assert.equal(r.headers['x-gatehouse-roles'], 'user');
    assert.match(r.headers['x-gatehouse-session-id'], /^[0-9a-f-]{36}$/);
    assert.equal(r.headers['remote-user'], a.email);
    assert.equal(r.headers['remote-email'], a.email);
    assert.equal(r.headers['remote-groups'], 'user');
    assert.equal(r.headers['remote-name'], a.email);
    for (const h of ['content-security-policy', 'strict-transport-security', 'permissions-policy', 'x-frame-options', 'content-type']) {
      assert.equal(r.headers[h], undefined, `the proxy's reply carries no ${h}`);
    }
    assert.equal(r.headers['content-length'], '0');

    r = await verify(srv, { ...auth, ...BROWSER, ...fwd('/public') });
    assertPass(r, 'public, signed in');
    assert.equal(r.headers['x-gatehouse-user-id'], a.user.id, 'public passes the identity along when there is one');
    assertCode(await verify(srv, { ...auth, ...BROWSER, ...fwd('/admin') }), 403, 'forbidden', 'role:admin');
    assertCode(await verify(srv, { ...auth, ...BROWSER, ...fwd('/closed') }), 403, 'forbidden', 'deny');

    // mfa: a password sign-in has no second factor: step up
    assertCode(await verify(srv, { ...auth, ...API, ...fwd('/billing') }), 401, 'step_up_required', 'API');
    r = await verify(srv, { ...auth, ...BROWSER, ...fwd('/billing/x') });
    assert.equal(r.status, 302);
    assert.ok(r.headers.location.startsWith(`${PUBLIC}/step-up?rd=`), r.headers.location);
    assert.equal(rdOf(r.headers.location), 'https://app.example.test/billing/x');
    r = await verify(srv, { ...auth, ...BROWSER, ...orig('https://app.example.test/billing') });
    assertCode(r, 401, 'step_up_required', 'nginx');
    assert.ok(r.headers.location.startsWith(`${PUBLIC}/step-up?rd=`));
    // (a recent factor passing is in tests/unit/gate/test_gate.c)
  });

  test('ASVS 9.1.1, 9.1.2: a tampered or unsigned token is not signed in', async () => {
    const [h, p, sig] = a.access.split('.');
    const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    for (const [t, what] of [[flipped, 'flipped signature'], [none, 'alg none'], ['garbage', 'not a JWT']]) {
      const r = await verify(srv, { Authorization: `Bearer ${t}`, ...API, ...fwd('/app') });
      assertCode(r, 401, 'signin_required', what);
      assert.equal(r.headers['x-gatehouse-user-id'], undefined);
    }
  });

  test('every method a proxy sends gets the same answer; HEAD has no body', async () => {
    const auth = { Authorization: `Bearer ${a.access}` };
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      let r = await verify(srv, { ...auth, ...fwd('/app', { method: m }) }, m);
      assert.equal(r.status, 200, `${m}: ${r.text}`);
      assert.equal(r.headers['x-gatehouse-user-id'], a.user.id, m);
      r = await verify(srv, { ...BROWSER, ...fwd('/app', { method: m }) }, m);
      assert.equal(r.status, m === 'GET' || m === 'HEAD' ? 302 : 303, m);
      if (m === 'HEAD') assert.equal(r.text, '');
    }
    // a browser's preflight forwarded as it is: the gate's answer, not CORS
    const r = await verify(srv, { Origin: 'https://app.example.test', 'Access-Control-Request-Method': 'DELETE',
      ...fwd('/public', { method: 'OPTIONS' }) }, 'OPTIONS');
    assertPass(r, 'preflight forwarded');
    // other routes still refuse HEAD
    assert.equal((await rawRequest(srv.port, { method: 'HEAD', path: '/v1/me' })).status, 405);
  });

  test('400 when the original request is missing or can be read two ways', async () => {
    assertCode(await verify(srv, {}), 400, 'original_request_missing', 'nothing');
    assertCode(await verify(srv, { 'X-Forwarded-Uri': '/app' }), 400, 'original_request_missing', 'only a URI');
    assertCode(await verify(srv, { 'X-Original-URL': 'https://app.example.test/app' }), 400, 'original_request_missing', 'no method');
    const bad = [
      fwd('/a/../admin'), fwd('/a/%2e%2e/admin'), fwd('/admin%2fx'), fwd('//evil.test/'), fwd('/a\\b'), fwd('/a%00'),
      fwd('/admin;x=1/'), fwd('/a%2561'), fwd('/a#b'), fwd('relative'), fwd('/x', { proto: 'ftp' }),
      fwd('/x', { host: 'user@app.example.test' }), fwd('/x', { method: 'get' }),
      orig('/relative/path'), orig('https://app.example.test'), orig('javascript://app.example.test/'),
      { ...fwd('/public'), ...orig('https://app.example.test/admin') },
    ];
    for (const h of bad) {
      const r = await verify(srv, { ...BROWSER, ...h });
      assertCode(r, 400, 'original_request_invalid', JSON.stringify(h));
    }
    // a forwarding header sent twice (the client's and the proxy's)
    const r = await rawRequest(srv.port, { path: '/v1/verify', headers: [
      'X-Forwarded-Method', 'GET', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'app.example.test',
      'X-Forwarded-Uri', '/public', 'X-Forwarded-Uri', '/admin'] });
    assertCode(r, 400, 'original_request_invalid', 'X-Forwarded-Uri twice');
  });

  test('ASVS 3.7.2: open-redirect tricks in the original URL never give a Location elsewhere', async () => {
    const allowed = (u) => {
      const url = new URL(u);
      // development also allows the proxy's own loopback origin
      const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
      return (url.protocol === 'https:' && url.hostname.endsWith('.example.test')) || loopback;
    };
    const tricks = [
      fwd('/app', { host: 'evil.test' }),
      fwd('/app', { host: 'app.example.test.evil.test' }),
      fwd('/app', { host: 'example.test' }),
      fwd('/app', { host: 'evil.test:443' }),
      fwd('/app', { host: 'app.example.test:8443' }),
      fwd('/app', { host: '127.0.0.1' }),
      fwd('/app', { host: '[::1]' }),
      fwd('/app', { host: 'evil.test#.example.test' }),
      fwd('/app', { host: 'evil.test/.example.test' }),
      fwd('/app', { host: 'evil.test\\.example.test' }),
      fwd('/app', { host: 'app.example.test@evil.test' }),
      fwd('/app', { host: 'evil.test%2e.example.test' }),
      fwd('/app', { proto: 'http' }),
      fwd('//evil.test/app'),
      fwd('/\\evil.test/app'),
      fwd('/app/..//evil.test'),
      fwd('/%2F%2Fevil.test'),
      fwd('/%5Cevil.test'),
      fwd('/app?next=https://evil.test/'),
      fwd('/app@evil.test'),
      fwd('/app\u0009evil'),
      orig('https://evil.test/app'),
      orig('https://app.example.test@evil.test/app'),
      orig('https://evil.test\\@app.example.test/app'),
      orig('//evil.test/app'),
      orig('https:/evil.test/app'),
      orig('https://evil.test%23.app.example.test/app'),
      orig('javascript:alert(1)//app.example.test/app'),
      orig('https://app.example.test/app', 'GET\r\nLocation: https://evil.test'),
    ];
    let redirected = 0;
    for (const h of tricks) {
      let r;
      try {
        r = await verify(srv, { ...BROWSER, ...h });
      } catch { continue; } // node refuses to send some of these bytes at all
      assert.ok([302, 400, 401, 403].includes(r.status), `${JSON.stringify(h)}: ${r.status}`);
      const loc = r.headers.location;
      if (!loc) continue;
      redirected++;
      assert.ok(loc.startsWith(`${SIGNIN}`), `${JSON.stringify(h)} -> ${loc}`);
      const rd = rdOf(loc);
      if (rd !== null) assert.ok(allowed(rd), `${JSON.stringify(h)} -> rd ${rd}`);
    }
    assert.ok(redirected >= 5, 'some tricks reach the redirect and lose their rd');
    assert.match(srv.stderr(), /is not an allowed return URL host.*redirecting without rd/);
  });

  test('a revoked session is refused on the next request', async () => {
    const b = await signup(srv);
    const auth = { Authorization: `Bearer ${b.access}` };
    assertPass(await verify(srv, { ...auth, ...fwd('/app') }), 'before');
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: b.access })).status, 204);
    assertCode(await verify(srv, { ...auth, ...API, ...fwd('/app') }), 401, 'signin_required', 'after sign-out');
  });

  test('SIGHUP reloads the rules; a bad file keeps the old ones and names file:line', async () => {
    const auth = { Authorization: `Bearer ${a.access}` };
    assertCode(await verify(srv, { ...auth, ...fwd('/closed') }), 403, 'forbidden');
    fs.writeFileSync(rules, RULES.replace('policy: deny\n  - host', 'policy: signed_in\n  - host'));
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/reloaded \d+ access rules/.test(srv.stderr()); i++) await sleep(50);
    assertPass(await verify(srv, { ...auth, ...fwd('/closed') }), 'after the reload');
    fs.writeFileSync(rules, 'default: deny\nrules:\n  - path: /x\n    policy: role:root\n');
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/reload refused/.test(srv.stderr()); i++) await sleep(50);
    assert.match(srv.stderr(), /reload refused, the old rules stay: .*rules\.yaml:4: /);
    assertPass(await verify(srv, { ...auth, ...fwd('/closed') }), 'the old rules stay');
    fs.writeFileSync(rules, RULES);
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && (srv.stderr().match(/reloaded \d+ access rules/g) || []).length < 2; i++) await sleep(50);
    assertCode(await verify(srv, { ...auth, ...fwd('/closed') }), 403, 'forbidden', 'back');
  });

  test('gatehouse rules test prints the rule and the answer', () => {
    const env = { GATEHOUSE_DATA_DIR: srv.dataDir, ...common(rules) };
    let r = runCli(['rules', 'test', 'https://app.example.test/admin/x'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rule: line 10 of .*: role:admin/);
    assert.match(r.stdout, /an anonymous browser: 302 signin_required, Location: https:\/\/login\.example\.test\/in\?rd=/);
    assert.match(r.stdout, /an anonymous API client: 401 signin_required/);
    r = runCli(['rules', 'test', 'https://app.example.test/billing', '--user', a.email], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mfa \(a factor within 15 minutes\)/);
    assert.match(r.stdout, /with a second factor just used: 200 pass/);
    assert.match(r.stdout, /without a recent one \(a step-up is needed\): 302 step_up_required/);
    r = runCli(['rules', 'test', 'https://app.example.test/a/../admin'], { env });
    assert.equal(r.code, 2);
    r = runCli(['rules', 'test', 'https://app.example.test/', '--user', 'nobody@example.test'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no account has that address/);
  });
});

test('ASVS 4.1.3: from a peer that is not a trusted proxy the headers are ignored and the request refused', async () => {
  const rules = rulesFile();
  const srv = await startServer({ env: { ...common(rules), GATEHOUSE_TRUSTED_PROXIES: '10.9.9.9' } });
  try {
    const a = await signup(srv);
    for (const h of [{ ...fwd('/public') }, { ...fwd('/app'), Authorization: `Bearer ${a.access}` },
      { 'X-Gatehouse-User-Id': a.user.id, 'Remote-User': a.email, ...orig('https://app.example.test/public') }, {}]) {
      const r = await verify(srv, { ...BROWSER, ...h });
      assertCode(r, 403, 'untrusted_proxy', JSON.stringify(h));
      assert.equal(r.headers['x-gatehouse-user-id'], undefined);
      assert.equal(r.headers['remote-user'], undefined);
      assert.equal(r.headers.location, undefined);
    }
    assert.match(srv.stderr(), /\/v1\/verify from 127\.0\.0\.1, which is not in GATEHOUSE_TRUSTED_PROXIES/);
  } finally {
    await srv.stop();
  }
});

test('the per-IP budget: a credential not answered from memory as signed in spends verify_ip; none and a signed-in one spend nothing', async () => {
  const srv = await startServer({ env: { ...common(rulesFile()), GATEHOUSE_LIMIT_VERIFY_IP: '3/60' } });
  try {
    const a = await signup(srv);
    const auth = { Authorization: `Bearer ${a.access}` };
    for (let i = 0; i < 10; i++) assertPass(await verify(srv, { ...auth, ...fwd('/app') }), 'signed in from memory: free');
    for (let i = 0; i < 10; i++) assert.equal((await verify(srv, { ...API, ...fwd('/app') })).status, 401, 'no credential: free');
    const made_up = { Authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' };
    for (let i = 0; i < 3; i++) assert.equal((await verify(srv, { ...API, ...made_up, ...fwd('/app') })).status, 401);
    const r = await verify(srv, { ...API, ...made_up, ...fwd('/app') });
    assertCode(r, 429, 'rate_limited', 'the fourth made-up token');
    assert.match(r.headers['ratelimit-policy'], /"verify_ip";q=3;w=60/);
    assertCode(await verify(srv, { ...API, Cookie: '__Host-gh_session=' + 'A'.repeat(43), ...fwd('/app') }), 429, 'rate_limited', 'a made-up cookie too');
    assert.equal((await verify(srv, { ...API, ...fwd('/app') })).status, 401, 'still no credential: answered');
    assertPass(await verify(srv, { ...auth, ...fwd('/app') }), 'signed in still passes');
  } finally {
    await srv.stop();
  }
});

test('roles come from the store; an enrolment-only session passes only public rules', async () => {
  const dataDir = mkTempDir();
  const rules = rulesFile();
  let srv = await startServer({ dataDir, env: common(rules) });
  const a = await signup(srv);
  try {
    assertCode(await verify(srv, { Authorization: `Bearer ${a.access}`, ...fwd('/admin') }), 403, 'forbidden');
  } finally {
    await srv.stop();
  }
  const r = runCli(['users', 'role', a.email, 'admin'], { env: { GATEHOUSE_DATA_DIR: dataDir } });
  assert.equal(r.code, 0, r.stderr);
  srv = await startServer({ dataDir, env: { ...common(rules), GATEHOUSE_MFA_REQUIRED: 'admins' } });
  try {
    let v = await verify(srv, { Authorization: `Bearer ${a.access}`, ...fwd('/admin') });
    assertPass(v, 'the role read from the store');
    assert.equal(v.headers['x-gatehouse-roles'], 'admin');
    // a new sign-in of an admin without a factor is enrolment-only
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    assert.equal(s.json.mfa_enrolment_required, true);
    const auth = { Authorization: `Bearer ${s.json.access_token}` };
    assertCode(await verify(srv, { ...auth, ...BROWSER, ...fwd('/admin') }), 403, 'mfa_enrolment_required');
    assertCode(await verify(srv, { ...auth, ...BROWSER, ...fwd('/app') }), 403, 'mfa_enrolment_required');
    v = await verify(srv, { ...auth, ...BROWSER, ...fwd('/public') });
    assertPass(v, 'public');
    assert.equal(v.headers['x-gatehouse-user-id'], undefined, 'not signed in as far as public pages go');
  } finally {
    await srv.stop();
  }
});

test('a cookie due for rotation passes without Set-Cookie and is not rotated; a spent one is refused, not reuse', async () => {
  const dataDir = mkTempDir();
  const env = { ...common(rulesFile()), GATEHOUSE_ACCESS_TTL: '1' };
  let srv = await startServer({ dataDir, env });
  const email = uniqueEmail(), password = strongPassword();
  const su = await signup(srv, email, password);
  const si = await rawRequest(srv.port, { method: 'POST', path: '/v1/signin', headers: { 'Content-Type': 'application/json', Origin: PUBLIC },
    body: JSON.stringify({ email, password, mode: 'cookie' }) });
  assert.equal(si.status, 200, si.text);
  const session = /__Host-gh_session=([^;]+)/.exec(si.headers['set-cookie'].join('\n'))[1];
  const cookie = { Cookie: `__Host-gh_session=${session}` };
  const rotated = () => sql(srv.dbPath, "SELECT COUNT(*) FROM refresh_tokens WHERE rotated_at_us IS NOT NULL;").trim();
  try {
    await sleep(1500); // past GATEHOUSE_ACCESS_TTL: due
    let r = await verify(srv, { ...cookie, ...fwd('/app') });
    assertPass(r, 'due, from memory');
    assert.equal(rotated(), '0');
    // ASVS 9.2.1: the bearer token of the sign-up expired after 1 s
    assertCode(await verify(srv, { Authorization: `Bearer ${su.access}`, ...API, ...fwd('/app') }), 401, 'signin_required', 'expired');
  } finally {
    await srv.stop();
  }
  srv = await startServer({ dataDir, env }); // an empty cache: settled on a worker
  try {
    let r = await verify(srv, { ...cookie, ...BROWSER, ...fwd('/app') });
    assertPass(r, 'due, settled by the store');
    assert.equal(r.headers['x-gatehouse-email'], email);
    assert.equal(rotated(), '0', 'the gate rotates nothing');
    // the API rotates it
    const me = await rawRequest(srv.port, { path: '/v1/me', headers: cookie });
    assert.equal(me.status, 200, me.text);
    const fresh = /__Host-gh_session=([^;]+)/.exec((me.headers['set-cookie'] || []).join('\n'))?.[1];
    assert.ok(fresh && fresh !== session, 'rotated by /v1/me');
    // the spent value at the gate: not signed in, and the session lives on
    r = await verify(srv, { ...cookie, ...BROWSER, ...fwd('/app') });
    assert.equal(r.status, 302, 'the spent cookie is not signed in');
    assert.equal(r.headers['set-cookie'], undefined);
    assertPass(await verify(srv, { Cookie: `__Host-gh_session=${fresh}`, ...fwd('/app') }), 'the new cookie passes');
    assert.equal(sql(srv.dbPath, 'SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL;').trim(), '0', 'no reuse detection from the gate');
  } finally {
    await srv.stop();
  }
});

// ASVS 7.3.2: the gate never rotates, so a cookie it keeps answering from
// memory must still end at GATEHOUSE_SESSION_MAX_AGE.
test('a cookie the gate answers from memory ends at the session maximum age', async () => {
  const srv = await startServer({ env: { ...common(rulesFile()), GATEHOUSE_SESSION_MAX_AGE: '3' } });
  try {
    const email = uniqueEmail(), password = strongPassword();
    await signup(srv, email, password);
    const si = await rawRequest(srv.port, { method: 'POST', path: '/v1/signin', headers: { 'Content-Type': 'application/json', Origin: PUBLIC },
      body: JSON.stringify({ email, password, mode: 'cookie' }) });
    assert.equal(si.status, 200, si.text);
    const session = /__Host-gh_session=([^;]+)/.exec(si.headers['set-cookie'].join('\n'))[1];
    const cookie = { Cookie: `__Host-gh_session=${session}` };
    assertPass(await verify(srv, { ...cookie, ...fwd('/app') }), 'young');
    await sleep(3300);
    const r = await verify(srv, { ...cookie, ...API, ...fwd('/app') });
    assertCode(r, 401, 'signin_required', 'past the maximum age, though cached and used all along');
  } finally {
    await srv.stop();
  }
});

test('at start: a bad rules file or sign-in URL stops the server naming it; no file means signed_in everywhere; no sign-in URL means our /signin', async () => {
  const bad = rulesFile('default: deny\nrules:\n  - path: /x\n    policy: role:root\n');
  await assert.rejects(startServer({ env: common(bad) }), (e) => {
    assert.match(e.message, /server exited during startup/);
    assert.match(e.message, /rules\.yaml:4: .*root/);
    return true;
  });
  await assert.rejects(startServer({ env: { ...common(rulesFile()), GATEHOUSE_SIGNIN_URL: 'http://login.example.test/in' } }),
    /GATEHOUSE_SIGNIN_URL must be an https URL/);
  const srv = await startServer({ env: { ...common(null), GATEHOUSE_ACCESS_RULES: null, GATEHOUSE_SIGNIN_URL: null } });
  try {
    assert.match(srv.stderr(), /GATEHOUSE_ACCESS_RULES is not set: every request needs signed_in/);
    // no GATEHOUSE_SIGNIN_URL: Gatehouse's own sign-in page
    assert.ok(srv.stderr().includes(`GATEHOUSE_SIGNIN_URL is not set: browsers that are not signed in go to Gatehouse's own sign-in page, ${PUBLIC}/signin`), srv.stderr());
    const r = await verify(srv, { ...BROWSER, ...fwd('/anything') });
    assert.equal(r.status, 302, r.text);
    assert.ok(r.headers.location.startsWith(`${PUBLIC}/signin`), r.headers.location);
    assertCode(await verify(srv, { ...API, ...fwd('/anything') }), 401, 'signin_required', 'an API client still gets 401');
    const a = await signup(srv);
    assertPass(await verify(srv, { Authorization: `Bearer ${a.access}`, ...fwd('/anything') }), 'signed in');
  } finally {
    await srv.stop();
  }
});
