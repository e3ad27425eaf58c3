// The emailed links, in Chromium, with mail in a real SMTP sink: a magic
// link (the GET page asks "Sign in as <email>?" and spends nothing, so a
// mail scanner that opens it signs nobody in; only the button's POST signs
// in; a spent link is the expired-link page), and forgot/reset password.
// A page that answers 404 fails its test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signup } from '../api/lib/harness.mjs';
import { startBrowser } from './lib/browser.mjs';
import { startGatehouse, startMailSink, hasPages, newEmail, strongPassword } from './lib/servers.mjs';
import { heading, formWith, submit, signInWithPassword, hasSession } from './lib/pages.mjs';

const EXPIRED = 'This link has expired or was already used';

describe('links from emails', () => {
  let mail; let srv; let b;
  before(async () => {
    mail = await startMailSink();
    srv = await startGatehouse({ mail });
    b = await startBrowser({ tag: 'links', ourOrigins: [srv.url] });
  });
  after(async () => { await b?.close(); await srv?.stop(); mail?.stop(); });

  test('magic link: request on /signin, the mail, "Sign in as …?" spends nothing, the button signs in once', async (t) => {
    if (!await hasPages(t, srv, ['/signin', '/signin/check-email', '/magic-link?token=x', '/account'])) return;
    const a = await signup(srv, newEmail('magic'));
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signin`);
    await heading(page, 'Sign in');
    const form = formWith(page, 'Email me a sign-in link');
    const field = form.getByLabel('Email', { exact: true });
    assert.equal(await field.getAttribute('id'), 'magic-email');
    await field.fill(a.email);
    await submit(page, form, 'Email me a sign-in link');
    assert.equal(new URL(page.url()).pathname, '/signin/check-email');
    await heading(page, 'Check your email');
    await b.shot(page, 'magic-check-email');
    const link = await mail.link(a.email, '/magic-link');
    assert.ok(link.startsWith(`${srv.url}/magic-link?token=`), link);

    // a scanner (another browser) opens the link: the same question, nothing spent
    const scanner = await b.newContext();
    const sp = await scanner.newPage();
    await sp.goto(link);
    await heading(sp, `Sign in as ${a.email}?`);
    assert.equal(await hasSession(scanner), false);
    await b.check(sp);
    await scanner.close();

    await page.goto(link);
    await heading(page, `Sign in as ${a.email}?`);
    assert.equal(await hasSession(ctx), false, 'the GET page signs nobody in');
    await b.shot(page, 'magic-link-confirm', { dark: true });
    await submit(page, page, 'Sign in');
    assert.equal(new URL(page.url()).pathname, '/account', page.url());
    await heading(page, 'Your account');
    assert.equal(await hasSession(ctx), true);

    // spent: the same link again is the expired-link page, in a fresh browser too
    const again = await b.newContext();
    const ap = await again.newPage();
    const r = await ap.goto(link);
    assert.ok(r.status() >= 400 && r.status() < 500, `a spent link: ${r.status()}`);
    await heading(ap, EXPIRED);
    await b.shot(ap, 'link-expired', { dark: true });
    await b.check(page, ap);
    await Promise.all([ctx.close(), again.close()]);
  });

  test('forgot password: the reset link, a new password, the notice on /signin, sign in with it', async (t) => {
    if (!await hasPages(t, srv, ['/signin', '/forgot-password', '/forgot-password/sent', '/reset-password?token=x'])) return;
    const a = await signup(srv, newEmail('reset'));
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signin`);
    await page.getByRole('link', { name: 'Forgot password?', exact: true }).click();
    await page.waitForURL(`${srv.url}/forgot-password`);
    await b.shot(page, 'forgot-password');
    const form = formWith(page, 'Send reset link');
    await form.getByLabel('Email', { exact: true }).fill(a.email);
    await submit(page, form, 'Send reset link');
    assert.equal(new URL(page.url()).pathname, '/forgot-password/sent');
    await b.shot(page, 'forgot-password-sent');
    const link = await mail.link(a.email, '/reset-password');
    await page.goto(link);
    await heading(page, 'Choose a new password');
    await b.shot(page, 'reset-password');
    // too weak first (long enough for the field's minlength): the form
    // again with the error, the link not spent
    await page.getByLabel('New password', { exact: true }).fill('passwordpassword');
    const weak = await submit(page, page, 'Set password');
    assert.equal(weak.status(), 422);
    await page.getByRole('alert').first().waitFor();
    await b.shot(page, 'reset-password-weak');
    const next = strongPassword();
    await page.getByLabel('New password', { exact: true }).fill(next);
    await submit(page, page, 'Set password');
    const u = new URL(page.url());
    assert.equal(`${u.pathname}${u.search}`, '/signin?reset=done');
    await page.getByRole('status').filter({ hasText: 'Your password was changed. Sign in with the new one.' }).waitFor();
    await b.shot(page, 'signin-after-reset');
    const old = await signInWithPassword(page, srv.url, a.email, a.password);
    assert.equal(old.status(), 401, 'the old password no longer works');
    await signInWithPassword(page, srv.url, a.email, next);
    assert.equal(new URL(page.url()).pathname, '/account');
    await b.check(page);
    await ctx.close();
  });
});
