import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, api, assertError, uniqueEmail, strongPassword, rand, sleep, signup, freePort, sql, mkTempDir, runCli,
} from './lib/harness.mjs';

function jsonLines(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try { out.push(JSON.parse(t)); } catch { /* not a JSON line */ }
  }
  return out;
}

describe('request logging', () => {
  let srv;
  const secrets = []; // [label, value]
  const requests = []; // {rid, method, path, status, userId?}
  let userId;

  before(async () => {
    // a 1 s reuse grace: the replay inside it and token_reused after it both run
    srv = await startServer({ env: { GATEHOUSE_REFRESH_REUSE_GRACE: '1' } });
    const tag = rand(4);
    let n = 0;
    const call = async (method, path, opts, label) => {
      const rid = `log-${tag}-${++n}`;
      const r = await api(srv.url, method, path, { ...opts, headers: { ...(opts.headers || {}), 'X-Request-Id': rid } });
      requests.push({ rid, method, path, status: r.status, label });
      return r;
    };

    const email = uniqueEmail();
    const password = strongPassword();
    const wrongPassword = `wrong ${strongPassword()}`;
    const newPassword = strongPassword();
    secrets.push(['password', password], ['wrong password', wrongPassword], ['new password', newPassword]);

    const su = await call('POST', '/v1/signup', { json: { email, password } }, 'signup');
    assert.equal(su.status, 201, su.text);
    userId = su.json.user.id;
    secrets.push(['signup access', su.json.access_token], ['signup refresh', su.json.refresh_token]);

    const si = await call('POST', '/v1/signin', { json: { email, password } }, 'signin');
    assert.equal(si.status, 200, si.text);
    secrets.push(['signin access', si.json.access_token], ['signin refresh', si.json.refresh_token]);

    const bad = await call('POST', '/v1/signin', { json: { email, password: wrongPassword } }, 'signin wrong');
    assert.equal(bad.status, 401);

    const tk = await call('POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: su.json.refresh_token } }, 'token');
    assert.equal(tk.status, 200, tk.text);
    secrets.push(['rotated access', tk.json.access_token], ['rotated refresh', tk.json.refresh_token]);

    const garbageRefresh = `garbage-refresh-${rand(16)}`;
    secrets.push(['garbage refresh', garbageRefresh]);
    assert.equal((await call('POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: garbageRefresh } }, 'token bad')).status, 401);

    const m = await call('GET', '/v1/me', { token: tk.json.access_token }, 'me');
    assert.equal(m.status, 200, m.text);

    const garbageBearer = `garbage-bearer-${rand(16)}`;
    secrets.push(['garbage bearer', garbageBearer]);
    assert.equal((await call('GET', '/v1/me', { token: garbageBearer }, 'me bad')).status, 401);

    const pw = await call('POST', '/v1/password', { token: tk.json.access_token, json: { current_password: password, new_password: newPassword } }, 'password');
    assert.equal(pw.status, 204, pw.text);
    const wrongPw = await call('POST', '/v1/password', { token: si.json.access_token, json: { current_password: wrongPassword, new_password: newPassword } }, 'password revoked');
    assert.equal(wrongPw.status, 401);

    const si2 = await call('POST', '/v1/signin', { json: { email, password: newPassword } }, 'signin new');
    assert.equal(si2.status, 200, si2.text);
    secrets.push(['signin2 access', si2.json.access_token], ['signin2 refresh', si2.json.refresh_token]);

    const so = await call('POST', '/v1/signout', { token: si2.json.access_token }, 'signout');
    assert.equal(so.status, 204, so.text);

    // DELETE /v1/sessions/{id}: a second session of another account, revoked from the first
    const e3 = uniqueEmail();
    const p3 = strongPassword();
    secrets.push(['third password', p3]);
    const s3a = await call('POST', '/v1/signup', { json: { email: e3, password: p3 } }, 'signup 3');
    const s3b = await call('POST', '/v1/signin', { json: { email: e3, password: p3 } }, 'signin 3');
    secrets.push(['3a access', s3a.json.access_token], ['3a refresh', s3a.json.refresh_token],
      ['3b access', s3b.json.access_token], ['3b refresh', s3b.json.refresh_token]);
    const ls = await call('GET', '/v1/sessions', { token: s3a.json.access_token }, 'sessions');
    const victim = ls.json.sessions.find((x) => !x.current);
    const del = await call('DELETE', `/v1/sessions/${victim.id}`, { token: s3a.json.access_token }, 'delete session');
    assert.equal(del.status, 204, del.text);

    // the grace-window replay gets the same pair again; after the grace, token_reused
    const r1 = await call('POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: s3a.json.refresh_token } }, 'token 3');
    assert.equal(r1.status, 200, r1.text);
    secrets.push(['3 rotated access', r1.json.access_token], ['3 rotated refresh', r1.json.refresh_token]);
    const replay = await call('POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: s3a.json.refresh_token } }, 'token replay');
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.json.refresh_token, r1.json.refresh_token, 'the replay got the same successor');
    await sleep(2100);
    const reused = await call('POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: s3a.json.refresh_token } }, 'token reused');
    assertError(reused, 401, 'token_reused');

    await call('GET', '/nope', {}, '404');
    await sleep(200); // let the log lines flush
  });
  after(async () => { await srv?.stop(); });

  test('one JSON line per request with request_id, method, route, status, duration_ms', () => {
    const lines = jsonLines(srv.stderr()).filter((l) => typeof l.request_id === 'string');
    for (const req of requests) {
      const mine = lines.filter((l) => l.request_id === req.rid);
      assert.equal(mine.length, 1, `${req.label}: expected exactly one log line for ${req.rid}, got ${mine.length}`);
      const l = mine[0];
      assert.equal(l.method, req.method, `${req.label}: method`);
      assert.equal(Number(l.status), req.status, `${req.label}: status`);
      assert.equal(typeof l.route, 'string', `${req.label}: route`);
      assert.ok(l.route.length > 0);
      assert.equal(typeof l.duration_ms, 'number', `${req.label}: duration_ms is a number`);
      assert.ok(l.duration_ms >= 0);
    }
  });

  test('route is the endpoint, and user_id is logged when known', () => {
    const lines = jsonLines(srv.stderr());
    const by = (label) => lines.find((l) => l.request_id === requests.find((r) => r.label === label).rid);
    assert.ok(by('me').route.includes('/v1/me'), `route for /v1/me: ${by('me').route}`);
    assert.ok(by('signup').route.includes('/v1/signup'));
    assert.equal(by('me').user_id, userId, 'user_id on /v1/me');
    assert.equal(by('password').user_id, userId, 'user_id on /v1/password');
  });

  test('an error reply logs its error code as the last field; a success none', () => {
    const lines = jsonLines(srv.stderr());
    const by = (label) => lines.find((l) => l.request_id === requests.find((r) => r.label === label).rid);
    assert.equal(by('404').error, 'not_found');
    assert.equal(by('me bad').error, 'invalid_token');
    assert.equal(by('token reused').error, 'token_reused');
    assert.equal(by('me').error, undefined);
    const keys = Object.keys(by('404'));
    assert.equal(keys[keys.length - 1], 'error', `error is appended: ${keys}`);
  });

  test('no password and no token (nor its first 20 characters) appears in stderr', () => {
    const err = srv.stderr();
    assert.ok(err.length > 0, 'there is log output at all');
    for (const [label, value] of secrets) {
      assert.ok(!err.includes(value), `${label} appears in stderr`);
      // JWTs share a header prefix; check the first 20 chars of the part after it too
      assert.ok(!err.includes(value.slice(0, 20)), `first 20 chars of ${label} appear in stderr`);
      if (value.split('.').length === 3) {
        const [, payload, sig] = value.split('.');
        assert.ok(!err.includes(payload.slice(0, 20)), `${label} payload appears in stderr`);
        assert.ok(!err.includes(sig.slice(0, 20)), `${label} signature appears in stderr`);
      }
    }
  });

  test('failed requests are logged too (401 and 404)', () => {
    const lines = jsonLines(srv.stderr());
    for (const label of ['signin wrong', 'me bad', '404']) {
      const rid = requests.find((r) => r.label === label).rid;
      assert.ok(lines.some((l) => l.request_id === rid), `${label} logged`);
    }
  });
});

describe('log line robustness', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('every stderr line emitted for requests is valid JSON even for hostile paths and headers', async () => {
    const before = srv.stderrLines().length;
    await api(srv.url, 'GET', '/a%22b%5C%0Ac', { headers: { 'User-Agent': 'evil"\\agent' } });
    await api(srv.url, 'GET', '/"},{"x":1', {});
    await assertError(await api(srv.url, 'GET', '/%E9%FF'), 404, 'not_found');
    await sleep(200);
    const newLines = srv.stderrLines().slice(before);
    assert.ok(newLines.length >= 3, 'three requests logged');
    for (const l of newLines) {
      assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
    }
  });
});

describe('emailed links in the log', () => {
  // Links are 43-character base64url tokens; nothing else in the log is that long in that alphabet.
  const LINK_TOKEN = /token=|[A-Za-z0-9_-]{43}/;
  const askForLinks = async (srv) => {
    const a = await signup(srv);
    assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
    assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } })).status, 202);
    // both messages are queued (the link job runs on a worker)
    for (let i = 0; i < 100 && Number(sql(srv.dbPath, 'SELECT count(*) FROM mail_queue;')) < 2; i++) await sleep(50);
    assert.equal(Number(sql(srv.dbPath, 'SELECT count(*) FROM mail_queue;')), 2, 'two link emails queued');
    await sleep(1500); // a delivery attempt, and its log line, may follow
  };

  test('development logs the link (so the check below can fail)', async () => {
    const srv = await startServer();
    try {
      await askForLinks(srv);
      assert.match(srv.stderr(), LINK_TOKEN);
    } finally { await srv.stop(); }
  });

  test('production never logs a magic-link or reset token, even when delivery fails', async () => {
    const closed = await freePort(); // nothing listens: delivery fails, the mail stays queued
    const env = {
      GATEHOUSE_ENV: 'production', GATEHOUSE_ARGON2_MEMORY_KIB: null, GATEHOUSE_ARGON2_ITERATIONS: null,
      GATEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      GATEHOUSE_ISSUER: 'https://auth.example.test',
      GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${closed}`,
    };
    const dataDir = mkTempDir();
    const mig = runCli(['migrate'], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir } }); // production does not migrate on start
    assert.equal(mig.code, 0, mig.stderr);
    const srv = await startServer({ env, dataDir });
    try {
      await askForLinks(srv);
      for (let i = 0; i < 100 && !/delivery attempt \d+ failed/.test(srv.stderr()); i++) await sleep(100);
      const err = srv.stderr();
      assert.match(err, /delivery attempt \d+ failed/, 'a failed delivery was logged');
      assert.ok(err.includes('/v1/password/forgot'), 'the requests were logged');
      const m = LINK_TOKEN.exec(err);
      assert.equal(m, null, `link token material in the production log: ${m && err.slice(Math.max(0, m.index - 100), m.index + 60)}`);
      assert.equal(Number(sql(srv.dbPath, 'SELECT count(*) FROM mail_queue WHERE sent_at IS NULL;')), 2, 'mail stays queued');
    } finally { await srv.stop(); }
  });
});
