// Issue 9 item 4: the owner of an address is never locked out by a second
// factor enrolled by someone who never proved that address. Enrolment needs
// a verified address; an account that already holds such a factor (from
// before this rule) is released by `gatehouse users mfa-reset`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, runCli, api, signup, me, refresh, sql, sleep, assertError, markVerified,
} from './lib/harness.mjs';

const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

// The newest link of a kind ('magic-link', 'verify-email') mailed to email
// after `after` such messages (development outbox).
async function mailedLink(srv, kind, email, after = 0) {
  const outbox = path.join(srv.dataDir, 'outbox');
  const re = new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`);
  for (let i = 0; i < 100; i++) {
    const msgs = fs.existsSync(outbox) ? fs.readdirSync(outbox).map((f) => path.join(outbox, f))
      .sort((x, y) => fs.statSync(x).mtimeMs - fs.statSync(y).mtimeMs)
      .map((f) => fs.readFileSync(f, 'utf8')).filter((m) => m.includes(email) && re.test(m)) : [];
    if (msgs.length > after) return re.exec(msgs[msgs.length - 1])[1];
    await sleep(100);
  }
  throw new Error(`no ${kind} link for ${email}`);
}

describe('enrolling a second factor needs a proved address', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });
  const factors = (id) => sql(srv.dbPath, `SELECT count(*) FROM mfa_totp WHERE user_id = '${id}';`);

  test('someone who signs up with another person\'s address cannot enrol; the owner, once the address is proved, is not locked out', async () => {
    // the attacker signs up with the victim's address (verification is off by default)
    const attacker = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp', { token: attacker.access }), 403, 'email_not_verified');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: attacker.access, json: { code: '123456', password: attacker.password } }),
      403, 'email_not_verified');
    assert.equal(factors(attacker.user.id), '0', 'nothing stored');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE target = '${attacker.user.id}' AND action LIKE 'mfa.%';`), '0',
      'a refusal spends no guessing budget and writes no proof failure');

    // the owner proves the address by an emailed link: a session, no second-factor challenge
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: attacker.email } })).status, 202);
    const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: await mailedLink(srv, 'magic-link', attacker.email) } });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.mfa_required, undefined, 'no factor stands in the owner\'s way');
    assert.equal((await me(srv, v.json.access_token)).status, 200);
    assertError(await me(srv, attacker.access), 401, 'invalid_token', 'the attacker\'s session ended with the reclaim');

    // and now that the address is proved, its owner may set up a factor
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: v.json.access_token });
    assert.equal(b.status, 200, b.text);
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: v.json.access_token, json: { code: oathtool(b.json.secret) } });
    assert.equal(c.status, 200, c.text);
  });

  test('an enrolment begun while the address was proved is not confirmed once it is not (the check is at both steps)', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(b.status, 200, b.text);
    sql(srv.dbPath, `UPDATE users SET email_verified_at = NULL WHERE id = '${a.user.id}';`);
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } }), 403, 'email_not_verified');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM mfa_totp WHERE user_id = '${a.user.id}' AND confirmed_at IS NOT NULL;`), '0');
  });

  test('a confirmed address (resend, then the link) allows enrolment', async () => {
    const a = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access }), 403, 'email_not_verified');
    assert.equal((await api(srv.url, 'POST', '/v1/email/verify/resend', { token: a.access })).status, 202);
    const ev = await api(srv.url, 'POST', '/v1/email/verify', { json: { token: await mailedLink(srv, 'verify-email', a.email) } });
    assert.equal(ev.status, 204, ev.text);
    assert.equal((await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access })).status, 200);
  });
});

describe('an enrolment-only session (GATEHOUSE_MFA_REQUIRED=all) can confirm its address, then enrol', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_MFA_REQUIRED: 'all' } }); });
  after(async () => { await srv?.stop(); });

  test('resend is allowed, other routes are not; after the link the factor is set up and the session is full', async () => {
    const a = await signup(srv);
    assert.equal(a.body.mfa_enrolment_required, true);
    assertError(await me(srv, a.access), 403, 'mfa_enrolment_required');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access }), 403, 'email_not_verified');
    const rs = await api(srv.url, 'POST', '/v1/email/verify/resend', { token: a.access });
    assert.equal(rs.status, 202, rs.text);
    const ev = await api(srv.url, 'POST', '/v1/email/verify', { json: { token: await mailedLink(srv, 'verify-email', a.email) } });
    assert.equal(ev.status, 204, ev.text);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(b.status, 200, b.text);
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
    assert.equal(c.status, 200, c.text);
    assert.equal((await me(srv, a.access)).status, 200);
  });
});

describe('gatehouse users mfa-reset', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });
  const reset = (...args) => runCli(['users', 'mfa-reset', ...args], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });

  // An account whose factor was enrolled before its address was proved (as
  // the versions before issue 9 allowed).
  async function lockedOut() {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
    assert.equal(c.status, 200, c.text);
    sql(srv.dbPath, `UPDATE users SET email_verified_at = NULL WHERE id = '${a.user.id}';`);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    assert.equal(s.json.mfa_required, true, 'the password alone meets the factor');
    return a;
  }
  const factor = (a) => sql(srv.dbPath, `SELECT (SELECT count(*) FROM mfa_totp WHERE user_id = '${a.user.id}') || '|' ||`
    + ` (SELECT count(*) FROM mfa_backup_codes WHERE user_id = '${a.user.id}');`);

  test('removes the factor and backup codes, ends the sessions, audits mfa.reset with the reason; the owner signs in with the password alone', async () => {
    const a = await lockedOut();
    assert.equal(factor(a), '1|10');
    const reason = 'ticket #42: owner proved "the address" — ünïcode';
    const r = reset(a.email.toUpperCase(), '--reason', reason);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed/);
    assert.equal(factor(a), '0|0');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM sessions WHERE user_id = '${a.user.id}' AND revoked_at IS NULL;`), '0', 'every session ended');
    assertError(await refresh(srv, a.refresh), 401, undefined, 'an old refresh token');
    const row = sql(srv.dbPath, `SELECT actor || '|' || target || '|' || details FROM audit_log WHERE action = 'mfa.reset';`);
    const [actor, target, details] = row.split('|');
    assert.equal(actor, 'system');
    assert.equal(target, a.user.id);
    assert.deepEqual(JSON.parse(details), { factor: 'totp', reason, sessions: 'revoked' });
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.mfa_required, undefined);
    assert.equal((await me(srv, s.json.access_token)).status, 200);
    const v = runCli(['audit', 'verify'], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    // once more: nothing to remove, exit 1
    const again = reset(a.email, '--reason', 'twice');
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /has no second factor; nothing was changed/);
  });

  test('refused without a reason, for an unknown address, or with bad arguments; nothing changes; --help prints help', async () => {
    const a = await lockedOut();
    for (const [args, re] of [
      [[a.email], /--reason is required/],
      [[a.email, '--reason'], /--reason needs a value/],
      [[a.email, '--reason', '  '], /must not be empty/],
      [[a.email, '--reason', 'x'.repeat(501)], /longer than 500 bytes/],
      [[a.email, '--reason', 'ok', '--force'], /unknown option/],
      [['--reason', 'ok'], /which account/],
      [['not-an-address', '--reason', 'ok'], /not an email address/],
      [['nobody-here@example.com', '--reason', 'ok'], /no account has that address/],
    ]) {
      const r = reset(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    assert.equal(factor(a), '1|10', 'the factor is still there');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE action = 'mfa.reset' AND target = '${a.user.id}';`), '0');
    const h = reset('--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /users mfa-reset <email> --reason TEXT/);
    assert.match(runCli(['--help']).stdout, /users mfa-reset/);
  });
});
