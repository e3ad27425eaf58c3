// The sign-in pages (docs/api.md "Pages"): /signin, /signin/mfa, /signup,
// /signin/magic-link and their "check your email" pages, over node:http so
// that Cookie, Origin and Sec-Fetch-Site are exactly what a test sends.
// Their forms carry the pre-session form token (decision 0030): a signed
// cookie __Host-gh_form and a field made from it; without both, or from
// another origin, a POST is 403 csrf_failed and nothing happens.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, sql, markVerified, uniqueEmail, strongPassword, sleep } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC, 'Sec-Fetch-Site': 'same-origin' };
const FORM = '__Host-gh_form';
const MFA = '__Host-gh_mfa';
const SESSION = '__Host-gh_session';

const csrfOf = (html) => /name="csrf" value="([^"]*)"/.exec(html)?.[1];
const alertOf = (html) => /<p class="alert" role="alert"[^>]*>([^<]*)/.exec(html)?.[1];
const count = (srv, q) => Number(sql(srv.dbPath, q).trim());
const signins = (srv, uid) => count(srv, `SELECT COUNT(*) FROM audit_log WHERE action = 'signin.success' AND target = '${uid}';`);
const liveSessions = (srv, uid) => count(srv, `SELECT COUNT(*) FROM sessions WHERE user_id = '${uid}' AND revoked_at IS NULL;`);

/** GET a form page: { res, token (the field), form (the cookie value), cookie (header) }. */
async function formOf(srv, path, cookie) {
  const res = await req(srv, 'GET', path, { cookie });
  assert.equal(res.status, 200, res.text);
  const token = csrfOf(res.text);
  const form = cookiesOf(res)[FORM]?.value ?? /__Host-gh_form=([A-Za-z0-9_-]+)/.exec(cookie ?? '')?.[1];
  assert.ok(token && form, `${path}: a form token and its cookie`);
  return { res, token, form, cookie: `${FORM}=${form}` };
}

function post(srv, path, form, { cookie, headers = SAME } = {}) {
  return req(srv, 'POST', path, { form, cookie, headers });
}

function assertCsrfPage(res, what) {
  assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.match(res.headers['content-type'], /^text\/html/, what);
  assert.match(res.text, /Please try again/, what);
  assert.equal(cookiesOf(res)[SESSION], undefined, `${what}: no session cookie`);
}

