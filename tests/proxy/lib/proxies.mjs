// The proxy suite's harness: a tiny upstream that echoes the headers it
// received, the real nginx and Caddy from Debian's packages started on free
// loopback ports from the very example files of the quickstarts
// (docs/examples/), a model of Traefik's ForwardAuth, and TLS clients that
// send exact bytes.
//
// Every proxy runs in its own temporary directory (configuration, logs,
// state, certificates) as the current user, in its own process group, and
// stop() ends that group. Nothing listens outside 127.0.0.1; Debian's own
// caddy and nginx services are neither needed nor touched.
//
// The example files are used as they are, except for addresses and paths,
// each substitution asserted to match (see substitute()):
//   nginx:   "listen 443" / "listen 80" -> "listen 127.0.0.1:<free port>",
//            127.0.0.1:8080 (Gatehouse) and 127.0.0.1:3000 (the app) -> the
//            test's ports, /etc/letsencrypt/live/app.example.com/ -> a
//            temporary directory holding a self-signed certificate; it is
//            included by Debian's own /etc/nginx/nginx.conf, as the
//            quickstart has it, with that file's paths moved (mainConf).
//   Caddy:   127.0.0.1:8080 and 127.0.0.1:3000 as above; a global options
//            block is put before the file (loopback ports, local
//            certificates not installed in any trust store, no admin API).
//   Traefik: the forwardAuth address's 127.0.0.1:8080 as above.

import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import { freePort, mkTempDir, sleep, REPO_ROOT } from '../../api/lib/harness.mjs';

export { REPO_ROOT };
export const EXAMPLES = path.join(REPO_ROOT, 'docs', 'examples');

// The names of the examples. The test clients connect to 127.0.0.1 and send
// these in SNI and Host: nothing is looked up, nothing leaves the machine.
export const APP_HOST = 'app.example.com';
export const AUTH_HOST = 'auth.example.com';
export const PUBLIC_URL = `https://${AUTH_HOST}`;
// Gatehouse's own sign-in page: the examples set no GATEHOUSE_SIGNIN_URL.
export const SIGNIN_URL = `${PUBLIC_URL}/signin`;

/** Replaces every `from` with `to` in text; throws when `from` is not there. */
export function substitute(text, pairs, what) {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`${what}: the example no longer holds "${from}"; update the test's substitutions`);
    text = text.split(from).join(to);
  }
  return text;
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitPort(port, { timeoutMs = 10000, isDead = () => null } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** A self-signed certificate for the example names, in dir as the examples name them. */
export function makeCert(dir) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-subj', `/CN=${APP_HOST}`, '-addext', `subjectAltName=DNS:${APP_HOST},DNS:${AUTH_HOST}`,
    '-keyout', path.join(dir, 'privkey.pem'), '-out', path.join(dir, 'fullchain.pem')], { stdio: 'ignore' });
}

