// gatehouse_db_statements_total counts the database statements a server
// runs (bench/scale.sh reads it): a write raises it, and a /v1/me answered
// from the auth cache raises it by nothing. Runs on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, me } from './lib/harness.mjs';

const statements = async (srv) => {
  const m = await api(srv.url, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^# TYPE gatehouse_db_statements_total counter$/m);
  const v = /^gatehouse_db_statements_total (\d+)$/m.exec(m.text);
  assert.ok(v, m.text);
  return Number(v[1]);
};

test('gatehouse_db_statements_total: a sign-up runs statements, cached /v1/me calls run none', async () => {
  const srv = await startServer({ env: { GATEHOUSE_RATE_LIMITS: 'off' } });
  try {
    const before = await statements(srv);
    const u = await signup(srv);
    const afterSignup = await statements(srv);
    assert.ok(afterSignup - before >= 3, `a sign-up wrote with ${afterSignup - before} statements`);
    assert.equal((await me(srv, u.access)).status, 200); // fills the cache
    // Background jobs (the change-feed poll, about one a second) also count:
    // 300 requests in well under their period may add only a few of theirs,
    // while one statement per request would add 300.
    const start = await statements(srv);
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) assert.equal((await me(srv, u.access)).status, 200);
    const secs = (Date.now() - t0) / 1000;
    const added = (await statements(srv)) - start;
    assert.ok(added <= 10 + 10 * Math.ceil(secs), `300 cached /v1/me calls ran ${added} statements in ${secs} s`);
  } finally {
    await srv.stop();
  }
});
