// Magic links delivered over real SMTP (aiosmtpd from Debian on loopback).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  startServer, api, signup, me, mkTempDir, freePort, sql, sleep, assertError, uniqueEmail, runCli,
  sha256Hex, assertNotInDb,
  markVerified, dbOf, hexOf,
} from './lib/harness.mjs';

// A real SMTP server writing every message to a Maildir.
async function startSmtp() {
  const port = await freePort();
  const dir = mkTempDir('gatehouse-smtp-');
  const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`,
    '-c', 'aiosmtpd.handlers.Mailbox', path.join(dir, 'Maildir')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('/usr/bin/python3', ['-c', `import socket; socket.create_connection(("127.0.0.1", ${port}), 1)`]);
      break;
    } catch { await sleep(100); }
  }
  return {
    url: `smtp://127.0.0.1:${port}`,
    // every delivered message's raw text
    messages() {
      const out = [];
      for (const sub of ['new', 'cur']) {
        const d = path.join(dir, 'Maildir', sub);
        if (fs.existsSync(d)) for (const f of fs.readdirSync(d)) out.push(fs.readFileSync(path.join(d, f), 'utf8'));
      }
      return out;
    },
    stop() { child.kill('SIGTERM'); },
  };
}

async function waitFor(fn, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await sleep(100);
  }
}

// The log's JSON lines.
const logLines = (stderr) => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return {}; } });

const linkIn = (msg) => /magic-link\?token=([A-Za-z0-9_-]{43})/.exec(msg)?.[1];

describe('magic links over SMTP', () => {
  let smtp; let srv;
  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({ env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_SMTP_STARTTLS: 'off', GATEHOUSE_PUBLIC_URL: 'https://auth.example.test' } });
  });
  after(async () => { await srv?.stop(); smtp?.stop(); });

  test('the same 202 for known and unknown addresses; only the known one gets mail; the link signs in once', async () => {
    const a = await signup(srv);
    const known = await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    const unknown = await api(srv.url, 'POST', '/v1/magic-link', { json: { email: uniqueEmail() } });
    const invalid = await api(srv.url, 'POST', '/v1/magic-link', { json: { email: 'not an address' } });
    assert.equal(known.status, 202);
    assert.equal(known.text, unknown.text);
    assert.equal(known.text, invalid.text);
    const msg = await waitFor(() => smtp.messages().find((m) => m.includes(a.email)));
    assert.ok(msg, 'the email was delivered over SMTP');
    assert.match(msg, /Subject: Sign in to Gatehouse/);
    assert.match(msg, /https:\/\/auth\.example\.test\/magic-link\?token=/);
    await sleep(1500);
    assert.equal(smtp.messages().length, 1, 'nothing sent for the unknown address');
    const token = linkIn(msg);
    const db = dbOf(srv.dataDir);
    // stored as the SHA-256 of the token (the only link so far), and the token itself nowhere
    assert.equal(sql(db, `SELECT ${hexOf('token_hash')} FROM magic_links WHERE purpose = 'signin';`), sha256Hex(token), 'stored as SHA-256');
    assert.match(sql(db, 'SELECT message_sealed FROM mail_queue;'), /^v1\./, 'queued mail is sealed by the vault');
    assertNotInDb(db, { 'magic-link token': token });
    const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.user.id, a.user.id);
    assert.equal((await me(srv, v.json.access_token)).status, 200);
    assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } }), 401, 'invalid_token');
    assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: 'x'.repeat(43) } }), 401, 'invalid_token');
    assert.match(sql(db, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.success' ORDER BY id DESC LIMIT 1;`), /magic_link/);
  });

  test('20 parallel uses of one link: exactly one signs in', async () => {
    const a = await signup(srv);
    const before0 = smtp.messages().length;
    await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    const msg = await waitFor(() => smtp.messages().length > before0 && smtp.messages().find((m) => m.includes(a.email)));
    const token = linkIn(msg);
    const res = await Promise.all(Array.from({ length: 20 }, () => api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } })));
    assert.equal(res.filter((r) => r.status === 200).length, 1);
  });
});

