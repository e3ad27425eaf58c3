// A real, independent OpenID provider for the federation tests: the npm
// package oidc-provider (a certified implementation; exact version in
// tests/api/package-lock.json), started on loopback in one of two shapes:
//
//   google: authorization code + PKCE (S256, required), response_mode query,
//           the client authenticates with client_secret_basic, ID token claims
//           sub, email, email_verified (JSON boolean), name.
//   apple:  response_mode form_post; the client secret is an ES256 JWT the
//           client signs with its team's P-256 key (iss team id, sub client
//           id, aud the issuer, kid the key id) sent as client_secret in the
//           token request's body, as Apple documents it; email_verified is the
//           string "true"; the person's name comes only with the first
//           authorization, in a `user` form field of the form_post (outside
//           OIDC: this harness adds it to the provider's form_post page).
//
// Everything reaches the provider through a loopback relay that this
// harness owns (the issuer URL is the relay's): it forwards every request
// as is, and when armed rewrites the ID token in the token endpoint's answer
// (op.tamper(kind)) for the attack tests, re-signing with the provider's
// real key where the attack needs a valid signature.
//
// The login page (/interaction/:uid) is a small real HTML form, so a person
// or a headless browser can use it; op.login(authorizeUrl, {sub}) drives the
// same form over HTTP with its own cookie jar and returns what the browser
// would then send to the relying party's callback: {method, url, form}.
//
//   const op = await startOp('google', {redirectUri});
//   op.addUser({sub: 's1', email: 'a@example.com', email_verified: true, name: 'A'});
//   const cb = await op.login(authorizeUrl, {sub: 's1'});
//   ...
//   await op.stop();

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { URL, URLSearchParams } from 'node:url';
import * as jose from 'jose';
import Provider from 'oidc-provider';
import { freePort, mkTempDir, startServer } from './harness.mjs';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const unesc = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|#(\d+));/g, (m, n, d) => (
  d ? String.fromCharCode(Number(d)) : { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" }[n]));

/** Rewrites of the token endpoint's id_token for attack tests (op.tamper(kind)). */
export const TAMPER_KINDS = Object.freeze([
  'alg_none', // header alg "none", no signature
  'unknown_key', // signed by a key the JWKS lacks (a kid the JWKS does not have)
  'unknown_key_same_kid', // signed by another key under the provider's real kid
  'hs256_public_key', // HS256 with the provider's public key as the HMAC secret
  'other_audience', // aud another client, re-signed with the real key
  'expired', // exp an hour ago, re-signed
  'other_issuer', // iss another issuer, re-signed
  'wrong_nonce', // another nonce, re-signed
  'missing_nonce', // no nonce claim, re-signed
  'email_unverified', // email_verified false, re-signed
  'bad_signature', // the real token with one signature byte flipped
  'rotated_key', // signed by the key of op.rotateKey() (a new kid the JWKS now serves): valid
]);

function b64json(o) {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/** A tiny cookie jar: name -> value (paths ignored: the names are unique here). */
class Jar {
  constructor() { this.c = new Map(); }
  take(setCookie) {
    for (const line of setCookie || []) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.c.delete(name);
      else this.c.set(name, value);
    }
  }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
}

function httpReq(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const h = { ...headers };
    if (body !== undefined) h['Content-Length'] = String(Buffer.byteLength(body));
    const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.setTimeout(15000, () => r.destroy(new Error(`oidc_op: ${method} ${url} timed out`)));
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/** Parses a form_post page: {action, form} (the hidden inputs). */
export function parseFormPost(html) {
  const m = /<form[^>]*method="post"[^>]*action="([^"]*)"/i.exec(html);
  if (!m) throw new Error(`oidc_op: not a form_post page:\n${html.slice(0, 500)}`);
  const form = {};
  for (const i of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/?>/g)) form[unesc(i[1])] = unesc(i[2]);
  return { action: unesc(m[1]), form };
}

