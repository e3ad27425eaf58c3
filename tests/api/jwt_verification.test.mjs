import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import {
  jwtVerify, createRemoteJWKSet, importPKCS8, SignJWT, generateKeyPair, decodeProtectedHeader, decodeJwt,
  exportJWK, calculateJwkThumbprint,
} from 'jose';
import net from 'node:net';
import {
  startServer, api, signup, signin, me, assertError, rand, sleep,
} from './lib/harness.mjs';

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function hs256(header, claims, secret) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  const sig = crypto.createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

describe('JWT access tokens and JWKS (default issuer/audience)', () => {
  let srv;
  let jwks;
  let kid;
  let ourKey; // server's private key from signing-key.pem
  let pem;
  before(async () => {
    srv = await startServer();
    const r = await api(srv.url, 'GET', '/.well-known/jwks.json');
    assert.equal(r.status, 200, r.text);
    jwks = r.json;
    kid = jwks.keys[0].kid;
    pem = fs.readFileSync(path.join(srv.dataDir, 'signing-key.pem'), 'utf8');
    ourKey = await importPKCS8(pem, 'ES256');
  });
  after(async () => { await srv?.stop(); });

  const forge = (claims, header = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid, ...header }).sign(ourKey);

  const baseClaims = (acct, over = {}) => ({
    iss: srv.url,
    aud: 'gatehouse',
    sub: acct.user.id,
    sid: decodeJwt(acct.access).sid,
    iat: now() - 5,
    exp: now() + 600,
    jti: rand(12),
    ...over,
  });

  test('JWKS publishes one P-256 public key and never the private part', async () => {
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1);
    for (const k of jwks.keys) {
      assert.equal(k.kty, 'EC');
      assert.equal(k.crv, 'P-256');
      assert.equal(k.alg, 'ES256');
      assert.equal(k.use, 'sig');
      assert.equal(typeof k.kid, 'string');
      assert.ok(k.kid.length > 0);
      assert.match(k.x, /^[A-Za-z0-9_-]{43}$/);
      assert.match(k.y, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(k.d, undefined, 'private key component "d" must not be published');
    }
    const r = await api(srv.url, 'GET', '/.well-known/jwks.json');
    assert.ok(!/"d"\s*:/.test(r.text), 'no "d" anywhere in the JWKS document');
    assert.match(r.headers.get('content-type') || '', /json/);
  });

  test('the JWKS key is the public half of signing-key.pem', async () => {
    const pub = crypto.createPublicKey(pem).export({ format: 'jwk' });
    const k = jwks.keys.find((x) => x.kid === kid);
    assert.equal(k.x, pub.x);
    assert.equal(k.y, pub.y);
  });

  test('access token verifies with jose against the remote JWKS and carries the documented claims', async () => {
    const a = await signup(srv);
    const JWKS = createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    const { payload, protectedHeader } = await jwtVerify(a.access, JWKS, {
      issuer: `http://${srv.listen}`, audience: 'gatehouse', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.kid, kid);
    assert.equal(payload.sub, a.user.id);
    assert.equal(typeof payload.sid, 'string');
    assert.ok(payload.sid.length > 0);
    assert.equal(typeof payload.jti, 'string');
    assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp));
    assert.ok(Math.abs(payload.iat - now()) < 60, 'iat is now');
    assert.equal(payload.exp - payload.iat, 3600);
    // jti unique across tokens, also for the same session after refresh
    const b = await signin(srv, a.email, a.password);
    const pb = decodeJwt(b.access);
    assert.notEqual(pb.jti, payload.jti);
    assert.notEqual(pb.sid, payload.sid, 'new sign-in, new session');
    const rr = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } });
    assert.equal(rr.status, 200);
    const pr = decodeJwt(rr.json.access_token);
    assert.notEqual(pr.jti, payload.jti);
    assert.equal(pr.sid, payload.sid);
    await jwtVerify(rr.json.access_token, JWKS, { issuer: srv.url, audience: 'gatehouse', algorithms: ['ES256'] });
  });

  test('control: a token we sign with the server key and correct claims IS accepted (so the negative tests mean something)', async () => {
    const a = await signup(srv);
    const t = await forge(baseClaims(a));
    const m = await me(srv, t);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.id, a.user.id);
  });

  describe('forged or invalid tokens are rejected with 401 invalid_token on /v1/me', () => {
    let acct;
    before(async () => { acct = await signup(srv); });

    const reject = async (token, what) => {
      const r = await me(srv, token);
      assertError(r, 401, 'invalid_token', what);
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer/i, `${what}: WWW-Authenticate`);
    };

    test('alg "none" (and casing variants), empty signature', async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        const t = `${b64u({ alg, typ: 'JWT', kid })}.${b64u(baseClaims(acct))}.`;
        await reject(t, `alg ${alg}`);
        await reject(t.slice(0, -1), `alg ${alg} without trailing dot`);
      }
    });

    test('HS256 keyed with the public JWK JSON or the PEM public key (algorithm confusion)', async () => {
      const claims = baseClaims(acct);
      const jwk = jwks.keys.find((x) => x.kid === kid);
      const pubPem = crypto.createPublicKey(pem).export({ type: 'spki', format: 'pem' });
      const pubDer = crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' });
      const secrets = {
        'JWK JSON': JSON.stringify(jwk),
        'JWKS key JSON (x,y only)': JSON.stringify({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }),
        'PEM public key': pubPem,
        'PEM public key (no trailing newline)': pubPem.trimEnd(),
        'DER public key': pubDer,
        'x||y raw': Buffer.concat([Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]),
      };
      for (const [name, secret] of Object.entries(secrets)) {
        await reject(hs256({ alg: 'HS256', typ: 'JWT', kid }, claims, secret), `HS256 with ${name}`);
      }
    });

    test('ES384 and RS256 with the test\'s own keys and the server kid', async () => {
      for (const alg of ['ES384', 'RS256', 'PS256', 'ES512']) {
        const { privateKey } = await generateKeyPair(alg);
        const t = await new SignJWT(baseClaims(acct)).setProtectedHeader({ alg, typ: 'JWT', kid }).sign(privateKey);
        await reject(t, alg);
      }
    });

    test('ES256 signed by a different P-256 key carrying the server kid', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const t = await new SignJWT(baseClaims(acct)).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(privateKey);
      await reject(t, 'foreign ES256 key');
    });

    test('key-location headers (jku, x5u, an embedded jwk, x5c) and path-like kids: refused, no outbound connection', async () => {
      // issue 9 item 14: a listener that counts any connection the server makes
      let hits = 0;
      const trap = net.createServer((s) => { hits++; s.destroy(); });
      await new Promise((r) => trap.listen(0, '127.0.0.1', r));
      const trapUrl = `http://127.0.0.1:${trap.address().port}`;
      try {
        const { privateKey, publicKey } = await generateKeyPair('ES256');
        const theirJwk = await exportJWK(publicKey);
        const theirKid = await calculateJwkThumbprint(theirJwk);
        const claims = baseClaims(acct);
        const headers = {
          jku: { jku: `${trapUrl}/.well-known/jwks.json` },
          x5u: { x5u: `${trapUrl}/cert.pem` },
          jwk: { jwk: theirJwk },
          x5c: { x5c: ['MIIBszCCAVmgAwIBAgIUQ2F0Y2hNZUlmWW91Q2Fu'] },
        };
        for (const [name, h] of Object.entries(headers)) {
          for (const k of [kid, theirKid]) {
            const t = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: k, ...h }).sign(privateKey);
            await reject(t, `${name}, the attacker's key, ${k === kid ? 'our' : 'its own'} kid`);
          }
          // a header Gatehouse never writes is refused even under the real key
          await reject(await forge(claims, h), `${name} on a token signed by the real key`);
        }
        for (const k of ['../../x', '../../../../../../dev/null', '/etc/passwd', `${kid}/../${kid}`, `../${kid}`, `${kid}\u0000`, '', 'x'.repeat(300)]) {
          const t = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: k }).sign(privateKey);
          await reject(t, `kid ${JSON.stringify(k)}, attacker's key`);
          await reject(await forge(claims, { kid: k }), `kid ${JSON.stringify(k)}, real key`);
        }
        await sleep(300);
        assert.equal(hits, 0, 'the server never connected to a URL named in a token header');
        // and the control still passes: the same claims, plain header, real key
        assert.equal((await me(srv, await forge(claims))).status, 200);
      } finally {
        trap.close();
      }
    });

    test('valid signature but exp in the past', async () => {
      await reject(await forge(baseClaims(acct, { iat: now() - 7200, exp: now() - 600 })), 'expired');
    });

    test('valid signature but no exp claim', async () => {
      const c = baseClaims(acct);
      delete c.exp;
      await reject(await forge(c), 'no exp');
    });

    test('valid signature but wrong or missing audience', async () => {
      await reject(await forge(baseClaims(acct, { aud: 'someone-else' })), 'wrong aud');
      await reject(await forge(baseClaims(acct, { aud: ['someone-else'] })), 'wrong aud array');
      const c = baseClaims(acct);
      delete c.aud;
      await reject(await forge(c), 'no aud');
    });

    test('valid signature but wrong or missing issuer', async () => {
      await reject(await forge(baseClaims(acct, { iss: 'http://evil.example' })), 'wrong iss');
      await reject(await forge(baseClaims(acct, { iss: srv.url + '/' })), 'iss with trailing slash');
      const c = baseClaims(acct);
      delete c.iss;
      await reject(await forge(c), 'no iss');
    });

    test('valid signature but nbf in the future', async () => {
      await reject(await forge(baseClaims(acct, { nbf: now() + 600 })), 'nbf future');
    });

    test('valid signature but sid of a revoked (signed-out) session', async () => {
      const s = await signin(srv, acct.email, acct.password);
      const sid = decodeJwt(s.access).sid;
      assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: s.access })).status, 204);
      await reject(await forge(baseClaims(acct, { sid })), 'revoked sid');
    });

    test('valid signature but unknown sid, or sub/sid belonging to different users', async () => {
      const other = await signup(srv);
      await reject(await forge(baseClaims(acct, { sid: decodeJwt(other.access).sid })), 'sub=A sid=B');
      await reject(await forge(baseClaims(other, { sid: decodeJwt(acct.access).sid })), 'sub=B sid=A');
      await reject(await forge(baseClaims(acct, { sid: `nope-${rand(4)}` })), 'unknown sid');
      await reject(await forge(baseClaims(acct, { sub: `nope-${rand(4)}` })), 'unknown sub');
      // both real tokens still work
      assert.equal((await me(srv, acct.access)).status, 200);
      assert.equal((await me(srv, other.access)).status, 200);
    });

    test('a real token with a flipped signature byte', async () => {
      const [h, p, s] = acct.access.split('.');
      const sig = Buffer.from(s, 'base64url');
      for (const i of [0, 20, 40, sig.length - 1]) {
        const bad = Buffer.from(sig);
        bad[i] ^= 0x01;
        await reject(`${h}.${p}.${bad.toString('base64url')}`, `flipped sig byte ${i}`);
      }
    });

    test('a real token with a modified payload', async () => {
      const [h, , s] = acct.access.split('.');
      const other = await signup(srv);
      const claims = decodeJwt(acct.access);
      await reject(`${h}.${b64u({ ...claims, sub: other.user.id })}.${s}`, 'payload swapped');
    });

    test('truncated and malformed tokens', async () => {
      const t = acct.access;
      const [h, p] = t.split('.');
      for (const [name, bad] of [
        ['truncated by 1', t.slice(0, -1)],
        ['truncated by 10', t.slice(0, -10)],
        ['half', t.slice(0, Math.floor(t.length / 2))],
        ['no signature', `${h}.${p}`],
        ['empty signature', `${h}.${p}.`],
        ['extra segment', `${t}.${t.split('.')[2]}`],
        ['header only', h],
        ['dots', '..'],
        ['not base64', `${h}.${p}.!!!!`],
        ['signature of 65 bytes', `${h}.${p}.${Buffer.concat([Buffer.from(t.split('.')[2], 'base64url'), Buffer.from([0])]).toString('base64url')}`],
      ]) {
        await reject(bad, name);
      }
      assert.equal(decodeProtectedHeader(t).alg, 'ES256');
    });
  });
});