describe('magic links: expiry, sign-up, development outbox', () => {
  test('an expired link answers token_expired; sign-up by link creates the account when enabled; dev writes .eml files', async () => {
    const srv = await startServer({ env: { GATEHOUSE_MAGIC_LINK_TTL: '60', GATEHOUSE_MAGIC_LINK_SIGNUP: 'on' } });
    try {
      const email = uniqueEmail();
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email } })).status, 202);
      const outbox = path.join(srv.dataDir, 'outbox');
      const file = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)[0]);
      assert.ok(file, 'an .eml file in the outbox');
      assert.equal(fs.statSync(path.join(outbox, file)).mode & 0o777, 0o600);
      assert.equal(fs.statSync(outbox).mode & 0o777, 0o700, 'the outbox directory is private too');
      assert.ok(file.endsWith('.eml'));
      const token = linkIn(fs.readFileSync(path.join(outbox, file), 'utf8'));
      // development logs the link at info level, for the developer to click
      const logged = logLines(srv.stderr()).filter((l) => (l.msg ?? '').includes(token));
      assert.equal(logged.length, 1, srv.stderr());
      assert.equal(logged[0].level, 'info');
      assert.match(logged[0].msg, new RegExp(`development: signin link for ${email.replace(/[.+]/g, '\\$&')}: http://127\\.0\\.0\\.1:\\d+/magic-link\\?token=${token}`));
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.json.user.email, email);
      // a password sign-in for the link-made account fails (it has no password)
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email, password: 'correct horse battery staple' } }), 401, 'invalid_credentials');
      // expiry: make a link, then age it in the database
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email } });
      const second = await waitFor(() => fs.readdirSync(outbox).length === 2 && fs.readdirSync(outbox).find((f) => f !== file));
      const t2 = linkIn(fs.readFileSync(path.join(outbox, second), 'utf8'));
      sql(dbOf(srv.dataDir), 'UPDATE magic_links SET expires_at = 1 WHERE used_at IS NULL;');
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: t2 } }), 401, 'token_expired');
    } finally {
      await srv.stop();
    }
  });

  test('for an account with TOTP, a magic link answers mfa_required exactly like a password', async () => {
    const srv = await startServer();
    try {
      const a = await signup(srv);
      markVerified(srv, a.user.id);
      const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
      const code = execFileSync('oathtool', ['--totp', '-b', b.json.secret], { encoding: 'utf8' }).trim();
      assert.equal((await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code } })).status, 200);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const outbox = path.join(srv.dataDir, 'outbox');
      // (the notice of the new factor is in the outbox too)
      const file = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)
        .find((x) => /magic-link\?token=/.test(fs.readFileSync(path.join(outbox, x), 'utf8'))));
      const token = linkIn(fs.readFileSync(path.join(outbox, file), 'utf8'));
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.json.mfa_required, true);
      assert.equal(v.json.access_token, undefined);
      const next = execFileSync('oathtool', ['--totp', '-b', b.json.secret, '-N', `@${Math.floor(Date.now() / 1000) + 30}`], { encoding: 'utf8' }).trim();
      const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: v.json.mfa_token, code: next } });
      assert.equal(ok.status, 200, ok.text);
      assert.match(sql(dbOf(srv.dataDir), `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.success' ORDER BY id DESC LIMIT 1;`),
        /"method":"magic_link\+totp"/, 'the audit row names both factors');
    } finally {
      await srv.stop();
    }
  });
});

