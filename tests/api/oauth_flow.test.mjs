// Federated sign-in end to end (docs/api.md "Federated sign-in"): the real
// ASan server against a real, independent OpenID provider on loopback
// (oidc-provider, tests/api/lib/oidc_op.mjs) in a Google shape (code + PKCE,
// query) and an Apple shape (form_post, the ES256 client-secret JWT, the
// name only on the first sign-in). A first sign-in creates the account and
// signs in; the next is keyed by (provider, sub), not by the address; a
// provider claiming an existing account's address never links by itself
// (the /signin/link page, then /account/link once the person signed in);
// a second factor is still asked; the native-app API takes an ID token for a
// native client id with a single-use nonce of ours.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { api, signup, sql, markVerified, uniqueEmail, rand, assertError, startServer, assertNotInDb, columnsOf } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';
import { startWithOp, startOp } from './lib/oidc_op.mjs';
import {
  start, callback, browserSignin, snapshot, identityOf, meByCookie, cookieHeader, setValue,
  OAUTH, SESSION, CSRF, MFA, LINK, FORM,
} from './lib/oidc_flow.mjs';

const NATIVE = 'com.example.gatehouse.ios';
const csrfOf = (html) => /name="csrf" value="([^"]*)"/.exec(html)?.[1];
const userByEmail = (srv, email) => sql(srv.dbPath, `SELECT id FROM users WHERE email = '${email}';`);
const audits = (srv, action, target) => Number(sql(srv.dbPath,
  `SELECT count(*) FROM audit_log WHERE action = '${action}'${target ? ` AND target = '${target}'` : ''};`));