// Process groups still running; killed when this test process exits, so a
// failed or interrupted test leaves no proxy behind.
const live = new Set();
const liveDirs = new Set();
process.on('exit', () => {
  for (const pid of live) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary directory for one proxy, removed when it stops (or at exit). */
function proxyDir(prefix) {
  const d = mkTempDir(prefix);
  liveDirs.add(d);
  return d;
}

function removeDir(d) {
  fs.rmSync(d, { recursive: true, force: true });
  liveDirs.delete(d);
}

/**
 * Spawns a long-running process in its own process group; returns a handle
 * whose stop() signals the whole group and waits (then SIGKILLs it).
 */
function spawnGroup(cmd, args, { env, cwd, logFile }) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exit = null;
  live.add(child.pid);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  child.on('error', (e) => { exit = { code: -1, signal: null, error: e }; });
  const kill = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
  return {
    child,
    exited: () => exit,
    async stop(sig = 'SIGTERM') {
      if (!exit) {
        kill(sig);
        const t = setTimeout(() => kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      kill('SIGKILL'); // any worker left in the group
      live.delete(child.pid);
      return exit;
    },
  };
}

/** The tiny upstream app: answers every request with what it received, as JSON. */
export async function startEcho() {
  const seen = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = { method: req.method, url: req.url, rawHeaders: req.rawHeaders, headers: req.headers };
      seen.push(body);
      const text = JSON.stringify(body);
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': 'echo', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  srv.keepAliveTimeout = 1000;
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: srv.address().port,
    seen,
    async stop() { srv.closeAllConnections?.(); await new Promise((r) => srv.close(r)); },
  };
}

/**
 * The main nginx.conf: Debian's own /etc/nginx/nginx.conf as the package
 * installs it (the quickstart puts the example in sites-enabled), with its
 * paths moved into dir, no `user` (workers run as the default user when
 * the test runs as root) and the example in place of sites-enabled and
 * conf.d; a minimal one when that file is not Debian's.
 */
function mainConf(dir) {
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `\t${t}_temp_path ${dir}/${t};`);
  let debian = '';
  try { debian = fs.readFileSync('/etc/nginx/nginx.conf', 'utf8'); } catch { /* not there */ }
  const edits = [
    [/^user [^;]*;\n/m, ''],
    [/^pid [^;]*;/m, `pid ${dir}/nginx.pid;`],
    [/^error_log [^;]*;/m, `error_log ${dir}/error.log notice;`],
    [/^(\s*)access_log [^;]*;/m, `$1access_log ${dir}/access.log;`],
    [/^\s*include \/etc\/nginx\/conf\.d\/\*\.conf;\n/m, ''],
    [/^\s*include \/etc\/nginx\/sites-enabled\/\*;/m, `${temps.join('\n')}\n\tinclude ${dir}/gatehouse.conf;`],
  ];
  if (debian && edits.every(([re]) => re.test(debian))) {
    for (const [re, to] of edits) debian = debian.replace(re, to);
    // modules-enabled loads modules by paths relative to the prefix
    if (fs.existsSync('/usr/share/nginx/modules')) fs.symlinkSync('/usr/share/nginx/modules', path.join(dir, 'modules'));
    return debian;
  }
  return ['worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log notice;`,
    'events { worker_connections 512; }', 'http {', `\taccess_log ${dir}/access.log;`, ...temps,
    `\tinclude ${dir}/gatehouse.conf;`, '}', ''].join('\n');
}

/**
 * nginx from docs/examples/nginx/gatehouse.conf, on free loopback ports.
 * @returns {{https:number, http:number, dir:string, log:()=>string, stop:()=>Promise}}
 */
export async function startNginx({ gatehousePort, appPort }) {
  const dir = proxyDir('gatehouse-nginx-');
  fs.chmodSync(dir, 0o755); // workers run as nobody when the test runs as root
  makeCert(dir);
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const example = fs.readFileSync(path.join(EXAMPLES, 'nginx', 'gatehouse.conf'), 'utf8');
  const site = substitute(example, [
    ['listen 443', `listen 127.0.0.1:${httpsPort}`],
    ['listen 80', `listen 127.0.0.1:${httpPort}`],
    ['127.0.0.1:8080', `127.0.0.1:${gatehousePort}`],
    ['127.0.0.1:3000', `127.0.0.1:${appPort}`],
    ['/etc/letsencrypt/live/app.example.com/', `${dir}/`],
  ], 'nginx');
  fs.writeFileSync(path.join(dir, 'gatehouse.conf'), site);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), mainConf(dir));
  const p = spawnGroup('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    { env: process.env, cwd: dir, logFile: path.join(dir, 'stderr.log') });
  const log = () => ['stderr.log', 'error.log'].map((f) => {
    try { return fs.readFileSync(path.join(dir, f), 'utf8'); } catch { return ''; }
  }).join('');
  const isDead = () => (p.exited() ? `nginx exited: ${JSON.stringify(p.exited())}\n${log()}` : null);
  try {
    await waitPort(httpsPort, { isDead });
    await waitPort(httpPort, { isDead });
  } catch (e) { await p.stop(); removeDir(dir); throw e; }
  return {
    https: httpsPort, http: httpPort, dir, log,
    async stop() { await p.stop('SIGQUIT'); removeDir(dir); },
  };
}

/**
 * Caddy from docs/examples/caddy/Caddyfile, on free loopback ports, with
 * its data and configuration directories (and its local CA) in a temporary
 * directory and no admin endpoint.
 */
