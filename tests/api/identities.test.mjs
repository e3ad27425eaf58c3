// Linked identities (issue 13): GET /v1/identities, DELETE
// /v1/identities/{provider} (the last way to sign in cannot be removed),
// the account page's "Sign-in methods" section and its Remove button, the
// pending-link pages without (or with a forged) pending-link cookie, and
// GATEHOUSE_SIGNUP=closed on every sign-up path (password sign-up, the
// /signup page, magic-link sign-up: the magic-link request answers the
// same whether or not the address has an account). Identities are seeded
// with the sqlite3 CLI into the running server's database (the provider
// callback that makes them is oidc-flow's; federated_signin and
// federated_link are unit-tested in tests/unit/federation). Each refusal
// checks that nothing changed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { startServer, api, sql, assertError, signup, uniqueEmail, strongPassword, sleep, dbOf } from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

const db = (srv) => dbOf(srv.dataDir);
const b64u = (b) => Buffer.from(b).toString('base64url');

/* The pending-link cookie as the provider callback sets it
 * (federation/pending_link.c), made here with the development master key
 * of the server's data directory, the way the vault seals (AES-256-GCM,
 * AAD "gatehouse-vault-v1" NUL table NUL column NUL row NUL kid): the test
 * stands in for oidc-flow's callback. */