const lastAudit = (srv, action) => {
  const row = sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = '${action}' ORDER BY id DESC LIMIT 1;`);
  return row ? JSON.parse(row) : null;
};

/** The name an account holds (the column identities chose), or null. */
function nameOf(srv, uid) {
  const cols = columnsOf(srv.dbPath, 'users');
  const col = ['name', 'display_name'].find((c) => cols.includes(c));
  assert.ok(col, `the users table keeps a name: ${cols.join(',')}`);
  const v = sql(srv.dbPath, `SELECT ${col} FROM users WHERE id = '${uid}';`);
  return v === '' ? null : v;
}

/** Cookie sign-in through the JSON API, with a backup code when asked. */
async function cookieSignin(srv, email, password, code) {
  const SAME = { Origin: srv.url };
  const r = await req(srv, 'POST', '/v1/signin', { json: { email, password, mode: 'cookie' }, headers: SAME });
  assert.equal(r.status, 200, r.text);
  let res = r;
  if (r.json.mfa_required) {
    res = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: r.json.mfa_token, code, mode: 'cookie' }, headers: SAME });
    assert.equal(res.status, 200, res.text);
  }
  const c = cookiesOf(res);
  return { session: c[SESSION].value, csrf: c[CSRF].value, cookie: cookieHeader({ [SESSION]: c[SESSION].value, [CSRF]: c[CSRF].value }) };
}

/** A password account with TOTP on: {email, password, uid, backup: [codes]}. */
async function accountWithTotp(srv) {
  const a = await signup(srv);
  markVerified(srv, a.user.id);
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
  assert.equal(b.status, 200, b.text);
  const conf = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: await totpCode(b.json.secret) } });
  assert.equal(conf.status, 200, conf.text);
  return { email: a.email, password: a.password, uid: a.user.id, backup: [...conf.json.backup_codes] };
}

/** Finishes a federated sign-in's second factor on /signin/mfa with a code. */
async function finishMfa(srv, mfaCookie, code) {
  const page = await req(srv, 'GET', '/signin/mfa', { cookie: cookieHeader({ [MFA]: mfaCookie }) });
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.match(page.text, /<h1>Two-step verification<\/h1>/);
  const form = setValue(page, FORM);
  const cookie = cookieHeader({ [MFA]: mfaCookie, [FORM]: form });
  return req(srv, 'POST', '/signin/mfa', {
    form: { csrf: csrfOf(page.text), code, rd: '' }, cookie, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' },
  });
}

describe('federated sign-in: Google shape', () => {
  let env, srv, op;
  before(async () => {
    env = await startWithOp(['google', 'apple'], { nativeClients: [NATIVE] });
    ({ srv } = env);
    op = env.ops.google;
  });
  after(async () => { await env?.stop(); });

  test('the sign-in page has one button per provider, under "or", keeping rd', async () => {
    const r = await req(srv, 'GET', '/signin');
    assert.equal(r.status, 200);
    const providers = r.text.slice(r.text.lastIndexOf('<p class="divider">or</p>'));
    assert.ok(providers.includes(`<a class="button secondary provider" href="${srv.url}/v1/oauth/google/start">Continue with Google</a>`), r.text);
    assert.ok(providers.includes(`<a class="button secondary provider" href="${srv.url}/v1/oauth/apple/start">Continue with Apple</a>`));
    const w = await req(srv, 'GET', '/signin?rd=%2Fapp%3Fx%3D1');
    const rd = encodeURIComponent(`${srv.url}/app?x=1`);
    assert.ok(w.text.includes(`href="${srv.url}/v1/oauth/google/start?rd=${rd}">Continue with Google</a>`), w.text);
    const evil = await req(srv, 'GET', `/signin?rd=${encodeURIComponent('https://evil.example/')}`);
    assert.ok(!evil.text.includes('evil.example'), 'a hostile rd is not passed on');
  });

  test('start: 303 to the provider with PKCE S256, state, nonce; the sealed gh_oauth cookie', async () => {
    const s = await start(srv, 'google', { rd: `${srv.url}/app` });
    const q = s.location.searchParams;
    assert.equal(`${s.location.origin}${s.location.pathname}`, `${op.issuer}/auth`);
    assert.equal(q.get('client_id'), op.clientId);
    assert.equal(q.get('redirect_uri'), `${srv.url}/v1/oauth/google/callback`);
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.ok(q.get('scope').split(' ').includes('openid') && q.get('scope').split(' ').includes('email'));
    assert.ok(s.state.length >= 22 && s.nonce.length >= 22, 'state and nonce of 128 bits at least');
    assert.notEqual(s.state, s.nonce);
    const c = cookiesOf(s.res)[OAUTH];
    for (const a of ['HttpOnly', 'Path=/', 'SameSite=Lax']) assert.ok(c.attrs.includes(a), `${a} in ${c.line}`);
    const maxAge = Number(/Max-Age=(\d+)/.exec(c.line)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 600, c.line);
    for (const secret of [s.state, s.nonce]) assert.ok(!c.value.includes(secret), 'the cookie is sealed');
    const again = await start(srv, 'google', {});
    assert.notEqual(again.state, s.state, 'a new state each time');
  });

  test('first sign-in creates the account and signs in by cookie; the next, with another address at the provider, is the same account (keyed by sub)', async () => {
    const sub = `g-${rand(6)}`;
    const email = uniqueEmail();
    op.addUser({ sub, email, email_verified: true, name: 'Ada Lovelace' });
    const before = snapshot(srv);
    const r = await browserSignin(srv, op, 'google', sub, { rd: `${srv.url}/app?x=1` });
    assert.equal(r.res.status, 303, r.res.text.slice(0, 400));
    assert.equal(r.res.headers.location, `${srv.url}/app?x=1`);
    assert.ok(r.session && r.csrf, 'the session cookies');
    assert.ok(cookiesOf(r.res)[SESSION].attrs.includes('HttpOnly'));
    const me = await meByCookie(srv, r.cookie);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.email, email);
    const uid = me.json.id;
    assert.equal(userByEmail(srv, email), uid);
    assert.equal(sql(srv.dbPath, `SELECT password_hash FROM users WHERE id = '${uid}';`), '!', 'no password');
    assert.notEqual(sql(srv.dbPath, `SELECT email_verified_at FROM users WHERE id = '${uid}';`), '', 'the provider proved the address');
    assert.deepEqual(identityOf(srv, 'google', sub), { userId: uid, email });
    const after1 = snapshot(srv);
    assert.equal(after1.users, before.users + 1);
    assert.equal(after1.identities, before.identities + 1);
    assert.equal(audits(srv, 'identity.linked', uid), 1);
    assert.equal(audits(srv, 'signin.success', uid), 1);
    const d = lastAudit(srv, 'signin.success');
    assert.equal(d.method, 'oidc');
    assert.equal(d.provider, 'google');

    op.updateUser(sub, { email: uniqueEmail(), name: 'Ada King' });
    const r2 = await browserSignin(srv, op, 'google', sub);
    assert.equal(r2.res.status, 303, r2.res.text.slice(0, 400));
    assert.equal(r2.res.headers.location, `${srv.url}/account`);
    const me2 = await meByCookie(srv, r2.cookie);
    assert.equal(me2.json.id, uid, 'the same account');
    assert.equal(me2.json.email, email, 'the address at the provider changes nothing here');
    const after2 = snapshot(srv);
    assert.equal(after2.users, after1.users, 'no new account');
    assert.equal(after2.identities, after1.identities, 'no new identity');
    assert.equal(audits(srv, 'signin.success', uid), 2);
    assert.equal(audits(srv, 'identity.linked', uid), 1);
  });

  test('no secret of the flow is logged or stored in clear: client secret, state, nonce, code, PKCE verifier, tokens', async () => {
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true });
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    const seen = op.secretsSeen.at(-1);
    const secrets = {
      client_secret: op.clientSecret,
      state: r.s.state,
      nonce: r.s.nonce,
      code: new URL(r.cb.url).searchParams.get('code'),
      code_verifier: seen.code_verifier,
      provider_access_token: seen.access_token,
      id_token_signature: seen.id_token.split('.')[2],
      state_cookie: r.s.oauth,
    };
    assert.equal(seen.code, secrets.code, 'the relay saw this flow');
    await new Promise((res) => setTimeout(res, 100)); // the request log follows the reply
    const log = srv.stderr();
    for (const [name, v] of Object.entries(secrets)) {
      assert.ok(typeof v === 'string' && v.length >= 16, `${name}: ${v}`);
      assert.ok(!log.includes(v), `${name} is in the server's log`);
    }
    assertNotInDb(srv.dbPath, secrets);
  });

  test('the callback expires the state cookie', async () => {
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true });
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    assert.ok(cookiesOf(r.res)[OAUTH]?.attrs.includes('Max-Age=0'), 'the state cookie is deleted');
  });

  test('an address taken by a password account, email_verified false: not linked, no session, /signin/link (the same as for a free address)', async () => {
    const a = await signup(srv);
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: a.email, email_verified: false, name: 'Mallory' });
    const before = snapshot(srv);
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303, r.res.text.slice(0, 400));
    assert.equal(new URL(r.res.headers.location, srv.url).pathname, '/signin/link');
    assert.equal(r.session, undefined, 'no session');
    const link = cookiesOf(r.res)[LINK];
    assert.ok(link && link.attrs.includes('HttpOnly'), `the pending link cookie: ${r.res.setCookie}`);
    assert.ok(!link.value.includes(a.email) && !link.value.includes(sub), 'sealed');
    assert.deepEqual(snapshot(srv), before, 'nothing changed');
    assert.equal(identityOf(srv, 'google', sub), null);

    const page = await req(srv, 'GET', '/signin/link', { cookie: cookieHeader({ [LINK]: link.value }) });
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>Sign in to link your Google account<\/h1>/);
    assert.ok(page.text.includes('To use Google here, sign in to your account once to link it. If you have no account yet, your Google email address must be verified.'), page.text);
    assert.match(page.text, /<a[^>]*href="[^"]*\/signin\?rd=[^"]*account%2Flink[^"]*"[^>]*>Sign in<\/a>/);
    assert.ok(!page.text.includes(a.email), 'the page does not say which address');

    // a free address, unverified: the same answer and the same page
    const sub2 = `g-${rand(6)}`;
    op.addUser({ sub: sub2, email: uniqueEmail(), email_verified: false });
    const r2 = await browserSignin(srv, op, 'google', sub2);
    assert.equal(r2.res.status, r.res.status);
    assert.equal(r2.res.headers.location, r.res.headers.location);
    const page2 = await req(srv, 'GET', '/signin/link', { cookie: cookieHeader({ [LINK]: setValue(r2.res, LINK) }) });
    assert.equal(page2.text.replace(/value="[^"]*"/g, ''), page.text.replace(/value="[^"]*"/g, ''), 'the same page');
    assert.deepEqual(snapshot(srv), before, 'no account either');

    // signing in with the password and confirming: refused, the address is unproved
    const s = await cookieSignin(srv, a.email, a.password);
    const before2 = snapshot(srv);
    const post = await req(srv, 'POST', '/account/link', {
      form: { csrf: s.csrf }, cookie: `${s.cookie}; ${LINK}=${link.value}`, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.notEqual(post.status, 303, `an unverified address is never linked: ${post.status} ${post.headers.location}`);
    assert.ok(post.status >= 400 && post.status < 500, `${post.status}`);
    assert.equal(identityOf(srv, 'google', sub), null, 'not linked');
    assert.equal(snapshot(srv).identities, before2.identities);
  });

  test('an address taken by a password account, email_verified true: still not linked until the person signs in and confirms at /account/link', async () => {
    const a = await signup(srv);
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: a.email, email_verified: true, name: 'Owner' });
    const before = snapshot(srv);
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    assert.equal(new URL(r.res.headers.location, srv.url).pathname, '/signin/link');
    assert.equal(r.session, undefined);
    assert.deepEqual(snapshot(srv), before, 'no silent takeover');
    const link = setValue(r.res, LINK);

    // /account/link without a session: not shown, nothing linked
    const anon = await req(srv, 'GET', '/account/link', { cookie: cookieHeader({ [LINK]: link }) });
    assert.notEqual(anon.status, 200);
    assert.equal(identityOf(srv, 'google', sub), null);

    const s = await cookieSignin(srv, a.email, a.password);
    const cookie = `${s.cookie}; ${LINK}=${link}`;
    const page = await req(srv, 'GET', '/account/link', { cookie });
    assert.equal(page.status, 200, page.text.slice(0, 300));
    assert.match(page.text, /<h1>Link Google\?<\/h1>/);
    assert.ok(page.text.includes(a.email), "the provider's address is shown");
    assert.ok(page.text.includes('>Link account</button>'));
    assert.equal(identityOf(srv, 'google', sub), null, 'a GET links nothing');

    const cross = await req(srv, 'POST', '/account/link', { form: { csrf: s.csrf }, cookie, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(cross.status, 403, 'cross-site POST refused');
    assert.equal(identityOf(srv, 'google', sub), null);

    const post = await req(srv, 'POST', '/account/link', { form: { csrf: csrfOf(page.text) ?? s.csrf }, cookie, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(post.status, 303, post.text.slice(0, 300));
    assert.equal(new URL(post.headers.location, srv.url).pathname + new URL(post.headers.location, srv.url).search, '/account?linked=1');
    assert.deepEqual(identityOf(srv, 'google', sub)?.userId, a.user.id, 'linked to the account that proved itself');
    assert.equal(audits(srv, 'identity.linked', a.user.id), 1);
    const acct = await req(srv, 'GET', '/account?linked=1', { cookie: s.cookie });
    assert.ok(acct.text.includes('Your Google account is linked.'), 'the notice');

    const again = await browserSignin(srv, op, 'google', sub);
    assert.equal(again.res.status, 303);
    assert.equal((await meByCookie(srv, again.cookie)).json.id, a.user.id, 'Google now signs in to that account');
  });

  test('a linked account with a second factor: a federated sign-in still asks for it', async () => {
    const a = await accountWithTotp(srv);
    const s = await cookieSignin(srv, a.email, a.password, a.backup.shift());
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: a.email, email_verified: true, amr: ['pwd', 'mfa'] });
    const l = await browserSignin(srv, op, 'google', sub, { link: true, rd: '/account', cookie: s.cookie });
    assert.equal(l.res.status, 303, l.res.text.slice(0, 300));
    assert.equal(new URL(l.res.headers.location, srv.url).pathname, '/account');
    assert.equal(identityOf(srv, 'google', sub)?.userId, a.uid, 'linked with link=1 while signed in');

    const before = snapshot(srv);
    const r = await browserSignin(srv, op, 'google', sub, { rd: `${srv.url}/app` });
    assert.equal(r.res.status, 303, r.res.text.slice(0, 300));
    assert.equal(new URL(r.res.headers.location, srv.url).pathname, '/signin/mfa');
    assert.equal(r.session, undefined, 'not signed in yet');
    const mfa = setValue(r.res, MFA);
    assert.ok(mfa, 'the second-factor step cookie');
    assert.equal(snapshot(srv).sessions, before.sessions, 'no session yet');
    const wrong = await finishMfa(srv, mfa, '000000');
    assert.equal(wrong.status, 401);
    const ok = await finishMfa(srv, mfa, a.backup.shift());
    assert.equal(ok.status, 303, ok.text.slice(0, 300));
    const session = setValue(ok, SESSION);
    assert.ok(session);
    assert.equal((await meByCookie(srv, cookieHeader({ [SESSION]: session }))).json.id, a.uid);
  });

  test('rd to another host is ignored: the sign-in lands on /account', async () => {
    for (const rd of ['https://evil.example/x', '//evil.example/x', 'javascript:alert(1)', `${srv.url}.evil.example/`]) {
      const sub = `g-${rand(6)}`;
      op.addUser({ sub, email: uniqueEmail(), email_verified: true });
      const r = await browserSignin(srv, op, 'google', sub, { rd });
      assert.equal(r.res.status, 303, `${rd}: ${r.res.status}`);
      assert.equal(r.res.headers.location, `${srv.url}/account`, rd);
      assert.ok(!r.s.res.headers.location.includes('evil.example'), 'the provider never sees it either');
    }
  });

  test('native: a nonce of ours and an ID token for a native client id sign in; the nonce is single use; the web client id is refused', async () => {
    const sub = `n-${rand(6)}`;
    const email = uniqueEmail();
    const nonce = async (p = 'google') => {
      const r = await api(srv.url, 'POST', `/v1/oauth/${p}/nonce`, { json: {} });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.expires_in, 600);
      assert.match(r.json.nonce, /^[A-Za-z0-9_-]{22,}$/);
      return r.json.nonce;
    };
    const token = (n, claims = {}) => op.signIdToken({ sub, aud: NATIVE, nonce: n, email, email_verified: true, ...claims });
    const n1 = await nonce();
    const r = await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(n1), nonce: n1 } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.access_token && r.json.refresh_token);
    const me = await api(srv.url, 'GET', '/v1/me', { token: r.json.access_token });
    assert.equal(me.json.email, email);
    assert.equal(identityOf(srv, 'google', sub)?.userId, me.json.id);

    const before = snapshot(srv);
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(n1), nonce: n1 } }), 401, 'invalid_id_token', 'a replayed nonce');
    const n2 = await nonce();
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(n2, { aud: op.clientId }), nonce: n2 } }), 401, 'invalid_id_token', 'the web client id');
    const n3 = await nonce();
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(crypto.randomBytes(16).toString('base64url')), nonce: n3 } }), 401, 'invalid_id_token', 'the token holds another nonce');
    const forged = crypto.randomBytes(16).toString('base64url');
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(forged), nonce: forged } }), 401, 'invalid_id_token', 'a nonce we never issued');
    const n4 = await nonce('apple');
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(n4), nonce: n4 } }), 401, 'invalid_id_token', "another provider's nonce");
    assert.deepEqual(snapshot(srv), before, 'nothing changed');

    // the same token with n3 (spent by the refusal above? then refused too): a fresh nonce works once more
    const n5 = await nonce();
    const ok = await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: await token(n5), nonce: n5, mode: 'cookie' }, headers: { Origin: srv.url } });
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.headers.get('set-cookie')?.includes(`${SESSION}=`), 'mode cookie sets the session cookie');
  });

  test('native: an address taken by an account -> 409 link_required, nothing changed', async () => {
    const a = await signup(srv);
    const n = (await api(srv.url, 'POST', '/v1/oauth/google/nonce', { json: {} })).json.nonce;
    const before = snapshot(srv);
    const t = await op.signIdToken({ sub: `n-${rand(6)}`, aud: NATIVE, nonce: n, email: a.email, email_verified: true });
    assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: t, nonce: n } }), 409, 'link_required');
    assert.deepEqual(snapshot(srv), before);
  });
});

