// Issue 9, item 18: the integration contract. /.well-known/openid-configuration,
// the start line naming issuer, audience and JWKS URL, and the verification
// snippets of docs/api.md run as they are (docs/snippets/verify.mjs with jose,
// docs/snippets/verify.py with Debian's python3-jwt) against a live server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer, api, signup, sleep, REPO_ROOT, decodePart } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SNIPPETS = path.join(REPO_ROOT, 'docs', 'snippets');

// The Node snippet imports 'jose', which resolves from the importing file's
// folder: run a byte-for-byte copy placed next to this suite's node_modules.
function runNode(args) {
  const copy = path.join(here, `.snippet-verify-${crypto.randomBytes(4).toString('hex')}.mjs`);
  fs.copyFileSync(path.join(SNIPPETS, 'verify.mjs'), copy);
  try {
    return spawnSync(process.execPath, [copy, ...args], { encoding: 'utf8', timeout: 20000 });
  } finally {
    fs.unlinkSync(copy);
  }
}
// Debian's python3-jwt belongs to the system python, which a pyenv or venv
// earlier in PATH would hide.
const PYTHON = process.env.GATEHOUSE_PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
function runPython(args) {
  return spawnSync(PYTHON, [path.join(SNIPPETS, 'verify.py'), ...args], { encoding: 'utf8', timeout: 20000 });
}
const RUNNERS = { node: runNode, python: runPython };

describe('discovery document and start line', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_AUDIENCE: 'orders-api' } }); });
  after(async () => { await srv.stop(); });

  test('GET /.well-known/openid-configuration: issuer, jwks_uri, ES256, only what exists', async () => {
    const r = await api(srv.url, 'GET', '/.well-known/openid-configuration');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
    const d = r.json;
    assert.equal(d.issuer, srv.url);
    assert.equal(d.jwks_uri, `${srv.url}/.well-known/jwks.json`);
    assert.equal(d.token_endpoint, `${srv.url}/v1/token`);
    assert.deepEqual(d.id_token_signing_alg_values_supported, ['ES256']);
    assert.deepEqual(d.subject_types_supported, ['public']);
    assert.deepEqual(d.response_types_supported, []);
    assert.deepEqual(d.grant_types_supported, ['refresh_token']);
    assert.equal(d.gatehouse_audience, 'orders-api');
    assert.equal(d.authorization_endpoint, undefined, 'no authorization endpoint is claimed');
    assert.equal(d.userinfo_endpoint, undefined);
    // every endpoint listed exists: none answers 404
    for (const [k, url] of Object.entries(d.gatehouse_endpoints)) {
      const [method, p] = k.split(' ');
      assert.ok(url.startsWith(srv.url));
      const res = await api(srv.url, method, p.replace('{id}', crypto.randomUUID()).replace('{provider}', 'google'));
      // No provider is configured here: a provider's routes answer 404 for
      // it (oauth_http.test.mjs checks they exist once one is).
      if (!p.startsWith('/v1/oauth/')) assert.notEqual(res.status, 404, `${k} exists`);
    }
    assert.ok(d.gatehouse_endpoints['POST /v1/signin']);
    // the JWKS it names verifies the tokens the issuer signs
    const jwks = await (await fetch(d.jwks_uri)).json();
    const a = await signup(srv);
    const kid = decodePart(a.access, 0).kid;
    assert.ok(jwks.keys.some((k) => k.kid === kid));
    assert.equal(decodePart(a.access, 1).iss, d.issuer);
  });

  test('one line at start names issuer, audience and JWKS URL', () => {
    const lines = srv.stderrLines().filter((l) => /"tokens: issuer /.test(l));
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).msg,
      `tokens: issuer ${srv.url}, audience orders-api, JWKS ${srv.url}/.well-known/jwks.json (ES256)`);
  });

  test('a GATEHOUSE_ISSUER with a path and a trailing slash: URLs under it, issuer exact', async () => {
    const s2 = await startServer({ env: { GATEHOUSE_ISSUER: 'https://auth.example.com/gh/' } });
    try {
      const d = (await api(s2.url, 'GET', '/.well-known/openid-configuration')).json;
      assert.equal(d.issuer, 'https://auth.example.com/gh/');
      assert.equal(d.jwks_uri, 'https://auth.example.com/gh/.well-known/jwks.json');
    } finally {
      await s2.stop();
    }
  });
});

for (const [lang, run] of Object.entries(RUNNERS)) {
  describe(`docs/snippets verify a live token: ${lang}`, () => {
    let srv; let shortSrv;
    before(async () => {
      srv = await startServer({ env: { GATEHOUSE_AUDIENCE: 'orders-api' } });
      shortSrv = await startServer({ env: { GATEHOUSE_ACCESS_TTL: '8' } }); // room for a loaded machine before exp
    });
    after(async () => { await srv.stop(); await shortSrv.stop(); });

    test('a fresh access token verifies: issuer, audience, exp', async () => {
      const a = await signup(srv);
      const r = run([srv.url, 'orders-api', a.access]);
      assert.equal(r.status, 0, r.stderr);
      const claims = JSON.parse(r.stdout);
      assert.equal(claims.sub, a.user.id);
      assert.equal(claims.iss, srv.url);
      assert.equal(claims.aud, 'orders-api');
      assert.ok(claims.exp > Date.now() / 1000);
    });

    test('a wrong audience, a wrong issuer, a tampered or an expired token are refused', async () => {
      const a = await signup(srv);
      let r = run([srv.url, 'gatehouse', a.access]);
      assert.equal(r.status, 1, `wrong audience: ${r.stdout}`);
      assert.match(r.stderr, /aud|audience/i);
      r = run([`${srv.url}/`, 'orders-api', a.access]);
      assert.notEqual(r.status, 0, 'an issuer that is not exactly iss');
      const [h, p, sig] = a.access.split('.');
      const body = JSON.parse(Buffer.from(p, 'base64url'));
      body.sub = crypto.randomUUID();
      r = run([srv.url, 'orders-api', `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${sig}`]);
      assert.equal(r.status, 1, 'a changed claim breaks the signature');
      const b = await signup(shortSrv);
      assert.equal(run([shortSrv.url, 'gatehouse', b.access]).status, 0, 'valid before exp');
      await sleep(decodePart(b.access, 1).exp * 1000 + 1100 - Date.now()); // past exp, no leeway
      r = run([shortSrv.url, 'gatehouse', b.access]);
      assert.equal(r.status, 1, `expired: ${r.stdout}`);
      assert.match(r.stderr, /exp|Expired/i);
    });
  });
}
