// Test harness for the Gatehouse black-box HTTP suite.
//
// startServer() spawns the server binary on a free loopback port with a fresh
// temporary data directory, waits for /healthz, and returns a handle whose
// stop() asserts a clean shutdown (exit code 0, no ASan/UBSan report).
// Database access (SQLite or PostgreSQL: GATEHOUSE_TEST_PG) is in db.mjs,
// re-exported here.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dbPathFor, withDbEnv } from './db.mjs';

export * from './db.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const BIN = process.env.GATEHOUSE_BIN || path.join(REPO_ROOT, 'build', 'asan', 'gatehouse');

// Text that a sanitizer prints when it finds something. LeakSanitizer's
// summary line also says "AddressSanitizer", so leaks are caught too.
const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|UndefinedBehaviorSanitizer/;

// Every test server runs from one loopback address, so the per-IP and
// per-account budgets are raised far out of reach here; the limiter itself
// stays on (the MFA budget keeps its default), and lockout is off. Tests of
// a rule pass `GATEHOUSE_LIMIT_<RULE>: null` to get the real default back.
export const RAISED_LIMITS = Object.freeze({
  GATEHOUSE_LIMIT_SIGNIN_IP_ACCOUNT: '100000/900',
  GATEHOUSE_LIMIT_SIGNIN_IP: '100000/900',
  GATEHOUSE_LIMIT_SIGNUP_IP: '100000/3600',
  GATEHOUSE_LIMIT_REFRESH_SESSION: '100000/60',
  GATEHOUSE_LIMIT_EMAIL_ACCOUNT: '100000/3600',
  GATEHOUSE_LIMIT_EMAIL_IP: '100000/3600',
  GATEHOUSE_LIMIT_API_USER: '1000000/60',
  GATEHOUSE_LIMIT_LINK_IP: '100000/900',
  GATEHOUSE_LIMIT_MFA_IP: '100000/900',
  GATEHOUSE_LIMIT_REFRESH_IP: '1000000/60',
  GATEHOUSE_LOCKOUT_THRESHOLD: '0',
  // failure rows are aggregated past 10 per minute per kind and client
  // (docs/audit.md); tests that count rows one by one need them all
  GATEHOUSE_AUDIT_FAILURE_ROWS: '100000/60',
});

export const DEFAULT_ENV = Object.freeze({
  GATEHOUSE_ENV: 'development',
  GATEHOUSE_ARGON2_MEMORY_KIB: '8192',
  GATEHOUSE_ARGON2_ITERATIONS: '1',
  ...RAISED_LIMITS,
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Parses a server's stderr: every request-log line that carries an error
 * code ("error":"<code>") gives {method, route, error}, route being the
 * route table's name or path ("unmatched" when no route was chosen).
 * Other lines are ignored.
 */
export function errorsFromLog(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"error"')) continue;
    let j;
    try { j = JSON.parse(line); } catch { continue; }
    if (typeof j.route === 'string' && typeof j.method === 'string' && typeof j.error === 'string') {
      out.push({ method: j.method.toLowerCase(), route: j.route, error: j.error });
    }
  }
  return out;
}

// With GH_API_ERRORS_DIR set (`make test` sets it), every server this
// process starts adds the error codes it logged to one file per test
// process; the last step of `make test` (check_error_coverage.mjs) fails
// when one is not listed for its route in docs/openapi.yaml.
const ERRORS_DIR = process.env.GH_API_ERRORS_DIR;
const recorded = new Set();
function recordErrors(stderr) {
  const lines = [];
  for (const t of errorsFromLog(stderr)) {
    const k = JSON.stringify(t);
    if (!recorded.has(k)) { recorded.add(k); lines.push(k + '\n'); }
  }
  if (!lines.length) return;
  fs.mkdirSync(ERRORS_DIR, { recursive: true });
  fs.appendFileSync(path.join(ERRORS_DIR, `errors-${process.pid}.jsonl`), lines.join(''));
}

export function mkTempDir(prefix = 'gatehouse-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Checks a captured stderr for sanitizer reports; throws with context. */
export function assertNoSanitizerReport(stderr, what = 'server') {
  const m = SANITIZER_RE.exec(stderr);
  if (m) {
    const start = Math.max(0, m.index - 200);
    assert.fail(`${what} stderr contains a sanitizer report:\n${stderr.slice(start, start + 4000)}`);
  }
}

/**
 * Builds the child environment: the parent's environment without any
 * GATEHOUSE_* variables, the test defaults, then the overrides. An override
 * whose value is null/undefined removes that variable. On PostgreSQL runs an
 * override GATEHOUSE_DATA_DIR adds that directory's database variables
 * (dbEnv), unless the overrides name a database variable themselves.
 */
export function buildEnv(overrides = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('GATEHOUSE_') || k === 'GATEHOUSE_BIN') env[k] = v;
  }
  delete env.GATEHOUSE_BIN;
  Object.assign(env, DEFAULT_ENV);
  // on PostgreSQL, a data directory brings its database (withDbEnv)
  overrides = withDbEnv(overrides, overrides.GATEHOUSE_DATA_DIR);
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null || v === undefined) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

