import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, me, refresh, assertError, sleep, decodePart, countRows, sql,
  sha256Hex, assertNotInDb, hexOf,
} from './lib/harness.mjs';

function assertPair(r) {
  assert.equal(r.status, 200, r.text);
  assert.equal(typeof r.json.access_token, 'string');
  assert.equal(typeof r.json.refresh_token, 'string');
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(typeof r.json.expires_in, 'number');
  assert.equal(r.json.user, undefined, '/v1/token responses carry no user object');
}

async function assertDead(srv, { access = [], refreshTokens = [] }, what) {
  for (const a of access) {
    assertError(await me(srv, a), 401, 'invalid_token', `${what}: access token`);
  }
  for (const t of refreshTokens) {
    const r = await refresh(srv, t);
    assert.equal(r.status, 401, `${what}: refresh token should be rejected: ${r.status} ${r.text}`);
  }
}

describe('refresh tokens (default config, 10 s reuse grace)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('ASVS 11.5.1: refresh tokens and jti are CSPRNG values of >= 128 bits, never UUIDs, never repeated', async () => {
    const a = await signup(srv);
    const seen = new Set();
    let tok = a.refresh;
    for (let i = 0; i < 20; i++) {
      const r = await refresh(srv, tok);
      assertPair(r);
      tok = r.json.refresh_token;
      assert.match(tok, /^[A-Za-z0-9_-]{43}$/, 'base64url of 32 bytes, unpadded');
      assert.equal(Buffer.from(tok, 'base64url').length, 32);
      assert.doesNotMatch(tok, /^[0-9a-f]{8}-[0-9a-f]{4}-/i, 'not a UUID');
      const jti = decodePart(r.json.access_token, 1).jti;
      assert.ok(Buffer.from(jti, 'base64url').length >= 16, `jti ${jti} carries >= 128 bits`);
      assert.ok(!seen.has(tok) && !seen.has(jti), 'values never repeat');
      seen.add(tok);
      seen.add(jti);
    }
  });

  test('refresh returns a new working pair; the access token lifetime defaults to 3600 s', async () => {
    const a = await signup(srv);
    const r = await refresh(srv, a.refresh);
    assertPair(r);
    assert.equal(r.json.expires_in, 3600);
    assert.notEqual(r.json.refresh_token, a.refresh);
    assert.notEqual(r.json.access_token, a.access);
    const claims = decodePart(r.json.access_token, 1);
    assert.equal(claims.exp - claims.iat, 3600);
    const m = await me(srv, r.json.access_token);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.id, a.user.id);
    // rotation keeps the session: same sid
    assert.equal(claims.sid, decodePart(a.access, 1).sid);
    // and the successor can itself be rotated
    assertPair(await refresh(srv, r.json.refresh_token));
  });

  test('a new refresh token lives 7 days (604800 s) by default, is stored only as its SHA-256, and is nowhere in clear', async () => {
    const a = await signup(srv);
    const t0 = Math.floor(Date.now() / 1000);
    const r = await refresh(srv, a.refresh);
    assertPair(r);
    const t1 = Math.floor(Date.now() / 1000);
    for (const [what, tok] of [['from sign-up', a.refresh], ['from a rotation', r.json.refresh_token]]) {
      const row = sql(srv.dbPath, `SELECT created_at, expires_at FROM refresh_tokens WHERE ${hexOf('token_hash')} = '${sha256Hex(tok)}';`);
      assert.match(row, /^\d+\|\d+$/, `${what}: one row, found by the SHA-256 of the token`);
      const [created, expires] = row.split('|').map(Number);
      assert.equal(expires - created, 604800, `${what}: expires_at - created_at`);
      if (tok === r.json.refresh_token) assert.ok(created >= t0 && created <= t1, `${what}: created at the rotation (${created} in ${t0}..${t1})`);
    }
    assertNotInDb(srv.dbPath, { 'sign-up refresh token': a.refresh, 'rotated refresh token': r.json.refresh_token });
  });

  test('rotation does not create a new session', async () => {
    const a = await signup(srv);
    const before = countRows(srv.dbPath, 'sessions');
    assertPair(await refresh(srv, a.refresh));
    assert.equal(countRows(srv.dbPath, 'sessions'), before);
  });

  test('within the grace window a spent token yields the SAME successor pair and nothing is revoked', async () => {
    const a = await signup(srv);
    const other = await signin(srv, a.email, a.password);
    const first = await refresh(srv, a.refresh);
    assertPair(first);
    const again = await refresh(srv, a.refresh);
    assertPair(again);
    assert.equal(again.json.refresh_token, first.json.refresh_token, 'same successor refresh token');
    assert.equal(again.json.access_token, first.json.access_token, 'same successor access token');
    // nothing revoked
    assert.equal((await me(srv, first.json.access_token)).status, 200);
    assert.equal((await me(srv, other.access)).status, 200);
    assertPair(await refresh(srv, other.refresh));
    assertPair(await refresh(srv, first.json.refresh_token));
  });

  test('within the grace window, a spent token of a signed-out session -> 401 but the user\'s other sessions are NOT revoked', async () => {
    // benign case: client rotates, signs out, then a retry of the old refresh request arrives
    const a = await signup(srv);
    const other = await signin(srv, a.email, a.password);
    const rot = await refresh(srv, a.refresh);
    assertPair(rot);
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: rot.json.access_token })).status, 204);
    const r = await refresh(srv, a.refresh);
    assert.equal(r.status, 401, `spent token of a signed-out session: ${r.text}`);
    assert.equal((await me(srv, other.access)).status, 200, 'other session must survive (nothing is revoked within the grace window)');
    assertPair(await refresh(srv, other.refresh));
  });

  test('20 concurrent refreshes of one token rotate exactly once', async () => {
    const a = await signup(srv);
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(srv, a.refresh)));
    for (const r of results) {
      assert.ok(r.status === 200 || r.status === 401, `unexpected ${r.status} ${r.text}`);
    }
    const ok = results.filter((r) => r.status === 200);
    assert.ok(ok.length >= 1, 'at least one refresh succeeds');
    const succ = new Set(ok.map((r) => r.json.refresh_token));
    assert.equal(succ.size, 1, `all successes must carry one successor, got ${succ.size}`);
    assert.equal(ok.length, 20, `with a 10 s grace every concurrent request should succeed; statuses: ${results.map((r) => r.status)}`);
    // the single successor is alive and the session was not revoked as "reuse"
    const [next] = succ;
    assertPair(await refresh(srv, next));
    assert.equal((await me(srv, a.access)).status, 200);
  });

  test('garbage / unknown refresh tokens -> 401 invalid_token', async () => {
    const a = await signup(srv);
    const cases = ['garbage', 'x'.repeat(300), a.refresh.slice(0, 5) + (a.refresh[5] === 'A' ? 'B' : 'A') + a.refresh.slice(6),
      a.access /* an access token is not a refresh token */];
    for (const t of cases) {
      assertError(await refresh(srv, t), 401, 'invalid_token', t.slice(0, 20));
    }
    // and the real one was untouched by those
    assertPair(await refresh(srv, a.refresh));
  });

  test('wrong grant_type -> 400 unsupported_grant_type and the token is not spent', async () => {
    const a = await signup(srv);
    for (const gt of ['password', 'authorization_code', 'client_credentials', 'REFRESH_TOKEN']) {
      const r = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: gt, refresh_token: a.refresh } });
      assertError(r, 400, 'unsupported_grant_type', gt);
    }
    const r = await refresh(srv, a.refresh);
    assertPair(r);
  });

  test('signout kills the session refresh token', async () => {
    const a = await signup(srv);
    const r = await api(srv.url, 'POST', '/v1/signout', { token: a.access });
    assert.equal(r.status, 204, r.text);
    await assertDead(srv, { refreshTokens: [a.refresh] }, 'after signout');
  });
});

