// The gate's promises, checked through one proxy: the same cases for the
// real nginx, the real Caddy and the Traefik model. A driver sends a client
// request through the proxy ({host, method, path, headers, body}) and
// returns {status, headers, body, json, echo}, echo being what the upstream
// app received (null when the request did not reach it).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startEcho, APP_HOST, AUTH_HOST, PUBLIC_URL, SIGNIN_URL } from './proxies.mjs';
import { startGate, authApi, enrolTotp, oathtool } from './gate.mjs';
import { allTricks, assertNoOpenRedirect } from './tricks.mjs';
import { runCli } from '../../api/lib/harness.mjs';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const API = 'application/json';
const FORGED = [
  ['X-Gatehouse-User-Id', 'forged-user'],
  ['X-Gatehouse-Email', 'forged@evil.com'],
  ['X-Gatehouse-Roles', 'admin'],
  ['X-Gatehouse-Session-Id', 'forged-session'],
  ['Remote-User', 'forged-user'],
  ['Remote-Email', 'forged@evil.com'],
  ['Remote-Groups', 'admin'],
  ['x-gatehouse-user-id', 'forged-user'],
  ['X_Gatehouse_User_Id', 'forged-user'],
  ['X-Gatehouse_User-Id', 'forged-user'],
  ['Remote_User', 'forged-user'],
];
const IDENTITY = /^(x[-_]gatehouse[-_]|remote[-_])/i;

/** The identity headers the app received, as [lower-case name, value] pairs. */
function identityOf(echo) {
  const out = [];
  for (let i = 0; i < echo.rawHeaders.length; i += 2) {
    if (IDENTITY.test(echo.rawHeaders[i])) out.push([echo.rawHeaders[i].toLowerCase(), echo.rawHeaders[i + 1]]);
  }
  return out.sort();
}

function assertNoForged(echo, what) {
  for (const [k, v] of identityOf(echo)) {
    assert.ok(!/forged|evil/.test(v), `${what}: the app received the client's ${k}: ${v}`);
  }
}

