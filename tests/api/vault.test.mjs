// The vault: sealed signing keys, master-key handling, key rotation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync, execFileSync } from 'node:child_process';
import {
  BIN, startServer, runCli, buildEnv, api, signup, signin, me, refresh, mkTempDir, sql, sleep,
  assertNoSanitizerReport, assertError, decodePart, freePort,
  markVerified, dbOf,
} from './lib/harness.mjs';

const newMaster = () => crypto.randomBytes(32).toString('base64');
const db = (dir) => dbOf(dir);

// Starts `gatehouse serve` expecting it to exit by itself; returns {code, stderr}.
function serveExpectExit(env) {
  const r = spawnSync(BIN, ['serve'], { env: buildEnv(env), encoding: 'utf8', timeout: 15000 });
  assertNoSanitizerReport(r.stderr || '', 'serve');
  assert.equal(r.signal, null, `did not exit by itself: ${(r.stderr || '').slice(-400)}`);
  return { code: r.status, stderr: r.stderr || '' };
}

// Everything key-related in the database, to prove a refused start changed nothing.
const keyDump = (dir) => sql(db(dir),
  "SELECT 'v', kid, wrapped, created_at FROM vault_keys UNION ALL SELECT 's', kid, private_sealed, activates_at FROM signing_keys UNION ALL SELECT 'm', CAST(version AS TEXT), name, applied_at FROM schema_migrations ORDER BY 1, 2;");

describe('vault: keys at rest', () => {
  test('dev mode generates master.key (0600); signing keys are stored sealed, never as PEM', async () => {
    const srv = await startServer();
    try {
      const mk = path.join(srv.dataDir, 'master.key');
      assert.ok(fs.existsSync(mk), 'master.key generated');
      assert.equal(fs.statSync(mk).mode & 0o777, 0o600);
      assert.equal(Buffer.from(fs.readFileSync(mk, 'utf8').trim(), 'base64url').length, 32);
      const sealed = sql(db(srv.dataDir), 'SELECT private_sealed FROM signing_keys;').trim().split('\n');
      assert.ok(sealed.length >= 1);
      for (const v of sealed) {
        assert.match(v, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/, 'v1.<kid>.<nonce>.<ct>');
        assert.doesNotMatch(v, /BEGIN|PRIVATE/);
      }
      const wrapped = sql(db(srv.dataDir), 'SELECT wrapped FROM vault_keys;').trim().split('\n');
      assert.equal(wrapped.length, 1);
      assert.match(wrapped[0], /^v1\.master\./, 'data keys are wrapped by the master key');
      const a = await signup(srv);
      assert.equal((await me(srv, a.access)).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('production with only GATEHOUSE_MASTER_KEY generates a sealed signing key and serves', async () => {
    const env = { GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null };
    const dataDir = mkTempDir();
    assert.equal(runCli(['migrate'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir } }).code, 0);
    const srv = await startServer({ env, dataDir });
    try {
      assert.ok(!fs.existsSync(path.join(dataDir, 'master.key')), 'no key file in production');
      assert.ok(!fs.existsSync(path.join(dataDir, 'signing-key.pem')), 'no PEM in production');
      const jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
      assert.equal(jwks.keys.length, 1);
      const kid = sql(db(dataDir), 'SELECT kid FROM signing_keys;').trim();
      assert.equal(jwks.keys[0].kid, kid);
    } finally {
      await srv.stop();
    }
  });

  test('placeholder, short or patterned master keys are refused with a clear message', () => {
    for (const bad of ['changeme', 'x'.repeat(44), 'A'.repeat(43), '00'.repeat(32), 'change-me-please-change-me-please-change-me1',
      Buffer.from('my-secret-master-key-for-prod-!!').toString('base64')]) {
      const r = serveExpectExit({ GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY: bad, GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null });
      assert.notEqual(r.code, 0, `accepted ${bad}`);
      assert.match(r.stderr, /GATEHOUSE_MASTER_KEY/, bad);
    }
  });

  test('a world-readable GATEHOUSE_MASTER_KEY_FILE is refused in production; 0600 works', () => {
    const dir = mkTempDir();
    const f = path.join(dir, 'mk');
    fs.writeFileSync(f, newMaster() + '\n', { mode: 0o644 });
    fs.chmodSync(f, 0o644);
    const env = { GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY_FILE: f, GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null };
    const r = runCli(['migrate'], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /readable by other users/);
    fs.chmodSync(f, 0o600);
    const ok = runCli(['migrate'], { env });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a wrong master key stops the start with a clear message and changes nothing', async () => {
    const env = { GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_ISSUER: 'https://auth.example.test' };
    const srv = await startServer({ env });
    const a = await signup(srv);
    await srv.stop();
    const before = keyDump(srv.dataDir);
    const r = serveExpectExit({ GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_LISTEN: '127.0.0.1:0' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_MASTER_KEY does not open/);
    assert.equal(keyDump(srv.dataDir), before, 'nothing changed');
    // the right key still works, and so do the old tokens
    const srv2 = await startServer({ env, dataDir: srv.dataDir });
    try {
      assert.equal((await me(srv2, a.access)).status, 200);
    } finally {
      await srv2.stop();
    }
  });
});

describe('vault: tampering with sealed values', () => {
  async function twoKeys() {
    const env = { GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY: '0' };
    const dataDir = mkTempDir();
    assert.equal(runCli(['migrate'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir } }).code, 0);
    const r = runCli(['keys', 'rotate', '--signing'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir } });
    assert.equal(r.code, 0, r.stderr);
    const rows = sql(db(dataDir), 'SELECT kid, private_sealed FROM signing_keys ORDER BY kid;').trim().split('\n').map((l) => l.split('|'));
    assert.equal(rows.length, 2);
    return { env, dataDir, rows };
  }

  test('two ciphertexts swapped between rows fail to open, naming the row', async () => {
    const { env, dataDir, rows } = await twoKeys();
    sql(db(dataDir), `UPDATE signing_keys SET private_sealed = '${rows[1][1]}' WHERE kid = '${rows[0][0]}'; UPDATE signing_keys SET private_sealed = '${rows[0][1]}' WHERE kid = '${rows[1][0]}';`);
    const r = serveExpectExit({ ...env, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_LISTEN: '127.0.0.1:0' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`signing key (${rows[0][0]}|${rows[1][0]}) does not open`));
  });

  test('a single flipped bit in a sealed value fails to open', async () => {
    const { env, dataDir, rows } = await twoKeys();
    const v = rows[0][1];
    const i = v.length - 5;
    const flipped = v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1);
    sql(db(dataDir), `UPDATE signing_keys SET private_sealed = '${flipped}' WHERE kid = '${rows[0][0]}';`);
    const r = serveExpectExit({ ...env, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_LISTEN: '127.0.0.1:0' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`signing key ${rows[0][0]} does not open`));
  });
});

// A TOTP code from the real oathtool binary, `offset` steps from now.
const oathtool = (secret, offset = 0) => execFileSync('oathtool',
  ['--totp', '-b', secret, '-N', `@${Math.floor(Date.now() / 1000) + offset * 30}`], { encoding: 'utf8' }).trim();

async function waitFor(fn, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v || Date.now() > end) return v;
    await sleep(100);
  }
}