describe('refresh token reuse detection (grace 1 s)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_REFRESH_REUSE_GRACE: '1' } }); });
  after(async () => { await srv?.stop(); });

  test('a spent token presented after the grace window -> 401 token_reused and every session of the user is revoked', async () => {
    const a = await signup(srv);
    const s2 = await signin(srv, a.email, a.password);
    const s3 = await signin(srv, a.email, a.password);
    const bystander = await signup(srv);
    const rot = await refresh(srv, a.refresh);
    assertPair(rot);
    for (const t of [a.access, rot.json.access_token, s2.access, s3.access]) {
      assert.equal((await me(srv, t)).status, 200); // warm any auth cache
    }
    await sleep(2500);
    assertError(await refresh(srv, a.refresh), 401, 'token_reused');
    await assertDead(srv, {
      access: [a.access, rot.json.access_token, s2.access, s3.access],
      refreshTokens: [rot.json.refresh_token, s2.refresh, s3.refresh],
    }, 'after reuse');
    // other users are not affected
    assert.equal((await me(srv, bystander.access)).status, 200);
    assertPair(await refresh(srv, bystander.refresh));
    // the user can sign in again afterwards
    const fresh = await signin(srv, a.email, a.password);
    assert.equal((await me(srv, fresh.access)).status, 200);
  });

  test('a spent token keeps its sealed successor pair only for the grace: presented after it, the pair is dropped', async () => {
    const a = await signup(srv);
    const sid = decodePart(a.access, 1).sid;
    const boxes = () => Number(sql(srv.dbPath,
      `SELECT count(*) FROM refresh_tokens WHERE session_id = '${sid}' AND successor_box IS NOT NULL;`));
    assertPair(await refresh(srv, a.refresh));
    assert.equal(boxes(), 1, 'inside the grace the spent token holds the pair');
    await sleep(2500);
    assertError(await refresh(srv, a.refresh), 401, 'token_reused');
    assert.equal(boxes(), 0, 'after the grace the pair is gone');
    assert.equal(Number(sql(srv.dbPath, `SELECT count(*) FROM refresh_tokens WHERE session_id = '${sid}' AND rotated_at_us IS NOT NULL;`)), 1,
      'the spent row itself stays, so reuse is still detected');
  });

  test('within the 1 s grace the same successor is returned', async () => {
    const a = await signup(srv);
    const first = await refresh(srv, a.refresh);
    assertPair(first);
    const again = await refresh(srv, a.refresh);
    assertPair(again);
    assert.equal(again.json.refresh_token, first.json.refresh_token);
    assert.equal(again.json.access_token, first.json.access_token);
  });
});