/** The sign-in redirect for a browser: the page, and rd = the original URL. */
function assertSigninRedirect(r, original, status, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.rawHead?.split('\r\n')[0]} ${r.body.slice(0, 200)}`);
  const loc = new URL(r.headers.location);
  assert.equal(loc.origin + loc.pathname, SIGNIN_URL, `${what}: Location ${r.headers.location}`);
  assert.deepEqual(loc.searchParams.getAll('rd'), [original], `${what}: rd in ${r.headers.location}`);
  assert.equal(r.echo, null, `${what}: the app was not reached`);
}

/**
 * @param {string} name
 * @param {object} o
 * @param {(ports:{gatehousePort:number, appPort:number}) => Promise<{send:Function, stop:Function, log?:Function}>} o.start
 * @param {boolean} o.nginx  the browser redirect is nginx's 302 from the 401's Location (also for POST)
 * @param {boolean} o.remoteHeaders  run the gate with GATEHOUSE_GATE_REMOTE_HEADERS=on
 * @param {boolean} o.deniedPage  the example sends a refused browser to /denied
 */
export function gateSuite(name, { start, nginx = false, remoteHeaders = false, deniedPage = false }) {
  describe(`${name}: the gate through the proxy`, { concurrency: false }, () => {
    let gate, echo, px, a, alice;
    const send = (o) => px.send(o);
    const app = (p, headers = [], o = {}) => send({ host: APP_HOST, path: p, headers, ...o });
    const bearer = (tok) => [['Authorization', `Bearer ${tok}`], ['Accept', API]];

    before(async () => {
      gate = await startGate({ remoteHeaders });
      echo = await startEcho();
      px = await start({ gatehousePort: gate.port, appPort: echo.port });
      a = authApi(px);
      alice = await a.signup();
    });

    after(async () => {
      try { await px?.stop(); } finally {
        await echo?.stop();
        await gate?.stop();
        if (gate) fs.rmSync(gate.dataDir, { recursive: true, force: true });
      }
    });

    test('no session: an API client gets 401, a browser the sign-in page with rd', async () => {
      const r1 = await app('/dashboard?tab=1', [['Accept', API]]);
      assert.equal(r1.status, 401, r1.body);
      assert.equal(r1.echo, null);
      assert.equal(r1.headers.location, undefined);
      const r2 = await app('/dashboard', [['Accept', BROWSER], ['X-Requested-With', 'XMLHttpRequest']]);
      assert.equal(r2.status, 401, 'a single-page app never gets a redirect');
      assert.equal(r2.headers.location, undefined);
      const r3 = await app('/dashboard?tab=1&q=a%20b', [['Accept', BROWSER]]);
      assertSigninRedirect(r3, `https://${APP_HOST}/dashboard?tab=1&q=a%20b`, 302, 'browser GET');
      const r4 = await app('/reports', [['Accept', BROWSER]], { method: 'HEAD' });
      assert.equal(r4.status, 302, 'browser HEAD');
      const r5 = await app('/form', [['Accept', BROWSER], ['Content-Type', 'application/x-www-form-urlencoded']], { method: 'POST', body: 'a=1' });
      assertSigninRedirect(r5, `https://${APP_HOST}/form`, nginx ? 302 : 303, 'browser POST');
      assert.equal(echo.seen.length, 0, 'nothing reached the app');
    });

    test('public rules pass without a session, with no identity headers, forged ones dropped', async () => {
      for (const p of ['/login', '/static/app.css']) {
        const r = await app(p, [['Accept', BROWSER], ...FORGED]);
        assert.equal(r.status, 200, `${p}: ${r.status} ${r.body.slice(0, 200)}`);
        assert.ok(r.echo, `${p} reached the app`);
        assert.equal(r.echo.url, p);
        assert.deepEqual(identityOf(r.echo), [], `${p}: no identity headers at all: ${JSON.stringify(identityOf(r.echo))}`);
      }
      const post = await app('/static/app.css', [['Accept', API]], { method: 'POST', body: '' });
      assert.equal(post.status, 401, 'a public rule for GET, HEAD only');
    });

    test('a bearer session reaches the app with the identity headers, forged ones replaced', async () => {
      const r = await app('/dashboard?x=1', [...bearer(alice.access), ...FORGED]);
      assert.equal(r.status, 200, r.body.slice(0, 300));
      assert.ok(r.echo, 'the app was reached');
      assert.equal(r.echo.url, '/dashboard?x=1');
      const h = r.echo.headers;
      assert.equal(h['x-gatehouse-user-id'], alice.user.id);
      assert.equal(h['x-gatehouse-email'], alice.email);
      assert.equal(h['x-gatehouse-roles'], 'user');
      assert.equal(h['x-gatehouse-session-id'], alice.sid);
      const want = [
        ['x-gatehouse-email', alice.email], ['x-gatehouse-roles', 'user'],
        ['x-gatehouse-session-id', alice.sid], ['x-gatehouse-user-id', alice.user.id],
      ];
      if (remoteHeaders) {
        want.push(['remote-email', alice.email], ['remote-groups', 'user'], ['remote-name', alice.email], ['remote-user', alice.email]);
      }
      assert.deepEqual(identityOf(r.echo), want.sort(), 'exactly the gate\'s identity headers, once each');
      assertNoForged(r.echo, 'bearer');
    });

    test('a cookie session (Domain=example.com) reaches the app', async () => {
      const c = await a.signinCookie(alice.email, alice.password);
      const sess = c.setCookie.find((l) => /gh_session=[^;]/.test(l));
      assert.match(sess, /^__Secure-gh_session=/, `the cookie for a gate on another host: ${sess}`);
      assert.match(sess, /;\s*Domain=example\.com/i, sess);
      const r = await app('/dashboard', [['Cookie', c.cookie], ['Accept', BROWSER], ...FORGED]);
      assert.equal(r.status, 200, `${r.status} ${r.body.slice(0, 300)}`);
      assert.equal(r.echo.headers['x-gatehouse-user-id'], alice.user.id);
      assert.equal(r.echo.headers['x-gatehouse-email'], alice.email);
      assert.ok(r.echo.headers['x-gatehouse-session-id'] && r.echo.headers['x-gatehouse-session-id'] !== alice.sid, 'its own session');
      assertNoForged(r.echo, 'cookie');
      assert.doesNotMatch(r.rawHead, /^set-cookie:.*gh_session/im, 'the gate never sets a cookie through the proxy');
    });

    test('forged identity headers without a session never reach the app', async () => {
      for (const accept of [API, BROWSER]) {
        const r = await app('/dashboard', [['Accept', accept], ...FORGED]);
        assert.ok([401, 302].includes(r.status), `${accept}: ${r.status}`);
        assert.equal(r.echo, null);
      }
      // The other proxies' way of naming the original request, sent by the
      // client, does not open a gated path: the proxy drops it (so the
      // answer is the plain 401, not Gatehouse's 400 for two families).
      const spoof = [['X-Original-URL', `https://${APP_HOST}/login`], ['X-Original-Method', 'GET'],
        ['X-Forwarded-Uri', '/login'], ['X-Forwarded-Host', APP_HOST], ['X-Forwarded-Method', 'GET'], ['X-Forwarded-Proto', 'https']];
      for (const hs of [spoof.slice(0, 2), spoof.slice(2), spoof]) {
        const r = await app('/dashboard', [['Accept', API], ...hs]);
        assert.equal(r.echo, null, `spoofed original request ${JSON.stringify(hs)}: ${r.status}`);
        assert.equal(r.status, 401, `spoofed original request ${JSON.stringify(hs)}: ${r.body.slice(0, 200)}`);
      }
    });

    test('a revoked session is refused on the next request', async () => {
      // bearer: POST /v1/signout
      const s = await a.signin(alice.email, alice.password);
      assert.equal((await app('/dashboard', bearer(s.access_token))).status, 200);
      const out = await a.call('POST', '/v1/signout', { token: s.access_token });
      assert.equal(out.status, 204, out.body);
      const r1 = await app('/dashboard', bearer(s.access_token));
      assert.equal(r1.status, 401, 'signed out: refused at once');
      assert.equal(r1.echo, null);
      // cookie: DELETE /v1/sessions/{id} from another session
      const c = await a.signinCookie(alice.email, alice.password);
      const ok = await app('/dashboard', [['Cookie', c.cookie], ['Accept', BROWSER]]);
      assert.equal(ok.status, 200);
      const sid = ok.echo.headers['x-gatehouse-session-id'];
      const del = await a.call('DELETE', `/v1/sessions/${sid}`, { token: alice.access });
      assert.equal(del.status, 204, del.body);
      const r2 = await app('/dashboard?after=revoke', [['Cookie', c.cookie], ['Accept', BROWSER]]);
      assertSigninRedirect(r2, `https://${APP_HOST}/dashboard?after=revoke`, 302, 'revoked cookie');
      // the gate clears no cookie either (only the pages and the API do)
      assert.doesNotMatch(r2.rawHead, /^set-cookie:/im, 'no Set-Cookie from the gate');
      const made = await app('/dashboard', [['Cookie', `${c.cookie.split('=')[0]}=${'A'.repeat(43)}`], ['Accept', BROWSER]]);
      assert.equal(made.status, 302, 'a made-up cookie is not signed in');
      assert.doesNotMatch(made.rawHead, /^set-cookie:/im, 'no Set-Cookie from the gate');
    });

    test('a step-up rule sends a session without a recent second factor to the step-up page', async () => {
      const bob = await a.signup();
      const { secret, backup } = await enrolTotp(gate, a, bob);
      // bob's sign-up session used no second factor
      const r1 = await app('/billing/invoices?id=7', [['Authorization', `Bearer ${bob.access}`], ['Accept', BROWSER]]);
      assert.equal(r1.status, 302, `${r1.status} ${r1.body.slice(0, 200)}`);
      const loc = new URL(r1.headers.location);
      assert.equal(loc.origin + loc.pathname, `${PUBLIC_URL}/step-up`, r1.headers.location);
      assert.deepEqual(loc.searchParams.getAll('rd'), [`https://${APP_HOST}/billing/invoices?id=7`]);
      assert.equal(r1.echo, null);
      const r2 = await app('/billing', [['Authorization', `Bearer ${bob.access}`], ['Accept', API]]);
      assert.equal(r2.status, 401, 'an API client gets 401 (step_up_required)');
      assert.equal(r2.echo, null);
      // the rest of the app needs no factor
      assert.equal((await app('/dashboard', [['Authorization', `Bearer ${bob.access}`]])).status, 200);
      // a session signed in with the second factor passes
      const s = await a.call('POST', '/v1/signin', { json: { email: bob.email, password: bob.password } });
      assert.equal(s.json?.mfa_required, true, s.body);
      const m = await a.call('POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
      assert.equal(m.status, 200, m.body);
      const r3 = await app('/billing', bearer(m.json.access_token));
      assert.equal(r3.status, 200, r3.body.slice(0, 200));
      assert.equal(r3.echo.headers['x-gatehouse-user-id'], bob.user.id);
      // and so does the first session once it steps up (POST /v1/mfa/step-up)
      const up = await a.call('POST', '/v1/mfa/step-up', { token: bob.access, json: { code: backup[0] } });
      assert.equal(up.status, 204, up.body);
      assert.equal((await app('/billing', bearer(bob.access))).status, 200, 'after step-up');
    });

    test('a browser steps up on Gatehouse\'s page and signs out by the documented link, through the proxy', async () => {
      const SAME = [['Origin', PUBLIC_URL], ['Sec-Fetch-Site', 'same-origin'], ['Content-Type', 'application/x-www-form-urlencoded']];
      const hidden = (html, name) => (new RegExp(`name="${name}" value="([^"]*)"`).exec(html) || [])[1];
      const form = (o) => new URLSearchParams(o).toString();
      const erin = await a.signup();
      const c = await a.signinCookie(erin.email, erin.password);
      const { backup } = await enrolTotp(gate, a, erin, c); // the factor set up in this session: not used to sign in
      const jar = [['Cookie', c.cookie], ['Accept', BROWSER]];
      // the gate sends the browser to the step-up page...
      const r1 = await app('/billing?id=3', jar);
      assert.equal(r1.status, 302, r1.body.slice(0, 200));
      const step = new URL(r1.headers.location);
      assert.equal(step.origin + step.pathname, `${PUBLIC_URL}/step-up`);
      // ...which asks for the code again, then returns to rd
      const page = await send({ host: AUTH_HOST, path: step.pathname + step.search, headers: jar });
      assert.equal(page.status, 200, page.body.slice(0, 300));
      const csrf = hidden(page.body, 'csrf');
      assert.ok(csrf, 'the form carries the CSRF token');
      const post = await send({ host: AUTH_HOST, method: 'POST', path: '/step-up', headers: [...jar, ...SAME],
        body: form({ code: backup[0], csrf, rd: hidden(page.body, 'rd') ?? step.searchParams.get('rd') }) });
      assert.equal(post.status, 303, post.body.slice(0, 300));
      assert.equal(post.headers.location, `https://${APP_HOST}/billing?id=3`);
      const r2 = await app('/billing?id=3', jar);
      assert.equal(r2.status, 200, 'after the step-up');
      assert.equal(r2.echo.headers['x-gatehouse-user-id'], erin.user.id);
      // the app's sign-out link: a confirmation page, then a POST that ends the session
      const rd = `https://${APP_HOST}/`;
      const out = await send({ host: AUTH_HOST, path: `/signout?rd=${encodeURIComponent(rd)}`, headers: jar });
      assert.equal(out.status, 200, out.body.slice(0, 300));
      assert.equal((await app('/dashboard', jar)).status, 200, 'showing the page signs nobody out');
      const bye = await send({ host: AUTH_HOST, method: 'POST', path: '/signout', headers: [...jar, ...SAME],
        body: form({ csrf: hidden(out.body, 'csrf'), rd: hidden(out.body, 'rd') ?? rd }) });
      assert.equal(bye.status, 303, bye.body.slice(0, 300));
      assert.equal(bye.headers.location, rd);
      const expired = bye.rawHead.split('\r\n').find((l) => /^set-cookie: __Secure-gh_session=;/i.test(l)) || '';
      assert.match(expired, /;\s*Max-Age=0/i, `the cookie is expired: ${expired}`);
      assert.match(expired, /;\s*Domain=example\.com/i, `for the domain: ${expired}`);
      const r3 = await app('/dashboard?after=signout', jar);
      assertSigninRedirect(r3, `https://${APP_HOST}/dashboard?after=signout`, 302, 'after the sign-out page');
    });

    test('a role rule refuses a user without the role (403); after gatehouse users role and a sign-in it passes', async () => {
      const carol = await a.signup();
      const r = await app('/admin/users', bearer(carol.access));
      assert.equal(r.status, 403, r.body.slice(0, 200));
      assert.equal(r.echo, null);
      const cli = runCli(['users', 'role', carol.email, 'admin'], { env: { GATEHOUSE_DATA_DIR: gate.dataDir } });
      assert.equal(cli.code, 0, cli.stderr);
      const s2 = await a.signin(carol.email, carol.password);
      const r2 = await app('/admin/users', bearer(s2.access_token));
      assert.equal(r2.status, 200, `after the role change and a sign-in: ${r2.status} ${r2.body.slice(0, 200)}`);
      assert.equal(r2.echo.headers['x-gatehouse-roles'], 'admin');
    });

    if (deniedPage) {
      test('a refused browser is sent to Gatehouse\'s /denied page (rd: the app\'s home); an API client keeps the 403', async () => {
        const frank = await a.signup();
        const c = await a.signinCookie(frank.email, frank.password);
        const jar = [['Cookie', c.cookie], ['Accept', BROWSER]];
        const r = await app('/admin/users', jar);
        assert.equal(r.status, 302, r.body.slice(0, 200));
        assert.equal(r.echo, null, 'the app was not reached');
        const loc = new URL(r.headers.location);
        assert.equal(loc.origin + loc.pathname, `https://${AUTH_HOST}/denied`);
        assert.equal(loc.searchParams.get('rd'), `https://${APP_HOST}/`);
        const page = await send({ host: AUTH_HOST, path: loc.pathname + loc.search, headers: jar });
        assert.equal(page.status, 403, page.body.slice(0, 300));
        assert.match(page.body, /<h1>You don't have access<\/h1>/);
        assert.ok(page.body.includes(`href="https://${APP_HOST}/">Go back</a>`), page.body);
        assert.ok(page.body.includes(`href="${PUBLIC_URL}/signout?rd=${encodeURIComponent(`https://${APP_HOST}/`)}"`), page.body);
        const api = await app('/admin/users', [['Cookie', c.cookie], ['Accept', API]]);
        assert.equal(api.status, 403);
      });
    }

    // The issue asks that a role change apply on the next request. The CLI
    // runs in another process; the server's change feed (decision 0025)
    // applies it to the auth cache within about a second, with no sign-in.
    test('a role change by the CLI applies to a live session within about a second', async () => {
      const dave = await a.signup();
      assert.equal((await app('/admin', bearer(dave.access))).status, 403);
      const cli = runCli(['users', 'role', dave.email, 'admin'], { env: { GATEHOUSE_DATA_DIR: gate.dataDir } });
      assert.equal(cli.code, 0, cli.stderr);
      let status = 0;
      for (let i = 0; i < 30 && status !== 200; i++) {
        if (i) await new Promise((res) => setTimeout(res, 100));
        status = (await app('/admin', bearer(dave.access))).status;
      }
      assert.equal(status, 200, 'the live session passes the admin rule');
      const back = runCli(['users', 'role', dave.email, 'user'], { env: { GATEHOUSE_DATA_DIR: gate.dataDir } });
      assert.equal(back.code, 0, back.stderr);
      for (let i = 0; i < 30 && status !== 403; i++) {
        await new Promise((res) => setTimeout(res, 100));
        status = (await app('/admin', bearer(dave.access))).status;
      }
      assert.equal(status, 403, 'and is refused again once the role is taken away');
    });

    test('open-redirect tricks never yield a Location outside the allowed hosts', async () => {
      const tricks = allTricks();
      assert.ok(tricks.length >= 20);
      for (const t of tricks) {
        const r = await send({ host: t.host, servername: APP_HOST, path: t.path, headers: t.headers });
        assertNoOpenRedirect(r, `${name} ${t.name} (${r.status})`);
      }
    });
  });
}
