// TOTP second factor: enrolment, sign-in challenge, backup codes, removal.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, signup, me, runCli, sql, assertError, assertNotInDb, sha256Hex, uniqueEmail, strongPassword,
  markVerified, dbOf, hexOf, ON_PG, blobLen, BLOB_TYPE,
} from './lib/harness.mjs';
import { jwtVerify, createRemoteJWKSet, decodeJwt } from 'jose';

// A code from the real oathtool binary, for the step `offset` steps from now
// (+1: the next step, still inside the ±1 window and newer than any used one).
function oathtool(secret, offset = 0) {
  const at = Math.floor(Date.now() / 1000) + offset * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

async function enrol(srv, acct) {
  markVerified(srv, acct.user.id); // only a proved address may get a factor (issue 9)
  const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: acct.access });
  assert.equal(b.status, 200, b.text);
  const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: acct.access, json: { code: oathtool(b.json.secret) } });
  assert.equal(c.status, 200, c.text);
  return { secret: b.json.secret, backup: c.json.backup_codes };
}

const pw = (acct) => ({ email: acct.email, password: acct.password });

// RFC 3986 percent-encoding of all but the unreserved characters.
const pct = (v) => encodeURIComponent(v).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

describe('TOTP', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('enrolment returns secret, otpauth URI and QR SVG; confirmation needs a valid code and returns 10 backup codes once', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    assert.equal(b.status, 200, b.text);
    assert.match(b.json.secret, /^[A-Z2-7]{32}$/);
    // Key URI Format: label "issuer:account", then secret, issuer and the algorithm, all URL-encoded
    assert.equal(b.json.otpauth_uri,
      `otpauth://totp/Gatehouse:${pct(a.email)}?secret=${b.json.secret}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`);
    assert.match(b.json.qr_svg, /^<svg[^>]*viewBox="0 0 \d+ \d+"[\s\S]*<\/svg>\s*$/);
    const sealed = sql(dbOf(srv.dataDir), `SELECT secret_sealed FROM mfa_totp WHERE user_id = '${a.user.id}';`).trim();
    assert.match(sealed, /^v1\./, 'the seed is sealed by the vault');
    assert.ok(!sealed.includes(b.json.secret));
    // not active before confirmation: sign-in still gives tokens
    assert.ok((await api(srv.url, 'POST', '/v1/signin', { json: pw(a) })).json.access_token);
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: '000000' } }), 422, 'code_mismatch');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: 12 } }), 422, 'invalid_field');
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret) } });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.backup_codes.length, 10);
    assert.equal(new Set(c.json.backup_codes).size, 10);
    for (const code of c.json.backup_codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){5}$/, "24 base32 characters: 120 bits");
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: oathtool(b.json.secret, 1) } }), 409, 'no_pending_enrolment');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access }), 409, 'mfa_already_enabled');
    assertError(await api(srv.url, 'POST', '/v1/mfa/totp'), 401, 'invalid_token');
  });

  test('sign-in with MFA: the password yields only a challenge; the code completes it, once', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.mfa_required, true);
    assert.match(s.json.mfa_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(s.json.access_token, undefined);
    assert.equal(s.json.refresh_token, undefined);
    assertError(await me(srv, s.json.mfa_token), 401, 'invalid_token', 'the challenge is not a session');
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: '123456' } }), 401, 'invalid_code');
    // the code used to confirm enrolment is spent: its step is used
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret) } }), 401, 'invalid_code');
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.user.id, a.user.id);
    assert.equal((await me(srv, ok.json.access_token)).status, 200);
    // the challenge is single use
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } }), 401, 'invalid_token');
    // and the code too, on a fresh challenge
    const s2 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s2.json.mfa_token, code: oathtool(secret, 1) } }), 401, 'invalid_code');
    const db = dbOf(srv.dataDir);
    const methods = sql(db, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.success';`);
    assert.match(methods, /password\+totp/);
    assert.match(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.enrolled';`).trim(), /^1$/);
  });

  test('one TOTP code used in 20 parallel sign-ins succeeds exactly once', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    const tokens = [];
    for (let i = 0; i < 20; i++) tokens.push((await api(srv.url, 'POST', '/v1/signin', { json: pw(a) })).json.mfa_token);
    const code = oathtool(secret, 1);
    const res = await Promise.all(tokens.map((t) => api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: t, code } })));
    assert.equal(res.filter((r) => r.status === 200).length, 1, res.map((r) => r.status).join(','));
  });

  test('a challenge allows 5 attempts, then it is dead even for the right code', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    for (let i = 0; i < 5; i++) assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: '000000' } }), 401, 'invalid_code');
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } }), 401, 'invalid_token');
  });

  test('backup codes work once each, also under 20 parallel uses', async () => {
    const a = await signup(srv);
    const { backup } = await enrol(srv, a);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: backup[0].toUpperCase() } });
    assert.equal(ok.status, 200, ok.text);
    const s2 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s2.json.mfa_token, code: backup[0] } }), 401, 'invalid_code');
    const tokens = [];
    for (let i = 0; i < 20; i++) tokens.push((await api(srv.url, 'POST', '/v1/signin', { json: pw(a) })).json.mfa_token);
    const res = await Promise.all(tokens.map((t) => api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: t, code: backup[1] } })));
    assert.equal(res.filter((r) => r.status === 200).length, 1, 'exactly one parallel use of a backup code succeeds');
  });

  test('removal needs a valid code and the password; afterwards sign-in is one step again', async () => {
    const a = await signup(srv);
    const { secret, backup } = await enrol(srv, a);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
    const tok = ok.json.access_token;
    const other = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const other2 = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: other.json.mfa_token, code: backup[2] } });
    assert.equal(other2.status, 200, other2.text);
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: {} }), 422, 'missing_field');
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { password: a.password } }), 422, 'missing_field', 'the password alone');
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { code: backup[0] } }), 422, 'missing_field', 'a code alone');
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { code: backup[0], password: 'wrong password here' } }), 403, 'proof_failed');
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { code: '000000', password: a.password } }), 403, 'proof_failed');
    assert.equal((await me(srv, other2.json.access_token)).status, 200, 'another session is live before the removal');
    const del = await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { code: backup[0], password: a.password } });
    assert.equal(del.status, 204, del.text);
    assert.equal((await me(srv, other2.json.access_token)).status, 401, 'removing the factor ended the other session');
    assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: other2.json.refresh_token } }), 401);
    assert.equal((await me(srv, tok)).status, 200, 'the session that removed it stays');
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: tok, json: { code: backup[1], password: a.password } }), 404, 'not_found');
    const s3 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assert.ok(s3.json.access_token, 'no challenge any more');
    const db = dbOf(srv.dataDir);
    assert.match(sql(db, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.removed';`), /"proof":"backup_code\+password"/);
  });

  test('encryption-key rotation re-seals TOTP seeds and they keep working', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    const db = dbOf(srv.dataDir);
    const before = sql(db, `SELECT secret_sealed FROM mfa_totp WHERE user_id = '${a.user.id}';`).trim();
    const r = runCli(['keys', 'rotate', '--encryption'], { env: { GATEHOUSE_DATA_DIR: srv.dataDir }, timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    const after = sql(db, `SELECT secret_sealed FROM mfa_totp WHERE user_id = '${a.user.id}';`).trim();
    assert.notEqual(after, before);
    assert.notEqual(after.split('.')[1], before.split('.')[1], 'sealed under the new key');
    await new Promise((res) => setTimeout(res, 2500)); // servers reload keys every 2 s
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
    assert.equal(ok.status, 200, ok.text);
  });

  test('backup codes can be regenerated with proof; the old set stops working', async () => {
    const a = await signup(srv);
    const { secret, backup } = await enrol(srv, a);
    assertError(await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: oathtool(secret, 1), password: 'wrong password here' } }), 403, 'proof_failed');
    const r = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: oathtool(secret, 1), password: a.password } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.backup_codes.length, 10);
    assert.ok(!r.json.backup_codes.includes(backup[2]));
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: backup[2] } }), 401, 'invalid_code');
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: r.json.backup_codes[0] } });
    assert.equal(ok.status, 200, ok.text);
    const b = await signup(srv);
    assertError(await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: b.access, json: { code: '123456', password: b.password } }), 404, 'not_found');
  });
});