describe('vault: tampering with TOTP seeds', () => {
  test("two users' sealed seeds swapped: TOTP fails closed, and the log names table, column and row, not the seed", async () => {
    const srv = await startServer();
    const users = [];
    try {
      for (let i = 0; i < 2; i++) {
        const a = await signup(srv);
        markVerified(srv, a.user.id);
        const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
        assert.equal(b.status, 200, b.text);
        const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
        assert.equal(c.status, 200, c.text);
        users.push({ ...a, secret: b.json.secret });
      }
      const seal = (u) => sql(db(srv.dataDir), `SELECT secret_sealed FROM mfa_totp WHERE user_id = '${u.user.id}';`);
      const [s0, s1] = users.map(seal);
      const put = (u, v) => sql(db(srv.dataDir), `UPDATE mfa_totp SET secret_sealed = '${v}' WHERE user_id = '${u.user.id}';`);
      put(users[0], s1);
      put(users[1], s0);
      const challenge = async (u) => {
        const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: u.email, password: u.password } });
        assert.equal(r.json.mfa_required, true, r.text);
        return r.json.mfa_token;
      };
      for (const [u, other] of [[users[0], users[1]], [users[1], users[0]]]) {
        // neither the user's own code nor the code of the seed now in the row signs in
        for (const code of [oathtool(u.secret, 1), oathtool(other.secret, 1)]) {
          const r = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: await challenge(u), code } });
          assertError(r, 500, 'internal_error', 'a seed that does not open');
          assert.equal(r.json.access_token, undefined);
        }
      }
      // swapped back, the same factor works again: the failure came from the swap
      put(users[0], s0);
      put(users[1], s1);
      const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: await challenge(users[0]), code: oathtool(users[0].secret, 1) } });
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await srv.stop();
    }
    const log = srv.stderr();
    for (const u of users) {
      assert.match(log, new RegExp(`"msg":"vault: mfa_totp\\.secret_sealed row ${u.user.id} does not open \\(denied\\)"[^\\n]*"level":"error"`), `names ${u.user.id}`);
      assert.ok(!log.includes(u.secret), 'the seed is never logged');
    }
    for (const v of users.map((u) => u.secret)) assert.ok(!log.includes(v.toLowerCase()));
    assert.ok(!log.includes('v1.'), 'nor any sealed value');
  });
});