describe('password reset by email', () => {
  test('forgot is 202 for anyone; the link resets once, revokes every session, does not sign in, and never skips TOTP', async () => {
    const srv = await startServer();
    try {
      const outbox = path.join(srv.dataDir, 'outbox');
      const files = () => (fs.existsSync(outbox) ? fs.readdirSync(outbox) : []);
      const a = await signup(srv);
      const other = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } });
      const r1 = await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      const r2 = await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: uniqueEmail() } });
      assert.equal(r1.status, 202);
      assert.equal(r1.text, r2.text);
      const f = await waitFor(() => files()[0]);
      const text = fs.readFileSync(path.join(outbox, f), 'utf8');
      assert.match(text, /Subject: Reset your password for Gatehouse/);
      const token = /reset-password\?token=([A-Za-z0-9_-]{43})/.exec(text)[1];
      await sleep(1200);
      assert.equal(files().length, 1, 'no mail for the unknown address');
      // a reset link is not a sign-in link
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } }), 401, 'invalid_token');
      // a refused password leaves the link usable
      assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: 'password1234' } }), 422, 'weak_password');
      const newPw = 'a brand new long passphrase 77';
      const ok = await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: newPw } });
      assert.equal(ok.status, 204, ok.text);
      assert.equal(ok.text, '', 'no tokens: a reset does not sign in');
      assertError(await me(srv, a.access), 401, 'invalid_token');
      assertError(await me(srv, other.json.access_token), 401, 'invalid_token');
      assert.equal((await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: a.refresh } })).status, 401);
      assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: 'yet another long passphrase 9' } }), 401, 'invalid_token');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } }), 401, 'invalid_credentials');
      const s = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } });
      assert.equal(s.status, 200, s.text);
      // with TOTP enrolled, a reset still leads to the second factor
      const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: s.json.access_token });
      const code = execFileSync('oathtool', ['--totp', '-b', b.json.secret], { encoding: 'utf8' }).trim();
      assert.equal((await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: s.json.access_token, json: { code } })).status, 200);
      await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      const f2 = await waitFor(() => files().find((x) => x !== f
        && /reset-password\?token=/.test(fs.readFileSync(path.join(outbox, x), 'utf8')))); // not the factor notice
      const t2 = /reset-password\?token=([A-Za-z0-9_-]{43})/.exec(fs.readFileSync(path.join(outbox, f2), 'utf8'))[1];
      const third = 'a third long passphrase for us 3';
      assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token: t2, new_password: third } })).status, 204);
      const s2 = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: third } });
      assert.equal(s2.json.mfa_required, true, 'the reset did not skip TOTP');
      assert.equal(s2.json.access_token, undefined);
      const db = dbOf(srv.dataDir);
      assert.match(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'password.reset';`).trim(), /^2$/);
    } finally {
      await srv.stop();
    }
  });
});

describe('email verification', () => {
  test('required: sign-up gives no session and mails a link; sign-in is refused until confirmed; the link works once', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
    try {
      const outbox = path.join(srv.dataDir, 'outbox');
      const files = () => (fs.existsSync(outbox) ? fs.readdirSync(outbox) : []);
      const email = uniqueEmail();
      const password = 'correct horse battery staple 55';
      const su = await api(srv.url, 'POST', '/v1/signup', { json: { email, password } });
      assert.equal(su.status, 202, su.text);
      assert.deepEqual(su.json, { email_verification_required: true }, 'no user, no tokens (issue 9: the same for a taken address)');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email, password } }), 403, 'email_not_verified');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email, password: 'wrong password here' } }), 401, 'invalid_credentials');
      const f = await waitFor(() => files()[0]);
      const text = fs.readFileSync(path.join(outbox, f), 'utf8');
      assert.match(text, /Subject: Confirm your email address for Gatehouse/);
      const token = /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(text)[1];
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } }), 401, 'invalid_token', 'not a sign-in link');
      assert.equal((await api(srv.url, 'POST', '/v1/email/verify', { json: { token } })).status, 204);
      assertError(await api(srv.url, 'POST', '/v1/email/verify', { json: { token } }), 401, 'invalid_token');
      const s = await api(srv.url, 'POST', '/v1/signin', { json: { email, password } });
      assert.equal(s.status, 200, s.text);
      const rs = await api(srv.url, 'POST', '/v1/email/verify/resend', { token: s.json.access_token });
      assert.equal(rs.status, 202);
      await waitFor(() => files().length === 2);
    } finally {
      await srv.stop();
    }
  });

  test('off (the default) sends nothing at sign-up; an unknown value stops the start', async () => {
    const srv = await startServer();
    try {
      await signup(srv);
      await sleep(1200);
      assert.ok(!fs.existsSync(path.join(srv.dataDir, 'outbox')), 'no mail');
    } finally {
      await srv.stop();
    }
    const dir = mkTempDir();
    for (const v of ['off', 'on', 'required']) {
      const ok = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_EMAIL_VERIFICATION: v } });
      assert.equal(ok.code, 0, `${v}: ${ok.stderr}`);
    }
    for (const v of ['yes', 'ON', 'true', 'require', '1']) {
      const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_EMAIL_VERIFICATION: v } });
      assert.notEqual(r.code, 0, `${v} must stop the start`);
      assert.match(r.stderr, /GATEHOUSE_EMAIL_VERIFICATION must be off, on or required/, v);
    }
  });
});

// Every enumerated setting refuses a value it does not know, naming the
// variable, rather than guessing (a typo in STARTTLS must not mean TLS off,
// nor one in MAGIC_LINK_SIGNUP silently mean off).
describe('mail settings refuse unknown values', () => {
  for (const [name, good, bad, msg] of [
    ['GATEHOUSE_MAGIC_LINK_SIGNUP', ['on', 'off'], ['yes', 'true', 'ON', 'enabled', '1'], /GATEHOUSE_MAGIC_LINK_SIGNUP must be on or off/],
    ['GATEHOUSE_SMTP_STARTTLS', ['required', 'off'], ['no', 'false', 'OFF', 'optional', 'on'], /GATEHOUSE_SMTP_STARTTLS must be required or off/],
  ]) {
    test(`${name}: ${good.join(' and ')} are accepted; anything else stops the start, naming it`, () => {
      const dir = mkTempDir();
      for (const v of good) {
        const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, [name]: v } });
        assert.equal(r.code, 0, `${name}=${v}: ${r.stderr}`);
      }
      for (const v of bad) {
        const r = runCli(['migrate'], { env: { GATEHOUSE_DATA_DIR: dir, [name]: v } });
        assert.notEqual(r.code, 0, `${name}=${v} must stop the start`);
        assert.match(r.stderr, msg, `${name}=${v}`);
      }
    });
  }

  test('GATEHOUSE_MAGIC_LINK_SIGNUP=off, said explicitly, creates no account', async () => {
    const srv = await startServer({ env: { GATEHOUSE_MAGIC_LINK_SIGNUP: 'off' } });
    try {
      const email = uniqueEmail();
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email } })).status, 202);
      await sleep(1200);
      assert.ok(!fs.existsSync(path.join(srv.dataDir, 'outbox')), 'no link for an unknown address');
      assert.equal(sql(dbOf(srv.dataDir), 'SELECT count(*) FROM users;'), '0');
    } finally {
      await srv.stop();
    }
  });
});

// Every line of a raw message ends in CRLF and none is over 998 octets (RFC 5321/5322).
function assertSmtpSafe(raw) {
  assert.doesNotMatch(raw, /[^\r]\n|\r[^\n]/, 'CRLF line endings only');
  for (const line of raw.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 998, `a line of ${Buffer.byteLength(line)} octets`);
}

// The Subject header, unfolded, with RFC 2047 B-encoded words decoded.
function subjectOf(raw) {
  const m = /\r\nSubject:((?:[^\r]|\r\n )*)\r\n/.exec(raw);
  assert.ok(m, 'a Subject header');
  return m[1].replace(/\r\n /g, ' ').trim().replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=\s*/g, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
}

describe('operator templates', () => {
  test('GATEHOUSE_TEMPLATE_DIR texts replace the built-in ones, with {{link}}, {{brand}} and {{minutes}} filled in; LF goes out as CRLF; a non-ASCII brand gives an encoded Subject', async () => {
    const tdir = mkTempDir('gatehouse-tpl-');
    fs.writeFileSync(path.join(tdir, 'signin.txt'), 'Hello from {{brand}}! Click {{link}} within {{minutes}} min.\n\nBye.\n');
    fs.writeFileSync(path.join(tdir, 'signin.html'), '<p>Our own HTML: <a href="{{link}}">go</a></p>\n<p>two</p>\n');
    const brand = 'Acmé Ünïcorn 認証';
    const srv = await startServer({ env: { GATEHOUSE_TEMPLATE_DIR: tdir, GATEHOUSE_BRAND: brand, GATEHOUSE_MAGIC_LINK_TTL: '600' } });
    try {
      const a = await signup(srv);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const outbox = path.join(srv.dataDir, 'outbox');
      const f = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)[0]);
      const text = fs.readFileSync(path.join(outbox, f), 'utf8');
      assert.match(text, new RegExp(`Hello from ${brand}! Click http://127\\.0\\.0\\.1:\\d+/magic-link\\?token=[A-Za-z0-9_-]{43} within 10 min\\.\r\n\r\nBye\\.\r\n`));
      assert.match(text, /<p>Our own HTML: <a href="http:\/\/127\.0\.0\.1:\d+\/magic-link\?token=[^"]+">go<\/a><\/p>\r\n<p>two<\/p>\r\n/);
      assert.doesNotMatch(text, /\{\{/);
      assertSmtpSafe(text);
      assert.match(text, /\r\nSubject: =\?UTF-8\?B\?/, 'the Subject is RFC 2047 encoded');
      assert.ok(!text.split('\r\n\r\n')[0].includes(brand), 'no raw 8-bit text in the headers');
      assert.equal(subjectOf(text), `Sign in to ${brand}`);
      const token = linkIn(text);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('a template with a line over 998 octets once filled in, or not UTF-8, is refused with a warning: the built-in text goes out, whole', async () => {
    const tdir = mkTempDir('gatehouse-tpl-');
    fs.writeFileSync(path.join(tdir, 'signin.txt'), `${'x'.repeat(960)} {{link}}\n`);
    fs.writeFileSync(path.join(tdir, 'signin.html'), Buffer.from('<p>Caf\xe9 <a href="{{link}}">go</a></p>', 'latin1'));
    const srv = await startServer({ env: { GATEHOUSE_TEMPLATE_DIR: tdir } });
    try {
      const a = await signup(srv);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const outbox = path.join(srv.dataDir, 'outbox');
      const f = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)[0]);
      const text = fs.readFileSync(path.join(outbox, f), 'utf8');
      assertSmtpSafe(text);
      assert.ok(!text.includes('x'.repeat(900)) && !text.includes('Caf'), 'neither template was used, not even cut');
      assert.match(text, /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nUse this link to sign in to Gatehouse:/);
      assert.match(text, /<p>Use this link to sign in to Gatehouse:<\/p>/);
      assert.ok(linkIn(text));
      const warns = logLines(srv.stderr()).filter((l) => l.level === 'warn' && /email template .*signin\.(txt|html)/.test(l.msg ?? ''));
      assert.equal(warns.length, 2, srv.stderr());
      assert.ok(warns.some((w) => /line over 998/.test(w.msg)) && warns.some((w) => /not UTF-8/.test(w.msg)));
      assert.ok(warns.every((w) => !w.msg.includes(linkIn(text))), 'the link is not in the warning');
    } finally {
      await srv.stop();
    }
  });
});

