// Attacks on the federated sign-in callback (issue 13), against the real
// ASan server and a real oidc-provider behind a relay that rewrites the ID
// token of the token endpoint's answer (tests/api/lib/oidc_op.mjs). Each
// refusal is an error page ("Sign-in with Google didn't work", 400; 502
// when the provider cannot be reached), and nothing changed: no session
// cookie, no second-factor step, no pending link, no account, no identity,
// no session row, no signin.success; a signin.failure names the provider.
// The attacks and what Gatehouse answered are printed as a table (the
// closing note of issue 13 lists them).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { sql, uniqueEmail, rand, signup, sleep, columnsOf } from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';
import { startWithOp } from './lib/oidc_op.mjs';
import {
  start, callback, browserSignin, snapshot, assertRefused, identityOf, setValue, cookieHeader,
  OAUTH, SESSION, LINK,
} from './lib/oidc_flow.mjs';

const results = [];
after(() => {
  console.log(`\nattack | status | result\n---|---|---\n${results.map((r) => `${r.what} | ${r.status} | ${r.result}`).join('\n')}`);
});
const failures = (srv) => Number(sql(srv.dbPath, "SELECT count(*) FROM audit_log WHERE action = 'signin.failure';"));

describe('attacks on the callback (Google shape)', () => {
  let env, srv, op;
  before(async () => {
    env = await startWithOp(['google', 'apple']);
    ({ srv } = env);
    op = env.ops.google;
  });
  after(async () => { await env?.stop(); });

  const WHY_RE = /provider google: the code or ID token was refused \(([^)]*)\)/g;
  /** A person at the provider with a fresh sub and address. */
  function person(extra = {}) {
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true, name: 'Victim', ...extra });
    return sub;
  }

  /** Runs an attack's callback; asserts the refusal and that nothing changed. */
  async function refused(what, sub, run, { status = 400 } = {}) {
    const before = snapshot(srv);
    const f0 = failures(srv);
    const whys0 = [...srv.stderr().matchAll(WHY_RE)].length;
    const t0 = Date.now();
    const res = await run();
    const ms = Date.now() - t0;
    assertRefused(srv, res, before, { status, display: 'Google', what });
    if (sub) assert.equal(identityOf(srv, 'google', sub), null, `${what}: no identity`);
    assert.ok(failures(srv) > f0, `${what}: a signin.failure row`);
    const d = JSON.parse(sql(srv.dbPath, "SELECT details FROM audit_log WHERE action = 'signin.failure' ORDER BY id DESC LIMIT 1;"));
    assert.equal(d.provider, 'google', `${what}: ${JSON.stringify(d)}`);
    assert.ok(typeof d.reason === 'string' && d.reason.length > 0, `${what}: a reason`);
    // the log's reason (fed_exchange_code's `why`) for a refused code or token
    await sleep(50);
    const whys = [...srv.stderr().matchAll(WHY_RE)];
    const why = whys.length > whys0 ? whys.at(-1)[1] : undefined;
    results.push({ what, status: res.status, result: `refused (${d.reason}${why ? `; log: ${why}` : ''}), nothing changed, ${ms} ms` });
    return { res, why };
  }

  test('wrong state: refused', async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    const u = new URL(cb.url);
    u.searchParams.set('state', crypto.randomBytes(24).toString('base64url'));
    await refused('wrong state', sub, () => callback(srv, { method: 'GET', url: u.href }, { cookie: s.cookie }));
  });

  test('missing state, missing code: refused', async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    const u = new URL(cb.url);
    u.searchParams.delete('state');
    await refused('no state parameter', sub, () => callback(srv, { method: 'GET', url: u.href }, { cookie: s.cookie }));
    const s2 = await start(srv, 'google', {});
    const u2 = new URL(`${srv.url}/v1/oauth/google/callback`);
    u2.searchParams.set('state', s2.state);
    await refused('no code parameter', null, () => callback(srv, { method: 'GET', url: u2.href }, { cookie: s2.cookie }));
  });

  test('no state cookie (login CSRF: a callback not started in this browser): refused', async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    await refused('callback without the state cookie', sub, () => callback(srv, cb, { cookie: undefined }));
  });

  test("another browser's state cookie (the attacker's code in the victim's browser): refused", async () => {
    const attacker = person();
    const victim = await start(srv, 'google', {});
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub: attacker });
    await refused("the attacker's callback with the victim's cookie", attacker, () => callback(srv, cb, { cookie: victim.cookie }));
  });

  test('an altered state cookie: refused', async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    const v = Buffer.from(s.oauth);
    v[v.length >> 1] = v[v.length >> 1] === 0x41 ? 0x42 : 0x41;
    await refused('a state cookie with one byte changed', sub, () => callback(srv, cb, { cookie: cookieHeader({ [OAUTH]: v.toString() }) }));
  });

  test('replayed state: the same callback twice (the second is refused and the code is not redeemed again)', async () => {
    const sub = person();
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    assert.ok(r.session);
    const tokenCalls = op.tokenRequests.length;
    await refused('replayed state (the same callback and cookie again)', null, () => callback(srv, r.cb, { cookie: r.s.cookie }));
    // the state is spent on the server too (its hash in oauth_nonces): the
    // replay stops before the provider's token endpoint
    assert.equal(op.tokenRequests.length, tokenCalls, 'the spent state stops it before the provider');
    results.at(-1).result += ' (stopped before the provider)';
  });

  test('a replayed authorization code (a new state of ours, the old code): refused by the provider', async () => {
    const sub = person();
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    const s = await start(srv, 'google', {});
    const u = new URL(r.cb.url);
    u.searchParams.set('state', s.state);
    const tokenCalls = op.tokenRequests.length;
    const { why } = await refused('a replayed authorization code', null, () => callback(srv, { method: 'GET', url: u.href }, { cookie: s.cookie }));
    assert.match(why ?? '', /invalid_grant/, 'the provider refused the spent code');
    assert.equal(op.tokenRequests.length, tokenCalls + 1, 'Gatehouse tried it at the token endpoint');
  });

  test('a code for another PKCE verifier (the code of a flow started elsewhere): refused', async () => {
    const sub = person();
    const other = await start(srv, 'google', {});
    const cb = await op.login(other.location.href, { sub });
    const mine = await start(srv, 'google', {});
    const u = new URL(cb.url);
    u.searchParams.set('state', mine.state);
    const { why } = await refused("another flow's code with my state", sub, () => callback(srv, { method: 'GET', url: u.href }, { cookie: mine.cookie }));
    assert.match(why ?? '', /invalid_grant/, 'the provider refused the PKCE verifier');
  });

  test("the provider's error (the person cancelled): refused", async () => {
    const s = await start(srv, 'google', {});
    const u = new URL(`${srv.url}/v1/oauth/google/callback`);
    u.searchParams.set('error', 'access_denied');
    u.searchParams.set('state', s.state);
    await refused('error=access_denied from the provider', null, () => callback(srv, { method: 'GET', url: u.href }, { cookie: s.cookie }));
  });

  // each refused for its own reason (the log's), not by a check further on
  const tokenAttacks = [
    ['alg_none', 'ID token with alg none', /alg/],
    ['unknown_key', 'ID token signed by an unknown key (kid not in the JWKS)', /unknown key/],
    ['unknown_key_same_kid', "ID token signed by another key under the provider's kid", /signature/],
    ['hs256_public_key', "ID token HS256 with the provider's public key as secret", /alg/],
    ['bad_signature', 'ID token with a flipped signature byte', /signature/],
    ['other_audience', 'ID token for another audience', /audience/],
    ['expired', 'expired ID token', /expired/],
    ['other_issuer', 'ID token from another issuer', /issuer/],
    ['wrong_nonce', 'ID token with a wrong nonce', /nonce/],
    ['missing_nonce', 'ID token without a nonce', /nonce/],
  ];
  for (const [kind, what, reason] of tokenAttacks) {
    test(`${what}: refused`, async () => {
      const sub = person();
      const s = await start(srv, 'google', {});
      const cb = await op.login(s.location.href, { sub });
      op.tamper(kind);
      const n = op.tampered.length;
      const { why } = await refused(what, sub, () => callback(srv, cb, { cookie: s.cookie }));
      assert.match(why ?? '(no reason logged)', reason, what);
      assert.equal(op.tampered.length, n + 1, `${what}: the relay rewrote the token`);
      assert.equal(op.tampered.at(-1).kind, kind);
    });
  }

  test('email_verified false (rewritten) for a free address: no account, the /signin/link page', async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    op.tamper('email_unverified');
    const before = snapshot(srv);
    const res = await callback(srv, cb, { cookie: s.cookie });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.equal(new URL(res.headers.location, srv.url).pathname, '/signin/link');
    assert.equal(setValue(res, SESSION), undefined);
    assert.deepEqual(snapshot(srv), before);
    results.push({ what: 'email_verified false, free address', status: res.status, result: '/signin/link, no account' });
  });

  test("email_verified false for an existing password account's address: not linked, no session", async () => {
    const a = await signup(srv);
    const sub = person({ email: a.email, email_verified: false });
    const before = snapshot(srv);
    const r = await browserSignin(srv, op, 'google', sub);
    assert.equal(r.res.status, 303);
    assert.equal(new URL(r.res.headers.location, srv.url).pathname, '/signin/link');
    assert.equal(r.session, undefined);
    assert.deepEqual(snapshot(srv), before);
    assert.equal(identityOf(srv, 'google', sub), null);
    results.push({ what: "email_verified false, an existing account's address", status: r.res.status, result: '/signin/link, not linked, no session' });
  });

  test("a callback at another provider's URL (mix-up): refused", async () => {
    const sub = person();
    const s = await start(srv, 'google', {});
    const cb = await op.login(s.location.href, { sub });
    const u = new URL(cb.url);
    u.pathname = '/v1/oauth/apple/callback';
    const before = snapshot(srv);
    const res = await callback(srv, { method: 'GET', url: u.href }, { cookie: s.cookie });
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.equal(setValue(res, SESSION), undefined);
    assert.deepEqual(snapshot(srv), before);
    results.push({ what: "google's code and state at apple's callback", status: res.status, result: 'refused, nothing changed' });
  });

  test('rd to another host: ignored (lands on /account)', async () => {
    for (const rd of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
      const sub = person();
      const r = await browserSignin(srv, op, 'google', sub, { rd });
      assert.equal(r.res.status, 303);
      assert.equal(r.res.headers.location, `${srv.url}/account`, rd);
      results.push({ what: `rd=${rd}`, status: r.res.status, result: `signed in, landed on ${new URL(r.res.headers.location).pathname}` });
    }
  });

  test('an unknown provider: 404, no state cookie', async () => {
    const r = await req(srv, 'GET', '/v1/oauth/nosuch/start');
    assert.equal(r.status, 404);
    assert.equal(cookiesOf(r)[OAUTH], undefined);
    const c = await req(srv, 'GET', '/v1/oauth/nosuch/callback?code=x&state=y');
    assert.equal(c.status, 404);
  });
});

