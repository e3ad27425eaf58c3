// The browser harness proves itself: its listeners fail on a tiny fixture
// server's bad pages (a CSP violation, a console error, a page error, a
// missing CSP header, a stylesheet that does not load), and pass on the
// pages that need no sign-in page: /step-up (with a TOTP code and a wrong
// one), its done page, /signout and /signout/done, and the error pages (401
// not signed in, 409 no second factor).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { signup, markVerified, api } from '../api/lib/harness.mjs';
import { oathtool } from '../proxy/lib/gate.mjs';
import { startBrowser } from './lib/browser.mjs';
import { startGatehouse, apiCookieSignin } from './lib/servers.mjs';

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

/** Pages that break one rule each. */
async function startFixture() {
  const pages = {
    '/ok': [PAGE_CSP, '<p>fine</p>'],
    '/inline-style': [PAGE_CSP, '<p style="color: red">an inline style the CSP refuses</p>'],
    '/console-error': [PAGE_CSP, '<script src="/console-error.js"></script>'],
    '/console-error.js': [null, "console.error('a console error on purpose');", 'text/javascript'],
    '/page-error': [PAGE_CSP, '<script src="/page-error.js"></script>'],
    '/page-error.js': [null, "throw new Error('an uncaught error on purpose');", 'text/javascript'],
    '/no-csp': [null, '<p>no CSP header</p>'],
    '/missing-css': [PAGE_CSP, '<link rel="stylesheet" href="/nowhere.css"><p>its stylesheet answers 404</p>'],
    '/weak-csp': ["default-src 'self'", '<p>a CSP without the page directives</p>'],
  };
  const srv = http.createServer((req, res) => {
    const p = pages[req.url];
    if (!p) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('no'); return; }
    const [csp, body, type = 'text/html; charset=utf-8'] = p;
    const html = type.startsWith('text/html') ? `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fixture</title></head><body><main><h1>Fixture</h1>${body}</main></body></html>` : body;
    res.writeHead(200, { 'Content-Type': type, ...(csp ? { 'Content-Security-Policy': csp } : {}) });
    res.end(html);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { url: `http://127.0.0.1:${srv.address().port}`, stop: () => new Promise((r) => srv.close(r)) };
}

describe('the listeners fail a test on a bad page', () => {
  let fx; let b;
  before(async () => {
    fx = await startFixture();
    b = await startBrowser({ tag: 'fixture', ourOrigins: [fx.url] });
  });
  after(async () => { await b?.close(); await fx?.stop(); });

  const cases = [
    ['/inline-style', /violates the following Content Security Policy directive|CSP violation: style-src/],
    ['/console-error', /console error .*a console error on purpose/],
    ['/page-error', /page error .*an uncaught error on purpose/],
    ['/no-csp', /Content-Security-Policy lacks "default-src 'none'"/],
    ['/weak-csp', /Content-Security-Policy lacks "form-action 'self'"/],
    ['/missing-css', /Failed to load resource: the server responded with a status of 404/],
  ];
  for (const [p, re] of cases) {
    test(`${p} fails the check`, async () => {
      const ctx = await b.newContext();
      const page = await ctx.newPage();
      await page.goto(fx.url + p);
      await page.waitForTimeout(100);
      await assert.rejects(b.check(page), re);
      await ctx.close();
    });
  }

  test('the CSP violation is also kept in the document (window.__ghCsp)', async () => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(fx.url + '/inline-style');
    const kept = await page.evaluate(() => window.__ghCsp);
    assert.ok(kept.length >= 1 && /style-src/.test(kept[0].directive), JSON.stringify(kept));
    await assert.rejects(b.check(page), /CSP violation/);
    await ctx.close();
  });

  test('a page breaking no rule passes, and so does its phone copy; axe finds nothing serious', async () => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(fx.url + '/ok');
    const e = await b.shot(page, 'ok');
    assert.deepEqual(e.h1, ['Fixture']);
    await b.check(page);
    await ctx.close();
  });
});

