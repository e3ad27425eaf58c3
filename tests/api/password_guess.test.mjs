// POST /v1/password with a wrong current_password is a guess at the
// password (issue 9, item 5): it spends the sign-in budgets of the client
// IP + address and of the client IP, counts toward the address's lockout
// (and a lock stops sign-in too), and every wrong one is audited.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, api, signup, sql, sleep, assertError, markVerified, dbOf } from './lib/harness.mjs';

const change = (srv, a, current_password, new_password = 'a brand new passphrase 77 q') =>
  api(srv.url, 'POST', '/v1/password', { json: { current_password, new_password }, token: a.access });
const count = (db, action) => Number(sql(db, `SELECT count(*) FROM audit_log WHERE action = '${action}';`));

describe('password change: wrong current passwords are guesses', () => {
  test('the sign-in budget per IP + address: the right password is refused once it is spent, until it refills; sign-in shares it', async () => {
    // 3 per 3 s: one back every second.
    const srv = await startServer({ env: { GATEHOUSE_LIMIT_SIGNIN_IP_ACCOUNT: '3/3' } });
    try {
      const db = dbOf(srv.dataDir);
      const a = await signup(srv);
      for (let i = 0; i < 3; i++) assertError(await change(srv, a, `wrong guess number ${i} x`), 403, 'proof_failed');
      let r = await change(srv, a, a.password);
      assertError(r, 429, 'rate_limited', 'the right password after the budget');
      assert.equal(r.headers.get('ratelimit-policy'), '"signin_ip_account";q=3;w=3');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } }), 429, 'rate_limited', 'sign-in shares the budget');
      assert.equal(count(db, 'password.change_failure'), 3, 'each wrong one audited, the refused ones not processed');
      const row = sql(db, `SELECT actor || '|' || target || '|' || details FROM audit_log WHERE action = 'password.change_failure' LIMIT 1;`);
      assert.match(row, new RegExp(`^${a.user.id}\\|${a.user.id}\\|\\{"method":"password","email_hmac":"[0-9a-f]{64}","session_id":"[0-9a-f-]{36}"\\}$`));
      assert.ok(!row.includes(a.email), 'no address in the row');
      await sleep(1200);
      r = await change(srv, a, a.password);
      assert.equal(r.status, 204, r.text);
    } finally {
      await srv.stop();
    }
  });

  test('the per-IP sign-in budget is spent too', async () => {
    const srv = await startServer({ env: { GATEHOUSE_LIMIT_SIGNIN_IP: '4/900' } });
    try {
      const a = await signup(srv);
      const b = await signup(srv);
      for (let i = 0; i < 4; i++) assertError(await change(srv, i % 2 ? a : b, `wrong guess number ${i} x`), 403, 'proof_failed');
      const r = await change(srv, a, a.password);
      assertError(r, 429, 'rate_limited');
      assert.equal(r.headers.get('ratelimit-policy'), '"signin_ip";q=4;w=900');
    } finally {
      await srv.stop();
    }
  });

  test('wrong current passwords lock the address: the password change and sign-in get the lockout 429, the owner is told', async () => {
    const srv = await startServer({ env: { GATEHOUSE_LOCKOUT_THRESHOLD: '3', GATEHOUSE_LOCKOUT_MAX_DELAY: '60' } });
    try {
      const db = dbOf(srv.dataDir);
      const a = await signup(srv);
      for (let i = 0; i < 3; i++) assertError(await change(srv, a, `wrong guess number ${i} x`), 403, 'proof_failed');
      let r = await change(srv, a, a.password);
      assertError(r, 429, 'rate_limited');
      assert.match(r.headers.get('ratelimit-policy'), /^"signin_lockout";q=3;w=60$/);
      r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
      assertError(r, 429, 'rate_limited', 'the lock stops sign-in for that address');
      assert.match(r.headers.get('ratelimit-policy'), /^"signin_lockout";/);
      assert.equal(count(db, 'password.change_failure'), 3);
      assert.match(sql(db, `SELECT details FROM audit_log WHERE action = 'signin.locked' AND target = '${a.user.id}';`), /"failures":3,"locked_seconds":1,/);
      const outbox = path.join(srv.dataDir, 'outbox');
      let notice = [];
      for (let t = 0; t < 60 && !notice.length; t++) {
        if (fs.existsSync(outbox)) notice = fs.readdirSync(outbox).map((f) => fs.readFileSync(path.join(outbox, f), 'utf8')).filter((m) => m.includes('Failed sign-ins') && m.includes(a.email));
        if (!notice.length) await sleep(100);
      }
      assert.equal(notice.length, 1, 'the owner is told');
      // the lock ends; the right password changes it and clears the count, as a sign-in would
      await sleep(1100);
      assert.equal((await change(srv, a, a.password, 'the second new passphrase 88 z')).status, 204);
      assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE action = 'password.changed' AND target = '${a.user.id}';`), '1');
    } finally {
      await srv.stop();
    }
  });
});

// The same class: every route that checks a password someone typed with an
// access token (removing a factor, new backup codes, confirming a factor
// after the re-authentication window) is a sign-in guess too.
describe('second-factor proofs: a wrong password is a sign-in guess', () => {
  const oathtool = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
  for (const [method, p] of [['DELETE', '/v1/mfa/totp'], ['POST', '/v1/mfa/backup-codes']]) {
    test(`${method} ${p}: wrong passwords count toward the address's lockout, which then stops sign-in; audited`, async () => {
      const srv = await startServer({ env: { GATEHOUSE_LOCKOUT_THRESHOLD: '3', GATEHOUSE_LOCKOUT_MAX_DELAY: '60', GATEHOUSE_LIMIT_MFA_ACCOUNT: '50/300' } });
      try {
        const db = dbOf(srv.dataDir);
        const a = await signup(srv);
        markVerified(srv, a.user.id);
        const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
        assert.equal(b.status, 200, b.text);
        const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
        assert.equal(c.status, 200, c.text);
        const code = c.json.backup_codes[0];
        for (let i = 0; i < 3; i++) assertError(await api(srv.url, method, p, { token: a.access, json: { code, password: `wrong guess number ${i} x` } }), 403, 'proof_failed');
        let r = await api(srv.url, method, p, { token: a.access, json: { code, password: a.password } });
        assertError(r, 429, 'rate_limited', 'the right password while the address is locked');
        assert.match(r.headers.get('ratelimit-policy'), /^"signin_lockout";/);
        r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
        assertError(r, 429, 'rate_limited', 'the lock stops sign-in for that address');
        assert.equal(count(db, 'mfa.proof_failed'), 3, 'each wrong password audited once');
        assert.match(sql(db, `SELECT details FROM audit_log WHERE action = 'signin.locked' AND target = '${a.user.id}';`), /"failures":3,/);
        // the lock ends; the right password and the (unspent) code work
        await sleep(1100);
        r = await api(srv.url, method, p, { token: a.access, json: { code, password: a.password } });
        assert.ok(r.status === 200 || r.status === 204, r.text);
      } finally {
        await srv.stop();
      }
    });
  }
});
