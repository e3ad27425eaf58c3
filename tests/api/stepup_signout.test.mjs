// Step-up (POST /v1/mfa/step-up and the /step-up page) and the sign-out
// page (docs/api.md "Pages"): a signed-in session proves its second factor
// again, and a gated app's sign-out link ends the session. TOTP codes are
// computed here (lib/browser.mjs). The https public URL makes cookies
// Secure and __Host- on loopback, as behind a TLS proxy.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, sql, assertError, markVerified, hexOf } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };
const SESSION = '__Host-gh_session';
const CSRF = '__Host-gh_csrf';

/** A user with TOTP set up: { a (signup), secret, backup[] }; the TOTP
 *  step of now is used (the next one, +30 s, is still good once). */
async function withTotp(srv) {
  const a = await signup(srv);
  markVerified(srv, a.user.id);
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
  assert.equal(b.status, 200, b.text);
  const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: await totpCode(b.json.secret) } });
  assert.equal(c.status, 200, c.text);
  return { a, secret: b.json.secret, backup: c.json.backup_codes };
}

/** Signs in by cookie through the second step with a backup code. */
async function cookieSession(srv, u, backupIndex) {
  const s1 = await req(srv, 'POST', '/v1/signin', { json: { email: u.a.email, password: u.a.password, mode: 'cookie' }, headers: SAME });
  assert.equal(s1.status, 200, s1.text);
  assert.equal(s1.json.mfa_required, true);
  const s2 = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: s1.json.mfa_token, code: u.backup[backupIndex], mode: 'cookie' }, headers: SAME });
  assert.equal(s2.status, 200, s2.text);
  const c = cookiesOf(s2);
  const session = c[SESSION].value;
  const csrf = c[CSRF].value;
  const sid = sql(srv.dbPath, `SELECT s.id FROM sessions s JOIN refresh_tokens r ON r.session_id = s.id WHERE ${hexOf('r.token_hash')} = upper('${(await import('node:crypto')).createHash('sha256').update(session).digest('hex')}');`).trim();
  return { session, csrf, cookie: `${SESSION}=${session}; ${CSRF}=${csrf}`, sid };
}

const mfaAt = (srv, sid) => Number(sql(srv.dbPath, `SELECT mfa_at FROM sessions WHERE id = '${sid}';`).trim());
const auditCount = (srv, action, uid) => Number(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = '${action}' AND target = '${uid}';`).trim());

describe('POST /v1/mfa/step-up', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC } }); });
  after(async () => { await srv?.stop(); });

  test('bearer: a TOTP code sets mfa_at now, audited as mfa.step_up; the same step again is refused', async () => {
    const u = await withTotp(srv);
    const sid = sql(srv.dbPath, `SELECT id FROM sessions WHERE user_id = '${u.a.user.id}' AND revoked_at IS NULL;`).trim();
    const before = mfaAt(srv, sid);
    const code = await totpCode(u.secret, Date.now() + 30000);
    const r = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } });
    assert.equal(r.status, 204, r.text);
    const at = mfaAt(srv, sid);
    assert.ok(at > before && Math.abs(at - Date.now() / 1000) < 5, `mfa_at ${at}`);
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 1);
    const d = sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'mfa.step_up' AND target = '${u.a.user.id}';`).trim();
    assert.deepEqual(JSON.parse(d), { method: 'totp', session_id: sid });
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } }), 422, 'code_mismatch', 'each step once');
  });

  test('a backup code works once; wrong codes are 422 code_mismatch and audited; the budget ends in 429', async () => {
    const u = await withTotp(srv);
    const ok = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[0] } });
    assert.equal(ok.status, 204, ok.text);
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[0] } }), 422, 'code_mismatch', 'a spent backup code');
    for (const code of ['000000', 'x', 'a'.repeat(200)]) {
      assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } }), 422, 'code_mismatch', code.slice(0, 10));
    }
    assert.ok(auditCount(srv, 'mfa.proof_failed', u.a.user.id) >= 4);
    let last;
    for (let i = 0; i < 3; i++) last = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: '111111' } });
    assertError(last, 429, 'rate_limited', 'the account budget (5 per 5 min, shared with the sign-in step)');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[1] } }), 429, 'rate_limited', 'even a right code waits');
  });

  test('no second factor: 409 mfa_not_enabled; no session: 401; bad bodies: 422', async () => {
    const a = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: '123456' } }), 409, 'mfa_not_enabled');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { json: { code: '123456' } }), 401, 'invalid_token');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: {} }), 422, 'missing_field');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: 123456 } }), 422, 'invalid_field');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: '1', x: 1 } }), 422, 'unknown_field');
  });

  test('by cookie: needs the CSRF header and our origin', async () => {
    const u = await withTotp(srv);
    const s = await cookieSession(srv, u, 0);
    const body = { code: u.backup[1] };
    assertError(await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: SAME }), 403, 'csrf_failed', 'no X-CSRF-Token');
    assertError(await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: { Origin: 'https://evil.example', 'X-CSRF-Token': s.csrf } }), 403, 'csrf_failed', 'foreign origin');
    const before = mfaAt(srv, s.sid);
    const ok = await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: { ...SAME, 'X-CSRF-Token': s.csrf } });
    assert.equal(ok.status, 204, ok.text);
    assert.ok(mfaAt(srv, s.sid) >= before);
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 1);
  });
});