describe('custom GATEHOUSE_ISSUER / GATEHOUSE_AUDIENCE', () => {
  let srv;
  const issuer = 'https://auth.gatehouse.test';
  const audience = 'my-api';
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_ISSUER: issuer, GATEHOUSE_AUDIENCE: audience } });
  });
  after(async () => { await srv?.stop(); });

  test('tokens carry and verify with the configured iss/aud', async () => {
    const a = await signup(srv);
    const JWKS = createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    const { payload } = await jwtVerify(a.access, JWKS, { issuer, audience, algorithms: ['ES256'] });
    assert.equal(payload.iss, issuer);
    assert.equal(payload.aud, audience);
    await assert.rejects(jwtVerify(a.access, JWKS, { issuer: srv.url, algorithms: ['ES256'] }));
    assert.equal((await me(srv, a.access)).status, 200);
  });

  test('a token with the default iss/aud, signed with the server key, is rejected here', async () => {
    const a = await signup(srv);
    const { keys } = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
    const key = await importPKCS8(fs.readFileSync(path.join(srv.dataDir, 'signing-key.pem'), 'utf8'), 'ES256');
    const claims = {
      iss: issuer, aud: audience, sub: a.user.id, sid: decodeJwt(a.access).sid,
      iat: now(), exp: now() + 600, jti: rand(8),
    };
    const sign = (c) => new SignJWT(c).setProtectedHeader({ alg: 'ES256', kid: keys[0].kid }).sign(key);
    assert.equal((await me(srv, await sign(claims))).status, 200, 'control: configured iss/aud accepted');
    assertError(await me(srv, await sign({ ...claims, aud: 'gatehouse' })), 401, 'invalid_token', 'default aud');
    assertError(await me(srv, await sign({ ...claims, iss: srv.url })), 401, 'invalid_token', 'default iss');
  });
});
