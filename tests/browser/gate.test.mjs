// The whole gate in a browser: the real nginx of docs/examples/nginx (the
// quickstart's file, started by tests/proxy/lib/proxies.mjs) in front of a
// small app, Gatehouse with the quickstart's settings (docs/examples/
// gatehouse.env: https://auth.example.com, cookie domain example.com) and
// its own sign-in page as GATEHOUSE_SIGNIN_URL. Chromium reaches both names
// on loopback through --host-resolver-rules (nothing is looked up) and
// accepts the test's self-signed certificate. A visit to a protected URL
// lands on /signin with rd, signing in comes back to that URL, and the app
// sees X-Gatehouse-Email; a page a rule refuses goes to /denied; signing
// out shuts the app again.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNginx, APP_HOST, AUTH_HOST, PUBLIC_URL } from '../proxy/lib/proxies.mjs';
import { startGate, authApi } from '../proxy/lib/gate.mjs';
import { send } from '../proxy/lib/proxies.mjs';
import { startBrowser } from './lib/browser.mjs';
import { startApp, hasPages } from './lib/servers.mjs';
import { heading, formWith, submit } from './lib/pages.mjs';

const APP = `https://${APP_HOST}`;

describe('the gate through nginx, in a browser', () => {
  let app; let gate; let nginx; let b;
  before(async () => {
    app = await startApp();
    // the quickstart's settings, with the pages' own sign-in page
    gate = await startGate({ env: { GATEHOUSE_SIGNIN_URL: `${PUBLIC_URL}/signin` } });
    nginx = await startNginx({ gatehousePort: gate.port, appPort: app.port });
    b = await startBrowser({
      tag: 'gate',
      ourOrigins: [PUBLIC_URL],
      hostRules: `MAP ${APP_HOST} 127.0.0.1:${nginx.https}, MAP ${AUTH_HOST} 127.0.0.1:${nginx.https}`,
      ignoreHTTPSErrors: true,
    });
  });
  after(async () => { await b?.close(); await nginx?.stop(); await gate?.stop(); await app?.stop(); });

  // The whole flow in a context of the test (CSP on, every listener); tag
  // null takes no screenshots.
  async function flow(t, ctx, tag, allow) {
    // the pages are asked through nginx, as the browser will
    const probe = await send(nginx.https, { host: AUTH_HOST, path: '/signin' });
    assert.notEqual(probe.status, 404, '/signin exists behind nginx');
    // an account made through the JSON API behind nginx
    const a = await authApi({ send: (o) => send(nginx.https, o) }).signup();
    const page = await ctx.newPage();
    const wanted = `${APP}/reports/2026?q=a%20b`;
    const seen = app.seen.length;
    await page.goto(wanted);
    const at = new URL(page.url());
    assert.equal(`${at.origin}${at.pathname}`, `${PUBLIC_URL}/signin`, page.url());
    assert.equal(at.searchParams.get('rd'), wanted, 'rd is the URL the browser asked for');
    await heading(page, 'Sign in');
    if (tag !== null) await b.shot(page, `signin-from-gate${tag}`);
    assert.equal(app.seen.slice(seen).filter((x) => x.url !== '/favicon.ico').length, 0, 'the app saw nothing yet');
    const form = formWith(page, 'Sign in');
    await form.getByLabel('Email', { exact: true }).fill(a.email);
    await form.getByLabel('Password', { exact: true }).fill(a.password);
    await submit(page, form, 'Sign in');
    assert.equal(page.url(), wanted, 'back at the URL first asked for');
    await page.locator('#who').waitFor();
    assert.equal(await page.locator('#who').textContent(), a.email);
    const last = app.seen.filter((x) => x.url !== '/favicon.ico').at(-1);
    assert.equal(last.headers['x-gatehouse-email'], a.email);
    assert.equal(last.url, '/reports/2026?q=a%20b');
    if (tag !== null) await b.shot(page, `app-signed-in${tag}`);
    // a rule refuses this account (/admin wants role:admin): nginx sends the
    // browser to our /denied page (docs/examples/nginx, error_page 403)
    await page.goto(`${APP}/admin`);
    assert.equal(`${new URL(page.url()).origin}${new URL(page.url()).pathname}`, `${PUBLIC_URL}/denied`, page.url());
    await heading(page, "You don't have access");
    if (tag !== null) await b.shot(page, `denied-from-gate${tag}`);
    // the sign-out link an app gives: back to the app is back to sign-in
    await page.goto(`${PUBLIC_URL}/signout?rd=${encodeURIComponent(`${APP}/`)}`);
    await submit(page, page, 'Sign out');
    assert.equal(new URL(page.url()).pathname, '/signin', page.url());
    await b.check(page, allow ? { allow } : {});
  }

  // The page CSP stays on: its form-action names the checked rd's origin
  // (browsers hold the 303 after a form's POST to form-action too).
  test('a protected URL: /signin with rd, sign in, back to the URL signed in; the app sees X-Gatehouse-Email', async (t) => {
    const ctx = await b.newContext();
    try { await flow(t, ctx, ''); } finally { await ctx.close(); }
  });
});
