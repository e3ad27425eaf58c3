// Idempotency keys (issue 5) on bearer-authenticated mutating routes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, api, signup, signin, me, sql, assertError, decodePart, markVerified, dbOf, hexOf } from './lib/harness.mjs';

describe('Idempotency-Key', () => {
  let srv; let db;
  before(async () => {
    srv = await startServer();
    db = dbOf(srv.dataDir);
  });
  after(async () => { await srv?.stop(); });

  const changePw = (a, key, next) => api(srv.url, 'POST', '/v1/password', {
    token: a.access, headers: key ? { 'Idempotency-Key': key } : {},
    json: { current_password: a.password, new_password: next },
  });
  const revoke = (a, sid, key) => api(srv.url, 'DELETE', `/v1/sessions/${sid}`, {
    token: a.access, headers: key ? { 'Idempotency-Key': key } : {},
  });
  const sidOf = (token) => decodePart(token, 1).sid;

  test('a repeat with the same request gets the first response again and runs nothing twice', async () => {
    const a = await signup(srv);
    const other = await signin(srv, a.email, a.password);
    const first = await revoke(a, sidOf(other.access), 'k-1');
    assert.equal(first.status, 204, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await revoke(a, sidOf(other.access), 'k-1');
    assert.equal(again.status, 204, 'replayed: the session is already gone');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.headers.get('x-content-type-options'), 'nosniff', 'a replay carries the usual headers');
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE actor = '${a.user.id}' AND action = 'session.revoked';`).trim(), '1');
    // without the key it runs again, and finds nothing
    assertError(await revoke(a, sidOf(other.access)), 404, 'not_found');
  });

  test('a password change is recorded once, and its bodies and responses are never stored in clear', async () => {
    const a = await signup(srv);
    const next = 'the next passphrase for this account 1';
    assert.equal((await changePw(a, 'pw-1', next)).status, 204);
    // the change ends the token it was sent with: a retry must refresh first
    assertError(await changePw(a, 'pw-1', next), 401, 'invalid_token');
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'password.changed';`).trim(), '1');
    const rows = sql(db, `SELECT ${hexOf('body_mac')}, response_sealed FROM idempotency;`);
    assert.ok(!rows.includes(next) && !rows.includes(a.password));
  });

  test('the same key with another request is 422 idempotency_mismatch; keys are per user and per route', async () => {
    const a = await signup(srv);
    const s1 = await signin(srv, a.email, a.password);
    const s2 = await signin(srv, a.email, a.password);
    assert.equal((await revoke(a, sidOf(s1.access), 'k-2')).status, 204);
    assertError(await revoke(a, sidOf(s2.access), 'k-2'), 422, 'idempotency_mismatch', 'another session id in the path');
    assert.equal((await me(srv, s2.access)).status, 200, 'the mismatch ran nothing');
    const b = await signup(srv);
    const bs = await signin(srv, b.email, b.password);
    markVerified(srv, a.user.id);
    assert.equal((await revoke(b, sidOf(bs.access), 'k-2')).status, 204, 'another user, same key: its own request');
    const r = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access, headers: { 'Idempotency-Key': 'k-2' } });
    assert.equal(r.status, 200, 'another route, same key');
    const m = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, headers: { 'Idempotency-Key': 'c-1' }, json: { code: '000000' } });
    assertError(m, 422, 'code_mismatch');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, headers: { 'Idempotency-Key': 'c-1' }, json: { code: '111111' } }), 422, 'idempotency_mismatch', 'another body');
  });

  test('concurrent duplicates: one runs, the others get 409 or its replay; a sealed response holds the secret', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const res = await Promise.all(Array.from({ length: 12 }, () => api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access, headers: { 'Idempotency-Key': 'enrol-1' } })));
    const ok = res.filter((r) => r.status === 200);
    assert.ok(ok.length >= 1);
    assert.ok(res.every((r) => r.status === 200 || r.status === 409), res.map((r) => r.status).join(','));
    for (const r of res.filter((x) => x.status === 409)) assertError(r, 409, 'idempotency_in_progress');
    assert.equal(new Set(ok.map((r) => r.json.secret)).size, 1, 'one enrolment, one secret');
    assert.equal(ok.filter((r) => r.headers.get('idempotent-replayed') === null).length, 1, 'exactly one ran');
    const sealed = sql(db, 'SELECT response_sealed FROM idempotency WHERE response_sealed IS NOT NULL;');
    assert.ok(!sealed.includes(ok[0].json.secret), 'the stored response is sealed');
    assert.match(sealed, /^v1\./m);
  });

  test('a claim left running by a crash holds its key for 5 minutes, then a retry runs', async () => {
    const a = await signup(srv);
    const other = await signin(srv, a.email, a.password);
    const ids = () => sql(db, 'SELECT id FROM idempotency;').split('\n').filter(Boolean);
    const before0 = new Set(ids());
    assert.equal((await revoke(a, sidOf(other.access), 'crash-1')).status, 204);
    const made = ids().filter((x) => !before0.has(x));
    assert.equal(made.length, 1, 'the request claimed one key');
    const [id] = made;
    // what a crash between the claim and the stored reply leaves behind
    sql(db, `UPDATE idempotency SET status = 0, response_sealed = NULL, created_at = created_at - 200 WHERE id = '${id}';`);
    assertError(await revoke(a, sidOf(other.access), 'crash-1'), 409, 'idempotency_in_progress');
    sql(db, `UPDATE idempotency SET created_at = created_at - 101 WHERE id = '${id}';`);
    assertError(await revoke(a, sidOf(other.access), 'crash-1'), 404, 'not_found', 'ran again: the session was gone');
    const again = await revoke(a, sidOf(other.access), 'crash-1');
    assertError(again, 404, 'not_found');
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'the retry\'s reply is kept');
  });

  test('a malformed key is 400 and nothing runs; GET routes ignore the header', async () => {
    const a = await signup(srv);
    for (const key of ['has space', 'x'.repeat(256), 'tab\there']) {
      assertError(await changePw(a, key, 'the next passphrase for this account 3'), 400, 'invalid_idempotency_key');
    }
    assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } })).status, 200, 'the password did not change');
    assert.equal((await api(srv.url, 'GET', '/v1/me', { token: a.access, headers: { 'Idempotency-Key': 'has space' } })).status, 200);
  });
});
