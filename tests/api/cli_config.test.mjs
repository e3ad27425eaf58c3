import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { jwtVerify, createRemoteJWKSet } from 'jose';
import {
  BIN, startServer, runCli, buildEnv, api, signup, signin, me, mkTempDir, sql, freePort,
  assertNoSanitizerReport, assertError, dbOf, ON_PG, tablesOf, columnsOf,
} from './lib/harness.mjs';

const HASH_RE = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const hashParams = (h) => {
  const m = HASH_RE.exec(h);
  assert.ok(m, `hash format: ${h}`);
  return { m: Number(m[1]), t: Number(m[2]) };
};
const hashOf = (dbPath, email) => sql(dbPath, `SELECT password_hash FROM users WHERE email = '${email.replace(/'/g, "''")}';`);

/** Runs `gatehouse serve` expecting it to exit on its own; resolves {code, signal, stderr, ms}. */
function serveExpectExit(env, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(BIN, ['serve'], { env: buildEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr, ms: Date.now() - t0 }); });
  });
}

function makeKey(curve = 'P-256') {
  const dir = mkTempDir('gatehouse-key-');
  const file = path.join(dir, 'key.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', file]);
  return file;
}

describe('CLI', () => {
  test('--help exits 0 and lists serve, migrate and version', () => {
    const r = runCli(['--help']);
    assertNoSanitizerReport(r.stderr, 'gatehouse --help');
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    for (const cmd of ['serve', 'migrate', 'version']) assert.match(out, new RegExp(`\\b${cmd}\\b`), `help mentions ${cmd}`);
  });

  test('version prints a version and exits 0', () => {
    const r = runCli(['version']);
    assertNoSanitizerReport(r.stderr, 'gatehouse version');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\d+\.\d+/);
  });

  test('unknown command exits non-zero', () => {
    for (const args of [['frobnicate'], ['--no-such-flag']]) {
      const r = runCli(args);
      assertNoSanitizerReport(r.stderr, `gatehouse ${args}`);
      assert.ok(r.code !== 0 && r.code !== null, `exit code ${r.code} for ${args}`);
    }
  });

  test('migrate creates the database with the tables, and is idempotent', () => {
    const dir = mkTempDir();
    const env = { GATEHOUSE_DATA_DIR: dir };
    const r = runCli(['migrate'], { env });
    assertNoSanitizerReport(r.stderr, 'gatehouse migrate');
    assert.equal(r.code, 0, r.stderr);
    const db = dbOf(dir);
    if (!ON_PG) assert.ok(fs.existsSync(db), 'gatehouse.db created');
    const tables = tablesOf(db);
    for (const t of ['users', 'sessions', 'refresh_tokens']) assert.ok(tables.includes(t), `table ${t}: ${tables}`);
    const cols = columnsOf(db, 'users');
    for (const c of ['id', 'email', 'email_key', 'password_hash', 'created_at', 'updated_at', 'tokens_invalidated_at']) {
      assert.ok(cols.includes(c), `users.${c}`);
    }
    const r2 = runCli(['migrate'], { env });
    assertNoSanitizerReport(r2.stderr, 'gatehouse migrate (2nd)');
    assert.equal(r2.code, 0, r2.stderr);
  });
});

// Production refuses dev-speed argon2 parameters, so these runs use the defaults.
const MASTER = crypto.randomBytes(32).toString('base64');
const PROD = {
  GATEHOUSE_ENV: 'production', GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null,
  GATEHOUSE_MASTER_KEY: MASTER,
};

describe('production mode secrets', () => {
  test('without GATEHOUSE_MASTER_KEY(_FILE) the server refuses to start and names the variable', async () => {
    const port = await freePort();
    const dir = mkTempDir();
    const r = await serveExpectExit({
      ...PROD, GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_MASTER_KEY: null, GATEHOUSE_MASTER_KEY_FILE: null,
      GATEHOUSE_SIGNING_KEY: null, GATEHOUSE_SIGNING_KEY_FILE: null,
    });
    assert.match(r.stderr, /GATEHOUSE_MASTER_KEY/);
    assert.ok(!fs.existsSync(path.join(dir, 'master.key')), 'no master key generated in production');
    assertNoSanitizerReport(r.stderr, 'production start');
    assert.equal(r.signal, null, `did not exit by itself within 10 s: ${r.stderr.slice(-500)}`);
    assert.notEqual(r.code, 0);
    assert.ok(r.ms < 5000, `took ${r.ms} ms to fail`);
    assert.match(r.stderr, /GATEHOUSE_SIGNING_KEY/);
    assert.ok(!fs.existsSync(path.join(dir, 'signing-key.pem')), 'no key generated in production');
  });

  test('with a missing key file or a non-P-256 key it refuses to start', async () => {
    for (const [name, file] of [['missing file', '/nonexistent/gatehouse-key.pem'], ['P-384 key', makeKey('P-384')]]) {
      const port = await freePort();
      const r = await serveExpectExit({
        ...PROD, GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: mkTempDir(),
        GATEHOUSE_SIGNING_KEY_FILE: file,
      });
      assertNoSanitizerReport(r.stderr, name);
      assert.equal(r.signal, null, `${name}: did not exit by itself`);
      assert.notEqual(r.code, 0, `${name}: exit code`);
      assert.match(r.stderr, /SIGNING_KEY|key/i, `${name}: the error names the key problem: ${r.stderr.slice(-300)}`);
    }
  });

  test('with GATEHOUSE_SIGNING_KEY_FILE (P-256 PKCS#8) it starts and signs with that key', async () => {
    const keyFile = makeKey('P-256');
    const env = { ...PROD, GATEHOUSE_SIGNING_KEY_FILE: keyFile };
    const dataDir = mkTempDir();
    // production does not migrate on start (documented in --help); migrate first
    const mig = runCli(['migrate'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir } });
    assert.equal(mig.code, 0, mig.stderr);
    const srv = await startServer({ env, dataDir });
    try {
      const jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
      const pub = crypto.createPublicKey(fs.readFileSync(keyFile)).export({ format: 'jwk' });
      assert.equal(jwks.keys.length >= 1, true);
      assert.ok(jwks.keys.some((k) => k.x === pub.x && k.y === pub.y), 'JWKS publishes the configured key');
      assert.ok(!fs.existsSync(path.join(srv.dataDir, 'signing-key.pem')), 'no dev key generated in production');
      const a = await signup(srv);
      const JWKS = createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
      await jwtVerify(a.access, JWKS, { issuer: srv.url, audience: 'gatehouse', algorithms: ['ES256'] });
      assert.equal((await me(srv, a.access)).status, 200);
    } finally {
      await srv.stop();
    }
  });
});

