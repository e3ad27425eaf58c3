// A Gatehouse database with its three roles, made by running
// docs/examples/postgresql-roles.sql with psql exactly as docs/postgresql.md
// tells an operator to (placeholder passwords: the test cluster trusts
// loopback), with its default role names. The harness (lib/db.mjs) runs the
// same file with its own names for every test database; this one is for
// the test of the roles themselves. Needs GATEHOUSE_TEST_PG=<superuser URL>.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT, TEST_PG, pgUrl } from './harness.mjs';

export const PG_SUPER = TEST_PG;
export const ROLES_SQL = path.join(REPO_ROOT, 'docs', 'examples', 'postgresql-roles.sql');
/* The script's default login roles (docs/postgresql.md). */
export const OWNER = 'gatehouse_owner';
export const APP = 'gatehouse_app';
export const PRUNE = 'gatehouse_prune';

/** The URL of database db as role user (the superuser when user is omitted). */
export const pgUrlAs = pgUrl;

/** Runs sql with psql at url; {code, stdout, stderr}. ON_ERROR_STOP: the first error fails. */
export function psqlAt(url, sql, { timeoutMs = 30000 } = {}) {
  const r = spawnSync('psql', ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', '-'],
    { input: sql, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: (r.stdout ?? '').trim(), stderr: r.stderr ?? '' };
}

/**
 * Creates database <name> (default gh_<random>) and the roles with the docs'
 * script. Test processes running at once may race to create the same
 * cluster-wide roles: the loser runs the (idempotent) script again.
 * Returns {db, owner, app, prune, superuser}: URLs of that database.
 */
export function createGatehouseDatabase(name) {
  const db = name || `gh_${crypto.randomBytes(6).toString('hex')}`;
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_SUPER,
    '-v', `dbname=${db}`, '-v', 'owner_password=placeholder-owner',
    '-v', 'app_password=placeholder-app', '-v', 'prune_password=placeholder-prune',
    '-f', ROLES_SQL];
  let r;
  for (let i = 0; i < 3; i++) {
    r = spawnSync('psql', args, { encoding: 'utf8', timeout: 60000 });
    if (r.status === 0) break;
    if (!/already exists|duplicate key/.test(r.stderr ?? '')) break;
  }
  if (r.status !== 0) throw new Error(`${ROLES_SQL} failed (${r.status}): ${r.stderr || r.error}`);
  return {
    db,
    owner: pgUrlAs(db, OWNER),
    app: pgUrlAs(db, APP),
    prune: pgUrlAs(db, PRUNE),
    superuser: pgUrlAs(db),
  };
}

/** Drops a database made by createGatehouseDatabase (best effort). */
export function dropGatehouseDatabase(db) {
  psqlAt(pgUrlAs('postgres'), `DROP DATABASE IF EXISTS "${db}" WITH (FORCE);`, { timeoutMs: 60000 });
}
