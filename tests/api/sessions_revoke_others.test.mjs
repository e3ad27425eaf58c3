// POST /v1/sessions/revoke-others ("sign out everywhere else"): every other
// session of the account ends in one transaction, audited with the count;
// the caller's stays. The sessions page's button calls the same logic
// (account_pages.test.mjs).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, sql, assertError, uniqueEmail, strongPassword } from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

describe('POST /v1/sessions/revoke-others', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on' } }); });
  after(async () => { await srv?.stop(); });

  test('bearer: every other session ends in one go (their tokens refused), this one stays; 204; audited with the count', async () => {
    const email = uniqueEmail(), password = strongPassword();
    const a = await api(srv.url, 'POST', '/v1/signup', { json: { email, password } });
    assert.equal(a.status, 201, a.text);
    const others = [];
    for (let i = 0; i < 3; i++) others.push((await api(srv.url, 'POST', '/v1/signin', { json: { email, password } })).json);
    // another account is untouched
    const b = await api(srv.url, 'POST', '/v1/signup', { json: { email: uniqueEmail(), password } });
    const r = await api(srv.url, 'POST', '/v1/sessions/revoke-others', { token: a.json.access_token });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    for (const o of others) {
      assertError(await api(srv.url, 'GET', '/v1/me', { token: o.access_token }), 401, 'invalid_token', 'another session\'s access token');
      assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: o.refresh_token } }), 401, 'invalid_token', 'its refresh token');
    }
    assert.equal((await api(srv.url, 'GET', '/v1/me', { token: a.json.access_token })).status, 200);
    assert.equal((await api(srv.url, 'GET', '/v1/me', { token: b.json.access_token })).status, 200);
    const uid = a.json.user.id;
    assert.equal(sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'session.revoke_others' AND target = '${uid}';`), '{"count":3}');
    const again = await api(srv.url, 'POST', '/v1/sessions/revoke-others', { token: a.json.access_token });
    assert.equal(again.status, 204, 'nothing left to end is fine');
    assert.equal(sql(srv.dbPath, `SELECT details FROM audit_log WHERE action = 'session.revoke_others' AND target = '${uid}' ORDER BY id DESC LIMIT 1;`), '{"count":0}');
  });

  test('no credential: 401; a cookie needs X-CSRF-Token and our Origin', async () => {
    assertError(await api(srv.url, 'POST', '/v1/sessions/revoke-others'), 401, 'invalid_token');
    const email = uniqueEmail(), password = strongPassword();
    const s = await req(srv, 'POST', '/v1/signup', { json: { email, password, mode: 'cookie' }, headers: { Origin: srv.url } });
    const c = cookiesOf(s);
    const cookie = `gh_session=${c.gh_session.value}; gh_csrf=${c.gh_csrf.value}`;
    const other = (await api(srv.url, 'POST', '/v1/signin', { json: { email, password } })).json;
    assertError(await req(srv, 'POST', '/v1/sessions/revoke-others', { cookie, headers: { Origin: srv.url } }), 403, 'csrf_failed', 'no token');
    assertError(await req(srv, 'POST', '/v1/sessions/revoke-others', { cookie, headers: { Origin: 'https://evil.example', 'X-CSRF-Token': c.gh_csrf.value } }), 403, 'csrf_failed', 'foreign origin');
    assert.equal((await api(srv.url, 'GET', '/v1/me', { token: other.access_token })).status, 200, 'nothing changed');
    const ok = await req(srv, 'POST', '/v1/sessions/revoke-others', { cookie, headers: { Origin: srv.url, 'X-CSRF-Token': c.gh_csrf.value } });
    assert.equal(ok.status, 204, ok.text);
    assertError(await api(srv.url, 'GET', '/v1/me', { token: other.access_token }), 401, 'invalid_token');
  });
});
