// The GATEHOUSE_DATABASE_* settings (src/store/pg_config.c): a bad value
// stops every command at start with a message that names the variable and
// never quotes the URL (it may hold a password). These need no PostgreSQL:
// the refusals come before any connection. With GATEHOUSE_TEST_PG set, a
// second part checks that two servers share one PostgreSQL database (no
// SQLite database lock) and that a replica's `serve` migrates once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  runCli, mkTempDir, startServer, signup, signin, dbEnv, ON_PG,
} from './lib/harness.mjs';

const SECRET = 'hunter2-do-not-print';

function refused(env, args = ['migrate']) {
  const r = runCli(args, { env: { GATEHOUSE_DATA_DIR: mkTempDir(), ...env } });
  assert.equal(r.code, 2, `exit code: ${r.stdout}${r.stderr}`);
  assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET), `the URL was printed: ${r.stderr}`);
  return r.stderr;
}

describe('GATEHOUSE_DATABASE_* settings', () => {
  test('a URL that is not postgres:// or postgresql:// is refused, naming the variable only', () => {
    for (const url of [`mysql://gh:${SECRET}@db/gh`, `sqlite:///tmp/${SECRET}.db`, SECRET]) {
      const err = refused({ GATEHOUSE_DATABASE_URL: url });
      assert.match(err, /GATEHOUSE_DATABASE_URL\(_FILE\) must be a postgres:\/\/ or postgresql:\/\/ URL/);
    }
    const err = refused({ GATEHOUSE_DATABASE_URL: 'postgres://x@127.0.0.1/gh', GATEHOUSE_DATABASE_MIGRATE_URL: `http://o:${SECRET}@db/` });
    assert.match(err, /GATEHOUSE_DATABASE_MIGRATE_URL/);
  });

  test('a postgres URL libpq cannot read is refused without quoting it', () => {
    const err = refused({ GATEHOUSE_DATABASE_URL: `postgres://u:${SECRET}@db/gh?nosuchoption=1` });
    assert.match(err, /GATEHOUSE_DATABASE_URL\(_FILE\) is not a URL libpq can read/);
  });

  test("a password with a raw '@' (its tail would be read as the host) is refused without quoting it", () => {
    for (const v of ['GATEHOUSE_DATABASE_URL', 'GATEHOUSE_DATABASE_MIGRATE_URL']) {
      const env = { GATEHOUSE_DATABASE_URL: 'postgres://x@127.0.0.1/gh' };
      env[v] = `postgres://u:pa@${SECRET}@127.0.0.1:5432/gh`;
      const err = refused(env);
      assert.match(err, new RegExp(v), err);
    }
  });

  test('the URL from a file (trailing newline dropped); not both forms', () => {
    const dir = mkTempDir();
    const file = path.join(dir, 'db.url');
    fs.writeFileSync(file, `mysql://u:${SECRET}@db/gh\n`, { mode: 0o600 });
    assert.match(refused({ GATEHOUSE_DATABASE_URL_FILE: file }), /must be a postgres:\/\//);
    const both = refused({ GATEHOUSE_DATABASE_URL_FILE: file, GATEHOUSE_DATABASE_URL: 'postgres://u@db/gh' });
    assert.match(both, /set only one of GATEHOUSE_DATABASE_URL and GATEHOUSE_DATABASE_URL_FILE/);
  });

  test('the owner and retention URLs need the runtime URL; the pool is 1..500', () => {
    assert.match(refused({ GATEHOUSE_DATABASE_MIGRATE_URL: `postgres://o:${SECRET}@db/gh` }),
      /GATEHOUSE_DATABASE_MIGRATE_URL and GATEHOUSE_DATABASE_RETENTION_URL need GATEHOUSE_DATABASE_URL/);
    assert.match(refused({ GATEHOUSE_DATABASE_RETENTION_URL: `postgres://p:${SECRET}@db/gh` }),
      /need GATEHOUSE_DATABASE_URL/);
    for (const n of ['0', '501', 'ten']) {
      assert.match(refused({ GATEHOUSE_DATABASE_URL: 'postgres://u@db/gh', GATEHOUSE_DATABASE_POOL: n }),
        /GATEHOUSE_DATABASE_POOL must be an integer between 1 and 500/);
    }
  });

  test('an unreachable database stops the start with the host, not the URL', () => {
    const err = refused({ GATEHOUSE_DATABASE_URL: `postgres://u:${SECRET}@127.0.0.1:1/gh` }, ['keys', 'list']);
    assert.match(err, /127\.0\.0\.1:1\/gh/);
  });
});

describe('several servers on one PostgreSQL database', { skip: !ON_PG && 'GATEHOUSE_TEST_PG is not set' }, () => {
  test('two servers on one data directory and database: no SQLite database lock on PostgreSQL', async () => {
    const a = await startServer();
    // On SQLite the second would be refused ("another gatehouse serves
    // this database"); PostgreSQL is shared by design.
    const b = await startServer({ dataDir: a.dataDir, env: dbEnv(a.dataDir) });
    try {
      const email = `shared-${Date.now()}@example.com`;
      const password = 'correct horse battery staple 77';
      await signup(a, email, password);
      const s = await signin(b, email, password);
      assert.ok(s.access);
      assert.ok(!b.stderr().includes('migration 1 applied'), 'the second server migrated again');
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
