// Issue 9, item 16: /readyz turns 503 while database writes fail and comes
// back by itself, without a restart; errors at start name the file and the
// system error. Item 14: /metrics and the reason behind a failing /readyz go
// only to GATEHOUSE_METRICS_ALLOW (loopback + trusted proxies by default).
//
// Writes are broken with a real failing disk, not a mock:
// - always (unprivileged): the server's file-size limit (RLIMIT_FSIZE) is
//   lowered to 1 byte under it with prlimit(2), so every write that grows a
//   file fails in the kernel (EFBIG); raising it again is the recovery;
// - as root, where mount works: a 1 MiB tmpfs filled to ENOSPC, and the
//   same tmpfs remounted read-only for the start errors (skipped otherwise).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  startServer, runCli, api, signup, uniqueEmail, strongPassword, mkTempDir, sleep, assertError, sqliteOnly,
} from './lib/harness.mjs';

/** Sets the soft RLIMIT_FSIZE of a running process ('max' = its hard limit). */
function setFsize(pid, soft) {
  const py = 'import resource,sys\n' +
    'p=int(sys.argv[1]); h=resource.prlimit(p, resource.RLIMIT_FSIZE)[1]\n' +
    "resource.prlimit(p, resource.RLIMIT_FSIZE, (h if sys.argv[2]=='max' else int(sys.argv[2]), h))\n";
  const r = spawnSync('python3', ['-c', py, String(pid), String(soft)], { encoding: 'utf8' });
  assert.equal(r.status, 0, `prlimit: ${r.stderr}`);
}

async function pollReady(srv, want, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await api(srv.url, 'GET', '/readyz');
    if (r.status === want || Date.now() > deadline) return r;
    await sleep(200);
  }
}

const metric = (text, name) => {
  const m = new RegExp(`^${name} (-?\\d+)$`, 'm').exec(text);
  assert.ok(m, `${name} in /metrics:\n${text}`);
  return Number(m[1]);
};

const episodeLines = (srv) => ({
  failing: srv.stderrLines().filter((l) => /database writes are failing/.test(l)),
  again: srv.stderrLines().filter((l) => /database writes work again/.test(l)),
});

describe('readiness follows database writes (item 16)', { skip: sqliteOnly('breaks the SQLite file\'s writes with the server\'s file-size limit') }, () => {
  test('file-size limit under a running server: /readyz 200 -> 503 with the reason -> 200, no restart', async () => {
    const srv = await startServer();
    try {
      const a = await signup(srv);
      assert.equal((await api(srv.url, 'GET', '/readyz')).status, 200);
      let m = await api(srv.url, 'GET', '/metrics');
      assert.equal(metric(m.text, 'gatehouse_store_writes_ok'), 1);
      assert.equal(metric(m.text, 'gatehouse_store_disk_errors_total'), 0);

      setFsize(srv.child.pid, 1);
      // sign-up, sign-in and refresh all write: each answers 500
      const up = await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } });
      assertError(up, 500, 'internal_error', 'sign-up on a failing disk');
      const inn = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
      assertError(inn, 500, 'internal_error', 'sign-in on a failing disk');
      const rf = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } });
      assertError(rf, 500, 'internal_error', 'refresh on a failing disk');

      const nr = await api(srv.url, 'GET', '/readyz');
      assert.equal(nr.status, 503, nr.text);
      assert.equal(nr.json.status, 'not_ready');
      assert.deepEqual(nr.json.reasons, ['database_writes_failing']);
      assert.ok(nr.json.database_error.includes(srv.dbPath), nr.text);
      m = await api(srv.url, 'GET', '/metrics');
      assert.equal(metric(m.text, 'gatehouse_store_writes_ok'), 0);
      assert.ok(metric(m.text, 'gatehouse_store_disk_errors_total') >= 3);
      // the probe keeps failing while the disk does: still 503
      await sleep(2500);
      assert.equal((await api(srv.url, 'GET', '/readyz')).status, 503);

      setFsize(srv.child.pid, 'max');
      const back = await pollReady(srv, 200);
      assert.equal(back.status, 200, `recovered by itself: ${back.text}`);
      assert.deepEqual(back.json, { status: 'ready' });
      await signup(srv);
      m = await api(srv.url, 'GET', '/metrics');
      assert.equal(metric(m.text, 'gatehouse_store_writes_ok'), 1);
      assert.equal(srv.exited(), null, 'the same process, no restart');

      const { failing, again } = episodeLines(srv);
      assert.equal(failing.length, 1, `one log line per episode:\n${failing.join('\n')}`);
      assert.equal(JSON.parse(failing[0]).level, 'error');
      assert.ok(failing[0].includes(srv.dbPath));
      assert.equal(again.length, 1);
    } finally {
      setFsize(srv.child.pid, 'max');
      await srv.stop();
    }
  });

  test('a start that cannot open the database names the file and the system error', async () => {
    const dir = mkTempDir();
    fs.mkdirSync(path.join(dir, 'gatehouse.db')); // a folder where the file should be
    for (const cmd of [['migrate'], ['serve']]) {
      const r = runCli(cmd, { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_LISTEN: '127.0.0.1:0' } });
      assert.notEqual(r.code, 0, `${cmd} refused`);
      assert.match(r.stderr, /gatehouse: cannot open the database: unable to open database file \(Is a directory\): /);
      assert.ok(r.stderr.includes(path.join(dir, 'gatehouse.db')), r.stderr);
    }
  });
});

