import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, signin, me, refresh, assertError, uniqueEmail, strongPassword, countRows, sql, sleep,
  markVerified, groupConcat, orDash, hexOf,
} from './lib/harness.mjs';

const TABLES = ['users', 'sessions', 'refresh_tokens', 'magic_links', 'mail_queue', 'mfa_totp',
  'mfa_backup_codes', 'mfa_challenges', 'audit_log'];
// State a refused request must not change in place either (no new rows).
const STATE = {
  used_links: 'SELECT count(*) FROM magic_links WHERE used_at IS NOT NULL',
  totp: `SELECT ${groupConcat(`user_id || ':' || ${orDash('confirmed_at')} || ':' || CAST(last_step AS TEXT)`)} FROM mfa_totp`,
  backup_codes: `SELECT ${groupConcat(`${hexOf('code_hash')} || ':' || ${orDash('used_at')}`)} FROM mfa_backup_codes`,
  challenges: `SELECT ${groupConcat(`CAST(attempts AS TEXT) || ':' || ${orDash('used_at')}`)} FROM mfa_challenges`,
  passwords: `SELECT ${groupConcat(`${orDash('password_hash')} || ':' || ${orDash('email_verified_at')}`)} FROM users`,
};
const counts = (srv) => {
  const qs = [...TABLES.map((t) => `(SELECT count(*) FROM ${t})`), ...Object.values(STATE).map((q) => `(${q})`)];
  const row = sql(srv.dbPath, `SELECT ${qs.join(', ')};`).trim().split('|');
  return Object.fromEntries([...TABLES, ...Object.keys(STATE)].map((k, i) => [k, row[i]]));
};

// A TOTP code from the real oathtool binary.
const oathtool = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();

// The token of the newest emailed link of that kind to that address (development outbox).
async function mailedToken(srv, email, linkPath, ms = 8000) {
  const outbox = path.join(srv.dataDir, 'outbox');
  const re = new RegExp(`/${linkPath}\\?token=([A-Za-z0-9_-]{43})`);
  const end = Date.now() + ms;
  for (;;) {
    if (fs.existsSync(outbox)) {
      const hits = fs.readdirSync(outbox).map((f) => path.join(outbox, f))
        .sort((x, y) => fs.statSync(x).mtimeMs - fs.statSync(y).mtimeMs)
        .map((f) => fs.readFileSync(f, 'utf8')).filter((m) => m.includes(`To: <${email}>`) && re.test(m));
      if (hits.length) return re.exec(hits[hits.length - 1])[1];
    }
    if (Date.now() > end) throw new Error(`no ${linkPath} email for ${email}`);
    await sleep(100);
  }
}

// Links of a purpose ever made for an address (the link job runs in the background).
const linksFor = (srv, email, purpose) => Number(sql(srv.dbPath,
  `SELECT count(*) FROM magic_links WHERE email_key = '${email.toLowerCase()}' AND purpose = '${purpose}';`));

async function enrol(srv, a) {
  markVerified(srv, a.user.id);
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
  assert.equal(b.status, 200, b.text);
  const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
  assert.equal(c.status, 200, c.text);
  return { secret: b.json.secret, backup: c.json.backup_codes };
}

/**
 * Sends a request over node:http and resolves as soon as a response has been
 * read, so that a server answering 413 before the body is fully sent still
 * counts. chunks: array of Buffers written one by one (chunked encoding unless
 * Content-Length is given in headers).
 */
function send(port, { method = 'POST', path, headers = {}, chunks = [] }) {
  return new Promise((resolve, reject) => {
    let done = false;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        done = true;
        const text = Buffer.concat(parts).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not json */ }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, json });
      });
      res.on('error', (e) => { if (!done) { done = true; reject(e); } });
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(new Error(`request failed before a complete response was read (${e.code || e.message}); `
          + 'does the server close the connection without sending/draining?'));
      }
    });
    (async () => {
      for (const c of chunks) {
        if (done || req.destroyed) return;
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
      if (!req.destroyed) req.end();
    })().catch(() => {});
  });
}

const J = { 'Content-Type': 'application/json' };

