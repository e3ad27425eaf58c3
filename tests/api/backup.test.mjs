// Backups (docs/backups.md): `gatehouse backup` under load, `gatehouse
// restore` into a new data directory (every account acknowledged before the
// backup began signs in; the chain verifies with its backup.restored row),
// sessions revoked unless --keep-sessions, single-use links cleared either
// way, a tampered backup refused, no
// restore while a server runs on the directory, the old database moved
// aside, scheduled backups with retention, and the settings' checks. SQLite
// only: on PostgreSQL (GATEHOUSE_TEST_PG) only the refusal is tested.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import {
  BIN, startServer, runCli, buildEnv, api, signup, signin, refresh, me, mkTempDir, sleep,
  uniqueEmail, strongPassword, assertNoSanitizerReport, withDbEnv,
} from './lib/harness.mjs';

const ON_PG = !!process.env.GATEHOUSE_TEST_PG; // as lib/db.mjs
const SQLITE_ONLY = ON_PG ? 'backup and restore of the SQLite file (PostgreSQL: pg_dump, docs/backups.md)' : false;

// One master key for every directory: it is never in a backup, so the
// restored server needs the key of the one that made it.
const MASTER = crypto.randomBytes(32).toString('base64');
// One issuer too: tokens name it, and the restored server listens elsewhere.
const KEYED = { GATEHOUSE_MASTER_KEY: MASTER, GATEHOUSE_ISSUER: 'https://auth.backup.test' };

/** The binary with args, asynchronously (a backup runs while requests do). */
function runAsync(args, env) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: buildEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function cli(args, dataDir, env = {}) {
  const r = runCli(args, { env: withDbEnv({ GATEHOUSE_DATA_DIR: dataDir, ...KEYED, ...env }, dataDir), timeoutMs: 120000 });
  assertNoSanitizerReport(r.stderr, `gatehouse ${args.join(' ')}`);
  return r;
}

