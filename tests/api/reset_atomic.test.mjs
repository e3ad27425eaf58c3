// A password reset is one transaction: if any part of it fails, the link
// stays unspent, the password and sessions stay as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, api, signup, signin, me, sql, sleep, assertError, ON_PG } from './lib/harness.mjs';

async function resetToken(srv, email, ms = 8000) {
  const outbox = path.join(srv.dataDir, 'outbox');
  const re = /\/reset-password\?token=([A-Za-z0-9_-]{43})/;
  for (const end = Date.now() + ms; ;) {
    if (fs.existsSync(outbox)) {
      const hit = fs.readdirSync(outbox).map((f) => fs.readFileSync(path.join(outbox, f), 'utf8'))
        .find((m) => m.includes(`To: <${email}>`) && re.test(m));
      if (hit) return re.exec(hit)[1];
    }
    if (Date.now() > end) throw new Error(`no reset email for ${email}`);
    await sleep(100);
  }
}

test('a reset that fails half-way changes nothing and its link still works', async () => {
  const srv = await startServer();
  try {
    const a = await signup(srv);
    const other = await signin(srv, a.email, a.password);
    assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } })).status, 202);
    const token = await resetToken(srv, a.email);
    // The last write of a reset (the address proved by the link) fails.
    sql(srv.dbPath, ON_PG
      ? `CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.action = 'email.verified' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER t_fail BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION t_fail();`
      : `CREATE TRIGGER t_fail BEFORE INSERT ON audit_log WHEN NEW.action = 'email.verified'
      BEGIN SELECT RAISE(ABORT, 'injected'); END;`);
    const next = 'a brand new passphrase after the reset';
    assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: next } }), 500, 'internal_error');
    assert.equal((await me(srv, other.access)).status, 200, 'sessions were not revoked');
    assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } })).status, 200, 'old password still works');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM magic_links WHERE purpose = 'reset' AND used_at IS NULL;`), '1', 'the link is unspent');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM audit_log WHERE action = 'password.reset';`), '0');
    sql(srv.dbPath, ON_PG ? 'DROP TRIGGER t_fail ON audit_log; DROP FUNCTION t_fail();' : 'DROP TRIGGER t_fail;');
    assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: next } })).status, 204, 'the same link works once the fault is gone');
    assert.equal((await me(srv, other.access)).status, 401);
    assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: next } })).status, 200);
    assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: next } }), 401, 'invalid_token');
  } finally {
    await srv.stop();
  }
});