describe('refresh token reuse with grace disabled (0)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_REFRESH_REUSE_GRACE: '0' } }); });
  after(async () => { await srv?.stop(); });

  test('immediate reuse -> 401 token_reused and all sessions revoked', async () => {
    const a = await signup(srv);
    const s2 = await signin(srv, a.email, a.password);
    const rot = await refresh(srv, a.refresh);
    assertPair(rot);
    for (const t of [a.access, rot.json.access_token, s2.access]) assert.equal((await me(srv, t)).status, 200);
    assertError(await refresh(srv, a.refresh), 401, 'token_reused');
    await assertDead(srv, {
      access: [a.access, rot.json.access_token, s2.access],
      refreshTokens: [rot.json.refresh_token, s2.refresh],
    }, 'after reuse (grace 0)');
  });

  test('without a grace window no successor pair is stored at all', async () => {
    const a = await signup(srv);
    const sid = decodePart(a.access, 1).sid;
    assertPair(await refresh(srv, a.refresh));
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM refresh_tokens WHERE session_id = '${sid}' AND rotated_at_us IS NOT NULL AND successor_box IS NULL;`), '1');
  });

  test('20 concurrent refreshes of one token: exactly one 200, the rest 401', async () => {
    const a = await signup(srv);
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(srv, a.refresh)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 401).length, 19, `statuses: ${statuses}`);
  });
});

describe('token lifetimes (GATEHOUSE_ACCESS_TTL=2, GATEHOUSE_REFRESH_TTL=5)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { GATEHOUSE_ACCESS_TTL: '2', GATEHOUSE_REFRESH_TTL: '5' } });
  });
  after(async () => { await srv?.stop(); });

  test('access token expires after its TTL; refresh still works; refresh token expires after its TTL', async () => {
    const a = await signup(srv);
    assert.equal(a.body.expires_in, 2);
    const claims = decodePart(a.access, 1);
    assert.equal(claims.exp - claims.iat, 2);
    const s2 = await signin(srv, a.email, a.password); // refresh token left unused until it expires
    assert.equal((await me(srv, a.access)).status, 200);
    await sleep(3200);
    assertError(await me(srv, a.access), 401, 'invalid_token', 'expired access token');
    const r = await refresh(srv, a.refresh);
    assertPair(r);
    assert.equal(r.json.expires_in, 2);
    assert.equal((await me(srv, r.json.access_token)).status, 200);
    await sleep(2800); // now > 6 s since s2 was issued
    const dead = await refresh(srv, s2.refresh);
    assert.equal(dead.status, 401, `expired refresh token accepted: ${dead.status} ${dead.text}`);
  });
});