// ---- the pages ----

const NEW = '__Secure-gh_session';
const NEW_CSRF = '__Secure-gh_csrf';
const SIGNIN_URL = 'https://app.example.test/login?from=gate';
const BRAND = `Acme <b>&</b> "Co's"`;
const HTML_TYPE = 'text/html; charset=utf-8';

/** The value of the hidden input called name ('' if none). */
function hidden(html, name) {
  const m = html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`));
  assert.ok(m, `hidden ${name} in ${html}`);
  return m[1].replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#96;/g, '`').replace(/&amp;/g, '&');
}

/** A page's HTML is clean: the page CSP, no inline script or style. */
function assertPage(res, status, what = '') {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 400)}`);
  assert.equal(res.headers['content-type'], HTML_TYPE, what);
  assert.match(res.headers['content-security-policy'], /default-src 'none'; style-src 'self'/);
  assert.match(res.text, /^<!doctype html>\n<html lang="en">/);
  assert.ok(!/<script|\sstyle=|\son[a-z]+=/i.test(res.text), `${what}: no inline script or style`);
  assert.match(res.text, /<link rel="stylesheet" href="\/assets\/gatehouse.css">/);
}

/** Where a redirect may go: our origin, or https under the cookie domain. */
function assertAllowed(url, what) {
  if (url === '') return;
  const u = new URL(url);
  assert.equal(u.protocol, 'https:', `${what}: ${url}`);
  assert.ok(u.hostname === 'example.test' || u.hostname.endsWith('.example.test'), `${what}: ${url}`);
  assert.equal(u.username + u.password, '', `${what}: ${url}`);
}

// Open-redirect tricks: none may become a Location outside the allowed
// hosts (our origin and https under example.test).
const TRICKS = [
  'https://evil.example/', '//evil.example/', '///evil.example/', '/\\evil.example/', '\\\\evil.example',
  'https:evil.example', 'https:/evil.example', 'javascript:alert(1)', 'data:text/html,<script>alert(1)</script>',
  'https://auth.example.test@evil.example/', 'https://evil.example\\@auth.example.test/',
  'https://auth.example.test.evil.example/', 'https://evilexample.test/', 'https://example.test.evil.example/',
  'http://app.example.test/', 'https://app.example.test%2F@evil.example/', ' https://evil.example/',
  'https://evil.example%00.example.test/', '/%2F%2Fevil.example', '/\t/evil.example', 'https://evil.example#@app.example.test',
  'https://[::1]:443@evil.example/', 'ftp://app.example.test/', 'https://evil.example/\nLocation: https://evil.example',
  'HTTPS://EVIL.EXAMPLE', 'https://evil.example:443\\.example.test/',
];

describe('pages: /step-up and /signout', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_COOKIE_DOMAIN: 'example.test', GATEHOUSE_SIGNIN_URL: SIGNIN_URL, GATEHOUSE_BRAND: BRAND } });
  });
  after(async () => { await srv?.stop(); });

  /** A cookie session (with TOTP: through the second step by backup code). */
  async function session(u, backupIndex = 0) {
    if (!u.secret) {
      const r = await req(srv, 'POST', '/v1/signin', { json: { email: u.a.email, password: u.a.password, mode: 'cookie' }, headers: SAME });
      assert.equal(r.status, 200, r.text);
      const c = cookiesOf(r);
      return { session: c[NEW].value, csrf: c[NEW_CSRF].value, cookie: `${NEW}=${c[NEW].value}` };
    }
    const s1 = await req(srv, 'POST', '/v1/signin', { json: { email: u.a.email, password: u.a.password, mode: 'cookie' }, headers: SAME });
    const s2 = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: s1.json.mfa_token, code: u.backup[backupIndex], mode: 'cookie' }, headers: SAME });
    assert.equal(s2.status, 200, s2.text);
    const c = cookiesOf(s2);
    return { session: c[NEW].value, csrf: c[NEW_CSRF].value, cookie: `${NEW}=${c[NEW].value}` };
  }
  const sidOf = async (s) => sql(srv.dbPath, `SELECT session_id FROM refresh_tokens WHERE ${hexOf('token_hash')} = upper('${(await import('node:crypto')).createHash('sha256').update(s.session).digest('hex')}');`).trim();

  test('not signed in: a page saying so, with a link to GATEHOUSE_SIGNIN_URL carrying the checked rd', async () => {
    const r = await req(srv, 'GET', `/step-up?rd=${encodeURIComponent('https://app.example.test/admin?x=1')}`);
    assertPage(r, 401, 'no session');
    assert.match(r.text, /<h1>You are not signed in<\/h1>/);
    assert.match(r.text, /role="alert"/);
    assert.ok(r.text.includes(`href="https://app.example.test/login?from=gate&amp;rd=${encodeURIComponent('https://app.example.test/admin?x=1')}"`), r.text);
    const bad = await req(srv, 'GET', `/signout?rd=${encodeURIComponent('https://evil.example/')}`);
    assertPage(bad, 401, 'sign-out page without a session');
    assert.ok(bad.text.includes('href="https://app.example.test/login?from=gate"'), 'a refused rd is left out of the link');
    const dead = await req(srv, 'GET', '/step-up', { cookie: `${NEW}=${'A'.repeat(43)}` });
    assertPage(dead, 401, 'a dead cookie');
    assert.equal(cookiesOf(dead)[NEW]?.value, '', 'cleared');
  });

  test('the full step-up flow: form, TOTP computed here, 303 to rd; mfa_at set and audited', async () => {
    const u = await withTotp(srv);
    const s = await session(u, 0);
    const sid = await sidOf(s);
    const rd = 'https://app.example.test/admin/settings?tab=2';
    const g = await req(srv, 'GET', `/step-up?rd=${encodeURIComponent(rd)}`, { cookie: s.cookie });
    assertPage(g, 200, 'form');
    assert.match(g.text, /<title>Confirm it&#39;s you - Acme &lt;b&gt;&amp;&lt;\/b&gt; &quot;Co&#39;s&quot;<\/title>/);
    assert.match(g.text, /<label for="code">Authenticator or backup code<\/label>/);
    assert.match(g.text, /<form method="post" action="\/step-up">/);
    assert.equal(hidden(g.text, 'csrf'), s.csrf, 'the session\'s CSRF token');
    assert.equal(hidden(g.text, 'rd'), rd);
    assert.ok(!/role="alert"/.test(g.text), 'no error yet');
    const before = mfaAt(srv, sid);
    const code = await totpCode(u.secret, Date.now() + 30000);
    const p = await req(srv, 'POST', '/step-up', { form: { code, csrf: s.csrf, rd }, cookie: s.cookie, headers: { ...SAME, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(p.status, 303, p.text);
    assert.equal(p.headers.location, rd);
    assert.ok(mfaAt(srv, sid) >= before && Math.abs(mfaAt(srv, sid) - Date.now() / 1000) < 5);
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 1);
    // no rd: our own success page
    const p2 = await req(srv, 'POST', '/step-up', { form: { code: u.backup[1], csrf: s.csrf }, cookie: s.cookie, headers: SAME });
    assert.equal(p2.status, 303, p2.text);
    assert.equal(p2.headers.location, `${PUBLIC}/step-up/done`);
    const done = await req(srv, 'GET', '/step-up/done');
    assertPage(done, 200, 'done');
    assert.match(done.text, /<h1>Confirmed<\/h1>/);
  });

  test('a wrong code shows the form again, announced (role=alert), 422; the code is not echoed', async () => {
    const u = await withTotp(srv);
    const s = await session(u, 0);
    const rd = '/after';
    const r = await req(srv, 'POST', '/step-up', { form: { code: '000000', csrf: s.csrf, rd }, cookie: s.cookie, headers: SAME });
    assertPage(r, 422, 'wrong code');
    assert.match(r.text, /<p class="alert" role="alert" id="code-error">That code is not valid\./);
    assert.match(r.text, /aria-invalid="true" aria-describedby="code-error"/);
    assert.equal(hidden(r.text, 'rd'), `${PUBLIC}/after`, 'rd kept (checked, absolute)');
    assert.equal(hidden(r.text, 'csrf'), s.csrf);
    assert.ok(!r.text.includes('000000'), 'the code typed is not shown again');
    const empty = await req(srv, 'POST', '/step-up', { form: { code: '', csrf: s.csrf }, cookie: s.cookie, headers: SAME });
    assertPage(empty, 422, 'empty code');
    assert.match(empty.text, /role="alert"[^>]*>Enter the code\./);
    assert.ok(auditCount(srv, 'mfa.proof_failed', u.a.user.id) >= 1);
    // no second factor: a page that says so
    const plain = { a: await signup(srv) };
    const ps = await session(plain);
    const nf = await req(srv, 'GET', '/step-up', { cookie: ps.cookie });
    assertPage(nf, 409, 'no factor');
    assert.match(nf.text, /<h1>No second factor<\/h1>/);
  });

  test('CSRF: the form token (not the header) and our origin are required; nothing changes without them', async () => {
    const u = await withTotp(srv);
    const s = await session(u, 0);
    const sid = await sidOf(s);
    const before = mfaAt(srv, sid);
    const code = u.backup[1];
    const cases = [
      ['no csrf field', { code }, SAME],
      ['the header instead of the field', { code }, { ...SAME, 'X-CSRF-Token': s.csrf }],
      ['wrong token', { code, csrf: 'A'.repeat(43) }, SAME],
      ['another session\'s token', { code, csrf: (await session(u, 2)).csrf }, SAME],
      ['foreign Origin', { code, csrf: s.csrf }, { Origin: 'https://evil.example' }],
      ['a sibling host is not our origin', { code, csrf: s.csrf }, { Origin: 'https://app.example.test' }],
      ['cross-site', { code, csrf: s.csrf }, { 'Sec-Fetch-Site': 'cross-site' }],
      ['neither Origin nor Sec-Fetch-Site', { code, csrf: s.csrf }, {}],
      ['Origin null', { code, csrf: s.csrf }, { Origin: 'null' }],
    ];
    for (const [what, form, headers] of cases) {
      const r = await req(srv, 'POST', '/step-up', { form, cookie: s.cookie, headers });
      assertPage(r, 403, what);
      assert.match(r.text, /<h1>Please try again<\/h1>/, what);
    }
    assert.equal(mfaAt(srv, sid), before, 'nothing changed');
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 0);
    const so = await req(srv, 'POST', '/signout', { form: { csrf: 'x' }, cookie: s.cookie, headers: SAME });
    assertPage(so, 403, 'sign-out with a wrong token');
    assert.equal((await req(srv, 'GET', '/v1/me', { cookie: s.cookie })).status, 200, 'still signed in');
    // a JSON body is not a form
    const js = await req(srv, 'POST', '/step-up', { json: { code, csrf: s.csrf }, cookie: s.cookie, headers: SAME });
    assertPage(js, 415, 'JSON to a page');
  });

  test(`open redirects: ${TRICKS.length} tricks in rd never reach a Location (or a link) outside the allowed hosts`, async () => {
    const a = { a: await signup(srv) };
    const s = await session(a);
    for (const t of TRICKS) {
      const g = await req(srv, 'GET', `/signout?rd=${encodeURIComponent(t)}`, { cookie: s.cookie });
      assertPage(g, 200, JSON.stringify(t));
      assert.equal(hidden(g.text, 'rd'), '', `refused: ${JSON.stringify(t)}`);
      const anon = await req(srv, 'GET', `/step-up?rd=${encodeURIComponent(t)}`);
      assert.ok(anon.text.includes('href="https://app.example.test/login?from=gate"'), `no rd in the link: ${JSON.stringify(t)}`);
    }
    // the POSTs: each trick signs out one session and lands on our own page
    for (const t of TRICKS.slice(0, 12)) {
      const si = await session(a);
      const p = await req(srv, 'POST', '/signout', { form: { csrf: si.csrf, rd: t }, cookie: si.cookie, headers: SAME });
      assert.equal(p.status, 303, `${JSON.stringify(t)}: ${p.text}`);
      assert.equal(p.headers.location, `${PUBLIC}/signout/done`, JSON.stringify(t));
    }
    // allowed: our origin, relative paths, https under the cookie domain
    for (const [rd, want] of [['/apps/x?y=1', `${PUBLIC}/apps/x?y=1`], ['https://app.example.test/a', 'https://app.example.test/a'],
      ['https://EXAMPLE.test/', 'https://example.test/'], [`${PUBLIC}/z`, `${PUBLIC}/z`]]) {
      const g = await req(srv, 'GET', `/signout?rd=${encodeURIComponent(rd)}`, { cookie: s.cookie });
      assert.equal(hidden(g.text, 'rd'), want, rd);
      assertAllowed(want, rd);
    }
  });

  test('sign-out: a confirmation page (GET changes nothing), then POST revokes like /v1/signout, clears every cookie name, 303 to rd', async () => {
    const a = { a: await signup(srv) };
    const s = await session(a);
    const sid = await sidOf(s);
    const rd = 'https://app.example.test/goodbye';
    const g = await req(srv, 'GET', `/signout?rd=${encodeURIComponent(rd)}`, { cookie: s.cookie });
    assertPage(g, 200, 'confirmation');
    assert.match(g.text, /<h1>Sign out\?<\/h1>/);
    assert.equal((g.text.match(/<button/g) || []).length, 1, 'one button');
    assert.match(g.text, /<form method="post" action="\/signout">/);
    assert.equal(hidden(g.text, 'csrf'), s.csrf);
    assert.equal(g.setCookie.length, 0);
    assert.equal((await req(srv, 'GET', '/v1/me', { cookie: s.cookie })).status, 200, 'the GET signed nobody out');
    const p = await req(srv, 'POST', '/signout', { form: { csrf: s.csrf, rd }, cookie: s.cookie, headers: SAME });
    assert.equal(p.status, 303, p.text);
    assert.equal(p.headers.location, rd);
    const c = cookiesOf(p);
    for (const n of [NEW, NEW_CSRF, SESSION, CSRF]) assert.equal(c[n]?.value, '', `${n} expired: ${p.setCookie}`);
    assert.ok(c[NEW].attrs.includes('Domain=example.test'));
    assert.ok(Number(sql(srv.dbPath, `SELECT COUNT(*) FROM sessions WHERE id = '${sid}' AND revoked_at IS NOT NULL;`)) === 1, 'revoked');
    const row = sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'signout' AND target = '${a.a.user.id}' ORDER BY id DESC LIMIT 1;`).trim();
    assert.deepEqual(JSON.parse(row), { session_id: sid }, 'the same audit row as POST /v1/signout');
    assert.equal((await req(srv, 'GET', '/v1/me', { cookie: s.cookie, headers: { Host: 'app.example.test' } })).status, 401, 'ended on the next request');
    const done = await req(srv, 'GET', '/signout/done');
    assertPage(done, 200, 'signed out');
    assert.match(done.text, /<h1>You are signed out<\/h1>/);
    assert.ok(done.text.includes('href="https://app.example.test/login?from=gate"'));
    // without rd: our own page
    const s2 = await session(a);
    const p2 = await req(srv, 'POST', '/signout', { form: { csrf: s2.csrf }, cookie: s2.cookie, headers: SAME });
    assert.equal(p2.headers.location, `${PUBLIC}/signout/done`);
    // an rd too long for a Location header: dropped, never a 500 after the
    // sign-out was made
    const s3 = await session(a);
    const long = `https://app.example.test/${'a'.repeat(1100)}`;
    const p3 = await req(srv, 'POST', '/signout', { form: { csrf: s3.csrf, rd: long }, cookie: s3.cookie, headers: SAME });
    assert.equal(p3.status, 303, p3.text.slice(0, 200));
    assert.equal(p3.headers.location, `${PUBLIC}/signout/done`);
  });

  test('reflected values are escaped: rd in the hidden field, the brand everywhere', async () => {
    const a = { a: await signup(srv) };
    const s = await session(a);
    const rd = "https://app.example.test/p?a=1&b='x'";
    const g = await req(srv, 'GET', `/signout?rd=${encodeURIComponent(rd)}`, { cookie: s.cookie });
    assertPage(g, 200, 'escaping');
    assert.ok(g.text.includes('value="https://app.example.test/p?a=1&amp;b=&#39;x&#39;"'), g.text);
    assert.ok(!g.text.includes("'x'"));
    assert.ok(g.text.includes('<p class="brand">Acme &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&#39;s&quot;</p>'));
    assert.ok(!g.text.includes('<b>'), 'no markup from a value');
    const css = await req(srv, 'GET', '/assets/gatehouse.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'public, max-age=300');
    assert.match(css.text, /prefers-color-scheme:dark/);
  });
});

