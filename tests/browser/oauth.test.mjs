// Federated sign-in in headless Chromium, against a real OpenID provider on
// loopback (oidc-provider, tests/api/lib/oidc_op.mjs; its login page is a
// small HTML form a person could use): "Continue with Google" on /signin,
// the provider's sign-in, back signed in on /account; the Apple shape's
// form_post (the provider's page posts the code cross-origin to our
// callback by itself); an address taken by a password account: the
// "Sign in to link" page, sign in, "Link account", the notice and the
// "Sign-in methods" section; a callback that fails: the error page.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signup, rand, sql } from '../api/lib/harness.mjs';
import { startWithOp } from '../api/lib/oidc_op.mjs';
import { startBrowser } from './lib/browser.mjs';
import { newEmail } from './lib/servers.mjs';
import { heading, formWith, submit, hasSession } from './lib/pages.mjs';

/** At the provider's login page: choose the account, press "Sign in"; waits for our page. */
async function providerSignin(page, op, srv, email) {
  await page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith('/interaction/'));
  await heading(page, 'Test provider');
  await page.getByLabel('Account', { exact: true }).selectOption({ label: email });
  await Promise.all([
    page.waitForURL((u) => u.origin === srv.url, { waitUntil: 'load' }),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
}

describe('federated sign-in in the browser', () => {
  let env; let srv; let b;
  before(async () => {
    env = await startWithOp(['google', 'apple']);
    ({ srv } = env);
    b = await startBrowser({ tag: 'oauth', ourOrigins: [srv.url] });
  });
  after(async () => { await b?.close(); await env?.stop(); });

  test('Google: "Continue with Google" on /signin, the provider\'s sign-in, back signed in', async () => {
    const op = env.ops.google;
    const email = newEmail('google');
    op.addUser({ sub: `g-${rand(6)}`, email, email_verified: true, name: 'Ada Lovelace' });
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signin`);
    await heading(page, 'Sign in');
    await page.getByText('or', { exact: true }).first().waitFor();
    await b.shot(page, 'signin-providers', { dark: true });
    await page.getByRole('link', { name: 'Continue with Google', exact: true }).click();
    await page.waitForURL((u) => u.origin === op.issuer);
    await b.shot(page, 'provider-login');
    await providerSignin(page, op, srv, email);
    assert.equal(new URL(page.url()).pathname, '/account', page.url());
    await heading(page, 'Your account');
    assert.equal(await hasSession(ctx), true);
    await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
    const methods = page.locator('section').filter({ has: page.getByRole('heading', { name: 'Sign-in methods' }) });
    assert.ok((await methods.textContent()).includes(email), "the Google identity and its address");
    await methods.getByRole('button', { name: 'Remove Google' }).waitFor();
    await b.shot(page, 'account-google', { dark: true });
    await b.check(page);
    await ctx.close();
  });

  test('Apple: the form_post comes back to our callback by itself; signed in', async () => {
    const op = env.ops.apple;
    const email = `${rand(6)}@privaterelay.appleid.com`;
    op.addUser({ sub: `001${rand(6)}.apple`, email, email_verified: true, is_private_email: true, name: 'Grace Hopper' });
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signin`);
    await page.getByRole('link', { name: 'Continue with Apple', exact: true }).click();
    const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${srv.url}/v1/oauth/apple/callback`);
    await providerSignin(page, op, srv, email);
    const p = await posted;
    assert.ok(/(^|&)code=/.test(p.postData()) && /(^|&)state=/.test(p.postData()), 'a form_post with code and state');
    await page.waitForURL(`${srv.url}/account`);
    await heading(page, 'Your account');
    assert.equal(await hasSession(ctx), true);
    await b.shot(page, 'account-apple');
    await b.check(page);
    await ctx.close();
  });

  test('an address taken by a password account: "Sign in to link", sign in, "Link account", linked', async () => {
    const op = env.ops.google;
    const a = await signup(srv, newEmail('owner'));
    op.addUser({ sub: `g-${rand(6)}`, email: a.email, email_verified: true, name: 'Owner' });
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signin`);
    await page.getByRole('link', { name: 'Continue with Google', exact: true }).click();
    await providerSignin(page, op, srv, a.email);
    assert.equal(new URL(page.url()).pathname, '/signin/link');
    await heading(page, 'Sign in to link your Google account');
    assert.equal(await hasSession(ctx), false, 'no session');
    await b.shot(page, 'signin-link', { dark: true });
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/signin');
    const form = formWith(page, 'Sign in');
    await form.getByLabel('Email', { exact: true }).fill(a.email);
    await form.getByLabel('Password', { exact: true }).fill(a.password);
    await submit(page, form, 'Sign in');
    assert.equal(new URL(page.url()).pathname, '/account/link', page.url());
    await heading(page, 'Link Google?');
    assert.ok((await page.textContent('main')).includes(a.email));
    await b.shot(page, 'account-link');
    await submit(page, page, 'Link account');
    const u = new URL(page.url());
    assert.equal(`${u.pathname}${u.search}`, '/account?linked=1');
    await page.getByRole('status').filter({ hasText: 'Your Google account is linked.' }).waitFor();
    await b.shot(page, 'account-linked');
    assert.equal(sql(srv.dbPath, `SELECT count(*) FROM identities WHERE user_id = '${a.user.id}';`), '1');
    await b.check(page);
    await ctx.close();
  });

  test('a callback that fails: the error page with a way back to sign in', async () => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    const res = await page.goto(`${srv.url}/v1/oauth/google/callback?code=x&state=y`);
    assert.equal(res.status(), 400);
    await heading(page, /^Sign-in with Google didn.t work$/);
    await page.getByRole('link', { name: 'Back to sign in', exact: true }).waitFor();
    await b.shot(page, 'callback-error', { dark: true });
    await b.check(page);
    await ctx.close();
  });
});