function loginPage(uid, details, users, error = '') {
  const client = details.params.client_id;
  const opts = users.map((u) => `<option value="${esc(u.sub)}">${esc(u.email || u.sub)}</option>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test provider: sign in</title>
<style>body{font-family:sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}label,input,select,button{display:block;width:100%;margin:.4rem 0;font-size:1rem}button{padding:.6rem}</style>
</head><body><main>
<h1>Test provider</h1>
<p>Sign in to continue to <strong>${esc(client)}</strong>.</p>
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="sub">Account</label>
<select id="sub" name="sub">${opts}</select>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>
</main></body></html>`;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts a provider of the given shape.
 * @param {'google'|'apple'} shape
 * @param {object} o
 * @param {string} o.redirectUri       the relying party's callback
 * @param {string} [o.clientId]
 * @param {string[]} [o.extraClients]  more client ids (e.g. native apps), same secret
 */
export async function startOp(shape, { redirectUri, clientId, extraClients = [] } = {}) {
  if (shape !== 'google' && shape !== 'apple') throw new Error(`oidc_op: unknown shape ${shape}`);
  if (!redirectUri) throw new Error('oidc_op: redirectUri is required');
  const opPort = await freePort();
  const relayPort = await freePort();
  const issuer = `http://127.0.0.1:${relayPort}`;
  const apple = shape === 'apple';
  clientId = clientId || (apple ? 'com.example.gatehouse.web' : `web-${crypto.randomBytes(4).toString('hex')}.apps.example.com`);
  const clientSecret = crypto.randomBytes(24).toString('base64url');

  // The provider's signing key (RS256, as Google's and Apple's), per run.
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const kid = `op-${crypto.randomBytes(6).toString('hex')}`;
  const privateJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk;

  // Apple: the team's P-256 key the relying party signs its client secret with.
  let team = null;
  if (apple) {
    const kp = await jose.generateKeyPair('ES256', { extractable: true });
    const dir = mkTempDir('gatehouse-apple-key-');
    const keyFile = path.join(dir, 'AuthKey.p8');
    fs.writeFileSync(keyFile, await jose.exportPKCS8(kp.privateKey), { mode: 0o600 });
    team = { teamId: 'TEAM123456', keyId: 'KEY7654321', keyFile, dir, publicKey: kp.publicKey, privateKey: kp.privateKey };
  }

  const users = new Map();
  const authorizedOnce = new Set(); // Apple: subs that had their first authorization
  const interactionSub = new Map(); // interaction uid -> sub that signed in
  const clientAuths = []; // Apple: every client secret checked {ok, reason, header, payload}
  const tokenRequests = []; // every token request body seen by the relay (params only)

  const clients = [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: apple ? 'client_secret_post' : 'client_secret_basic',
  }];
  for (const id of extraClients) {
    clients.push({ ...clients[0], client_id: id, redirect_uris: [redirectUri] });
  }

  const configuration = {
    clients,
    jwks: { keys: [privateJwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    scopes: ['openid', 'email', 'profile', 'name'],
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified', 'is_private_email'], profile: ['name'], name: [] },
    // Google and Apple put the requested claims in the ID token of the code
    // flow; the relying party reads them there.
    conformIdTokenClaims: false,
    pkce: { required: () => !apple },
    features: { devInteractions: { enabled: false } },
    responseTypes: ['code'],
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const u = users.get(sub);
      if (!u) return undefined;
      return {
        accountId: sub,
        async claims() {
          const c = { sub };
          if (u.email !== undefined) c.email = u.email;
          if (u.email_verified !== undefined) c.email_verified = apple ? String(u.email_verified) : u.email_verified;
          if (!apple && u.name !== undefined) c.name = u.name;
          if (apple && u.is_private_email !== undefined) c.is_private_email = String(u.is_private_email);
          return c;
        },
      };
    },
    // First-party test provider: every sign-in is granted openid email
    // profile (no consent screen).
    async loadExistingGrant(ctx) {
      const accountId = ctx.oidc.session.accountId;
      const clientId2 = ctx.oidc.client.clientId;
      const existing = ctx.oidc.session.grantIdFor(clientId2);
      if (existing) {
        const g = await ctx.oidc.provider.Grant.find(existing);
        if (g) return g;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: clientId2, accountId });
      grant.addOIDCScope('openid email profile name');
      grant.addOIDCClaims(['email', 'email_verified', 'is_private_email', 'name']);
      await grant.save();
      ctx.oidc.session.grantIdFor(clientId2, grant.jti);
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test provider: error</title></head><body><main><h1>Test provider: error</h1><pre>${esc(out.error)}: ${esc(out.error_description || '')}</pre></main></body></html>`;
    },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => { process.stderr.write(`oidc_op server_error: ${err.stack}\n`); });

  // Apple's client secret: an ES256 JWT by the team's key, sent as client_secret.
  if (apple) {
    const orig = provider.Client.prototype.compareClientSecret;
    provider.Client.prototype.compareClientSecret = async function compare(actual) {
      if (!clients.some((c) => c.client_id === this.clientId)) return orig.call(this, actual);
      const rec = { ok: false, reason: '', header: null, payload: null };
      clientAuths.push(rec);
      try {
        rec.header = jose.decodeProtectedHeader(actual);
        const { payload } = await jose.jwtVerify(actual, team.publicKey, {
          algorithms: ['ES256'], issuer: team.teamId, subject: this.clientId, audience: issuer, maxTokenAge: 15777000,
        });
        rec.payload = payload;
        if (rec.header.kid !== team.keyId) throw new Error(`kid ${rec.header.kid} is not ${team.keyId}`);
        if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number') throw new Error('exp and iat are required');
        rec.ok = true;
        return true;
      } catch (e) {
        rec.reason = e.message;
        return false;
      }
    };
  }

  // Apple's `user` form field: the name (and address) with the first
  // authorization of a subject only, added to the form_post page.
  provider.use(async (ctx, next) => {
    await next();
    if (!apple || typeof ctx.body !== 'string' || !ctx.body.includes('<title>Submitting Callback</title>')) return;
    const m = /^\/auth\/([^/]+)$/.exec(ctx.path);
    const sub = (m && interactionSub.get(m[1])) || ctx.oidc?.session?.accountId;
    const u = sub && users.get(sub);
    if (!u || authorizedOnce.has(sub) || !/name="code"/.test(ctx.body)) return;
    authorizedOnce.add(sub);
    if (!u.name) return;
    const [firstName, ...rest] = u.name.split(' ');
    const user = JSON.stringify({ name: { firstName, lastName: rest.join(' ') }, email: u.email });
    ctx.body = ctx.body.replace('<noscript>', `<input type="hidden" name="user" value="${esc(user)}"/>\n    <noscript>`);
  });

  async function interaction(req, res, url) {
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(url.pathname);
    if (!m) { res.writeHead(404).end(); return; }
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1]) throw new Error('interaction mismatch');
      if (req.method === 'GET' && !m[2]) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(loginPage(details.uid, details, [...users.values()]));
        return;
      }
      if (req.method !== 'POST' || !m[2]) { res.writeHead(405).end(); return; }
      const form = new URLSearchParams(await readBody(req));
      if (m[2] === 'abort') {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the person cancelled' }, { mergeWithLastSubmission: false });
        return;
      }
      const sub = form.get('sub');
      const u = users.get(sub);
      if (!u) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(loginPage(details.uid, details, [...users.values()], 'No such account.'));
        return;
      }
      interactionSub.set(details.uid, sub);
      const login = { accountId: sub };
      if (u.amr) login.amr = u.amr;
      await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(`interaction failed: ${e.message}`);
    }
  }

  const opCallback = provider.callback();
  const opServer = http.createServer((req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/interaction/')) interaction(req, res, url);
    else opCallback(req, res);
  });
  await new Promise((r) => opServer.listen(opPort, '127.0.0.1', r));

  // ---- the relay ------------------------------------------------------------
  let armed = null; // {kind, once}
  const tampered = []; // {kind, before, after}: what the relay did
  let down = false; // relay refuses connections (stopped listening)
  let hang = false; // relay accepts and never answers
  let rotated = null; // {privateKey, kid, publicJwk}: a key the relay adds to the JWKS
  let jwksFetches = 0;
  const secretsSeen = []; // per token request: code, code_verifier, client_secret, access_token, id_token

  async function tamperIdToken(idToken, kind) {
    const [h, p, s] = idToken.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const now = Math.floor(Date.now() / 1000);
    const resign = async (pl, hd = header, key = privateKey) => new jose.SignJWT(pl).setProtectedHeader(hd).sign(key);
    switch (kind) {
      case 'alg_none': return `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(payload)}.`;
      case 'unknown_key': {
        const k = await jose.generateKeyPair('RS256');
        return resign(payload, { alg: 'RS256', kid: `unknown-${crypto.randomBytes(4).toString('hex')}` }, k.privateKey);
      }
      case 'unknown_key_same_kid': {
        const k = await jose.generateKeyPair('RS256');
        return resign(payload, header, k.privateKey);
      }
      case 'hs256_public_key': {
        const pem = await jose.exportSPKI(await jose.importJWK(publicJwk, 'RS256'));
        const hd = b64json({ alg: 'HS256', kid });
        const body = b64json(payload);
        const sig = crypto.createHmac('sha256', pem).update(`${hd}.${body}`).digest('base64url');
        return `${hd}.${body}.${sig}`;
      }
      case 'other_audience': return resign({ ...payload, aud: 'another-client.apps.example.com', azp: 'another-client.apps.example.com' });
      case 'expired': return resign({ ...payload, iat: now - 7200, exp: now - 3600 });
      case 'other_issuer': return resign({ ...payload, iss: 'https://issuer.example.net' });
      case 'wrong_nonce': return resign({ ...payload, nonce: crypto.randomBytes(16).toString('base64url') });
      case 'missing_nonce': { const { nonce, ...rest } = payload; return resign(rest); }
      case 'email_unverified': return resign({ ...payload, email_verified: apple ? 'false' : false });
      case 'rotated_key': {
        if (!rotated) throw new Error('oidc_op: rotated_key needs op.rotateKey() first');
        return resign(payload, { ...header, kid: rotated.kid }, rotated.privateKey);
      }
      case 'bad_signature': {
        const sig = Buffer.from(s, 'base64url');
        sig[sig.length >> 1] ^= 1;
        return `${h}.${p}.${sig.toString('base64url')}`;
      }
      default: throw new Error(`oidc_op: unknown tamper kind ${kind}`);
    }
  }

  const relay = http.createServer(async (req, res) => {
    if (hang) return; // never answers (the client's timeout must fire)
    const body = await readBody(req);
    const url = new URL(req.url, issuer);
    const isToken = req.method === 'POST' && url.pathname === '/token';
    if (isToken) {
      const params = Object.fromEntries(new URLSearchParams(body));
      secretsSeen.push({ code: params.code, code_verifier: params.code_verifier, client_secret: params.client_secret });
      delete params.client_secret;
      delete params.code_verifier;
      tokenRequests.push({ params, basic: /^basic /i.test(req.headers.authorization || '') });
    }
    const headers = { ...req.headers };
    delete headers['content-length'];
    const up = await httpReq(`http://127.0.0.1:${opPort}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body })
      .catch((e) => ({ status: 502, headers: { 'content-type': 'text/plain' }, text: e.message }));
    let text = up.text;
    if (req.method === 'GET' && url.pathname === '/jwks') {
      jwksFetches++;
      if (rotated && up.status === 200) {
        const j = JSON.parse(text);
        j.keys.push(rotated.publicJwk);
        text = JSON.stringify(j);
      }
    }
    if (isToken && up.status === 200) {
      const j = JSON.parse(text);
      Object.assign(secretsSeen.at(-1), { access_token: j.access_token, id_token: j.id_token });
    }
    if (isToken && armed && up.status === 200) {
      const j = JSON.parse(text);
      const kind = armed.kind;
      if (armed.once) armed = null;
      const before = j.id_token;
      j.id_token = await tamperIdToken(j.id_token, kind);
      tampered.push({ kind, before, after: j.id_token });
      text = JSON.stringify(j);
    }
    const out = { ...up.headers };
    delete out['content-length'];
    delete out['transfer-encoding'];
    delete out.connection;
    delete out['keep-alive'];
    out['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(up.status, out);
    res.end(text);
  });
  const sockets = new Set();
  relay.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => relay.listen(relayPort, '127.0.0.1', r));

  async function relayDown() {
    if (down) return;
    down = true;
    await new Promise((r) => { relay.close(() => r()); for (const s of sockets) s.destroy(); });
  }

  // ---- the programmatic browser ----------------------------------------------
  /**
   * Follows an authorization URL as a browser would, signing in as sub on the
   * login page. Returns what the browser then sends to the relying party:
   * {method: 'GET', url} (query) or {method: 'POST', url, form} (form_post);
   * an OAuth error redirect comes back the same way (error= in url or form).
   */
  async function login(authorizeUrl, { sub, jar = new Jar(), maxHops = 10 } = {}) {
    let url = authorizeUrl;
    let method = 'GET';
    let body;
    for (let hop = 0; hop < maxHops; hop++) {
      const u = new URL(url);
      if (u.origin !== issuer) {
        return { method: 'GET', url };
      }
      const headers = { Cookie: jar.header() };
      if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
      const r = await httpReq(url, { method, headers, body });
      jar.take(r.headers['set-cookie']);
      if (r.status >= 300 && r.status < 400) {
        url = new URL(r.headers.location, url).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      if (r.status === 200 && /<title>Submitting Callback<\/title>/.test(r.text)) {
        const fp = parseFormPost(r.text);
        return { method: 'POST', url: fp.action, form: fp.form };
      }
      const im = /action="(\/interaction\/[^"/]+\/login)"/.exec(r.text);
      if (r.status === 200 && im) {
        if (sub === undefined) throw new Error('oidc_op.login: the provider asks for a sign-in and no sub was given');
        url = new URL(unesc(im[1]), issuer).href;
        method = 'POST';
        body = new URLSearchParams({ sub }).toString();
        continue;
      }
      throw new Error(`oidc_op.login: unexpected ${r.status} at ${url}:\n${r.text.slice(0, 800)}`);
    }
    throw new Error('oidc_op.login: too many hops');
  }

  return {
    shape,
    issuer,
    clientId,
    clientSecret,
    redirectUri,
    provider,
    team,
    kid,
    privateJwk,
    publicJwk,
    privateKey,
    users,
    clientAuths,
    tokenRequests,
    /** The secrets each token request carried and got (for tests that look for them in logs). */
    secretsSeen,
    tampered,
    Jar,
    /** Adds or replaces an account: {sub, email, email_verified, name, amr, is_private_email}. */
    addUser(u) {
      if (!u || typeof u.sub !== 'string') throw new Error('oidc_op.addUser: sub is required');
      users.set(u.sub, { ...u });
      return u;
    },
    /** Changes an account's claims (e.g. a new email: the sub stays). */
    updateUser(sub, changes) { Object.assign(users.get(sub), changes); },
    login,
    /** Arms the relay: the next token answer's id_token is rewritten (kind in TAMPER_KINDS). */
    tamper(kind, { once = true } = {}) {
      if (!TAMPER_KINDS.includes(kind)) throw new Error(`oidc_op: unknown tamper kind ${kind}`);
      armed = { kind, once };
    },
    disarm() { armed = null; },
    /** The provider publishes a new signing key (a new kid) beside the old one;
     *  tamper('rotated_key') then signs a token with it. */
    async rotateKey() {
      const k = await jose.generateKeyPair('RS256', { extractable: true });
      const rkid = `op-rotated-${crypto.randomBytes(4).toString('hex')}`;
      rotated = { privateKey: k.privateKey, kid: rkid, publicJwk: { ...(await jose.exportJWK(k.publicKey)), kid: rkid, alg: 'RS256', use: 'sig' } };
      return rkid;
    },
    /** How many times the JWKS was fetched through the relay. */
    jwksFetches: () => jwksFetches,
    /** Signs an ID token with the provider's real key (native-flow tests). */
    async signIdToken(claims, { key = privateKey, header = { alg: 'RS256', kid, typ: 'JWT' } } = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new jose.SignJWT({ iss: issuer, iat: now, exp: now + 600, ...claims }).setProtectedHeader(header).sign(key);
    },
    /** Redeems a code at the token endpoint as the web client would (PKCE verifier, client auth). */
    async redeem(code, { verifier, redirect = redirectUri, client = clientId } = {}) {
      const params = { grant_type: 'authorization_code', code, redirect_uri: redirect };
      if (verifier) params.code_verifier = verifier;
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
      if (apple) {
        params.client_id = client;
        params.client_secret = await this.appleClientSecret({ client });
      } else {
        headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(client)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
      }
      const r = await httpReq(`${issuer}/token`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
      let json = null;
      try { json = JSON.parse(r.text); } catch { /* not JSON */ }
      return { status: r.status, json, text: r.text };
    },
    /** Apple: a client secret as Apple wants it (what the relying party must make). */
    async appleClientSecret({ client = clientId, key = team?.privateKey, keyId = team?.keyId, aud = issuer } = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new jose.SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: keyId })
        .setIssuer(team.teamId).setSubject(client).setAudience(aud).setIssuedAt(now).setExpirationTime(now + 600).sign(key);
    },
    /** Gatehouse's settings for this provider under NAME (upper case). */
    gatehouseEnv(name = shape.toUpperCase()) {
      const e = {
        [`GATEHOUSE_OIDC_${name}_ISSUER`]: issuer,
        [`GATEHOUSE_OIDC_${name}_CLIENT_ID`]: clientId,
      };
      if (apple) {
        e[`GATEHOUSE_OIDC_${name}_TEAM_ID`] = team.teamId;
        e[`GATEHOUSE_OIDC_${name}_KEY_ID`] = team.keyId;
        e[`GATEHOUSE_OIDC_${name}_PRIVATE_KEY_FILE`] = team.keyFile;
      } else {
        e[`GATEHOUSE_OIDC_${name}_CLIENT_SECRET`] = clientSecret;
      }
      if (extraClients.length) e[`GATEHOUSE_OIDC_${name}_NATIVE_CLIENT_IDS`] = extraClients.join(',');
      return e;
    },
    /** The relay stops answering (connections refused): the provider is down. */
    down: relayDown,
    /** The relay accepts connections and never answers. */
    hang(on = true) { hang = on; },
    async stop() {
      await relayDown();
      await new Promise((r) => { opServer.close(() => r()); opServer.closeAllConnections?.(); });
      if (team) fs.rmSync(team.dir, { recursive: true, force: true });
    },
  };
}