function sqlite(dbPath, query) {
  const r = spawnSync('sqlite3', ['-batch', '-noheader', '-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The path `gatehouse backup` printed. */
function writtenPath(stdout) {
  const m = /^backup written: (.+)$/m.exec(stdout);
  assert.ok(m, `no "backup written" line in:\n${stdout}`);
  return m[1];
}

function backupOf(dataDir, dir) {
  const r = cli(['backup', dir], dataDir);
  assert.equal(r.code, 0, `backup failed: ${r.stderr}`);
  return writtenPath(r.stdout);
}

/** The newest <kind>?token=... link in the server's outbox not in seen. */
async function outboxToken(dataDir, kind, seen) {
  const outbox = path.join(dataDir, 'outbox');
  const re = new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`);
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(outbox)) {
      for (const f of fs.readdirSync(outbox)) {
        const m = re.exec(fs.readFileSync(path.join(outbox, f), 'utf8'));
        if (m && !seen.has(m[1])) { seen.add(m[1]); return m[1]; }
      }
    }
    await sleep(100);
  }
  return assert.fail(`no new ${kind} link in ${outbox}`);
}

describe('backup and restore (SQLite)', { skip: SQLITE_ONLY }, () => {
  test('a backup under load restores into a new data directory: every account acknowledged before it began signs in', async () => {
    const dirA = mkTempDir();
    // A database of some size, so the copy takes several steps while sign-ups commit.
    assert.equal(cli(['migrate'], dirA).code, 0);
    assert.equal(cli(['audit', 'fill', '30000'], dirA).code, 0);
    const srv = await startServer({ dataDir: dirA, env: KEYED });
    const acked = []; // {email, password, at}
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const email = uniqueEmail();
        const password = strongPassword();
        const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password } });
        if (r.status === 201) acked.push({ email, password, at: Date.now() });
        else assert.fail(`signup under load: ${r.status} ${r.text}`);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    while (acked.length < 20) await sleep(20);
    const ackedBefore = acked.slice(); // answered 201 before the backup began
    const began = Date.now();
    const bdir = mkTempDir('gatehouse-backups-');
    const b = await runAsync(['backup', bdir], { GATEHOUSE_DATA_DIR: dirA, ...KEYED });
    const ended = Date.now();
    await sleep(200);
    stop = true;
    await Promise.all(workers);
    assertNoSanitizerReport(b.stderr, 'backup');
    assert.equal(b.code, 0, `backup failed: ${b.stderr}`);
    const during = acked.filter((a) => a.at > began && a.at < ended).length;
    assert.ok(during > 0, 'sign-ups were acknowledged while the backup ran (it ran under load)');
    const file = writtenPath(b.stdout);
    assert.match(path.basename(file), /^gatehouse-\d{8}T\d{6}Z(-\d+)?\.db$/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(b.stdout, /^size: \d+ bytes$/m);
    const rows = Number(/^audit rows: (\d+)$/m.exec(b.stdout)[1]);
    const head = /^head: (\d+) ([0-9a-f]{64})$/m.exec(b.stdout);
    assert.ok(rows > 30000 && head, b.stdout);
    // Only the backup is in the directory (no temporary file left, no -wal),
    // and the master key is nowhere in it.
    assert.deepEqual(fs.readdirSync(bdir), [path.basename(file)]);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.indexOf(Buffer.from(MASTER)), -1);
    assert.equal(bytes.indexOf(Buffer.from(MASTER, 'base64')), -1);
    await srv.stop();

    const dirB = mkTempDir();
    const r = cli(['restore', file], dirB);
    assert.equal(r.code, 0, `restore failed: ${r.stderr}`);
    assert.match(r.stdout, /sessions: \d+ revoked/);
    const db = path.join(dirB, 'gatehouse.db');
    const restored = JSON.parse(sqlite(db, "SELECT details FROM audit_log WHERE action = 'backup.restored'"));
    assert.deepEqual(
      { file: restored.file, head_hash: restored.head_hash, rows: restored.rows, sessions: restored.sessions },
      { file: path.basename(file), head_hash: head[2], rows, sessions: 'revoked' });
    // The recorded head is the restored chain's (its backup.restored row).
    const maxId = sqlite(db, 'SELECT max(id) FROM audit_log');
    assert.equal(Number(maxId), rows + 1);
    assert.equal(fs.readFileSync(path.join(dirB, 'audit.head'), 'utf8').split(' ')[0], maxId);
    const v = cli(['audit', 'verify'], dirB);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`^ok ${rows + 1} rows`));

    const srvB = await startServer({ dataDir: dirB, env: KEYED });
    try {
      for (const a of ackedBefore) await signin(srvB, a.email, a.password);
      // the accounts of the load that the copy holds sign in too
      const held = new Set(sqlite(db, 'SELECT email FROM users').split('\n'));
      for (const a of acked.filter((x) => held.has(x.email)).slice(-5)) await signin(srvB, a.email, a.password);
      assert.ok(held.size >= ackedBefore.length);
    } finally {
      await srvB.stop();
    }
  });

  test('restore revokes every session and earlier access token unless --keep-sessions', async () => {
    const dirA = mkTempDir();
    const srv = await startServer({ dataDir: dirA, env: KEYED });
    const u = await signup(srv);
    const s2 = await signin(srv, u.email, u.password);
    const file = backupOf(dirA, mkTempDir('gatehouse-backups-'));
    await srv.stop();

    const dirB = mkTempDir();
    await sleep(1100); // the restore's second is later than the tokens' iat
    let r = cli(['restore', file], dirB);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sessions: 2 revoked/);
    const srvB = await startServer({ dataDir: dirB, env: KEYED });
    try {
      assert.equal((await me(srvB, u.access)).status, 401, 'an access token issued before the restore');
      assert.equal((await me(srvB, s2.access)).status, 401);
      assert.equal((await refresh(srvB, u.refresh)).status, 401, 'a refresh token of a revoked session');
      assert.equal((await refresh(srvB, s2.refresh)).status, 401);
      const fresh = await signin(srvB, u.email, u.password); // the account itself is there
      assert.equal((await me(srvB, fresh.access)).status, 200);
    } finally {
      await srvB.stop();
    }

    const dirC = mkTempDir();
    r = cli(['restore', file, '--keep-sessions'], dirC);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sessions: kept/);
    const details = JSON.parse(sqlite(path.join(dirC, 'gatehouse.db'),
      "SELECT details FROM audit_log WHERE action = 'backup.restored'"));
    assert.equal(details.sessions, 'kept');
    const srvC = await startServer({ dataDir: dirC, env: KEYED });
    try {
      assert.equal((await me(srvC, u.access)).status, 200);
      assert.equal((await refresh(srvC, s2.refresh)).status, 200);
    } finally {
      await srvC.stop();
    }
  });

  test('restore clears the single-use links: one spent after the backup, or still unspent, is refused (with --keep-sessions too)', async () => {
    const dirA = mkTempDir();
    const srv = await startServer({ dataDir: dirA, env: KEYED });
    const seen = new Set();
    let magic; let reset;
    const u = await signup(srv);
    try {
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: u.email } })).status, 202);
      magic = await outboxToken(dirA, 'magic-link', seen);
      assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: u.email } })).status, 202);
      reset = await outboxToken(dirA, 'reset-password', seen);
    } finally {
      if (!magic || !reset) await srv.stop();
    }
    const file = backupOf(dirA, mkTempDir('gatehouse-backups-'));
    // spent after the backup was taken: the backup still holds it unspent
    const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: magic } });
    assert.equal(v.status, 200, v.text);
    await srv.stop();

    for (const flags of [[], ['--keep-sessions']]) {
      const dirB = mkTempDir();
      const r = cli(['restore', file, ...flags], dirB);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /single-use items cleared: [1-9]\d* links, \d+ sign-in challenges/);
      const db = path.join(dirB, 'gatehouse.db');
      assert.equal(sqlite(db, 'SELECT count(*) FROM magic_links'), '0');
      const d = JSON.parse(sqlite(db, "SELECT details FROM audit_log WHERE action = 'backup.restored'"));
      assert.ok(d.cleared.links >= 2, JSON.stringify(d));
      for (const k of ['challenges', 'nonces', 'idempotency', 'unsent_mail']) assert.equal(typeof d.cleared[k], 'number');
      const srvB = await startServer({ dataDir: dirB, env: KEYED });
      try {
        const again = await api(srvB.url, 'POST', '/v1/magic-link/verify', { json: { token: magic } });
        assert.equal(again.status, 401, `a link spent after the backup, ${flags}: ${again.text}`);
        const rs = await api(srvB.url, 'POST', '/v1/password/reset',
          { json: { token: reset, new_password: 'a brand new long passphrase 77 zq' } });
        assert.equal(rs.status, 401, `an unspent reset link from before the restore, ${flags}: ${rs.text}`);
        await signin(srvB, u.email, u.password); // the password is unchanged
      } finally {
        await srvB.stop();
      }
    }
  });

  test('a backup whose audit chain does not verify is refused and nothing changes', async () => {
    const dirA = mkTempDir();
    const srv = await startServer({ dataDir: dirA, env: KEYED });
    await signup(srv);
    await signup(srv);
    const file = backupOf(dirA, mkTempDir('gatehouse-backups-'));
    await srv.stop();
    const bad = path.join(mkTempDir(), 'tampered.db');
    fs.copyFileSync(file, bad);
    // one byte of row 2 changed: its hash no longer matches
    sqlite(bad, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'x' || substr(actor, 2) WHERE id = 2;");
    const dirB = mkTempDir();
    const before = fs.readdirSync(dirB);
    const r = cli(['restore', bad], dirB);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /refused: .*does not verify: .*row 2/);
    assert.match(r.stderr, /nothing was changed/);
    assert.ok(!fs.existsSync(path.join(dirB, 'gatehouse.db')));
    assert.deepEqual(fs.readdirSync(dirB).filter((f) => !before.includes(f) && f !== 'gatehouse.db.lock'), []);
    // A file that is not a database at all
    const junk = path.join(mkTempDir(), 'junk.db');
    fs.writeFileSync(junk, 'not a database '.repeat(100));
    assert.notEqual(cli(['restore', junk], dirB).code, 0);
    assert.ok(!fs.existsSync(path.join(dirB, 'gatehouse.db')));
    // The wrong master key: refused before anything changes
    const w = cli(['restore', file], dirB, { GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64') });
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, /master key does not open/);
    assert.ok(!fs.existsSync(path.join(dirB, 'gatehouse.db')));
  });

  test('restore refuses while a server runs on the directory, and moves the old database aside once it is stopped', async () => {
    const dir = mkTempDir();
    const srv = await startServer({ dataDir: dir, env: KEYED });
    const early = await signup(srv);
    const file = backupOf(dir, mkTempDir('gatehouse-backups-'));
    const late = await signup(srv); // after the backup
    // a head recorded past the backup's end: restored as it is, the log
    // would read as truncated, so restore resets it
    assert.equal(cli(['audit', 'verify'], dir).code, 0);
    let r = cli(['restore', file], dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /server is running on this data directory/);
    assert.equal((await signin(srv, late.email, late.password)).access.length > 0, true);
    await srv.stop();

    r = cli(['restore', file], dir);
    assert.equal(r.code, 0, r.stderr);
    const moved = /^the previous database was moved to (.+)$/m.exec(r.stdout)[1];
    assert.match(path.basename(moved), /^gatehouse\.db\.pre-restore-\d{8}T\d{6}Z$/);
    // the old database is kept whole (its WAL beside it) and still holds the late account
    assert.equal(sqlite(moved, `SELECT count(*) FROM users WHERE email = '${late.email}'`), '1');
    assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('audit.head.pre-restore-')));
    const srv2 = await startServer({ dataDir: dir, env: KEYED });
    try {
      await signin(srv2, early.email, early.password);
      const res = await api(srv2.url, 'POST', '/v1/signin', { json: { email: late.email, password: late.password } });
      assert.equal(res.status, 401, 'the account made after the backup is not in it');
      // the check at start verifies the chain against the reset head
      const deadline = Date.now() + 10000;
      while (!/audit chain ok/.test(srv2.stderr()) && Date.now() < deadline) await sleep(100);
      assert.match(srv2.stderr(), /audit chain ok/);
      assert.doesNotMatch(srv2.stderr(), /audit chain broken/);
      assert.equal((await api(srv2.url, 'GET', '/readyz')).status, 200);
    } finally {
      await srv2.stop();
    }
    assert.equal(cli(['audit', 'verify'], dir).code, 0);
  });

  test('restore --in-place records a database put back by hand: sessions revoked, backup.restored, head reset', async () => {
    const dirA = mkTempDir();
    const srv = await startServer({ dataDir: dirA, env: KEYED });
    const u = await signup(srv);
    const file = backupOf(dirA, mkTempDir('gatehouse-backups-'));
    await srv.stop();
    const dirB = mkTempDir();
    fs.copyFileSync(file, path.join(dirB, 'gatehouse.db'));
    fs.writeFileSync(path.join(dirB, 'audit.head'), `99 ${'0'.repeat(64)}\n`); // a head the copy never had
    await sleep(1100);
    const r = cli(['restore', '--in-place'], dirB);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sessions: 1 revoked/);
    const d = JSON.parse(sqlite(path.join(dirB, 'gatehouse.db'), "SELECT details FROM audit_log WHERE action = 'backup.restored'"));
    assert.equal(d.source, 'in_place');
    assert.equal(d.sessions, 'revoked');
    assert.ok(fs.readdirSync(dirB).some((f) => f.startsWith('audit.head.pre-restore-')));
    assert.equal(cli(['audit', 'verify'], dirB).code, 0);
    const srvB = await startServer({ dataDir: dirB, env: KEYED });
    try {
      assert.equal((await refresh(srvB, u.refresh)).status, 401);
      assert.equal((await me(srvB, u.access)).status, 401);
    } finally {
      await srvB.stop();
    }
    // a database whose chain is broken is refused
    const s2 = path.join(dirB, 'gatehouse.db');
    sqlite(s2, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET action = 'x' WHERE id = 1;");
    const bad = cli(['restore', '--in-place'], dirB);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /audit chain does not verify/);
    assert.equal(cli(['restore', file, '--in-place'], dirB).code, 2, 'FILE or --in-place, not both');
  });

  test('scheduled backups: GATEHOUSE_BACKUP_INTERVAL writes verified backups and retention deletes old ones (never the newest)', async () => {
    const bdir = mkTempDir('gatehouse-backups-');
    const day = 86400 * 1000;
    const stamp = (t) => new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const old = [`gatehouse-${stamp(Date.now() - 200 * day)}.db`, `gatehouse-${stamp(Date.now() - 91 * day)}-2.db`];
    const young = `gatehouse-${stamp(Date.now() - 5 * day)}.db`;
    for (const f of [...old, young, 'notes.txt']) fs.writeFileSync(path.join(bdir, f), 'x');
    const srv = await startServer({
      env: { ...KEYED, GATEHOUSE_BACKUP_DIR: bdir, GATEHOUSE_BACKUP_INTERVAL: '1s', GATEHOUSE_BACKUP_KEEP_DAYS: '90' },
    });
    try {
      await signup(srv);
      const fresh = () => fs.readdirSync(bdir).filter((f) => /^gatehouse-\d{8}T\d{6}Z(-\d+)?\.db$/.test(f) && !old.includes(f) && f !== young);
      const deadline = Date.now() + 20000;
      while (fresh().length < 2 && Date.now() < deadline) await sleep(200);
      assert.ok(fresh().length >= 2, `scheduled backups: ${fs.readdirSync(bdir)}`);
      for (const f of old) assert.ok(!fs.existsSync(path.join(bdir, f)), `${f} is older than 90 days`);
      assert.ok(fs.existsSync(path.join(bdir, young)) && fs.existsSync(path.join(bdir, 'notes.txt')));
      const f = path.join(bdir, fresh()[0]);
      assert.equal(sqlite(f, 'PRAGMA integrity_check'), 'ok');
      assert.ok(Number(sqlite(f, 'SELECT count(*) FROM audit_log')) >= 1);
      assert.match(srv.stderr(), /backup written: .*gatehouse-\d{8}T\d{6}Z/);
      assert.match(srv.stderr(), /older than 90 days/);
      assert.doesNotMatch(srv.stderr(), new RegExp(MASTER.slice(0, 16).replace(/[+/]/g, '.')));
      const m = await api(srv.url, 'GET', '/metrics');
      const last = /^gatehouse_backup_last_success_timestamp_seconds (\d+)$/m.exec(m.text);
      assert.ok(last && Number(last[1]) > Date.now() / 1000 - 60, m.text);
      assert.match(m.text, /^gatehouse_backups_total\{result="ok"\} [1-9]\d*$/m);
    } finally {
      await srv.stop();
    }
    // Only old backups: the newest of them stays.
    const lone = mkTempDir('gatehouse-backups-');
    const names = [`gatehouse-${stamp(Date.now() - 300 * day)}.db`, `gatehouse-${stamp(Date.now() - 200 * day)}.db`];
    for (const n of names) fs.writeFileSync(path.join(lone, n), 'x');
    const srv2 = await startServer({
      env: { ...KEYED, GATEHOUSE_BACKUP_DIR: lone, GATEHOUSE_BACKUP_INTERVAL: '1s', GATEHOUSE_BACKUP_KEEP_DAYS: '90' },
    });
    try {
      const deadline = Date.now() + 20000;
      while (fs.existsSync(path.join(lone, names[0])) && Date.now() < deadline) await sleep(200);
      assert.ok(!fs.existsSync(path.join(lone, names[0])));
      assert.ok(!fs.existsSync(path.join(lone, names[1])), 'no longer the newest once a fresh backup exists');
    } finally {
      await srv2.stop();
    }
  });

  test('the backup settings are checked: bad values and production intervals under a minute are refused', () => {
    const dir = mkTempDir();
    for (const [k, v] of [['GATEHOUSE_BACKUP_INTERVAL', '5x'], ['GATEHOUSE_BACKUP_INTERVAL', '31d'],
      ['GATEHOUSE_BACKUP_INTERVAL', '-1h'], ['GATEHOUSE_BACKUP_KEEP_DAYS', '0']]) {
      const r = cli(['backup'], dir, { [k]: v });
      assert.equal(r.code, 2, `${k}=${v}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(k));
    }
    const p = cli(['backup'], dir, { GATEHOUSE_ENV: 'production', GATEHOUSE_BACKUP_INTERVAL: '30s' });
    assert.equal(p.code, 2);
    assert.match(p.stderr, /GATEHOUSE_BACKUP_INTERVAL .*from 60s/);
    // No database yet: a clear error, nothing written
    const bdir = path.join(mkTempDir(), 'b');
    const r = cli(['backup', bdir], mkTempDir());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no database to back up/);
    // the default directory is <data dir>/backups
    const d = mkTempDir();
    assert.equal(cli(['migrate'], d).code, 0);
    const ok = cli(['backup'], d);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(path.dirname(writtenPath(ok.stdout)), path.join(d, 'backups'));
    assert.deepEqual(fs.readdirSync(path.join(d, 'backups')).filter((f) => f.startsWith('master')), []);
    assert.equal(cli(['restore'], d).code, 2);
    assert.equal(cli(['restore', 'a.db', 'b.db'], d).code, 2);
    assert.equal(cli(['restore', 'a.db', '--bogus'], d).code, 2);
  });
});

