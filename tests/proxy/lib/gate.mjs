// Gatehouse as the quickstarts set it up: public URL https://auth.example.com,
// cookie domain example.com, the app's own sign-in page, the proxy on
// loopback trusted, and the rules of docs/examples/rules.yml.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, strongPassword, markVerified, decodePart } from '../../api/lib/harness.mjs';
import { EXAMPLES, PUBLIC_URL, SIGNIN_URL, APP_HOST, AUTH_HOST } from './proxies.mjs';

export const RULES_FILE = path.join(EXAMPLES, 'rules.yml');
export const ENV_FILE = path.join(EXAMPLES, 'gatehouse.env');

/**
 * The settings of docs/examples/gatehouse.env, less the four the harness
 * sets itself (mode, address, data directory, master key: a test server is
 * a development one on a free port in a temporary directory), with the
 * rules file's path in this checkout.
 */
export function exampleEnv() {
  const env = {};
  for (const line of fs.readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const m = /^(GATEHOUSE_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  for (const k of ['GATEHOUSE_ENV', 'GATEHOUSE_LISTEN', 'GATEHOUSE_DATA_DIR', 'GATEHOUSE_MASTER_KEY_FILE']) {
    assert.ok(k in env, `gatehouse.env sets ${k}`);
    delete env[k];
  }
  assert.equal(env.GATEHOUSE_PUBLIC_URL, PUBLIC_URL);
  assert.equal(env.GATEHOUSE_SIGNIN_URL, undefined, 'the examples use Gatehouse\'s own sign-in page');
  assert.equal(env.GATEHOUSE_CORS_ORIGINS, `https://${APP_HOST}`);
  assert.ok(env.GATEHOUSE_ACCESS_RULES, 'gatehouse.env names the rules file');
  env.GATEHOUSE_ACCESS_RULES = RULES_FILE;
  return env;
}

export async function startGate({ remoteHeaders = false, env = {} } = {}) {
  return startServer({
    env: { ...exampleEnv(), GATEHOUSE_GATE_REMOTE_HEADERS: remoteHeaders ? 'on' : 'off', ...env },
  });
}

export function oathtool(secret, offset = 0) {
  const at = Math.floor(Date.now() / 1000) + offset * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

/**
 * The JSON API of Gatehouse, reached through the proxy as a person would
 * (https://auth.example.com/v1/...). d.send is the proxy driver's send.
 */
export function authApi(d) {
  async function call(method, p, { json, token, headers = {} } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    let body;
    if (json !== undefined) { body = JSON.stringify(json); h['Content-Type'] = 'application/json'; }
    const r = await d.send({ host: AUTH_HOST, method, path: p, headers: h, body });
    return r;
  }
  return {
    call,
    async signup(email = `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}@example.com`, password = strongPassword()) {
      const r = await call('POST', '/v1/signup', { json: { email, password } });
      assert.equal(r.status, 201, `signup through the proxy: ${r.status} ${r.body.slice(0, 300)}`);
      return { email, password, user: r.json.user, access: r.json.access_token, sid: decodePart(r.json.access_token, 1).sid };
    },
    async signin(email, password) {
      const r = await call('POST', '/v1/signin', { json: { email, password } });
      assert.equal(r.status, 200, `signin: ${r.status} ${r.body.slice(0, 300)}`);
      return r.json;
    },
    /** A cookie sign-in from the app's own page; returns the cookie to send back and the Set-Cookie lines. */
    async signinCookie(email, password) {
      const r = await call('POST', '/v1/signin', { json: { email, password, mode: 'cookie' }, headers: { Origin: `https://${APP_HOST}` } });
      assert.equal(r.status, 200, `cookie signin: ${r.status} ${r.body.slice(0, 300)}`);
      const lines = r.rawHead.split('\r\n').filter((l) => /^set-cookie:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim());
      // (a sign-in also expires the names the cookie had before: skip those)
      const sess = lines.find((l) => /^(__Secure-|__Host-)?gh_session=[^;]/.test(l));
      assert.ok(sess, `a session cookie is set: ${lines.join(' | ')}`);
      const csrf = lines.find((l) => /^(__Secure-|__Host-)?gh_csrf=[^;]/.test(l));
      return { cookie: sess.split(';')[0], csrfCookie: csrf && csrf.split(';')[0], setCookie: lines, json: r.json };
    },
  };
}

/**
 * Enrols TOTP for an account (its address marked proved first); returns
 * {secret, backup}. The confirming session stays (every other one ends):
 * with cookie (from authApi.signinCookie) it is that cookie session.
 */
export async function enrolTotp(gate, a, acct, cookie) {
  markVerified(gate, acct.user.id);
  const as = cookie
    ? { headers: { Cookie: cookie.cookie, 'X-CSRF-Token': cookie.csrfCookie.split('=')[1], Origin: PUBLIC_URL } }
    : { token: acct.access };
  const b = await a.call('POST', '/v1/mfa/totp', as);
  assert.equal(b.status, 200, b.body);
  const c = await a.call('POST', '/v1/mfa/totp/confirm', { ...as, json: { code: oathtool(b.json.secret) } });
  assert.equal(c.status, 200, c.body);
  return { secret: b.json.secret, backup: c.json.backup_codes };
}
