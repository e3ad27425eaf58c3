// One server per listen address and per SQLite database (issue 9 item 15).
// Listeners use SO_REUSEPORT, so before this a second `gatehouse serve` on
// the same address with another data directory started, and the kernel
// split connections between two databases. Now it exits naming the address;
// a second server on another address over the same data directory exits
// naming the database; the first keeps serving; CLI commands still run
// beside it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  BIN, startServer, buildEnv, freePort, mkTempDir, api, runCli, assertNoSanitizerReport, sqliteOnly,
} from './lib/harness.mjs';

// Runs `gatehouse serve`; resolves {code, stderr} when it exits, or
// {code: 'running'} (after killing it) if it is still up after ms.
function serve(env, ms = 8000) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['serve'], { env: buildEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve({ code: 'running', stderr }); }, ms);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stderr }); });
  });
}

describe('a second gatehouse serve', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  const stillServes = async (what) => {
    for (let i = 0; i < 20; i++) { // fresh connections: with a shared port some would reach the other process
      const r = await api(srv.url, 'GET', '/healthz', { headers: { Connection: 'close' } });
      assert.equal(r.status, 200, `${what}: the first server stopped answering`);
    }
  };

  test('on the same address (another data directory) exits non-zero, naming the address', async () => {
    const r = await serve({ GATEHOUSE_LISTEN: srv.listen, GATEHOUSE_DATA_DIR: mkTempDir() });
    assert.notEqual(r.code, 'running', 'the second server started on an address already in use');
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`GATEHOUSE_LISTEN ${srv.listen} is already in use`), r.stderr);
    assertNoSanitizerReport(r.stderr);
    await stillServes('a second server on its address');
  });

  test('on the same address written another way (localhost) exits too', async () => {
    const r = await serve({ GATEHOUSE_LISTEN: `localhost:${srv.port}`, GATEHOUSE_DATA_DIR: mkTempDir() });
    assert.notEqual(r.code, 'running');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is already in use by another process/);
  });

  test('on another address over the same data directory exits non-zero, naming the database', { skip: sqliteOnly('the lock on the SQLite file (replicas share a PostgreSQL database)') }, async () => {
    const r = await serve({ GATEHOUSE_LISTEN: `127.0.0.1:${await freePort()}`, GATEHOUSE_DATA_DIR: srv.dataDir });
    assert.notEqual(r.code, 'running', 'the second server shares the first one\'s SQLite database');
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`the database ${path.join(srv.dataDir, 'gatehouse.db')} is already served`), r.stderr);
    assertNoSanitizerReport(r.stderr);
    await stillServes('a second server on its database');
  });

  test('CLI commands still run beside the server', () => {
    const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.equal(r.code, 0, r.stderr);
  });
});

test('two servers started at once on one address: exactly one keeps running', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const [a, b] = await Promise.all([
    serve({ GATEHOUSE_LISTEN: listen, GATEHOUSE_DATA_DIR: mkTempDir() }, 6000),
    serve({ GATEHOUSE_LISTEN: listen, GATEHOUSE_DATA_DIR: mkTempDir() }, 6000),
  ]);
  const running = [a, b].filter((x) => x.code === 'running').length;
  assert.equal(running, 1, `a: ${a.code} ${a.stderr.slice(-300)}\nb: ${b.code} ${b.stderr.slice(-300)}`);
  assert.match((a.code === 'running' ? b : a).stderr, new RegExp(`GATEHOUSE_LISTEN ${listen} is already in use`));
});