/**
 * Starts `gatehouse serve`.
 * @param {object} opts
 * @param {object} [opts.env]      extra/overriding environment (null value = unset)
 * @param {string} [opts.dataDir]  reuse an existing data dir (e.g. for restarts)
 * @param {number} [opts.readyTimeoutMs]
 * @param {number} [opts.port]     listen on this port (default: a free one), for
 *                                 a test that must know the URL before the start
 */
export async function startServer({ env = {}, dataDir, readyTimeoutMs = 15000, port } = {}) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`server binary not found at ${BIN} (build it with 'make build-asan' or set GATEHOUSE_BIN)`);
  }
  port = port || await freePort();
  dataDir = dataDir || mkTempDir();
  const listen = `127.0.0.1:${port}`;
  const childEnv = buildEnv({ GATEHOUSE_LISTEN: listen, GATEHOUSE_DATA_DIR: dataDir, ...env });
  const child = spawn(BIN, ['serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8');
  child.stdout.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => { stdout += d; });
  if (ERRORS_DIR) child.stderr.on('end', () => recordErrors(stderr));
  let exit = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); });
  });
  const url = `http://${listen}`;

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exit) {
      throw new Error(`server exited during startup (code=${exit.code}, signal=${exit.signal}). stderr:\n${stderr.slice(-4000)}`);
    }
    try {
      const r = await fetch(url + '/healthz', { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become healthy within ${readyTimeoutMs} ms. stderr:\n${stderr.slice(-4000)}`);
    }
    await sleep(50);
  }

  let stopped = false;
  return {
    url,
    port,
    listen,
    dataDir,
    dbPath: dbPathFor(env, dataDir),
    child,
    stderr: () => stderr,
    stderrLines: () => stderr.split('\n').filter((l) => l.length > 0),
    stdout: () => stdout,
    exited: () => exit,
    /** SIGTERM, wait (5 s, then SIGKILL); asserts exit 0 and no sanitizer output. */
    async stop() {
      if (stopped) return exit;
      stopped = true;
      if (!exit) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, 5000);
        await exited;
        clearTimeout(t);
      }
      // let the pipes drain
      await Promise.all([
        child.stderr.readableEnded ? null : once(child.stderr, 'end').catch(() => {}),
        child.stdout.readableEnded ? null : once(child.stdout, 'end').catch(() => {}),
      ]);
      assertNoSanitizerReport(stderr);
      assert.equal(exit.signal, null,
        `server was killed by ${exit.signal} (did not exit within 5 s of SIGTERM?). stderr tail:\n${stderr.slice(-3000)}`);
      assert.equal(exit.code, 0, `server exit code ${exit.code} after SIGTERM. stderr tail:\n${stderr.slice(-3000)}`);
      return exit;
    },
  };
}

/** Runs the binary with the given args (not a server); returns {code, signal, stdout, stderr}. */
export function runCli(args, { env = {}, timeoutMs = 15000 } = {}) {
  const r = spawnSync(BIN, args, { env: buildEnv(env), encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/**
 * HTTP helper around global fetch.
 * opts.json    -> JSON.stringify'd body with Content-Type: application/json
 * opts.body    -> raw body (string / Buffer / stream); no Content-Type is added
 *                 for Buffers, so set one in opts.headers if wanted
 * opts.headers -> extra headers
 * opts.token   -> Authorization: Bearer <token>
 */
export async function api(url, method, p, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
  } else if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
  }
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  const init = { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs ?? 30000) };
  if (body && typeof body.getReader === 'function') init.duplex = 'half';
  const res = await fetch(url + p, init);
  const text = await res.text();
  let json = null;
  try { json = text.length ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Raw request via node:http so header bytes can be controlled precisely
 * (header values are sent as latin1 bytes). Returns {status, headers, text, json}.
 */
export function rawRequest(port, { method = 'GET', path: p = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text.length ? JSON.parse(text) : null; } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error('raw request timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function rand(n = 8) {
  return crypto.randomBytes(n).toString('hex');
}

export function uniqueEmail() {
  return `u${rand(6)}@example.com`;
}

export function strongPassword() {
  return `correct horse battery staple ${rand(6)}`;
}

/** Asserts the error envelope {"error":{"code","message"}} with the given status/code. */
export function assertError(res, status, code, what = '') {
  const ctx = `${what} -> ${res.status} ${res.text.slice(0, 300)}`;
  if (Array.isArray(status)) assert.ok(status.includes(res.status), `expected status in ${status}: ${ctx}`);
  else assert.equal(res.status, status, `expected ${status}: ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object' && res.json.error && typeof res.json.error === 'object',
    `expected error envelope: ${ctx}`);
  if (code !== undefined) {
    if (Array.isArray(code)) assert.ok(code.includes(res.json.error.code), `expected code in ${code}: ${ctx}`);
    else assert.equal(res.json.error.code, code, `expected code ${code}: ${ctx}`);
  }
  assert.equal(typeof res.json.error.message, 'string', `error.message must be a string: ${ctx}`);
  assert.ok(res.json.error.message.length > 0, `error.message must be non-empty: ${ctx}`);
}

/** Creates a unique user; asserts 201. Returns {email, password, user, access, refresh, body}. */
export async function signup(srv, email = uniqueEmail(), password = strongPassword(), headers = {}) {
  const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password }, headers });
  assert.equal(r.status, 201, `signup ${email} failed: ${r.status} ${r.text}`);
  return { email, password, user: r.json.user, access: r.json.access_token, refresh: r.json.refresh_token, body: r.json };
}

/** Signs in; asserts 200. Returns {access, refresh, body}. */
export async function signin(srv, email, password, headers = {}) {
  const r = await api(srv.url, 'POST', '/v1/signin', { json: { email, password }, headers });
  assert.equal(r.status, 200, `signin ${email} failed: ${r.status} ${r.text}`);
  return { access: r.json.access_token, refresh: r.json.refresh_token, body: r.json };
}

export async function refresh(srv, refreshToken) {
  return api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: refreshToken } });
}

export async function me(srv, token) {
  return api(srv.url, 'GET', '/v1/me', { token });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function decodePart(token, i) {
  return JSON.parse(Buffer.from(token.split('.')[i], 'base64url').toString('utf8'));
}

/** SHA-256 of a string's UTF-8 bytes, as upper-case hex (what sqlite3's hex() prints for a BLOB). */
export function sha256Hex(s) {
  return crypto.createHash('sha256').update(s, 'utf8').digest('hex').toUpperCase();
}
