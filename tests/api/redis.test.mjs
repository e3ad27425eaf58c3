// Rate limits shared through Redis (issue 5, decision 0010): a real
// redis-server (Debian's) on a free loopback port with a temp dir, and
// several gatehouse processes pointed at it with one master key.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  startServer, api, signup, me, sql, sleep, assertError, uniqueEmail, mkTempDir, freePort, runCli,
  assertNoSanitizerReport, dbOf,
} from './lib/harness.mjs';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const defaults = (...rules) => Object.fromEntries(rules.map((r) => [`GATEHOUSE_LIMIT_${r}`, null]));
const from = (ip) => ({ 'X-Forwarded-For': ip });
let n = 0;
const ipn = () => `203.0.113.${(n++ % 250) + 1}`;
const countAudit = (db, action) => Number(sql(db, `SELECT count(*) FROM audit_log WHERE action = '${action}';`));

// A redis-server of our own. restart() brings it back on the same port
// (the data is gone: no persistence), as after a crash.
async function startRedis({ password } = {}) {
  const port = await freePort();
  const dir = mkTempDir('gatehouse-redis-');
  let child;
  const cli = (...args) => {
    const r = spawnSync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...(password ? ['--no-auth-warning', '-a', password] : []), ...args],
      { encoding: 'utf8', timeout: 5000 });
    return (r.stdout ?? '').trim();
  };
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning', ...(password ? ['--requirepass', password] : [])];
    child = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (cli('PING') === 'PONG') return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer on ${port}`);
  };
  await launch();
  return {
    port,
    url: password ? `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    cli,
    keys: () => cli('--scan').split('\n').filter(Boolean),
    async stop() {
      if (!child || child.exitCode !== null) return;
      const c = child;
      c.kill('SIGTERM');
      await once(c, 'exit');
    },
    async restart() { await this.stop(); await launch(); },
  };
}

// Two replicas must agree on the keyed hash of a subject: the key is
// derived from the master key, so they share one.
const sharedEnv = (redis, extra = {}) => ({
  GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex'),
  GATEHOUSE_REDIS_URL: redis.url,
  GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1',
  ...extra,
});

const signinOn = (srv, email, password, ip) => api(srv.url, 'POST', '/v1/signin', { json: { email, password }, headers: from(ip) });

