// Test access to a Gatehouse database, on SQLite or PostgreSQL: the harness
// (harness.mjs) re-exports all of it, tests import from there.
//
// A server's database is named by srv.dbPath / dbOf(dataDir): the SQLite
// file, or "pg:<database>" on PostgreSQL runs (GATEHOUSE_TEST_PG). The
// helpers below read and write either; nowSql/hexOf/blobLit/groupConcat give
// the SQL text that differs between the two.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const rand = (n) => crypto.randomBytes(n).toString('hex');

// ---------------------------------------------------------------------------
// PostgreSQL. With GATEHOUSE_TEST_PG=<superuser URL> (postgres://postgres@
// 127.0.0.1:PORT/postgres, from scripts/pg_cluster.sh; `make api-pg` sets it)
// every data directory a test uses gets its own database gh_<random>, created
// on first use (startServer, or runCli with GATEHOUSE_DATA_DIR), owned by the
// owner role; the server and the CLI get GATEHOUSE_DATABASE_URL (the runtime
// role), _MIGRATE_URL (the owner) and _RETENTION_URL (the retention role).
// A restart on the same data directory finds the same database. srv.dbPath
// (and dbOf(dir)) is then "pg:<name>", which sql(), countRows(),
// assertNotInDb() and markVerified() recognise; they read and write it as the
// superuser through psql. The databases are dropped when the test process
// exits (best effort: a test may restart a server on its data directory after
// stop(), so stop() cannot drop it). Without the variable nothing changes.
// ---------------------------------------------------------------------------
export const TEST_PG = process.env.GATEHOUSE_TEST_PG || '';
/** True when this run's servers use PostgreSQL (GATEHOUSE_TEST_PG). */
export const ON_PG = TEST_PG !== '';
const PG_MARK = 'pg:';
const PG_OWNER = 'gh_test_owner';
const PG_RUNTIME = 'gh_test_app';
const PG_RETENTION = 'gh_test_prune';
const pgByDir = new Map(); // data dir -> database name
let pgRolesReady = false;

function isPgMarker(dbPath) {
  return typeof dbPath === 'string' && dbPath.startsWith(PG_MARK);
}
function pgNameOf(marker) {
  return marker.slice(PG_MARK.length);
}

/** The URL of database db as role user (default: the superuser of GATEHOUSE_TEST_PG). */
export function pgUrl(db, user) {
  const u = new URL(TEST_PG);
  u.pathname = '/' + db;
  if (user) { u.username = user; u.password = ''; }
  return u.toString();
}

/**
 * Runs SQL through psql as the superuser in database db; returns trimmed
 * stdout. A field that is exactly 't' or 'f' (a boolean: `x IS NULL`,
 * `a > b`) reads as '1' / '0', as SQLite prints them, so one expectation
 * serves both backends (no column of the schema holds 't' or 'f' as text).
 */
