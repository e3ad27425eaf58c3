// Several replicas (issue 14, docs/scale-out.md "Replicas", decision 0045):
// three `gatehouse serve` processes on different ports against one
// PostgreSQL database and one Redis, with one master key. Nothing is sticky:
// whatever one replica does, the others honour. Runs only with
// GATEHOUSE_TEST_PG=<superuser URL> (make api-pg sets it) and redis-server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  ON_PG, startServer, runCli, api, signup, signin, me, refresh, sql, sleep, assertError, uniqueEmail,
  strongPassword, decodePart, mkTempDir, freePort, dbEnv, dbOf, pgUrl, assertNoSanitizerReport,
} from './lib/harness.mjs';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const skip = !ON_PG ? 'PostgreSQL only: set GATEHOUSE_TEST_PG (make api-pg)'
  : !fs.existsSync(REDIS_SERVER) ? 'redis-server is not installed' : false;

// A redis-server of our own on a free loopback port, no persistence.
async function startRedis() {
  const port = await freePort();
  const dir = mkTempDir('gatehouse-redis-');
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const cli = (...args) => (spawnSync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args],
    { encoding: 'utf8', timeout: 5000 }).stdout ?? '').trim();
  for (let i = 0; cli('PING') !== 'PONG'; i++) {
    if (i > 100) throw new Error(`redis-server did not answer on ${port}`);
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() { if (child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); } },
  };
}

async function until(what, fn, ms = 15000, step = 50) {
  for (const end = Date.now() + ms; ;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await sleep(step);
  }
}