/** Builds a JSON text from obj where the string value "@@X@@" is replaced by raw bytes. */
function withRawBytes(obj, field, bytes) {
  const text = JSON.stringify({ ...obj, [field]: '@@X@@' });
  const [pre, post] = text.split('@@X@@');
  return Buffer.concat([Buffer.from(pre), Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1'), Buffer.from(post)]);
}

/** Duplicate key: repeat the first field of obj. */
function dupKey(obj, differentValue) {
  const [k, v] = Object.entries(obj)[0];
  const inner = JSON.stringify(obj).slice(1, -1);
  const dupVal = differentValue ? (typeof v === 'string' ? `${v}x` : 'x') : v;
  return `{${JSON.stringify(k)}:${JSON.stringify(dupVal)},${inner}}`;
}

/** All the bad-input cases for an endpoint whose valid body is `v`. Each returns {body|chunks, headers, expect}. */
function badCases(v, maxBody) {
  const valid = JSON.stringify(v);
  const fields = Object.keys(v);
  const strField = fields[fields.length - 1];
  const cases = [];
  const add = (name, req, status, code) => cases.push({ name, req, status, code });

  add('body over GATEHOUSE_MAX_BODY (Content-Length)',
    { headers: { ...J, 'Content-Length': String(maxBody + 100) }, chunks: [Buffer.from(valid + ' '.repeat(maxBody + 100 - valid.length))] },
    413, 'body_too_large');
  // Transfer-Encoding said outright: node does not chunk a DELETE by default.
  add('body over GATEHOUSE_MAX_BODY (chunked, no Content-Length)',
    { headers: { ...J, 'Transfer-Encoding': 'chunked' }, chunks: [Buffer.from(valid), ...Array.from({ length: 8 }, () => Buffer.from(' '.repeat(Math.ceil(maxBody / 6))))] },
    413, 'body_too_large');
  add('Content-Type text/plain', { headers: { 'Content-Type': 'text/plain' }, body: valid }, 415, 'unsupported_media_type');
  add('Content-Type missing', { headers: {}, body: valid }, 415, 'unsupported_media_type');
  add('Content-Type form-urlencoded', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: valid }, 415, 'unsupported_media_type');
  add('malformed JSON (truncated)', { headers: J, body: valid.slice(0, -1) }, 400, 'invalid_json');
  add('malformed JSON (unquoted keys)', { headers: J, body: valid.replace(/"([a-z_]+)":/g, '$1:') }, 400, 'invalid_json');
  add('malformed JSON (trailing garbage)', { headers: J, body: valid + ' x' }, 400, 'invalid_json');
  add('malformed JSON (two objects)', { headers: J, body: valid + valid }, 400, 'invalid_json');
  add('empty body', { headers: J, body: '' }, 400, 'invalid_json');
  add('JSON array', { headers: J, body: JSON.stringify([v]) }, 400, 'invalid_json');
  add('JSON string', { headers: J, body: '"hello"' }, 400, 'invalid_json');
  add('JSON number', { headers: J, body: '42' }, 400, 'invalid_json');
  add('JSON null', { headers: J, body: 'null' }, 400, 'invalid_json');
  for (const [name, bytes] of [
    ['0xFF byte', Buffer.from([0x41, 0xff, 0x42])],
    ['overlong encoding', Buffer.from([0x41, 0xc0, 0xaf, 0x42])],
    ['truncated sequence', Buffer.from([0x41, 0xe2, 0x82])],
    ['UTF-8 encoded surrogate', Buffer.from([0x41, 0xed, 0xa0, 0x80])],
    ['lone continuation byte', Buffer.from([0x41, 0x80, 0x42])],
  ]) {
    add(`invalid UTF-8 in a string (${name})`, { headers: J, body: withRawBytes(v, strField, Buffer.concat([Buffer.from(String(v[strField])), bytes])) }, 400, 'invalid_json');
  }
  for (const f of fields) {
    add(`"\\u0000" escape inside ${f}`, { headers: J, body: withRawBytes(v, f, `${v[f]}\\u0000x`) }, [400, 422]);
  }
  add('raw NUL byte inside a string', { headers: J, body: withRawBytes(v, strField, Buffer.concat([Buffer.from(String(v[strField])), Buffer.from([0])])) }, 400);
  add('raw NUL byte after the object', { headers: J, body: Buffer.concat([Buffer.from(valid), Buffer.from([0])]) }, 400);
  add('deeply nested JSON', { headers: J, body: `{"x":${'['.repeat(20000)}${']'.repeat(20000)}}` }, [400, 422]);
  for (const f of fields) {
    for (const [tn, val] of [['number', 123], ['null', null], ['array', [v[f]]], ['object', {}], ['boolean', true]]) {
      add(`field ${f} of type ${tn}`, { headers: J, body: JSON.stringify({ ...v, [f]: val }) }, 422, 'invalid_field');
    }
    const missing = { ...v };
    delete missing[f];
    add(`missing field ${f}`, { headers: J, body: JSON.stringify(missing) }, 422, 'missing_field');
  }
  add('unknown field', { headers: J, body: JSON.stringify({ ...v, is_admin: true }) }, 422, 'unknown_field');
  add('duplicate key (same value)', { headers: J, body: dupKey(v, false) }, 400, 'invalid_json');
  add('duplicate key (different value)', { headers: J, body: dupKey(v, true) }, 400, 'invalid_json');
  return cases;
}

describe('bad input is refused without side effects', () => {
  let srv;
  before(async () => {
    // grace 0 so a refresh token spent by a wrongly-accepted request shows up as 401 later
    srv = await startServer({ env: { GATEHOUSE_REFRESH_REUSE_GRACE: '0' } });
  });
  after(async () => { await srv?.stop(); });

  const endpoints = [
    {
      name: 'signup',
      path: '/v1/signup',
      fields: ['email', 'password'],
      async setup() { const email = uniqueEmail(); const password = strongPassword(); return { v: { email, password }, email, password }; },
      async verify(ctx) {
        // the email is still free
        await signup(srv, ctx.email, ctx.password);
      },
    },
    {
      name: 'signin',
      path: '/v1/signin',
      fields: ['email', 'password'],
      async setup() { const a = await signup(srv); return { v: { email: a.email, password: a.password }, a }; },
      async verify(ctx) { await signin(srv, ctx.a.email, ctx.a.password); },
    },
    {
      name: 'token',
      path: '/v1/token',
      fields: ['grant_type', 'refresh_token'],
      async setup() { const a = await signup(srv); return { v: { grant_type: 'refresh_token', refresh_token: a.refresh }, a }; },
      async verify(ctx) {
        const r = await refresh(srv, ctx.a.refresh);
        assert.equal(r.status, 200, `refresh token was spent by a refused request: ${r.text}`);
      },
    },
    {
      name: 'password',
      path: '/v1/password',
      fields: ['current_password', 'new_password'],
      async setup() {
        const a = await signup(srv);
        return { v: { current_password: a.password, new_password: strongPassword() }, a, token: a.access };
      },
      async verify(ctx) {
        assert.equal((await me(srv, ctx.a.access)).status, 200, 'access token still valid: password was not changed');
        await signin(srv, ctx.a.email, ctx.a.password);
      },
    },
    {
      name: 'signin/mfa',
      path: '/v1/signin/mfa',
      fields: ['mfa_token', 'code'],
      async setup() {
        const a = await signup(srv);
        const m = await enrol(srv, a);
        const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
        assert.equal(s.json?.mfa_required, true, s.text);
        return { v: { mfa_token: s.json.mfa_token, code: m.backup[0] } };
      },
      async verify(ctx) {
        // the challenge was neither spent nor charged, and the backup code still works
        const r = await api(srv.url, 'POST', '/v1/signin/mfa', { json: ctx.v });
        assert.equal(r.status, 200, r.text);
      },
    },
    {
      name: 'magic-link',
      path: '/v1/magic-link',
      fields: ['email'],
      async setup() { const a = await signup(srv); return { v: { email: a.email }, a }; },
      async verify(ctx) {
        await sleep(500); // the link job is in the background
        assert.equal(linksFor(srv, ctx.a.email, 'signin'), 0, 'no link made by a refused request');
        assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: ctx.v })).status, 202);
        assert.ok(await mailedToken(srv, ctx.a.email, 'magic-link'));
      },
    },
    {
      name: 'magic-link/verify',
      path: '/v1/magic-link/verify',
      fields: ['token'],
      async setup() {
        const a = await signup(srv);
        assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
        return { v: { token: await mailedToken(srv, a.email, 'magic-link') }, a };
      },
      async verify(ctx) {
        const r = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: ctx.v });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.id, ctx.a.user.id);
      },
    },
    {
      name: 'password/forgot',
      path: '/v1/password/forgot',
      fields: ['email'],
      async setup() { const a = await signup(srv); return { v: { email: a.email }, a }; },
      async verify(ctx) {
        await sleep(500);
        assert.equal(linksFor(srv, ctx.a.email, 'reset'), 0, 'no link made by a refused request');
        assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: ctx.v })).status, 202);
        assert.ok(await mailedToken(srv, ctx.a.email, 'reset-password'));
      },
    },
    {
      name: 'password/reset',
      path: '/v1/password/reset',
      fields: ['token', 'new_password'],
      async setup() {
        const a = await signup(srv);
        assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } })).status, 202);
        return { v: { token: await mailedToken(srv, a.email, 'reset-password'), new_password: strongPassword() }, a };
      },
      async verify(ctx) {
        assert.equal((await me(srv, ctx.a.access)).status, 200, 'sessions not revoked');
        await signin(srv, ctx.a.email, ctx.a.password);
        const r = await api(srv.url, 'POST', '/v1/password/reset', { json: ctx.v });
        assert.ok(r.status >= 200 && r.status < 300, r.text);
        await signin(srv, ctx.a.email, ctx.v.new_password);
      },
    },
    {
      name: 'email/verify',
      path: '/v1/email/verify',
      fields: ['token'],
      async setup() {
        const a = await signup(srv);
        assert.equal((await api(srv.url, 'POST', '/v1/email/verify/resend', { token: a.access })).status, 202);
        return { v: { token: await mailedToken(srv, a.email, 'verify-email') }, a };
      },
      async verify(ctx) {
        const r = await api(srv.url, 'POST', '/v1/email/verify', { json: ctx.v });
        assert.ok(r.status >= 200 && r.status < 300, r.text);
        assert.notEqual(sql(srv.dbPath, `SELECT coalesce(email_verified_at, 0) FROM users WHERE id = '${ctx.a.user.id}';`).trim(), '0');
      },
    },
    {
      name: 'mfa/totp/confirm',
      path: '/v1/mfa/totp/confirm',
      fields: ['code'],
      async setup() {
        const a = await signup(srv);
        markVerified(srv, a.user.id);
        const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
        assert.equal(b.status, 200, b.text);
        return { v: { code: oathtool(b.json.secret) }, secret: b.json.secret, a, token: a.access };
      },
      async verify(ctx) {
        assert.equal(sql(srv.dbPath, `SELECT confirmed_at IS NULL FROM mfa_totp WHERE user_id = '${ctx.a.user.id}';`).trim(), '1');
        const r = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: ctx.a.access, json: { code: oathtool(ctx.secret) } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.backup_codes.length, 10);
      },
    },
    {
      name: 'mfa/totp (DELETE)',
      method: 'DELETE',
      path: '/v1/mfa/totp',
      fields: ['code', 'password'],
      async setup() {
        const a = await signup(srv);
        const m = await enrol(srv, a);
        return { v: { code: m.backup[0], password: a.password }, a, token: a.access };
      },
      async verify(ctx) {
        const r = await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: ctx.a.access, json: ctx.v });
        assert.equal(r.status, 204, `the factor was still there: ${r.text}`);
      },
    },
    {
      name: 'mfa/backup-codes',
      path: '/v1/mfa/backup-codes',
      fields: ['code', 'password'],
      async setup() {
        const a = await signup(srv);
        const m = await enrol(srv, a);
        return { v: { code: m.backup[0], password: a.password }, a, m, token: a.access };
      },
      async verify(ctx) {
        const r = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: ctx.a.access, json: ctx.v });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.backup_codes.length, 10);
      },
    },
  ];

  for (const ep of endpoints) {
    describe(`${ep.method ?? 'POST'} ${ep.path}`, () => {
      let ctx;
      before(async () => { ctx = await ep.setup(); });

      const names = badCases(Object.fromEntries(ep.fields.map((k) => [k, 'placeholder'])), 65536).map((c) => c.name);

      for (const [i, name] of names.entries()) {
        test(name, async () => {
          const c = badCases(ctx.v, 65536)[i];
          assert.equal(c.name, name);
          const before = counts(srv);
          const headers = { ...c.req.headers };
          if (ctx.token) headers.Authorization = `Bearer ${ctx.token}`;
          let chunks = c.req.chunks;
          if (!chunks) {
            const body = Buffer.isBuffer(c.req.body) ? c.req.body : Buffer.from(c.req.body);
            headers['Content-Length'] = String(body.length);
            chunks = [body];
          }
          const r = await send(srv.port, { method: ep.method ?? 'POST', path: ep.path, headers, chunks });
          if (c.code) assertError(r, c.status, c.code, `${ep.name}: ${name}`);
          else assertError(r, c.status, undefined, `${ep.name}: ${name}`);
          assert.deepEqual(counts(srv), before, 'no rows written');
          const h = await api(srv.url, 'GET', '/healthz');
          assert.equal(h.status, 200, 'server still healthy');
        });
      }

      test('afterwards the valid request still does what it should (nothing was consumed/changed)', async () => {
        await ep.verify(ctx);
      });
    });
  }

  test('application/json; charset=utf-8 is accepted', async () => {
    const email = uniqueEmail();
    for (const ct of ['application/json; charset=utf-8', 'application/json;charset=UTF-8']) {
      const e = ct.includes(' ') ? email : `x${email}`;
      const r = await api(srv.url, 'POST', '/v1/signup', { body: JSON.stringify({ email: e, password: strongPassword() }), headers: { 'Content-Type': ct } });
      assert.equal(r.status, 201, `${ct}: ${r.text}`);
    }
  });
});

