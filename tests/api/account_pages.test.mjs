// The signed-in account pages (docs/api.md "Pages": /account,
// /account/totp..., /account/backup-codes, /account/sessions...) and POST
// /v1/sessions/revoke-others. Each page calls its JSON twin's logic: the
// tests check the page and what changed in the database, the CSRF field
// and Origin rules, and that a refused POST changes nothing. TOTP codes
// come from oathtool, as a person's app would compute them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, api, sql, assertError, markVerified, uniqueEmail, strongPassword, sleep, hexOf, groupConcat } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';

const HTML_TYPE = 'text/html; charset=utf-8';

/** A page: HTML, the page CSP, no-store, no inline script or style. */
function assertPage(res, status, what = '') {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 600)}`);
  assert.equal(res.headers['content-type'], HTML_TYPE, what);
  assert.match(res.headers['content-security-policy'], /default-src 'none'; style-src 'self'; img-src 'self' data:/, what);
  assert.match(res.headers['cache-control'], /no-store/, what);
  assert.match(res.text, /^<!doctype html>\n<html lang="en">/, what);
  assert.ok(!/<script|\sstyle=|\son[a-z]+=/i.test(res.text), `${what}: no inline script or style`);
  assert.equal((res.text.match(/<h1>/g) || []).length, 1, `${what}: one h1`);
}

/** The value of the hidden input called name. */
function hidden(html, name) {
  const m = html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`));
  assert.ok(m, `hidden ${name}`);
  return m[1];
}