describe('attacks on the form_post callback (Apple shape)', () => {
  let env, srv, op;
  before(async () => {
    env = await startWithOp('apple');
    ({ srv } = env);
    op = env.ops.apple;
  });
  after(async () => { await env?.stop(); });

  test('form_post: wrong state, no cookie, and the same POST twice are refused; nothing changed', async () => {
    const sub = `001${rand(6)}.apple`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true, name: 'Eve' });
    for (const [what, mutate, noCookie] of [
      ['wrong state', (cb) => ({ ...cb, form: { ...cb.form, state: crypto.randomBytes(24).toString('base64url') } })],
      ['no state cookie', (cb) => cb, true],
    ]) {
      const s = await start(srv, 'apple', {});
      const cb = await op.login(s.location.href, { sub });
      const before = snapshot(srv);
      const res = await callback(srv, mutate(cb), { cookie: noCookie ? undefined : s.cookie, origin: op.issuer });
      assertRefused(srv, res, before, { display: 'Apple', what });
      assert.equal(identityOf(srv, 'apple', sub), null);
      results.push({ what: `form_post: ${what}`, status: res.status, result: 'refused, nothing changed' });
    }
    const r = await browserSignin(srv, op, 'apple', sub);
    assert.equal(r.res.status, 303, r.res.text.slice(0, 300));
    const before = snapshot(srv);
    const again = await callback(srv, r.cb, { cookie: r.s.cookie, origin: op.issuer });
    assertRefused(srv, again, before, { display: 'Apple', what: 'form_post replayed' });
    results.push({ what: 'form_post: the same POST twice', status: again.status, result: 'refused, nothing changed' });
  });

  test('form_post: a forged `user` field never renames an existing account', async () => {
    const sub = `001${rand(6)}.apple`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true, name: 'Real Name' });
    const r = await browserSignin(srv, op, 'apple', sub);
    assert.equal(r.res.status, 303);
    const uid = identityOf(srv, 'apple', sub).userId;
    const cols = columnsOf(srv.dbPath, 'users');
    const col = ['name', 'display_name'].find((c) => cols.includes(c));
    const name0 = col ? sql(srv.dbPath, `SELECT ${col} FROM users WHERE id = '${uid}';`) : null;
    const r2 = await browserSignin(srv, op, 'apple', sub, {
      beforeCallback: (cb) => { cb.form.user = JSON.stringify({ name: { firstName: 'Mallory', lastName: 'X' } }); },
    });
    assert.equal(r2.res.status, 303);
    if (col) assert.equal(sql(srv.dbPath, `SELECT ${col} FROM users WHERE id = '${uid}';`), name0, 'the name is not changed by a later `user`');
  });
});