describe('vault: rotation', () => {
  test('queued mail survives keys rotate --encryption: re-sealed under the new key, delivered afterwards', async () => {
    // an operator's long template: the sealed message is far longer than a key
    const tpl = mkTempDir('gatehouse-tpl-');
    fs.writeFileSync(path.join(tpl, 'signin.txt'), `Sign in: {{link}}\n${'All the small print of the service, line after line.\n'.repeat(160)}`);
    const env = { GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_PUBLIC_URL: 'https://auth.example.test', GATEHOUSE_TEMPLATE_DIR: tpl };
    // no SMTP server on that port: the message stays queued
    const port = await freePort();
    const srv = await startServer({ env: { ...env, GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_SMTP_STARTTLS: 'off' } });
    let a;
    try {
      a = await signup(srv);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
      assert.ok(await waitFor(() => sql(db(srv.dataDir), 'SELECT attempts FROM mail_queue WHERE sent_at IS NULL;') === '1'), 'one failed attempt');
    } finally {
      await srv.stop();
    }
    const dataDir = srv.dataDir;
    const oldKid = sql(db(dataDir), 'SELECT kid FROM vault_keys;');
    const before = sql(db(dataDir), 'SELECT message_sealed FROM mail_queue WHERE sent_at IS NULL;');
    assert.ok(before.startsWith(`v1.${oldKid}.`));
    assert.ok(before.length > 8000, `a long sealed message (${before.length} characters)`);
    const r = runCli(['keys', 'rotate', '--encryption'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir }, timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /now seals; 2 value\(s\) re-encrypted, 1 old key\(s\) deleted/, 'the signing key and the message');
    const newKid = sql(db(dataDir), 'SELECT kid FROM vault_keys;');
    assert.notEqual(newKid, oldKid);
    const after = sql(db(dataDir), 'SELECT message_sealed FROM mail_queue WHERE sent_at IS NULL;');
    assert.ok(after.startsWith(`v1.${newKid}.`), 'the queued message is sealed under the new key');
    // due now, and delivered to the development outbox by a server that has only the new key
    sql(db(dataDir), 'UPDATE mail_queue SET next_attempt_at = 0;');
    const srv2 = await startServer({ env, dataDir });
    try {
      const outbox = path.join(dataDir, 'outbox');
      const file = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)[0]);
      assert.ok(file, 'the message was delivered');
      const token = /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(fs.readFileSync(path.join(outbox, file), 'utf8'))[1];
      const v = await api(srv2.url, 'POST', '/v1/magic-link/verify', { json: { token } });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.json.user.id, a.user.id);
    } finally {
      await srv2.stop();
    }
  });

  test('encryption-key rotation under a running server keeps every session and key readable', async () => {
    const env = { GATEHOUSE_MASTER_KEY: newMaster() };
    const srv = await startServer({ env });
    try {
      const users = [];
      for (let i = 0; i < 3; i++) users.push(await signup(srv));
      const kidBefore = sql(db(srv.dataDir), 'SELECT kid FROM vault_keys;').trim();
      const r = runCli(['keys', 'rotate', '--encryption'], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir }, timeoutMs: 30000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /now seals; 1 value\(s\) re-encrypted, 1 old key\(s\) deleted/);
      const kidAfter = sql(db(srv.dataDir), 'SELECT kid FROM vault_keys;').trim();
      assert.notEqual(kidAfter, kidBefore);
      assert.equal(kidAfter.split('\n').length, 1, 'the old data key is gone');
      for (const v of sql(db(srv.dataDir), 'SELECT private_sealed FROM signing_keys;').trim().split('\n')) {
        assert.ok(v.startsWith(`v1.${kidAfter}.`), 'every sealed value is under the new key');
      }
      for (const u of users) {
        assert.equal((await me(srv, u.access)).status, 200, 'access tokens keep working');
        const rr = await refresh(srv, u.refresh);
        assert.equal(rr.status, 200, 'refresh keeps working');
        u.access = rr.json.access_token;
      }
      await sleep(2500); // the server reloads keys every 2 s
      const u4 = await signup(srv);
      assert.equal((await me(srv, u4.access)).status, 200);
    } finally {
      await srv.stop();
    }
    // and after a restart every sealed key opens under the new data key
    const srv2 = await startServer({ env, dataDir: srv.dataDir });
    try {
      const a = await signup(srv2);
      assert.equal((await me(srv2, a.access)).status, 200);
      const again = runCli(['keys', 'rotate', '--encryption'], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir }, timeoutMs: 30000 });
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await srv2.stop();
    }
  });

  test('signing-key rotation: published at once, signs after the delay, old tokens valid, old key dropped after they expire', async () => {
    // activation is whole seconds from the CLI run: a delay of 5 means 4..5 s
    const env = { GATEHOUSE_MASTER_KEY: newMaster(), GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY: '5', GATEHOUSE_ACCESS_TTL: '6', GATEHOUSE_CLOCK_SKEW: '1' };
    const srv = await startServer({ env });
    try {
      const a = await signup(srv);
      const oldKid = decodePart(a.access, 0).kid;
      const r = runCli(['keys', 'rotate', '--signing'], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir } });
      assert.equal(r.code, 0, r.stderr);
      const newKid = /signing key (\S+) published/.exec(r.stdout)[1];
      assert.notEqual(newKid, oldKid);
      await sleep(2200); // reload interval
      let jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort(), 'both published before the new one signs');
      const b = await signin(srv, a.email, a.password);
      const kidNow = decodePart(b.access, 0).kid;
      assert.equal(kidNow, oldKid, 'the old key still signs during the delay');
      await sleep(3500);
      const c = await signin(srv, a.email, a.password);
      assert.equal(decodePart(c.access, 0).kid, newKid, 'the new key signs after the delay');
      assert.equal((await me(srv, b.access)).status, 200, 'tokens of the old key still verify');
      await sleep(9000); // activation + ttl + skew, plus the 2 s reload
      jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
      assert.deepEqual(jwks.keys.map((k) => k.kid), [newKid], 'old key dropped once its tokens expired');
    } finally {
      await srv.stop();
    }
  });

  test('master-key rotation re-wraps the data keys: the old key stops working, the new one opens everything', async () => {
    const oldKey = newMaster();
    const newKey = crypto.randomBytes(32).toString('hex');
    const env = { GATEHOUSE_MASTER_KEY: oldKey, GATEHOUSE_ISSUER: 'https://auth.example.test' };
    const srv = await startServer({ env });
    const a = await signup(srv);
    await srv.stop();
    const sealedBefore = sql(db(srv.dataDir), 'SELECT private_sealed FROM signing_keys;');
    const wrappedBefore = sql(db(srv.dataDir), 'SELECT wrapped FROM vault_keys;');
    const r = runCli(['keys', 'rotate', '--master'], { env: { ...env, GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_NEW_MASTER_KEY: newKey } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 data key\(s\) re-wrapped/);
    assert.notEqual(sql(db(srv.dataDir), 'SELECT wrapped FROM vault_keys;'), wrappedBefore);
    assert.equal(sql(db(srv.dataDir), 'SELECT private_sealed FROM signing_keys;'), sealedBefore, 'sealed values untouched');
    const bad = serveExpectExit({ ...env, GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_LISTEN: '127.0.0.1:0' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /does not open/);
    const wrappedAfter = sql(db(srv.dataDir), 'SELECT wrapped FROM vault_keys;');
    const weak = runCli(['keys', 'rotate', '--master'], { env: { GATEHOUSE_MASTER_KEY: newKey, GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_NEW_MASTER_KEY: 'changeme' } });
    assert.notEqual(weak.code, 0, 'a placeholder new key is refused');
    const keyFile = path.join(srv.dataDir, 'new-master.key');
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'), { mode: 0o600 });
    const both = runCli(['keys', 'rotate', '--master'], { env: { GATEHOUSE_MASTER_KEY: newKey, GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_NEW_MASTER_KEY: newMaster(), GATEHOUSE_NEW_MASTER_KEY_FILE: keyFile } });
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /set only one of GATEHOUSE_NEW_MASTER_KEY and GATEHOUSE_NEW_MASTER_KEY_FILE/);
    fs.chmodSync(keyFile, 0o644);
    const open = runCli(['keys', 'rotate', '--master'], { env: { GATEHOUSE_ENV: 'production', GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null, GATEHOUSE_MASTER_KEY: newKey, GATEHOUSE_ISSUER: 'https://auth.example.test', GATEHOUSE_DATA_DIR: srv.dataDir, GATEHOUSE_NEW_MASTER_KEY_FILE: keyFile } });
    assert.notEqual(open.code, 0);
    assert.match(open.stderr, /GATEHOUSE_NEW_MASTER_KEY_FILE: .* is readable by other users/);
    assert.equal(sql(db(srv.dataDir), 'SELECT wrapped FROM vault_keys;'), wrappedAfter, 'the refused rotations changed nothing');
    const srv2 = await startServer({ env: { ...env, GATEHOUSE_MASTER_KEY: newKey }, dataDir: srv.dataDir });
    try {
      assert.equal((await me(srv2, a.access)).status, 200, 'tokens survive the master-key change');
      assert.equal((await refresh(srv2, a.refresh)).status, 200);
    } finally {
      await srv2.stop();
    }
  });
});
