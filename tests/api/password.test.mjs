import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, me, refresh, assertError, strongPassword, rand, sql, sleep,
} from './lib/harness.mjs';

const changePassword = (srv, token, current_password, new_password) =>
  api(srv.url, 'POST', '/v1/password', { token, json: { current_password, new_password } });

const hashOf = (srv, id) => sql(srv.dbPath, `SELECT password_hash FROM users WHERE id = '${id.replace(/'/g, "''")}';`);

describe('password change', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  // Done right after sign-up (usually within the same second), so a server that
  // compares iat and tokens_invalidated_at at one-second granularity fails one way or the other.
  test('204; other sessions revoked; old access tokens rejected; caller\'s refresh token still works', async () => {
    const a = await signup(srv);
    const b = await signin(srv, a.email, a.password);
    // warm any auth cache with both tokens first
    assert.equal((await me(srv, a.access)).status, 200);
    assert.equal((await me(srv, b.access)).status, 200);
    const newPw = strongPassword();
    const r = await changePassword(srv, a.access, a.password, newPw);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');

    // other session: access and refresh dead
    assertError(await me(srv, b.access), 401, 'invalid_token', 'other session access');
    assert.equal((await refresh(srv, b.refresh)).status, 401, 'other session refresh');
    // caller's own pre-change access token is rejected too
    assertError(await me(srv, a.access), 401, 'invalid_token', 'caller pre-change access token');
    // ...but the caller's session lives: its refresh token yields a working access token
    const rr = await refresh(srv, a.refresh);
    assert.equal(rr.status, 200, `caller refresh after change: ${rr.text}`);
    const m = await me(srv, rr.json.access_token);
    assert.equal(m.status, 200, `new access token after change: ${m.text}`);
    assert.equal(m.json.id, a.user.id);

    // only the new password signs in
    assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } }),
      401, 'invalid_credentials', 'old password');
    const s = await signin(srv, a.email, newPw);
    assert.equal((await me(srv, s.access)).status, 200, 'token from a sign-in right after the change');
  });

  test('the same flow after a pause (tokens issued in an earlier second)', async () => {
    const a = await signup(srv);
    const b = await signin(srv, a.email, a.password);
    await sleep(1100);
    const newPw = strongPassword();
    assert.equal((await changePassword(srv, a.access, a.password, newPw)).status, 204);
    assertError(await me(srv, a.access), 401, 'invalid_token');
    assertError(await me(srv, b.access), 401, 'invalid_token');
    const rr = await refresh(srv, a.refresh);
    assert.equal(rr.status, 200, rr.text);
    assert.equal((await me(srv, rr.json.access_token)).status, 200);
  });

  test('the hash in the DB changes and is argon2id', async () => {
    const a = await signup(srv);
    const before = hashOf(srv, a.user.id);
    assert.match(before, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
    assert.equal((await changePassword(srv, a.access, a.password, strongPassword())).status, 204);
    const afterH = hashOf(srv, a.user.id);
    assert.match(afterH, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
    assert.notEqual(afterH, before);
  });

  test('wrong current password -> 403 proof_failed and nothing changes', async () => {
    const a = await signup(srv);
    const b = await signin(srv, a.email, a.password);
    const before = hashOf(srv, a.user.id);
    const r = await changePassword(srv, a.access, a.password + 'x', strongPassword());
    assertError(r, 403, 'proof_failed');
    assert.equal(hashOf(srv, a.user.id), before);
    assert.equal((await me(srv, a.access)).status, 200);
    assert.equal((await me(srv, b.access)).status, 200);
    await signin(srv, a.email, a.password);
  });

  for (const [name, mk] of [
    ['common password', () => 'password1234'],
    ['too short', () => 'Zq8#vR2!mZ4'],
    ['too long (1025 bytes)', () => rand(600).slice(0, 1025)],
    ['built from the email local part', (a) => { const l = a.email.split('@')[0]; return `${l}${l}12`; }],
    ['built from the brand word', () => 'gatehouse2024!'],
  ]) {
    test(`weak new password (${name}) -> 422 weak_password and nothing changes`, async () => {
      const a = await signup(srv);
      const b = await signin(srv, a.email, a.password);
      const before = hashOf(srv, a.user.id);
      assertError(await changePassword(srv, a.access, a.password, mk(a)), 422, 'weak_password', name);
      assert.equal(hashOf(srv, a.user.id), before);
      assert.equal((await me(srv, a.access)).status, 200);
      assert.equal((await me(srv, b.access)).status, 200);
    });
  }

  test('requires a valid bearer token', async () => {
    const a = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/password', { json: { current_password: a.password, new_password: strongPassword() } }),
      401, 'invalid_token');
    assertError(await changePassword(srv, 'garbage', a.password, strongPassword()), 401, 'invalid_token');
    await signin(srv, a.email, a.password);
  });

  test('a revoked session cannot change the password', async () => {
    const a = await signup(srv);
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: a.access })).status, 204);
    assertError(await changePassword(srv, a.access, a.password, strongPassword()), 401, 'invalid_token');
    await signin(srv, a.email, a.password);
  });
});
