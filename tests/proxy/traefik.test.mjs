// Traefik is not in Debian: this test sends Gatehouse exactly what Traefik's
// ForwardAuth middleware sends with docs/examples/traefik/dynamic.yml, and
// applies the answer as Traefik does (lib/traefik.mjs), so the same cases
// as for nginx and Caddy run here; then raw checks of the auth request.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startEcho, APP_HOST } from './lib/proxies.mjs';
import { traefikModel } from './lib/traefik.mjs';
import { startGate } from './lib/gate.mjs';
import { gateSuite } from './lib/scenarios.mjs';
import { HOST_TRICKS, URI_TRICKS, assertNoOpenRedirect } from './lib/tricks.mjs';

gateSuite('traefik', {
  remoteHeaders: true,
  async start(ports) {
    const m = traefikModel(ports);
    return { send: m.send, async stop() {} };
  },
});

describe('traefik: the auth request itself', { concurrency: false }, () => {
  let gate, echo, m;
  before(async () => {
    gate = await startGate();
    echo = await startEcho();
    m = traefikModel({ gatehousePort: gate.port, appPort: echo.port });
  });
  after(async () => {
    await echo?.stop();
    await gate?.stop();
    if (gate) fs.rmSync(gate.dataDir, { recursive: true, force: true });
  });

  test('carries only the allowed client headers and the X-Forwarded-* Traefik sets', () => {
    const hs = m.authHeaders({
      method: 'POST', host: APP_HOST, path: '/a?b=1',
      headers: [['Accept', 'text/html'], ['Cookie', 'x=1'], ['X-Original-URL', 'https://evil.com/'],
        ['X-Forwarded-Host', 'evil.com'], ['X-Forwarded-Uri', '/static/app.css'], ['X-Gatehouse-User-Id', 'forged'], ['Forwarded', 'host=evil.com']],
    });
    assert.deepEqual(hs.map(([k]) => k), ['Host', 'User-Agent', 'Accept', 'Cookie', 'X-Forwarded-For', 'X-Forwarded-Method',
      'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Forwarded-Uri', 'Accept-Encoding']);
    assert.deepEqual(Object.fromEntries(hs.slice(4, 9)), {
      'X-Forwarded-For': '127.0.0.1', 'X-Forwarded-Method': 'POST', 'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': APP_HOST, 'X-Forwarded-Uri': '/a?b=1',
    });
  });

  test('from a peer not in GATEHOUSE_TRUSTED_PROXIES the check is refused (403), whatever it says', async () => {
    const r = await m.check({ method: 'GET', host: APP_HOST, path: '/static/app.css', headers: [['Accept', 'application/json']] }, { localAddress: '127.0.0.2' });
    assert.equal(r.status, 403, r.body);
    assert.equal(JSON.parse(r.body).error.code, 'untrusted_proxy');
    assert.match(gate.stderr(), /127\.0\.0\.2/, 'a log line names the peer');
    const ok = await m.check({ method: 'GET', host: APP_HOST, path: '/static/app.css', headers: [] });
    assert.equal(ok.status, 200, 'the same from the trusted proxy passes (a public rule)');
  });

  test('a missing original request is 400, never a pass', async () => {
    const { rawExchange } = await import('./lib/proxies.mjs');
    const r = await rawExchange(gate.port, null, Buffer.from('GET /v1/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).error.code, 'original_request_missing');
  });

  test('open-redirect tricks sent raw as X-Forwarded-Host and -Uri never yield a Location outside the allowed hosts', async () => {
    const cases = [
      ...HOST_TRICKS.map(([name, host]) => ({ name: `X-Forwarded-Host: ${name}`, host, path: '/dashboard' })),
      ...URI_TRICKS.map(([name, p]) => ({ name: `X-Forwarded-Uri: ${name}`, host: APP_HOST, path: p })),
    ];
    assert.ok(cases.length >= 20);
    for (const c of cases) {
      const r = await m.check({ method: 'GET', host: c.host, path: c.path, headers: [['Accept', 'text/html']] });
      assert.notEqual(r.status, 200, `${c.name}: passed`);
      assertNoOpenRedirect({ ...r, echo: null }, `${c.name} (${r.status})`);
    }
  });
});