describe('TOTP: what is kept and for how long', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  // The forms a backup code is accepted in: as shown, any case, dashes or spaces or neither.
  const forms = (code) => [code, code.toUpperCase(), code.replace(/-/g, ''), code.replace(/-/g, '').toUpperCase(), code.replace(/-/g, ' ')];
  const canon = (code) => code.replace(/[- ]/g, '').toLowerCase();
  const storedHashes = (userId) => sql(srv.dbPath, `SELECT ${hexOf('code_hash')} FROM mfa_backup_codes WHERE user_id = '${userId}' AND used_at IS NULL ORDER BY 1;`).split('\n').filter(Boolean);

  test('backup codes are stored only as the SHA-256 of their canonical form (docs/api.md), never in clear', async () => {
    const a = await signup(srv);
    const { backup } = await enrol(srv, a);
    const expected = backup.map((c) => sha256Hex(canon(c))).sort();
    assert.deepEqual(storedHashes(a.user.id), expected, 'one SHA-256 per code, of its lower-case form without dashes');
    assert.equal(sql(srv.dbPath, `SELECT DISTINCT ${ON_PG ? 'pg_typeof(code_hash)' : 'typeof(code_hash)'} || ':' || ${blobLen('code_hash')} FROM mfa_backup_codes WHERE user_id = '${a.user.id}';`), `${BLOB_TYPE}:32`);
    const secrets = {};
    backup.forEach((c, i) => forms(c).forEach((f, k) => { secrets[`code ${i} form ${k}`] = f; }));
    assertNotInDb(srv.dbPath, secrets);
    // the canonical forms really are what the server accepts
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: forms(backup[3])[4] } });
    assert.equal(ok.status, 200, ok.text);
    // regenerated codes likewise, and the old hashes are no longer usable
    const r = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: backup[5], password: a.password } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(storedHashes(a.user.id), r.json.backup_codes.map((c) => sha256Hex(canon(c))).sort());
    const again = {};
    r.json.backup_codes.forEach((c, i) => forms(c).forEach((f, k) => { again[`new code ${i} form ${k}`] = f; }));
    assertNotInDb(srv.dbPath, again);
  });

  test('the sign-in challenge (mfa_token) lives 300 s; past that it is refused with invalid_token, even with the right code', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    const t0 = Math.floor(Date.now() / 1000);
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const t1 = Math.floor(Date.now() / 1000);
    assert.equal(s.json.mfa_required, true);
    const where = `WHERE ${hexOf('token_hash')} = '${sha256Hex(s.json.mfa_token)}'`;
    const exp = Number(sql(srv.dbPath, `SELECT expires_at FROM mfa_challenges ${where};`));
    assert.ok(exp >= t0 + 300 && exp <= t1 + 300, `expires_at ${exp} is 300 s after ${t0}..${t1}`);
    sql(srv.dbPath, `UPDATE mfa_challenges SET expires_at = ${Math.floor(Date.now() / 1000) - 1} ${where};`);
    const code = oathtool(secret, 1);
    const r = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code } });
    assertError(r, 401, 'invalid_token');
    assert.equal(r.json.access_token, undefined);
    assert.equal(sql(srv.dbPath, `SELECT attempts, used_at IS NULL FROM mfa_challenges ${where};`), '0|1', 'not counted, not spent');
    // the code itself was good (and is still unspent): a live challenge takes it
    const s2 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s2.json.mfa_token, code } });
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('otpauth URI with a brand and an address that need encoding', () => {
  test('issuer= carries GATEHOUSE_BRAND and the label "brand:account", each percent-encoded', async () => {
    const brand = 'Acme: Auth & Co/Ünï 認証?';
    const srv = await startServer({ env: { GATEHOUSE_BRAND: brand } });
    try {
      const email = `Bob+mfa.${crypto.randomBytes(3).toString('hex')}@Example.COM`;
      const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password: strongPassword() } });
      assert.equal(r.status, 201, r.text);
      const account = r.json.user.email;
      assert.match(account, /^Bob\+mfa\.[0-9a-f]{6}@example\.com$/);
      markVerified(srv, r.json.user.id);
      const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: r.json.access_token });
      assert.equal(b.status, 200, b.text);
      const uri = b.json.otpauth_uri;
      assert.equal(uri, `otpauth://totp/${pct(brand)}:${pct(account)}?secret=${b.json.secret}&issuer=${pct(brand)}&algorithm=SHA1&digits=6&period=30`);
      assert.doesNotMatch(uri.slice('otpauth://totp/'.length), /[^A-Za-z0-9%._~\-:?=&]/, 'nothing outside the unreserved set is left raw');
      // and read back by a standard parser
      const u = new URL(uri);
      assert.equal(u.protocol, 'otpauth:');
      assert.equal(u.host, 'totp');
      assert.equal(decodeURIComponent(u.pathname.slice(1)), `${brand}:${account}`);
      assert.equal(u.searchParams.get('issuer'), brand);
      assert.equal(u.searchParams.get('secret'), b.json.secret);
      assert.equal([...u.searchParams.keys()].join(','), 'secret,issuer,algorithm,digits,period');
    } finally {
      await srv.stop();
    }
  });
});

