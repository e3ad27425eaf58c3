// The pages emailed links land on (docs/api.md "Pages"): GET /magic-link,
// /reset-password and /verify-email show what the link will do and spend
// nothing (a mail scanner opening the link signs nobody in); only the
// page's one POST spends it, through the API's logic. Also the
// forgot-password pages. The links come from the development outbox (the
// .eml files mail is written to without SMTP). Cookies: loopback http
// with GATEHOUSE_INSECURE_DEV_COOKIES=on (gh_session / gh_csrf).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, sql, sleep, uniqueEmail, sha256Hex, markVerified, errorsFromLog, hexOf,
} from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

const PURPOSE_PATH = { signin: 'magic-link', reset: 'reset-password', verify: 'verify-email' };

/** Every link in the outbox so far: [{ path, token, text }]. */
function outboxLinks(srv) {
  const dir = path.join(srv.dataDir, 'outbox');
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/\/(magic-link|reset-password|verify-email)\?token=([A-Za-z0-9_-]{43})/g)) {
      if (!out.some((l) => l.token === m[2])) out.push({ path: m[1], token: m[2], text });
    }
  }
  return out;
}

/** Waits for a new link of purpose for email (one not in seen). */
async function nextLink(srv, purpose, email, seen = new Set()) {
  const end = Date.now() + 8000;
  for (;;) {
    const l = outboxLinks(srv).find((x) => x.path === PURPOSE_PATH[purpose] && x.text.includes(email) && !seen.has(x.token));
    if (l) { seen.add(l.token); return l.token; }
    if (Date.now() > end) throw new Error(`no ${purpose} link for ${email} in the outbox`);
    await sleep(100);
  }
}

/** The cookies a reply set, as a Cookie header added to jar (a string). */
function withCookies(jar, res) {
  const c = cookiesOf(res);
  const m = new Map((jar ? jar.split('; ') : []).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  for (const [k, v] of Object.entries(c)) {
    if (v.value === '' || v.attrs.includes('Max-Age=0')) m.delete(k); else m.set(k, v.value);
  }
  return [...m].map(([k, v]) => `${k}=${v}`).join('; ');
}

const hidden = (html, name) => new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1];
const h1 = (html) => /<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1];
const EXPIRED_H1 = 'This link has expired or was already used';

/** GET a link's page like a browser; { res, cookie, csrf, token }. */
async function openPage(srv, p, cookie = '') {
  const res = await req(srv, 'GET', p, { cookie: cookie || undefined });
  return { res, cookie: withCookies(cookie, res), csrf: hidden(res.text, 'csrf'), token: hidden(res.text, 'token') };
}

