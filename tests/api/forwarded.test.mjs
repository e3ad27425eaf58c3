// Issue 9, items 3 and 8: the client address behind a trusted proxy comes
// only from the header the operator names (GATEHOUSE_CLIENT_IP_HEADER),
// read from the right, so a client cannot pick it with another header or
// a prefix of its own; per-IP budgets count IPv6 clients by their /64
// (GATEHOUSE_IPV6_PREFIX) while logs, sessions and audit rows keep the
// whole address. Each proxy's header combinations are unit-tested in
// tests/unit/guard/test_proxy.c; here through the real server, from a
// trusted loopback peer.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, api, signup, sql, runCli, mkTempDir, rawRequest, uniqueEmail, strongPassword,
} from './lib/harness.mjs';

const fakeToken = () => crypto.randomBytes(32).toString('base64url'); // 43 characters, like a real one
const verify = (srv, headers) => api(srv.url, 'POST', '/v1/email/verify', { json: { token: fakeToken() }, headers });
const auditIps = (srv, action) => sql(srv.dbPath, `SELECT DISTINCT ip FROM audit_log WHERE action = '${action}' ORDER BY ip;`).split('\n').filter(Boolean);
const sessionIp = async (srv, access) => {
  const r = await api(srv.url, 'GET', '/v1/sessions', { token: access });
  assert.equal(r.status, 200, r.text);
  return r.json.sessions.find((s) => s.current).ip;
};

describe('the client address behind a trusted proxy', () => {
  test('behind nginx ($proxy_add_x_forwarded_for, the default header): Forwarded, X-Real-IP and an X-Forwarded-For prefix sent by the client change nothing', async () => {
    const srv = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_LIMIT_LINK_IP: '3/900' } });
    try {
      const st = [];
      for (let i = 1; i <= 6; i++) {
        // what nginx passes on: the client's own headers, and its address appended to X-Forwarded-For
        st.push((await verify(srv, { Forwarded: `for=6.6.6.${i}`, 'X-Real-IP': `8.8.8.${i}`, 'X-Forwarded-For': `7.7.7.${i}, 203.0.113.50` })).status);
      }
      assert.deepEqual(st, [401, 401, 401, 429, 429, 429], 'one client, one budget, whatever it forges');
      assert.deepEqual(auditIps(srv, 'email.verify_failure'), ['203.0.113.50']);
      assert.equal((await verify(srv, { 'X-Forwarded-For': '203.0.113.51' })).status, 401, 'another client has its own budget');
      // a session records the same address
      const a = await signup(srv, undefined, undefined, { Forwarded: 'for=6.6.6.6', 'X-Forwarded-For': '7.7.7.7, 198.51.100.20' });
      assert.equal(await sessionIp(srv, a.access), '198.51.100.20');
    } finally {
      await srv.stop();
    }
  });

  test('GATEHOUSE_CLIENT_IP_HEADER=forwarded: only Forwarded counts, read from the right (quotes, ports, IPv6)', async () => {
    const srv = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_CLIENT_IP_HEADER: 'forwarded' } });
    try {
      const a = await signup(srv, undefined, undefined, {
        'X-Forwarded-For': '1.1.1.1', 'X-Real-IP': '8.8.8.8',
        Forwarded: 'for=6.6.6.6;host="a,for=7.7.7.7", for="[2001:db8::7]:4711";proto=https',
      });
      assert.equal(await sessionIp(srv, a.access), '2001:db8::7');
      const b = await signup(srv, undefined, undefined, { 'X-Forwarded-For': '198.51.100.7' });
      assert.equal(await sessionIp(srv, b.access), '127.0.0.1', 'X-Forwarded-For is not the configured header');
    } finally {
      await srv.stop();
    }
  });

  test('GATEHOUSE_CLIENT_IP_HEADER=x-real-ip: one value from a trusted peer; a list or a repeated header is not believed', async () => {
    const srv = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_CLIENT_IP_HEADER: 'x-real-ip' } });
    try {
      const a = await signup(srv, undefined, undefined, { 'X-Real-IP': '198.51.100.23', 'X-Forwarded-For': '1.1.1.1', Forwarded: 'for=6.6.6.6' });
      assert.equal(await sessionIp(srv, a.access), '198.51.100.23');
      const b = await signup(srv, undefined, undefined, { 'X-Real-IP': '7.7.7.7, 198.51.100.24' });
      assert.equal(await sessionIp(srv, b.access), '127.0.0.1');
      // two header lines (the proxy did not replace the client's)
      const body = JSON.stringify({ email: uniqueEmail(), password: strongPassword() });
      const c = await rawRequest(srv.port, { method: 'POST', path: '/v1/signup', body, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Real-IP': ['7.7.7.7', '198.51.100.25'] } });
      assert.equal(c.status, 201, c.text);
      assert.equal(await sessionIp(srv, c.json.access_token), '127.0.0.1');
    } finally {
      await srv.stop();
    }
  });

  test('a bad GATEHOUSE_CLIENT_IP_HEADER or GATEHOUSE_IPV6_PREFIX stops the start, naming it', () => {
    const dir = mkTempDir();
    let r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_CLIENT_IP_HEADER: 'x-client-ip' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_CLIENT_IP_HEADER must be x-forwarded-for, forwarded or x-real-ip/);
    for (const v of ['16', '129', 'x']) {
      r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_IPV6_PREFIX: v } });
      assert.notEqual(r.code, 0, v);
      assert.match(r.stderr, /GATEHOUSE_IPV6_PREFIX must be an integer between 32 and 128/);
    }
    // the other settings issue 9 added: garbage stops the start, naming it
    for (const [k, v] of [['GATEHOUSE_AUDIT_FAILURE_ROWS', '10'], ['GATEHOUSE_AUDIT_FAILURE_ROWS', 'x/60'],
      ['GATEHOUSE_AUDIT_FAILURE_ROWS', '10/-1'], ['GATEHOUSE_MAX_CONNECTIONS', '-1'],
      ['GATEHOUSE_MAX_CONNECTIONS', '12abc'], ['GATEHOUSE_MAX_CONNECTIONS', '99999999999']]) {
      r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, [k]: v } });
      assert.notEqual(r.code, 0, `${k}=${v}`);
      assert.match(r.stderr, new RegExp(k), `${k}=${v}`);
    }
  });
});