describe('GATEHOUSE_MAX_BODY=1024 boundary', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_MAX_BODY: '1024' } }); });
  after(async () => { await srv?.stop(); });

  const padded = (obj, n) => {
    const s = JSON.stringify(obj);
    assert.ok(s.length <= n);
    return s + ' '.repeat(n - s.length);
  };

  test('a body of exactly MAX_BODY bytes is accepted', async () => {
    const r = await api(srv.url, 'POST', '/v1/signup', { body: padded({ email: uniqueEmail(), password: strongPassword() }, 1024), headers: J });
    assert.equal(r.status, 201, r.text);
  });

  test('MAX_BODY + 1 bytes -> 413 body_too_large and no user row', async () => {
    const before = countRows(srv.dbPath, 'users');
    const r = await send(srv.port, {
      path: '/v1/signup', headers: { ...J, 'Content-Length': '1025' },
      chunks: [Buffer.from(padded({ email: uniqueEmail(), password: strongPassword() }, 1025))],
    });
    assertError(r, 413, 'body_too_large');
    assert.equal(countRows(srv.dbPath, 'users'), before);
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
  });

  test('a 2000-byte password inside a 2100-byte body -> 413 (size limit before parsing)', async () => {
    const r = await send(srv.port, {
      path: '/v1/signin', headers: J,
      chunks: [Buffer.from(JSON.stringify({ email: uniqueEmail(), password: 'p'.repeat(2000) }))],
    });
    assertError(r, 413, 'body_too_large');
  });
});

