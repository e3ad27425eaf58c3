// How a person uses the pages, in the words the pages show
// (/work/notes "URLs, fields and visible labels"; docs/api.md "Pages"):
// headings, labels and button names, never CSS selectors, except the
// few ids the contract names (#totp-secret, #backup-codes, #magic-email).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** Waits for the page's one h1 to be `name` (a string is matched whole, a RegExp as it is). */
export async function heading(page, name) {
  const h = page.getByRole('heading', { level: 1 });
  await h.first().waitFor();
  const texts = (await h.allTextContents()).map((t) => t.trim().replace(/\s+/g, ' '));
  assert.equal(texts.length, 1, `one h1 on ${page.url()}: ${JSON.stringify(texts)}`);
  if (name instanceof RegExp) assert.match(texts[0], name, page.url());
  else assert.equal(texts[0], name, page.url());
}

/** The form whose submit button is named `button` (a page may hold several forms). */
export function formWith(page, button) {
  return page.locator('form').filter({ has: page.getByRole('button', { name: button, exact: true }) });
}

/** A link or a button named `name` (the contract allows either for some actions). */
export function action(page, name) {
  return page.getByRole('link', { name, exact: true }).or(page.getByRole('button', { name, exact: true })).first();
}

/**
 * Clicks `button` (in scope, a page or a form) and waits for the page the
 * POST leads to; returns the final main response (after any 303).
 */
export async function submit(page, scope, button) {
  const [res] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    scope.getByRole('button', { name: button, exact: true }).click(),
  ]);
  return res;
}

/** A TOTP code for a base32 secret with Debian's oathtool (offset: 30 s steps). */
export function oathtool(secret, offset = 0) {
  const at = Math.floor(Date.now() / 1000) + offset * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

/** The sign-in page's password form: fill and send; returns the response. */
export async function signInWithPassword(page, base, email, password, { rd } = {}) {
  await page.goto(`${base}/signin${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`);
  await heading(page, 'Sign in');
  const form = formWith(page, 'Sign in');
  await form.getByLabel('Email', { exact: true }).fill(email);
  await form.getByLabel('Password', { exact: true }).fill(password);
  return submit(page, form, 'Sign in');
}

/** Signs out through GET /signout's button; lands on /signout/done. */
export async function signOut(page, base) {
  await page.goto(`${base}/signout`);
  await submit(page, page, 'Sign out');
  assert.equal(new URL(page.url()).pathname, '/signout/done');
}

/** Whether the context holds a session cookie (any of its names). */
export async function hasSession(context) {
  return (await context.cookies()).some((c) => /^(__Host-|__Secure-)?gh_session$/.test(c.name) && c.value);
}
