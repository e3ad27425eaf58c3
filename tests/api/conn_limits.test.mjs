// Descriptor exhaustion (issue 9 item 1): under a low open-file limit, a
// client holding far more idle connections than the server can take must
// not make it spin (CPU), flood its log, or stop answering. The server caps
// connections below the limit, pauses accepting at the cap, closes its
// oldest idle connections to make room, logs one warning per episode and
// counts it in /metrics. GATEHOUSE_MAX_CONNECTIONS above what the limit
// allows stops the start.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import {
  BIN, buildEnv, freePort, mkTempDir, sleep, assertNoSanitizerReport, api, runCli,
} from './lib/harness.mjs';

const NOFILE = 128;
const FLOOD = 600; // idle connections opened by one client: far past the limit

// The threads are fixed, whatever the machine's CPUs: the descriptors the
// server keeps for them (6 per worker, 4 per loop) come off the cap, and
// NOFILE must leave room for 20 connections.
const THREADS = { GATEHOUSE_THREADS: '2', GATEHOUSE_WORKERS: '4', GATEHOUSE_HASH_WORKERS: '2' };

// Starts `gatehouse serve` under `ulimit -n <nofile>` (soft and hard, so the
// server cannot raise it). Resolves a handle once /healthz answers.
async function startLimited(nofile, env = {}) {
  const port = await freePort();
  const dataDir = mkTempDir();
  const childEnv = buildEnv({ GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: dataDir, ...THREADS, ...env });
  const child = spawn('sh', ['-c', `ulimit -n ${nofile} && exec "$0" serve`, BIN],
    { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exit = null;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 15000; ;) {
    if (exit) throw new Error(`server exited during startup: ${JSON.stringify(exit)}\n${stderr.slice(-3000)}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`not healthy:\n${stderr.slice(-3000)}`); }
    await sleep(50);
  }
  return {
    url, port, child,
    stderr: () => stderr,
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 8000);
        await exited;
        clearTimeout(t);
      }
      assertNoSanitizerReport(stderr);
      assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${stderr.slice(-2000)}`);
    },
  };
}

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // fields 14 and 15 of stat(5)
}

// One request on a fresh connection: {status, body} or {status: 0} on timeout/close.
function oneRequest(port, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const t = setTimeout(() => { s.destroy(); resolve({ status: 0, data }); }, timeoutMs);
    s.on('data', (d) => {
      data += d;
      if (data.includes('\r\n\r\n')) {
        clearTimeout(t);
        s.destroy();
        resolve({ status: Number(data.split(' ')[1]), data });
      }
    });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ status: Number(data.split(' ')[1]) || 0, data }); });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

const metric = (text, name) => {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
};

describe(`descriptor exhaustion under ulimit -n ${NOFILE}`, () => {
  let srv;
  const flood = [];
  before(async () => { srv = await startLimited(NOFILE); });
  after(async () => {
    for (const s of flood) s.destroy();
    await srv?.stop();
  });

  test(`${FLOOD} idle connections from one client: low CPU, one warning, requests still answered`, async () => {
    const logBefore = srv.stderr().length;
    let refused = 0;
    for (let i = 0; i < FLOOD; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => { refused++; });
      flood.push(s);
    }
    await sleep(1500); // the connects complete (the kernel's backlog) and the server works through them

    const cpu0 = cpuSeconds(srv.child.pid);
    const t0 = Date.now();
    await sleep(3000);
    const cpuPct = (100 * (cpuSeconds(srv.child.pid) - cpu0)) / ((Date.now() - t0) / 1000);

    // A request while the idle connections are still held: an idle one makes room.
    const during = await oneRequest(srv.port, 10000);

    const log = srv.stderr().slice(logBefore);
    const warnings = log.split('\n').filter((l) => l.includes('connection limit reached'));
    console.log(`# flood: server CPU ${cpuPct.toFixed(1)} % of a core over 3 s, log +${log.length} bytes,`
      + ` ${warnings.length} warning line(s), request during the flood: ${during.status}, client-side errors ${refused}`);
    assert.ok(cpuPct < 20, `server CPU during the flood: ${cpuPct.toFixed(1)} % of a core`);
    assert.ok(log.length < 20000, `log grew by ${log.length} bytes during the flood`);
    assert.equal(warnings.length, 1, `expected one warning line, got ${warnings.length}`);
    for (const l of warnings) assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
    assert.equal(during.status, 200, `a request during the flood: ${during.data.slice(0, 200)}`);
    // More clients while the idle ones are still held, each on a fresh
    // connection: whichever loop's queue a connection lands in, room is made
    // for it (a loop with no idle connection of its own asks the others).
    for (let i = 0; i < 12; i++) {
      const r = await oneRequest(srv.port, 4000);
      assert.equal(r.status, 200, `fresh client ${i} during the flood: ${r.data.slice(0, 200)}`);
    }

    // The flood stops: requests are answered, and /metrics counted the episode.
    for (const s of flood) s.destroy();
    await sleep(500);
    const after = await api(srv.url, 'GET', '/healthz');
    assert.equal(after.status, 200);
    // ...and the episode's end is one line too
    for (let i = 0; i < 40 && !srv.stderr().includes('connection limit episode over'); i++) await sleep(200);
    assert.equal(srv.stderr().split('\n').filter((l) => l.includes('connection limit episode over')).length, 1);
    const m = await api(srv.url, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.ok(metric(m.text, 'gatehouse_connection_limit_episodes_total') >= 1, m.text);
    assert.ok(metric(m.text, 'gatehouse_connections_closed_for_room_total') > 0, m.text);
    const max = metric(m.text, 'gatehouse_connections_max');
    assert.ok(max > 0 && max < NOFILE, `cap ${max} under a limit of ${NOFILE}`);
    assert.ok(metric(m.text, 'gatehouse_connections_open') <= max);
  });
});

