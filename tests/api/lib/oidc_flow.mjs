// A browser's moves through Gatehouse's federated sign-in (docs/api.md
// "Federated sign-in"), over node:http so that the cookies, Origin and
// Sec-Fetch-Site are exactly what a test sends, against the real provider
// of lib/oidc_op.mjs. The servers run with insecure development cookies, so
// the cookies are gh_oauth, gh_session, gh_csrf, gh_mfa, gh_link, gh_form.

import assert from 'node:assert/strict';
import { req, cookiesOf } from './browser.mjs';
import { sql } from './harness.mjs';

export const OAUTH = 'gh_oauth';
export const SESSION = 'gh_session';
export const CSRF = 'gh_csrf';
export const MFA = 'gh_mfa';
export const LINK = 'gh_link';
export const FORM = 'gh_form';

/** The error page's heading (the apostrophe may be escaped). */
export const didntWork = (display) => new RegExp(`<h1>Sign-in with ${display} didn(?:'|&#39;|&#x27;|&apos;|\u2019)t work</h1>`);

/** Joins cookie values {name: value} (undefined skipped) into a Cookie header. */
export function cookieHeader(obj) {
  return Object.entries(obj).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${v}`).join('; ');
}

/** A set cookie's value, or undefined; a deleting Set-Cookie (Max-Age=0) counts as none. */
export function setValue(res, name) {
  const c = cookiesOf(res)[name];
  if (!c || c.attrs.includes('Max-Age=0') || c.value === '') return undefined;
  return c.value;
}

/**
 * GET /v1/oauth/{provider}/start. Returns {res, location (URL), state, nonce,
 * oauth (the gh_oauth cookie value), cookie (what the browser sends back)}.
 */
export async function start(srv, provider, { rd, link, cookie = '' } = {}) {
  const q = new URLSearchParams();
  if (rd !== undefined) q.set('rd', rd);
  if (link) q.set('link', '1');
  const p = `/v1/oauth/${provider}/start${q.size ? `?${q}` : ''}`;
  const res = await req(srv, 'GET', p, { cookie: cookie || undefined });
  assert.equal(res.status, 303, `${p}: ${res.status} ${res.text.slice(0, 300)}`);
  const location = new URL(res.headers.location);
  const oauth = setValue(res, OAUTH);
  assert.ok(oauth, `${p}: sets ${OAUTH}: ${res.setCookie}`);
  return {
    res,
    location,
    state: location.searchParams.get('state'),
    nonce: location.searchParams.get('nonce'),
    oauth,
    cookie: cookieHeader({ ...parse(cookie), [OAUTH]: oauth }),
  };
}

function parse(cookie) {
  const out = {};
  for (const part of (cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * Sends what the provider gave the browser (op.login's {method, url, form})
 * to Gatehouse's callback, with cookie. A form_post arrives as the
 * cross-site POST it is (Origin the provider's, Sec-Fetch-Site cross-site).
 */
export async function callback(srv, cb, { cookie, origin, headers = {} } = {}) {
  const u = new URL(cb.url);
  assert.equal(`${u.protocol}//${u.host}`, srv.url, `the callback is ours: ${cb.url}`);
  if (cb.method === 'POST') {
    return req(srv, 'POST', u.pathname + u.search, {
      form: cb.form,
      cookie,
      headers: { Origin: origin ?? 'null', 'Sec-Fetch-Site': 'cross-site', ...headers },
    });
  }
  return req(srv, 'GET', u.pathname + u.search, { cookie, headers: { 'Sec-Fetch-Site': 'cross-site', ...headers } });
}

/**
 * The whole browser flow: start, sign in at the provider as sub, the callback.
 * Returns {s (start), cb (what the provider sent), res (Gatehouse's answer),
 * session, csrf (cookie values or undefined), cookie (the session's Cookie header)}.
 */
export async function browserSignin(srv, op, provider, sub, { rd, link, cookie, beforeCallback } = {}) {
  const s = await start(srv, provider, { rd, link, cookie });
  const cb = await op.login(s.location.href, { sub });
  if (beforeCallback) await beforeCallback(cb, s);
  const res = await callback(srv, cb, { cookie: s.cookie, origin: op.issuer });
  const session = setValue(res, SESSION);
  const csrf = setValue(res, CSRF);
  return { s, cb, res, session, csrf, cookie: session ? cookieHeader({ [SESSION]: session, [CSRF]: csrf }) : undefined };
}

/** What a refusal must leave untouched: the counts of accounts, identities, sessions. */
export function snapshot(srv) {
  const n = (q) => Number(sql(srv.dbPath, q));
  return {
    users: n('SELECT count(*) FROM users;'),
    identities: n('SELECT count(*) FROM identities;'),
    sessions: n('SELECT count(*) FROM sessions;'),
    refresh: n('SELECT count(*) FROM refresh_tokens;'),
    links: n('SELECT count(*) FROM audit_log WHERE action = \'identity.linked\';'),
    signins: n('SELECT count(*) FROM audit_log WHERE action = \'signin.success\';'),
  };
}

/** Asserts a refused callback: status, the error page, no cookies that sign in, nothing changed. */
export function assertRefused(srv, res, before, { status = 400, display, what = '' } = {}) {
  const ctx = `${what}: ${res.status} ${res.text.slice(0, 400)}`;
  assert.equal(res.status, status, ctx);
  assert.match(res.headers['content-type'] || '', /^text\/html/, ctx);
  if (display) assert.match(res.text, didntWork(display), ctx);
  assert.match(res.text, /Back to sign in<\/a>/, ctx);
  assert.equal(setValue(res, SESSION), undefined, `${what}: no session cookie`);
  assert.equal(setValue(res, MFA), undefined, `${what}: no second-factor step`);
  assert.equal(setValue(res, LINK), undefined, `${what}: no pending link`);
  assert.deepEqual(snapshot(srv), before, `${what}: nothing changed`);
}

/** The identities rows of a provider's subject. */
export function identityOf(srv, provider, subject) {
  const out = sql(srv.dbPath, `SELECT user_id, email FROM identities WHERE provider = '${provider}' AND subject = '${subject.replace(/'/g, "''")}';`);
  if (!out) return null;
  const [userId, email] = out.split('|');
  return { userId, email };
}

/** GET /v1/me by cookie. */
export async function meByCookie(srv, cookie) {
  return req(srv, 'GET', '/v1/me', { cookie });
}