const oathtool = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
const auditRows = (srv, action, uid) => sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = '${action}' AND target = '${uid}' ORDER BY id;`).split('\n').filter(Boolean);
const live = (srv, sid) => sql(srv.dbPath, `SELECT revoked_at IS NULL FROM sessions WHERE id = '${sid}';`).trim() === '1';

describe('account pages', () => {
  let srv, SAME;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    SAME = { Origin: srv.url };
  });
  after(async () => { await srv?.stop(); });

  const sidOf = (s) => sql(srv.dbPath, `SELECT session_id FROM refresh_tokens WHERE ${hexOf('token_hash')} = upper('${crypto.createHash('sha256').update(s.session).digest('hex')}');`).trim();

  /** Signs up by cookie: { email, password, uid, session, csrf, cookie, sid }. */
  async function cookieSignup(email = uniqueEmail()) {
    const password = strongPassword();
    const r = await req(srv, 'POST', '/v1/signup', { json: { email, password, mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 201, r.text);
    const c = cookiesOf(r);
    const s = { email, password, uid: r.json.user.id, session: c.gh_session.value, csrf: c.gh_csrf.value };
    s.cookie = `gh_session=${s.session}; gh_csrf=${s.csrf}`;
    s.sid = sidOf(s);
    return s;
  }
  /** Another cookie session of u (a second device); with code when it has TOTP. */
  async function cookieSignin(u, code) {
    const r = await req(srv, 'POST', '/v1/signin', { json: { email: u.email, password: u.password, mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 200, r.text);
    let res = r;
    if (r.json.mfa_required) {
      res = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: r.json.mfa_token, code, mode: 'cookie' }, headers: SAME });
      assert.equal(res.status, 200, res.text);
    }
    const c = cookiesOf(res);
    const s = { session: c.gh_session.value, csrf: c.gh_csrf.value };
    s.cookie = `gh_session=${s.session}; gh_csrf=${s.csrf}`;
    s.sid = sidOf(s);
    return s;
  }
  const get = (s, p) => req(srv, 'GET', p, { cookie: s.cookie });
  const post = (s, p, form = {}, headers = SAME) => req(srv, 'POST', p, { form: { csrf: s.csrf, ...form }, cookie: s.cookie, headers });
  const loc = (res) => new URL(res.headers.location).pathname + new URL(res.headers.location).search;

  test('not signed in: every page is a 401 page with a way to sign in; nothing runs', async () => {
    for (const p of ['/account', '/account/totp', '/account/totp/confirm', '/account/sessions']) {
      const r = await req(srv, 'GET', p);
      assertPage(r, 401, p);
      assert.match(r.text, /You are not signed in/);
    }
    for (const p of ['/account/password', '/account/totp/start', '/account/sessions/revoke-others']) {
      assertPage(await req(srv, 'POST', p, { form: { csrf: 'x' }, headers: SAME }), 401, p);
    }
  });

  test('/account: the email (escaped), confirmed or not with the resend button, the sections, fixed notices', async () => {
    const u = await cookieSignup(`o'hara+${crypto.randomBytes(4).toString('hex')}@example.com`);
    const r = await get(u, '/account');
    assertPage(r, 200, '/account');
    assert.match(r.text, /<h1>Your account<\/h1>/);
    assert.ok(r.text.includes(u.email.replace("'", '&#39;')), 'the email, escaped');
    assert.ok(!r.text.includes(u.email), 'never raw');
    for (const h of ['Email', 'Password', 'Two-step verification', 'Sessions']) assert.match(r.text, new RegExp(`<h2 id="[a-z]+-heading">${h}</h2>`), h);
    assert.match(r.text, /<span class="tag">Not confirmed<\/span>/);
    assert.match(r.text, /action="\/account\/resend-confirmation"[\s\S]*?<button type="submit" class="secondary">Send confirmation email<\/button>/);
    assert.match(r.text, /<a href="\/account\/email">Change email<\/a>/);
    assert.match(r.text, /<label for="current-password">Current password<\/label>/);
    assert.match(r.text, /<label for="new-password">New password<\/label>/);
    assert.match(r.text, /<button type="submit">Change password<\/button>/);
    assert.match(r.text, /<a class="button" href="\/account\/totp">Set up authenticator app<\/a>/);
    assert.match(r.text, /<a href="\/account\/sessions">Sessions and devices<\/a>/);
    assert.match(r.text, /<a href="\/signout">Sign out<\/a>/);
    assert.equal(hidden(r.text, 'csrf'), u.csrf);
    assert.ok(!/role="status"/.test(r.text), 'no notice without a key');

    const n = await get(u, '/account?password=changed');
    assert.match(n.text, /<p class="notice" role="status">Your password was changed\. Your other sessions were signed out\.<\/p>/);
    const odd = await get(u, `/account?password=${encodeURIComponent('<script>x</script>')}&verified=%3Cb%3E`);
    assertPage(odd, 200, 'odd query');
    assert.ok(!/role="status"/.test(odd.text) && !odd.text.includes('script>x'), 'the query is never echoed');

    // the resend button: the logic of POST /v1/email/verify/resend (mail queued)
    // (mail is queued after the reply: wait for the sign-up's own first)
    const mails = () => Number(sql(srv.dbPath, `SELECT COUNT(*) FROM mail_queue WHERE to_addr = '${u.email.replace("'", "''")}';`));
    await sleep(500);
    const before = mails();
    const s = await post(u, '/account/resend-confirmation');
    assert.equal(s.status, 303, s.text);
    assert.equal(loc(s), '/account?confirmation=sent');
    for (let i = 0; i < 50 && mails() === before; i++) await sleep(100);
    assert.equal(mails(), before + 1, 'one more confirmation mail');

    // an account that signs in by email links only ("!" for a password)
    const h = sql(srv.dbPath, `SELECT password_hash FROM users WHERE id = '${u.uid}';`).trim();
    sql(srv.dbPath, `UPDATE users SET password_hash = '!' WHERE id = '${u.uid}';`);
    const np = await get(u, '/account');
    assert.match(np.text, /Your account has no password/);
    assert.match(np.text, /<a href="\/forgot-password">Set a password<\/a>/);
    assert.ok(!np.text.includes('id="current-password"'));
    sql(srv.dbPath, `UPDATE users SET password_hash = '${h}' WHERE id = '${u.uid}';`);

    markVerified(srv, u.uid);
    const v = await get(u, '/account?verified=1');
    assert.match(v.text, /<span class="tag">Confirmed<\/span>/);
    assert.match(v.text, /Your email address is confirmed\./);
    assert.ok(!v.text.includes('Send confirmation email'));
  });

  test('CSRF field and Origin: a POST without them is a 403 page and changes nothing', async () => {
    const u = await cookieSignup();
    const form = { current_password: u.password, new_password: strongPassword() };
    const cases = [
      ['no csrf field', { ...form }, SAME],
      ['wrong token', { ...form, csrf: 'A'.repeat(43) }, SAME],
      ['the header instead of the field', { ...form }, { ...SAME, 'X-CSRF-Token': u.csrf }],
      ['foreign Origin', { ...form, csrf: u.csrf }, { Origin: 'https://evil.example' }],
      ['cross-site', { ...form, csrf: u.csrf }, { 'Sec-Fetch-Site': 'cross-site' }],
      ['neither Origin nor Sec-Fetch-Site', { ...form, csrf: u.csrf }, {}],
    ];
    const hash = () => sql(srv.dbPath, `SELECT password_hash FROM users WHERE id = '${u.uid}';`);
    const h0 = hash();
    for (const [what, f, headers] of cases) {
      const r = await req(srv, 'POST', '/account/password', { form: f, cookie: u.cookie, headers });
      assertPage(r, 403, what);
      assert.match(r.text, /Please try again/, what);
    }
    for (const p of ['/account/totp/start', '/account/sessions/revoke-others', '/account/sessions/revoke']) {
      assertPage(await req(srv, 'POST', p, { form: { id: u.sid }, cookie: u.cookie, headers: SAME }), 403, p);
    }
    assert.equal(hash(), h0, 'the password did not change');
    assert.ok(live(srv, u.sid));
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM mfa_totp WHERE user_id = '${u.uid}';`), '0');
  });

  test('password: wrong (403) and weak (422) shown on the form; a change is 303 and signs out the other sessions', async () => {
    const u = await cookieSignup();
    const other = await cookieSignin(u);
    const wrong = await post(u, '/account/password', { current_password: 'not-it-' + strongPassword(), new_password: strongPassword() });
    assertPage(wrong, 403, 'wrong current password');
    assert.match(wrong.text, /<p class="alert" role="alert" id="password-error">Your current password is not right\.<\/p>/);
    assert.match(wrong.text, /id="current-password"[^>]*aria-invalid="true" aria-describedby="password-error"/);
    assert.ok(!wrong.text.includes(u.password), 'a password is never shown');
    const weak = await post(u, '/account/password', { current_password: u.password, new_password: 'password' });
    assertPage(weak, 422, 'weak');
    assert.match(weak.text, /id="password-error"/);
    assert.match(weak.text, /id="new-password"[^>]*aria-invalid="true"/);
    const empty = await post(u, '/account/password', { current_password: '', new_password: '' });
    assertPage(empty, 422, 'empty');
    assert.ok(live(srv, other.sid), 'nothing changed yet');

    const next = strongPassword();
    const ok = await post(u, '/account/password', { current_password: u.password, new_password: next });
    assert.equal(ok.status, 303, ok.text);
    assert.equal(loc(ok), '/account?password=changed');
    assert.ok(!live(srv, other.sid), 'the other session ended');
    assertPage(await get(other, '/account'), 401, 'the other device is signed out');
    assertPage(await get(u, '/account'), 200, 'this one stays');
    assert.equal(auditRows(srv, 'password.changed', u.uid).length, 1);
    const si = await api(srv.url, 'POST', '/v1/signin', { json: { email: u.email, password: next } });
    assert.equal(si.status, 200, 'the new password works');
  });

  test('TOTP: refused until the address is confirmed; GET changes nothing; set up, QR and key, code from oathtool, backup codes once', async () => {
    const u = await cookieSignup();
    const un = await get(u, '/account/totp');
    assertPage(un, 200, 'unverified');
    assert.match(un.text, /<h1>Set up your authenticator app<\/h1>/);
    assert.match(un.text, /role="alert" id="totp-error">Confirm your email address first/);
    assert.match(un.text, /Send confirmation email/);
    const refused = await post(u, '/account/totp/start');
    assertPage(refused, 403, 'start before the address is confirmed');
    assert.match(refused.text, /Confirm your email address first/);
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM mfa_totp WHERE user_id = '${u.uid}';`), '0');

    markVerified(srv, u.uid);
    const g = await get(u, '/account/totp');
    assertPage(g, 200, 'start');
    assert.match(g.text, /action="\/account\/totp\/start"[\s\S]*<button type="submit">Set up<\/button>/);
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM mfa_totp WHERE user_id = '${u.uid}';`), '0', 'GET stores nothing');
    const none = await get(u, '/account/totp/confirm');
    assert.equal(none.status, 303, 'nothing pending: back to the start');
    assert.equal(loc(none), '/account/totp');

    const st = await post(u, '/account/totp/start');
    assert.equal(st.status, 303, st.text);
    assert.equal(loc(st), '/account/totp/confirm');
    const c = await get(u, '/account/totp/confirm');
    assertPage(c, 200, 'confirm');
    const img = c.text.match(/<img class="qr" alt="QR code" src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)">/);
    assert.ok(img, 'the QR code as a data URI');
    assert.match(Buffer.from(img[1], 'base64').toString('utf8'), /<svg[\s\S]*<\/svg>/);
    const secret = c.text.match(/<code class="secret" id="totp-secret">([A-Z2-7]{32})<\/code>/)[1];
    assert.match(c.text, /<label for="totp-code">Code from the app<\/label>/);
    assert.ok(!c.text.includes('name="password"'), 'a fresh sign-in needs no password');
    assert.match(c.text, /<button type="submit">Turn on<\/button>/);
    const again = await get(u, '/account/totp/confirm');
    assert.ok(again.text.includes(secret), 'a reload shows the same pending key');

    const bad = await post(u, '/account/totp/confirm', { code: '000000' === oathtool(secret) ? '111111' : '000000' });
    assertPage(bad, 422, 'a wrong code');
    assert.match(bad.text, /role="alert" id="code-error">That code is not right/);
    assert.match(bad.text, /id="totp-code"[^>]*aria-invalid="true" aria-describedby="code-error"/);
    assert.ok(bad.text.includes(secret), 'the same key again');

    const other = await cookieSignin(u);
    const ok = await post(u, '/account/totp/confirm', { code: oathtool(secret) });
    assertPage(ok, 200, 'the backup codes page (200: the codes exist only in this answer)');
    assert.match(ok.text, /<h1>Save your backup codes<\/h1>/);
    const codes = [...ok.text.match(/<ol class="codes" id="backup-codes">([\s\S]*?)<\/ol>/)[1].matchAll(/<li>([a-z0-9-]+)<\/li>/g)].map((m) => m[1]);
    assert.equal(codes.length, 10);
    assert.match(ok.text, /<a class="button" href="\/account">Continue<\/a>/);
    assert.ok(sql(srv.dbPath, `SELECT confirmed_at > 0 FROM mfa_totp WHERE user_id = '${u.uid}';`) === '1');
    assert.ok(!live(srv, other.sid), 'enrolment ends the other sessions, as the API does');
    assert.equal(auditRows(srv, 'mfa.enrolled', u.uid).length, 1);

    // a backup code signs in
    const s3 = await cookieSignin(u, codes[0]);
    assert.ok(live(srv, s3.sid));

    // the account page now offers new codes and turning it off
    const a = await get(u, '/account');
    assert.match(a.text, /<button type="submit" class="secondary">Get new backup codes<\/button>/);
    assert.match(a.text, /<button type="submit" class="danger">Turn off two-step verification<\/button>/);
    assert.match(a.text, /<label for="remove-password">Password<\/label>/);
    const start = await get(u, '/account/totp');
    assert.match(start.text, /Two-step verification is already on/);

    // new backup codes: wrong password shown at its form, nothing changes
    const hashes = () => sql(srv.dbPath, `SELECT ${groupConcat(hexOf('code_hash'))} FROM mfa_backup_codes WHERE user_id = '${u.uid}';`);
    const h0 = hashes();
    const wrong = await post(u, '/account/backup-codes', { code: codes[1], password: 'nope-' + strongPassword() });
    assertPage(wrong, 403, 'backup codes with a wrong password');
    assert.match(wrong.text, /role="alert" id="codes-error">That code or password is not right\./);
    const missing = await post(u, '/account/backup-codes', { code: codes[1], password: '' });
    assertPage(missing, 422, 'backup codes without the password');
    assert.equal(hashes(), h0);
    const nb = await post(u, '/account/backup-codes', { code: codes[1], password: u.password });
    assertPage(nb, 200, 'new backup codes');
    const codes2 = [...nb.text.matchAll(/<li>([a-z0-9-]+)<\/li>/g)].map((m) => m[1]);
    assert.equal(codes2.length, 10);
    assert.ok(!codes2.some((x) => codes.includes(x)));
    assert.match(nb.text, /your old codes no longer work/);
    assert.notEqual(hashes(), h0);

    // turn it off: code and password, 303 /account?totp=off
    const rw = await post(u, '/account/totp/remove', { code: codes2[0], password: 'nope-' + strongPassword() });
    assertPage(rw, 403, 'remove with a wrong password');
    assert.match(rw.text, /id="remove-error"/);
    assert.ok(sql(srv.dbPath, `SELECT COUNT(*) FROM mfa_totp WHERE user_id = '${u.uid}';`) === '1');
    const rm = await post(u, '/account/totp/remove', { code: codes2[1], password: u.password });
    assert.equal(rm.status, 303, rm.text);
    assert.equal(loc(rm), '/account?totp=off');
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM mfa_totp WHERE user_id = '${u.uid}';`), '0');
    assert.match((await get(u, '/account?totp=off')).text, /Two-step verification is off\./);
  });

  test('TOTP: a sign-in older than GATEHOUSE_REAUTH_WINDOW asks for the password on the confirm form', async () => {
    const u = await cookieSignup();
    markVerified(srv, u.uid);
    assert.equal((await post(u, '/account/totp/start')).status, 303);
    sql(srv.dbPath, `UPDATE sessions SET created_at = created_at - 86400 WHERE id = '${u.sid}';`);
    const c = await get(u, '/account/totp/confirm');
    assert.match(c.text, /<label for="totp-password">Password<\/label>/);
    const secret = c.text.match(/id="totp-secret">([A-Z2-7]+)</)[1];
    const bad = await post(u, '/account/totp/confirm', { code: await totpCode(secret), password: 'nope-' + strongPassword() });
    assertPage(bad, 403, 'a wrong password');
    assert.match(bad.text, /Your password is not right\./);
    const ok = await post(u, '/account/totp/confirm', { code: await totpCode(secret, Date.now() + 30000), password: u.password });
    assertPage(ok, 200, 'with the password');
    assert.match(ok.text, /Save your backup codes/);
  });

  test('sessions: the list marks this device; sign out one, everywhere else; another account\'s id is a 404 and nothing happens', async () => {
    const u = await cookieSignup();
    const two = await cookieSignin(u);
    const three = await cookieSignin(u);
    const bearer = await api(srv.url, 'POST', '/v1/signin', { json: { email: u.email, password: u.password }, headers: { 'User-Agent': 'curl/8.5.0' } });
    const bsid = sql(srv.dbPath, `SELECT id FROM sessions WHERE user_id = '${u.uid}' AND mode = 'bearer';`).trim();
    const r = await get(u, '/account/sessions');
    assertPage(r, 200, 'sessions');
    assert.match(r.text, /<h1>Sessions and devices<\/h1>/);
    assert.match(r.text, /<table class="sessions">/);
    const rows = r.text.match(/<tr><td>[\s\S]*?<\/tr>/g);
    assert.equal(rows.length, 4);
    const mine = rows.filter((x) => x.includes('<span class="tag">This device</span>'));
    assert.equal(mine.length, 1);
    assert.ok(!mine[0].includes('<form'), 'no sign-out button on this device');
    assert.ok(rows.some((x) => x.includes('curl <span class="muted">(app)</span>')), 'a readable device');
    for (const sid of [two.sid, three.sid, bsid]) assert.ok(r.text.includes(`name="id" value="${sid}"`), sid);
    assert.match(r.text, /aria-label="Sign out [^"]+">Sign out<\/button>/);
    assert.match(r.text, /<button type="submit" class="danger">Sign out everywhere else<\/button>/);

    // another account's session: 404 page, audited, still live
    const v = await cookieSignup();
    const nf = await post(u, '/account/sessions/revoke', { id: v.sid });
    assertPage(nf, 404, 'another account\'s session');
    assert.ok(live(srv, v.sid));
    assert.equal(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = 'authz.denied' AND target = '${v.uid}';`), '1');
    assertPage(await post(u, '/account/sessions/revoke', { id: 'x"><b>' }), 404, 'not an id');

    // one: the bearer session; its token is refused after
    const one = await post(u, '/account/sessions/revoke', { id: bsid });
    assert.equal(one.status, 303, one.text);
    assert.equal(loc(one), '/account/sessions?revoked=1');
    assertError(await api(srv.url, 'GET', '/v1/me', { token: bearer.json.access_token }), 401, 'invalid_token', 'revoked bearer');
    assert.match((await get(u, '/account/sessions?revoked=1')).text, /That session was signed out\./);

    // everywhere else: two and three end, this one stays; one audit row with the count
    const all = await post(u, '/account/sessions/revoke-others');
    assert.equal(all.status, 303, all.text);
    assert.equal(loc(all), '/account/sessions?revoked=others');
    assert.ok(!live(srv, two.sid) && !live(srv, three.sid) && live(srv, u.sid));
    assertPage(await get(two, '/account'), 401, 'another device after sign out everywhere else');
    assert.deepEqual(auditRows(srv, 'session.revoke_others', u.uid).map((d) => JSON.parse(d)), [{ count: 2 }]);
    const after = await get(u, '/account/sessions?revoked=others');
    assert.match(after.text, /Every other session was signed out\./);
    assert.equal(after.text.match(/<tr><td>/g).length, 1);

    // this device's own id: signed out, to /signout/done, cookies cleared
    const own = await post(u, '/account/sessions/revoke', { id: u.sid });
    assert.equal(own.status, 303, own.text);
    assert.equal(loc(own), '/signout/done');
    assert.ok(cookiesOf(own).gh_session.attrs.includes('Max-Age=0'));
    assert.ok(!live(srv, u.sid));
  });
});

describe('account pages: a session restricted to enrolling (GATEHOUSE_MFA_REQUIRED=all)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on', GATEHOUSE_MFA_REQUIRED: 'all' } }); });
  after(async () => { await srv?.stop(); });

  test('/account sends it to the set-up page; it can enrol there, and is then a full session', async () => {
    const SAME = { Origin: srv.url };
    const r = await req(srv, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword(), mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 201, r.text);
    const c = cookiesOf(r);
    const u = { csrf: c.gh_csrf.value, cookie: `gh_session=${c.gh_session.value}; gh_csrf=${c.gh_csrf.value}` };
    markVerified(srv, r.json.user.id);
    const a = await req(srv, 'GET', '/account', { cookie: u.cookie });
    assert.equal(a.status, 303, a.text);
    assert.equal(new URL(a.headers.location).pathname, '/account/totp');
    const t = await req(srv, 'GET', '/account/totp', { cookie: u.cookie });
    assertPage(t, 200, 'restricted start');
    assert.match(t.text, /Your account needs two-step verification/);
    assertPage(await req(srv, 'GET', '/account/sessions', { cookie: u.cookie }), 403, 'other pages wait for the factor');
    const st = await req(srv, 'POST', '/account/totp/start', { form: { csrf: u.csrf }, cookie: u.cookie, headers: SAME });
    assert.equal(st.status, 303, st.text);
    const page = await req(srv, 'GET', '/account/totp/confirm', { cookie: u.cookie });
    const secret = page.text.match(/id="totp-secret">([A-Z2-7]+)</)[1];
    const ok = await req(srv, 'POST', '/account/totp/confirm', { form: { csrf: u.csrf, code: oathtool(secret) }, cookie: u.cookie, headers: SAME });
    assertPage(ok, 200, 'codes');
    assertPage(await req(srv, 'GET', '/account', { cookie: u.cookie }), 200, 'a full session now');
  });
});
