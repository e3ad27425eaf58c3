// The HTTP surface of sign-in with a provider that needs no real provider
// (docs/api.md "Sign-in with a provider"; decision 0036): the
// routes and their budget, the start's redirect and state cookie (a
// loopback discovery document stands in for the provider's), refused
// callbacks (missing, wrong, replayed state; another provider's cookie; a
// provider that cannot be reached) that change nothing, the buttons, and
// the native nonce. The whole flow against a real OpenID provider is in
// oauth_flow.test.mjs and oauth_attacks (the oidc-tests helper).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, sql, signup, freePort, uniqueEmail, strongPassword, sleep, hexOf } from './lib/harness.mjs';
import { req, cookiesOf } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const STATE = '__Host-gh_oauth';
const SESSION = '__Host-gh_session';
const count = (srv, q) => Number(sql(srv.dbPath, q).trim());

/** A loopback "provider" that only serves its discovery document (the
 *  start needs nothing more); every request is recorded. */
async function fakeIssuer() {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const seen = [];
  const server = http.createServer((rq, rs) => {
    seen.push(rq.url);
    if (rq.url === '/.well-known/openid-configuration') {
      rs.writeHead(200, { 'Content-Type': 'application/json' });
      rs.end(JSON.stringify({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        code_challenge_methods_supported: ['S256'],
      }));
    } else {
      rs.writeHead(404);
      rs.end();
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { issuer, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

function providerEnv(name, issuer, extra = {}) {
  const up = name.toUpperCase();
  return {
    [`GATEHOUSE_OIDC_${up}_ISSUER`]: issuer,
    [`GATEHOUSE_OIDC_${up}_CLIENT_ID`]: `${name}-client`,
    [`GATEHOUSE_OIDC_${up}_CLIENT_SECRET`]: 'test-secret-not-real',
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`GATEHOUSE_OIDC_${up}_${k}`, v])),
  };
}

/** s with its last character changed. */
const flip = (s) => s.slice(0, -1) + (s.endsWith('A') ? 'E' : 'A');

/** What a refused callback must leave behind: nothing new. */
function snapshot(srv) {
  return {
    users: count(srv, 'SELECT COUNT(*) FROM users;'),
    sessions: count(srv, 'SELECT COUNT(*) FROM sessions;'),
    identities: count(srv, 'SELECT COUNT(*) FROM identities;'),
    successes: count(srv, "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.success';"),
  };
}

function assertRefusedPage(res, status, display, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers['content-type'], /^text\/html/, what);
  assert.ok(res.text.includes(`<h1>Sign-in with ${display} didn&#39;t work</h1>`) ||
            res.text.includes(`<h1>Sign-in with ${display} didn't work</h1>`), `${what}: the heading`);
  assert.match(res.text, />Back to sign in<\/a>/, what);
  assert.equal(cookiesOf(res)[SESSION], undefined, `${what}: no session cookie`);
}

/** Whether a log line matching f appears within 3 s (lines are batched). */
async function logged(srv, f) {
  for (let i = 0; i < 60; i++) {
    if (srv.stderrLines().some(f)) return true;
    await sleep(50);
  }
  return false;
}

function errorLogged(srv, code) {
  return logged(srv, (l) => l.includes('"route":"/v1/oauth/{provider}/callback"') && l.includes(`"error":"${code}"`));
}

describe('sign-in with a provider: the HTTP surface', () => {
  let srv, op, down;
  before(async () => {
    op = await fakeIssuer();
    const closed = await freePort(); // nothing listens there
    srv = await startServer({
      env: {
        GATEHOUSE_PUBLIC_URL: PUBLIC,
        ...providerEnv('testop', op.issuer, { DISPLAY_NAME: 'Test OP', NATIVE_CLIENT_IDS: 'app.one,app.two' }),
        ...providerEnv('formop', op.issuer, { RESPONSE_MODE: 'form_post' }),
        ...providerEnv('downop', `http://127.0.0.1:${closed}`),
      },
    });
    down = closed;
  });
  after(async () => { await srv?.stop(); await op?.close(); });

  test('an unknown provider is 404 on every route; nothing is fetched', async () => {
    for (const [m, p] of [['GET', '/v1/oauth/nosuch/start'], ['GET', '/v1/oauth/nosuch/callback?code=a&state=b'],
      ['POST', '/v1/oauth/nosuch/nonce'], ['POST', '/v1/oauth/nosuch/token']]) {
      const res = m === 'POST' && p.endsWith('token')
        ? await req(srv, m, p, { json: { id_token: 'x', nonce: 'y' } })
        : await req(srv, m, p);
      assert.equal(res.status, 404, `${m} ${p}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    const res = await req(srv, 'POST', '/v1/oauth/nosuch/callback', { form: { code: 'a', state: 'b' } });
    assert.equal(res.status, 404);
    // a segment that is not a name never reaches a handler
    for (const p of ['/v1/oauth/../start', '/v1/oauth/a.b/start', '/v1/oauth/a/b/start', '/v1/oauth//start']) {
      const r = await req(srv, 'GET', p);
      assert.equal(r.status, 404, p);
    }
  });

  test('start: 303 to the authorization endpoint with code, S256 PKCE, state, nonce and our redirect URI; the sealed state cookie', async () => {
    const res = await req(srv, 'GET', `/v1/oauth/testop/start?rd=${encodeURIComponent(PUBLIC + '/account/sessions')}`);
    assert.equal(res.status, 303, res.text.slice(0, 300));
    const loc = new URL(res.headers.location);
    assert.equal(`${loc.origin}${loc.pathname}`, `${op.issuer}/authorize`);
    const q = loc.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), 'testop-client');
    assert.equal(q.get('redirect_uri'), `${PUBLIC}/v1/oauth/testop/callback`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(q.get('state'), q.get('nonce'));
    assert.ok(q.get('scope').split(' ').includes('openid'));
    assert.equal(q.get('response_mode'), null, 'query mode: no response_mode');
    const c = cookiesOf(res)[STATE];
    assert.ok(c, 'the state cookie is set');
    for (const a of ['Path=/', 'Max-Age=600', 'Secure', 'HttpOnly', 'SameSite=Lax']) assert.ok(c.attrs.includes(a), `${a} in ${c.line}`);
    assert.ok(!c.line.includes('Domain'), 'never a Domain');
    assert.match(c.value, /^[A-Za-z0-9_-]{100,1024}$/);
    for (const secret of [q.get('state'), q.get('nonce'), 'testop', 'account']) assert.ok(!c.value.includes(secret), 'sealed: nothing in the clear');
    // a second start gets fresh values
    const res2 = await req(srv, 'GET', '/v1/oauth/testop/start');
    assert.notEqual(new URL(res2.headers.location).searchParams.get('state'), q.get('state'));
  });

  test('start of a form_post provider: response_mode=form_post and a SameSite=None; Secure cookie', async () => {
    const res = await req(srv, 'GET', '/v1/oauth/formop/start');
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.equal(new URL(res.headers.location).searchParams.get('response_mode'), 'form_post');
    const c = cookiesOf(res)[STATE];
    for (const a of ['Secure', 'HttpOnly', 'SameSite=None', 'Max-Age=600']) assert.ok(c.attrs.includes(a), `${a} in ${c.line}`);
  });

  test('an rd to another host is dropped at the start (never an open redirect); link=1 without a session is refused', async () => {
    const res = await req(srv, 'GET', `/v1/oauth/testop/start?rd=${encodeURIComponent('https://evil.example/steal')}`);
    assert.equal(res.status, 303);
    assert.ok(!res.headers.location.includes('evil'), res.headers.location);
    const link = await req(srv, 'GET', '/v1/oauth/testop/start?link=1');
    assert.equal(link.status, 401, link.text.slice(0, 200));
    assert.equal(cookiesOf(link)[STATE], undefined, 'no state cookie');
  });

  test('a provider that cannot be reached: 502 provider_unavailable page, no cookie', async () => {
    const res = await req(srv, 'GET', '/v1/oauth/downop/start');
    assert.equal(res.status, 502, res.text.slice(0, 300));
    assert.match(res.text, /<h1>Sign-in with Downop didn/);
    assert.equal(cookiesOf(res)[STATE], undefined);
    assert.ok(await logged(srv, (l) => l.includes('"route":"/v1/oauth/{provider}/start"') && l.includes('"status":502') &&
      l.includes('"error":"provider_unavailable"')), 'logged with its code');
    assert.ok(down > 0);
  });

  test('callbacks without the state cookie, with a wrong state, another provider\'s cookie, or replayed: 400 oauth_state_invalid, cookie expired, nothing changes', async () => {
    const start = await req(srv, 'GET', '/v1/oauth/testop/start');
    const state = new URL(start.headers.location).searchParams.get('state');
    const cookie = `${STATE}=${cookiesOf(start)[STATE].value}`;
    const fstart = await req(srv, 'GET', '/v1/oauth/formop/start');
    const fcookie = `${STATE}=${cookiesOf(fstart)[STATE].value}`;
    const fstate = new URL(fstart.headers.location).searchParams.get('state');
    const before = snapshot(srv);
    const failuresBefore = count(srv, "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.failure' AND details LIKE '%state_invalid%';");
    const cases = [
      ['no cookie', `/v1/oauth/testop/callback?code=c&state=${state}`, undefined],
      ['no state', '/v1/oauth/testop/callback?code=c', cookie],
      ['wrong state', `/v1/oauth/testop/callback?code=c&state=${flip(state)}`, cookie],
      ['short state', `/v1/oauth/testop/callback?code=c&state=${state.slice(0, 20)}`, cookie],
      ['another provider\'s cookie', `/v1/oauth/testop/callback?code=c&state=${fstate}`, fcookie],
      ['altered cookie', `/v1/oauth/testop/callback?code=c&state=${state}`, cookie.slice(0, -2) + (cookie.endsWith('A') ? 'BB' : 'AA')],
      ['sent twice', `/v1/oauth/testop/callback?code=c&state=${state}`, `${cookie}; ${cookie}`],
    ];
    for (const [what, p, c] of cases) {
      const res = await req(srv, 'GET', p, { cookie: c });
      assertRefusedPage(res, 400, 'Test OP', what);
      const gone = cookiesOf(res)[STATE];
      assert.ok(gone && gone.value === '' && gone.attrs.includes('Max-Age=0'), `${what}: the state cookie is expired`);
    }
    // form_post: the POST carries no Origin of ours and is not refused for it, only for its state
    const post = await req(srv, 'POST', '/v1/oauth/formop/callback', {
      form: { code: 'c', state: flip(fstate) }, cookie: fcookie,
      headers: { Origin: 'https://appleid.apple.com', 'Sec-Fetch-Site': 'cross-site' },
    });
    assertRefusedPage(post, 400, 'Formop', 'form_post with a wrong state');
    assert.ok(!post.text.includes('Please try again'), 'not the CSRF page');
    assert.deepEqual(snapshot(srv), before, 'nothing changed');
    const failures = count(srv, "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.failure' AND details LIKE '%state_invalid%';");
    assert.equal(failures - failuresBefore, cases.length + 1, 'each refusal audited');
    const row = sql(srv.dbPath, "SELECT details FROM audit_log WHERE action = 'signin.failure' ORDER BY id DESC LIMIT 1;").trim();
    assert.deepEqual(JSON.parse(row), { method: 'oidc', provider: 'formop', reason: 'state_invalid' });
    assert.ok(await errorLogged(srv, 'oauth_state_invalid'));
  });

  test('the right state is spent once: a second callback with the same cookie and state is refused (replayed), and a provider error is a calm page', async () => {
    const start = await req(srv, 'GET', '/v1/oauth/testop/start');
    const state = new URL(start.headers.location).searchParams.get('state');
    const cookie = `${STATE}=${cookiesOf(start)[STATE].value}`;
    const before = snapshot(srv);
    // the person cancels at the provider
    const denied = await req(srv, 'GET', `/v1/oauth/testop/callback?error=access_denied&state=${state}`, { cookie });
    assertRefusedPage(denied, 400, 'Test OP', 'access_denied');
    assert.match(denied.text, /You cancelled/);
    assert.ok(cookiesOf(denied)[STATE].attrs.includes('Max-Age=0'));
    // the same cookie and state again (a copied cookie, a replayed callback)
    const again = await req(srv, 'GET', `/v1/oauth/testop/callback?code=c&state=${state}`, { cookie });
    assertRefusedPage(again, 400, 'Test OP', 'replayed');
    assert.match(again.text, /already used/);
    assert.equal(count(srv, "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.failure' AND details LIKE '%state_replayed%';"), 1);
    assert.deepEqual(snapshot(srv), before, 'nothing changed');
    // the code is never exchanged for a refused state: only discovery was fetched
    assert.ok(op.seen.every((u) => u === '/.well-known/openid-configuration'), op.seen.join(','));
  });

  test('the sign-in and sign-up pages show one button per provider, keeping rd', async () => {
    const rd = `${PUBLIC}/account/sessions`;
    for (const page of ['/signin', '/signup']) {
      const res = await req(srv, 'GET', `${page}?rd=${encodeURIComponent(rd)}`);
      assert.equal(res.status, 200);
      for (const [name, display] of [['testop', 'Test OP'], ['formop', 'Formop'], ['downop', 'Downop']]) {
        const href = `${PUBLIC}/v1/oauth/${name}/start?rd=${encodeURIComponent(rd)}`.replaceAll('&', '&amp;');
        assert.ok(res.text.includes(`<a class="button secondary provider" href="${href}">Continue with ${display}</a>`),
          `${page}: the ${display} button\n${res.text.slice(res.text.indexOf('providers') - 200)}`);
      }
      assert.match(res.text, /<p class="divider">or<\/p>\n<div class="providers"/);
    }
  });

  test('native: a nonce is 201 {nonce, expires_in: 600}, stored only hashed; an unknown nonce or a garbage token is 401 invalid_id_token and changes nothing', async () => {
    const res = await req(srv, 'POST', '/v1/oauth/testop/nonce');
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.nonce, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.json.expires_in, 600);
    const stored = sql(srv.dbPath, `SELECT ${hexOf('nonce_hash')} FROM oauth_nonces;`);
    assert.ok(!stored.includes(Buffer.from(res.json.nonce).toString('hex').toUpperCase()), 'not stored in the clear');
    // providers without native client ids take no native sign-in
    assert.equal((await req(srv, 'POST', '/v1/oauth/formop/nonce')).status, 404);
    const before = snapshot(srv);
    const unknown = await req(srv, 'POST', '/v1/oauth/testop/token', { json: { id_token: 'a.b.c', nonce: 'A'.repeat(43) } });
    assert.equal(unknown.status, 401, unknown.text);
    assert.equal(unknown.json.error.code, 'invalid_id_token');
    const missing = await req(srv, 'POST', '/v1/oauth/testop/token', { json: { nonce: res.json.nonce } });
    assert.equal(missing.status, 422);
    // the real nonce with a token that is not one: spent all the same (one attempt per nonce)
    const bad = await req(srv, 'POST', '/v1/oauth/testop/token', { json: { id_token: 'not.a.token', nonce: res.json.nonce } });
    assert.ok([401, 502].includes(bad.status), bad.text);
    const spent = count(srv, 'SELECT COUNT(*) FROM oauth_nonces WHERE used_at IS NOT NULL;');
    assert.ok(spent >= 1, 'the nonce was spent');
    const again = await req(srv, 'POST', '/v1/oauth/testop/token', { json: { id_token: 'not.a.token', nonce: res.json.nonce } });
    assert.equal(again.status, 401);
    assert.deepEqual(snapshot(srv), before, 'nothing changed');
  });
});

describe('sign-in with a provider: the budget', () => {
  let srv, op;
  before(async () => {
    op = await fakeIssuer();
    srv = await startServer({
      env: {
        GATEHOUSE_PUBLIC_URL: PUBLIC,
        GATEHOUSE_LIMIT_SIGNIN_IP: '3/900',
        ...providerEnv('testop', op.issuer, { NATIVE_CLIENT_IDS: 'app.one' }),
      },
    });
  });
  after(async () => { await srv?.stop(); await op?.close(); });

  test('nonce, start and callback spend the per-IP sign-in budget: the fourth is 429', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await req(srv, 'POST', '/v1/oauth/testop/nonce')).status, 201);
    const res = await req(srv, 'POST', '/v1/oauth/testop/nonce');
    assert.equal(res.status, 429, res.text);
    assert.equal(res.json.error.code, 'rate_limited');
    assert.equal((await req(srv, 'GET', '/v1/oauth/testop/start')).status, 429);
    assert.equal((await req(srv, 'GET', '/v1/oauth/testop/callback?code=a&state=b')).status, 429);
    assert.equal(count(srv, 'SELECT COUNT(*) FROM oauth_nonces;'), 3);
  });
});

describe('sign-in with a provider: linking needs a session', () => {
  let srv, op;
  before(async () => {
    op = await fakeIssuer();
    srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, ...providerEnv('testop', op.issuer) } });
  });
  after(async () => { await srv?.stop(); await op?.close(); });

  test('start with link=1 and a live session cookie: 303 to the provider with a state cookie', async () => {
    const email = uniqueEmail();
    const password = strongPassword();
    await signup(srv, email, password);
    const si = await req(srv, 'POST', '/v1/signin', {
      json: { email, password, mode: 'cookie' }, headers: { Origin: PUBLIC, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.equal(si.status, 200, si.text);
    const session = cookiesOf(si)[SESSION].value;
    const res = await req(srv, 'GET', '/v1/oauth/testop/start?link=1&rd=/account', { cookie: `${SESSION}=${session}` });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.ok(cookiesOf(res)[STATE], 'the state cookie');
    assert.equal(cookiesOf(res)[SESSION], undefined, 'the session is left alone');
  });
});

describe('sign-in with a provider: linking needs a recent sign-in', () => {
  let srv, op;
  before(async () => {
    op = await fakeIssuer();
    srv = await startServer({
      env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_REAUTH_WINDOW: '0', ...providerEnv('testop', op.issuer) },
    });
  });
  after(async () => { await srv?.stop(); await op?.close(); });

  // A stale (or stolen) session cookie alone must not add a way into the
  // account: the start sends the person to sign in again, and sets no state.
  test('start with link=1 and a session older than GATEHOUSE_REAUTH_WINDOW: 303 to /signin, no state cookie', async () => {
    const email = uniqueEmail();
    const password = strongPassword();
    await signup(srv, email, password);
    const si = await req(srv, 'POST', '/v1/signin', {
      json: { email, password, mode: 'cookie' }, headers: { Origin: PUBLIC, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.equal(si.status, 200, si.text);
    const session = cookiesOf(si)[SESSION].value;
    await sleep(1100);
    const before = count(srv, 'SELECT COUNT(*) FROM oauth_nonces;');
    const res = await req(srv, 'GET', '/v1/oauth/testop/start?link=1&rd=/account', { cookie: `${SESSION}=${session}` });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    const to = new URL(res.headers.location);
    assert.equal(to.origin + to.pathname, `${PUBLIC}/signin`);
    assert.equal(to.searchParams.get('rd'), `${PUBLIC}/account`);
    assert.equal(cookiesOf(res)[STATE], undefined, 'no state cookie');
    assert.equal(count(srv, 'SELECT COUNT(*) FROM oauth_nonces;'), before, 'no state recorded');
  });
});

describe('sign-in with a provider: a provider that hangs holds up only the network lane', () => {
  let srv, hang, sockets = [];
  before(async () => {
    // accepts connections and never answers
    const port = await freePort();
    hang = http.createServer(() => {});
    hang.on('connection', (s) => sockets.push(s));
    await new Promise((resolve) => hang.listen(port, '127.0.0.1', resolve));
    srv = await startServer({
      env: {
        GATEHOUSE_PUBLIC_URL: PUBLIC,
        GATEHOUSE_WORKERS: '2', // fewer database workers than hanging starts
        ...providerEnv('hangop', `http://127.0.0.1:${port}`),
      },
    });
  });
  after(async () => {
    await srv?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hang.close(resolve));
  });

  test('six starts wait on the provider while a database request is answered at once; then each start is a 502 page', async () => {
    const t0 = Date.now();
    const starts = Array.from({ length: 6 }, () => req(srv, 'GET', '/v1/oauth/hangop/start'));
    await sleep(300);
    const t1 = Date.now();
    const other = await req(srv, 'POST', '/v1/magic-link', { json: { email: uniqueEmail() } });
    const took = Date.now() - t1;
    assert.equal(other.status, 202, other.text);
    assert.ok(took < 1500, `a database-lane request took ${took} ms while the provider hung`);
    const results = await Promise.all(starts);
    for (const r of results) assert.equal(r.status, 502, r.text.slice(0, 200));
    assert.ok(Date.now() - t0 >= 3000, 'the starts did wait on the provider');
  });
});
