// PostgreSQL outage under a running server (issue 14): the test starts a
// cluster of its own (scripts/pg_cluster.sh, a free port) and stops it
// while Gatehouse serves. Requests that need the database answer 503
// database_unavailable quickly (Retry-After: 1): never 500, never a wrong
// answer such as invalid_credentials; /readyz turns 503. After the cluster
// starts again the same process serves again, without a restart.
// Runs when GATEHOUSE_TEST_PG is set (the PostgreSQL runs), skipped else.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  REPO_ROOT, startServer, api, signup, signin, refresh, uniqueEmail, strongPassword,
  freePort, sleep, assertError,
} from './lib/harness.mjs';

const ENABLED = !!process.env.GATEHOUSE_TEST_PG;
const CLUSTER = path.join(REPO_ROOT, 'scripts', 'pg_cluster.sh');

function cluster(...args) {
  const r = spawnSync(CLUSTER, args, { encoding: 'utf8', timeout: 90000 });
  assert.equal(r.status, 0, `pg_cluster.sh ${args[0]}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The database and the docs' roles in the cluster at superUrl. */
function makeDatabase(superUrl, db) {
  const v = (k, val) => ['-v', `${k}=${val}`];
  const pw = () => crypto.randomBytes(12).toString('hex'); // the file asks; loopback is trusted
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', superUrl,
    ...v('dbname', db), ...v('owner_role', 'gh_outage_owner'), ...v('app_role', 'gh_outage_app'),
    ...v('prune_role', 'gh_outage_prune'), ...v('owner_password', pw()), ...v('app_password', pw()),
    ...v('prune_password', pw()), '-f', path.join(REPO_ROOT, 'docs', 'examples', 'postgresql-roles.sql')],
  { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `roles: ${r.stderr}`);
}

const urlAs = (superUrl, db, user) => {
  const u = new URL(superUrl);
  u.pathname = '/' + db;
  u.username = user;
  return u.toString();
};

async function timed(fn) {
  const t0 = Date.now();
  const r = await fn();
  return { r, ms: Date.now() - t0 };
}

describe('PostgreSQL outage while serving', { skip: !ENABLED && 'GATEHOUSE_TEST_PG is not set' }, () => {
  const dir = path.join(os.tmpdir(), `gh-pg-outage-${crypto.randomBytes(4).toString('hex')}`);
  let started = false;
  after(() => {
    if (started) spawnSync(CLUSTER, ['stop', dir], { timeout: 60000 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('503 database_unavailable during the outage, /readyz 503, then serving again without a restart', async () => {
    const port = await freePort();
    const superUrl = cluster('start', dir, String(port));
    started = true;
    const db = 'gh_outage';
    makeDatabase(superUrl, db);
    const srv = await startServer({
      env: {
        GATEHOUSE_DATABASE_URL: urlAs(superUrl, db, 'gh_outage_app'),
        GATEHOUSE_DATABASE_MIGRATE_URL: urlAs(superUrl, db, 'gh_outage_owner'),
        GATEHOUSE_DATABASE_RETENTION_URL: urlAs(superUrl, db, 'gh_outage_prune'),
        GATEHOUSE_DATABASE_POOL: 4,
      },
    });
    const statuses = [];
    const note = (what, r) => { statuses.push(`${what}: ${r.status} ${r.json?.error?.code ?? ''}`); return r; };
    try {
      const email = uniqueEmail();
      const password = strongPassword();
      await signup(srv, email, password);
      const s = await signin(srv, email, password);
      assert.equal((await api(srv.url, 'GET', '/readyz')).status, 200);

      cluster('stop', dir);

      // Needs the database: a clean, quick 503, whatever the password.
      for (const pw of [password, 'not the password at all']) {
        const { r, ms } = await timed(() => api(srv.url, 'POST', '/v1/signin', { json: { email, password: pw } }));
        note('signin', r);
        assertError(r, 503, 'database_unavailable', 'signin during the outage');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.ok(ms < 3000, `signin answered in ${ms} ms`);
      }
      const { r: rt, ms: rtMs } = await timed(() => refresh(srv, s.refresh));
      note('refresh', rt);
      assertError(rt, 503, 'database_unavailable', 'refresh during the outage');
      assert.ok(rtMs < 3000, `refresh answered in ${rtMs} ms`);
      const { r: up, ms: upMs } = await timed(() => api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } }));
      note('signup', up);
      assertError(up, 503, 'database_unavailable', 'signup during the outage');
      assert.ok(upMs < 3000, `signup answered in ${upMs} ms`);
      // A bearer request the cache answers may succeed; it never fails with 500.
      const meOut = note('me', await api(srv.url, 'GET', '/v1/me', { token: s.access }));
      assert.ok([200, 503].includes(meOut.status), `/v1/me during the outage: ${meOut.status}`);

      let ready;
      for (let i = 0; i < 40; i++) {
        ready = await api(srv.url, 'GET', '/readyz');
        if (ready.status === 503) break;
        await sleep(250);
      }
      assert.equal(ready.status, 503, '/readyz during the outage');
      assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200, 'the process itself is alive');

      cluster('start', dir, String(port));

      // Back within the backoff (at most 5 s per link) and the probe (2 s).
      let back;
      for (let i = 0; i < 60; i++) {
        back = note('signin after', await api(srv.url, 'POST', '/v1/signin', { json: { email, password } }));
        if (back.status === 200) break;
        assertError(back, 503, 'database_unavailable', 'while the cluster comes back');
        await sleep(250);
      }
      assert.equal(back.status, 200, `sign-in after the restart: ${back.text}`);
      const wrong = await api(srv.url, 'POST', '/v1/signin', { json: { email, password: 'still not it at all' } });
      assertError(wrong, 401, 'invalid_credentials', 'a wrong password after the restart');
      for (let i = 0; i < 40; i++) {
        ready = await api(srv.url, 'GET', '/readyz');
        if (ready.status === 200) break;
        await sleep(250);
      }
      assert.equal(ready.status, 200, '/readyz after the restart');
      assert.equal((await refresh(srv, back.json.refresh_token)).status, 200);
      assert.ok(!statuses.some((x) => / 500 /.test(x + ' ')), statuses.join('\n'));
    } finally {
      await srv.stop();
    }
    // The URLs never reach the log.
    assert.ok(!srv.stderr().includes('postgres://'), 'a database URL in the log');
  });
});