describe('stalled clients', () => {
  let srv;
  const sockets = [];
  before(async () => { srv = await startServer(); });
  after(async () => {
    // stop the server while the stalled connections are still open: it must still exit 0 promptly
    const t0 = Date.now();
    try {
      await srv?.stop();
    } finally {
      for (const s of sockets) s.destroy();
    }
    assert.ok(Date.now() - t0 < 5000, 'SIGTERM with stalled connections open took too long');
  });

  test('half-sent requests do not block other clients', async () => {
    const net = await import('node:net');
    for (let i = 0; i < 10; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      if (i % 2) {
        s.write('POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":');
      } else {
        s.write('GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthor');
      }
      sockets.push(s);
    }
    const t0 = Date.now();
    const a = await signup(srv);
    assert.equal((await me(srv, a.access)).status, 200);
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
    assert.ok(Date.now() - t0 < 5000, `normal requests took ${Date.now() - t0} ms with stalled clients around`);
  });
});

/**
 * Writes raw bytes on a fresh connection and reads until the server closes
 * it or a complete response (by Content-Length) has arrived. Resolves
 * {status, headers (lower-case keys), text, json, closed} or {status: 0}
 * if the server closed without answering.
 */
function rawHttp(port, bytes) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const parts = [];
    let settled = false;
    const parse = (closed) => {
      const buf = Buffer.concat(parts);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return closed ? { status: 0 } : null;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const body = buf.subarray(end + 4);
      const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
      if (!closed && (len === null || body.length < len)) return null;
      const text = body.toString('utf8');
      let json = null;
      try { json = JSON.parse(text); } catch { /* not json */ }
      return { status, headers, text, json, closed };
    };
    const finish = (closed) => {
      if (settled) return;
      const r = parse(closed);
      if (!r) return;
      settled = true;
      s.destroy();
      resolve(r);
    };
    s.on('data', (d) => { parts.push(d); finish(false); });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.setTimeout(10000, () => finish(true));
    s.write(bytes, () => {});
  });
}