describe('guessing second-factor codes', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('wrong codes across fresh challenges share one per-account budget of 5 per 5 minutes', async () => {
    const a = await signup(srv);
    const { secret } = await enrol(srv, a);
    for (let i = 0; i < 5; i++) {
      const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
      assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: '000000' } }), 401, 'invalid_code');
    }
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    const r = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
    assertError(r, 429, 'rate_limited');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}: one attempt back after 60 s`);
    assert.match(r.headers.get('ratelimit-policy'), /^"mfa";q=5;w=300$/);
    assert.match(r.headers.get('ratelimit'), /^"mfa";r=0;t=\d+$/);
    const db = dbOf(srv.dataDir);
    const rows = sql(db, `SELECT details FROM audit_log WHERE target = '${a.user.id}' AND action = 'signin.failure' ORDER BY id;`).trim().split('\n');
    assert.equal(rows.length, 5, 'one row per wrong code, none for the refused attempt');
    assert.match(rows[4], /"rate_limited":true/, 'the failure that spent the budget is marked');
    // the same budget guards the proof for changing factors
    assertError(await api(srv.url, 'DELETE', '/v1/mfa/totp', { token: a.access, json: { code: '000000', password: a.password } }), 429, 'rate_limited');
  });

  test('proofs for changing a factor (code and password) are bounded too; a right one gives its unit back', async () => {
    const a = await signup(srv);
    const enrolled = await enrol(srv, a);
    const { secret } = enrolled;
    let { backup } = enrolled;
    for (let i = 0; i < 3; i++) {
      const r = await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: backup[0], password: a.password } });
      assert.equal(r.status, 200, 'right proofs cost nothing');
      backup = r.json.backup_codes;
    }
    for (let i = 0; i < 5; i++) {
      const wrong = i % 2 ? { code: '000000', password: a.password } : { code: backup[0], password: 'wrong password here' };
      assertError(await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: wrong }), 403, 'proof_failed');
    }
    assertError(await api(srv.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: oathtool(secret, 1), password: a.password } }), 429, 'rate_limited');
    const db = dbOf(srv.dataDir);
    assert.equal(sql(db, `SELECT count(*) FROM audit_log WHERE target = '${a.user.id}' AND action = 'mfa.proof_failed';`).trim(), '5');
  });

  test('20 parallel wrong guesses on one account: at most 5 are tried', async () => {
    const a = await signup(srv);
    await enrol(srv, a);
    const tokens = [];
    for (let i = 0; i < 20; i++) tokens.push((await api(srv.url, 'POST', '/v1/signin', { json: pw(a) })).json.mfa_token);
    const res = await Promise.all(tokens.map((t, i) => api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: t, code: String(100000 + i) } })));
    assert.equal(res.filter((r) => r.status === 401).length, 5);
    assert.equal(res.filter((r) => r.status === 429).length, 15);
  });

  test('GATEHOUSE_RATE_LIMITS=off lifts the budget, and is refused in production', async () => {
    const off = await startServer({ env: { GATEHOUSE_RATE_LIMITS: 'off' } });
    try {
      const a = await signup(off);
      await enrol(off, a);
      for (let i = 0; i < 8; i++) assertError(await api(off.url, 'POST', '/v1/mfa/backup-codes', { token: a.access, json: { code: '000000', password: a.password } }), 403, 'proof_failed');
      assert.match(off.stderr(), /GATEHOUSE_RATE_LIMITS=off/);
    } finally {
      await off.stop();
    }
    const r = runCli(['migrate'], { env: { GATEHOUSE_ENV: 'production', GATEHOUSE_RATE_LIMITS: 'off', GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_RATE_LIMITS=off is refused in production/);
  });
});

describe('GATEHOUSE_MFA_REQUIRED=all', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_MFA_REQUIRED: 'all' } }); });
  after(async () => { await srv?.stop(); });

  test('without a second factor a session can only enrol; confirming lifts the restriction', async () => {
    const a = await signup(srv);
    assert.equal(a.body.mfa_enrolment_required, true);
    assertError(await me(srv, a.access), 403, 'mfa_enrolment_required');
    assertError(await api(srv.url, 'GET', '/v1/sessions', { token: a.access }), 403, 'mfa_enrolment_required');
    assertError(await api(srv.url, 'POST', '/v1/password', { token: a.access, json: { current_password: a.password, new_password: 'another long passphrase here' } }), 403, 'mfa_enrolment_required');
    const s = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assert.equal(s.json.mfa_enrolment_required, true, 'sign-in without a factor is restricted too');
    assertError(await me(srv, s.json.access_token), 403, 'mfa_enrolment_required');
    // a refreshed token of a restricted session stays restricted
    const rf = await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: s.json.refresh_token } });
    assert.equal(rf.status, 200, rf.text);
    assertError(await me(srv, rf.json.access_token), 403, 'mfa_enrolment_required');
    // an application verifying these tokens with a standard library refuses them: another audience
    const JWKS = createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    const aud = decodeJwt(s.json.access_token).aud;
    for (const t of [a.access, s.json.access_token, rf.json.access_token]) {
      assert.equal(decodeJwt(t).aud, aud);
      await assert.rejects(jwtVerify(t, JWKS, { issuer: decodeJwt(t).iss, audience: 'gatehouse' }), /aud/);
    }
    assert.match(aud, /^mfa-enrolment:/);
    const s3 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assert.equal((await api(srv.url, 'POST', '/v1/signout', { token: s3.json.access_token })).status, 204, 'a restricted session can sign out');
    const { secret } = await enrol(srv, a);
    assert.equal((await me(srv, a.access)).status, 200, 'the enrolling session is now full');
    // ASVS 7.4.3: sessions that never passed the new factor end with its arrival
    assertError(await me(srv, rf.json.access_token), 401, 'invalid_token', 'other sessions end');
    assertError(await api(srv.url, 'POST', '/v1/token', { json: { grant_type: 'refresh_token', refresh_token: rf.json.refresh_token } }), 401);
    const s2 = await api(srv.url, 'POST', '/v1/signin', { json: pw(a) });
    assert.equal(s2.json.mfa_required, true, 'with a factor, sign-in asks for it');
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s2.json.mfa_token, code: oathtool(secret, 1) } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.mfa_enrolment_required, undefined);
    assert.equal((await me(srv, ok.json.access_token)).status, 200);
    const full = await jwtVerify(ok.json.access_token, JWKS, { issuer: decodeJwt(ok.json.access_token).iss, audience: aud.slice('mfa-enrolment:'.length) });
    assert.equal(full.payload.sub, a.user.id, 'a full session verifies with the real audience');
  });

  test('an unknown policy value stops the start', () => {
    const r = runCli(['migrate'], { env: { GATEHOUSE_MFA_REQUIRED: 'sometimes', GATEHOUSE_DATA_DIR: srv.dataDir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_MFA_REQUIRED/);
  });
});