describe('sign-in pages', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC } }); });
  after(async () => { await srv?.stop(); });

  test('GET /signin: the page, its labels, a form cookie (HttpOnly, SameSite=Lax, Secure, 2 h) reused while fresh', async () => {
    const { res, token, form } = await formOf(srv, '/signin');
    assert.match(res.text, /<h1>Sign in<\/h1>/);
    for (const l of ['<label for="email">Email</label>', '<label for="password">Password</label>',
      '<label for="magic-email">Email</label>', '>Sign in</button>', '>Email me a sign-in link</button>',
      '>Forgot password?</a>', '>Create an account</a>', 'class="divider">or<']) assert.ok(res.text.includes(l), l);
    assert.ok(!res.text.includes('class="providers"'), 'no provider section while none is configured');
    assert.match(res.headers['content-security-policy'], /form-action 'self'/);
    const c = cookiesOf(res)[FORM];
    for (const a of ['Path=/', 'Max-Age=7200', 'Secure', 'HttpOnly', 'SameSite=Lax']) assert.ok(c.attrs.includes(a), `${a} in ${c.line}`);
    assert.ok(!c.line.includes('Domain'), 'never a Domain');
    assert.equal(token.length, 43);
    assert.equal(form.length, 75);
    assert.ok(!form.includes(token) && token !== form, 'the field is not the cookie');
    const again = await req(srv, 'GET', '/signin', { cookie: `${FORM}=${form}` });
    assert.equal(cookiesOf(again)[FORM], undefined, 'a fresh cookie is reused');
    assert.equal(csrfOf(again.text), token, 'and gives the same field');
    const junk = await req(srv, 'GET', '/signin', { cookie: `${FORM}=${'A'.repeat(75)}` });
    assert.ok(cookiesOf(junk)[FORM], 'a forged cookie is replaced');
  });

  test('the form token is required: missing, wrong, of another cookie, cross-origin or unsaid origin -> 403, nothing happens', async () => {
    const a = await signup(srv);
    const before = signins(srv, a.user.id);
    const f1 = await formOf(srv, '/signin');
    const f2 = await formOf(srv, '/signin');
    const body = (csrf) => ({ csrf, email: a.email, password: a.password });
    assertCsrfPage(await post(srv, '/signin', { email: a.email, password: a.password }), 'no cookie, no field');
    assertCsrfPage(await post(srv, '/signin', body(f1.token)), 'a field without its cookie');
    assertCsrfPage(await post(srv, '/signin', { email: a.email, password: a.password }, { cookie: f1.cookie }), 'a cookie without a field');
    assertCsrfPage(await post(srv, '/signin', body('x'.repeat(43)), { cookie: f1.cookie }), 'a wrong field');
    assertCsrfPage(await post(srv, '/signin', body(f2.token), { cookie: f1.cookie }), 'the field of another cookie');
    assertCsrfPage(await post(srv, '/signin', body(f1.form), { cookie: f1.cookie }), 'the cookie value as the field');
    assertCsrfPage(await post(srv, '/signin', body(f1.token), { cookie: f1.cookie, headers: { Origin: 'https://evil.example' } }), 'another origin');
    assertCsrfPage(await post(srv, '/signin', body(f1.token), { cookie: f1.cookie, headers: { 'Sec-Fetch-Site': 'cross-site' } }), 'cross-site');
    assertCsrfPage(await post(srv, '/signin', body(f1.token), { cookie: f1.cookie, headers: {} }), 'no Origin, no Sec-Fetch-Site');
    assertCsrfPage(await post(srv, '/signin/magic-link', { csrf: f2.token, email: a.email }, { cookie: f1.cookie }), 'magic link');
    assertCsrfPage(await post(srv, '/signup', { csrf: f2.token, email: uniqueEmail(), password: strongPassword() }, { cookie: f1.cookie }), 'sign-up');
    assertCsrfPage(await post(srv, '/signin/mfa', { csrf: 'x', code: '123456' }, { cookie: f1.cookie }), 'mfa');
    assert.equal(signins(srv, a.user.id), before, 'no sign-in happened');
    const ok = await post(srv, '/signin', body(f1.token), { cookie: f1.cookie });
    assert.equal(ok.status, 303, 'the same form with its own cookie works');
    assert.match(srv.stderr(), /form token check failed \(the form's csrf field\)/);
    const m = await api(srv.url, 'GET', '/metrics');
    assert.ok(Number(/gatehouse_csrf_failed_total (\d+)/.exec(m.text)[1]) >= 12);
  });

  test('sign-in: 303 to /account or the checked rd with the session cookies; a hostile rd is dropped', async () => {
    const a = await signup(srv);
    const f = await formOf(srv, '/signin');
    const r = await post(srv, '/signin', { csrf: f.token, email: a.email, password: a.password, rd: '' }, { cookie: f.cookie });
    assert.equal(r.status, 303, r.text);
    assert.equal(r.headers.location, `${PUBLIC}/account`);
    const c = cookiesOf(r);
    assert.ok(c[SESSION]?.attrs.includes('HttpOnly'), 'the session cookie');
    assert.ok(c['__Host-gh_csrf'], 'its CSRF cookie');
    assert.equal(signins(srv, a.user.id), 1, 'signin.success audited as on the API');

    const g = await formOf(srv, '/signin?rd=%2Fapp%2Fpage%3Fx%3D1', f.cookie);
    assert.match(g.res.text, new RegExp(`name="rd" value="${PUBLIC}/app/page\\?x=1"`));
    assert.ok(g.res.text.includes('/signup?rd=https%3A%2F%2Fauth.example.test%2Fapp%2Fpage%3Fx%3D1'), 'the sign-up link keeps rd');
    const r2 = await post(srv, '/signin', { csrf: g.token, email: a.email, password: a.password, rd: `${PUBLIC}/app/page?x=1` }, { cookie: f.cookie });
    assert.equal(r2.headers.location, `${PUBLIC}/app/page?x=1`);

    const long = `${PUBLIC}/${'a'.repeat(1100)}`;
    const lr = await post(srv, '/signin', { csrf: f.token, email: a.email, password: a.password, rd: long }, { cookie: f.cookie });
    assert.equal(lr.status, 303, 'an rd too long for a Location header is dropped, not a 500');
    assert.equal(lr.headers.location, `${PUBLIC}/account`);

    for (const evil of ['https://evil.example/x', '//evil.example', 'javascript:alert(1)', '/\\evil.example']) {
      const p = await req(srv, 'GET', `/signin?rd=${encodeURIComponent(evil)}`, { cookie: f.cookie });
      assert.equal(p.status, 200);
      assert.ok(!p.text.includes('evil.example') && !p.text.includes('javascript:'), `GET drops ${evil}`);
      const s = await post(srv, '/signin', { csrf: f.token, email: a.email, password: a.password, rd: evil }, { cookie: f.cookie });
      assert.equal(s.status, 303);
      assert.equal(s.headers.location, `${PUBLIC}/account`, `POST drops ${evil}`);
    }
  });

  test('wrong password and unknown email: the same 401 page and words; missing fields 422', async () => {
    const a = await signup(srv);
    const f = await formOf(srv, '/signin');
    const wrong = await post(srv, '/signin', { csrf: f.token, email: a.email, password: 'not-the-password-1', rd: '' }, { cookie: f.cookie });
    const unknown = await post(srv, '/signin', { csrf: f.token, email: uniqueEmail(), password: 'not-the-password-1', rd: '' }, { cookie: f.cookie });
    for (const r of [wrong, unknown]) {
      assert.equal(r.status, 401);
      assert.equal(alertOf(r.text), 'Incorrect email or password.');
      assert.match(r.text, /aria-invalid="true" aria-describedby="signin-error"/);
      assert.equal(cookiesOf(r)[SESSION], undefined);
      assert.ok(!r.text.includes('not-the-password-1'), 'the password is never shown again');
    }
    assert.equal(wrong.text.replace(a.email, 'E'), unknown.text.replace(/value="[^"]*@[^"]*"/, 'value="E"'));
    const missing = await post(srv, '/signin', { csrf: f.token, email: a.email, password: '', rd: '' }, { cookie: f.cookie });
    assert.equal(missing.status, 422);
    assert.equal(alertOf(missing.text), 'Enter your email and password.');
    const extra = await post(srv, '/signin', { csrf: f.token, email: a.email, password: 'x', mode: 'bearer' }, { cookie: f.cookie });
    assert.equal(extra.status, 422, 'an unknown field');
  });

  test('GET /signin?reset=done shows the notice', async () => {
    const r = await req(srv, 'GET', '/signin?reset=done');
    assert.match(r.text, /<p class="notice" role="status">Your password was changed. Sign in with the new one.<\/p>/);
    assert.ok(!(await req(srv, 'GET', '/signin?reset=x')).text.includes('class="notice"'));
  });

  test('second factor: 303 /signin/mfa with the mfa_token only in an HttpOnly cookie; a wrong code 401; a backup code signs in; the step is spent', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    const conf = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: await totpCode(b.json.secret) } });
    assert.equal(conf.status, 200, conf.text);
    const backup = conf.json.backup_codes;
    const f = await formOf(srv, '/signin?rd=%2Fapp');
    const s1 = await post(srv, '/signin', { csrf: f.token, email: a.email, password: a.password, rd: `${PUBLIC}/app` }, { cookie: f.cookie });
    assert.equal(s1.status, 303, s1.text);
    assert.equal(s1.headers.location, `${PUBLIC}/signin/mfa?rd=https%3A%2F%2Fauth.example.test%2Fapp`);
    assert.equal(cookiesOf(s1)[SESSION], undefined, 'not signed in yet');
    const m = cookiesOf(s1)[MFA];
    for (const x of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Max-Age=300', 'Path=/']) assert.ok(m.attrs.includes(x), `${x} in ${m.line}`);
    const cookie = `${f.cookie}; ${MFA}=${m.value}`;
    const page = await req(srv, 'GET', '/signin/mfa?rd=%2Fapp', { cookie });
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>Two-step verification<\/h1>/);
    assert.ok(page.text.includes('<label for="code">Authentication code</label>') && page.text.includes('>Verify</button>'));
    assert.ok(!page.text.includes(m.value), 'the mfa_token is never in the page');
    const token = csrfOf(page.text);
    const wrong = await post(srv, '/signin/mfa', { csrf: token, code: '000000', rd: `${PUBLIC}/app` }, { cookie });
    assert.equal(wrong.status, 401);
    assert.match(alertOf(wrong.text), /That code is not valid/);
    const ok = await post(srv, '/signin/mfa', { csrf: token, code: backup[0], rd: `${PUBLIC}/app` }, { cookie });
    assert.equal(ok.status, 303, ok.text);
    assert.equal(ok.headers.location, `${PUBLIC}/app`);
    assert.ok(cookiesOf(ok)[SESSION], 'signed in');
    assert.ok(cookiesOf(ok)[MFA].attrs.includes('Max-Age=0'), 'the mfa cookie is expired');
    const again = await post(srv, '/signin/mfa', { csrf: token, code: backup[1], rd: '' }, { cookie });
    assert.equal(again.status, 401, 'the step is spent');
    assert.match(alertOf(again.text), /expired or was already used/);
    assert.equal(liveSessions(srv, a.user.id), 2, 'the API sign-up session and this one');
    const none = await req(srv, 'GET', '/signin/mfa?rd=%2Fapp', { cookie: f.cookie });
    assert.equal(none.status, 303);
    assert.equal(none.headers.location, `${PUBLIC}/signin?rd=https%3A%2F%2Fauth.example.test%2Fapp`);
  });

  test('sign-up: 303 signed in; the address taken 409 (as the API); weak password and bad address 422; rd kept', async () => {
    const g = await formOf(srv, '/signup?rd=%2Fwelcome');
    assert.match(g.res.text, /<h1>Create your account<\/h1>/);
    assert.ok(g.res.text.includes('autocomplete="new-password"') && g.res.text.includes('>Create account</button>'));
    const email = uniqueEmail();
    const ok = await post(srv, '/signup', { csrf: g.token, email, password: strongPassword(), rd: `${PUBLIC}/welcome` }, { cookie: g.cookie });
    assert.equal(ok.status, 303, ok.text);
    assert.equal(ok.headers.location, `${PUBLIC}/welcome`);
    assert.ok(cookiesOf(ok)[SESSION]);
    const taken = await post(srv, '/signup', { csrf: g.token, email, password: strongPassword(), rd: '' }, { cookie: g.cookie });
    assert.equal(taken.status, 409);
    assert.match(alertOf(taken.text), /An account with this email already exists/);
    const weak = await post(srv, '/signup', { csrf: g.token, email: uniqueEmail(), password: 'password', rd: '' }, { cookie: g.cookie });
    assert.equal(weak.status, 422);
    assert.match(weak.text, /id="password-error"/);
    const bad = await post(srv, '/signup', { csrf: g.token, email: 'not an address', password: strongPassword(), rd: '' }, { cookie: g.cookie });
    assert.equal(bad.status, 422);
    assert.match(alertOf(bad.text), /valid email address/);
  });

  test('magic-link request: the same 303 /signin/check-email for a known and an unknown address; only the known one gets a link', async () => {
    const a = await signup(srv);
    const f = await formOf(srv, '/signin');
    const known = await post(srv, '/signin/magic-link', { csrf: f.token, email: a.email }, { cookie: f.cookie });
    const unknown = await post(srv, '/signin/magic-link', { csrf: f.token, email: uniqueEmail() }, { cookie: f.cookie });
    const invalid = await post(srv, '/signin/magic-link', { csrf: f.token, email: 'nope' }, { cookie: f.cookie });
    for (const r of [known, unknown, invalid]) {
      assert.equal(r.status, 303);
      assert.equal(r.headers.location, `${PUBLIC}/signin/check-email`);
      assert.equal(r.text, known.text);
    }
    const linkRows = () => count(srv, `SELECT COUNT(*) FROM magic_links WHERE email_key = '${a.email.toLowerCase()}';`);
    for (let i = 0; i < 50 && linkRows() === 0; i++) await sleep(100);
    assert.equal(linkRows(), 1, 'a link for the known address');
    const page = await req(srv, 'GET', '/signin/check-email');
    assert.match(page.text, /<h1>Check your email<\/h1>/);
    const empty = await post(srv, '/signin/magic-link', { csrf: f.token, email: '' }, { cookie: f.cookie });
    assert.equal(empty.status, 422);
    assert.match(empty.text, /id="magic-error"/);
  });
});