describe('IPv6 per-IP budgets', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_LIMIT_LINK_IP: '3/900' } }); });
  after(async () => { await srv?.stop(); });

  test('two addresses in one /64 share a budget, one in another /64 does not; audit rows keep the whole address', async () => {
    const st = [];
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2:abcd::9']) {
      st.push((await verify(srv, { 'X-Forwarded-For': ip })).status);
    }
    assert.deepEqual(st, [401, 401, 401, 429], 'the fourth address of the /64 finds its budget spent');
    assert.equal((await verify(srv, { 'X-Forwarded-For': '2001:db8:1:3::1' })).status, 401, 'the next /64 is another client');
    const ips = auditIps(srv, 'email.verify_failure');
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:3::1']) assert.ok(ips.includes(ip), `${ip} in ${ips}`);
  });

  test('IPv4 by the address, and IPv4-mapped IPv6 counts as the same IPv4 address', async () => {
    const st = [];
    for (const ip of ['198.51.100.9', '::ffff:198.51.100.9', '198.51.100.9', '::FFFF:198.51.100.9', '198.51.100.10']) {
      st.push((await verify(srv, { 'X-Forwarded-For': ip })).status);
    }
    assert.deepEqual(st, [401, 401, 401, 429, 401]);
  });

  test('GATEHOUSE_IPV6_PREFIX=128: every address its own budget', async () => {
    const s128 = await startServer({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_LIMIT_LINK_IP: '1/900', GATEHOUSE_IPV6_PREFIX: '128' } });
    try {
      const st = [];
      for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2::1']) st.push((await verify(s128, { 'X-Forwarded-For': ip })).status);
      assert.deepEqual(st, [401, 401, 429]);
    } finally {
      await s128.stop();
    }
  });
});