function vaultSeal(srv, table, column, row, plaintext) {
  const master = Buffer.from(fs.readFileSync(path.join(srv.dataDir, 'master.key'), 'utf8').trim(), 'base64url');
  const [kid, wrapped] = sql(db(srv), 'SELECT kid, wrapped FROM vault_keys ORDER BY created_at DESC LIMIT 1;').split('|');
  const open = (key, sealed, aad) => {
    const [, , n, c] = sealed.split('.');
    const ct = Buffer.from(c, 'base64url');
    const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(n, 'base64url'));
    d.setAAD(aad);
    d.setAuthTag(ct.subarray(ct.length - 16));
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  };
  const aad = (t, c, r, k) => Buffer.from(['gatehouse-vault-v1', t, c, r, k].join('\0'));
  const dataKey = open(master, wrapped, aad('vault_keys', 'wrapped', kid, 'master'));
  const nonce = crypto.randomBytes(12);
  const e = crypto.createCipheriv('aes-256-gcm', dataKey, nonce);
  e.setAAD(aad(table, column, row, kid));
  const ct = Buffer.concat([e.update(Buffer.from(plaintext)), e.final(), e.getAuthTag()]);
  return `v1.${kid}.${b64u(nonce)}.${b64u(ct)}`;
}
function pendingCookie(srv, { provider = 'google', sub, email, verified = true, expires = nowS() + 600 }) {
  const pt = JSON.stringify({ p: provider, s: sub, e: email, v: verified, n: '', m: false, i: nowS(), x: expires });
  return `gh_link=${b64u(vaultSeal(srv, 'cookie', 'pending_link', 'v1', pt))}`;
}
const nowS = () => Math.floor(Date.now() / 1000);
const q = (s) => s.replace(/'/g, "''");

// Subjects are made unique per test run of the shared server by the
// account id's prefix (the same sub at one provider is one identity).
function seed(srv, uid, provider, subject, email = '', at = nowS()) {
  subject = `${subject}-${uid.slice(0, 8)}`;
  sql(db(srv), `INSERT INTO identities (provider, subject, user_id, email, created_at, last_used_at) VALUES ('${q(provider)}', '${q(subject)}', '${uid}', '${q(email)}', ${at}, ${at});`);
}
const identities = (srv, uid) => sql(db(srv), `SELECT provider || ':' || substr(subject, 1, length(subject) - 9) FROM identities WHERE user_id = '${uid}' ORDER BY created_at, provider, subject;`).split('\n').filter(Boolean);
const sub = (s, uid) => `${s}-${uid.slice(0, 8)}`;
const audited = (srv, action, uid) => Number(sql(db(srv), `SELECT COUNT(*) FROM audit_log WHERE action = '${action}' AND target = '${uid}';`));
/** An account with no password and an unproved address: identities are its only way in. */
const passwordless = (srv, uid) => sql(db(srv), `UPDATE users SET password_hash = '!', email_verified_at = NULL WHERE id = '${uid}';`);

describe('GET and DELETE /v1/identities', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('needs a session', async () => {
    assertError(await api(srv.url, 'GET', '/v1/identities'), 401, 'invalid_token');
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google'), 401, 'invalid_token');
  });

  test('lists the account\'s own identities, oldest first, with their fields', async () => {
    const a = await signup(srv);
    const b = await signup(srv);
    let r = await api(srv.url, 'GET', '/v1/identities', { token: a.access });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { identities: [] });
    seed(srv, a.user.id, 'google', 'g-2', 'a@gmail.example', 2000000000);
    seed(srv, a.user.id, 'apple', 'a-1', 'relay@privaterelay.appleid.com', 1900000000);
    seed(srv, b.user.id, 'google', 'g-b', 'b@gmail.example');
    r = await api(srv.url, 'GET', '/v1/identities', { token: a.access });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.identities.map((i) => i.provider + ':' + i.subject), ['apple:' + sub('a-1', a.user.id), 'google:' + sub('g-2', a.user.id)]);
    assert.deepEqual(Object.keys(r.json.identities[0]).sort(), ['created_at', 'email', 'last_used_at', 'provider', 'subject']);
    assert.equal(r.json.identities[1].email, 'a@gmail.example');
    assert.equal(r.json.identities[1].created_at, '2033-05-18T03:33:20Z');
  });

  test('DELETE removes one (audited); another account\'s is 404 and stays', async () => {
    const a = await signup(srv);
    const b = await signup(srv);
    seed(srv, a.user.id, 'google', 'g-a');
    seed(srv, b.user.id, 'apple', 'a-b');
    assertError(await api(srv.url, 'DELETE', '/v1/identities/apple', { token: a.access }), 404, 'not_found');
    assert.deepEqual(identities(srv, b.user.id), ['apple:a-b']);
    assertError(await api(srv.url, 'DELETE', '/v1/identities/Bad%20Name', { token: a.access }), 404, 'not_found');
    const r = await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(identities(srv, a.user.id), []);
    assert.equal(audited(srv, 'identity.unlinked', a.user.id), 1);
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access }), 404, 'not_found');
  });

  test('the last way to sign in cannot be removed: 409 last_sign_in_method, nothing changes', async () => {
    const a = await signup(srv);
    seed(srv, a.user.id, 'google', 'g-only');
    passwordless(srv, a.user.id);
    let r = await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access });
    assertError(r, 409, 'last_sign_in_method');
    assert.deepEqual(identities(srv, a.user.id), ['google:g-only']);
    assert.equal(audited(srv, 'identity.unlinked', a.user.id), 0);
    // A proved address (email links reach it) is another way: then it may go.
    sql(db(srv), `UPDATE users SET email_verified_at = ${nowS()} WHERE id = '${a.user.id}';`);
    r = await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access });
    assert.equal(r.status, 204, r.text);
  });

  test('several of one provider: the subject must be named (body optional)', async () => {
    const a = await signup(srv);
    seed(srv, a.user.id, 'google', 'g-1', '', 1000);
    seed(srv, a.user.id, 'google', 'g-2', '', 2000);
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access }), 422, 'missing_field');
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access, json: { subject: sub('g-9', a.user.id) } }), 404, 'not_found');
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access, json: { subject: 7 } }), 422, 'invalid_field');
    assertError(await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access, json: { other: 'x' } }), 422, 'unknown_field');
    assert.deepEqual(identities(srv, a.user.id), ['google:g-1', 'google:g-2']);
    const r = await api(srv.url, 'DELETE', '/v1/identities/google', { token: a.access, json: { subject: sub('g-2', a.user.id) } });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(identities(srv, a.user.id), ['google:g-1']);
  });
});

