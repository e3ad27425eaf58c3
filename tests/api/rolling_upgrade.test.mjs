// Rolling upgrades (issue 14, docs/upgrades.md): replicas are upgraded one
// at a time, so the release before the newest migration must keep serving
// on the schema the current binary migrated, when that migration is marked
// compatible; and a binary refuses a schema with an applied migration it
// does not know unless it is marked compatible.
//
// The previous release is built from git history: the parent of the commit
// that added the newest migration, as a release build (cached under
// build/prev-<commit>/gatehouse; JOBS from the environment, default 2).
// Without that history (a shallow clone, a source tarball) the part that
// needs it is skipped with the reason; the refusal part always runs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

const { REPO_ROOT, api, buildEnv, freePort, mkTempDir, runCli, signin, signup, sleep, sql, startServer, uniqueEmail, strongPassword } = h;
const ON_PG = !!process.env.GATEHOUSE_TEST_PG;
const JOBS = process.env.JOBS || '2';
const FUTURE = 999;

function git(args) {
  const r = spawnSync('git', ['-C', REPO_ROOT, ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stdout || '').slice(-2000)}\n${(r.stderr || '').slice(-4000)}`);
  return r;
}

// `gatehouse migrate --status`: {code, rows: [{version, compatible, applied, name}]}.
function migrateStatus(dataDir) {
  const r = runCli(['migrate', '--status'], { env: { GATEHOUSE_DATA_DIR: dataDir } });
  const rows = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+([01])\s+(\S+)\s+(.*)$/.exec(line);
    if (m) rows.push({ version: Number(m[1]), compatible: Number(m[2]), applied: m[3], name: m[4] });
  }
  return { ...r, rows };
}

// The commit before the newest migration was added, or {skip: reason}.
function previousCommit(newest) {
  if (!git(['rev-parse', '--git-dir'])) return { skip: 'not a git checkout: no history to build the previous release from' };
  // The oldest commit whose diff adds or removes the entry line ({N, "...).
  const log = git(['log', '--topo-order', '--format=%H', '-G', `^ *\\{${newest}, "`, '--', 'src/store/migrations.h']);
  const added = log ? log.split('\n').filter(Boolean).at(-1) : null;
  // Not committed yet (a migration being written): the previous release is HEAD.
  const prev = added ? git(['rev-parse', '--verify', '--quiet', `${added}^`]) : git(['rev-parse', 'HEAD']);
  if (!prev) {
    const shallow = git(['rev-parse', '--is-shallow-repository']) === 'true';
    return { skip: `the commit before migration ${newest} is not in this clone${shallow ? ' (shallow: git fetch --unshallow)' : ''}` };
  }
  return { commit: prev };
}

// Builds (or reuses) the release binary of commit; returns its path.
function buildPrevious(commit, diag) {
  const out = path.join(REPO_ROOT, 'build', `prev-${commit}`);
  const bin = path.join(out, 'gatehouse');
  if (fs.existsSync(bin)) {
    diag(`previous release ${commit.slice(0, 12)}: reusing ${path.relative(REPO_ROOT, bin)}`);
    return bin;
  }
  const tmp = mkTempDir('gatehouse-prev-');
  const src = path.join(tmp, 'src');
  const t0 = Date.now();
  try {
    run('git', ['-C', REPO_ROOT, 'worktree', 'add', '--detach', src, commit]);
    run('cmake', ['-S', src, '-B', path.join(tmp, 'build'), '-DCMAKE_BUILD_TYPE=Release', '-DGH_SANITIZE=OFF']);
    run('cmake', ['--build', path.join(tmp, 'build'), '--target', 'gatehouse', '-j', JOBS]);
    fs.mkdirSync(out, { recursive: true });
    const part = `${bin}.part-${process.pid}`;
    fs.copyFileSync(path.join(tmp, 'build', 'gatehouse'), part);
    fs.chmodSync(part, 0o755);
    fs.renameSync(part, bin); // atomic: a concurrent run sees all or nothing
  } finally {
    spawnSync('git', ['-C', REPO_ROOT, 'worktree', 'remove', '--force', src]);
    spawnSync('git', ['-C', REPO_ROOT, 'worktree', 'prune']);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  diag(`previous release ${commit.slice(0, 12)} built in ${((Date.now() - t0) / 1000).toFixed(1)} s (-j ${JOBS})`);
  return bin;
}

// `bin serve` on dataDir, like startServer with another binary. Resolves
// {url, stop, stderr} once /healthz answers, or {exited, code, stderr}.
async function serveWith(bin, dataDir) {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const extra = typeof h.dbEnv === 'function' ? h.dbEnv(dataDir) : {};
  const child = spawn(bin, ['serve'], {
    env: buildEnv({ GATEHOUSE_LISTEN: listen, GATEHOUSE_DATA_DIR: dataDir, ...extra }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  let exit = null;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  const url = `http://${listen}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (exit) return { exited: true, code: exit.code, stderr: () => stderr };
    try {
      const r = await fetch(url + '/healthz', { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${bin} did not become healthy. stderr:\n${stderr.slice(-3000)}`);
    }
    await sleep(50);
  }
  return {
    url,
    stderr: () => stderr,
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, 5000);
        await exited;
        clearTimeout(t);
      }
      assert.equal(exit.code, 0, `${bin} exit ${exit.code}/${exit.signal}. stderr:\n${stderr.slice(-3000)}`);
    },
  };
}