describe('federated sign-in: Apple shape (form_post)', () => {
  let env, srv, op;
  before(async () => {
    env = await startWithOp('apple', { nativeClients: [NATIVE] });
    ({ srv } = env);
    op = env.ops.apple;
  });
  after(async () => { await env?.stop(); });

  test('start asks for form_post; in development over http the state cookie is Lax (None needs Secure)', async () => {
    const s = await start(srv, 'apple', {});
    assert.equal(s.location.searchParams.get('response_mode'), 'form_post');
    assert.equal(s.location.searchParams.get('redirect_uri'), `${srv.url}/v1/oauth/apple/callback`);
    const c = cookiesOf(s.res)[OAUTH];
    assert.ok(c.attrs.includes('SameSite=Lax') && c.attrs.includes('HttpOnly'), c.line);
  });

  test('with https (real cookies) the state cookie of a form_post provider is __Host-, Secure, SameSite=None', async () => {
    const PUBLIC = 'https://auth.example.test';
    const other = await startOp('apple', { redirectUri: `${PUBLIC}/v1/oauth/apple/callback` });
    const s2 = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, ...other.gatehouseEnv('APPLE') } });
    try {
      const r = await req(s2, 'GET', '/v1/oauth/apple/start');
      assert.equal(r.status, 303, r.text);
      assert.equal(new URL(r.headers.location).searchParams.get('redirect_uri'), `${PUBLIC}/v1/oauth/apple/callback`);
      const c = cookiesOf(r)['__Host-gh_oauth'];
      assert.ok(c, r.setCookie.join('\n'));
      for (const a of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=None']) assert.ok(c.attrs.includes(a), `${a} in ${c.line}`);
      assert.ok(!c.line.includes('Domain'));
    } finally { await s2.stop(); await other.stop(); }
  });

  test('the first sign-in (the provider sends `user`) creates the account; the second (no `user`) is the same account', async () => {
    const sub = `001${rand(6)}.apple`;
    const email = `${rand(6)}@privaterelay.appleid.com`;
    op.addUser({ sub, email, email_verified: true, is_private_email: true, name: 'Grace Hopper' });
    const r = await browserSignin(srv, op, 'apple', sub, { rd: `${srv.url}/app` });
    assert.equal(r.cb.method, 'POST');
    assert.ok(r.cb.form.user, 'the provider sent the name');
    assert.equal(r.res.status, 303, r.res.text.slice(0, 400));
    assert.equal(r.res.headers.location, `${srv.url}/app`);
    assert.equal(op.clientAuths.at(-1)?.ok, true, `Gatehouse's ES256 client secret is accepted: ${op.clientAuths.at(-1)?.reason}`);
    assert.equal(op.clientAuths.at(-1).header.alg, 'ES256');
    assert.equal(op.clientAuths.at(-1).header.kid, op.team.keyId);
    const me = await meByCookie(srv, r.cookie);
    assert.equal(me.status, 200);
    assert.equal(me.json.email, email);
    assert.equal(identityOf(srv, 'apple', sub)?.userId, me.json.id);

    const r2 = await browserSignin(srv, op, 'apple', sub);
    assert.equal(r2.cb.form.user, undefined, 'no name the second time');
    assert.equal(r2.res.status, 303);
    assert.equal((await meByCookie(srv, r2.cookie)).json.id, me.json.id);
  });

  // The callback reads Apple's `user` field into the claims (oauth_http.c
  // apple_name); the new account keeps it in users.name.
  test('the name from `user` is kept on the account', async () => {
    const sub = `001${rand(6)}.apple`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true, name: 'Katherine Johnson' });
    const r = await browserSignin(srv, op, 'apple', sub);
    assert.equal(r.res.status, 303);
    const me = await meByCookie(srv, r.cookie);
    assert.equal(me.json.name ?? nameOf(srv, me.json.id), 'Katherine Johnson');
  });

  test("Apple's client-secret JWT and the team key never reach the log or the database", async () => {
    const sub = `001${rand(6)}.apple`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true });
    const r = await browserSignin(srv, op, 'apple', sub);
    assert.equal(r.res.status, 303);
    const seen = op.secretsSeen.at(-1);
    assert.ok(seen.client_secret?.split('.').length === 3, 'a JWT client secret was sent');
    const pem = fs.readFileSync(op.team.keyFile, 'utf8');
    const keyBody = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const secrets = { client_secret_jwt: seen.client_secret, client_secret_sig: seen.client_secret.split('.')[2], team_key: keyBody.slice(0, 40), code: r.cb.form.code };
    await new Promise((res) => setTimeout(res, 100));
    for (const [name, v] of Object.entries(secrets)) assert.ok(!srv.stderr().includes(v), `${name} is in the log`);
    assertNotInDb(srv.dbPath, secrets);
  });

  test('native: Apple hashes the nonce (hex SHA-256) in the token', async () => {
    const n = (await api(srv.url, 'POST', '/v1/oauth/apple/nonce', { json: {} })).json.nonce;
    const hashed = crypto.createHash('sha256').update(n).digest('hex');
    const t = await op.signIdToken({ sub: `001${rand(6)}.apple`, aud: NATIVE, nonce: hashed, email: uniqueEmail(), email_verified: 'true' });
    const r = await api(srv.url, 'POST', '/v1/oauth/apple/token', { json: { id_token: t, nonce: n } });
    assert.equal(r.status, 200, r.text);
  });
});