describe('backup on PostgreSQL', { skip: ON_PG ? false : 'needs GATEHOUSE_TEST_PG' }, () => {
  test('gatehouse backup, gatehouse restore and GATEHOUSE_BACKUP_* refuse clearly, pointing to docs/backups.md', () => {
    const dir = mkTempDir();
    for (const [args, env] of [[['backup'], {}], [['restore', '/tmp/x.db'], {}], [['backup'], { GATEHOUSE_BACKUP_DIR: dir }],
      [['migrate'], { GATEHOUSE_BACKUP_INTERVAL: '24h' }]]) {
      const r = cli(args, dir, env);
      assert.equal(r.code, 2, `${args}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /pg_dump or point-in-time recovery \(docs\/backups\.md\)/);
    }
  });

  test('restore --in-place after a pg_restore revokes every session and resets the head', async () => {
    const srv = await startServer({ env: KEYED });
    const u = await signup(srv);
    let magic;
    try {
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: u.email } })).status, 202);
      magic = await outboxToken(srv.dataDir, 'magic-link', new Set());
    } finally {
      await srv.stop();
    }
    await sleep(1100);
    const r = cli(['restore', '--in-place'], srv.dataDir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /sessions: 1 revoked/);
    assert.match(r.stdout, /single-use items cleared: 1 links/);
    assert.equal(cli(['audit', 'verify'], srv.dataDir).code, 0);
    const srv2 = await startServer({ dataDir: srv.dataDir, env: KEYED });
    try {
      assert.equal((await refresh(srv2, u.refresh)).status, 401);
      const v = await api(srv2.url, 'POST', '/v1/magic-link/verify', { json: { token: magic } });
      assert.equal(v.status, 401, `a link from before the restore: ${v.text}`);
      await signin(srv2, u.email, u.password);
    } finally {
      await srv2.stop();
    }
  });
});