describe('descriptors run out below the cap (EMFILE)', () => {
  let srv;
  const flood = [];
  before(async () => { srv = await startLimited(NOFILE); });
  after(async () => {
    for (const s of flood) s.destroy();
    await srv?.stop();
  });

  test('accept() failing with EMFILE: no busy loop, one warning, counted, requests answered afterwards', async () => {
    // Lower the running server's limit to a few descriptors above what it
    // holds, under its cap: accept() now fails with EMFILE before the cap.
    const held = fs.readdirSync(`/proc/${srv.child.pid}/fd`).length;
    const limit = held + 8;
    execFileSync('prlimit', ['--pid', String(srv.child.pid), `--nofile=${limit}:${limit}`]);
    const logBefore = srv.stderr().length;
    for (let i = 0; i < 200; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      flood.push(s);
    }
    await sleep(1500);
    const cpu0 = cpuSeconds(srv.child.pid);
    const t0 = Date.now();
    await sleep(3000);
    const cpuPct = (100 * (cpuSeconds(srv.child.pid) - cpu0)) / ((Date.now() - t0) / 1000);
    const log = srv.stderr().slice(logBefore);
    const warnings = log.split('\n').filter((l) => l.includes('connection limit reached'));
    console.log(`# EMFILE flood: server CPU ${cpuPct.toFixed(1)} % of a core over 3 s, log +${log.length} bytes, ${warnings.length} warning line(s)`);
    assert.ok(cpuPct < 20, `server CPU with accept() failing: ${cpuPct.toFixed(1)} % of a core`);
    assert.ok(log.length < 20000, `log grew by ${log.length} bytes`);
    assert.equal(warnings.length, 1, log.slice(0, 2000));
    assert.match(warnings[0], /Too many open files/);

    for (const s of flood) s.destroy();
    const r = await oneRequest(srv.port, 15000);
    assert.equal(r.status, 200, 'a request once the flood stopped');
    const m = await api(srv.url, 'GET', '/metrics');
    assert.ok(metric(m.text, 'gatehouse_accept_errors_total') > 0, m.text);
  });
});

describe('GATEHOUSE_MAX_CONNECTIONS', () => {
  test('above what the open-file limit allows: the start fails, naming both numbers', async () => {
    const port = await freePort();
    const dataDir = mkTempDir();
    const r = await new Promise((resolve) => {
      const child = spawn('sh', ['-c', `ulimit -n ${NOFILE} && exec "$0" serve`, BIN], {
        env: buildEnv({ GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: dataDir, ...THREADS, GATEHOUSE_MAX_CONNECTIONS: '1000' }),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const t = setTimeout(() => child.kill('SIGKILL'), 15000);
      child.on('exit', (code) => { clearTimeout(t); resolve({ code, stderr }); });
    });
    assert.notEqual(r.code, 0, 'the server started with a cap above its open-file limit');
    assert.match(r.stderr, /GATEHOUSE_MAX_CONNECTIONS=1000 is above what the open-file limit allows/);
    assertNoSanitizerReport(r.stderr);
  });

  test('a value the limit allows is the cap shown in /metrics', async () => {
    const srv = await startLimited(NOFILE, { GATEHOUSE_MAX_CONNECTIONS: '20' });
    try {
      const m = await api(srv.url, 'GET', '/metrics');
      assert.equal(metric(m.text, 'gatehouse_connections_max'), 20);
    } finally {
      await srv.stop();
    }
  });

  test('the soft open-file limit is raised to the hard one at start, and the cap follows', async () => {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -H -n'], { encoding: 'utf8' }).trim());
    if (!(hard > 300)) return; // nothing to raise to here
    const srv = await startLimited('-S 256');
    try {
      const lim = /^Max open files\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${srv.child.pid}/limits`, 'utf8'));
      assert.equal(Number(lim[1]), Number(lim[2]), 'soft limit not raised');
      const m = await api(srv.url, 'GET', '/metrics');
      assert.ok(metric(m.text, 'gatehouse_connections_max') > 256, m.text);
    } finally {
      await srv.stop();
    }
  });

  test('not a number: refused like every other setting', () => {
    const r = runCli(['serve'], { env: { GATEHOUSE_MAX_CONNECTIONS: 'lots', GATEHOUSE_DATA_DIR: mkTempDir() } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_MAX_CONNECTIONS/);
  });
});
