// The three PostgreSQL roles (docs/postgresql.md, "Roles"): the database
// and roles are made by docs/examples/postgresql-roles.sql as the docs say;
// `gatehouse migrate` (the owner) grants; the runtime role can append to
// the audit log and nothing more, the owner cannot rewrite it either (the
// triggers), only the retention role prunes, through the gate; `serve`
// refuses the owner and a superuser. Needs GATEHOUSE_TEST_PG.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  startServer, runCli, signup, api, rawRequest, mkTempDir, freePort, assertNoSanitizerReport,
  uniqueEmail, strongPassword,
} from './lib/harness.mjs';
import {
  PG_SUPER, OWNER, APP, createGatehouseDatabase, dropGatehouseDatabase, psqlAt,
} from './lib/pg_roles.mjs';

const skip = PG_SUPER ? false : 'GATEHOUSE_TEST_PG is not set';

/** Which of the strings are in the writable memory of process pid (our
 *  child: /proc/<pid>/mem may be read). Mappings over 1 GiB are skipped
 *  (the sanitizer's shadow: reserved, not data). */
function inMemory(pid, strings) {
  const found = new Set();
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
      if (!m) continue;
      const from = BigInt(`0x${m[1]}`);
      const len = Number(BigInt(`0x${m[2]}`) - from);
      if (len > 2 ** 30) continue;
      const buf = Buffer.alloc(len);
      let n = 0;
      try { n = fs.readSync(fd, buf, 0, len, from); } catch { continue; } // a guard page
      for (const str of strings) if (buf.subarray(0, n).indexOf(str) >= 0) found.add(str);
    }
  } finally {
    fs.closeSync(fd);
  }
  return found;
}

