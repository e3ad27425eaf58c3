import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, me, refresh, assertError, decodePart, rand,
} from './lib/harness.mjs';

const listSessions = (srv, token, headers) => api(srv.url, 'GET', '/v1/sessions', { token, headers });
const deleteSession = (srv, token, id) => api(srv.url, 'DELETE', `/v1/sessions/${encodeURIComponent(id)}`, { token });

describe('sessions', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('signout -> 204 with empty body; that access token and refresh token stop working; other sessions live on', async () => {
    const a = await signup(srv);
    const b = await signin(srv, a.email, a.password);
    assert.equal((await me(srv, a.access)).status, 200); // warm any auth cache first
    const r = await api(srv.url, 'POST', '/v1/signout', { token: a.access });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assertError(await me(srv, a.access), 401, 'invalid_token', 'access after signout');
    assert.equal((await refresh(srv, a.refresh)).status, 401, 'refresh after signout');
    assert.equal((await me(srv, b.access)).status, 200, 'other session unaffected');
    assert.equal((await refresh(srv, b.refresh)).status, 200, 'other session refresh unaffected');
    // signing out twice with the same token is refused
    assertError(await api(srv.url, 'POST', '/v1/signout', { token: a.access }), 401, 'invalid_token');
  });

  test('signout without a token -> 401', async () => {
    assertError(await api(srv.url, 'POST', '/v1/signout'), 401, 'invalid_token');
  });

  test('list shows live sessions only, with ip, user agent and the current flag', async () => {
    const uaA = `gh-test-agent-A/${rand(3)}`;
    const uaB = `gh-test-agent-B/${rand(3)}`;
    const a = await signup(srv, undefined, undefined, { 'User-Agent': uaA });
    const b = await signin(srv, a.email, a.password, { 'User-Agent': uaB });
    const c = await signin(srv, a.email, a.password, { 'User-Agent': 'gh-test-agent-C' });
    const other = await signup(srv); // another user's session must not show up

    let r = await listSessions(srv, a.access);
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.sessions));
    assert.equal(r.json.sessions.length, 3, JSON.stringify(r.json));
    const ids = new Set(r.json.sessions.map((s) => s.id));
    assert.equal(ids.size, 3, 'distinct session ids');
    const cur = r.json.sessions.filter((s) => s.current === true);
    assert.equal(cur.length, 1, 'exactly one current session');
    assert.equal(cur[0].id, decodePart(a.access, 1).sid, 'current session is the caller\'s (sid claim)');
    assert.equal(cur[0].user_agent, uaA);
    for (const s of r.json.sessions) {
      assert.equal(typeof s.id, 'string');
      assert.equal(typeof s.current, 'boolean');
      assert.equal(s.ip, '127.0.0.1');
      assert.ok(s.created_at !== undefined && s.created_at !== null);
      assert.ok(s.last_used_at !== undefined && s.last_used_at !== null);
      assert.equal(s.refresh_token, undefined, 'no secrets in session listing');
      assert.equal(s.token_hash, undefined, 'no secrets in session listing');
    }
    const bRow = r.json.sessions.find((s) => s.id === decodePart(b.access, 1).sid);
    assert.ok(bRow, 'session B listed');
    assert.equal(bRow.user_agent, uaB);
    assert.equal(bRow.current, false);
    assert.ok(!ids.has(decodePart(other.access, 1).sid), 'another user\'s session is not listed');

    // signed-out session disappears from the list
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: c.access })).status, 204);
    r = await listSessions(srv, a.access);
    assert.equal(r.json.sessions.length, 2);
    assert.ok(!r.json.sessions.some((s) => s.id === decodePart(c.access, 1).sid));

    // the other user sees only their own session
    r = await listSessions(srv, other.access);
    assert.equal(r.status, 200);
    assert.equal(r.json.sessions.length, 1);
    assert.equal(r.json.sessions[0].current, true);
  });

  test('list requires authentication', async () => {
    assertError(await listSessions(srv), 401, 'invalid_token');
    assertError(await listSessions(srv, 'garbage'), 401, 'invalid_token');
  });

  test('DELETE /v1/sessions/{id} -> 204 and that session\'s tokens stop working immediately', async () => {
    const a = await signup(srv);
    const b = await signin(srv, a.email, a.password);
    const bSid = decodePart(b.access, 1).sid;
    assert.equal((await me(srv, b.access)).status, 200); // warm any auth cache first
    assert.equal((await listSessions(srv, b.access)).status, 200);
    const r = await deleteSession(srv, a.access, bSid);
    assert.equal(r.status, 204, r.text);
    assertError(await me(srv, b.access), 401, 'invalid_token', 'deleted session access');
    assertError(await listSessions(srv, b.access), 401, 'invalid_token', 'deleted session access on /v1/sessions');
    assert.equal((await refresh(srv, b.refresh)).status, 401, 'deleted session refresh');
    assert.equal((await me(srv, a.access)).status, 200, 'caller unaffected');
    const list = await listSessions(srv, a.access);
    assert.equal(list.json.sessions.length, 1);
    // deleting it again -> 404
    assertError(await deleteSession(srv, a.access, bSid), 404, 'not_found');
  });

  test('deleting the current session revokes the caller\'s own tokens', async () => {
    const a = await signup(srv);
    const r = await deleteSession(srv, a.access, decodePart(a.access, 1).sid);
    assert.equal(r.status, 204, r.text);
    assertError(await me(srv, a.access), 401, 'invalid_token');
    assert.equal((await refresh(srv, a.refresh)).status, 401);
  });

  test('another user\'s session id -> 404 not_found and that session keeps working', async () => {
    const a = await signup(srv);
    const victim = await signup(srv);
    const vSid = decodePart(victim.access, 1).sid;
    assertError(await deleteSession(srv, a.access, vSid), 404, 'not_found');
    assert.equal((await me(srv, victim.access)).status, 200);
    assert.equal((await refresh(srv, victim.refresh)).status, 200);
  });

  test('unknown or malformed session ids -> 404 not_found', async () => {
    const a = await signup(srv);
    for (const id of ['00000000-0000-0000-0000-000000000000', 'nope', '1', "1' OR '1'='1", 'x'.repeat(500)]) {
      assertError(await deleteSession(srv, a.access, id), 404, 'not_found', id.slice(0, 30));
    }
    assert.equal((await listSessions(srv, a.access)).json.sessions.length, 1);
  });

  test('DELETE requires authentication', async () => {
    const a = await signup(srv);
    const sid = decodePart(a.access, 1).sid;
    assertError(await api(srv.url, 'DELETE', `/v1/sessions/${sid}`), 401, 'invalid_token');
    assert.equal((await me(srv, a.access)).status, 200);
  });
});