/** POST the page's form like a browser (same origin). */
function submit(srv, p, page, fields = {}) {
  const form = { csrf: page.csrf ?? '', ...fields };
  return req(srv, 'POST', p, { form, cookie: page.cookie || undefined, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' } });
}

const linkRow = (srv, token) => sql(srv.dbPath, `SELECT purpose, used_at IS NOT NULL FROM magic_links WHERE ${hexOf('token_hash')} = '${sha256Hex(token).toUpperCase()}';`).trim();
const liveSessions = (srv, uid) => Number(sql(srv.dbPath, `SELECT COUNT(*) FROM sessions WHERE user_id = '${uid}' AND revoked_at IS NULL;`).trim());
const requestLines = (srv) => srv.stderrLines().filter((l) => l.startsWith('{') && l.includes('"route"'));

/** The logged errors of route once the log has them (it is written when
 *  the loop is idle): waits until pred holds or 3 s pass. */
async function loggedErrors(srv, route, pred) {
  const end = Date.now() + 3000;
  for (;;) {
    const errs = errorsFromLog(srv.stderr()).filter((e) => e.route === route);
    if (pred(errs) || Date.now() > end) return errs;
    await sleep(50);
  }
}

function assertExpiredPage(res, code, what) {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers['content-type'], /^text\/html/, what);
  assert.equal(h1(res.text), EXPIRED_H1, what);
  assert.equal(res.setCookie.filter((c) => c.startsWith('gh_session=') && !c.startsWith('gh_session=;')).length, 0, `${what}: no session`);
}

describe('link pages', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } }); });
  after(async () => { await srv?.stop(); });

  test('GET /magic-link spends nothing: twice, then the POST signs in by cookie; a second POST shows the expired page', async () => {
    const a = await signup(srv);
    const sessions0 = liveSessions(srv, a.user.id);
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
    const token = await nextLink(srv, 'signin', a.email);
    const p = `/magic-link?token=${token}`;
    const g1 = await openPage(srv, p);
    const g2 = await openPage(srv, p, g1.cookie);
    for (const g of [g1, g2]) {
      assert.equal(g.res.status, 200, g.res.text);
      assert.equal(h1(g.res.text), `Sign in as ${a.email}?`);
      assert.match(g.res.text, /<button type="submit">Sign in<\/button>/);
      assert.equal(g.token, token);
      assert.equal(g.res.headers['referrer-policy'], 'same-origin', 'the token in the URL reaches no other site');
      assert.equal(g.res.headers['cache-control'], 'no-store');
      assert.ok(!g.res.setCookie.some((c) => c.startsWith('gh_session=')), 'a GET signs nobody in');
    }
    assert.equal(linkRow(srv, token), 'signin|0', 'the link is unspent after two GETs');
    assert.equal(liveSessions(srv, a.user.id), sessions0, 'no session made by a GET');
    // the token never reaches the request log (the route is logged, never the query)
    const end = Date.now() + 3000;
    while (requestLines(srv).filter((l) => l.includes('"/magic-link"')).length < 2 && Date.now() < end) await sleep(50);
    assert.ok(requestLines(srv).filter((l) => l.includes('"/magic-link"')).length >= 2);
    for (const l of requestLines(srv)) assert.ok(!l.includes(token), `logged: ${l}`);

    const post = await submit(srv, '/magic-link', g2, { token });
    assert.equal(post.status, 303, post.text);
    assert.equal(post.headers.location, `${srv.url}/account`);
    const c = cookiesOf(post);
    assert.ok(c.gh_session?.value && c.gh_csrf?.value, 'cookie mode: session and CSRF cookies');
    const me = await req(srv, 'GET', '/v1/me', { cookie: `gh_session=${c.gh_session.value}` });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.email, a.email);
    assert.equal(linkRow(srv, token), 'signin|1');
    assert.match(sql(srv.dbPath, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.success' ORDER BY id DESC LIMIT 1;`), /magic_link/,
      'the same audit row as POST /v1/magic-link/verify');

    const again = await submit(srv, '/magic-link', g2, { token });
    assertExpiredPage(again, 'invalid_token', 'the same link again');
    assert.match(again.text, /href="\/signin"/, 'what to do next: sign in or ask again');
    const reopened = await openPage(srv, p);
    assertExpiredPage(reopened.res, 'invalid_token', 'a GET of a used link');
    for (const l of requestLines(srv)) assert.ok(!l.includes(token), `logged: ${l}`);
    const errs = await loggedErrors(srv, '/magic-link', (es) => es.some((e) => e.method === 'get') && es.some((e) => e.method === 'post'));
    assert.ok(errs.some((e) => e.method === 'get' && e.error === 'invalid_token'), JSON.stringify(errs));
    assert.ok(errs.some((e) => e.method === 'post' && e.error === 'invalid_token'), JSON.stringify(errs));
  });

  test('an expired link: the GET and the POST show the expired page (token_expired), nobody signed in', async () => {
    const a = await signup(srv);
    await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    const token = await nextLink(srv, 'signin', a.email);
    const g = await openPage(srv, `/magic-link?token=${token}`);
    assert.equal(g.res.status, 200);
    sql(srv.dbPath, `UPDATE magic_links SET expires_at = 1 WHERE ${hexOf('token_hash')} = '${sha256Hex(token).toUpperCase()}';`);
    const g2 = await openPage(srv, `/magic-link?token=${token}`, g.cookie);
    assertExpiredPage(g2.res, 'token_expired', 'expired GET');
    assert.match(g2.res.text, /works once, and for \d+ minutes/);
    const sessions0 = liveSessions(srv, a.user.id);
    assertExpiredPage(await submit(srv, '/magic-link', g, { token }), 'token_expired', 'expired POST');
    assert.equal(liveSessions(srv, a.user.id), sessions0);
    const errs = (await loggedErrors(srv, '/magic-link', (es) => es.filter((e) => e.error === 'token_expired').length >= 2)).filter((e) => e.error === 'token_expired');
    assert.deepEqual([...new Set(errs.map((e) => e.method))].sort(), ['get', 'post']);
  });

  test('a reset link on /magic-link is the wrong purpose: the expired page, and the reset link still works', async () => {
    const a = await signup(srv);
    const f = await openPage(srv, '/forgot-password');
    assert.equal(f.res.status, 200, f.res.text);
    assert.equal((await submit(srv, '/forgot-password', f, { email: a.email })).status, 303);
    const token = await nextLink(srv, 'reset', a.email);
    assertExpiredPage((await openPage(srv, `/magic-link?token=${token}`)).res, 'invalid_token', 'GET');
    const g = await openPage(srv, `/reset-password?token=${token}`);
    assert.equal(g.res.status, 200);
    assertExpiredPage(await submit(srv, '/magic-link', g, { token }), 'invalid_token', 'POST');
    assert.equal(linkRow(srv, token), 'reset|0', 'not spent by the wrong page');
    const g2 = await openPage(srv, `/reset-password?token=${token}`, g.cookie);
    assert.equal(g2.res.status, 200, 'still usable where it belongs');
  });

  test('the form token is required: without it, or from another origin, 403 and the link stays unspent', async () => {
    const a = await signup(srv);
    await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    const token = await nextLink(srv, 'signin', a.email);
    const g = await openPage(srv, `/magic-link?token=${token}`);
    assert.match(g.cookie, /gh_form=/, 'the GET set the form cookie');
    assert.ok(g.csrf && g.csrf.length === 43, 'and put its field in the form');
    const cases = [
      ['no cookie', { ...g, cookie: '' }, {}],
      ['no field', { ...g, csrf: '' }, {}],
      ['another field', { ...g, csrf: 'A'.repeat(43) }, {}],
    ];
    for (const [what, page] of cases) {
      const r = await submit(srv, '/magic-link', page, { token });
      assert.equal(r.status, 403, `${what}: ${r.text.slice(0, 200)}`);
      assert.match(r.headers['content-type'], /^text\/html/);
    }
    const cross = await req(srv, 'POST', '/magic-link', { form: { csrf: g.csrf, token }, cookie: g.cookie, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(cross.status, 403, 'another origin');
    assert.equal(linkRow(srv, token), 'signin|0', 'nothing spent');
    const errs = await loggedErrors(srv, '/magic-link', (es) => es.filter((e) => e.error === 'csrf_failed').length >= 4);
    assert.ok(errs.filter((e) => e.error === 'csrf_failed').length >= 4);
    assert.equal((await submit(srv, '/magic-link', g, { token })).status, 303, 'the real form still works');
  });

  test('hostile token values get a clean 4xx page and are never echoed', async () => {
    const bad = ['', '%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'x'.repeat(43), 'a'.repeat(42) + '%22', '%ZZ', 'A'.repeat(600), '%00' + 'a'.repeat(42)];
    for (const t of bad) {
      for (const p of ['magic-link', 'reset-password', 'verify-email']) {
        const r = await req(srv, 'GET', `/${p}?token=${t}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} ${t.slice(0, 20)}: ${r.status}`);
        assert.match(r.headers['content-type'], /^text\/html/);
        assert.ok(!r.text.includes('<script>') && !r.text.includes('alert(1)'), 'not echoed');
        if (r.status === 401) assert.equal(h1(r.text), EXPIRED_H1);
      }
    }
    const noQuery = await req(srv, 'GET', '/magic-link');
    assertExpiredPage(noQuery, 'invalid_token', 'no token at all');
    const twice = await req(srv, 'GET', `/magic-link?token=${'a'.repeat(43)}&token=${'b'.repeat(43)}`);
    assertExpiredPage(twice, 'invalid_token', 'a repeated token');
    const g = await openPage(srv, '/forgot-password');
    for (const t of ['a'.repeat(3000), '<b>', 'é'.repeat(43)]) {
      const r = await submit(srv, '/magic-link', g, { token: t });
      assertExpiredPage(r, 'invalid_token', `POST ${t.slice(0, 10)}`);
      assert.ok(!r.text.includes('<b>'));
    }
    const raw = await req(srv, 'POST', '/magic-link', { form: `csrf=${g.csrf}&token=%FF%FE`, cookie: g.cookie || undefined, headers: { Origin: srv.url } });
    assert.ok(raw.status >= 400 && raw.status < 500, `not UTF-8: ${raw.status}`);
    const extra = await submit(srv, '/magic-link', g, { token: 'a'.repeat(43), mode: 'bearer' });
    assert.equal(extra.status, 422, 'an unknown field is refused');
  });
});

describe('reset and forgot-password pages', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } }); });
  after(async () => { await srv?.stop(); });

  test('forgot-password: the same 303 for known and unknown addresses; only the known one gets mail', async () => {
    const a = await signup(srv);
    const f = await openPage(srv, '/forgot-password');
    assert.equal(f.res.status, 200);
    assert.match(f.res.text, /<label for="email">Email<\/label>/);
    assert.match(f.res.text, /autocomplete="email"/);
    assert.match(f.res.text, /<button type="submit">Send reset link<\/button>/);
    const known = await submit(srv, '/forgot-password', f, { email: a.email });
    const unknown = await submit(srv, '/forgot-password', f, { email: uniqueEmail() });
    const invalid = await submit(srv, '/forgot-password', f, { email: 'not an address' });
    for (const r of [known, unknown, invalid]) {
      assert.equal(r.status, 303, r.text);
      assert.equal(r.headers.location, `${srv.url}/forgot-password/sent`);
    }
    const sent = await req(srv, 'GET', '/forgot-password/sent');
    assert.equal(sent.status, 200);
    assert.equal(h1(sent.text), 'Check your email');
    await nextLink(srv, 'reset', a.email);
    await sleep(1000);
    assert.equal(outboxLinks(srv).filter((l) => l.path === 'reset-password').length, 1, 'no mail for the unknown address');
    const empty = await submit(srv, '/forgot-password', f, { email: '' });
    assert.equal(empty.status, 422);
    assert.match(empty.text, /role="alert" id="email-error"/);
    assert.match(empty.text, /aria-invalid="true" aria-describedby="email-error"/);
  });

  test('reset-password: a weak password shows the reasons (422) and keeps the link; a good one sets it, revokes sessions, 303 /signin?reset=done', async () => {
    const a = await signup(srv);
    const f = await openPage(srv, '/forgot-password');
    await submit(srv, '/forgot-password', f, { email: a.email });
    const token = await nextLink(srv, 'reset', a.email);
    const g = await openPage(srv, `/reset-password?token=${token}`);
    assert.equal(g.res.status, 200, g.res.text);
    assert.equal(h1(g.res.text), 'Choose a new password');
    assert.match(g.res.text, /<label for="new-password">New password<\/label>/);
    assert.match(g.res.text, /autocomplete="new-password"/);
    assert.match(g.res.text, /<button type="submit">Set password<\/button>/);
    assert.equal(linkRow(srv, token), 'reset|0');
    const weak = await submit(srv, '/reset-password', g, { token, new_password: 'password1234' });
    assert.equal(weak.status, 422, weak.text);
    assert.match(weak.text, /<p class="alert" role="alert" id="password-error">[^<]+<\/p>/);
    assert.match(weak.text, /aria-invalid="true"/);
    assert.equal(hidden(weak.text, 'token'), token, 'the form again, with the same link');
    assert.ok(!weak.text.includes('password1234'), 'the password is never shown back');
    assert.equal(linkRow(srv, token), 'reset|0', 'a refused password does not spend the link');
    const newPw = 'a brand new long passphrase 77';
    const ok = await submit(srv, '/reset-password', { ...g, csrf: hidden(weak.text, 'csrf') ?? g.csrf, cookie: withCookies(g.cookie, weak) }, { token, new_password: newPw });
    assert.equal(ok.status, 303, ok.text);
    assert.equal(ok.headers.location, `${srv.url}/signin?reset=done`);
    const landed = await req(srv, 'GET', '/signin?reset=done');
    assert.match(landed.text, /Your password was changed/, 'the sign-in page says so');
    assert.ok(!ok.setCookie.some((c) => c.startsWith('gh_session=') && !c.startsWith('gh_session=;')), 'a reset signs nobody in');
    assert.equal(liveSessions(srv, a.user.id), 0, 'every session revoked');
    assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } })).status, 200);
    assert.equal(Number(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'password.reset';`).trim()), 1);
    assertExpiredPage(await submit(srv, '/reset-password', g, { token, new_password: 'yet another long passphrase 9' }), 'invalid_token', 'used');
    assertExpiredPage((await openPage(srv, `/reset-password?token=${token}`)).res, 'invalid_token', 'GET used');
    assert.match((await openPage(srv, `/reset-password?token=${token}`)).res.text, /href="\/forgot-password"/);
  });
});

describe('verify-email pages', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } }); });
  after(async () => { await srv?.stop(); });

  const verified = (uid) => sql(srv.dbPath, `SELECT email_verified_at IS NOT NULL FROM users WHERE id = '${uid}';`).trim();

  test('without a session: GET shows the address and spends nothing; POST confirms, 303 /verify-email/done', async () => {
    const a = await signup(srv);
    assert.equal((await api(srv.url, 'POST', '/v1/email/verify/resend', { token: a.access })).status, 202);
    const token = await nextLink(srv, 'verify', a.email);
    const g = await openPage(srv, `/verify-email?token=${token}`);
    await openPage(srv, `/verify-email?token=${token}`);
    assert.equal(g.res.status, 200, g.res.text);
    assert.equal(h1(g.res.text), 'Confirm your email address');
    assert.ok(g.res.text.includes(a.email));
    assert.match(g.res.text, /<button type="submit">Confirm<\/button>/);
    assert.equal(verified(a.user.id), '0', 'a GET confirms nothing');
    assert.equal(linkRow(srv, token), 'verify|0');
    const post = await submit(srv, '/verify-email', g, { token });
    assert.equal(post.status, 303, post.text);
    assert.equal(post.headers.location, `${srv.url}/verify-email/done`);
    assert.equal(verified(a.user.id), '1');
    const done = await req(srv, 'GET', '/verify-email/done');
    assert.equal(done.status, 200);
    assert.equal(h1(done.text), 'Your email address is confirmed');
    assert.match(done.text, /href="\/signin"/);
    assertExpiredPage(await submit(srv, '/verify-email', g, { token }), 'invalid_token', 'again');
  });

  test('signed in to that account in this browser: 303 /account?verified=1', async () => {
    const a = await signup(srv);
    const s = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: { Origin: srv.url } });
    assert.equal(s.status, 200, s.text);
    const session = withCookies('', s);
    await api(srv.url, 'POST', '/v1/email/verify/resend', { token: a.access });
    const token = await nextLink(srv, 'verify', a.email);
    const g = await openPage(srv, `/verify-email?token=${token}`, session);
    const post = await submit(srv, '/verify-email', g, { token });
    assert.equal(post.status, 303, post.text);
    assert.equal(post.headers.location, `${srv.url}/account?verified=1`);
    assert.equal(verified(a.user.id), '1');
    // signed in as somebody else: the done page, not their account
    const b = await signup(srv);
    await api(srv.url, 'POST', '/v1/email/verify/resend', { token: b.access });
    const tb = await nextLink(srv, 'verify', b.email);
    const gb = await openPage(srv, `/verify-email?token=${tb}`, session);
    const pb = await submit(srv, '/verify-email', gb, { token: tb });
    assert.equal(pb.headers.location, `${srv.url}/verify-email/done`);
  });
});

describe('magic link of an account with a second factor', () => {
  test('the POST spends the link and goes on to /signin/mfa (the mfa cookie); the code signs in', async () => {
    const srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    try {
      const a = await signup(srv);
      markVerified(srv, a.user.id);
      const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
      const code = execFileSync('oathtool', ['--totp', '-b', b.json.secret], { encoding: 'utf8' }).trim();
      assert.equal((await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code } })).status, 200);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const token = await nextLink(srv, 'signin', a.email);
      const g = await openPage(srv, `/magic-link?token=${token}`);
      assert.equal(g.res.status, 200);
      const post = await submit(srv, '/magic-link', g, { token });
      assert.ok(!post.setCookie.some((c) => c.startsWith('gh_session=') && !c.startsWith('gh_session=;')), 'no session before the code');
      assert.equal(linkRow(srv, token), 'signin|1');
      assert.equal(post.status, 303, post.text);
      assert.equal(post.headers.location, `${srv.url}/signin/mfa`);
      assert.ok(!post.text.includes(token));
      const mfa = cookiesOf(post).gh_mfa;
      assert.ok(mfa?.value, 'the sign-in step waits in the mfa cookie');
      assert.ok(mfa.attrs.includes('HttpOnly'));
      // the second step of the page sign-in finishes it
      const step = await openPage(srv, '/signin/mfa', withCookies(g.cookie, post));
      assert.equal(step.res.status, 200, step.res.text);
      const next = execFileSync('oathtool', ['--totp', '-b', b.json.secret, '-N', `@${Math.floor(Date.now() / 1000) + 30}`], { encoding: 'utf8' }).trim();
      const done = await submit(srv, '/signin/mfa', step, { code: next });
      assert.equal(done.status, 303, done.text);
      assert.equal(done.headers.location, `${srv.url}/account`);
      assert.ok(cookiesOf(done).gh_session?.value, 'signed in after the code');
      assert.match(sql(srv.dbPath, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.success' ORDER BY id DESC LIMIT 1;`),
        /"method":"magic_link\+totp"/);
    } finally {
      await srv.stop();
    }
  });
});

describe('budgets', () => {
  test('the GET of a link page spends link_ip, shared with its POST and the API route; past it, a 429 page (and the life of a link in words)', async () => {
    const srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on', GATEHOUSE_LIMIT_LINK_IP: '4/900', GATEHOUSE_MAGIC_LINK_TTL: '3600' } });
    try {
      const t = 'a'.repeat(43);
      const g = await req(srv, 'GET', `/magic-link?token=${t}`);
      assert.match(g.headers['ratelimit-policy'], /"link_ip";q=4;w=900/);
      assert.match(g.headers.ratelimit, /"link_ip";r=3;/);
      assert.match(g.text, /works once, and for 1 hour\./, 'the life in words');
      assert.equal((await req(srv, 'GET', `/verify-email?token=${t}`)).status, 401);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: t } })).status, 401);
      assert.equal((await req(srv, 'GET', `/reset-password?token=${t}`)).status, 401);
      const over = await req(srv, 'GET', `/magic-link?token=${t}`);
      assert.equal(over.status, 429);
      assert.match(over.headers['content-type'], /^text\/html/);
      assert.equal(h1(over.text), 'Too many attempts');
      assert.ok(Number(over.headers['retry-after']) > 0);
    } finally {
      await srv.stop();
    }
  });
});
