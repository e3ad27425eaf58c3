// The test provider itself (tests/api/lib/oidc_op.mjs), without Gatehouse:
// a real oidc-provider in the Google and the Apple shape serves discovery
// and its JWKS, a programmatic sign-in yields a code (query or form_post),
// the code redeems at the token endpoint (client_secret_basic + PKCE;
// Apple's ES256 client-secret JWT) for an ID token whose claims are the
// configured ones, verified here with jose against the served JWKS; and
// each rewrite of the tampering relay gives a token that verification
// refuses for the reason it is meant to.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { startOp, pkcePair, TAMPER_KINDS } from './lib/oidc_op.mjs';

const RP = 'http://127.0.0.1:9/v1/oauth/x/callback'; // never contacted

function authorizeUrl(op, { pkce, state = crypto.randomBytes(12).toString('base64url'), nonce = crypto.randomBytes(12).toString('base64url'), scope = 'openid email profile', mode } = {}) {
  const u = new URL(`${op.issuer}/auth`);
  u.searchParams.set('client_id', op.clientId);
  u.searchParams.set('redirect_uri', op.redirectUri);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('scope', scope);
  u.searchParams.set('state', state);
  u.searchParams.set('nonce', nonce);
  if (pkce) {
    u.searchParams.set('code_challenge', pkce.challenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  if (mode) u.searchParams.set('response_mode', mode);
  return { url: u.href, state, nonce };
}

async function verify(op, idToken, extra = {}) {
  const jwks = jose.createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
  return jose.jwtVerify(idToken, jwks, { issuer: op.issuer, audience: op.clientId, algorithms: ['RS256'], ...extra });
}

describe('oidc_op: Google shape', () => {
  let op;
  before(async () => { op = await startOp('google', { redirectUri: RP }); });
  after(async () => { await op.stop(); });

  test('discovery and JWKS are served through the relay', async () => {
    const d = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(d.issuer, op.issuer);
    assert.equal(d.authorization_endpoint, `${op.issuer}/auth`);
    assert.equal(d.token_endpoint, `${op.issuer}/token`);
    assert.equal(d.jwks_uri, `${op.issuer}/jwks`);
    assert.ok(d.code_challenge_methods_supported.includes('S256'));
    assert.ok(d.response_modes_supported.includes('form_post'));
    assert.deepEqual(d.response_types_supported, ['code']);
    const jwks = await (await fetch(d.jwks_uri)).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kid, op.kid);
    assert.equal(jwks.keys[0].d, undefined, 'no private part in the JWKS');
  });

  test('a sign-in yields a code in the query; it redeems for the configured claims', async () => {
    op.addUser({ sub: 'g-1', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', amr: ['pwd', 'mfa'] });
    const pkce = pkcePair();
    const a = authorizeUrl(op, { pkce });
    const cb = await op.login(a.url, { sub: 'g-1' });
    assert.equal(cb.method, 'GET');
    const u = new URL(cb.url);
    assert.equal(u.origin + u.pathname, RP);
    assert.equal(u.searchParams.get('state'), a.state);
    const code = u.searchParams.get('code');
    assert.ok(code && code.length > 20, cb.url);
    assert.equal(u.searchParams.get('iss'), op.issuer);

    const t = await op.redeem(code, { verifier: pkce.verifier });
    assert.equal(t.status, 200, t.text);
    const { payload, protectedHeader } = await verify(op, t.json.id_token);
    assert.equal(protectedHeader.kid, op.kid);
    assert.equal(payload.sub, 'g-1');
    assert.equal(payload.email, 'ada@example.com');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Ada Lovelace');
    assert.equal(payload.nonce, a.nonce);
    assert.deepEqual(payload.amr, ['pwd', 'mfa']);
    assert.equal(op.tokenRequests.at(-1).basic, true, 'client_secret_basic');

    const again = await op.redeem(code, { verifier: pkce.verifier });
    assert.equal(again.status, 400, 'a code redeems once');
    assert.equal(again.json.error, 'invalid_grant');
  });

  test('PKCE is required, and the verifier must match', async () => {
    op.addUser({ sub: 'g-2', email: 'b@example.com', email_verified: false });
    const cb = await op.login(authorizeUrl(op).url, { sub: 'g-2' });
    const u = new URL(cb.url);
    assert.equal(u.searchParams.get('error'), 'invalid_request', cb.url);
    assert.equal(u.searchParams.get('code'), null);

    const pkce = pkcePair();
    const cb2 = await op.login(authorizeUrl(op, { pkce }).url, { sub: 'g-2' });
    const code = new URL(cb2.url).searchParams.get('code');
    const t = await op.redeem(code, { verifier: pkcePair().verifier });
    assert.equal(t.status, 400);
    assert.equal(t.json.error, 'invalid_grant');
  });

  test('the login page is a real HTML form; email_verified false comes as JSON false', async () => {
    op.addUser({ sub: 'g-3', email: 'c@example.com', email_verified: false, name: 'C' });
    const pkce = pkcePair();
    const a = authorizeUrl(op, { pkce });
    const jar = new op.Jar();
    const r = await fetch(a.url, { redirect: 'manual' });
    assert.equal(r.status, 303);
    jar.take(r.headers.getSetCookie());
    const page = await fetch(new URL(r.headers.get('location'), op.issuer), { headers: { Cookie: jar.header() } });
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /<form method="post" action="\/interaction\/[^"]+\/login">/);
    assert.match(html, /<select id="sub" name="sub">.*<option value="g-3">c@example.com<\/option>/s);
    assert.match(html, /<button type="submit">Sign in<\/button>/);
    const cb = await op.login(a.url, { sub: 'g-3' });
    const t = await op.redeem(new URL(cb.url).searchParams.get('code'), { verifier: pkce.verifier });
    const { payload } = await verify(op, t.json.id_token);
    assert.equal(payload.email_verified, false);
  });

  test('each rewrite of the relay fails verification for its reason', async () => {
    op.addUser({ sub: 'g-4', email: 'd@example.com', email_verified: true, name: 'D' });
    const expect = {
      alg_none: /Unsupported "alg"|alg/i,
      unknown_key: /no applicable key found/i,
      unknown_key_same_kid: /signature verification failed/i,
      hs256_public_key: /alg/i,
      other_audience: /"aud" claim/,
      expired: /"exp" claim/,
      other_issuer: /"iss" claim/,
      bad_signature: /signature verification failed/i,
    };
    const rkid = await op.rotateKey();
    for (const kind of TAMPER_KINDS) {
      const pkce = pkcePair();
      const a = authorizeUrl(op, { pkce });
      const cb = await op.login(a.url, { sub: 'g-4' });
      op.tamper(kind);
      const t = await op.redeem(new URL(cb.url).searchParams.get('code'), { verifier: pkce.verifier });
      assert.equal(t.status, 200, `${kind}: ${t.text}`);
      assert.equal(op.tampered.at(-1).kind, kind);
      assert.notEqual(op.tampered.at(-1).before, t.json.id_token, kind);
      if (expect[kind]) {
        await assert.rejects(verify(op, t.json.id_token), expect[kind], kind);
        continue;
      }
      const { payload, protectedHeader } = await verify(op, t.json.id_token);
      if (kind === 'rotated_key') assert.equal(protectedHeader.kid, rkid);
      else if (kind === 'wrong_nonce') assert.notEqual(payload.nonce, a.nonce);
      else if (kind === 'missing_nonce') assert.equal(payload.nonce, undefined);
      else if (kind === 'email_unverified') assert.equal(payload.email_verified, false);
      else assert.fail(`no expectation for ${kind}`);
    }
    // disarmed after one use
    const pkce = pkcePair();
    const a = authorizeUrl(op, { pkce });
    const cb = await op.login(a.url, { sub: 'g-4' });
    const t = await op.redeem(new URL(cb.url).searchParams.get('code'), { verifier: pkce.verifier });
    const { payload } = await verify(op, t.json.id_token);
    assert.equal(payload.nonce, a.nonce);
  });
});

describe('oidc_op: Apple shape', () => {
  let op;
  before(async () => { op = await startOp('apple', { redirectUri: RP }); });
  after(async () => { await op.stop(); });

  test('form_post carries the code; the name comes in `user` on the first authorization only', async () => {
    op.addUser({ sub: '001234.abcd', email: 'x7@privaterelay.appleid.com', email_verified: true, is_private_email: true, name: 'Grace Hopper' });
    const pkce = pkcePair();
    const a = authorizeUrl(op, { pkce, scope: 'openid email name', mode: 'form_post' });
    const cb = await op.login(a.url, { sub: '001234.abcd' });
    assert.equal(cb.method, 'POST');
    assert.equal(cb.url, RP);
    assert.equal(cb.form.state, a.state);
    assert.ok(cb.form.code);
    assert.deepEqual(JSON.parse(cb.form.user), { name: { firstName: 'Grace', lastName: 'Hopper' }, email: 'x7@privaterelay.appleid.com' });

    const t = await op.redeem(cb.form.code, { verifier: pkce.verifier });
    assert.equal(t.status, 200, t.text);
    assert.equal(op.clientAuths.at(-1).ok, true, op.clientAuths.at(-1).reason);
    assert.equal(op.tokenRequests.at(-1).basic, false, 'client_secret in the body');
    const { payload } = await verify(op, t.json.id_token);
    assert.equal(payload.sub, '001234.abcd');
    assert.equal(payload.email_verified, 'true', 'Apple sends a string');
    assert.equal(payload.is_private_email, 'true');
    assert.equal(payload.name, undefined, 'no name in the ID token');
    assert.equal(payload.nonce, a.nonce);

    const cb2 = await op.login(authorizeUrl(op, { pkce: pkcePair(), scope: 'openid email name', mode: 'form_post' }).url, { sub: '001234.abcd' });
    assert.ok(cb2.form.code);
    assert.equal(cb2.form.user, undefined, 'no name the second time');
  });

  test('the client secret must be an ES256 JWT of the team key, for this client and issuer', async () => {
    op.addUser({ sub: '002', email: 'e@example.com', email_verified: true });
    const tries = [
      ['another key', async () => op.appleClientSecret({ key: (await jose.generateKeyPair('ES256')).privateKey })],
      ['another audience', async () => op.appleClientSecret({ aud: 'https://appleid.apple.com.example' })],
      ['a plain secret', async () => op.clientSecret],
    ];
    for (const [what, make] of tries) {
      const pkce = pkcePair();
      const cb = await op.login(authorizeUrl(op, { pkce, mode: 'form_post' }).url, { sub: '002' });
      const secret = await make();
      const r = await fetch(`${op.issuer}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: cb.form.code, redirect_uri: RP, code_verifier: pkce.verifier, client_id: op.clientId, client_secret: secret }),
      });
      const j = await r.json();
      assert.equal(r.status, 401, `${what}: ${JSON.stringify(j)}`);
      assert.equal(j.error, 'invalid_client', what);
      assert.equal(op.clientAuths.at(-1).ok, false, what);
    }
  });

  test('down: the relay refuses connections', async () => {
    await op.down();
    await assert.rejects(fetch(`${op.issuer}/.well-known/openid-configuration`));
  });
});
