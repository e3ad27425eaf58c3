// gatehouse keys retire <kid>: the leaked-signing-key playbook without sqlite3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, runCli, api, signup, signin, me, refresh, sql, sleep, decodePart, assertError, ON_PG } from './lib/harness.mjs';

async function until(fn, ms = 20000) {
  for (const end = Date.now() + ms; ;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail('condition not reached in time');
    await sleep(200);
  }
}

// A server whose keys rotate with no activation delay, and its `gatehouse keys` CLI.
async function serverWithCli() {
  const env = { GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64'), GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY: '0' };
  const srv = await startServer({ env });
  const cli = (...args) => runCli(['keys', ...args], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir } });
  return { srv, cli, env };
}

test('retiring a signing key drops it from the JWKS and rejects its tokens at once, audited; the signing key is protected', async () => {
  const { srv, cli, env } = await serverWithCli();
  try {
    const a = await signup(srv);
    const oldKid = decodePart(a.access, 0).kid;
    let r = cli('retire', oldKid);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no other key signs yet/);
    r = cli('retire', 'no-such-kid');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no signing key has that kid/);
    // A kid is base64url: one in 64 starts with '-', and it must still be retirable.
    r = cli('retire', '-no-such-kid');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no signing key has that kid/);
    assert.equal(sql(srv.dbPath, "SELECT count(*) FROM audit_log WHERE action = 'keys.retired';"), '0');

    r = cli('rotate', '--signing');
    assert.equal(r.code, 0, r.stderr);
    const newKid = /signing key (\S+) published/.exec(r.stdout)[1];
    await until(async () => decodePart((await signin(srv, a.email, a.password)).access, 0).kid === newKid);
    assert.equal((await me(srv, a.access)).status, 200, 'the old key still verifies before it is retired');

    r = cli('retire', oldKid);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`signing key ${oldKid} retired`));
    const row = sql(srv.dbPath, "SELECT actor || '|' || details FROM audit_log WHERE action = 'keys.retired';");
    assert.equal(row, `system|{"kind":"signing","kid":"${oldKid}"}`);
    await until(async () => (await me(srv, a.access)).status === 401);
    assertError(await me(srv, a.access), 401, 'invalid_token');
    const jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
    assert.deepEqual(jwks.keys.map((k) => k.kid), [newKid]);
    // refresh tokens are not signed: the session carries on with the new key
    const f = await refresh(srv, a.refresh);
    assert.equal(f.status, 200, f.text);
    assert.equal(decodePart(f.json.access_token, 0).kid, newKid);
    assert.equal((await me(srv, f.json.access_token)).status, 200);
    r = cli('retire', newKid);
    assert.notEqual(r.code, 0, 'the only key left that signs');
    const v = runCli(['audit', 'verify'], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    await srv.stop();
  }
});

test('keys rotated within one second: the newest signs, not whichever kid sorts last', async () => {
  const { srv, cli } = await serverWithCli();
  try {
    const a = await signup(srv);
    let newest;
    for (let i = 0; i < 4; i++) {
      const r = cli('rotate', '--signing');
      assert.equal(r.code, 0, r.stderr);
      newest = /signing key (\S+) published/.exec(r.stdout)[1];
    }
    // in insertion order (PostgreSQL has no rowid: by created_at, so there
    // the check is that no two are equal and the newest key is the last)
    const made = sql(srv.dbPath, `SELECT created_at FROM signing_keys ORDER BY ${ON_PG ? 'created_at' : 'rowid'};`).split('\n').map(Number);
    for (let i = 1; i < made.length; i++) assert.ok(made[i] > made[i - 1], `created_at strictly increasing: ${made}`);
    assert.equal(Number(sql(srv.dbPath, `SELECT created_at FROM signing_keys WHERE kid = '${newest}';`)), made.at(-1), 'the newest key was made last');
    await until(async () => decodePart((await signin(srv, a.email, a.password)).access, 0).kid === newest, 20000);
  } finally {
    await srv.stop();
  }
});