export async function startCaddy({ gatehousePort, appPort }) {
  const dir = proxyDir('gatehouse-caddy-');
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const example = fs.readFileSync(path.join(EXAMPLES, 'caddy', 'Caddyfile'), 'utf8');
  const site = substitute(example, [
    ['127.0.0.1:8080', `127.0.0.1:${gatehousePort}`],
    ['127.0.0.1:3000', `127.0.0.1:${appPort}`],
  ], 'Caddyfile');
  const global = [
    '# put before the example by tests/proxy/lib/proxies.mjs',
    '{',
    '\tadmin off',
    '\tlocal_certs',
    '\tskip_install_trust',
    '\tdefault_bind 127.0.0.1',
    `\thttp_port ${httpPort}`,
    `\thttps_port ${httpsPort}`,
    `\tstorage file_system ${dir}/data`,
    '\tlog {',
    `\t\toutput file ${dir}/caddy.log`,
    '\t\tlevel INFO',
    '\t}',
    '}',
    '',
  ].join('\n');
  const file = path.join(dir, 'Caddyfile');
  fs.writeFileSync(file, global + site);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config') };
  const p = spawnGroup('caddy', ['run', '--config', file, '--adapter', 'caddyfile'],
    { env, cwd: dir, logFile: path.join(dir, 'stderr.log') });
  const log = () => ['stderr.log', 'caddy.log'].map((f) => {
    try { return fs.readFileSync(path.join(dir, f), 'utf8'); } catch { return ''; }
  }).join('');
  const isDead = () => (p.exited() ? `caddy exited: ${JSON.stringify(p.exited())}\n${log()}` : null);
  try {
    await waitPort(httpsPort, { isDead, timeoutMs: 20000 });
    // the certificates of the local CA are made after the listener opens
    await waitTls(httpsPort, APP_HOST, { isDead });
    await waitTls(httpsPort, AUTH_HOST, { isDead });
  } catch (e) { await p.stop(); removeDir(dir); throw e; }
  return {
    https: httpsPort, http: httpPort, dir, log,
    async stop() { await p.stop('SIGTERM'); removeDir(dir); },
  };
}

async function waitTls(port, servername, { timeoutMs = 20000, isDead = () => null } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    const ok = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
      s.once('secureConnect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no TLS for ${servername} on ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Parses a raw HTTP/1.x response head (and body, for Connection: close). */
export function parseResponse(buf) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, rawHead: text, body: '' };
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let body = Buffer.from(text.slice(end + 4), 'latin1');
  if (/chunked/i.test(headers['transfer-encoding'] || '')) body = dechunk(body);
  return { status: m ? Number(m[1]) : 0, headers, rawHead: text.slice(0, end), body: body.toString('utf8') };
}

function dechunk(b) {
  const out = [];
  let i = 0;
  for (;;) {
    const nl = b.indexOf('\r\n', i);
    if (nl < 0) break;
    const n = parseInt(b.slice(i, nl).toString('latin1'), 16);
    if (!n) break;
    out.push(b.subarray(nl + 2, nl + 2 + n));
    i = nl + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/**
 * Sends exact request bytes over TLS to 127.0.0.1:port with the given SNI
 * (or over plain TCP when servername is null) and reads the response until
 * the server closes. A connection the proxy closes without a response
 * (nginx's 444) gives status 0.
 */
export function rawExchange(port, servername, bytes, { timeoutMs = 10000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = servername
      ? tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port, localAddress });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`raw exchange timed out: ${JSON.stringify(String(bytes).slice(0, 200))}`)); }, timeoutMs);
    s.once(servername ? 'secureConnect' : 'connect', () => s.write(bytes));
    s.on('data', (c) => chunks.push(c));
    const done = () => { clearTimeout(t); resolve(parseResponse(Buffer.concat(chunks))); };
    s.on('end', done);
    s.on('close', done);
    s.on('error', (e) => {
      // a handshake the proxy refuses, or a reset: no response
      if (chunks.length === 0) { clearTimeout(t); resolve({ status: 0, headers: {}, rawHead: '', body: '', error: e.code || e.message }); }
    });
  });
}

/**
 * One request through a proxy over TLS. headers is an object or a list of
 * [name, value] pairs (for repeated or oddly spelled names); Host defaults
 * to the servername. Returns {status, headers, body, json, echo} where echo
 * is what the upstream app received (or null when it was not reached).
 */
export async function send(port, { host = APP_HOST, servername = host, method = 'GET', path: p = '/', headers = [], body } = {}) {
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  const hasHost = list.some(([k]) => k.toLowerCase() === 'host');
  const lines = [`${method} ${p} HTTP/1.1`];
  if (!hasHost) lines.push(`Host: ${host}`);
  for (const [k, v] of list) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  lines.push('Connection: close', '', body ?? '');
  const r = await rawExchange(port, servername, Buffer.from(lines.join('\r\n'), 'latin1'));
  let json = null;
  try { json = r.body ? JSON.parse(r.body) : null; } catch { json = null; }
  const echo = r.headers['x-upstream'] === 'echo' ? json : null;
  return { ...r, json, echo };
}

/** Parses YAML with the yaml package of tests/api (installed there by `npm ci`). */
export function parseYaml(text) {
  const require = createRequire(path.join(REPO_ROOT, 'tests', 'api', 'package.json'));
  return require('yaml').parse(text);
}