describe('the pages of main: step-up, sign-out, error pages', () => {
  let srv; let b;
  before(async () => {
    srv = await startGatehouse();
    b = await startBrowser({ tag: 'main', ourOrigins: [srv.url] });
  });
  after(async () => { await b?.close(); await srv?.stop(); });

  test('not signed in: /step-up is the 401 page; /signout/done and /step-up/done', async () => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    const r = await page.goto(`${srv.url}/step-up?rd=/account`);
    assert.equal(r.status(), 401);
    await assert.doesNotReject(page.getByRole('heading', { level: 1, name: 'You are not signed in' }).waitFor());
    // a way on: "Sign in", keeping where the person was going
    const signin = page.getByRole('link', { name: 'Sign in', exact: true });
    await signin.waitFor();
    assert.match(await signin.getAttribute('href'), /\/signin\?rd=/);
    await b.shot(page, 'error-401-not-signed-in', { dark: true });
    await page.goto(`${srv.url}/signout/done`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await b.shot(page, 'signout-done');
    await page.goto(`${srv.url}/step-up/done`);
    await b.shot(page, 'step-up-done');
    await b.check(page);
    await ctx.close();
  });

  test('/denied: the page a proxy sends a refused browser to, its way back', async (t) => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    const r = await page.goto(`${srv.url}/denied?rd=${encodeURIComponent(`${srv.url}/`)}`);
    assert.equal(r.status(), 403);
    await page.getByRole('heading', { level: 1, name: "You don't have access" }).waitFor();
    await b.shot(page, 'denied', { dark: true });
    await b.check(page);
    await ctx.close();
  });

  test('signed in without a second factor: /step-up is the 409 page; /signout signs out', async () => {
    const a = await signup(srv);
    const ctx = await b.newContext();
    await apiCookieSignin(ctx, srv, a.email, a.password);
    const page = await ctx.newPage();
    const r = await page.goto(`${srv.url}/step-up`);
    assert.equal(r.status(), 409);
    await page.getByRole('heading', { level: 1, name: 'No second factor' }).waitFor();
    await b.shot(page, 'error-409-no-second-factor');
    await page.goto(`${srv.url}/signout`);
    await b.shot(page, 'signout', { dark: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${srv.url}/signout/done`);
    assert.equal((await ctx.cookies()).filter((c) => c.name === 'gh_session').length, 0, 'the session cookie is gone');
    const again = await page.goto(`${srv.url}/signout`);
    assert.equal(again.status(), 401, 'the session ended');
    await b.check(page);
    await ctx.close();
  });

  test('step-up with TOTP: a wrong code shows the error (422), the right one lands on the done page', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const t = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(t.status, 200, t.text);
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(t.json.secret) } });
    assert.equal(c.status, 200, c.text);
    const ctx = await b.newContext();
    const s1 = await apiCookieSignin(ctx, srv, a.email, a.password);
    assert.equal(s1.mfa_required, true);
    const s2 = await ctx.request.post(`${srv.url}/v1/signin/mfa`, {
      data: { mfa_token: s1.mfa_token, code: c.json.backup_codes[0], mode: 'cookie' }, headers: { Origin: srv.url },
    });
    assert.equal(s2.status(), 200, await s2.text());
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/step-up`);
    await b.shot(page, 'step-up');
    const field = page.getByRole('textbox').first();
    await field.fill('000000');
    const [wrong] = await Promise.all([page.waitForResponse((x) => x.url().endsWith('/step-up') && x.request().method() === 'POST'),
      page.getByRole('button').first().click()]);
    assert.equal(wrong.status(), 422);
    await page.getByRole('alert').waitFor();
    await b.shot(page, 'step-up-wrong-code');
    await page.getByRole('textbox').first().fill(oathtool(t.json.secret, 1));
    await page.getByRole('button').first().click();
    await page.waitForURL(`${srv.url}/step-up/done`);
    // the account's second-factor budget (5 per 5 minutes) spent on wrong
    // codes: the 429 page says how long to wait, in words
    let last;
    for (let i = 0; i < 6; i++) {
      await page.goto(`${srv.url}/step-up`);
      await page.getByRole('textbox').first().fill('000000');
      [last] = await Promise.all([page.waitForResponse((x) => x.url().endsWith('/step-up') && x.request().method() === 'POST'),
        page.getByRole('button').first().click()]);
      await page.waitForLoadState('load');
      if (last.status() === 429) break;
    }
    assert.equal(last.status(), 429);
    await page.getByRole('heading', { level: 1, name: 'Too many attempts' }).waitFor();
    await page.getByText(/Try again in \d+ (minute|minutes|seconds?)\b/).first().waitFor();
    await b.shot(page, 'error-429-too-many-attempts');
    await b.check(page);
    await ctx.close();
  });
});