function psql(db, query, timeoutMs = 20000) {
  const r = spawnSync('psql', ['-At', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgUrl(db), '-f', '-'],
    { input: query, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout.trim().split('\n')
    .map((l) => l.split('|').map((f) => (f === 't' ? '1' : f === 'f' ? '0' : f)).join('|')).join('\n');
}

// The roles as the docs create them (helper pgaudit's file; it exists from
// the PostgreSQL backend's audit part on): run as it is, once per database.
const ROLES_SQL = path.join(REPO_ROOT, 'docs', 'examples', 'postgresql-roles.sql');

/**
 * The cluster-wide roles, made race-free before the docs' file runs (two
 * test processes may both find a role missing; the file's check-then-create
 * would then fail in one of them): NOLOGIN group roles gatehouse_runtime and
 * gatehouse_retention, a login owner role and a login role in each group.
 * Without the docs' file this is the whole role setup.
 */
function pgRoles() {
  const role = (name, opts) => `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN CREATE ROLE ${name} ${opts}; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n`;
  psql('postgres',
    role('gatehouse_runtime', 'NOLOGIN') + role('gatehouse_retention', 'NOLOGIN') +
    role(PG_OWNER, 'LOGIN') +
    role(PG_RUNTIME, 'LOGIN IN ROLE gatehouse_runtime') +
    role(PG_RETENTION, 'LOGIN IN ROLE gatehouse_retention'));
}

/** Creates database db: with the docs' SQL when it exists, else the interim setup. */
function pgCreateDatabase(db) {
  if (fs.existsSync(ROLES_SQL)) {
    // passwords only because the file asks for them: the test cluster trusts loopback
    const v = (k, val) => ['-v', `${k}=${val}`];
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgUrl('postgres'),
      ...v('dbname', db), ...v('owner_role', PG_OWNER), ...v('app_role', PG_RUNTIME), ...v('prune_role', PG_RETENTION),
      ...v('owner_password', rand(12)), ...v('app_password', rand(12)), ...v('prune_password', rand(12)),
      '-f', ROLES_SQL], { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`psql -f postgresql-roles.sql failed (${r.status}): ${r.stderr || r.error}`);
    return;
  }
  // Interim, until the file (and the grants `gatehouse migrate` makes) exist:
  // the runtime group gets the tables the owner will create.
  psql('postgres', `CREATE DATABASE ${db} OWNER ${PG_OWNER};`, 60000);
  psql(db, `ALTER DEFAULT PRIVILEGES FOR ROLE ${PG_OWNER} IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gatehouse_runtime;
ALTER DEFAULT PRIVILEGES FOR ROLE ${PG_OWNER} IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO gatehouse_runtime;`);
}

/** The database of a data directory: created (with the roles) on first use. */
function pgDatabaseFor(dataDir) {
  let db = pgByDir.get(dataDir);
  if (db) return db;
  if (!pgRolesReady) { pgRoles(); pgRolesReady = true; }
  db = `gh_${crypto.randomBytes(6).toString('hex')}`;
  pgCreateDatabase(db);
  pgByDir.set(dataDir, db);
  return db;
}

process.on('exit', () => {
  if (!pgByDir.size) return;
  const drops = [...pgByDir.values()].map((db) => `DROP DATABASE IF EXISTS ${db} WITH (FORCE);`).join('\n');
  spawnSync('psql', ['-X', '-q', '-d', pgUrl('postgres'), '-f', '-'], { input: drops, timeout: 60000 });
});

/** What tests hand to sql()/countRows()/assertNotInDb() for a data directory. */
export function dbOf(dataDir) {
  return ON_PG ? PG_MARK + pgDatabaseFor(dataDir) : path.join(dataDir, 'gatehouse.db');
}

/** The database variables for a data directory's server or CLI ({} on SQLite). */
export function dbEnv(dataDir) {
  if (!ON_PG) return {};
  const db = pgDatabaseFor(dataDir);
  return {
    GATEHOUSE_DATABASE_URL: pgUrl(db, PG_RUNTIME),
    GATEHOUSE_DATABASE_MIGRATE_URL: pgUrl(db, PG_OWNER),
    GATEHOUSE_DATABASE_RETENTION_URL: pgUrl(db, PG_RETENTION),
  };
}

/**
 * srv.dbPath: dbOf(dataDir), or on PostgreSQL, when the test gives the
 * server a database URL of its own, that database's marker.
 */
export function dbPathFor(env, dataDir) {
  const url = ON_PG && env.GATEHOUSE_DATABASE_URL;
  if (url && /^postgres(ql)?:/.test(url)) return PG_MARK + decodeURIComponent(new URL(url).pathname.slice(1));
  return dbOf(dataDir);
}

const DB_VARS = ['GATEHOUSE_DATABASE_URL', 'GATEHOUSE_DATABASE_URL_FILE', 'GATEHOUSE_DATABASE_MIGRATE_URL',
  'GATEHOUSE_DATABASE_MIGRATE_URL_FILE', 'GATEHOUSE_DATABASE_RETENTION_URL', 'GATEHOUSE_DATABASE_RETENTION_URL_FILE'];

/** env with dbEnv(its data dir) under it, unless the test sets a database variable itself. */
export function withDbEnv(env, dataDir) {
  if (!ON_PG || !dataDir || DB_VARS.some((k) => k in env)) return env;
  return { ...dbEnv(dataDir), ...env };
}

/** The current time in seconds, as SQL of the backend (strftime('%s','now') on SQLite). */
export function nowSql() {
  return ON_PG ? 'CAST(extract(epoch FROM now()) AS BIGINT)' : "CAST(strftime('%s','now') AS INTEGER)";
}

/** A BLOB/BYTEA column as upper-case hex, as sqlite3's hex() prints it. */
export function hexOf(col) {
  return ON_PG ? `upper(encode(${col}, 'hex'))` : `hex(${col})`;
}

/** A BLOB/BYTEA literal from hex. */
export function blobLit(hex) {
  return ON_PG ? `'\\x${hex}'::bytea` : `x'${hex}'`;
}

/** Length in bytes of a BLOB/BYTEA column. */
export function blobLen(col) {
  return ON_PG ? `octet_length(${col})` : `length(${col})`;
}

/**
 * group_concat(expr, sep) of SQLite / string_agg on PostgreSQL (expr as
 * text, in the order of the values: an UPDATE moves a PostgreSQL row, so
 * scan order is not stable there as SQLite's rowid order is).
 */
export function groupConcat(expr, sep = ',') {
  return ON_PG ? `string_agg(CAST(${expr} AS TEXT), '${sep}' ORDER BY CAST(${expr} AS TEXT))` : `group_concat(${expr}, '${sep}')`;
}

/** expr as text, NULL as '-' (SQLite's ifnull(x, '-') for a column of any type). */
export function orDash(expr) {
  return `coalesce(CAST(${expr} AS TEXT), '-')`;
}

/** The SQL type name of a BLOB column's values as each backend reports it ('blob' / 'bytea'). */
export const BLOB_TYPE = ON_PG ? 'bytea' : 'blob';

/**
 * Like sql() but never throws: {code, stdout, stderr} (a refused statement's
 * message is in stderr). opts.as = 'runtime' runs it on PostgreSQL as the
 * runtime role `serve` uses instead of the superuser (SQLite has no roles).
 */
export function sqlTry(dbPath, query, opts = {}) {
  const role = opts.as === 'runtime' ? PG_RUNTIME : undefined;
  const r = isPgMarker(dbPath)
    ? spawnSync('psql', ['-At', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgUrl(pgNameOf(dbPath), role), '-f', '-'],
      { input: query, encoding: 'utf8', timeout: 20000 })
    : spawnSync('sqlite3', ['-batch', '-noheader', '-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs one SELECT and returns its rows as objects (integers as numbers), as sqlite3 -json gives them. */
export function sqlJson(dbPath, query) {
  if (isPgMarker(dbPath)) {
    const q = query.trim().replace(/;$/, '');
    const out = psql(pgNameOf(dbPath), `SELECT coalesce(json_agg(t), '[]') FROM (${q}) t;`);
    // booleans as SQLite gives them (1/0)
    return JSON.parse(out, (k, v) => (v === true ? 1 : v === false ? 0 : v));
  }
  const r = spawnSync('sqlite3', ['-batch', '-noheader', '-json', '-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

/** The column names of a table, in order. */
export function columnsOf(dbPath, table) {
  if (isPgMarker(dbPath)) {
    return sql(dbPath, `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '${table}' ORDER BY ordinal_position;`).split('\n').filter(Boolean);
  }
  return sql(dbPath, `PRAGMA table_info(${table});`).split('\n').filter(Boolean).map((l) => l.split('|')[1]);
}

/** The names of the tables, sorted. */
export function tablesOf(dbPath) {
  const q = isPgMarker(dbPath)
    ? "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1;"
    : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;";
  return sql(dbPath, q).split('\n').filter(Boolean);
}

/**
 * A copy of a stopped server's data directory (to tamper with): the files,
 * and on PostgreSQL a copy of its database (CREATE DATABASE ... TEMPLATE,
 * which needs no one connected to the source) that the copy's servers and
 * CLI runs then use.
 */
export function copyDataDir(src, prefix = 'gatehouse-copy-') {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(src, dst, { recursive: true });
  if (ON_PG) {
    const from = pgDatabaseFor(src);
    const db = `gh_${crypto.randomBytes(6).toString('hex')}`;
    psql('postgres', `CREATE DATABASE ${db} TEMPLATE ${from} OWNER ${PG_OWNER};`, 60000);
    pgByDir.set(dst, db);
  }
  return dst;
}

/**
 * Lifts the database's own guard on audit_log (SQLite: drops the
 * append-only triggers; PostgreSQL: disables the table's triggers, the
 * superuser bypassing the grants anyway), so a test can tamper as an
 * attacker with the file or the superuser could.
 */
export function dropAuditGuards(dbPath) {
  if (isPgMarker(dbPath)) sql(dbPath, 'ALTER TABLE audit_log DISABLE TRIGGER USER;');
  else sql(dbPath, 'DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
}

/** Skip reason for a test about SQLite's files (use as { skip: sqliteOnly('why') }). */
export function sqliteOnly(why) {
  return ON_PG ? `SQLite only on PostgreSQL runs: ${why}` : false;
}

/** Runs a query against the server's database (see dbOf: an SQLite file, or
 *  a "pg:<name>" marker on PostgreSQL); returns the trimmed output, one row
 *  a line, columns separated by '|' (sqlite3's list mode and psql -At agree). */
export function sql(dbPath, query) {
  if (isPgMarker(dbPath)) return psql(pgNameOf(dbPath), query);
  const r = spawnSync('sqlite3', ['-batch', '-noheader', '-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

export function countRows(dbPath, table) {
  return Number(sql(dbPath, `SELECT count(*) FROM ${table};`));
}

/**
 * The byte strings under which a secret would be "in clear" in a database:
 * its UTF-8 text, and for a base64url token also the raw bytes it encodes.
 */
function clearForms(secret) {
  const forms = [Buffer.from(secret, 'utf8')];
  if (/^[A-Za-z0-9_-]{22,}$/.test(secret)) forms.push(Buffer.from(secret, 'base64url'));
  return forms;
}

/** The whole database as SQL text (sqlite3 .dump / pg_dump; BLOBs as hex). */
export function dumpDb(dbPath) {
  const r = isPgMarker(dbPath)
    ? spawnSync('pg_dump', ['--no-owner', '--no-privileges', '-d', pgUrl(pgNameOf(dbPath))],
      { encoding: 'utf8', timeout: 30000, maxBuffer: 256 << 20 })
    : spawnSync('sqlite3', ['-batch', '-cmd', '.timeout 5000', dbPath, '.dump'], { encoding: 'utf8', timeout: 20000, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`dump failed (${r.status}): ${r.stderr}`);
  // pg_dump (15.14 and later) fences its output with \restrict KEY and
  // \unrestrict KEY lines, KEY random on every run: not the database's content.
  return r.stdout.replace(/^\\(un)?restrict \S+$/gm, '');
}

/**
 * Asserts that no secret appears in clear anywhere in the database.
 * SQLite: not in the raw bytes of the .db, -wal and -shm files (every page,
 * free ones included), and not in any table or column as dumped by sqlite3
 * (BLOBs show there as hex, so the hex of each form is looked for too).
 * PostgreSQL: scanning the cluster's data files (shared by every test
 * database, holding dead tuples and WAL of other tests) is not practical, so
 * the database is dumped as text (pg_dump, schema and data; bytea shows as
 * hex) and the dump is searched for each form and its hex: what the rows
 * hold, not what free space still holds.
 * @param {string} dbPath  dbOf(dataDir) / srv.dbPath
 * @param {Record<string,string>} secrets  name -> secret value
 */
export function assertNotInDb(dbPath, secrets) {
  let raw = [];
  let dump;
  if (isPgMarker(dbPath)) {
    dump = dumpDb(dbPath).toLowerCase();
    assert.ok(dump.includes('create table public.users'), 'the dump holds the schema');
  } else {
    const files = ['', '-wal', '-shm'].map((s) => dbPath + s).filter((f) => fs.existsSync(f));
    assert.ok(files.length >= 1, `no database at ${dbPath}`);
    raw = files.map((f) => [f, fs.readFileSync(f)]);
    dump = dumpDb(dbPath).toLowerCase();
    assert.ok(dump.includes('create table users'), 'the dump holds the schema');
  }
  for (const [name, secret] of Object.entries(secrets)) {
    assert.ok(typeof secret === 'string' && secret.length >= 8, `secret ${name} is a real value: ${secret}`);
    for (const form of clearForms(secret)) {
      for (const [f, bytes] of raw) {
        assert.equal(bytes.indexOf(form), -1, `${name} is in clear in ${path.basename(f)}`);
      }
      assert.ok(!dump.includes(form.toString('hex')), `${name} is in the dump as a BLOB`);
    }
    assert.ok(!dump.includes(secret.toLowerCase()), `${name} is in the dump`);
  }
}

/**
 * Marks an account's address as proved, as following its confirmation link
 * would (a second factor can only be enrolled then: issue 9). userId is the
 * `user.id` from sign-up.
 */
export function markVerified(srv, userId) {
  sql(srv.dbPath, `UPDATE users SET email_verified_at = ${nowSql()} WHERE id = '${userId}';`);
}