describe('mail queue', () => {
  test('a message that cannot be delivered yet survives a restart and goes out once the SMTP server is up', async () => {
    const port = await freePort();
    const env = { GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_SMTP_STARTTLS: 'off', GATEHOUSE_ISSUER: 'https://auth.example.test' };
    const srv = await startServer({ env });
    const a = await signup(srv);
    await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
    const db = dbOf(srv.dataDir);
    await waitFor(() => sql(db, 'SELECT attempts FROM mail_queue;').trim() === '1', 5000);
    assert.match(sql(db, 'SELECT last_error FROM mail_queue;'), /\S/, 'the failure is recorded');
    await srv.stop();
    assert.match(srv.stderr(), /delivery attempt 1 failed/);
    // the SMTP server comes up on that port; a new server process delivers the queued message
    const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', path.join(srv.dataDir, 'Maildir')], { stdio: 'ignore' });
    try {
      await sleep(800);
      const srv2 = await startServer({ env, dataDir: srv.dataDir });
      try {
        const sent = await waitFor(() => sql(db, 'SELECT sent_at IS NOT NULL FROM mail_queue;').trim() === '1', 12000);
        assert.ok(sent, 'delivered after the restart');
        const dir = path.join(srv.dataDir, 'Maildir', 'new');
        const msg = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8');
        assert.ok(linkIn(msg), 'with its link intact');
      } finally {
        await srv2.stop();
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('mail retries', () => {
  test('failed deliveries back off 5·n² s (5, 20, 45, ... 245) and the message is given up after 8 attempts', async () => {
    const port = await freePort(); // nothing listens there: every attempt is refused at once
    const srv = await startServer({ env: { GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_SMTP_STARTTLS: 'off' } });
    const db = dbOf(srv.dataDir);
    const row = () => {
      const [attempts, next, unsent] = sql(db, 'SELECT attempts, next_attempt_at, sent_at IS NULL FROM mail_queue;').split('|');
      return { attempts: Number(attempts), next: BigInt(next), unsent: unsent === '1' };
    };
    try {
      const a = await signup(srv);
      let t0 = nowS();
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      for (let n = 1; n <= 8; n++) {
        assert.ok(await waitFor(() => sql(db, 'SELECT attempts FROM mail_queue;') === String(n), 8000), `attempt ${n} made`);
        const t1 = nowS();
        const r = row();
        assert.equal(r.attempts, n);
        assert.ok(r.unsent, 'nothing was sent');
        assert.match(sql(db, 'SELECT last_error FROM mail_queue;'), /\S/, 'the reason is kept');
        if (n < 8) {
          const delay = BigInt(5 * n * n);
          assert.ok(r.next >= BigInt(t0) + delay && r.next <= BigInt(t1) + delay,
            `after attempt ${n} the next is due 5·${n}² = ${delay} s later: next_attempt_at ${r.next}, attempt at ${t0}..${t1}`);
          // not retried before it is due
          await sleep(1500);
          assert.equal(row().attempts, n, `no attempt ${n + 1} before next_attempt_at`);
          // age it instead of waiting
          t0 = nowS();
          sql(db, `UPDATE mail_queue SET next_attempt_at = ${t0 - 1};`);
        } else {
          assert.equal(r.next, 9223372036854775807n, 'given up: never due again');
        }
      }
      await sleep(2500);
      const last = row();
      assert.equal(last.attempts, 8, 'no ninth attempt');
      assert.ok(last.unsent);
      const lines = logLines(srv.stderr()).filter((l) => /delivery attempt \d+ failed/.test(l.msg ?? ''));
      assert.deepEqual(lines.map((l) => [Number(/attempt (\d+)/.exec(l.msg)[1]), l.level]),
        [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [n, n < 8 ? 'warn' : 'error']), 'a warning per failure, an error when it gives up');
    } finally {
      await srv.stop();
    }
  });
});

// A certificate for 127.0.0.1 that only the test trusts, and
// tests/api/lib/smtp_sink.py demanding TLS (mode starttls or implicit) and AUTH.
async function startTlsSink(mode, user, password) {
  const dir = mkTempDir('gatehouse-smtps-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const port = await freePort();
  const child = spawn('/usr/bin/python3', [fileURLToPath(new URL('./lib/smtp_sink.py', import.meta.url)),
    String(port), path.join(dir, 'Maildir'), path.join(dir, 'cert.pem'), path.join(dir, 'key.pem'), user, password, mode],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`smtp_sink exited ${code}`)));
  });
  return { dir, port, child };
}

// STARTTLS and AUTH against a server that demands both.
describe('SMTP with STARTTLS and AUTH', () => {
  let dir; let port; let child; const user = 'gatehouse'; const password = `pw-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => {
    ({ dir, port, child } = await startTlsSink('starttls', user, password));
  });
  after(() => child?.kill('SIGTERM'));

  const delivered = (email) => {
    const d = path.join(dir, 'Maildir', 'new');
    return fs.existsSync(d) && fs.readdirSync(d).map((f) => fs.readFileSync(path.join(d, f), 'utf8')).find((m) => m.includes(email));
  };
  const env = (over) => ({
    GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_SMTP_USER: user, GATEHOUSE_SMTP_PASSWORD: password,
    GATEHOUSE_SMTP_CA_FILE: path.join(dir, 'cert.pem'), GATEHOUSE_PUBLIC_URL: 'https://auth.example.test', ...over,
  });

  test('with the right CA and password the link is delivered and signs in', async () => {
    const srv = await startServer({ env: env({}) });
    try {
      const a = await signup(srv);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
      const msg = await waitFor(() => delivered(a.email));
      assert.ok(msg, 'delivered through STARTTLS + AUTH');
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: linkIn(msg) } });
      assert.equal(v.status, 200, v.text);
      assert.ok(!srv.stderr().includes(password), 'the SMTP password is never logged');
    } finally {
      await srv.stop();
    }
  });

  for (const [what, over, reason] of [
    ['a wrong SMTP password', { GATEHOUSE_SMTP_PASSWORD: 'wrong-password-123' }, /auth|login|denied|535/i],
    ['a certificate nobody trusts', { GATEHOUSE_SMTP_CA_FILE: null }, /certificate|SSL|verify/i],
  ]) {
    test(`${what}: nothing is sent, the message stays queued with the reason`, async () => {
      const srv = await startServer({ env: env(over) });
      try {
        const a = await signup(srv);
        await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
        const db = dbOf(srv.dataDir);
        assert.ok(await waitFor(() => sql(db, 'SELECT attempts FROM mail_queue;').trim() === '1'), 'one attempt made');
        assert.match(sql(db, 'SELECT last_error FROM mail_queue;'), reason);
        assert.equal(sql(db, 'SELECT sent_at IS NULL FROM mail_queue;').trim(), '1');
        assert.ok(!delivered(a.email));
        assert.ok(!srv.stderr().includes(password) && !srv.stderr().includes('wrong-password-123'), 'no SMTP password in the log');
      } finally {
        await srv.stop();
      }
    });
  }
});

// Implicit TLS: the server speaks TLS from the first byte and demands AUTH.
describe('SMTP over implicit TLS (smtps://) with AUTH', () => {
  let sink; const user = 'gatehouse'; const password = `pw-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => { sink = await startTlsSink('implicit', user, password); });
  after(() => sink?.child.kill('SIGTERM'));

  const delivered = (email) => {
    const d = path.join(sink.dir, 'Maildir', 'new');
    return fs.existsSync(d) && fs.readdirSync(d).map((f) => fs.readFileSync(path.join(d, f), 'utf8')).find((m) => m.includes(email));
  };
  const env = (over) => ({
    GATEHOUSE_SMTP_URL: `smtps://127.0.0.1:${sink.port}`, GATEHOUSE_SMTP_USER: user, GATEHOUSE_SMTP_PASSWORD: password,
    GATEHOUSE_SMTP_CA_FILE: path.join(sink.dir, 'cert.pem'), GATEHOUSE_PUBLIC_URL: 'https://auth.example.test', ...over,
  });

  test('with the right CA and password the link is delivered over smtps:// and signs in', async () => {
    const srv = await startServer({ env: env({}) });
    try {
      const a = await signup(srv);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } })).status, 202);
      const msg = await waitFor(() => delivered(a.email));
      assert.ok(msg, 'delivered over implicit TLS + AUTH');
      const db = dbOf(srv.dataDir);
      assert.equal(sql(db, 'SELECT attempts, sent_at IS NOT NULL FROM mail_queue;').trim(), '1|1');
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: linkIn(msg) } });
      assert.equal(v.status, 200, v.text);
      assert.ok(!srv.stderr().includes(password), 'the SMTP password is never logged');
    } finally {
      await srv.stop();
    }
  });

  // The same port through smtp:// fails: the server above really was TLS from the first byte.
  for (const [what, over, reason] of [
    ['plain smtp:// to the TLS port', () => ({ GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${sink.port}` }), /\S/],
    ['a certificate nobody trusts', () => ({ GATEHOUSE_SMTP_CA_FILE: null }), /certificate|SSL|verify/i],
    ['a wrong SMTP password', () => ({ GATEHOUSE_SMTP_PASSWORD: 'wrong-password-123' }), /auth|login|denied|535/i],
  ]) {
    test(`${what}: nothing is sent, the message stays queued with the reason`, async () => {
      const srv = await startServer({ env: env(over()) });
      try {
        const a = await signup(srv);
        await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
        const db = dbOf(srv.dataDir);
        assert.ok(await waitFor(() => sql(db, 'SELECT attempts FROM mail_queue;').trim() === '1', 15000), 'one attempt made');
        assert.match(sql(db, 'SELECT last_error FROM mail_queue;'), reason);
        assert.equal(sql(db, 'SELECT sent_at IS NULL FROM mail_queue;').trim(), '1');
        assert.ok(!delivered(a.email));
        assert.ok(!srv.stderr().includes(password) && !srv.stderr().includes('wrong-password-123'), 'no SMTP password in the log');
      } finally {
        await srv.stop();
      }
    });
  }
});

describe('mail and shutdown', () => {
  test('an SMTP server that accepts and never answers does not hold up shutdown; the message stays due', async () => {
    const net = await import('node:net');
    const sockets = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const srv = await startServer({ env: { GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${silent.address().port}`, GATEHOUSE_SMTP_STARTTLS: 'off' } });
    try {
      const a = await signup(srv);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      assert.ok(await waitFor(() => sockets.length > 0, 5000), 'delivery started');
    } finally {
      const t0 = Date.now();
      await srv.stop(); // asserts a clean exit within the harness's limit
      assert.ok(Date.now() - t0 < 4000, `shutdown took ${Date.now() - t0} ms`);
      for (const s of sockets) s.destroy();
      silent.close();
    }
    const db = dbOf(srv.dataDir);
    assert.equal(sql(db, 'SELECT attempts, sent_at IS NULL FROM mail_queue;').trim(), '0|1', 'not counted as an attempt, still queued');
  });
});