const from = (ip) => ({ 'X-Forwarded-For': ip });
let ipSeq = 0;
const nextIp = () => `198.51.100.${(ipSeq++ % 250) + 1}`;
const sidOf = (token) => decodePart(token, 1).sid;
// Sign-ups each from an address of their own: the sign-up budget per IP is
// the one the first test spends.
const signupOn = (srv) => signup(srv, undefined, undefined, from(nextIp()));
// As the superuser, in the maintenance database (for what a test database
// must not be connected to while it runs).
function psqlAdmin(query) {
  const r = spawnSync('psql', ['-At', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgUrl('postgres'), '-c', query],
    { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout.trim();
}
const kidOf = (token) => decodePart(token, 0).kid;

// Everything the replicas must agree on; each has its own data directory
// (for its files and its listen lock), all share the database of `shared`.
function replicaEnv(redis, shared, extra = {}) {
  return {
    GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex'),
    GATEHOUSE_ISSUER: 'https://auth.replicas.test',
    GATEHOUSE_AUDIENCE: 'replicas-test',
    GATEHOUSE_REDIS_URL: redis.url,
    GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1',
    GATEHOUSE_REFRESH_REUSE_GRACE: '1',
    GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY: '3',
    GATEHOUSE_LOCKOUT_THRESHOLD: '3',
    GATEHOUSE_LIMIT_SIGNUP_IP: '10/3600',
    ...dbEnv(shared),
    ...extra,
  };
}

async function metric(srv, name) {
  const r = await api(srv.url, 'GET', '/metrics');
  const esc = name.replace(/[{}"]/g, (ch) => `\\${ch}`);
  const m = new RegExp(`^${esc} (-?\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}

describe('three replicas on one PostgreSQL and one Redis', { skip }, () => {
  let redis; let shared; let env; let db; const reps = [];
  const [A, B, C] = [0, 1, 2];
  const rep = (i) => reps[i];

  before(async () => {
    redis = await startRedis();
    shared = mkTempDir('gatehouse-replicas-');
    db = dbOf(shared);
    env = replicaEnv(redis, shared);
    // Migrated once by the first; the others start on the migrated schema.
    for (let i = 0; i < 3; i++) reps.push(await startServer({ env }));
    for (const r of reps) await until('the listener is up', async () => (await metric(r, 'gatehouse_authcache_trusted')) === 1);
  });
  after(async () => {
    for (const r of reps) if (r && !r.exited()) await r.stop();
    await redis?.stop();
  });

  test('a rate budget is shared exactly: 60 sign-ups from one IP across three replicas, 10 admitted', async () => {
    const ip = nextIp();
    const res = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      api(rep(i % 3).url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() }, headers: from(ip) })));
    const admitted = res.filter((r) => r.status === 201).length;
    assert.ok(admitted <= 10, `admitted ${admitted} > the budget of 10`);
    assert.equal(admitted, 10, res.map((r) => r.status).join(','));
    // the rest refused: 429, or 503 when a loaded machine makes Redis or the
    // pool time out (refused too, never admitted)
    const refused = res.filter((r) => r.status === 429 || r.status === 503);
    assert.equal(refused.length, 50, res.map((r) => `${r.status}${r.status === 201 || r.status === 429 ? '' : ':' + r.text}`).join(','));
    assert.ok(refused.filter((r) => r.status === 429).length >= 40, 'mostly the budget refusing');
  });

  // Decision 0045: events commit in seq order because pg_event_add takes
  // PG_LOCK_EVENTS before its INSERT; that holds only while the identity's
  // sequence hands out one value at a time (a per-session cache would not
  // follow the lock's order).
  test('change_events seqs follow the lock order: the identity sequence has CACHE 1', () => {
    assert.equal(sql(db, "SELECT seqcache FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('change_events', 'seq')::regclass;"), '1');
  });

  test('a session signed out on A is refused on B and C within one second', async () => {
    const a = await signupOn(rep(A));
    for (const i of [B, C]) {
      for (let k = 0; k < 3; k++) assert.equal((await me(rep(i), a.access)).status, 200); // cached there
    }
    const r = await api(rep(A).url, 'POST', '/v1/signout', { token: a.access });
    assert.equal(r.status, 204, r.text);
    const t0 = Date.now();
    const seen = await Promise.all([B, C].map(async (i) => {
      for (;;) {
        const s = (await me(rep(i), a.access)).status;
        if (s === 401) return Date.now() - t0;
        assert.equal(s, 200);
        if (Date.now() - t0 > 5000) return Infinity;
        await sleep(5);
      }
    }));
    for (const ms of seen) assert.ok(ms < 1000, `refused after ${ms} ms on another replica (B, C: ${seen})`);
    // and the user's other session, never signed out, still works everywhere
    const b = await signin(rep(B), a.email, a.password);
    for (const s of reps) assert.equal((await me(s, b.access)).status, 200);
  });

  test('a refresh token rotated on A and presented again on B after the grace is reuse: the family dies on all three', async () => {
    const a = await signupOn(rep(A));
    const s2 = await signin(rep(B), a.email, a.password);
    const s3 = await signin(rep(C), a.email, a.password);
    const rot = await refresh(rep(A), a.refresh);
    assert.equal(rot.status, 200, rot.text);
    const access = [a.access, rot.json.access_token, s2.access, s3.access];
    for (const s of reps) for (const t of access) assert.equal((await me(s, t)).status, 200);
    await sleep(2200); // past GATEHOUSE_REFRESH_REUSE_GRACE=1
    assertError(await refresh(rep(B), a.refresh), 401, 'token_reused');
    const t0 = Date.now();
    for (const s of reps) {
      for (const t of access) {
        await until('an access token of the family refused', async () => (await me(s, t)).status === 401, 1000, 10);
      }
    }
    assert.ok(Date.now() - t0 < 1500, 'every replica refused the family at once');
    for (const [i, t] of [rot.json.refresh_token, s2.refresh, s3.refresh].entries()) {
      assert.equal((await refresh(rep(i % 3), t)).status, 401, 'a refresh token of the family');
    }
    const again = await signin(rep(C), a.email, a.password);
    assert.equal((await me(rep(A), again.access)).status, 200, 'the account itself is fine');
  });

  test('a signing key rotated with the CLI signs on every replica after the activation delay', async () => {
    const a = await signupOn(rep(A));
    const oldKid = kidOf(a.access);
    const r = runCli(['keys', 'rotate', '--signing'], { env: { ...env, GATEHOUSE_DATA_DIR: rep(A).dataDir } });
    assert.equal(r.code, 0, r.stderr);
    const newKid = /signing key (\S+) published/.exec(r.stdout)[1];
    const t0 = Date.now();
    // published at once (within the feed's second) on every replica, not yet signing
    for (const s of reps) {
      await until('the new key in the JWKS', async () =>
        (await api(s.url, 'GET', '/.well-known/jwks.json')).json.keys.some((k) => k.kid === newKid), 2500, 50);
    }
    // activates_at is whole seconds: at least 2 s after the CLI returned
    if (Date.now() - t0 < 1500) assert.equal(kidOf((await signin(rep(B), a.email, a.password)).access), oldKid);
    for (const s of reps) {
      await until('signing with the new key', async () => kidOf((await signin(s, a.email, a.password)).access) === newKid, 8000, 200);
    }
    // tokens of either key verify everywhere
    for (const s of reps) assert.equal((await me(s, a.access)).status, 200);
  });

  test('an idempotency key used on A replays on B', async () => {
    const a = await signupOn(rep(A));
    const other = await signin(rep(C), a.email, a.password);
    const key = `k-${crypto.randomUUID()}`;
    const del = (s) => api(s.url, 'DELETE', `/v1/sessions/${sidOf(other.access)}`, { token: a.access, headers: { 'Idempotency-Key': key } });
    const first = await del(rep(A));
    assert.equal(first.status, 204, first.text);
    const again = await del(rep(B));
    assert.equal(again.status, 204, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE actor = '${a.user.id}' AND action = 'session.revoked';`), '1');
  });

  test('the lockout counts across replicas: three wrong passwords on A, B and C lock the address everywhere', async () => {
    const a = await signupOn(rep(A));
    const ip = nextIp();
    for (const i of [A, B, C]) {
      assertError(await api(rep(i).url, 'POST', '/v1/signin', { json: { email: a.email, password: 'not the password' }, headers: from(ip) }), 401, 'invalid_credentials');
    }
    // locked for a second from the third failure, whichever replica is asked
    const locked = await api(rep(A).url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password }, headers: from(ip) });
    assertError(locked, 429, 'rate_limited', 'the right password while the address is locked');
    assert.match(sql(db, `SELECT details FROM audit_log WHERE action = 'signin.locked' AND target = '${a.user.id}';`), /"failures":3,/);
    await sleep(1200);
    await signin(rep(B), a.email, a.password); // 200, once the second has passed
  });

  test('kill -9 one replica during 16 concurrent sign-ups: every 201 signs in on the others, and the chain verifies', async () => {
    const accounts = Array.from({ length: 16 }, () => ({ email: uniqueEmail(), password: strongPassword() }));
    const victim = rep(C);
    let killed = false;
    const kill = () => { if (!killed) { killed = true; victim.child.kill('SIGKILL'); } };
    const pending = accounts.map((acc, i) => api(rep(i % 3).url, 'POST', '/v1/signup', { json: acc, headers: from(nextIp()) })
      .then((r) => { kill(); return r; }, (e) => { kill(); return { status: 0, error: e }; }));
    const res = await Promise.all(pending);
    if (!victim.exited()) await once(victim.child, 'exit');
    assertNoSanitizerReport(victim.stderr(), 'the killed replica');
    const ok = accounts.filter((_, i) => res[i].status === 201);
    assert.ok(ok.length >= 10, `most sign-ups answered 201 (${res.map((r) => r.status)})`);
    for (const [i, acc] of ok.entries()) {
      await signin(rep(i % 2 ? B : A), acc.email, acc.password); // asserts 200
    }
    const v = runCli(['audit', 'verify'], { env: { ...env, GATEHOUSE_DATA_DIR: rep(A).dataDir } });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});