describe('the provider cannot be reached', () => {
  test('down before start: a 502 page (provider_unavailable), quickly, nothing changed', async () => {
    const env = await startWithOp('google');
    try {
      const { srv, op } = env;
      await op.down();
      const before = snapshot(srv);
      const t0 = Date.now();
      const r = await req(srv, 'GET', '/v1/oauth/google/start');
      const ms = Date.now() - t0;
      assert.equal(r.status, 502, r.text.slice(0, 300));
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.ok(ms < 5000, `answered in ${ms} ms`);
      assert.equal(setValue(r, SESSION), undefined);
      assert.deepEqual(snapshot(srv), before);
      // the request log line follows the reply
      for (let i = 0; i < 40 && !/"error":"provider_unavailable"/.test(srv.stderr()); i++) await sleep(50);
      assert.match(srv.stderr(), /"error":"provider_unavailable"/);
      results.push({ what: 'provider down at start', status: r.status, result: `provider_unavailable page in ${ms} ms` });
    } finally { await env.stop(); }
  });

  test('down between start and callback: a 502 page, quickly, nothing changed', async () => {
    const env = await startWithOp('google');
    try {
      const { srv, op } = env;
      const sub = `g-${rand(6)}`;
      op.addUser({ sub, email: uniqueEmail(), email_verified: true });
      const s = await start(srv, 'google', {});
      const cb = await op.login(s.location.href, { sub });
      await op.down();
      const before = snapshot(srv);
      const t0 = Date.now();
      const res = await callback(srv, cb, { cookie: s.cookie });
      const ms = Date.now() - t0;
      assertRefused(srv, res, before, { status: 502, display: 'Google', what: 'provider down at the callback' });
      assert.ok(ms < 5000, `answered in ${ms} ms`);
      results.push({ what: 'provider down at the callback', status: res.status, result: `error page in ${ms} ms, nothing changed` });
    } finally { await env.stop(); }
  });

  test('a provider that never answers: the server keeps answering others meanwhile, then a 502 page', async () => {
    const env = await startWithOp('google');
    try {
      const { srv, op } = env;
      const sub = `g-${rand(6)}`;
      op.addUser({ sub, email: uniqueEmail(), email_verified: true });
      const s = await start(srv, 'google', {});
      const cb = await op.login(s.location.href, { sub });
      op.hang(true);
      const t0 = Date.now();
      const pending = callback(srv, cb, { cookie: s.cookie });
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 5; i++) {
        const h0 = Date.now();
        const h = await req(srv, 'GET', '/healthz');
        assert.equal(h.status, 200);
        assert.ok(Date.now() - h0 < 1000, 'the event loop is not blocked');
      }
      const res = await pending;
      const ms = Date.now() - t0;
      assert.equal(res.status, 502, res.text.slice(0, 300));
      assert.equal(setValue(res, SESSION), undefined);
      assert.ok(ms < 31000, `gave up after ${ms} ms`);
      results.push({ what: 'provider accepts and never answers', status: res.status, result: `error page after ${ms} ms; /healthz answered meanwhile` });
    } finally { await env.stop(); }
  });
});
