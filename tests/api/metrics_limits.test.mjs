// /metrics counts the requests each rate-limit rule (and the lockout) refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, uniqueEmail, strongPassword } from './lib/harness.mjs';

const counts = async (srv) => {
  const m = await api(srv.url, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^# TYPE gatehouse_rate_limited_total counter$/m);
  return Object.fromEntries([...m.text.matchAll(/^gatehouse_rate_limited_total\{rule="([a-z_]+)"\} (\d+)$/gm)]
    .map((x) => [x[1], Number(x[2])]));
};

test('gatehouse_rate_limited_total: one line per rule, each 429 counted once under its rule', async () => {
  const srv = await startServer({ env: { GATEHOUSE_LIMIT_SIGNUP_IP: '2/3600', GATEHOUSE_LOCKOUT_THRESHOLD: '2' } });
  try {
    const zero = await counts(srv);
    for (const rule of ['signin_ip_account', 'signin_ip', 'signup_ip', 'refresh_session', 'email_account', 'email_ip', 'mfa', 'api_user', 'link_ip', 'mfa_ip', 'refresh_ip', 'verify_ip', 'signin_lockout']) {
      assert.equal(zero[rule], 0, rule);
    }
    const a = await signup(srv);
    await signup(srv);
    for (let i = 0; i < 3; i++) {
      const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password: strongPassword() } });
      assert.equal(r.status, 429);
    }
    // from the 2nd failure on the address is locked for 1 s, 2 s, 4 s, ...:
    // some of these attempts are refused by the lockout, however slow the machine
    let locked = 0;
    for (let i = 0; i < 8; i++) {
      const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: 'wrong password number x' } });
      assert.ok([401, 429].includes(r.status), r.text);
      if (r.status === 429) locked++;
    }
    assert.ok(locked >= 1);
    const after = await counts(srv);
    assert.equal(after.signup_ip, 3);
    assert.equal(after.signin_lockout, locked);
    assert.equal(after.signin_ip, 0);
    const text = (await api(srv.url, 'GET', '/metrics')).text;
    assert.equal(text.match(/^gatehouse_rate_limited_total/gm).length, 13);
    assert.match(text, /^gatehouse_redis_up -1$/m, 'no Redis configured');
  } finally {
    await srv.stop();
  }
});