describe('federated sign-in: settings', () => {
  test('GATEHOUSE_SIGNUP=closed: no account is created by a provider (403 signup_closed, page and native API), nothing changed', async () => {
    const env = await startWithOp('google', { env: { GATEHOUSE_SIGNUP: 'closed' }, nativeClients: [NATIVE] });
    try {
      const { srv, op } = env;
      const sub = `g-${rand(6)}`;
      op.addUser({ sub, email: uniqueEmail(), email_verified: true });
      const before = snapshot(srv);
      const r = await browserSignin(srv, op, 'google', sub);
      assert.equal(r.res.status, 403, r.res.text.slice(0, 300));
      assert.match(r.res.headers['content-type'], /^text\/html/);
      assert.equal(r.session, undefined);
      assert.deepEqual(snapshot(srv), before);
      const n = (await api(srv.url, 'POST', '/v1/oauth/google/nonce', { json: {} })).json.nonce;
      const t = await op.signIdToken({ sub, aud: NATIVE, nonce: n, email: uniqueEmail(), email_verified: true });
      assertError(await api(srv.url, 'POST', '/v1/oauth/google/token', { json: { id_token: t, nonce: n } }), 403, 'signup_closed');
      assert.deepEqual(snapshot(srv), before);
    } finally { await env.stop(); }
  });

  test('trust_provider_mfa on: an amr with a second factor counts; without it the second factor is asked', async () => {
    const env = await startWithOp('google', { env: { GATEHOUSE_OIDC_GOOGLE_TRUST_PROVIDER_MFA: 'on' } });
    try {
      const { srv, op } = env;
      const a = await accountWithTotp(srv);
      const s = await cookieSignin(srv, a.email, a.password, a.backup.shift());
      const sub = `g-${rand(6)}`;
      op.addUser({ sub, email: a.email, email_verified: true, amr: ['pwd', 'mfa'] });
      const l = await browserSignin(srv, op, 'google', sub, { link: true, rd: '/account', cookie: s.cookie });
      assert.equal(l.res.status, 303);
      assert.equal(identityOf(srv, 'google', sub)?.userId, a.uid);
      const r = await browserSignin(srv, op, 'google', sub);
      assert.equal(r.res.status, 303);
      assert.ok(r.session, `the provider's second factor counts: ${r.res.headers.location}`);
      op.updateUser(sub, { amr: ['pwd'] });
      const r2 = await browserSignin(srv, op, 'google', sub);
      assert.equal(new URL(r2.res.headers.location, srv.url).pathname, '/signin/mfa');
      assert.equal(r2.session, undefined);
    } finally { await env.stop(); }
  });
});