// `bin args...` on dataDir with its database variables: {code, stdout, stderr}.
function cliWith(bin, dataDir, args) {
  const extra = typeof h.dbEnv === 'function' ? h.dbEnv(dataDir) : {};
  const r = spawnSync(bin, args, {
    env: buildEnv({ GATEHOUSE_DATA_DIR: dataDir, ...extra }), encoding: 'utf8', timeout: 60000,
  });
  return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

async function meOk(srv, access) {
  const r = await api(srv.url, 'GET', '/v1/me', { token: access });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

describe('rolling upgrade', { timeout: 15 * 60 * 1000 }, () => {
  let dir;
  let dbPath;
  let newest;

  before(() => {
    dir = mkTempDir();
    dbPath = typeof h.dbOf === 'function' ? h.dbOf(dir) : path.join(dir, 'gatehouse.db');
    const m = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir }, timeoutMs: 60000 });
    assert.equal(m.code, 0, m.stderr);
    const st = migrateStatus(dir);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /up to date/);
    assert.ok(st.rows.length > 0, st.stdout);
    newest = st.rows.at(-1);
    assert.ok(st.rows.every((r) => r.applied !== 'pending'), st.stdout);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the previous release serves on the migrated schema when the newest migration is compatible', async (t) => {
    const diag = (s) => { t.diagnostic(s); process.stderr.write(`rolling_upgrade: ${s}\n`); };
    const p = previousCommit(newest.version);
    if (p.skip) return t.skip(p.skip);
    if (ON_PG && git(['cat-file', '-e', `${p.commit}:src/store/pg.c`]) === null) {
      return t.skip(`previous release ${p.commit.slice(0, 12)} has no PostgreSQL backend`);
    }
    const prevBin = buildPrevious(p.commit, diag);

    // An account the current release made, before the previous one starts.
    const cur = await startServer({ dataDir: dir });
    const a = await signup(cur);
    await cur.stop();

    const prev = await serveWith(prevBin, dir);
    if (!newest.compatible) {
      // A contracting release: the previous one must refuse, if it knows how.
      const v = spawnSync(prevBin, ['version'], { encoding: 'utf8' });
      if (!/schema:/.test(v.stdout)) {
        if (!prev.exited) await prev.stop();
        return t.skip(`migration ${newest.version} is not compatible and the previous release predates the check`);
      }
      assert.ok(prev.exited, `the previous release ran on an incompatible migration ${newest.version}`);
      assert.equal(prev.code, 2);
      assert.match(prev.stderr(), /newer than this release/);
      return;
    }
    assert.ok(!prev.exited, `the previous release refused the schema (migration ${newest.version} is marked compatible):\n${prev.exited && prev.stderr().slice(-3000)}`);
    try {
      const s = await signin(prev, a.email, a.password);
      assert.equal((await meOk(prev, s.access)).email, a.email);
      const b = await signup(prev, uniqueEmail(), strongPassword());
      assert.equal((await meOk(prev, b.access)).email, b.email);
      a.b = b;
    } finally {
      await prev.stop();
    }
    // Its retention and verifier on the migrated audit log (on PostgreSQL a
    // partitioned table since migration 21: the previous release prunes
    // with a DELETE behind the gate on the parent).
    const pr = cliWith(prevBin, dir, ['audit', 'prune', '--before', '2999-01-01T00:00:00Z']);
    assert.equal(pr.code, 0, `previous release audit prune: ${pr.stdout} ${pr.stderr.slice(-3000)}`);
    assert.match(pr.stdout, /removed; checkpoint recorded/);
    for (const bin of [prevBin, null]) {
      const v = bin ? cliWith(bin, dir, ['audit', 'verify']) : runCli(['audit', 'verify'], { env: { GATEHOUSE_DATA_DIR: dir }, timeoutMs: 60000 });
      assert.equal(v.code, 0, `audit verify (${bin ? 'previous' : 'current'}): ${v.stdout} ${v.stderr.slice(-3000)}`);
      assert.match(v.stdout, /^ok 2 rows/);
    }
    // Rolled forward again: the current release reads what the previous wrote.
    const again = await startServer({ dataDir: dir });
    try {
      const s = await signin(again, a.b.email, a.b.password);
      assert.equal((await meOk(again, s.access)).email, a.b.email);
    } finally {
      await again.stop();
    }
  });

  test('an unknown applied migration not marked compatible: every command refuses, nothing changes', async () => {
    sql(dbPath, `INSERT INTO schema_migrations (version, name, applied_at, compatible) VALUES (${FUTURE}, 'from a newer release', 1800000000, 0)`);
    const users = sql(dbPath, 'SELECT COUNT(*) FROM users');
    const rows = sql(dbPath, 'SELECT COUNT(*) FROM schema_migrations');
    for (const args of [['serve'], ['migrate'], ['keys', 'rotate', '--signing']]) {
      const r = runCli(args, { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_LISTEN: `127.0.0.1:${await freePort()}` }, timeoutMs: 30000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /database schema is newer than this release and not marked compatible/, args.join(' '));
      assert.match(r.stderr, new RegExp(`migration\\(s\\) ${FUTURE} applied by a newer release are not marked compatible`), args.join(' '));
    }
    const st = migrateStatus(dir);
    assert.equal(st.code, 1, st.stdout + st.stderr);
    assert.match(st.stdout, /refuses to run/);
    assert.deepEqual(st.rows.find((r) => r.version === FUTURE), { version: FUTURE, compatible: 0, applied: '2027-01-15T08:00:00Z', name: '(not known to this release)' });
    // never downgraded, the unknown row untouched
    assert.equal(sql(dbPath, 'SELECT COUNT(*) FROM users'), users);
    assert.equal(sql(dbPath, 'SELECT COUNT(*) FROM schema_migrations'), rows);
    assert.equal(sql(dbPath, `SELECT name || '|' || applied_at || '|' || compatible FROM schema_migrations WHERE version = ${FUTURE}`), 'from a newer release|1800000000|0');
  });

  test('marked compatible: it starts, warns naming the version, and serves', async () => {
    sql(dbPath, `UPDATE schema_migrations SET compatible = 1 WHERE version = ${FUTURE}`);
    const st = migrateStatus(dir);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /all marked compatible; this release runs on it/);
    const srv = await startServer({ dataDir: dir });
    try {
      const warn = srv.stderrLines().map((l) => { try { return JSON.parse(l); } catch { return {}; } })
        .find((j) => j.level === 'warn' && /schema is newer than this release/.test(j.msg));
      assert.ok(warn, srv.stderr());
      assert.match(warn.msg, new RegExp(`migration\\(s\\) ${FUTURE}, applied by a newer release, are marked compatible`));
      const u = await signup(srv);
      const s = await signin(srv, u.email, u.password);
      assert.equal((await meOk(srv, s.access)).email, u.email);
    } finally {
      await srv.stop();
    }
    assert.equal(sql(dbPath, `SELECT compatible FROM schema_migrations WHERE version = ${FUTURE}`), '1');
  });
});