// Someone signs up with an address that is not theirs and waits for its
// owner to use it (Sudhodanan & Paverd, "Pre-hijacked accounts", 2022).
describe('account pre-hijacking', () => {
  async function linkFor(srv, email, n) {
    await api(srv.url, 'POST', '/v1/magic-link', { json: { email } });
    const outbox = path.join(srv.dataDir, 'outbox');
    const files = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox).length >= n && fs.readdirSync(outbox));
    const byAge = files.map((f) => path.join(outbox, f)).sort((x, y) => fs.statSync(x).mtimeMs - fs.statSync(y).mtimeMs);
    const msgs = byAge.map((f) => fs.readFileSync(f, 'utf8')).filter((m) => m.includes(email) && m.includes('/magic-link?'));
    return linkIn(msgs[msgs.length - 1]);
  }

  test("the owner's first link removes the password and sessions set up by whoever signed up unverified", async () => {
    const srv = await startServer();
    try {
      const attacker = await signup(srv); // the "victim's" address, the attacker's password
      const token = await linkFor(srv, attacker.email, 1);
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } });
      assert.equal(v.status, 200, v.text);
      assert.equal((await me(srv, v.json.access_token)).status, 200, 'the owner is signed in');
      assert.equal((await me(srv, attacker.access)).status, 401, "the earlier session is gone");
      assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: attacker.refresh } }), 401);
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: attacker.email, password: attacker.password } }), 401, 'invalid_credentials');
      const db = dbOf(srv.dataDir);
      assert.match(sql(db, `SELECT details FROM audit_log WHERE target = '${attacker.user.id}' AND action = 'email.verified';`), /"unverified_password":"removed"/);
      // once verified, later links leave the (owner's) password and sessions alone
      const reset = await api(srv.url, 'POST', '/v1/password', { token: v.json.access_token, json: { current_password: attacker.password, new_password: 'x' } });
      assert.equal(reset.status, 403, 'the old password no longer proves anything');
      const t2 = await linkFor(srv, attacker.email, 2);
      const v2 = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: t2 } });
      assert.equal(v2.status, 200, v2.text);
      assert.equal((await me(srv, v.json.access_token)).status, 200, 'a verified account keeps its sessions');
    } finally {
      await srv.stop();
    }
  });

  test('a verified account keeps its password when its owner signs in by link', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'on' } });
    try {
      const a = await signup(srv);
      const outbox = path.join(srv.dataDir, 'outbox');
      const confirm = await waitFor(() => fs.existsSync(outbox) && fs.readdirSync(outbox)
        .map((f) => fs.readFileSync(path.join(outbox, f), 'utf8')).find((m) => m.includes('/verify-email?')));
      const ct = /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(confirm)[1];
      assert.equal((await api(srv.url, 'POST', '/v1/email/verify', { json: { token: ct } })).status, 204);
      const token = await linkFor(srv, a.email, 2);
      assert.equal((await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token } })).status, 200);
      assert.equal((await me(srv, a.access)).status, 200);
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } })).status, 200);
    } finally {
      await srv.stop();
    }
  });
});