// Without a cookie domain, the pages send a person back only where the gate
// would: the hosts the access rules name (and our own origin), never others.
describe('pages: rd allowed by the access rules\' hosts', () => {
  let srv;
  before(async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const rules = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-rules-')), 'rules.yml');
    fs.writeFileSync(rules, 'default: deny\nrules:\n  - host: app.example.net\n    policy: signed_in\n  - host: "*.apps.example.org"\n    policy: public\n');
    srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_ACCESS_RULES: rules, GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => { await srv?.stop(); });

  test('a rule host and a wildcard rule host are allowed; any other host is dropped', async () => {
    const a = await signup(srv);
    const r = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 200, r.text);
    const cookie = `${SESSION}=${cookiesOf(r)[SESSION].value}`;
    for (const [rd, want] of [['https://app.example.net/x?y=1', 'https://app.example.net/x?y=1'],
      ['https://a.apps.example.org/', 'https://a.apps.example.org/'], [`${PUBLIC}/z`, `${PUBLIC}/z`],
      ['https://evil.example.net/', ''], ['https://apps.example.org/', ''], ['https://app.example.net.evil.com/', ''],
      ['https://app.example.net:8443/', ''], ['http://app.example.net/', '']]) {
      const g = await req(srv, 'GET', `/signout?rd=${encodeURIComponent(rd)}`, { cookie });
      assert.equal(g.status, 200, g.text);
      assert.equal(hidden(g.text, 'rd'), want, rd);
    }
  });
});