/** PKCE: a verifier and its S256 challenge. */
export function pkcePair() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/**
 * Gatehouse (the ASan binary, development, cookie mode on loopback http:
 * cookies gh_session/gh_csrf/gh_oauth...) configured with one provider per
 * shape, each a real oidc-provider of that shape under the shape's name
 * (GATEHOUSE_OIDC_GOOGLE_*, GATEHOUSE_OIDC_APPLE_*).
 * @param {string|string[]} shapes  'google', 'apple' or both
 * @param {object} [o]
 * @param {object} [o.env]            more Gatehouse settings (null unsets)
 * @param {string[]} [o.nativeClients] native client ids (_NATIVE_CLIENT_IDS)
 * Returns {srv, op (the first), ops: {google, apple}, stop()}.
 */
export async function startWithOp(shapes, { env = {}, nativeClients = [] } = {}) {
  const list = Array.isArray(shapes) ? shapes : [shapes];
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const ops = {};
  let opEnv = {};
  for (const shape of list) {
    ops[shape] = await startOp(shape, { redirectUri: `${publicUrl}/v1/oauth/${shape}/callback`, extraClients: nativeClients });
    opEnv = { ...opEnv, ...ops[shape].gatehouseEnv(shape.toUpperCase()) };
  }
  let srv;
  try {
    srv = await startServer({ port, env: { GATEHOUSE_INSECURE_DEV_COOKIES: 'on', GATEHOUSE_PUBLIC_URL: publicUrl, ...opEnv, ...env } });
  } catch (e) {
    for (const op of Object.values(ops)) await op.stop();
    throw e;
  }
  return {
    srv,
    ops,
    op: ops[list[0]],
    async stop() {
      try { await srv.stop(); } finally { for (const op of Object.values(ops)) await op.stop(); }
    },
  };
}