// The channel down (decision 0045): the listening connection of B is
// terminated and cannot come back while a session is revoked on A; B must
// not answer from its cache meanwhile, and must recover the listener.
describe('the fan-out channel down', { skip }, () => {
  let redis; let shared; let env; let db; let a; let b;
  before(async () => {
    redis = await startRedis();
    shared = mkTempDir('gatehouse-replicas-');
    db = dbOf(shared);
    env = replicaEnv(redis, shared);
    a = await startServer({ env });
    b = await startServer({ env });
    for (const s of [a, b]) await until('the listener is up', async () => (await metric(s, 'gatehouse_authcache_trusted')) === 1);
  });
  const dbName = () => db.slice('pg:'.length);
  const connections = (allow) => psqlAdmin(`ALTER DATABASE ${dbName()} WITH ALLOW_CONNECTIONS ${allow};`);
  after(async () => {
    if (db) connections(true);
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  const listeners = () => `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = '${dbName()}' AND (application_name = 'gatehouse listener' OR query LIKE 'LISTEN%');`;

  test('B bypasses its cache while its listener is down, refuses a session revoked on A at once, and recovers', async () => {
    const u = await signupOn(a);
    for (let k = 0; k < 4; k++) assert.equal((await me(b, u.access)).status, 200); // in B's cache, B's pool warm
    assert.equal(await metric(b, 'gatehouse_authcache_trusted'), 1);
    // No new connection to the database (the pools keep theirs): the
    // listeners cannot reconnect, so the window stays open.
    connections(false);
    const killed = psqlAdmin(listeners());
    assert.ok(killed.split('\n').filter((l) => l === 't').length >= 2, `both listeners terminated: ${killed}`);
    await until('B knows its listener is gone', async () => (await metric(b, 'gatehouse_authcache_trusted')) === 0, 3000, 5);
    // Revoked on A while B hears nothing: the very next check on B reads the
    // database (refused), and B's cache answers nothing meanwhile (its
    // session hits do not move: a hit would have said "live" until B's 1-s
    // poll came round).
    const hits = 'gatehouse_authcache_hits_total{table="sessions"}';
    const before = await metric(b, hits);
    const revoked = await api(a.url, 'DELETE', `/v1/sessions/${sidOf(u.access)}`, { token: u.access });
    assert.equal(revoked.status, 204, revoked.text);
    assertError(await me(b, u.access), 401, 'invalid_token');
    assert.equal(await metric(b, hits), before, 'no session was answered from B\'s cache');
    const other = await signin(b, u.email, u.password); // B still serves from the database (200)
    assert.equal((await me(b, other.access)).status, 200);
    assert.equal((await me(b, other.access)).status, 200);
    assert.equal(await metric(b, hits), before, 'still no hit');
    assert.equal(await metric(b, 'gatehouse_authcache_trusted'), 0, 'still bypassed while the listener is down');
    connections(true);
    for (const s of [a, b]) await until('the listener is back and the feed caught up', async () => (await metric(s, 'gatehouse_authcache_trusted')) === 1, 10000, 50);
    assert.match(b.stderr(), /fan-out: the listening connection to .* is lost/);
    assert.ok((b.stderr().match(/fan-out: listening on/g) || []).length >= 2, 'B listened again');
    // trusted again: a revocation on A reaches B's cache through the channel
    const t0 = Date.now();
    assert.equal((await api(a.url, 'POST', '/v1/signout', { token: other.access })).status, 204);
    await until('the sign-out reaches B', async () => (await me(b, other.access)).status === 401, 1000, 5);
    assert.ok(Date.now() - t0 < 1000);
  });
});