describe('sign-up with verification required', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_EMAIL_VERIFICATION: 'required' } }); });
  after(async () => { await srv?.stop(); });

  test('a new and a taken address both go to /signup/check-email (decision 0014); signing in unconfirmed says so', async () => {
    const g = await formOf(srv, '/signup');
    const email = uniqueEmail();
    const password = strongPassword();
    const first = await post(srv, '/signup', { csrf: g.token, email, password, rd: '' }, { cookie: g.cookie });
    const second = await post(srv, '/signup', { csrf: g.token, email, password: strongPassword(), rd: '' }, { cookie: g.cookie });
    for (const r of [first, second]) {
      assert.equal(r.status, 303);
      assert.equal(r.headers.location, `${PUBLIC}/signup/check-email`);
      assert.equal(cookiesOf(r)[SESSION], undefined);
    }
    assert.match((await req(srv, 'GET', '/signup/check-email')).text, /<h1>Check your email<\/h1>/);
    const f = await formOf(srv, '/signin');
    const s = await post(srv, '/signin', { csrf: f.token, email, password, rd: '' }, { cookie: f.cookie });
    assert.equal(s.status, 403);
    assert.match(alertOf(s.text), /Confirm your email address first/);
  });
});

describe('lockout on the page', () => {
  test('a locked address: the form again, 429 with Retry-After and the wait in words', async () => {
    const srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_LOCKOUT_THRESHOLD: '2', GATEHOUSE_LOCKOUT_MAX_DELAY: '600' } });
    try {
      const a = await signup(srv);
      const f = await formOf(srv, '/signin');
      const tryWith = (password) => post(srv, '/signin', { csrf: f.token, email: a.email, password, rd: '' }, { cookie: f.cookie });
      for (let i = 0; i < 2; i++) assert.equal((await tryWith('wrong password here')).status, 401);
      const r = await tryWith(a.password);
      assert.equal(r.status, 429, r.text);
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(alertOf(r.text), 'Too many failed attempts for this address. Try again in 1 second.');
      assert.match(r.text, /<form method="post" action="\/signin">/);
      assert.equal(cookiesOf(r)[SESSION], undefined);
    } finally { await srv.stop(); }
  });
});

