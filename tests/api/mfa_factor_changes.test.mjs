// Issue 9 items 11 and 12: a new second factor ends the account's other
// sessions (ASVS 7.4.3), and removing a factor or regenerating backup codes
// needs a current factor *and* the password, or for an account without a
// password a sign-in that passed the factor within GATEHOUSE_REAUTH_WINDOW
// (ASVS 7.5.1).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, signin, me, refresh, sql, sleep, assertError, decodePart, markVerified, hexOf, groupConcat, nowSql,
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

  // An owner who did not add (or remove) the factor finds out: someone who
  // got the address confirmed on an account they created can enrol, but
  // the address hears of it.
  test('the address is told when a factor is added and when it is removed', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const { backup } = await enrol(srv, a.access);
    const outbox = path.join(srv.dataDir, 'outbox');
    const notices = (word) => (fs.existsSync(outbox) ? fs.readdirSync(outbox) : [])
      .map((f) => fs.readFileSync(path.join(outbox, f), 'utf8'))
      .filter((m) => m.includes(`To: <${a.email}>`) && m.includes(`A second factor was ${word}`));
    for (let t = 0; t < 60 && !notices('added').length; t++) await sleep(100);
    assert.equal(notices('added').length, 1, 'one notice of the new factor');
    const r = await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: a.access, json: { code: backup[0], password: a.password } });
    assert.equal(r.status, 204, r.text);
    for (let t = 0; t < 60 && !notices('removed').length; t++) await sleep(100);
    assert.equal(notices('removed').length, 1, 'one notice of the removal');
  });
});

describe('changing a factor needs a code and the password (ASVS 7.5.1)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  // An account with TOTP, a session that removes/regenerates ("stolen"),
  // and another session of the owner's.
  async function setup() {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const { secret, backup } = await enrol(srv, a.access);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    const owner = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: backup[9] } });
    assert.equal(owner.status, 200, owner.text);
    return { a, secret, backup, owner: owner.json };
  }
  const state = (a) => sql(srv.dbPath, `SELECT (SELECT count(*) FROM mfa_totp WHERE user_id = '${a.user.id}' AND confirmed_at IS NOT NULL),`
    + ` (SELECT ${groupConcat('h')} FROM (SELECT ${hexOf('code_hash')} AS h FROM mfa_backup_codes WHERE user_id = '${a.user.id}' ORDER BY 1) t);`);

  for (const [method, p] of [['DELETE', '/v1/mfa/totp'], ['POST', '/v1/mfa/backup-codes']]) {
    test(`${method} ${p}: a stolen access token with a phished password but no code is refused, and nothing changes`, async () => {
      const { a, backup, owner } = await setup();
      const before0 = state(a);
      assertError(await api(srv.url, method, p, { token: a.access, json: { password: a.password } }), 422, 'missing_field');
      assertError(await api(srv.url, method, p, { token: a.access, json: { password: a.password, code: '000000' } }), 403, 'proof_failed');
      assert.equal(state(a), before0, 'the factor and the backup codes are as they were');
      assert.equal((await me(srv, owner.access_token)).status, 200, 'the owner\'s other session is alive');
      assert.equal((await refresh(srv, owner.refresh_token)).status, 200);
      // a code without the password is refused as well, and a code is not spent by a wrong password
      assertError(await api(srv.url, method, p, { token: a.access, json: { code: backup[0] } }), 422, 'missing_field');
      assertError(await api(srv.url, method, p, { token: a.access, json: { code: backup[0], password: 'a phished but wrong one' } }), 403, 'proof_failed');
      assert.equal(state(a), before0);
      assert.equal(sql(srv.dbPath, `SELECT count(*) FROM mfa_backup_codes WHERE user_id = '${a.user.id}' AND used_at IS NOT NULL;`), '1',
        'only the code used at sign-in is spent');
      assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.proof_failed';`), '2',
        'each wrong proof spent the account budget and was audited');
      // both: done
      const ok = await api(srv.url, method, p, { token: a.access, json: { code: backup[0], password: a.password } });
      assert.ok(ok.status === 204 || ok.status === 200, ok.text);
      assert.notEqual(state(a), before0);
      const row = sql(srv.dbPath, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action IN ('mfa.removed', 'mfa.backup_codes_regenerated');`);
      assert.equal(JSON.parse(row).proof, 'backup_code+password');
    });
  }
});

describe('an account without a password: a recent sign-in that passed the factor stands in for it', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_MAGIC_LINK_SIGNUP: 'on', GATEHOUSE_REAUTH_WINDOW: '600' } });
  });
  after(async () => { await srv?.stop(); });

  // The next sign-in link mailed (other mail, such as the notice of a new
  // factor, may arrive in between).
  const used = new Set();
  async function magicLink(email) {
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email } })).status, 202);
    const outbox = path.join(srv.dataDir, 'outbox');
    for (let i = 0; i < 100; i++) {
      const files = fs.existsSync(outbox) ? fs.readdirSync(outbox) : [];
      for (const x of files) {
        if (used.has(x)) continue;
        const t = /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(fs.readFileSync(path.join(outbox, x), 'utf8'));
        if (!t) continue;
        used.add(x);
        return api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: t[1] } });
      }
      await sleep(100);
    }
    throw new Error('no mail');
  }

  test('within the window the code alone will do; a session that did not pass the factor, or one past the window, is refused', async () => {
    const email = `pwless${Date.now()}@example.com`;
    const first = await magicLink(email);
    assert.equal(first.status, 200, first.text);
    const { backup } = await enrol(srv, first.json.access_token);
    // the enrolling session signed in recently, but with the link alone
    const p = '/v1/mfa/backup-codes';
    assertError(await api(srv.url, 'POST', p, { token: first.json.access_token, json: { code: backup[0] } }), 403, 'reauth_required');
    assertError(await api(srv.url, 'POST', p, { token: first.json.access_token, json: {} }), 422, 'missing_field');

    const ch = await magicLink(email);
    assert.equal(ch.json.mfa_required, true, ch.text);
    const s = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: ch.json.mfa_token, code: backup[1] } });
    assert.equal(s.status, 200, s.text);
    assertError(await api(srv.url, 'POST', p, { token: s.json.access_token, json: { code: '000000' } }), 403, 'proof_failed');
    const r = await api(srv.url, 'POST', p, { token: s.json.access_token, json: { code: backup[2] } });
    assert.equal(r.status, 200, r.text);
    const row = sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'mfa.backup_codes_regenerated' ORDER BY id DESC LIMIT 1;`);
    assert.equal(JSON.parse(row).proof, 'backup_code+recent_signin');

    // past the window: sign in again
    sql(srv.dbPath, `UPDATE sessions SET mfa_at = mfa_at - 601 WHERE id = '${decodePart(s.json.access_token, 1).sid}';`);
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: s.json.access_token, json: { code: r.json.backup_codes[0] } }), 403, 'reauth_required');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM mfa_backup_codes WHERE code_hash IS NOT NULL AND used_at IS NULL AND user_id = '${s.json.user.id}';`), '10',
      'the refused request spent no code');
    // 5 s inside the window, from the database's clock (the steps above may
    // take more than a second on a loaded machine or a remote database)
    sql(srv.dbPath, `UPDATE sessions SET mfa_at = ${nowSql()} - 595 WHERE id = '${decodePart(s.json.access_token, 1).sid}';`);
    const del = await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: s.json.access_token, json: { code: r.json.backup_codes[0] } });
    assert.equal(del.status, 204, `just inside the window: ${del.text}`);
  });
});
