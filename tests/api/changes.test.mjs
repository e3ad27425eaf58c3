// The change feed: what the CLI changes in the database reaches a running
// server's auth cache within about a second, with no restart
// (docs/decisions/0025-feed-change-events.md). Each CLI command runs as its
// own process against the server's data directory, as an operator runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, runCli, api, signup, signin, me, sql, sleep, decodePart, assertError, markVerified } from './lib/harness.mjs';

const oathtool = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();

// How long until check() holds, in ms; fails past limitMs. Polls every 50 ms.
async function within(limitMs, check, what) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > limitMs) assert.fail(`${what}: not seen within ${limitMs} ms`);
    await sleep(50);
  }
}

// The poll runs every second; a loaded test machine gets some slack.
const LIMIT_MS = 2500;

test('a role changed with the CLI shows in /v1/me within about a second, and back, with no restart', async (t) => {
  const srv = await startServer();
  const cli = (...args) => runCli(args, { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
  try {
    const a = await signup(srv);
    const b = await signup(srv);
    const roleOf = async (tok) => { const r = await me(srv, tok); assert.equal(r.status, 200, r.text); return r.json.role; };
    assert.equal(await roleOf(a.access), 'user');
    assert.equal(await roleOf(a.access), 'user', 'answered from the cache now');

    let r = cli('users', 'role', a.email, 'admin');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is now admin \(running servers apply it within about a second\)/);
    const took = await within(LIMIT_MS, async () => (await roleOf(a.access)) === 'admin', 'role admin');
    t.diagnostic(`role change seen after ${took} ms`);
    assert.equal(await roleOf(b.access), 'user', 'only that account');
    // A new session of the account, loaded from the database, agrees.
    assert.equal(await roleOf((await signin(srv, a.email, a.password)).access), 'admin');

    r = cli('users', 'role', a.email, 'user');
    assert.equal(r.code, 0, r.stderr);
    await within(LIMIT_MS, async () => (await roleOf(a.access)) === 'user', 'role back to user');

    // Recorded with the change, under the CLI's origin, not the server's.
    const rows = sql(srv.dbPath, `SELECT kind || '|' || text_value FROM change_events WHERE user_id = '${a.user.id}' ORDER BY seq;`);
    assert.equal(rows, 'role_changed|admin\nrole_changed|user');
    assert.equal(sql(srv.dbPath, "SELECT count(DISTINCT origin) FROM change_events WHERE kind = 'role_changed';"), '2',
      'each CLI run is its own process');
    assert.match(srv.stderr(), /change feed: applied 1 change\(s\) made by other processes/);
    assert.equal(srv.exited(), null, 'no restart');
  } finally {
    await srv.stop();
  }
});

test('users mfa-reset run beside the server ends the account\'s sessions on the next request after the poll', async () => {
  const srv = await startServer();
  const cli = (...args) => runCli(args, { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
  try {
    const a = await signup(srv);
    const other = await signup(srv);
    markVerified(srv, a.user.id);
    const t = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(t.status, 200, t.text);
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(t.json.secret) } });
    assert.equal(c.status, 200, c.text);
    // A second session of the account, signed in with a backup code.
    const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
    assert.equal(s.json.mfa_required, true, s.text);
    const second = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: c.json.backup_codes[0] } });
    assert.equal(second.status, 200, second.text);
    for (const tok of [a.access, second.json.access_token, other.access]) assert.equal((await me(srv, tok)).status, 200);

    const r = cli('users', 'mfa-reset', a.email, '--reason', 'ticket 42');
    assert.equal(r.code, 0, r.stderr);
    await within(LIMIT_MS, async () => (await me(srv, a.access)).status === 401, 'first session refused');
    assertError(await me(srv, a.access), 401, 'invalid_token');
    assertError(await me(srv, second.json.access_token), 401, 'invalid_token');
    assert.equal((await me(srv, other.access)).status, 200, 'another account is untouched');
    // Its refresh token is refused too (the database says so already).
    const f = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } });
    assert.equal(f.status, 401, f.text);
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM change_events WHERE kind = 'user_sessions_revoked' AND user_id = '${a.user.id}';`), '2',
      'the enrolment (other sessions) and the reset (all)');
  } finally {
    await srv.stop();
  }
});

test('a signing key retired with the CLI stops its tokens within about a second', async () => {
  const env = { GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64'), GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY: '0' };
  const srv = await startServer({ env });
  const cli = (...args) => runCli(['keys', ...args], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir } });
  try {
    const a = await signup(srv);
    const oldKid = decodePart(a.access, 0).kid;
    let r = cli('rotate', '--signing');
    assert.equal(r.code, 0, r.stderr);
    const newKid = /signing key (\S+) published/.exec(r.stdout)[1];
    await within(LIMIT_MS, async () => (await api(srv.url, 'GET', '/.well-known/jwks.json')).json.keys.some((k) => k.kid === newKid),
      'new key published');
    // Signing moves to the new key (activation delay 0) once the server has it.
    await within(LIMIT_MS, async () => decodePart((await signin(srv, a.email, a.password)).access, 0).kid === newKid, 'new key signs');
    assert.equal((await me(srv, a.access)).status, 200);
    r = cli('retire', oldKid);
    assert.equal(r.code, 0, r.stderr);
    await within(LIMIT_MS, async () => (await me(srv, a.access)).status === 401, 'old key refused');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM change_events WHERE kind = 'signing_keys_changed' AND text_value = '${oldKid}';`), '2', 'made, then retired');
  } finally {
    await srv.stop();
  }
});
