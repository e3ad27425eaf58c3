// Issue 9, item 7: with GATEHOUSE_EMAIL_VERIFICATION=required, sign-up
// tells nobody whether an address has an account: the same 202 body for a
// new and a taken address, about the same time, no change to the existing
// account, and a mail to the address's owner instead (within the
// per-address email budget). The default keeps 409 email_taken.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, api, signup, sql, sleep, assertError, uniqueEmail, strongPassword, median, ON_PG,
} from './lib/harness.mjs';

const outbox = (srv) => {
  const d = path.join(srv.dataDir, 'outbox');
  return fs.existsSync(d) ? fs.readdirSync(d).map((f) => fs.readFileSync(path.join(d, f), 'utf8')) : [];
};
async function waitMail(srv, pred, n = 1, ms = 8000) {
  for (let t = 0; t < ms; t += 100) {
    const m = outbox(srv).filter(pred);
    if (m.length >= n) return m;
    await sleep(100);
  }
  return outbox(srv).filter(pred);
}
const NOTICE = /Subject: Someone tried to sign up to Gatehouse with your address/;
const VERIFY = /Subject: Confirm your email address for Gatehouse/;
const up = (srv, email, password = strongPassword()) => api(srv.url, 'POST', '/v1/signup', { json: { email, password } });

// Creates a confirmed account under required verification; returns {email, password, id}.
async function confirmedAccount(srv) {
  const email = uniqueEmail();
  const password = strongPassword();
  assert.equal((await up(srv, email, password)).status, 202);
  const m = await waitMail(srv, (x) => x.includes(email) && VERIFY.test(x));
  const token = /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(m[0])[1];
  assert.equal((await api(srv.url, 'POST', '/v1/email/verify', { json: { token } })).status, 204);
  const id = sql(srv.dbPath, `SELECT id FROM users WHERE email = '${email}';`);
  return { email, password, id };
}

describe('sign-up under GATEHOUSE_EMAIL_VERIFICATION=required', () => {
  test('the same 202 for a new and a taken address; the owner is told, the new account gets its link; nothing about the existing account changes', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
    try {
      const a = await confirmedAccount(srv);
      const quote = ON_PG ? 'quote_nullable' : 'quote';
      const snapshot = () => sql(srv.dbPath, `SELECT ${quote}(email), ${quote}(password_hash), updated_at, tokens_invalidated_at, email_verified_at, role FROM users WHERE id = '${a.id}';`)
        + '|' + sql(srv.dbPath, `SELECT count(*), max(expires_at) FROM sessions WHERE user_id = '${a.id}';`)
        + '|' + sql(srv.dbPath, `SELECT count(*) FROM magic_links WHERE email_key = '${a.email}';`);
      const before = snapshot();
      const users = Number(sql(srv.dbPath, 'SELECT count(*) FROM users;'));
      const fresh = uniqueEmail();
      const n = await up(srv, fresh);
      const t = await up(srv, a.email.toUpperCase(), 'an attacker password 8812 q'); // the same address, typed otherwise
      const t2 = await up(srv, a.email);
      for (const r of [n, t, t2]) {
        assert.equal(r.status, 202, r.text);
        assert.deepEqual(r.json, { email_verification_required: true });
        assert.equal(r.headers.get('content-type'), n.headers.get('content-type'));
      }
      assert.equal(t.text, n.text, 'byte for byte');
      // mail: the new address its confirmation link, the owner a notice (and no link)
      assert.equal((await waitMail(srv, (m) => m.includes(fresh) && VERIFY.test(m))).length, 1);
      const notices = await waitMail(srv, (m) => m.includes(a.email) && NOTICE.test(m), 2);
      assert.equal(notices.length, 2, 'one notice per attempt (within the budget)');
      assert.ok(!/token=/.test(notices[0]), 'the notice carries no link');
      assert.match(notices[0], /already has one, so no new account was made/);
      // nothing about the existing account changed; one account more in all
      assert.equal(snapshot(), before);
      assert.equal(Number(sql(srv.dbPath, 'SELECT count(*) FROM users;')), users + 1);
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: 'an attacker password 8812 q' } }), 401, 'invalid_credentials');
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } })).status, 200);
      // audited without the address
      const rows = sql(srv.dbPath, "SELECT actor || '|' || target || '|' || details FROM audit_log WHERE action = 'signup.address_taken';").split('\n');
      assert.equal(rows.length, 2);
      assert.match(rows[0], /^anonymous\|\|\{"email_hmac":"[0-9a-f]{64}"\}$/);
    } finally {
      await srv.stop();
    }
  });

  test('the notices to one address are bounded by its email budget (no mail flood)', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'required', GATEHOUSE_LIMIT_EMAIL_ACCOUNT: '2/3600' } });
    try {
      const a = await confirmedAccount(srv);
      for (let i = 0; i < 5; i++) assert.equal((await up(srv, a.email)).status, 202);
      await waitMail(srv, (m) => m.includes(a.email) && NOTICE.test(m), 2);
      await sleep(1500);
      assert.equal(outbox(srv).filter((m) => m.includes(a.email) && NOTICE.test(m)).length, 2);
    } finally {
      await srv.stop();
    }
  });

  test('timing: a taken address costs about what a new one does (Argon2id and one write either way)', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
    try {
      const taken = [];
      for (let i = 0; i < 5; i++) taken.push((await confirmedAccount(srv)).email);
      const time = async (email) => {
        const t0 = process.hrtime.bigint();
        const r = await up(srv, email);
        assert.equal(r.status, 202);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };
      await time(uniqueEmail()); await time(taken[0]); // warm up both paths
      const newT = []; const takenT = [];
      for (let i = 0; i < 20; i++) {
        newT.push(await time(uniqueEmail()));
        takenT.push(await time(taken[i % taken.length]));
      }
      const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const msg = `new: mean ${mean(newT).toFixed(1)} ms, median ${median(newT).toFixed(1)} ms; taken: mean ${mean(takenT).toFixed(1)} ms, median ${median(takenT).toFixed(1)} ms (20 each)`;
      console.log(`# signup timing, required verification: ${msg}`);
      const ratio = median(takenT) / median(newT);
      assert.ok(ratio > 0.67 && ratio < 1.5, msg);
    } finally {
      await srv.stop();
    }
  });
});

describe('sign-up when verification is not required', () => {
  test('the documented trade-off stays: 409 email_taken (off and on)', async () => {
    for (const mode of ['off', 'on']) {
      const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: mode } });
      try {
        const a = await signup(srv);
        assertError(await up(srv, a.email), 409, 'email_taken');
        await sleep(500);
        assert.equal(outbox(srv).filter((m) => NOTICE.test(m)).length, 0, 'no notice');
      } finally {
        await srv.stop();
      }
    }
  });
});