describe('cookie mode', () => {
  test('unavailable (an http public URL off loopback): the page says so; a POST is refused', async () => {
    const srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: 'http://auth.example.test' } });
    try {
      const r = await req(srv, 'GET', '/signin');
      assert.equal(r.status, 400);
      assert.match(r.text, /Sign-in is not available here/);
      assert.match(r.text, /GATEHOUSE_PUBLIC_URL/);
      assert.ok(!r.text.includes('<form'), 'no form that cannot work');
      assert.equal(r.setCookie.length, 0);
      const p = await post(srv, '/signin', { csrf: 'x', email: 'a@b.example', password: 'x' }, { headers: { Origin: 'http://auth.example.test' } });
      assert.equal(p.status, 403);
    } finally { await srv.stop(); }
  });

  test('insecure development cookies on loopback http: gh_form and gh_session without Secure', async () => {
    const origin = 'http://127.0.0.1:1';
    const srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: origin, GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    try {
      const a = await signup(srv);
      const g = await req(srv, 'GET', '/signin');
      const form = cookiesOf(g).gh_form;
      assert.ok(form && !form.attrs.includes('Secure'), g.setCookie.join('\n'));
      const r = await post(srv, '/signin', { csrf: csrfOf(g.text), email: a.email, password: a.password, rd: '' },
        { cookie: `gh_form=${form.value}`, headers: { Origin: origin } });
      assert.equal(r.status, 303, r.text);
      assert.equal(r.headers.location, `${origin}/account`);
      assert.ok(cookiesOf(r).gh_session);
    } finally { await srv.stop(); }
  });
});

describe('the page CSP and a return URL on another host', () => {
  // Browsers hold the 303 after a form's POST to the page's form-action
  // too: a sign-in page whose rd is an app on another host names that
  // origin there, and nothing else.
  test('form-action names the checked rd origin only', async () => {
    const srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_COOKIE_DOMAIN: 'example.test' } });
    try {
      const csp = async (rd) => (await req(srv, 'GET', `/signin?rd=${encodeURIComponent(rd)}`)).headers['content-security-policy'];
      assert.match(await csp('https://app.example.test/reports?q=1'), /form-action 'self' https:\/\/app\.example\.test; frame-ancestors/);
      for (const rd of ['https://evil.test/', '/account', `${PUBLIC}/account`, 'https://app.example.test;script-src *']) {
        assert.match(await csp(rd), /form-action 'self'; frame-ancestors/, rd);
      }
      const st = await req(srv, 'GET', `/signout/done?rd=${encodeURIComponent('https://app.example.test/')}`);
      assert.match(st.headers['content-security-policy'], /form-action 'self'; /, 'a page that reads no rd adds nothing');
    } finally { await srv.stop(); }
  });
});