describe('identity pages', () => {
  let srv, SAME;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    SAME = { Origin: srv.url };
  });
  after(async () => { await srv?.stop(); });

  async function cookieSignup() {
    const email = uniqueEmail();
    const r = await req(srv, 'POST', '/v1/signup', { json: { email, password: strongPassword(), mode: 'cookie' }, headers: SAME });
    assert.equal(r.status, 201, r.text);
    const c = cookiesOf(r);
    return { uid: r.json.user.id, csrf: c.gh_csrf.value, cookie: `gh_session=${c.gh_session.value}; gh_csrf=${c.gh_csrf.value}` };
  }
  const loc = (res) => { const u = new URL(res.headers.location); return u.pathname + u.search; };

  test('the account page lists the sign-in methods; Remove works; the last one stays (409 page)', async () => {
    const s = await cookieSignup();
    let r = await req(srv, 'GET', '/account', { cookie: s.cookie });
    assert.equal(r.status, 200);
    assert.match(r.text, /<h2 id="methods-heading">Sign-in methods<\/h2>/);
    assert.match(r.text, /<li>Password<\/li>/);
    assert.ok(!/aria-label="Remove/.test(r.text), 'no identity yet');
    seed(srv, s.uid, 'google', 'g-page', 'me@gmail.example');
    r = await req(srv, 'GET', '/account', { cookie: s.cookie });
    assert.match(r.text, /<li>google <span class="muted">me@gmail\.example<\/span> <form class="inline" method="post" action="[^"]*\/account\/identities\/remove">/);
    assert.match(r.text, /<button type="submit" class="secondary" aria-label="Remove google">Remove<\/button>/);
    // A cross-site POST is refused and removes nothing.
    r = await req(srv, 'POST', '/account/identities/remove', { form: { csrf: s.csrf, provider: 'google', subject: sub('g-page', s.uid) }, cookie: s.cookie, headers: { Origin: 'https://evil.example' } });
    assert.equal(r.status, 403);
    assert.deepEqual(identities(srv, s.uid), ['google:g-page']);
    // Without a password and a proved address it is the last way in.
    passwordless(srv, s.uid);
    r = await req(srv, 'POST', '/account/identities/remove', { form: { csrf: s.csrf, provider: 'google', subject: sub('g-page', s.uid) }, cookie: s.cookie, headers: SAME });
    assert.equal(r.status, 409, r.text.slice(0, 400));
    assert.match(r.headers['content-type'], /text\/html/);
    assert.deepEqual(identities(srv, s.uid), ['google:g-page']);
    seed(srv, s.uid, 'apple', 'a-page', 'relay@privaterelay.appleid.com');
    r = await req(srv, 'POST', '/account/identities/remove', { form: { csrf: s.csrf, provider: 'google', subject: sub('g-page', s.uid) }, cookie: s.cookie, headers: SAME });
    assert.equal(r.status, 303, r.text.slice(0, 400));
    assert.equal(loc(r), '/account?unlinked=1');
    assert.deepEqual(identities(srv, s.uid), ['apple:a-page']);
    assert.equal(audited(srv, 'identity.unlinked', s.uid), 1);
    r = await req(srv, 'GET', '/account?unlinked=1', { cookie: s.cookie });
    assert.match(r.text, /The sign-in method was removed\./);
    assert.ok(!/<li>Password<\/li>/.test(r.text), 'no password any more');
  });

  test('a pending link: the "sign in to link" page, then the signed-in owner links it (audited)', async () => {
    const sub = `g-link-${crypto.randomUUID()}`;
    const link = pendingCookie(srv, { sub, email: 'owner@gmail.example' });
    let r = await req(srv, 'GET', '/signin/link', { cookie: link });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.match(r.text, /<h1>Sign in to link your google account<\/h1>/);
    assert.match(r.text, /To use google here, sign in to your account once to link it\. If you have no account yet, your google email address must be verified\./);
    const signin = r.text.match(/<a class="button" href="([^"]+)">Sign in<\/a>/);
    assert.ok(signin, 'a Sign in link');
    assert.equal(new URL(signin[1].replace(/&amp;/g, '&')).searchParams.get('rd'), `${srv.url}/account/link`);
    const s = await cookieSignup();
    r = await req(srv, 'GET', '/account/link', { cookie: `${s.cookie}; ${link}` });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.match(r.text, /<h1>Link google\?<\/h1>/);
    assert.match(r.text, /owner@gmail\.example/);
    assert.match(r.text, /<button type="submit">Link account<\/button>/);
    // Cross-site: refused, nothing linked.
    r = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie: `${s.cookie}; ${link}`, headers: { Origin: 'https://evil.example' } });
    assert.equal(r.status, 403);
    assert.deepEqual(identities(srv, s.uid), []);
    r = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie: `${s.cookie}; ${link}`, headers: SAME });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(loc(r), '/account?linked=1');
    assert.match(cookiesOf(r).gh_link.line, /Max-Age=0/, 'the pending link ends');
    assert.equal(sql(db(srv), `SELECT user_id || ' ' || email FROM identities WHERE provider = 'google' AND subject = '${sub}';`), `${s.uid} owner@gmail.example`);
    assert.equal(audited(srv, 'identity.linked', s.uid), 1);
    r = await req(srv, 'GET', '/account?linked=1', { cookie: s.cookie });
    assert.match(r.text, /Your google account is linked\./);
    // The same identity for another account: refused, it stays the first one's.
    const other = await cookieSignup();
    r = await req(srv, 'POST', '/account/link', { form: { csrf: other.csrf }, cookie: `${other.cookie}; ${link}`, headers: SAME });
    assert.equal(r.status, 403, r.text.slice(0, 300));
    assert.match(r.text, /already linked to another account/);
    assert.deepEqual(identities(srv, other.uid), []);
    assert.equal(sql(db(srv), `SELECT user_id FROM identities WHERE subject = '${sub}';`), s.uid);
  });

  test('an unverified address is never linked; an old session must sign in again; an expired link is none', async () => {
    const s = await cookieSignup();
    const unverified = pendingCookie(srv, { sub: `g-unv-${crypto.randomUUID()}`, email: 'victim@example.com', verified: false });
    let r = await req(srv, 'GET', '/account/link', { cookie: `${s.cookie}; ${unverified}` });
    assert.equal(r.status, 403);
    assert.match(r.text, /has not verified the address/);
    assert.ok(!/Link account<\/button>/.test(r.text), 'no button');
    r = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie: `${s.cookie}; ${unverified}`, headers: SAME });
    assert.equal(r.status, 403);
    assert.deepEqual(identities(srv, s.uid), []);
    assert.equal(audited(srv, 'identity.linked', s.uid), 0);
    // A session that began long ago: the "sign in to link" page, nothing linked.
    const good = pendingCookie(srv, { sub: `g-old-${crypto.randomUUID()}`, email: 'me@gmail.example' });
    sql(db(srv), `UPDATE sessions SET created_at = created_at - 3600 WHERE user_id = '${s.uid}';`);
    r = await req(srv, 'GET', '/account/link', { cookie: `${s.cookie}; ${good}` });
    assert.equal(r.status, 200);
    assert.match(r.text, /<h1>Sign in to link your google account<\/h1>/);
    r = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie: `${s.cookie}; ${good}`, headers: SAME });
    assert.equal(r.status, 403);
    assert.match(r.text, /Sign in to link your google account/);
    assert.deepEqual(identities(srv, s.uid), []);
    // Expired: read as none.
    const expired = pendingCookie(srv, { sub: 'g-exp', email: 'me@gmail.example', expires: nowS() - 1 });
    r = await req(srv, 'GET', '/signin/link', { cookie: expired });
    assert.equal(r.status, 303);
    assert.equal(loc(r), '/signin');
  });

  test('no pending link (or a forged one): /signin/link and /account/link send back; nothing is linked', async () => {
    let r = await req(srv, 'GET', '/signin/link');
    assert.equal(r.status, 303);
    assert.equal(loc(r), '/signin');
    r = await req(srv, 'GET', '/signin/link', { cookie: 'gh_link=djEuZm9vLmJhci5iYXo' });
    assert.equal(r.status, 303);
    assert.equal(loc(r), '/signin');
    const s = await cookieSignup();
    r = await req(srv, 'GET', '/account/link', { cookie: `${s.cookie}; gh_link=${'A'.repeat(300)}` });
    assert.equal(r.status, 303);
    assert.equal(loc(r), '/account');
    r = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie: `${s.cookie}; gh_link=${'A'.repeat(300)}`, headers: SAME });
    assert.equal(r.status, 303);
    assert.equal(loc(r), '/account');
    assert.deepEqual(identities(srv, s.uid), []);
    assert.equal(audited(srv, 'identity.linked', s.uid), 0);
    // Not signed in: /account/link is the 401 page.
    r = await req(srv, 'GET', '/account/link');
    assert.equal(r.status, 401);
  });
});

