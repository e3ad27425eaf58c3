import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, rawRequest, signup, assertError, uniqueEmail, strongPassword, sleep,
  markVerified,
} from './lib/harness.mjs';

const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
};

function assertSecurityHeaders(res, what) {
  for (const [h, v] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(res.headers.get(h), v, `${what}: header ${h}`);
  }
  const rid = res.headers.get('x-request-id');
  assert.ok(rid && rid.length > 0, `${what}: X-Request-Id present`);
}

describe('response headers', () => {
  let srv;
  let acct;
  before(async () => {
    // grace 0: a spent refresh token gets 401 token_reused at once
    srv = await startServer({ env: { GATEHOUSE_MAX_BODY: '4096', GATEHOUSE_REFRESH_REUSE_GRACE: '0' } });
    acct = await signup(srv);
  });
  after(async () => { await srv?.stop(); });

  // The newest link of a kind mailed to an address (development outbox).
  async function outboxLink(kind, email) {
    const outbox = path.join(srv.dataDir, 'outbox');
    const re = new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`);
    for (let i = 0; i < 100; i++) {
      const msgs = fs.existsSync(outbox) ? fs.readdirSync(outbox).map((f) => path.join(outbox, f))
        .sort((x, y) => fs.statSync(x).mtimeMs - fs.statSync(y).mtimeMs)
        .map((f) => fs.readFileSync(f, 'utf8')).filter((m) => m.includes(email) && re.test(m)) : [];
      if (msgs.length) return re.exec(msgs[msgs.length - 1])[1];
      await sleep(100);
    }
    throw new Error(`no ${kind} link for ${email}`);
  }

  // Routes that hand out (or take) a secret: TOTP seed, backup codes, MFA
  // challenge, tokens. Run in order: each step sets up the next. The fourth
  // element marks them: their replies must be Cache-Control: no-store.
  const st = {};
  const secretCases = () => [
    ['POST /v1/mfa/totp (401)', () => api(srv.url, 'POST', '/v1/mfa/totp'), 401, true],
    ['POST /v1/mfa/totp (200)', async () => {
      st.m = await signup(srv);
      markVerified(srv, st.m.user.id);
      const r = await api(srv.url, 'POST', '/v1/mfa/totp', { token: st.m.access });
      st.secret = r.json?.secret;
      return r;
    }, 200, true],
    ['POST /v1/mfa/totp/confirm (422)', () => api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: st.m.access, json: { code: '000000' } }), 422, true],
    ['POST /v1/mfa/totp/confirm (200)', async () => {
      const r = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: st.m.access, json: { code: oathtool(st.secret) } });
      st.backup = r.json?.backup_codes;
      return r;
    }, 200, true],
    ['POST /v1/mfa/backup-codes (403)', () => api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: st.m.access, json: { code: st.backup[0], password: 'wrong password here' } }), 403, true],
    ['POST /v1/mfa/backup-codes (200)', () => api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: st.m.access, json: { code: st.backup[0], password: st.m.password }, headers: { 'Idempotency-Key': 'hdr-1' } }), 200, true],
    ['POST /v1/mfa/backup-codes (200, idempotent replay)', async () => {
      const r = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: st.m.access, json: { code: st.backup[0], password: st.m.password }, headers: { 'Idempotency-Key': 'hdr-1' } });
      assert.equal(r.headers.get('idempotent-replayed'), 'true');
      return r;
    }, 200, true],
    ['POST /v1/signin (200, mfa_required)', async () => {
      const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: st.m.email, password: st.m.password } });
      st.challenge = r.json?.mfa_token;
      return r;
    }, 200, true],
    ['POST /v1/signin/mfa (401)', () => api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: st.challenge, code: '000000' } }), 401, true],
    ['POST /v1/signin/mfa (200)', () => api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: st.challenge, code: oathtool(st.secret, 1) } }), 200, true],
    ['POST /v1/magic-link/verify (401)', () => api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: 'x'.repeat(43) } }), 401, true],
    ['POST /v1/magic-link/verify (200)', async () => {
      st.l = await signup(srv);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: st.l.email } })).status, 202);
      return api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: await outboxLink('magic-link', st.l.email) } });
    }, 200, true],
    ['POST /v1/password/reset (401)', () => api(srv.url, 'POST', '/v1/password/reset', { json: { token: 'x'.repeat(43), new_password: strongPassword() } }), 401, true],
    ['POST /v1/password/reset (204)', async () => {
      assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: st.l.email } })).status, 202);
      return api(srv.url, 'POST', '/v1/password/reset', { json: { token: await outboxLink('reset-password', st.l.email), new_password: strongPassword() } });
    }, 204, true],
  ];

  const cases = () => [
    ['GET /healthz (200)', () => api(srv.url, 'GET', '/healthz'), 200],
    ['GET jwks (200)', () => api(srv.url, 'GET', '/.well-known/jwks.json'), 200],
    ['POST /v1/signup (201)', () => api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } }), 201],
    ['POST /v1/signin (200)', () => api(srv.url, 'POST', '/v1/signin', { json: { email: acct.email, password: acct.password } }), 200],
    ['POST /v1/signin (401)', () => api(srv.url, 'POST', '/v1/signin', { json: { email: acct.email, password: 'wrong wrong wrong' } }), 401],
    ['GET /v1/me (200)', () => api(srv.url, 'GET', '/v1/me', { token: acct.access }), 200],
    ['GET /v1/me (401)', () => api(srv.url, 'GET', '/v1/me'), 401],
    ['GET /v1/sessions (200)', () => api(srv.url, 'GET', '/v1/sessions', { token: acct.access }), 200],
    ['POST /v1/token (401)', () => api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: 'nope' } }), 401],
    ['GET /nope (404)', () => api(srv.url, 'GET', '/nope'), 404],
    ['GET /v1/signup (405)', () => api(srv.url, 'GET', '/v1/signup'), 405],
    ['POST signup too large (413)', () => api(srv.url, 'POST', '/v1/signup', { body: JSON.stringify({ email: uniqueEmail(), password: 'x'.repeat(5000) }), headers: { 'Content-Type': 'application/json' } }), 413],
    ['POST signup text/plain (415)', () => api(srv.url, 'POST', '/v1/signup', { body: '{}', headers: { 'Content-Type': 'text/plain' } }), 415],
    ['POST signup bad json (400)', () => api(srv.url, 'POST', '/v1/signup', { body: '{', headers: { 'Content-Type': 'application/json' } }), 400],
    ['POST signup weak (422)', () => api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: 'password1234' } }), 422],
    ...secretCases(),
  ];

  test('every response carries the security headers and an X-Request-Id; every reply of a route with a secret is no-store', async () => {
    let secrets = 0;
    for (const [name, fn, status, secret] of cases()) {
      const r = await fn();
      assert.equal(r.status, status, `${name}: ${r.text.slice(0, 200)}`);
      assertSecurityHeaders(r, name);
      if (secret) {
        assert.equal(r.headers.get('cache-control'), 'no-store', `${name}: Cache-Control`);
        secrets++;
      }
    }
    assert.equal(secrets, 14, 'every secret route was tried');
  });

  test('Cache-Control: no-store on signup, signin, token and me responses (success and failure)', async () => {
    const a = await signup(srv);
    const rs = {
      signup: await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } }),
      signin: await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } }),
      'signin 401': await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: 'wrong wrong wrong' } }),
      token: await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } }),
      'token 401': await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: 'nope' } }),
      me: await api(srv.url, 'GET', '/v1/me', { token: a.access }),
    };
    for (const [name, r] of Object.entries(rs)) {
      assert.match(r.headers.get('cache-control') || '', /(^|,\s*)no-store(\s*,|$)/, `${name} Cache-Control`);
    }
  });

  test('headers on sessions, password, sign-out and conflict responses (204s and errors), all no-store', async () => {
    const rs = [];
    const add = (name, status, r) => rs.push([name, status, r]);
    const a = await signup(srv);
    const a2 = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    const other = await signup(srv);

    add('GET /v1/sessions (200)', 200, await api(srv.url, 'GET', '/v1/sessions', { token: a.access }));
    const list = rs[0][2].json.sessions;
    const second = list.find((x) => !x.current);
    assert.ok(second, 'a second session to revoke');
    const otherList = await api(srv.url, 'GET', '/v1/sessions', { token: other.access });
    const otherId = otherList.json.sessions[0].id;
    add('DELETE /v1/sessions/{other user} (404)', 404, await api(srv.url, 'DELETE', `/v1/sessions/${otherId}`, { token: a.access }));
    add('DELETE /v1/sessions/{id} (204)', 204, await api(srv.url, 'DELETE', `/v1/sessions/${second.id}`, { token: a.access }));
    add('POST /v1/password wrong current (403)', 403, await api(srv.url, 'POST', '/v1/password',
      { token: a.access, json: { current_password: 'wrong wrong wrong', new_password: strongPassword() } }));
    add('POST /v1/password weak new (422)', 422, await api(srv.url, 'POST', '/v1/password',
      { token: a.access, json: { current_password: a.password, new_password: 'password1234' } }));
    add('POST /v1/password (204)', 204, await api(srv.url, 'POST', '/v1/password',
      { token: a.access, json: { current_password: a.password, new_password: strongPassword() } }));
    add('POST /v1/signup taken (409)', 409, await api(srv.url, 'POST', '/v1/signup', { json: { email: other.email, password: strongPassword() } }));
    assert.equal((await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: other.refresh } })).status, 200);
    const reused = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: other.refresh } });
    add('POST /v1/token reused (401)', 401, reused);
    assert.equal(reused.json?.error?.code, 'token_reused');
    const b = await signup(srv);
    add('POST /v1/signout (204)', 204, await api(srv.url, 'POST', '/v1/signout', { token: b.access }));
    assert.equal(a2.status, 200);

    for (const [name, status, r] of rs) {
      assert.equal(r.status, status, `${name}: ${r.text.slice(0, 200)}`);
      assertSecurityHeaders(r, name);
      assert.equal(r.headers.get('cache-control'), 'no-store', `${name}: Cache-Control`);
    }
    // /v1/token is not bearer-protected: its 401s carry no challenge
    assert.equal(reused.headers.get('www-authenticate'), null);
    const bad = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: 'nope' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('www-authenticate'), null);
  });

  test('JSON responses are labelled application/json', async () => {
    for (const r of [await api(srv.url, 'GET', '/nope'), await api(srv.url, 'GET', '/v1/me', { token: acct.access })]) {
      assert.match(r.headers.get('content-type') || '', /^application\/json/);
    }
  });

  describe('X-Request-Id', () => {
    const sane = /^[A-Za-z0-9._-]{1,64}$/;

    test('a sane incoming id is echoed (also on errors)', async () => {
      for (const id of ['abc-123', 'A.b_c-1', 'x'.repeat(64)]) {
        for (const p of ['/healthz', '/nope']) {
          const r = await api(srv.url, 'GET', p, { headers: { 'X-Request-Id': id } });
          assert.equal(r.headers.get('x-request-id'), id, `${p} ${id}`);
        }
      }
    });

    test('without an incoming id a fresh one is generated per request', async () => {
      const ids = new Set();
      for (let i = 0; i < 5; i++) {
        const id = (await api(srv.url, 'GET', '/healthz')).headers.get('x-request-id');
        assert.match(id, sane);
        ids.add(id);
      }
      assert.equal(ids.size, 5, 'generated ids are unique');
    });

    for (const [name, value] of [
      ['too long (65 chars)', 'y'.repeat(65)],
      ['very long (1000 chars)', 'z'.repeat(1000)],
      ['contains spaces', 'abc 123'],
      ['contains a double quote', 'abc"123'],
      ['contains a single quote', "abc'123"],
      ['contains a backslash', 'abc\\123'],
      ['contains non-ASCII (UTF-8 bytes)', Buffer.from('abcé123', 'utf8').toString('latin1')],
      ['contains a JSON breakout', '","status":200,"x":"'],
      ['contains angle brackets', '<script>'],
    ]) {
      test(`an insane incoming id (${name}) is replaced by a generated one`, async () => {
        const r = await rawRequest(srv.port, { method: 'GET', path: '/healthz', headers: { 'X-Request-Id': value } });
        assert.equal(r.status, 200);
        const got = r.headers['x-request-id'];
        assert.ok(got, 'X-Request-Id present');
        assert.notEqual(got, value);
        assert.match(got, sane, `replacement id looks generated: ${JSON.stringify(got)}`);
      });
    }
  });

  describe('routing errors and bearer handling', () => {
    test('unknown paths -> 404 not_found', async () => {
      for (const p of ['/nope', '/v1', '/v1/', '/v1/mee', '/v1/me/extra', '/.well-known/jwks', '/V1/ME', '/v1/sessions/a/b', '/%00', '/v1/me%00']) {
        assertError(await api(srv.url, 'GET', p, { token: acct.access }), 404, 'not_found', p);
      }
    });

    test('wrong method on a known path -> 405 method_not_allowed', async () => {
      for (const [m, p] of [['GET', '/v1/signup'], ['GET', '/v1/signin'], ['PUT', '/v1/token'], ['DELETE', '/v1/me'],
        ['POST', '/v1/me'], ['POST', '/.well-known/jwks.json'], ['PATCH', '/v1/sessions'], ['GET', '/v1/password'],
        ['DELETE', '/healthz'], ['GET', '/v1/signout']]) {
        const r = await api(srv.url, m, p, { token: acct.access });
        assertError(r, 405, 'method_not_allowed', `${m} ${p}`);
      }
    });

    test('missing or garbage bearer -> 401 invalid_token with WWW-Authenticate: Bearer', async () => {
      for (const [name, headers] of [
        ['none', {}],
        ['garbage', { Authorization: 'Bearer garbage' }],
        ['empty bearer', { Authorization: 'Bearer ' }],
        ['scheme only', { Authorization: 'Bearer' }],
        ['basic', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
        ['token without scheme', { Authorization: acct.access }],
        ['token with wrong scheme', { Authorization: `Token ${acct.access}` }],
        ['jwt-looking garbage', { Authorization: 'Bearer aaa.bbb.ccc' }],
      ]) {
        const r = await api(srv.url, 'GET', '/v1/me', { headers });
        assertError(r, 401, 'invalid_token', name);
        assert.match(r.headers.get('www-authenticate') || '', /^Bearer\b/, `${name}: WWW-Authenticate`);
      }
    });

    test('tokens in the URL are ignored', async () => {
      for (const q of [`?access_token=${acct.access}`, `?token=${acct.access}`]) {
        const r = await api(srv.url, 'GET', '/v1/me' + q);
        assertError(r, 401, 'invalid_token', q.slice(0, 15));
      }
      // and a query string does not break a legitimate request
      assert.equal((await api(srv.url, 'GET', '/v1/me?x=1', { token: acct.access })).status, 200);
    });
  });
});
