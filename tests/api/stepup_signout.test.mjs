// Step-up (POST /v1/mfa/step-up and the /step-up page) and the sign-out
// page (docs/api.md "Pages"): a signed-in session proves its second factor
// again, and a gated app's sign-out link ends the session. TOTP codes are
// computed here (lib/browser.mjs). The https public URL makes cookies
// Secure and __Host- on loopback, as behind a TLS proxy.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, sql, assertError, markVerified } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };
const SESSION = '__Host-gh_session';
const CSRF = '__Host-gh_csrf';

/** A user with TOTP set up: { a (signup), secret, backup[] }; the TOTP
 *  step of now is used (the next one, +30 s, is still good once). */
async function withTotp(srv) {
  const a = await signup(srv);
  markVerified(srv, a.user.id);
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
  assert.equal(b.status, 200, b.text);
  const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: await totpCode(b.json.secret) } });
  assert.equal(c.status, 200, c.text);
  return { a, secret: b.json.secret, backup: c.json.backup_codes };
}

/** Signs in by cookie through the second step with a backup code. */
async function cookieSession(srv, u, backupIndex) {
  const s1 = await req(srv, 'POST', '/v1/signin', { json: { email: u.a.email, password: u.a.password, mode: 'cookie' }, headers: SAME });
  assert.equal(s1.status, 200, s1.text);
  assert.equal(s1.json.mfa_required, true);
  const s2 = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: s1.json.mfa_token, code: u.backup[backupIndex], mode: 'cookie' }, headers: SAME });
  assert.equal(s2.status, 200, s2.text);
  const c = cookiesOf(s2);
  const session = c[SESSION].value;
  const csrf = c[CSRF].value;
  const sid = sql(srv.dbPath, `SELECT s.id FROM sessions s JOIN refresh_tokens r ON r.session_id = s.id WHERE hex(r.token_hash) = upper('${(await import('node:crypto')).createHash('sha256').update(session).digest('hex')}');`).trim();
  return { session, csrf, cookie: `${SESSION}=${session}; ${CSRF}=${csrf}`, sid };
}

const mfaAt = (srv, sid) => Number(sql(srv.dbPath, `SELECT mfa_at FROM sessions WHERE id = '${sid}';`).trim());
const auditCount = (srv, action, uid) => Number(sql(srv.dbPath, `SELECT COUNT(*) FROM audit_log WHERE action = '${action}' AND target = '${uid}';`).trim());

describe('POST /v1/mfa/step-up', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC } }); });
  after(async () => { await srv?.stop(); });

  test('bearer: a TOTP code sets mfa_at now, audited as mfa.step_up; the same step again is refused', async () => {
    const u = await withTotp(srv);
    const sid = sql(srv.dbPath, `SELECT id FROM sessions WHERE user_id = '${u.a.user.id}' AND revoked_at IS NULL;`).trim();
    const before = mfaAt(srv, sid);
    const code = await totpCode(u.secret, Date.now() + 30000);
    const r = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } });
    assert.equal(r.status, 204, r.text);
    const at = mfaAt(srv, sid);
    assert.ok(at > before && Math.abs(at - Date.now() / 1000) < 5, `mfa_at ${at}`);
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 1);
    const d = sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'mfa.step_up' AND target = '${u.a.user.id}';`).trim();
    assert.deepEqual(JSON.parse(d), { method: 'totp', session_id: sid });
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } }), 422, 'code_mismatch', 'each step once');
  });

  test('a backup code works once; wrong codes are 422 code_mismatch and audited; the budget ends in 429', async () => {
    const u = await withTotp(srv);
    const ok = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[0] } });
    assert.equal(ok.status, 204, ok.text);
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[0] } }), 422, 'code_mismatch', 'a spent backup code');
    for (const code of ['000000', 'x', 'a'.repeat(200)]) {
      assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code } }), 422, 'code_mismatch', code.slice(0, 10));
    }
    assert.ok(auditCount(srv, 'mfa.proof_failed', u.a.user.id) >= 4);
    let last;
    for (let i = 0; i < 3; i++) last = await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: '111111' } });
    assertError(last, 429, 'rate_limited', 'the account budget (5 per 5 min, shared with the sign-in step)');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: u.a.access, json: { code: u.backup[1] } }), 429, 'rate_limited', 'even a right code waits');
  });

  test('no second factor: 409 mfa_not_enabled; no session: 401; bad bodies: 422', async () => {
    const a = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: '123456' } }), 409, 'mfa_not_enabled');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { json: { code: '123456' } }), 401, 'invalid_token');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: {} }), 422, 'missing_field');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: 123456 } }), 422, 'invalid_field');
    assertError(await api(srv.url, 'POST', '/v1/mfa/step-up', { token: a.access, json: { code: '1', x: 1 } }), 422, 'unknown_field');
  });

  test('by cookie: needs the CSRF header and our origin', async () => {
    const u = await withTotp(srv);
    const s = await cookieSession(srv, u, 0);
    const body = { code: u.backup[1] };
    assertError(await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: SAME }), 403, 'csrf_failed', 'no X-CSRF-Token');
    assertError(await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: { Origin: 'https://evil.example', 'X-CSRF-Token': s.csrf } }), 403, 'csrf_failed', 'foreign origin');
    const before = mfaAt(srv, s.sid);
    const ok = await req(srv, 'POST', '/v1/mfa/step-up', { json: body, cookie: s.cookie, headers: { ...SAME, 'X-CSRF-Token': s.csrf } });
    assert.equal(ok.status, 204, ok.text);
    assert.ok(mfaAt(srv, s.sid) >= before);
    assert.equal(auditCount(srv, 'mfa.step_up', u.a.user.id), 1);
  });
});
