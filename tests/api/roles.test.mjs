// Roles (gatehouse users role) and GATEHOUSE_MFA_REQUIRED=admins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, runCli, api, signup, me, sql, sleep, assertError } from './lib/harness.mjs';

const oathtool = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();

// The newest confirmation link mailed to email (development outbox).
async function verifyToken(srv, email) {
  const outbox = path.join(srv.dataDir, 'outbox');
  for (let i = 0; i < 100; i++) {
    const msgs = fs.existsSync(outbox) ? fs.readdirSync(outbox).map((f) => fs.readFileSync(path.join(outbox, f), 'utf8'))
      .filter((m) => m.includes(email) && /verify-email\?token=/.test(m)) : [];
    if (msgs.length) return /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(msgs[msgs.length - 1])[1];
    await sleep(100);
  }
  throw new Error(`no confirmation link for ${email}`);
}

test('admins must enrol a second factor under GATEHOUSE_MFA_REQUIRED=admins; users need not; role changes are audited', async () => {
  const srv = await startServer({ env: { GATEHOUSE_MFA_REQUIRED: 'admins' } });
  const role = (...args) => runCli(['users', 'role', ...args], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
  const signin = (a) => api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
  try {
    assert.doesNotMatch(srv.stderr(), /applies to nobody/, 'no warning: roles exist');
    const a = await signup(srv);
    const b = await signup(srv);
    assert.equal(a.body.mfa_enrolment_required, undefined, 'a new account is a user');
    assert.equal((await signin(a)).json.mfa_enrolment_required, undefined);

    let r = role(a.email.toUpperCase(), 'admin'); // addresses are matched like at sign-in
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is now admin/);
    assert.equal(sql(srv.dbPath, `SELECT actor || '|' || details FROM audit_log WHERE action = 'role.changed' AND target = '${a.user.id}';`),
      'system|{"from":"user","to":"admin"}');
    assert.equal((await me(srv, a.access)).status, 200, 'sessions from before keep working: the MFA requirement applies from the next sign-in');

    const s = await signin(a);
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.mfa_enrolment_required, true);
    assertError(await me(srv, s.json.access_token), 403, 'mfa_enrolment_required');
    assert.equal((await signin(b)).json.mfa_enrolment_required, undefined, 'users are not covered');

    // Issue 9: no factor before the address is proved; the enrolment-only
    // session may ask for the confirmation link, and the link confirms it.
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp', { token: s.json.access_token }), 403, 'email_not_verified');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: s.json.access_token, json: { code: '123456' } }), 403, 'email_not_verified');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM mfa_totp WHERE user_id = '${a.user.id}';`), '0', 'nothing stored');
    const rs = await api(srv.url, 'POST', '/v1/email/verify/resend', { token: s.json.access_token });
    assert.equal(rs.status, 202, rs.text);
    const ev = await api(srv.url, 'POST', '/v1/email/verify', { json: { token: await verifyToken(srv, a.email) } });
    assert.equal(ev.status, 204, ev.text);
    assertError(await me(srv, s.json.access_token), 403, 'mfa_enrolment_required', 'confirming the address lifts nothing else');

    const t = await api(srv.url, 'POST', '/v1/mfa/totp', { token: s.json.access_token });
    assert.equal(t.status, 200, t.text);
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: s.json.access_token, json: { code: oathtool(t.json.secret) } });
    assert.equal(c.status, 200, c.text);
    assert.equal((await me(srv, s.json.access_token)).status, 200, 'enrolling lifts the restriction');
    assert.equal((await signin(a)).json.mfa_required, true, 'and from now on sign-in asks for the code');

    r = role(a.email, 'admin');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /already admin/);
    r = role(a.email, 'user');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sql(srv.dbPath, "SELECT count(*) FROM audit_log WHERE action = 'role.changed';"), '2');

    for (const [args, re] of [[['nobody@example.com', 'admin'], /no account has that address/],
      [[b.email, 'root'], /the role is user or admin/], [['not-an-address', 'admin'], /not an email address/], [[b.email], /usage/]]) {
      r = role(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re);
    }
    assert.equal(sql(srv.dbPath, `SELECT role FROM users WHERE id = '${b.user.id}';`), 'user');
    const v = runCli(['audit', 'verify'], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    await srv.stop();
  }
});