describe('two gatehouse processes sharing one Redis', () => {
  let redis; let a; let b;
  before(async () => {
    redis = await startRedis();
    const env = sharedEnv(redis, defaults('SIGNIN_IP_ACCOUNT', 'SIGNIN_IP'));
    a = await startServer({ env });
    b = await startServer({ env });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  test('they spend one sign-in budget: 5 per IP + address in all, whichever process is asked', async () => {
    const email = uniqueEmail();
    const ip = ipn();
    const seen = [];
    for (let i = 0; i < 7; i++) {
      const r = await signinOn(i % 2 ? b : a, email, 'wrong password here', ip);
      seen.push(r.status);
      if (i < 5) assert.match(r.headers.get('ratelimit'), new RegExp(`^"signin_ip_account";r=${4 - i};t=\\d+$`), `attempt ${i}`);
    }
    assert.deepEqual(seen, [401, 401, 401, 401, 401, 429, 429]);
    const r = await signinOn(a, email, 'x', ip);
    assertError(r, 429, 'rate_limited');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 170 && retry <= 180, `one attempt back after 900/5 s, got ${retry}`);
    // another address from that IP is not affected
    assert.equal((await signinOn(b, uniqueEmail(), 'wrong password here', ip)).status, 401);
  });

  test('a parallel burst of 60 split across both never gets past the budget, not even by one', async () => {
    const email = uniqueEmail();
    const ip = ipn();
    const res = await Promise.all(Array.from({ length: 60 }, (_, i) => signinOn(i % 2 ? b : a, email, `wrong password ${i} here`, ip)));
    assert.equal(res.filter((r) => r.status === 401).length, 5, res.map((r) => r.status).join(','));
    assert.equal(res.filter((r) => r.status === 429).length, 55);
    // and the per-IP rule (20) the same way, over 30 addresses
    const ip2 = ipn();
    const res2 = await Promise.all(Array.from({ length: 30 }, (_, i) => signinOn(i % 2 ? b : a, uniqueEmail(), 'wrong password here', ip2)));
    assert.equal(res2.filter((r) => r.status === 401).length, 20, res2.map((r) => r.status).join(','));
    assert.equal(res2.filter((r) => r.status === 429).length, 10);
  });

  test('the per-IP budgets of issue 9 are shared too: link_ip across two processes, an IPv6 /64 as one client', async () => {
    const env = sharedEnv(redis, { GATEHOUSE_LIMIT_LINK_IP: '3/900' }); // one master key for both
    const e = await startServer({ env });
    const f = await startServer({ env });
    try {
      const verify = (srv, ip) => api(srv.url, 'POST', '/v1/email/verify', { json: { token: crypto.randomBytes(32).toString('base64url') }, headers: from(ip) });
      const seen = [];
      for (const [srv, ip] of [[e, '2001:db8:9:1::1'], [f, '2001:db8:9:1::2'], [e, '2001:db8:9:1:ffff::3'], [f, '2001:db8:9:1::4']]) seen.push((await verify(srv, ip)).status);
      assert.deepEqual(seen, [401, 401, 401, 429]);
      assert.equal((await verify(e, '2001:db8:9:2::1')).status, 401, 'another /64');
    } finally {
      await e.stop();
      await f.stop();
    }
  });

  test('Redis holds keyed hashes only, each with an expiry, and no address or IP', async () => {
    const email = uniqueEmail();
    const ip = ipn();
    await signinOn(a, email, 'wrong password here', ip);
    const keys = redis.keys();
    assert.ok(keys.length >= 2);
    for (const k of keys) {
      assert.match(k, /^gatehouse:limit:[0-9a-f]{32}$/);
      const ttl = Number(redis.cli('PTTL', k));
      assert.ok(ttl > 0 && ttl <= 24 * 3600 * 1000, `${k} expires (PTTL ${ttl})`);
    }
    const dump = keys.map((k) => `${redis.cli('TYPE', k)} ${redis.cli('GET', k)} ${redis.cli('HGETALL', k)}`).join('\n');
    assert.ok(!dump.includes(email.split('@')[0]) && !dump.includes(ip), 'no subject in clear');
  });
});

describe('the lockout is shared through Redis too', () => {
  test('failures on both add up, and a success on either clears them', async () => {
    const redis = await startRedis();
    const env = sharedEnv(redis, { GATEHOUSE_LOCKOUT_THRESHOLD: '3', GATEHOUSE_LOCKOUT_MAX_DELAY: '60' });
    const a = await startServer({ env });
    const b = await startServer({ env });
    try {
      const u = uniqueEmail();
      const pw = 'correct horse battery staple 51';
      // the account exists on b only (each process has its own database)
      assert.equal((await api(b.url, 'POST', '/v1/signup', { json: { email: u, password: pw }, headers: from(ipn()) })).status, 201);
      for (const srv of [a, b, a]) assert.equal((await signinOn(srv, u, 'wrong password here', ipn())).status, 401);
      const r = await signinOn(b, u, pw, ipn());
      assertError(r, 429, 'rate_limited');
      assert.match(r.headers.get('ratelimit-policy'), /^"signin_lockout";q=3;w=60$/);
      await sleep(1100);
      assert.equal((await signinOn(b, u, pw, ipn())).status, 200, 'the lock was 1 s');
      // the success cleared the count for both: two more failures do not lock
      for (const srv of [a, b]) assert.equal((await signinOn(srv, u, 'wrong password here', ipn())).status, 401);
      assert.equal((await signinOn(b, u, pw, ipn())).status, 200);
    } finally {
      await a.stop();
      await b.stop();
      await redis.stop();
    }
  });
});

describe('a refused rule gives back what the earlier rules of the request took, in Redis', () => {
  test('sign-in per IP refused: the IP + address unit is refunded', async () => {
    const redis = await startRedis();
    const srv = await startServer({ env: sharedEnv(redis, { GATEHOUSE_LIMIT_SIGNIN_IP_ACCOUNT: '2/900', GATEHOUSE_LIMIT_SIGNIN_IP: '2/900' }) });
    try {
      const ip = ipn();
      const x = uniqueEmail();
      assert.equal((await signinOn(srv, x, 'wrong password here', ip)).status, 401);
      assert.equal((await signinOn(srv, uniqueEmail(), 'wrong password here', ip)).status, 401);
      // the IP rule is spent: x's pair rule takes a unit, then gives it back
      assertError(await signinOn(srv, x, 'wrong password here', ip), 429, 'rate_limited');
      // one unit of 900/2 s is ~450 s of TAT; two would be ~900 s
      const ttls = redis.keys().map((k) => Number(redis.cli('PTTL', k))).sort((p, q) => p - q);
      assert.equal(ttls.length, 3, 'two pair keys and the IP key');
      assert.ok(ttls[0] <= 451000 && ttls[1] <= 451000, `both pairs hold one unit: ${ttls}`);
      assert.ok(ttls[2] > 850000, `the IP key holds two: ${ttls}`);
    } finally {
      await srv.stop();
      await redis.stop();
    }
  });
});

describe('bearer requests spend the user\'s budget in Redis on the event loop', () => {
  test('a parallel burst of 40 GET /v1/me against 10/60 admits exactly 10', async () => {
    const redis = await startRedis();
    const srv = await startServer({ env: sharedEnv(redis, { GATEHOUSE_LIMIT_API_USER: '10/60' }) });
    try {
      const u = await signup(srv, uniqueEmail(), undefined, from(ipn()));
      const res = await Promise.all(Array.from({ length: 40 }, () => me(srv, u.access)));
      assert.equal(res.filter((r) => r.status === 200).length, 10, res.map((r) => r.status).join(','));
      assert.equal(res.filter((r) => r.status === 429).length, 30);
      assert.equal(res.find((r) => r.status === 429).headers.get('ratelimit-policy'), '"api_user";q=10;w=60');
    } finally {
      await srv.stop();
      await redis.stop();
    }
  });
});

describe('Redis outage', () => {
  test('sign-in fails closed (503, nothing processed) while the API keeps local budgets; it recovers by itself', async () => {
    const redis = await startRedis();
    const srv = await startServer({ env: sharedEnv(redis, defaults('SIGNIN_IP_ACCOUNT')) });
    try {
      const db = dbOf(srv.dataDir);
      const up = async () => Number(/^gatehouse_redis_up (-?\d+)$/m.exec((await api(srv.url, 'GET', '/metrics')).text)[1]);
      const u = await signup(srv, uniqueEmail(), undefined, from(ipn()));
      assert.equal((await me(srv, u.access)).status, 200);
      assert.equal(await up(), 1);
      await redis.stop();
      const failures = countAudit(db, 'signin.failure');
      const successes = countAudit(db, 'signin.success');
      const sessions = Number(sql(db, 'SELECT count(*) FROM sessions;'));
      for (let i = 0; i < 5; i++) {
        const r = await signinOn(srv, u.email, i % 2 ? u.password : 'wrong password here', ipn());
        assertError(r, 503, 'rate_limiter_unavailable', `attempt ${i}`);
        assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
        assert.equal(r.headers.get('ratelimit'), null, 'no budget is claimed');
      }
      // nothing was processed: no password check recorded, no session
      assert.equal(countAudit(db, 'signin.failure'), failures);
      assert.equal(countAudit(db, 'signin.success'), successes);
      assert.equal(Number(sql(db, 'SELECT count(*) FROM sessions;')), sessions);
      // sign-up and emailed links fail closed as well
      assertError(await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: 'correct horse battery staple 9' }, headers: from(ipn()) }), 503, 'rate_limiter_unavailable');
      assertError(await api(srv.url, 'POST', '/v1/magic-link', { json: { email: u.email }, headers: from(ipn()) }), 503, 'rate_limiter_unavailable');
      // bearer requests use this process's own budget meanwhile
      assert.equal((await me(srv, u.access)).status, 200);
      const down = srv.stderrLines().filter((l) => /redis .* unavailable/.test(l));
      assert.equal(down.length, 1, `the outage is logged once, not per request:\n${down.join('\n')}`);
      assert.match(down[0], /"level":"error"/);
      assert.equal(await up(), 0, '/metrics shows the outage');

      await redis.restart();
      let ok = null;
      for (let i = 0; i < 150 && !ok; i++) {
        const r = await signinOn(srv, u.email, u.password, ipn());
        if (r.status === 200) ok = r;
        else { assertError(r, 503, 'rate_limiter_unavailable'); await sleep(100); }
      }
      assert.ok(ok, 'sign-in works again without restarting gatehouse');
      assert.equal(await up(), 1);
      assert.equal(countAudit(db, 'signin.success'), successes + 1);
      assert.equal(srv.stderrLines().filter((l) => /redis .* reachable again/.test(l)).length, 1);
      assert.ok(redis.keys().length >= 1, 'the budgets are back in Redis');
    } finally {
      await srv.stop();
      await redis.stop();
    }
  });

  test('GATEHOUSE_REDIS_FAILURE_SIGNIN=local: this process\'s own budgets meanwhile; _API=closed: bearer requests 503', async () => {
    const redis = await startRedis();
    const srv = await startServer({ env: sharedEnv(redis, { ...defaults('SIGNIN_IP_ACCOUNT'), GATEHOUSE_REDIS_FAILURE_SIGNIN: 'local', GATEHOUSE_REDIS_FAILURE_API: 'closed' }) });
    try {
      const u = await signup(srv, uniqueEmail(), undefined, from(ipn()));
      await redis.stop();
      const ip = ipn();
      const res = [];
      for (let i = 0; i < 6; i++) res.push((await signinOn(srv, u.email, 'wrong password here', ip)).status);
      assert.deepEqual(res, [401, 401, 401, 401, 401, 429], 'still limited, from memory');
      assertError(await me(srv, u.access), 503, 'rate_limiter_unavailable');
      assert.match(srv.stderr(), /sign-in, sign-up, emailed links, second factors and lockout use this process's own budgets; API and refresh budgets fail closed/);
    } finally {
      await srv.stop();
      await redis.stop();
    }
  });

  test('unreachable at start: development warns and fails closed; production refuses to start', async () => {
    const port = await freePort(); // nothing listens there
    const env = { GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${port}` };
    const srv = await startServer({ env });
    try {
      assert.match(srv.stderr(), /redis 127\.0\.0\.1:\d+ unavailable \(connect: Connection refused\)/);
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: uniqueEmail(), password: 'x' } }), 503, 'rate_limiter_unavailable');
    } finally {
      await srv.stop();
    }
    const prod = {
      GATEHOUSE_ENV: 'production', GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null,
      GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex'), GATEHOUSE_DATA_DIR: mkTempDir(),
      GATEHOUSE_LISTEN: `127.0.0.1:${await freePort()}`, ...env,
    };
    assert.equal(runCli(['migrate'], { env: prod }).code, 0);
    const r = runCli(['serve'], { env: prod });
    assertNoSanitizerReport(r.stderr, 'production serve');
    assert.equal(r.signal, null, 'exits by itself');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unreachable at start/);
    assert.match(r.stderr, /the rate limits cannot use Redis/);
  });
});

describe('Redis with a password', () => {
  const password = `pw/${crypto.randomBytes(9).toString('base64url')}@x`;
  let redis;
  before(async () => { redis = await startRedis({ password }); });
  after(async () => { await redis?.stop(); });

  test('in the URL or in GATEHOUSE_REDIS_PASSWORD_FILE: it works, and the password is never in the log', async () => {
    const dir = mkTempDir();
    const file = path.join(dir, 'redis-password');
    fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
    for (const env of [
      sharedEnv(redis, defaults('SIGNIN_IP_ACCOUNT')),
      sharedEnv(redis, { ...defaults('SIGNIN_IP_ACCOUNT'), GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${redis.port}/3`, GATEHOUSE_REDIS_PASSWORD_FILE: file }),
    ]) {
      const srv = await startServer({ env });
      try {
        const email = uniqueEmail();
        const ip = ipn();
        const res = [];
        for (let i = 0; i < 6; i++) res.push((await signinOn(srv, email, 'wrong password here', ip)).status);
        assert.deepEqual(res, [401, 401, 401, 401, 401, 429]);
        assert.match(srv.stderr(), /rate limits shared through redis 127\.0\.0\.1:\d+ db (0|3)/);
      } finally {
        await srv.stop();
      }
      const log = srv.stderr();
      for (const s of [password, encodeURIComponent(password), password.slice(3, 12)]) assert.ok(!log.includes(s), 'password not in the log');
    }
    assert.ok(redis.cli('-n', '3', '--scan').length > 0, 'db 3 was used');
  });

  test('a wrong password stops the start, naming the problem but not the password', async () => {
    const wrong = `wrong-${crypto.randomBytes(6).toString('hex')}`;
    const r = runCli(['serve'], {
      env: { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_LISTEN: `127.0.0.1:${await freePort()}`, GATEHOUSE_REDIS_URL: `redis://:${wrong}@127.0.0.1:${redis.port}` },
    });
    assertNoSanitizerReport(r.stderr, 'serve');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /AUTH refused: WRONGPASS/);
    assert.ok(!r.stderr.includes(wrong) && !r.stderr.includes(password));
    // no password at all against a server that wants one: refused too
    const r2 = runCli(['serve'], { env: { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_LISTEN: `127.0.0.1:${await freePort()}`, GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${redis.port}` } });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /NOAUTH/);
  });

  test('bad configuration is refused before anything starts, without echoing the URL', () => {
    const secret = 'sup3rs3cret';
    for (const [env, re] of [
      [{ GATEHOUSE_REDIS_URL: `redis://:${secret}@127.0.0.1:70000` }, /GATEHOUSE_REDIS_URL must be redis:\/\//],
      [{ GATEHOUSE_REDIS_URL: `rediss://:${secret}@127.0.0.1` }, /TLS \(rediss:\/\/\) is not supported/],
      [{ GATEHOUSE_REDIS_URL: `redis://:${secret}@127.0.0.1`, GATEHOUSE_REDIS_PASSWORD: secret }, /give the Redis password once/],
      [{ GATEHOUSE_REDIS_PASSWORD: secret }, /GATEHOUSE_REDIS_PASSWORD is set but GATEHOUSE_REDIS_URL is not/],
      [{ GATEHOUSE_REDIS_URL: 'redis://127.0.0.1', GATEHOUSE_REDIS_FAILURE_SIGNIN: 'open' }, /GATEHOUSE_REDIS_FAILURE_SIGNIN must be closed or local/],
      [{ GATEHOUSE_REDIS_URL: 'redis://127.0.0.1', GATEHOUSE_REDIS_TIMEOUT_MS: '0' }, /GATEHOUSE_REDIS_TIMEOUT_MS must be an integer between 1 and 1000/],
    ]) {
      const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: mkTempDir(), ...env } });
      assert.notEqual(r.code, 0, JSON.stringify(env));
      assert.match(r.stderr, re);
      assert.ok(!r.stderr.includes(secret), 'the password is not repeated');
    }
  });
});
