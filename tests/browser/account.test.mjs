// A person's account on Gatehouse's own pages, in Chromium: sign up (the
// address confirmed from the mail), sign out, sign in (a wrong password
// first), change the password; set up an authenticator app (the secret
// read from the page, the code from oathtool), sign in with a code and
// with a backup code, step up; sign another session out from
// /account/sessions; change the email address. Mail goes to a real SMTP
// sink. A page that answers 404 fails its test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signup, markVerified } from '../api/lib/harness.mjs';
import { startBrowser } from './lib/browser.mjs';
import { startGatehouse, startMailSink, hasPages, newEmail, strongPassword } from './lib/servers.mjs';
import { heading, formWith, action, submit, oathtool, signInWithPassword, signOut, hasSession } from './lib/pages.mjs';

describe('account pages', () => {
  let mail; let srv; let b;
  before(async () => {
    mail = await startMailSink();
    // on: sign-up signs in and mails a confirmation link (a factor needs a confirmed address)
    srv = await startGatehouse({ mail, env: { GATEHOUSE_EMAIL_VERIFICATION: 'on' } });
    b = await startBrowser({ tag: 'account', ourOrigins: [srv.url] });
  });
  after(async () => { await b?.close(); await srv?.stop(); mail?.stop(); });

  test('sign up, confirm the address, sign out, sign in (a wrong password first), change the password', async (t) => {
    if (!await hasPages(t, srv, ['/signup', '/signin', '/account', '/verify-email?token=x'])) return;
    const email = newEmail('ada'); const password = strongPassword();
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${srv.url}/signup`);
    await heading(page, 'Create your account');
    await b.shot(page, 'signup', { dark: true });
    const form = formWith(page, 'Create account');
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByLabel('Password', { exact: true }).fill(password);
    await submit(page, form, 'Create account');
    assert.equal(new URL(page.url()).pathname, '/account', page.url());
    await heading(page, 'Your account');
    await b.shot(page, 'account-new');
    // the confirmation link from the mail: the GET page confirms nothing yet
    const link = await mail.link(email, '/verify-email');
    await page.goto(link);
    await heading(page, 'Confirm your email address');
    await page.getByText(email).first().waitFor();
    await b.shot(page, 'verify-email');
    await submit(page, page, 'Confirm');
    await b.shot(page, 'verify-email-done');
    await b.check(page);

    await page.goto(`${srv.url}/account`);
    await heading(page, 'Your account');
    await page.getByText(email).first().waitFor();
    await b.shot(page, 'account', { dark: true });
    await action(page, 'Sign out').click();
    await page.waitForURL(/\/signout(\?|$)/);
    await heading(page, /Sign out/);
    await submit(page, page, 'Sign out');
    await heading(page, 'You are signed out');
    assert.equal(await hasSession(ctx), false);

    const wrong = await signInWithPassword(page, srv.url, email, 'not the password at all');
    assert.equal(wrong.status(), 401);
    await page.getByRole('alert').filter({ hasText: 'Incorrect email or password.' }).waitFor();
    assert.equal(await formWith(page, 'Sign in').getByLabel('Password', { exact: true }).inputValue(), '', 'the password is not shown again');
    await b.shot(page, 'signin-wrong-password');
    await page.goto(`${srv.url}/signin`);
    await b.shot(page, 'signin', { dark: true });
    await signInWithPassword(page, srv.url, email, password);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.equal(await hasSession(ctx), true);

    // change the password on /account; the new one signs in
    const next = strongPassword();
    const pw = formWith(page, 'Change password');
    await pw.getByLabel('Current password', { exact: true }).fill(password);
    await pw.getByLabel('New password', { exact: true }).fill(next);
    await submit(page, pw, 'Change password');
    await page.getByRole('status').first().waitFor();
    await b.shot(page, 'account-password-changed');
    await signOut(page, srv.url);
    await signInWithPassword(page, srv.url, email, next);
    assert.equal(new URL(page.url()).pathname, '/account');
    await b.check(page);
    await ctx.close();
  });

  test('authenticator app: set up from the page, sign in with a code, with a backup code, step up', async (t) => {
    if (!await hasPages(t, srv, ['/signin', '/account', '/account/totp', '/signin/mfa'])) return;
    const a = await signup(srv, newEmail('totp'));
    markVerified(srv, a.user.id);
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await signInWithPassword(page, srv.url, a.email, a.password);
    await heading(page, 'Your account');
    await action(page, 'Set up authenticator app').click();
    await page.waitForURL(`${srv.url}/account/totp`);
    await heading(page, 'Set up your authenticator app');
    // GET /account/totp changes nothing: its "Set up" button makes the key
    // (helper-account's page; the notes' contract had the QR code at once)
    await b.shot(page, 'totp-start');
    await submit(page, page, 'Set up');
    await heading(page, 'Set up your authenticator app');
    const qr = page.getByRole('img', { name: 'QR code' });
    await qr.waitFor();
    assert.ok((await qr.boundingBox()).width >= 100, 'the QR code is big enough to scan');
    const secret = (await page.locator('#totp-secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{16,}$/, 'a base32 secret without spaces');
    await b.shot(page, 'totp-setup', { dark: true });
    const wrongCode = await (async () => {
      await page.getByLabel('Code from the app', { exact: true }).fill('000000');
      return submit(page, page, 'Turn on');
    })();
    assert.equal(wrongCode.status(), 422);
    await page.getByRole('alert').first().waitFor();
    await b.shot(page, 'totp-setup-wrong-code');
    const secretAgain = (await page.locator('#totp-secret').textContent()).trim();
    await page.getByLabel('Code from the app', { exact: true }).fill(oathtool(secretAgain));
    await submit(page, page, 'Turn on');
    await heading(page, 'Save your backup codes');
    const codes = (await page.locator('#backup-codes li').allTextContents()).map((c) => c.trim());
    assert.ok(codes.length >= 8, `backup codes: ${codes.length}`);
    await b.shot(page, 'backup-codes');
    await page.getByRole('link', { name: 'Continue', exact: true }).click();
    await page.waitForURL(`${srv.url}/account`);
    await action(page, 'Get new backup codes').waitFor();
    await b.shot(page, 'account-totp-on');
    await b.check(page);

    // sign in again: the password, then a code from the app
    await signOut(page, srv.url);
    await signInWithPassword(page, srv.url, a.email, a.password);
    assert.equal(new URL(page.url()).pathname, '/signin/mfa', page.url());
    await heading(page, 'Two-step verification');
    assert.equal(await hasSession(ctx), false, 'no session before the second step');
    await b.shot(page, 'signin-mfa');
    await page.getByLabel('Authentication code', { exact: true }).fill('123456');
    const bad = await submit(page, page, 'Verify');
    assert.ok(bad.status() >= 400 && bad.status() < 500, `a wrong code: ${bad.status()}`);
    await page.getByRole('alert').first().waitFor();
    await b.shot(page, 'signin-mfa-wrong-code');
    await page.getByLabel('Authentication code', { exact: true }).fill(oathtool(secretAgain, 1));
    await submit(page, page, 'Verify');
    assert.equal(new URL(page.url()).pathname, '/account', page.url());

    // and with a backup code, once
    await signOut(page, srv.url);
    await signInWithPassword(page, srv.url, a.email, a.password);
    await page.getByLabel('Authentication code', { exact: true }).fill(codes[0]);
    await submit(page, page, 'Verify');
    assert.equal(new URL(page.url()).pathname, '/account', page.url());

    // step up with another backup code, back to the account page
    await page.goto(`${srv.url}/step-up?rd=${encodeURIComponent('/account')}`);
    await page.getByRole('textbox').first().fill(codes[1]);
    await submit(page, page, 'Confirm');
    assert.equal(new URL(page.url()).pathname, '/account', page.url());
    await b.check(page);
    await ctx.close();
  });

  test('sessions and devices: this device marked; sign out another session, then everywhere else', async (t) => {
    if (!await hasPages(t, srv, ['/signin', '/account', '/account/sessions'])) return;
    const a = await signup(srv, newEmail('sessions'));
    const [ctxA, ctxB, ctxC] = await Promise.all([b.newContext(),
      b.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }),
      b.newContext({ userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1' })]);
    const [pa, pb, pc] = await Promise.all([ctxA.newPage(), ctxB.newPage(), ctxC.newPage()]);
    for (const p of [pa, pb, pc]) await signInWithPassword(p, srv.url, a.email, a.password);
    await pa.goto(`${srv.url}/account`);
    await action(pa, 'Sessions and devices').click();
    await pa.waitForURL(`${srv.url}/account/sessions`);
    await heading(pa, 'Sessions and devices');
    const rows = pa.locator('table.sessions tbody tr');
    const n0 = await rows.count(); // A, B, C and the sign-up's own session (if listed)
    assert.ok(n0 >= 3, await pa.locator('table.sessions').innerText());
    const mine = rows.filter({ has: pa.locator('.tag', { hasText: 'This device' }) });
    assert.equal(await mine.count(), 1, 'one row is this device');
    await b.shot(pa, 'sessions', { dark: true });
    // B's row: the one that names Firefox
    const rowB = rows.filter({ hasText: /Firefox/ });
    assert.equal(await rowB.count(), 1, await pa.locator('table.sessions').innerText());
    const btn = rowB.getByRole('button', { name: /^Sign out/ });
    assert.match(await btn.getAttribute('aria-label'), /^Sign out .+/, 'the button names the device');
    await submit(pa, rowB, await btn.getAttribute('aria-label'));
    await heading(pa, 'Sessions and devices');
    assert.equal(await rows.count(), n0 - 1);
    await b.shot(pa, 'sessions-one-signed-out');
    // B is signed out at its next page load
    const rb = await pb.goto(`${srv.url}/account`);
    assert.ok(rb.status() === 401 || new URL(pb.url()).pathname === '/signin', `B: ${rb.status()} ${pb.url()}`);
    await b.shot(pb, 'account-after-revoked');
    // the 401 page links to our sign-in page (GATEHOUSE_SIGNIN_URL unset)
    if (rb.status() === 401) await pb.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
    // everywhere else: C too
    await submit(pa, pa, 'Sign out everywhere else');
    assert.equal(await rows.count(), 1);
    const rc = await pc.goto(`${srv.url}/account`);
    assert.ok(rc.status() === 401 || new URL(pc.url()).pathname === '/signin', `C: ${rc.status()} ${pc.url()}`);
    const ra = await pa.goto(`${srv.url}/account`);
    assert.equal(ra.status(), 200, 'A stays signed in');
    await b.check(pa, pb, pc);
    await Promise.all([ctxA.close(), ctxB.close(), ctxC.close()]);
  });

  test('change email: the link to the new address, its confirmation page, a notice to the old one', async (t) => {
    if (!await hasPages(t, srv, ['/signin', '/account', '/account/email', '/email-change?token=x'])) return;
    const a = await signup(srv, newEmail('old'));
    markVerified(srv, a.user.id);
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await signInWithPassword(page, srv.url, a.email, a.password);
    await action(page, 'Change email').click();
    await page.waitForURL(`${srv.url}/account/email`);
    await heading(page, 'Change your email');
    await b.shot(page, 'email-change');
    const fresh = newEmail('new');
    const form = formWith(page, 'Send confirmation link');
    await form.getByLabel('New email', { exact: true }).fill(fresh);
    await form.getByLabel('Current password', { exact: true }).fill(a.password);
    await submit(page, form, 'Send confirmation link');
    await b.shot(page, 'email-change-sent');
    const link = await mail.link(fresh, '/email-change');
    await page.goto(link);
    await heading(page, 'Confirm your new email address');
    await b.shot(page, 'email-change-confirm');
    await submit(page, page, 'Confirm');
    await b.shot(page, 'email-change-done');
    await page.goto(`${srv.url}/account`);
    await page.getByText(fresh).first().waitFor();
    const deadline = Date.now() + 8000;
    while (!mail.messages().some((m) => m.includes(`To: ${a.email}`) && !/token=/.test(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(mail.messages().some((m) => m.includes(`To: ${a.email}`)), 'the old address was told');
    await b.check(page);
    await ctx.close();
  });
});
