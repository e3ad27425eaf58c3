// Issue 9 item 11: a new second factor ends the account's other sessions
// (ASVS 7.4.3).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, signin, me, refresh, sql, assertError, markVerified,
} from './lib/harness.mjs';

const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

async function enrol(srv, token) {
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token });
  assert.equal(b.status, 200, b.text);
  const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token, json: { code: oathtool(b.json.secret) } });
  assert.equal(c.status, 200, c.text);
  return { secret: b.json.secret, backup: c.json.backup_codes };
}

describe('a new factor ends the other sessions (ASVS 7.4.3)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('after confirming, another session\'s access and refresh tokens stop working at once; the enrolling session keeps working', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const enroller = await signin(srv, a.email, a.password);
    // the other session is in the auth cache (a /v1/me answered from memory) before the change
    assert.equal((await me(srv, a.access)).status, 200);
    assert.equal((await me(srv, a.access)).status, 200);
    await enrol(srv, enroller.access);
    assertError(await me(srv, a.access), 401, 'invalid_token', 'the other access token');
    assertError(await refresh(srv, a.refresh), 401, undefined, 'the other refresh token');
    assert.equal((await me(srv, enroller.access)).status, 200, 'the enrolling session stays');
    const r = await refresh(srv, enroller.refresh);
    assert.equal(r.status, 200, r.text);
    assert.equal((await me(srv, r.json.access_token)).status, 200);
    const row = sql(srv.dbPath, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.enrolled';`);
    assert.deepEqual(JSON.parse(row), { factor: 'totp', other_sessions: 'revoked' });
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM sessions WHERE user_id = '${a.user.id}' AND revoked_at IS NULL;`), '1');
  });
});