describe('GATEHOUSE_SIGNUP=closed', () => {
  let srv, SAME;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_SIGNUP: 'closed', GATEHOUSE_MAGIC_LINK_SIGNUP: 'on', GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } });
    SAME = { Origin: srv.url };
  });
  after(async () => { await srv?.stop(); });
  const users = () => Number(sql(db(srv), 'SELECT COUNT(*) FROM users;'));

  test('POST /v1/signup: 403 signup_closed, no account', async () => {
    const before = users();
    const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } });
    assertError(r, 403, 'signup_closed');
    assert.equal(users(), before);
  });

  test('the /signup page and form: a 403 page saying sign-up is closed, no account', async () => {
    let r = await req(srv, 'GET', '/signup');
    assert.equal(r.status, 403);
    assert.match(r.text, /<h1>Sign-up is closed<\/h1>/);
    const before = users();
    const f = await req(srv, 'GET', '/signin');
    const c = cookiesOf(f);
    const csrf = f.text.match(/name="csrf" value="([^"]+)"/)[1];
    r = await req(srv, 'POST', '/signup', { form: { csrf, email: uniqueEmail(), password: strongPassword() }, cookie: `gh_form=${c.gh_form.value}`, headers: SAME });
    assert.equal(r.status, 403, r.text.slice(0, 300));
    assert.match(r.text, /Sign-up is closed/);
    assert.equal(users(), before);
  });

  test('magic-link sign-up is closed too, and the request still answers the same', async () => {
    const email = uniqueEmail();
    sql(db(srv), `INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at) VALUES ('00000000-0000-4000-8000-0000000000e1', '${email}', '${email}', '!', 1, 1);`);
    const stranger = uniqueEmail();
    const known = await api(srv.url, 'POST', '/v1/magic-link', { json: { email } });
    const unknown = await api(srv.url, 'POST', '/v1/magic-link', { json: { email: stranger } });
    assert.equal(known.status, 202);
    assert.equal(known.text, unknown.text);
    await sleep(1500); // the links are made in the background
    assert.equal(sql(db(srv), `SELECT COUNT(*) FROM magic_links WHERE email_key = '${email}';`), '1');
    assert.equal(sql(db(srv), `SELECT COUNT(*) FROM magic_links WHERE email_key = '${stranger}';`), '0');
    assert.equal(sql(db(srv), `SELECT COUNT(*) FROM users WHERE email_key = '${stranger}';`), '0');
  });
});

