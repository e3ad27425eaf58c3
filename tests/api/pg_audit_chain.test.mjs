// One audit chain under concurrent writers: three `gatehouse serve`
// replicas on one PostgreSQL database, 16 concurrent sign-ups and sign-outs
// on each at once; afterwards the ids are 1..N with no gap, every row
// continues from the row before it (no fork), and `gatehouse audit verify`
// passes. Needs GATEHOUSE_TEST_PG.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, runCli, api, mkTempDir, uniqueEmail, strongPassword, assertNoSanitizerReport,
  ON_PG, dbEnv, dbOf, sql,
} from './lib/harness.mjs';

const skip = ON_PG ? false : 'GATEHOUSE_TEST_PG is not set';
const REPLICAS = 3;
const PER_REPLICA = 16;

describe('postgres: one audit chain from three replicas', { skip }, () => {
  let db; // the shared database, as sql() names it
  let shared; // the configuration every replica shares
  const servers = [];

  before(async () => {
    // the harness's database for the first replica's data directory (made
    // by the docs' roles script), handed to all three: runtime role to
    // serve, owner role to apply the migrations
    const dir0 = mkTempDir();
    db = dbOf(dir0);
    shared = {
      ...dbEnv(dir0),
      // same master key: the data and signing keys in the database are
      // sealed under it, and every replica opens them
      GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    };
    // the first replica migrates and creates the first keys; the others find them
    servers.push(await startServer({ dataDir: dir0, env: shared }));
    const rest = await Promise.all(
      Array.from({ length: REPLICAS - 1 }, () => startServer({ env: shared })));
    servers.push(...rest);
  });

  after(async () => {
    for (const s of servers) await s.stop();
  });

  test(`${REPLICAS} replicas x ${PER_REPLICA} concurrent sign-ups and sign-outs: one chain, ids 1..N, verify ok`, async () => {
    const flow = async (srv) => {
      const up = await api(srv.url, 'POST', '/v1/signup',
        { json: { email: uniqueEmail(), password: strongPassword() } });
      assert.equal(up.status, 201, `${srv.url} signup: ${up.text}`);
      const out = await api(srv.url, 'POST', '/v1/signout', { token: up.json.access_token });
      assert.equal(out.status, 204, `${srv.url} signout: ${out.text}`);
      return up.json.user.id;
    };
    const ids = await Promise.all(servers.flatMap((s) => Array.from({ length: PER_REPLICA }, () => flow(s))));
    const n = REPLICAS * PER_REPLICA;
    assert.equal(new Set(ids).size, n);

    const rows = sql(db, 'SELECT id, action, prev_hash, hash FROM audit_log ORDER BY id;')
      .split('\n').map((l) => l.split('|'));
    assert.equal(rows.length, 2 * n, 'one signup and one signout row per flow');
    rows.forEach(([id], i) => assert.equal(Number(id), i + 1, `ids are 1..N with no gap (row ${i + 1})`));
    for (let i = 1; i < rows.length; i++) {
      assert.equal(rows[i][2], rows[i - 1][3], `row ${i + 1} continues from row ${i} (no fork)`);
    }
    assert.equal(rows.filter((r) => r[1] === 'signup').length, n);
    assert.equal(rows.filter((r) => r[1] === 'signout').length, n);
    // a fork would need two rows with one prev_hash
    assert.equal(new Set(rows.map((r) => r[2])).size, rows.length, 'no two rows continue from one row');

    const v = runCli(['audit', 'verify'], { env: { ...shared, GATEHOUSE_DATA_DIR: mkTempDir() }, timeoutMs: 60000 });
    assertNoSanitizerReport(v.stderr, 'audit verify');
    assert.equal(v.code, 0, `${v.stdout} ${v.stderr}`);
    assert.equal(v.stdout.trim(), `ok ${2 * n} rows`);
  });
});
