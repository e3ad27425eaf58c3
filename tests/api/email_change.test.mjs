// Changing the email address (docs/api.md "POST /v1/email/change", the
// /account/email and /email-change pages), with mail delivered over real
// SMTP (aiosmtpd from Debian on loopback, as magic_link.test.mjs): both
// emails arrive, the link confirms once, the old address no longer signs
// in and the new one does, a taken address fails at confirmation with
// nothing changed, a wrong password sends nothing, links of other purposes
// are refused both ways, and the gate's X-Gatehouse-Email follows.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import {
  startServer, api, signup, markVerified, me, mkTempDir, freePort, sql, sleep, assertError, uniqueEmail,
  rawRequest, assertNotInDb,
} from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

// Only a proved address may be moved (the pre-hijack of decision 0033):
// the accounts here have confirmed theirs.
async function verifiedSignup(srv) {
  const a = await signup(srv);
  markVerified(srv, a.user.id);
  return a;
}

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };
const SESSION = '__Host-gh_session';
const CSRF = '__Host-gh_csrf';

async function startSmtp() {
  const port = await freePort();
  const dir = mkTempDir('gatehouse-smtp-');
  const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`,
    '-c', 'aiosmtpd.handlers.Mailbox', path.join(dir, 'Maildir')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('/usr/bin/python3', ['-c', `import socket; socket.create_connection(("127.0.0.1", ${port}), 1)`]);
      break;
    } catch { await sleep(100); }
  }
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages() {
      const out = [];
      for (const sub of ['new', 'cur']) {
        const d = path.join(dir, 'Maildir', sub);
        if (fs.existsSync(d)) for (const f of fs.readdirSync(d)) out.push(fs.readFileSync(path.join(d, f), 'utf8'));
      }
      return out;
    },
    stop() { child.kill('SIGTERM'); },
  };
}

async function waitFor(fn, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await sleep(100);
  }
}

const to = (addr) => (m) => new RegExp(`^To: <?${addr.replace(/[.+]/g, '\\$&')}>?\\r?$`, 'mi').test(m);
const changeLink = (msg) => /email-change\?token=([A-Za-z0-9_-]{43})/.exec(msg)?.[1];
const signinLink = (msg) => /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(msg)?.[1];
const masked = (addr) => `${addr[0]}***@${addr.split('@')[1]}`;

/** Asks for the change by bearer and returns the token from the mail to
 *  the new address. */
async function requestChange(srv, smtp, a, newEmail) {
  const r = await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: newEmail, password: a.password } });
  assert.equal(r.status, 202, r.text);
  const msg = await waitFor(() => smtp.messages().find(to(newEmail)));
  assert.ok(msg, 'the confirmation link reached the new address');
  return changeLink(msg);
}

const gateEmail = async (srv, access) => {
  const r = await rawRequest(srv.port, {
    path: '/v1/verify',
    headers: { Authorization: `Bearer ${access}`, Accept: 'application/json', 'X-Forwarded-Method': 'GET', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example.test', 'X-Forwarded-Uri': '/x' },
  });
  assert.equal(r.status, 200, r.text);
  return r.headers['x-gatehouse-email'];
};

describe('changing the email address', () => {
  let smtp; let srv;
  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({
      env: {
        GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_SMTP_STARTTLS: 'off', GATEHOUSE_PUBLIC_URL: PUBLIC,
        GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_LIMIT_VERIFY_IP: '1000000/60',
        GATEHOUSE_MAGIC_LINK_SIGNUP: 'on',
      },
    });
  });
  after(async () => { await srv?.stop(); smtp?.stop(); });

  test('both emails arrive; the link changes the address once; old email no longer signs in, the new one does; the gate follows', async () => {
    const a = await verifiedSignup(srv);
    const next = uniqueEmail();
    assert.equal(await gateEmail(srv, a.access), a.email, 'cached before the change');
    const token = await requestChange(srv, smtp, a, next);
    const newMsg = smtp.messages().find(to(next));
    assert.match(newMsg, /Subject: Confirm your new email address for Gatehouse/);
    assert.match(newMsg, /https:\/\/auth\.example\.test\/email-change\?token=/);
    const notice = await waitFor(() => smtp.messages().find((m) => to(a.email)(m) && /change/i.test(m)));
    assert.ok(notice, 'the old address got a notice');
    assert.ok(notice.includes(masked(next)), 'the new address partly masked');
    assert.ok(!notice.includes(next), 'never the whole new address');
    assert.doesNotMatch(notice, /token=|https?:\/\//, 'no working link in the notice');
    const db = srv.dbPath;
    assert.equal(sql(db, `SELECT new_email FROM magic_links WHERE purpose = 'email_change' AND email_key = '${a.email.toLowerCase()}';`), next);
    assertNotInDb(db, { 'email change token': token });
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE action = 'email.change_requested' AND target = '${a.user.id}';`), '1');
    assert.equal((await me(srv, a.access)).json.email, a.email, 'nothing changes before the link is followed');

    const c = await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token } });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.email, next);
    assert.equal(sql(db, `SELECT email FROM users WHERE id = '${a.user.id}';`), next);
    assert.ok(Number(sql(db, `SELECT email_verified_at FROM users WHERE id = '${a.user.id}';`)) > 0, 'the new address is verified');
    const row = JSON.parse(sql(db, `SELECT details FROM audit_log WHERE action = 'email.changed' AND target = '${a.user.id}';`));
    assert.match(row.old_email_hmac, /^[0-9a-f]{64}$/);
    assert.match(row.new_email_hmac, /^[0-9a-f]{64}$/);
    assert.notEqual(row.old_email_hmac, row.new_email_hmac);
    const changed = await waitFor(() => smtp.messages().find((m) => to(a.email)(m) && /was changed/.test(m)));
    assert.ok(changed, 'the old address is told the change happened');

    // The session stays; the cache shows the new address at once.
    const m = await me(srv, a.access);
    assert.equal(m.status, 200);
    assert.equal(m.json.email, next);
    assert.equal(await gateEmail(srv, a.access), next, 'X-Gatehouse-Email follows');
    assert.equal(sql(db, `SELECT count(*) FROM change_events WHERE kind = 'user_changed' AND user_id = '${a.user.id}';`), '1',
      'other processes hear of it through the change feed');

    assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } }), 401, 'invalid_credentials', 'the old address');
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: next, password: a.password } });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.user.id, a.user.id);

    assertError(await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token } }), 401, 'invalid_token', 'single use');
    assertError(await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token: 'x'.repeat(43) } }), 401, 'invalid_token', 'made up');
    assert.ok(Number(sql(db, "SELECT count(*) FROM audit_log WHERE action = 'email.change_failure';")) >= 2);
  });

  test('a wrong password is 403 proof_failed, audited, and mails nothing; bad input is 422', async () => {
    const a = await verifiedSignup(srv);
    const next = uniqueEmail();
    const before = smtp.messages().length;
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: next, password: 'wrong password!' } }), 403, 'proof_failed');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE action = 'email.change_failure' AND target = '${a.user.id}';`), '1');
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: next } }), 422, 'missing_field', 'the password is needed');
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: 'not an address', password: a.password } }), 422, 'invalid_email');
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: a.email, password: a.password } }), 422, 'invalid_field', 'the same address');
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { password: a.password } }), 422, 'missing_field');
    assertError(await api(srv.url, 'POST', '/v1/email/change', { json: { new_email: next, password: a.password } }), 401, 'invalid_token', 'no session');
    await sleep(1500);
    assert.equal(smtp.messages().length, before, 'no mail at all');
    assert.equal(sql(srv.dbPath, "SELECT count(*) FROM magic_links WHERE purpose = 'email_change' AND new_email = '" + next + "';"), '0');
  });

  test('an address not confirmed yet cannot be moved: 403 email_not_verified, nothing sent (the pre-hijack)', async () => {
    // Someone signs up with another person's address (verification off) and
    // asks to move the account to their own inbox: were it allowed, the
    // owner's later link sign-in would reclaim the account and the pending
    // link would then hand the reclaimed account to the attacker.
    const a = await signup(srv);
    const next = uniqueEmail();
    assertError(await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: next, password: a.password } }), 403, 'email_not_verified');
    await sleep(1000);
    assert.ok(!smtp.messages().some(to(next)), 'no link was sent');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM magic_links WHERE purpose = 'email_change' AND new_email = '${next}';`), '0');
  });

  test('a password change ends a pending email change (the notice tells the owner to change the password)', async () => {
    const a = await verifiedSignup(srv);
    const next = uniqueEmail();
    const token = await requestChange(srv, smtp, a, next);
    const pw = `${a.password}-changed`;
    const r = await api(srv.url, 'POST', '/v1/password', { token: a.access, json: { current_password: a.password, new_password: pw } });
    assert.equal(r.status, 204, r.text);
    assertError(await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token } }), 401, 'invalid_token', 'the link died with the old password');
    assert.equal(sql(srv.dbPath, `SELECT email FROM users WHERE id = '${a.user.id}';`), a.email, 'the address stayed');
  });

  test('a taken address: the same 202; at confirmation 409 email_taken and nothing changes', async () => {
    const a = await verifiedSignup(srv);
    const b = await verifiedSignup(srv);
    const free = await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: uniqueEmail(), password: a.password } });
    const token = await requestChange(srv, smtp, a, b.email);
    const taken = smtp.messages().find(to(b.email));
    assert.ok(taken);
    assert.equal(free.status, 202);
    const again = await api(srv.url, 'POST', '/v1/email/change', { token: a.access, json: { new_email: b.email, password: a.password } });
    assert.equal(again.text, free.text, 'the same answer for a taken address');
    const token2 = changeLink(await waitFor(() => smtp.messages().filter(to(b.email)).find((m) => changeLink(m) !== token)));
    assertError(await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token: token2 } }), 409, 'email_taken');
    assert.equal(sql(srv.dbPath, `SELECT email FROM users WHERE id = '${a.user.id}';`), a.email);
    assert.equal(sql(srv.dbPath, `SELECT email FROM users WHERE id = '${b.user.id}';`), b.email);
    assert.equal((await me(srv, a.access)).json.email, a.email);
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE action = 'email.changed' AND target = '${a.user.id}';`), '0');
    assert.match(sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'email.change_failure' AND target = '${a.user.id}';`), /email_taken/);
  });

  test("links of other purposes are refused both ways (and not spent); the old address's links die with the change", async () => {
    const a = await verifiedSignup(srv);
    const r = await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    assert.equal(r.status, 202);
    const signin = signinLink(await waitFor(() => smtp.messages().filter(to(a.email)).find(signinLink)));
    assertError(await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token: signin } }), 401, 'invalid_token', 'a sign-in link');
    const next = uniqueEmail();
    const token = await requestChange(srv, smtp, a, next);
    assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } }), 401, 'invalid_token', 'an email change link signs nobody in');
    assertError(await api(srv.url, 'POST', '/v1/email/verify', { json: { token } }), 401, 'invalid_token');
    const c = await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token } });
    assert.equal(c.status, 200, c.text);
    // The sign-in link sent to the old address died with the change.
    assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: signin } }), 401, 'invalid_token', 'old links die');
  });

  test('pages: the form, the sent page, the landing that spends nothing, and the confirmation', async () => {
    const a = await verifiedSignup(srv);
    const s = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME });
    assert.equal(s.status, 200, s.text);
    const ck = cookiesOf(s);
    const cookie = `${SESSION}=${ck[SESSION].value}; ${CSRF}=${ck[CSRF].value}`;
    const form = await req(srv, 'GET', '/account/email', { cookie });
    assert.equal(form.status, 200, form.text);
    assert.match(form.text, /<h1>Change your email<\/h1>/);
    assert.match(form.text, /<label for="new-email">New email<\/label>/);
    assert.match(form.text, /<label for="current-password">Current password<\/label>/);
    assert.match(form.text, /<button type="submit">Send confirmation link<\/button>/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)[1];
    const next = uniqueEmail();

    const wrong = await req(srv, 'POST', '/account/email', { cookie, headers: SAME, form: { csrf, new_email: next, password: 'nope nope nope' } });
    assert.equal(wrong.status, 403);
    assert.match(wrong.text, /role="alert" id="current-password-error">The current password is incorrect/);
    assert.match(wrong.text, new RegExp(`value="${next.replace(/[.+]/g, '\\$&')}"`), 'what was typed stays');
    const bad = await req(srv, 'POST', '/account/email', { cookie, headers: SAME, form: { csrf, new_email: 'nope', password: a.password } });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /aria-invalid="true" aria-describedby="new-email-error"/);
    const nocsrf = await req(srv, 'POST', '/account/email', { cookie, headers: SAME, form: { new_email: next, password: a.password } });
    assert.equal(nocsrf.status, 403, 'the session CSRF token is needed');

    const ok = await req(srv, 'POST', '/account/email', { cookie, headers: SAME, form: { csrf, new_email: next, password: a.password } });
    assert.equal(ok.status, 303, ok.text);
    assert.equal(ok.headers.location, `${PUBLIC}/account/email/sent`);
    const sent = await req(srv, 'GET', '/account/email/sent');
    assert.match(sent.text, /<h1>Check your new inbox<\/h1>/);
    const token = changeLink(await waitFor(() => smtp.messages().find(to(next))));

    const land = await req(srv, 'GET', `/email-change?token=${token}`);
    assert.equal(land.status, 200, land.text);
    assert.match(land.text, /<h1>Confirm your new email address<\/h1>/);
    assert.ok(land.text.includes(next), 'shows the new address');
    assert.match(land.text, /<button type="submit">Confirm<\/button>/);
    await req(srv, 'GET', `/email-change?token=${token}`);
    assert.equal(sql(srv.dbPath, `SELECT COALESCE(used_at, 0) FROM magic_links WHERE purpose = 'email_change' AND new_email = '${next}';`), '0', 'a GET spends nothing');
    assert.equal((await me(srv, a.access)).json.email, a.email);
    const dead = await req(srv, 'GET', '/email-change?token=' + 'x'.repeat(43));
    assert.equal(dead.status, 401);
    assert.match(dead.text, /<h1>This link has expired or was already used<\/h1>/);

    // The POST needs the page's form token (cookie and field) and our origin.
    const landed = await req(srv, 'GET', `/email-change?token=${token}`);
    const formCk = cookiesOf(landed)['__Host-gh_form'];
    assert.ok(formCk, 'the landing sets the form cookie');
    assert.match(formCk.line, /HttpOnly/);
    const field = /name="csrf" value="([^"]+)"/.exec(landed.text)[1];
    const formCookie = `__Host-gh_form=${formCk.value}`;
    for (const [what, opts] of [
      ['no form cookie', { headers: SAME, form: { csrf: field, token } }],
      ['no field', { cookie: formCookie, headers: SAME, form: { token } }],
      ['a wrong field', { cookie: formCookie, headers: SAME, form: { csrf: 'x'.repeat(43), token } }],
      ['another site', { cookie: formCookie, headers: { Origin: 'https://evil.example' }, form: { csrf: field, token } }],
    ]) {
      const r = await req(srv, 'POST', '/email-change', opts);
      assert.equal(r.status, 403, what);
      assert.match(r.text, /Please try again/, what);
    }
    assert.equal(sql(srv.dbPath, `SELECT COALESCE(used_at, 0) FROM magic_links WHERE purpose = 'email_change' AND new_email = '${next}';`), '0', 'refused forms spend nothing');
    const conf = await confirmPage(srv, token, cookie);
    assert.equal(conf.status, 303, conf.text);
    assert.equal(conf.headers.location, `${PUBLIC}/account?email=changed`);
    assert.equal((await me(srv, a.access)).json.email, next);
    const again = await req(srv, 'GET', `/email-change?token=${token}`);
    assert.equal(again.status, 401, 'a used link');
    assert.match(again.text, /This link has expired or was already used/);
  });

  test('an account without a password changes its address right after a link sign-in, without a password; the page asks for none', async () => {
    const email = uniqueEmail();
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email } })).status, 202);
    const link = signinLink(await waitFor(() => smtp.messages().filter(to(email)).find(signinLink)));
    const v = await req(srv, 'POST', '/v1/magic-link/verify', { json: { token: link, mode: 'cookie' }, headers: SAME });
    assert.equal(v.status, 200, v.text);
    const ck = cookiesOf(v);
    const cookie = `${SESSION}=${ck[SESSION].value}; ${CSRF}=${ck[CSRF].value}`;
    const form = await req(srv, 'GET', '/account/email', { cookie });
    assert.equal(form.status, 200, form.text);
    assert.doesNotMatch(form.text, /Current password/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)[1];
    const next = uniqueEmail();
    const ok = await req(srv, 'POST', '/account/email', { cookie, headers: SAME, form: { csrf, new_email: next } });
    assert.equal(ok.status, 303, ok.text);
    const token = changeLink(await waitFor(() => smtp.messages().find(to(next))));
    assert.match(sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'email.change_requested' ORDER BY id DESC LIMIT 1;`), /recent_signin/);
    const c = await api(srv.url, 'POST', '/v1/email/change/confirm', { json: { token } });
    assert.equal(c.status, 200, c.text);
  });

  test('pages: without a session the confirmation lands on the done page', async () => {
    const a = await verifiedSignup(srv);
    const next = uniqueEmail();
    const token = await requestChange(srv, smtp, a, next);
    const conf = await confirmPage(srv, token, '');
    assert.equal(conf.status, 303, conf.text);
    assert.equal(conf.headers.location, `${PUBLIC}/email-change/done`);
    const done = await req(srv, 'GET', '/email-change/done');
    assert.match(done.text, /<h1>Your email address was changed<\/h1>/);
  });
});

/** Loads the landing page and posts its form (with its form token, when
 *  the page carries one) as a browser would. */
async function confirmPage(srv, token, cookie) {
  const land = await req(srv, 'GET', `/email-change?token=${token}`, { cookie });
  const csrf = /name="csrf" value="([^"]*)"/.exec(land.text)?.[1] ?? '';
  const set = cookiesOf(land);
  const jar = [cookie, ...Object.entries(set).map(([k, v]) => `${k}=${v.value}`)].filter(Boolean).join('; ');
  return req(srv, 'POST', '/email-change', { cookie: jar || undefined, headers: SAME, form: { csrf, token } });
}

describe('changing the email address: an account without a password, after the re-authentication window', () => {
  test('403 reauth_required, nothing sent', async () => {
    const srv = await startServer({ env: { GATEHOUSE_MAGIC_LINK_SIGNUP: 'on', GATEHOUSE_REAUTH_WINDOW: '0' } });
    try {
      const email = uniqueEmail();
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email } })).status, 202);
      let token;
      for (let i = 0; i < 80 && !token; i++) {
        await sleep(100);
        token = /signin link for \S+: \S+token=([A-Za-z0-9_-]{43})/.exec(srv.stderr())?.[1];
      }
      assert.ok(token, 'the development log names the link');
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } });
      assert.equal(v.status, 200, v.text);
      await sleep(1100);
      assertError(await api(srv.url, 'POST', '/v1/email/change', { token: v.json.access_token, json: { new_email: uniqueEmail() } }), 403, 'reauth_required');
      assertError(await api(srv.url, 'POST', '/v1/email/change', { token: v.json.access_token, json: { new_email: uniqueEmail(), password: 'anything at all 1' } }), 403, 'reauth_required', 'a password proves nothing here');
      assert.equal(sql(srv.dbPath, "SELECT count(*) FROM magic_links WHERE purpose = 'email_change';"), '0');
    } finally { await srv.stop(); }
  });
});