function assertJsonWithSecurityHeaders(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text?.slice(0, 200)}`);
  assert.equal(r.json?.error?.code, code, `${what}: ${r.text?.slice(0, 200)}`);
  assert.match(r.headers['content-type'], /^application\/json/, what);
  for (const [h, v] of Object.entries({
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'cache-control': 'no-store',
  })) assert.equal(r.headers[h], v, `${what}: ${h}`);
  assert.ok(r.headers['x-request-id'], `${what}: X-Request-Id`);
}

describe('requests libevent would otherwise answer itself', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  const healthy = async (what) => {
    const r = await api(srv.url, 'GET', '/healthz');
    assert.equal(r.status, 200, `server still answers after ${what}`);
  };
  // the log is flushed when the loop goes idle: poll briefly
  const logged = async (status) => {
    for (let i = 0; i < 40; i++) {
      if (srv.stderrLines().some((l) => l.includes(`"status":${status}`))) return true;
      await sleep(50);
    }
    return false;
  };

  test('a 200 KB body (over the 64 KiB default cap) -> JSON 413 with the security headers', async () => {
    const body = Buffer.alloc(200 * 1024, 0x20);
    const r = await rawHttp(srv.port, Buffer.concat([
      Buffer.from(`POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
      body]));
    assertJsonWithSecurityHeaders(r, 413, 'body_too_large', '200 KB body');
    await healthy('a 200 KB body');
  });

  test('a ~64 KB header -> JSON 431 with the security headers, and logged', async () => {
    const r = await rawHttp(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assertJsonWithSecurityHeaders(r, 431, 'headers_too_large', '64 KB header');
    assert.equal(r.headers.connection, 'close');
    await healthy('a 64 KB header');
    assert.ok(await logged(431), 'the 431 has a request log line');
  });

  test('a header block over libevent\'s ceiling gets an error (libevent\'s own) and the server stays up', async () => {
    const r = await rawHttp(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(256 * 1024)}\r\n\r\n`);
    assert.ok(r.status === 0 || [400, 413, 431].includes(r.status), `got ${r.status}`);
    await healthy('a 256 KB header');
  });

  for (const method of ['TRACE', 'PROPFIND', 'CONNECT', 'BREW']) {
    test(`${method} -> JSON 405 (known path) / 404 (unknown path) and the server stays up`, async () => {
      const r = await rawHttp(srv.port, `${method} /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      if (method === 'CONNECT') assertJsonWithSecurityHeaders(r, 404, 'not_found', method); // the target is not a path
      else assertJsonWithSecurityHeaders(r, 405, 'method_not_allowed', method);
      const u = await rawHttp(srv.port, `${method} /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assertJsonWithSecurityHeaders(u, 404, 'not_found', `${method} /nope`);
      await healthy(method);
    });
  }

  test('Content-Length together with Transfer-Encoding -> 400, nothing written, server stays up', async () => {
    const users = countRows(srv.dbPath, 'users');
    const body = JSON.stringify({ email: uniqueEmail(), password: strongPassword() });
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const r = await rawHttp(srv.port, `POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    assert.equal(r.status, 400, r.text);
    assert.equal(countRows(srv.dbPath, 'users'), users);
    await healthy('CL + TE');
  });

  for (const [name, framing] of [
    ['Content-Length twice', 'Content-Length: 2\r\nContent-Length: 2\r\n'],
    ['Transfer-Encoding other than chunked', 'Transfer-Encoding: gzip\r\n'],
  ]) {
    test(`${name} -> JSON 400 bad_framing, connection closed`, async () => {
      const r = await rawHttp(srv.port, `POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n{}`);
      assertJsonWithSecurityHeaders(r, 400, 'bad_framing', name);
      assert.equal(r.headers.connection, 'close');
      await healthy(name);
    });
  }

  test('a body on DELETE cannot smuggle a second request: the connection closes after the answer', async () => {
    const a = await signup(srv);
    const inner = `DELETE /v1/sessions/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.access}\r\n\r\n`;
    const r = await rawHttp(srv.port, `DELETE /v1/sessions/y HTTP/1.1\r\nHost: x\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`);
    assertJsonWithSecurityHeaders(r, 401, 'invalid_token', 'DELETE with a body');
    assert.equal(r.headers.connection, 'close');
    await healthy('DELETE with a body');
  });
});