// ------------------------------------------- root only: a real full disk

function tryMount(size) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const dir = mkTempDir('gatehouse-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? dir : null;
}
const umount = (dir) => {
  spawnSync('umount', ['-l', dir]);
  try { fs.rmdirSync(dir); } catch { /* already gone, or still busy */ }
};

/** Fills the filesystem under dir until ENOSPC; returns the filler's path. */
function fill(dir) {
  const f = path.join(dir, 'filler');
  const fd = fs.openSync(f, 'w');
  const chunk = Buffer.alloc(16384);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  }
  // the last partial block too
  try { for (;;) fs.writeSync(fd, Buffer.alloc(512)); } catch { /* full */ }
  fs.closeSync(fd);
  return f;
}

const mnt = tryMount('1m');
describe('readiness on a real full disk (root: tmpfs)', { skip: sqliteOnly('fills the disk under the SQLite file') || (mnt ? false : 'needs root and mount(8)') }, () => {
  test('ENOSPC under a running server: 503 naming "No space left on device", 200 after space is freed', async () => {
    const srv = await startServer({ dataDir: path.join(mnt, 'run') });
    try {
      await signup(srv);
      const filler = fill(mnt);
      // The WAL may still have room for a few writes: keep signing up until one fails.
      let failed = null;
      for (let i = 0; i < 50 && !failed; i++) {
        const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } });
        if (r.status !== 201) failed = r;
      }
      assert.ok(failed, 'a write failed on the full disk');
      assertError(failed, 500, 'internal_error');
      const nr = await api(srv.url, 'GET', '/readyz');
      assert.equal(nr.status, 503, nr.text);
      assert.match(nr.json.database_error, /database or disk is full \(No space left on device\)/);
      fs.unlinkSync(filler);
      const back = await pollReady(srv, 200);
      assert.equal(back.status, 200, back.text);
      await signup(srv);
      assert.equal(episodeLines(srv).failing.length, 1);
    } finally {
      await srv.stop();
    }
  });

  test('a start on a full or read-only disk names the system error', () => {
    const dir = path.join(mnt, 'start');
    assert.equal(runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir } }).code, 0);
    for (const f of fs.readdirSync(dir)) if (f.startsWith('gatehouse.db')) fs.unlinkSync(path.join(dir, f));
    const filler = fill(mnt);
    let r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /gatehouse: .*\(No space left on device\)/);
    fs.unlinkSync(filler);
    assert.equal(runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir } }).code, 0);
    assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
    r = runCli(['serve'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_LISTEN: '127.0.0.1:0' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /gatehouse: cannot open the database: .*\(Read-only file system\): /);
    assert.ok(r.stderr.includes(path.join(dir, 'gatehouse.db')), r.stderr);
  });

  after(() => umount(mnt));
});
if (mnt) process.on('exit', () => umount(mnt));

// ------------------------------------------- item 14: the metrics allowlist

describe('/metrics and the /readyz reason only to GATEHOUSE_METRICS_ALLOW (item 14)', () => {
  test('default: loopback gets /metrics as text/plain with charset', async () => {
    const srv = await startServer();
    try {
      const m = await api(srv.url, 'GET', '/metrics');
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    } finally {
      await srv.stop();
    }
  });

  test('an allowlist without loopback: /metrics 403, a failing /readyz is a bare 503', { skip: sqliteOnly('fails /readyz with the file-size limit under the SQLite file') }, async () => {
    const srv = await startServer({ env: { GATEHOUSE_METRICS_ALLOW: '10.0.0.0/8, fd00::/8' } });
    try {
      assertError(await api(srv.url, 'GET', '/metrics'), 403, 'forbidden');
      assert.deepEqual((await api(srv.url, 'GET', '/readyz')).json, { status: 'ready' });
      setFsize(srv.child.pid, 1);
      await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } });
      const nr = await api(srv.url, 'GET', '/readyz');
      assert.equal(nr.status, 503);
      assert.deepEqual(nr.json, { status: 'not_ready' }, 'no reason for the public');
      setFsize(srv.child.pid, 'max');
      assert.equal((await pollReady(srv, 200)).status, 200);
    } finally {
      setFsize(srv.child.pid, 'max');
      await srv.stop();
    }
  });

  test('behind a trusted proxy the decision is on the client address, not the proxy', async () => {
    const srv = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1' } });
    try {
      assert.equal((await api(srv.url, 'GET', '/metrics')).status, 200, 'the proxy itself');
      const fwd = await api(srv.url, 'GET', '/metrics', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      assertError(fwd, 403, 'forbidden', 'a client forwarded by the proxy');
    } finally {
      await srv.stop();
    }
    // a trusted proxy that is not loopback is allowed by default, loopback still is
    const srv2 = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '10.1.2.3' } });
    try {
      assert.equal((await api(srv2.url, 'GET', '/metrics')).status, 200);
    } finally {
      await srv2.stop();
    }
  });

  test('a malformed GATEHOUSE_METRICS_ALLOW stops the start, naming it', () => {
    const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: mkTempDir(), GATEHOUSE_METRICS_ALLOW: '10.0.0.0/8, nonsense' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_METRICS_ALLOW: 'nonsense' is not an IP address or CIDR block/);
  });
});
