// Adding a second factor needs a recent sign-in or the password (ASVS 7.5.1):
// a stolen access token alone must not plant an attacker's authenticator.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, runCli, mkTempDir, api, signup, sql, assertError, decodePart, markVerified, dbOf } from './lib/harness.mjs';

const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

describe('TOTP enrolment and re-authentication', () => {
  let srv; let db;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_REAUTH_WINDOW: '600' } });
    db = dbOf(srv.dataDir);
  });
  after(async () => { await srv?.stop(); });

  const age = (token, s) => sql(db, `UPDATE sessions SET created_at = created_at - ${s} WHERE id = '${decodePart(token, 1).sid}';`);
  const begin = async (a) => {
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(b.status, 200, b.text);
    return b.json.secret;
  };
  const confirm = (a, body) => api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: body });
  const enrolled = (a) => sql(db, `SELECT count(*) FROM mfa_totp WHERE user_id = '${a.user.id}' AND confirmed_at IS NOT NULL;`);

  test('a session signed in within the window confirms with the code alone', async () => {
    const a = await signup(srv);
    age(a.access, 590);
    const secret = await begin(a);
    assert.equal((await confirm(a, { code: oathtool(secret) })).status, 200);
    assert.equal(enrolled(a), '1');
  });

  test('an older session needs the password: without it 403 reauth_required, a wrong one 403 proof_failed, nothing enrolled', async () => {
    const a = await signup(srv);
    age(a.access, 601);
    const secret = await begin(a);
    assertError(await confirm(a, { code: oathtool(secret) }), 403, 'reauth_required');
    assertError(await confirm(a, { code: oathtool(secret), password: 'not the password at all' }), 403, 'proof_failed');
    assertError(await confirm(a, { code: oathtool(secret), password: 17 }), 422, 'invalid_field');
    assertError(await confirm(a, { code: oathtool(secret), password: 'x'.repeat(1025) }), 403, 'proof_failed', 'over the password length cap');
    assertError(await confirm(a, { code: oathtool(secret), password: a.password, extra: 1 }), 422, 'unknown_field');
    assert.equal(enrolled(a), '0');
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.proof_failed';`), '2');
    const ok = await confirm(a, { code: oathtool(secret), password: a.password });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.backup_codes.length, 10);
    assert.equal(enrolled(a), '1');
  });

  test('a wrong code with the right password still enrols nothing; the password is checked before the code', async () => {
    const a = await signup(srv);
    age(a.access, 3600);
    await begin(a);
    assertError(await confirm(a, { code: '000000', password: a.password }), 422, 'code_mismatch');
    assertError(await confirm(a, { code: '000000' }), 403, 'reauth_required', 'a code cannot stand in for the password');
    assert.equal(enrolled(a), '0');
  });

  test('an account without a password (magic link only) must sign in again', async () => {
    const a = await signup(srv);
    sql(db, `UPDATE users SET password_hash = '!' WHERE id = '${a.user.id}';`);
    age(a.access, 601);
    const secret = await begin(a);
    assertError(await confirm(a, { code: oathtool(secret) }), 403, 'reauth_required');
    assertError(await confirm(a, { code: oathtool(secret), password: a.password }), 403, 'proof_failed');
    assertError(await confirm(a, { code: oathtool(secret), password: '!' }), 403, 'proof_failed');
    assert.equal(enrolled(a), '0');
  });
});

test('a GATEHOUSE_REAUTH_WINDOW that is not 0..86400 seconds stops the start, naming it', () => {
  for (const v of ['abc', '-1', '86401', '10s']) {
    const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_REAUTH_WINDOW: v } });
    assert.notEqual(r.code, 0, v);
    assert.match(r.stderr, /GATEHOUSE_REAUTH_WINDOW/, v);
  }
  assert.equal(runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_REAUTH_WINDOW: '0' } }).code, 0);
});