describe('postgres roles', { skip }, () => {
  let d; // the database's URLs
  let dataDir;
  let env; // the runtime role's configuration
  let srv;
  let rows0 = 0;

  const cli = (args, extra = {}) => {
    const r = runCli(args, { env: { ...env, ...extra }, timeoutMs: 60000 });
    assertNoSanitizerReport(r.stderr, args.join(' '));
    return r;
  };
  const count = () => Number(psqlAt(d.superuser, 'SELECT count(*) FROM audit_log;').stdout);
  /** Runs sql as url and asserts it fails with a message matching re. */
  const refused = (url, sql, re) => {
    const r = psqlAt(url, sql);
    assert.notEqual(r.code, 0, `${sql} must fail: ${r.stdout}`);
    assert.match(r.stderr, re, `${sql}: ${r.stderr}`);
  };

  before(async () => {
    d = createGatehouseDatabase();
    dataDir = mkTempDir();
    env = { GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_DATABASE_URL: d.app };
    const m = cli(['migrate'], { GATEHOUSE_DATABASE_MIGRATE_URL: d.owner });
    assert.equal(m.code, 0, `migrate as the owner: ${m.stdout} ${m.stderr}`);
    srv = await startServer({ dataDir, env });
    // rows appended as the runtime role, by a command and by the server
    const f = cli(['audit', 'fill', '5']);
    assert.equal(f.code, 0, `audit fill as the runtime role: ${f.stdout} ${f.stderr}`);
    const u = await signup(srv);
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: u.access })).status, 204);
    rows0 = count();
    assert.equal(rows0, 7, 'five rows, a signup and a signout');
  });

  after(async () => {
    await srv?.stop();
    if (d) dropGatehouseDatabase(d.db);
  });

  test('the tables belong to the owner; the runtime role reads and appends', () => {
    const own = psqlAt(d.superuser,
      "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p');");
    assert.equal(own.stdout, OWNER);
    const r = psqlAt(d.app, 'SELECT count(*) FROM audit_log; SELECT open FROM audit_gate;');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), [String(rows0), '0']);
  });

  test('as the runtime role every statement that could change the audit log fails', () => {
    const denied = /permission denied for table audit_log/;
    const notOwner = /must be owner of (table|relation) audit_log/;
    refused(d.app, "UPDATE audit_log SET actor = 'x';", denied);
    refused(d.app, "UPDATE audit_log SET details = '{}' WHERE id = 1;", denied);
    refused(d.app, 'DELETE FROM audit_log;', denied);
    refused(d.app, 'DELETE FROM audit_log WHERE id = 1;', denied);
    refused(d.app, 'TRUNCATE audit_log;', denied);
    refused(d.app, 'DROP TRIGGER audit_log_no_update ON audit_log;', notOwner);
    refused(d.app, 'DROP TRIGGER audit_log_no_delete ON audit_log;', notOwner);
    refused(d.app, 'ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete;', notOwner);
    refused(d.app, 'ALTER TABLE audit_log DISABLE TRIGGER ALL;', notOwner);
    refused(d.app, 'DROP TABLE audit_log;', notOwner);
    refused(d.app, 'DROP FUNCTION audit_log_append_only() CASCADE;', /must be owner of function/);
    refused(d.app, 'UPDATE audit_gate SET open = 1;', /permission denied for table audit_gate/);
    refused(d.app, 'DELETE FROM audit_gate;', /permission denied for table audit_gate/);
    refused(d.app, 'SET session_replication_role = replica;', /permission denied to set parameter/);
    refused(d.app, 'DELETE FROM schema_migrations;', /permission denied for table schema_migrations/);
    refused(d.app, 'CREATE TABLE audit_gate_x (id int);', /permission denied for schema public/);
    refused(d.app, 'CREATE TEMP TABLE audit_gate (id int, open int);', /permission denied to create temporary tables/);
    refused(d.app, `GRANT ${OWNER} TO ${APP};`, /permission denied to grant role|must have admin option/);
    assert.equal(count(), rows0, 'no row changed');
  });

  test('as the runtime role the partitions of audit_log cannot be reached, dropped or detached', () => {
    const parts = psqlAt(d.superuser,
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass ORDER BY c.relname;");
    assert.deepEqual(parts.stdout.split('\n'), ['audit_log_p0', 'audit_log_p10000000', 'audit_log_p20000000']);
    refused(d.app, 'SELECT audit_log_drop_through(1);', /permission denied for function audit_log_drop_through/);
    refused(d.app, 'DROP TABLE audit_log_p0;', /must be owner of (table|relation) audit_log_p0/);
    refused(d.app, 'ALTER TABLE audit_log DETACH PARTITION audit_log_p0;', /must be owner of (table|relation) audit_log/);
    refused(d.app, 'DELETE FROM audit_log_p0;', /permission denied for table audit_log_p0/);
    refused(d.app, 'TRUNCATE audit_log_p10000000;', /permission denied for table audit_log_p10000000/);
    refused(d.app, "UPDATE audit_log_p0 SET actor = 'x';", /permission denied for table audit_log_p0/);
    refused(d.app, 'SELECT count(*) FROM audit_log_p0;', /permission denied for table audit_log_p0/);
    refused(d.app, 'ALTER TABLE audit_log_p0 DISABLE TRIGGER ALL;', /must be owner of (table|relation) audit_log_p0/);
    refused(d.app, 'CREATE TABLE audit_log_x PARTITION OF audit_log FOR VALUES FROM (90000000) TO (90000010);',
      /permission denied for schema public|must be owner of (table|relation) audit_log/);
    refused(d.app, 'UPDATE audit_partitioning SET block = 2;', /permission denied for table audit_partitioning/);
    // what it may do: make the next partitions (none are due yet)
    const ext = psqlAt(d.app, 'SELECT audit_log_extend();');
    assert.equal(ext.code, 0, ext.stderr);
    assert.equal(ext.stdout, '0');
    assert.equal(count(), rows0, 'no row changed');
  });

  test('the owner cannot rewrite, delete or truncate audit rows either (the triggers)', () => {
    refused(d.owner, "UPDATE audit_log SET actor = 'x' WHERE id = 1;", /audit_log is append-only/);
    refused(d.owner, 'UPDATE audit_log SET actor = actor WHERE false;', /audit_log is append-only/);
    refused(d.owner, 'DELETE FROM audit_log WHERE id = 1;', /audit_log is append-only/);
    refused(d.owner, 'TRUNCATE audit_log;', /audit_log is append-only/);
    // a statement that names a partition fires that partition's triggers
    refused(d.owner, 'DELETE FROM audit_log_p0 WHERE id = 1;', /audit_log is append-only/);
    refused(d.owner, "UPDATE audit_log_p0 SET actor = 'x' WHERE id = 1;", /audit_log is append-only/);
    refused(d.owner, 'TRUNCATE audit_log_p0;', /audit_log is append-only/);
    refused(d.owner, 'SELECT audit_log_drop_through(1);', /audit_log is append-only/);
    assert.equal(count(), rows0);
  });

  test('the retention role cannot delete outside the gate, nor update rows', () => {
    refused(d.prune, 'DELETE FROM audit_log WHERE id = 1;', /audit_log is append-only/);
    refused(d.prune, "UPDATE audit_log SET actor = 'x';", /permission denied for table audit_log/);
    refused(d.prune, 'TRUNCATE audit_log;', /permission denied for table audit_log/);
    refused(d.prune, 'SELECT count(*) FROM users;', /permission denied for table users/);
    // partitions: only through the function, only while the gate is open,
    // never the newest row
    refused(d.prune, 'SELECT audit_log_drop_through(1);', /audit_log is append-only/);
    refused(d.prune, 'BEGIN; UPDATE audit_gate SET open = 1; SELECT audit_log_drop_through(max(id)) FROM audit_log;',
      /audit_log keeps its newest row/);
    refused(d.prune, 'SELECT audit_log_extend();', /permission denied for function audit_log_extend/);
    refused(d.prune, 'DROP TABLE audit_log_p0;', /must be owner of (table|relation) audit_log_p0/);
    refused(d.prune, 'ALTER TABLE audit_log DETACH PARTITION audit_log_p0;', /must be owner of (table|relation) audit_log/);
    refused(d.prune, 'DELETE FROM audit_log_p0;', /permission denied for table audit_log_p0/);
    refused(d.prune, 'TRUNCATE audit_log_p10000000;', /permission denied for table audit_log_p10000000/);
    assert.equal(psqlAt(d.superuser, 'SELECT open FROM audit_gate;').stdout, '0');
    assert.equal(count(), rows0);
  });

  test('serve refuses the owner role and a superuser, naming the role', async () => {
    for (const [url, who, re] of [[d.owner, OWNER, /owns Gatehouse's tables/], [d.superuser, 'postgres', /superuser/]]) {
      const port = await freePort();
      const r = cli(['serve'], { GATEHOUSE_DATABASE_URL: url, GATEHOUSE_LISTEN: `127.0.0.1:${port}` });
      assert.equal(r.signal, null, `serve as ${who} must exit by itself: ${r.stderr.slice(-2000)}`);
      assert.notEqual(r.code, 0, `serve as ${who} must refuse`);
      assert.match(r.stderr, new RegExp(`"${who}"`), r.stderr);
      assert.match(r.stderr, re, r.stderr);
      assert.match(r.stderr, /gatehouse_runtime/, r.stderr);
      assert.doesNotMatch(r.stderr, /placeholder|postgres:\/\//, 'the URL is never printed');
    }
  });

  test('serve refuses a runtime role that owns the database or may SET ROLE to a superuser (the review)', async () => {
    const db = psqlAt(d.app, 'SELECT current_database();').stdout;
    for (const [grant, undo, re] of [
      [`ALTER DATABASE "${db}" OWNER TO ${APP};`, `ALTER DATABASE "${db}" OWNER TO ${OWNER};`, /owns Gatehouse's tables/],
      [`GRANT postgres TO ${APP};`, `REVOKE postgres FROM ${APP};`, /belongs to a superuser/],
    ]) {
      const g = psqlAt(d.superuser, grant);
      assert.equal(g.code, 0, g.stderr);
      try {
        const port = await freePort();
        const r = cli(['serve'], { GATEHOUSE_LISTEN: `127.0.0.1:${port}` });
        assert.notEqual(r.code, 0, `serve must refuse after: ${grant}`);
        assert.match(r.stderr, new RegExp(`"${APP}"`), r.stderr);
        assert.match(r.stderr, re, r.stderr);
      } finally {
        const u = psqlAt(d.superuser, undo);
        assert.equal(u.code, 0, u.stderr);
      }
    }
  });

  test('a broader grant made by hand: serve refuses the runtime role; gatehouse migrate takes it back', async () => {
    const g = psqlAt(d.owner, 'GRANT DELETE ON audit_log TO gatehouse_runtime;');
    assert.equal(g.code, 0, g.stderr);
    const port = await freePort();
    const r = cli(['serve'], { GATEHOUSE_LISTEN: `127.0.0.1:${port}` });
    assert.notEqual(r.code, 0, 'serve must refuse a runtime role that may delete audit rows');
    assert.match(r.stderr, new RegExp(`"${APP}" may UPDATE, DELETE or TRUNCATE audit_log`), r.stderr);
    // nothing is pending, and migrate grants again all the same
    const m = cli(['migrate'], { GATEHOUSE_DATABASE_MIGRATE_URL: d.owner });
    assert.equal(m.code, 0, `${m.stdout} ${m.stderr}`);
    assert.doesNotMatch(m.stderr, /migration \d+ applied/);
    const priv = psqlAt(d.superuser,
      "SELECT has_table_privilege('gatehouse_runtime', 'audit_log', 'DELETE')::int;");
    assert.equal(priv.stdout, '0');
    const again = await startServer({ dataDir, env });
    await again.stop();
  });

  test("serve migrates as the owner, then holds neither the owner's nor the retention role's URL (the review)", async () => {
    const fresh = createGatehouseDatabase(); // no tables: serve migrates at start
    const mark = (who) => `${who}-${crypto.randomBytes(12).toString('hex')}`;
    const pw = { app: mark('app'), owner: mark('owner'), prune: mark('prune') };
    // The test cluster trusts loopback: the passwords are carried, not checked.
    // From files: the sanitizer keeps a copy of the environment of its own.
    const dir = mkTempDir();
    const file = (name, url, p) => {
      const u = new URL(url);
      u.password = p;
      const f = `${dir}/${name}.url`;
      fs.writeFileSync(f, `${u}\n`, { mode: 0o600 });
      return f;
    };
    const s = await startServer({
      dataDir: dir,
      env: {
        GATEHOUSE_DATA_DIR: dir, GATEHOUSE_DATABASE_URL_FILE: file('app', fresh.app, pw.app),
        GATEHOUSE_DATABASE_MIGRATE_URL_FILE: file('owner', fresh.owner, pw.owner),
        GATEHOUSE_DATABASE_RETENTION_URL_FILE: file('prune', fresh.prune, pw.prune),
      },
    });
    try {
      assert.equal(psqlAt(fresh.superuser, "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log';").stdout, OWNER);
      const u = await signup(s); // it serves, as the runtime role
      assert.equal((await api(s.url, 'GET', '/v1/me', { token: u.access })).status, 200);
      // A copy of a setting: the password with the '@' after it (libpq's
      // parse splits its own copies at the '@': docs/postgresql.md says what
      // that leaves).
      const found = inMemory(s.child.pid, Object.values(pw).map((p) => `${p}@`));
      assert.ok(found.has(`${pw.app}@`), 'the search reads the memory: the runtime URL it serves with is there');
      assert.ok(!found.has(`${pw.owner}@`), "the owner's URL is not kept after the migration");
      assert.ok(!found.has(`${pw.prune}@`), "the retention role's URL is not kept");
    } finally {
      await s.stop();
      dropGatehouseDatabase(fresh.db);
    }
  });

  test('audit prune needs GATEHOUSE_DATABASE_RETENTION_URL; with it, it prunes and the chain verifies', async () => {
    const no = cli(['audit', 'prune', '--before', '2999-01-01T00:00:00Z']);
    assert.equal(no.code, 2, `${no.stdout} ${no.stderr}`);
    assert.match(no.stderr, /GATEHOUSE_DATABASE_RETENTION_URL/);
    assert.equal(count(), rows0, 'nothing pruned without the retention role');

    // the runtime role in the retention slot is refused by the database
    const wrong = cli(['audit', 'prune', '--before', '2999-01-01T00:00:00Z'],
      { GATEHOUSE_DATABASE_RETENTION_URL: d.app });
    assert.notEqual(wrong.code, 0, `${wrong.stdout} ${wrong.stderr}`);
    assert.equal(count(), rows0);

    const total = count();
    const p = cli(['audit', 'prune', '--before', '2999-01-01T00:00:00Z'],
      { GATEHOUSE_DATABASE_RETENTION_URL: d.prune });
    assert.equal(p.code, 0, `${p.stdout} ${p.stderr}`);
    assert.match(p.stdout, new RegExp(`^${total - 1} row\\(s\\) older than .* removed; checkpoint recorded`));
    const left = psqlAt(d.superuser, 'SELECT id, action FROM audit_log ORDER BY id;').stdout.split('\n');
    assert.deepEqual(left, [`${total}|signout`, `${total + 1}|audit.checkpoint`]);
    assert.equal(psqlAt(d.superuser, 'SELECT open FROM audit_gate;').stdout, '0', 'the gate is closed again');

    const v = cli(['audit', 'verify']);
    assert.equal(v.code, 0, `${v.stdout} ${v.stderr}`);
    assert.match(v.stdout, /^ok 2 rows/);

    // the server keeps appending after the prune, and the chain still verifies
    // (a new connection: the client's idle one may have been closed by now)
    const up = await rawRequest(srv.port, {
      method: 'POST', path: '/v1/signup', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail(), password: strongPassword() }),
    });
    assert.equal(up.status, 201, up.text);
    const v2 = cli(['audit', 'verify']);
    assert.equal(v2.code, 0, `${v2.stdout} ${v2.stderr}`);
    assert.match(v2.stdout, /^ok 3 rows/);
  });
});