describe('development signing key', () => {
  test('generated as PKCS#8 PEM with mode 0600 and reused on restart (same kid, tokens still valid)', async () => {
    const srv1 = await startServer();
    let a; let kid1; let pem1;
    try {
      const keyPath = path.join(srv1.dataDir, 'signing-key.pem');
      assert.ok(fs.existsSync(keyPath), 'signing-key.pem generated');
      assert.equal(fs.statSync(keyPath).mode & 0o777, 0o600, 'mode 0600');
      pem1 = fs.readFileSync(keyPath, 'utf8');
      assert.match(pem1, /^-----BEGIN PRIVATE KEY-----/);
      const k = crypto.createPrivateKey(pem1);
      assert.equal(k.asymmetricKeyType, 'ec');
      assert.equal(k.asymmetricKeyDetails.namedCurve, 'prime256v1');
      kid1 = (await api(srv1.url, 'GET', '/.well-known/jwks.json')).json.keys[0].kid;
      a = await signup(srv1);
    } finally {
      await srv1.stop();
    }
    const srv2 = await startServer({ dataDir: srv1.dataDir });
    try {
      const keyPath = path.join(srv2.dataDir, 'signing-key.pem');
      assert.equal(fs.readFileSync(keyPath, 'utf8'), pem1, 'key file unchanged');
      const jwks = (await api(srv2.url, 'GET', '/.well-known/jwks.json')).json;
      assert.equal(jwks.keys[0].kid, kid1, 'same kid after restart');
      // issuer defaults to http://<listen>, which changed with the new port, so only check the
      // refresh token and a fresh sign-in survive the restart
      const r = await api(srv2.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } });
      assert.equal(r.status, 200, `refresh token survives restart: ${r.text}`);
      assert.equal((await me(srv2, r.json.access_token)).status, 200);
      await signin(srv2, a.email, a.password);
    } finally {
      await srv2.stop();
    }
  });

  test('an access token issued before a restart stays valid when the issuer is fixed', async () => {
    const env = { GATEHOUSE_ISSUER: 'https://gatehouse.example.test' };
    const srv1 = await startServer({ env });
    let a;
    try { a = await signup(srv1); } finally { await srv1.stop(); }
    const srv2 = await startServer({ env, dataDir: srv1.dataDir });
    try {
      const m = await me(srv2, a.access);
      assert.equal(m.status, 200, m.text);
    } finally { await srv2.stop(); }
  });
});

describe('argon2id parameters', () => {
  test('default parameters are at least m=19456 KiB, t=2', async () => {
    const srv = await startServer({ env: { GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null } });
    try {
      const a = await signup(srv);
      const p = hashParams(hashOf(srv.dbPath, a.email));
      assert.ok(p.m >= 19456, `m=${p.m}`);
      assert.ok(p.t >= 2, `t=${p.t}`);
    } finally { await srv.stop(); }
  });

  test('configured parameters are used; raising them rehashes on the next successful sign-in only', async () => {
    const srv1 = await startServer({ env: { GATEHOUSE_ARGON2_MEMORY_KIB: '8192', GATEHOUSE_ARGON2_ITERATIONS: '1' } });
    let a;
    try {
      a = await signup(srv1);
      assert.deepEqual(hashParams(hashOf(srv1.dbPath, a.email)), { m: 8192, t: 1 });
    } finally { await srv1.stop(); }

    const srv2 = await startServer({ dataDir: srv1.dataDir, env: { GATEHOUSE_ARGON2_MEMORY_KIB: '9216', GATEHOUSE_ARGON2_ITERATIONS: '2' } });
    try {
      const h0 = hashOf(srv2.dbPath, a.email);
      // a failed sign-in does not touch the hash
      assertError(await api(srv2.url, 'POST', '/v1/signin', { json: { email: a.email, password: `${a.password}x` } }), 401, 'invalid_credentials');
      assert.equal(hashOf(srv2.dbPath, a.email), h0);
      await signin(srv2, a.email, a.password);
      const p = hashParams(hashOf(srv2.dbPath, a.email));
      assert.deepEqual(p, { m: 9216, t: 2 }, 'rehashed with the new parameters');
      // and the password still works afterwards
      await signin(srv2, a.email, a.password);
      // new sign-ups use the new parameters
      const b = await signup(srv2);
      assert.deepEqual(hashParams(hashOf(srv2.dbPath, b.email)), { m: 9216, t: 2 });
    } finally { await srv2.stop(); }
  });
});

describe('SIGTERM', () => {
  test('server with an idle keep-alive connection open exits 0 promptly', async () => {
    const srv = await startServer();
    await signup(srv);
    const t0 = Date.now();
    await srv.stop();
    assert.ok(Date.now() - t0 < 5000);
  });
});