describe('link lifecycle', () => {
  const linksIn = (srv, kind) => {
    const outbox = path.join(srv.dataDir, 'outbox');
    if (!fs.existsSync(outbox)) return [];
    return fs.readdirSync(outbox).sort((x, y) => fs.statSync(path.join(outbox, x)).mtimeMs - fs.statSync(path.join(outbox, y)).mtimeMs)
      .map((f) => new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`).exec(fs.readFileSync(path.join(outbox, f), 'utf8'))?.[1]).filter(Boolean);
  };

  test('a newer link replaces older ones; a reset spends every outstanding link; refused links are audited', async () => {
    const srv = await startServer();
    try {
      const a = await signup(srv);
      const db = dbOf(srv.dataDir);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      assert.ok(await waitFor(() => linksIn(srv, 'magic-link').length === 1));
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      assert.ok(await waitFor(() => linksIn(srv, 'magic-link').length === 2));
      const [first, second] = linksIn(srv, 'magic-link');
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: first } }), 401, 'invalid_token');
      // the refusal is recorded, naming no account (the token says nothing)
      assert.match(sql(db, "SELECT target || '|' || details FROM audit_log WHERE action = 'signin.failure' ORDER BY id DESC LIMIT 1;"), /^\|.*"method":"magic_link","reason":"invalid"/);
      // a reset spends the outstanding sign-in link
      await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      assert.ok(await waitFor(() => linksIn(srv, 'reset-password').length === 1));
      const [reset] = linksIn(srv, 'reset-password');
      assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token: reset, new_password: 'a brand new passphrase 77' } })).status, 204);
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: second } }), 401, 'invalid_token');
      assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token: reset, new_password: 'a brand new passphrase 78' } }), 401, 'invalid_token');
      assert.match(sql(db, "SELECT details FROM audit_log WHERE action = 'password.reset_failure' ORDER BY id DESC LIMIT 1;"), /"reason":"invalid"/);
      // an expired link is recorded with the keyed hash of its address
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      assert.ok(await waitFor(() => linksIn(srv, 'magic-link').length === 3));
      sql(db, 'UPDATE magic_links SET expires_at = 1 WHERE used_at IS NULL;');
      assertError(await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: linksIn(srv, 'magic-link')[2] } }), 401, 'token_expired');
      const row = sql(db, "SELECT details FROM audit_log WHERE action = 'signin.failure' ORDER BY id DESC LIMIT 1;");
      assert.match(row, /"reason":"expired","email_hmac":"[0-9a-f]{64}"/);
      assert.ok(!row.includes(a.email));
    } finally {
      await srv.stop();
    }
  });
});

// The newest emailed link of a kind ('magic-link', 'reset-password', 'verify-email') sent to an address.
async function outboxLink(srv, kind, email, ms = 8000) {
  const outbox = path.join(srv.dataDir, 'outbox');
  const re = new RegExp(`${kind}\\?token=([A-Za-z0-9_-]{43})`);
  const found = await waitFor(() => {
    if (!fs.existsSync(outbox)) return null;
    const msgs = fs.readdirSync(outbox).map((f) => path.join(outbox, f))
      .sort((x, y) => fs.statSync(x).mtimeMs - fs.statSync(y).mtimeMs)
      .map((f) => fs.readFileSync(f, 'utf8')).filter((m) => m.includes(email) && re.test(m));
    return msgs.length ? re.exec(msgs[msgs.length - 1])[1] : null;
  }, ms);
  assert.ok(found, `a ${kind} link for ${email} in the outbox`);
  return found;
}

const nowS = () => Math.floor(Date.now() / 1000);

describe('password-reset and email-verification links: expiry and parallel use', () => {
  test('a reset link past its expiry answers token_expired and changes nothing; the same link un-aged works', async () => {
    const srv = await startServer();
    try {
      const db = dbOf(srv.dataDir);
      const a = await signup(srv);
      assert.equal((await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } })).status, 202);
      const token = await outboxLink(srv, 'reset-password', a.email);
      const row = sql(db, `SELECT expires_at - created_at FROM magic_links WHERE ${hexOf('token_hash')} = '${sha256Hex(token)}' AND purpose = 'reset';`);
      assert.equal(row, '600', 'a reset link lives GATEHOUSE_MAGIC_LINK_TTL (600 s, ASVS 6.5.5) by default');
      sql(db, `UPDATE magic_links SET expires_at = ${nowS() - 1} WHERE ${hexOf('token_hash')} = '${sha256Hex(token)}';`);
      const newPw = 'an expired link sets nothing 42';
      assertError(await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: newPw } }), 401, 'token_expired');
      assert.equal((await me(srv, a.access)).status, 200, 'no session was revoked');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } }), 401, 'invalid_credentials');
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: a.password } })).status, 200, 'the old password still works');
      assert.match(sql(db, "SELECT details FROM audit_log WHERE action = 'password.reset_failure' ORDER BY id DESC LIMIT 1;"), /"reason":"expired"/);
      // the expiry alone refused it: back inside its lifetime the same link resets
      sql(db, `UPDATE magic_links SET expires_at = ${nowS() + 600} WHERE ${hexOf('token_hash')} = '${sha256Hex(token)}';`);
      assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password: newPw } })).status, 204);
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: newPw } })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('an email-verification link past its expiry answers token_expired and leaves the address unverified', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
    try {
      const db = dbOf(srv.dataDir);
      const password = 'correct horse battery staple 56';
      const [e1, e2] = [uniqueEmail(), uniqueEmail()];
      for (const email of [e1, e2]) assert.equal((await api(srv.url, 'POST', '/v1/signup', { json: { email, password } })).status, 202);
      const [t1, t2] = [await outboxLink(srv, 'verify-email', e1), await outboxLink(srv, 'verify-email', e2)];
      sql(db, `UPDATE magic_links SET expires_at = ${nowS() - 1} WHERE ${hexOf('token_hash')} = '${sha256Hex(t1)}';`);
      assertError(await api(srv.url, 'POST', '/v1/email/verify', { json: { token: t1 } }), 401, 'token_expired');
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: e1, password } }), 403, 'email_not_verified');
      assert.equal(sql(db, `SELECT email_verified_at IS NULL FROM users WHERE email = '${e1}';`), '1');
      // the other, unexpired link of the same kind works
      assert.equal((await api(srv.url, 'POST', '/v1/email/verify', { json: { token: t2 } })).status, 204);
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: e2, password } })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('links keep the expiry they were issued with: one sent under 1800 s still works after a restart with the 600 s default', async () => {
    const dataDir = mkTempDir();
    let srv = await startServer({ dataDir, env: { GATEHOUSE_MAGIC_LINK_TTL: '1800' } });
    let a; let reset; let signinTok;
    try {
      a = await signup(srv);
      await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      reset = await outboxLink(srv, 'reset-password', a.email);
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      signinTok = await outboxLink(srv, 'magic-link', a.email);
    } finally {
      await srv.stop();
    }
    const db = dbOf(dataDir);
    for (const t of [reset, signinTok]) {
      assert.equal(sql(db, `SELECT expires_at - created_at FROM magic_links WHERE ${hexOf('token_hash')} = '${sha256Hex(t)}';`), '1800');
    }
    // as if both were sent 700 s ago: past the new 600 s, inside their own 1800 s
    sql(db, 'UPDATE magic_links SET created_at = created_at - 700, expires_at = expires_at - 700;');
    srv = await startServer({ dataDir });
    try {
      const v = await api(srv.url, 'POST', '/v1/magic-link/verify', { json: { token: signinTok } });
      assert.equal(v.status, 200, v.text);
      const np = 'a passphrase set by an older link 31';
      assert.equal((await api(srv.url, 'POST', '/v1/password/reset', { json: { token: reset, new_password: np } })).status, 204);
      // and a link sent now gets the new default
      await api(srv.url, 'POST', '/v1/magic-link', { json: { email: a.email } });
      const q = "SELECT expires_at - created_at FROM magic_links WHERE purpose = 'signin' ORDER BY created_at DESC LIMIT 1;";
      assert.equal(await waitFor(() => sql(db, "SELECT count(*) FROM magic_links WHERE purpose = 'signin';") === '2' && sql(db, q)), '600');
    } finally {
      await srv.stop();
    }
  });

  test('20 parallel uses of one reset link: exactly one sets its password', async () => {
    const srv = await startServer();
    try {
      const a = await signup(srv);
      await api(srv.url, 'POST', '/v1/password/forgot', { json: { email: a.email } });
      const token = await outboxLink(srv, 'reset-password', a.email);
      const pws = Array.from({ length: 20 }, (_, i) => `parallel reset passphrase number ${i} x`);
      const res = await Promise.all(pws.map((new_password) => api(srv.url, 'POST', '/v1/password/reset', { json: { token, new_password } })));
      assert.equal(res.filter((r) => r.status === 204).length, 1, res.map((r) => r.status).join(','));
      for (const r of res) if (r.status !== 204) assertError(r, 401, 'invalid_token');
      const winner = pws[res.findIndex((r) => r.status === 204)];
      assert.equal((await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: winner } })).status, 200);
      const loser = pws[res.findIndex((r) => r.status !== 204)];
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: loser } }), 401, 'invalid_credentials');
      const db = dbOf(srv.dataDir);
      assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'password.reset';`), '1');
    } finally {
      await srv.stop();
    }
  });

  test('20 parallel uses of one verification link: exactly one confirms the address', async () => {
    const srv = await startServer({ env: { GATEHOUSE_EMAIL_VERIFICATION: 'on' } });
    try {
      const a = await signup(srv);
      const token = await outboxLink(srv, 'verify-email', a.email);
      const res = await Promise.all(Array.from({ length: 20 }, () => api(srv.url, 'POST', '/v1/email/verify', { json: { token } })));
      assert.equal(res.filter((r) => r.status === 204).length, 1, res.map((r) => r.status).join(','));
      for (const r of res) if (r.status !== 204) assertError(r, 401, 'invalid_token');
      const db = dbOf(srv.dataDir);
      assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'email.verified';`), '1');
    } finally {
      await srv.stop();
    }
  });
});
