// No secret a user is handed (or types) is kept in clear in the database:
// passwords, access and refresh tokens, magic-link / reset / verification
// tokens, the MFA challenge, the TOTP seed and backup codes. The whole
// database is searched, raw bytes of the .db, -wal and -shm files (free
// pages included) and every table and column, while the server runs and
// again after it has checkpointed and stopped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, refresh, sleep, sql, assertNotInDb, sha256Hex, hexOf, ON_PG,
} from './lib/harness.mjs';

async function outboxLink(srv, kind, email, seen) {
  const outbox = path.join(srv.dataDir, 'outbox');
  const re = new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`);
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(outbox)) {
      for (const f of fs.readdirSync(outbox)) {
        const m = re.exec(fs.readFileSync(path.join(outbox, f), 'utf8'));
        if (m && !seen.has(m[1])) { seen.add(m[1]); return m[1]; }
      }
    }
    await sleep(100);
  }
  assert.fail(`no new ${kind} link for ${email}`);
}

const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

describe('secrets at rest', () => {
  test('after sign-up, email verification, refresh, magic link, reset, MFA enrolment and sign-in: nothing in clear', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'on' } });
    const secrets = {};
    const seen = new Set();
    const keep = (name, v) => { assert.equal(typeof v, 'string', `${name}: ${v}`); secrets[name] = v; return v; };
    try {
      const a = await signup(srv);
      keep('sign-up password', a.password);
      keep('sign-up access token', a.access);
      keep('sign-up refresh token', a.refresh);
      const verify = keep('verification token', await outboxLink(srv, 'verify-email', a.email, seen));
      assert.equal((await api(srv.url, 'POST', '/v1/email/verify', { json: { token: verify } })).status, 204);

      const r = await refresh(srv, a.refresh);
      assert.equal(r.status, 200, r.text);
      keep('refreshed access token', r.json.access_token);
      keep('refreshed refresh token', r.json.refresh_token);

      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const ml = keep('magic-link token', await outboxLink(srv, 'magic-link', a.email, seen));
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: ml } });
      assert.equal(v.status, 200, v.text);
      keep('magic-link access token', v.json.access_token);
      keep('magic-link refresh token', v.json.refresh_token);

      await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      const reset = keep('reset token', await outboxLink(srv, 'reset-password', a.email, seen));
      const newPw = keep('reset password', 'a brand new long passphrase 77 zq');
      assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token: reset, new_password: newPw } })).status, 204);

      const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } });
      assert.equal(s.status, 200, s.text);
      const tok = keep('sign-in access token', s.json.access_token);
      keep('sign-in refresh token', s.json.refresh_token);
      const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: tok });
      assert.equal(b.status, 200, b.text);
      keep('TOTP secret', b.json.secret);
      const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: tok, json: { code: oathtool(b.json.secret) } });
      assert.equal(c.status, 200, c.text);
      const backup = c.json.backup_codes;
      assert.equal(backup.length, 10);

      const s2 = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } });
      const mfaToken = keep('MFA challenge', s2.json.mfa_token);
      const m = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: mfaToken, code: backup[0] } });
      assert.equal(m.status, 200, m.text);
      keep('MFA access token', m.json.access_token);
      keep('MFA refresh token', m.json.refresh_token);
      keep('unused MFA challenge', (await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } })).json.mfa_token);
      // regenerated codes, through an Idempotency-Key: the stored reply holds them (sealed)
      const g = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: tok, json: { code: backup[1], password: newPw }, headers: { 'Idempotency-Key': 'regen-1' } });
      assert.equal(g.status, 200, g.text);
      assert.equal(Number(sql(srv.dbPath, 'SELECT count(*) FROM idempotency WHERE response_sealed IS NOT NULL;')), 1, 'the reply is kept');
      // links sent and never used
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      keep('unused magic-link token', await outboxLink(srv, 'magic-link', a.email, seen));

      // every form of each backup code the server accepts: as shown, without dashes, upper case
      for (const [set, codes] of [['first', backup], ['regenerated', g.json.backup_codes]]) {
        codes.forEach((code, i) => {
          keep(`${set} backup code ${i}`, code);
          keep(`${set} backup code ${i} (no dashes)`, code.replace(/-/g, ''));
          keep(`${set} backup code ${i} (upper case)`, code.toUpperCase());
        });
      }
      // and the hashes are there (so the scan looked at the right rows)
      assert.equal(sql(srv.dbPath, `SELECT count(*) FROM magic_links WHERE ${hexOf('token_hash')} IN ('${[verify, ml, reset].map(sha256Hex).join("','")}');`), '3');
      assert.equal(sql(srv.dbPath, `SELECT count(*) FROM refresh_tokens WHERE ${hexOf('token_hash')} = '${sha256Hex(a.refresh)}';`), '1');
      assert.equal(sql(srv.dbPath, `SELECT count(*) FROM mfa_challenges WHERE ${hexOf('token_hash')} = '${sha256Hex(mfaToken)}';`), '1');

      if (!ON_PG) assert.ok(fs.existsSync(`${srv.dbPath}-wal`), 'the write-ahead log is there to search');
      assertNotInDb(srv.dbPath, secrets);
    } finally {
      await srv.stop();
    }
    assertNotInDb(srv.dbPath, secrets);
  });
});