test('a sign-in link sent to an unknown address while sign-up was open makes no account once it is closed', async () => {
  const open = await startServer({ env: { GATEHOUSE_MAGIC_LINK_SIGNUP: 'on' } });
  const stranger = uniqueEmail();
  let token;
  try {
    const r = await api(open.url, 'POST', '/v1/magic-link', { json: { email: stranger } });
    assert.equal(r.status, 202);
    const dir = path.join(open.dataDir, 'outbox');
    for (let i = 0; i < 100 && !token; i++) {
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const m = /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(fs.readFileSync(path.join(dir, f), 'utf8'));
        if (m) token = m[1];
      }
      if (!token) await sleep(100);
    }
    assert.ok(token, 'the link was mailed while sign-up was open');
  } finally {
    await open.stop();
  }
  const closed = await startServer({ dataDir: open.dataDir, env: { GATEHOUSE_MAGIC_LINK_SIGNUP: 'on', GATEHOUSE_SIGNUP: 'closed' } });
  try {
    const r = await api(closed.url, 'POST', '/v1/magic-link/verify', { json: { token } });
    assertError(r, 401, 'invalid_token');
    assert.equal(sql(db(closed), `SELECT COUNT(*) FROM users WHERE email_key = '${stranger}';`), '0');
  } finally {
    await closed.stop();
  }
});

test('GATEHOUSE_SIGNUP must be open or closed', async () => {
  await assert.rejects(startServer({ env: { GATEHOUSE_SIGNUP: 'maybe' }, readyTimeoutMs: 5000 }), /GATEHOUSE_SIGNUP must be open or closed/);
});
