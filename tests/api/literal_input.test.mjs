// Issue 9, item 14: text that looks like SQL or quoting comes back literally.
// An address with an apostrophe and a plus tag, signed up with a User-Agent
// holding SQL, is stored and shown exactly as sent: in /v1/me, /v1/sessions,
// the audit log and the database, and every table is still there.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, strongPassword, sql, countRows,
} from './lib/harness.mjs';

const EMAIL = "o'brien+x@example.com";
// printable ASCII only: a User-Agent is a header value
const UA = `sqlmap'); DROP TABLE users; -- " OR 1=1; SELECT * FROM sessions WHERE '1'='1 \\ %00 ${'`'}x${'`'}`;

describe("o'brien+x@example.com with a User-Agent holding SQL (item 14)", () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv.stop(); });

  test('both come back literally everywhere, and nothing else happened', async () => {
    const password = strongPassword();
    const a = await signup(srv, EMAIL, password, { 'User-Agent': UA });
    assert.equal(a.user.email, EMAIL);
    const s = await signin(srv, EMAIL, password, { 'User-Agent': UA });

    const me = await api(srv.url, 'GET', '/v1/me', { token: s.access, headers: { 'User-Agent': UA } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.email, EMAIL);

    const list = await api(srv.url, 'GET', '/v1/sessions', { token: s.access });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.sessions.length, 2);
    for (const x of list.json.sessions) assert.equal(x.user_agent, UA);

    const audit = await api(srv.url, 'GET', '/v1/audit', { token: s.access });
    assert.equal(audit.status, 200, audit.text);
    const mine = audit.json.events.filter((e) => ['signup', 'signin.success'].includes(e.action));
    assert.ok(mine.length >= 2, audit.text);
    for (const e of mine) assert.equal(e.user_agent, UA, e.action);

    // the database holds them as plain values; the tables are all there
    assert.equal(sql(srv.dbPath, "SELECT email FROM users WHERE email = 'o''brien+x@example.com';"), EMAIL);
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM sessions WHERE user_agent = '${UA.replace(/'/g, "''")}';`), '2');
    assert.equal(countRows(srv.dbPath, 'users'), 1);
    assert.ok(countRows(srv.dbPath, 'sessions') === 2 && countRows(srv.dbPath, 'audit_log') >= 2);

    // and the address signs in with other casings of its domain only, not a lookalike
    const other = await api(srv.url, 'POST', '/v1/signin', { json: { email: "o'brien@example.com", password } });
    assert.equal(other.status, 401, 'the plus tag is part of the address');
  });
});
