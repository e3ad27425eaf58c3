// gatehouse import (docs/import.md), run as the real binary against the
// database of a running server, then sign-ins over HTTP: hashes made by
// tools the project did not write (htpasswd -B), refused lines reported by
// number with nothing written for them, --dry-run writing nothing, a second
// run skipping everything, identities and TOTP factors in the store; Auth.js
// (its pg adapter's schema, built in sqlite3 and exported with sqlite3 -json)
// and Supabase (auth.users / auth.identities rows as psql row_to_json prints
// them).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  startServer, runCli, api, sql, signup, assertError, mkTempDir, strongPassword, dumpDb, groupConcat,
} from './lib/harness.mjs';

// A bcrypt hash from Apache's htpasswd (cost 5 keeps the test quick).
function htpasswd(password) {
  const out = execFileSync('htpasswd', ['-nbB', '-C', '5', 'u', password], { encoding: 'utf8' });
  return out.trim().split(':')[1];
}

// A TOTP code from the real oathtool for the step `offset` steps from now.
function oathtool(secret, offset = 0) {
  const at = Math.floor(Date.now() / 1000) + offset * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

const dump = dumpDb;

describe('gatehouse import', () => {
  let srv;
  let dir;
  const imp = (args) => runCli(['import', ...args], { env: { GATEHOUSE_DATA_DIR: srv.dataDir }, timeoutMs: 60000 });
  const write = (name, text) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  let supabasePw;
  const signin = (email, password) => api(srv.url, 'POST', '/v1/signin', { json: { email, password } });

  before(async () => {
    srv = await startServer();
    dir = mkTempDir('gatehouse-import-');
  });
  after(async () => {
    await srv?.stop();
  });

  test('users: a bcrypt user from htpasswd is imported as it was; refused lines are numbered and write nothing', async () => {
    const pw = 'correct horse battery staple 42';
    const hash = htpasswd(pw);
    assert.match(hash, /^\$2y\$05\$/);
    const lines = [
      JSON.stringify({ email: 'bcrypt@example.com', name: 'Bea Crypt', email_verified: true, created_at: '2020-01-02T03:04:05Z', password_hash: hash }),
      JSON.stringify({ email: 'badhash@example.com', password_hash: 'md5:5f4dcc3b5aa765d61d8327deb882cf99' }),
      JSON.stringify({ email: 'unknown@example.com', password: pw }),
      JSON.stringify({ email: 'baddate@example.com', created_at: 'yesterday' }),
      '{"email":"badutf8@example.com","name":"\xff"}',
      JSON.stringify({ email: 'not an address' }),
      JSON.stringify({ email: 'wrongtype@example.com', email_verified: 'true' }),
      JSON.stringify({ email: 'badformat@example.com', password_hash: hash, password_hash_format: 'md5_crypt' }),
    ];
    const file = path.join(dir, 'users.jsonl');
    // line 5 holds the byte 0xff: not UTF-8
    fs.writeFileSync(file, Buffer.concat(lines.map((l, i) => Buffer.from(l + '\n', i === 4 ? 'latin1' : 'utf8'))));
    const r = imp(['users', file]);
    assert.equal(r.code, 1, `refused lines exit 1: ${r.stderr}`);
    const out = r.stdout.split('\n');
    assert.deepEqual(out.slice(0, 3), ['imported: 1', 'skipped: 0', 'refused: 7']);
    const refusals = out.filter((l) => l.startsWith('line '));
    assert.deepEqual(refusals.map((l) => l.split(':')[0]), ['line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
    assert.match(refusals[0], /^line 2: refused: password_hash: /);
    assert.equal(refusals[1], 'line 3: refused: unknown field "password"');
    assert.match(refusals[2], /^line 4: refused: created_at: not an RFC 3339 time/);
    assert.equal(refusals[3], 'line 5: refused: not valid UTF-8');
    assert.equal(refusals[4], 'line 6: refused: email: not a valid address');
    assert.equal(refusals[5], 'line 7: refused: email_verified: must be true or false');
    assert.match(refusals[6], /^line 8: refused: password_hash: /);
    // No value of a line reaches the report (the hash, the password).
    assert.ok(!r.stdout.includes(hash.slice(7)) && !r.stdout.includes(pw) && !r.stderr.includes(pw));
    // Nothing was written for a refused line.
    assert.equal(sql(srv.dbPath, "SELECT COUNT(*) FROM users WHERE email <> 'bcrypt@example.com'"), '0');
    assert.equal(sql(srv.dbPath, "SELECT name || '|' || (CASE WHEN email_verified_at IS NOT NULL THEN 1 ELSE 0 END) || '|' || created_at || '|' || role FROM users WHERE email = 'bcrypt@example.com'"),
      'Bea Crypt|1|1577934245|user');
    const details = sql(srv.dbPath, "SELECT details FROM audit_log WHERE action = 'user.imported'");
    assert.equal(details, '{"source":"users","format":"bcrypt"}');
    assert.ok(!sql(srv.dbPath, `SELECT ${groupConcat('details')} FROM audit_log`).includes(hash.slice(7)));
  });

  test('users: the htpasswd user signs in with the original password, is rehashed to Argon2id, signs in again', async () => {
    const pw = 'correct horse battery staple 42';
    // The original password signs in; a wrong one does not.
    assertError(await signin('bcrypt@example.com', pw + 'x'), 401, 'invalid_credentials');
    const ok = await signin('bcrypt@example.com', pw);
    assert.equal(ok.status, 200, ok.text);
    // Then the hash is Argon2id (the sign-in rehashed it), and it still signs in.
    assert.match(sql(srv.dbPath, "SELECT password_hash FROM users WHERE email = 'bcrypt@example.com'"), /^\$argon2id\$/);
    assert.equal(sql(srv.dbPath, "SELECT COUNT(*) FROM audit_log WHERE action = 'password.rehashed'"), '1');
    assert.equal((await signin('bcrypt@example.com', pw)).status, 200);
  });

  test('users: --dry-run writes nothing and prints the same report; a second run skips everything', async () => {
    const a = await signup(srv); // an account that exists already
    const lines = [
      { email: 'dry1@example.com', identities: [{ provider: 'google', subject: 'g-dry-1' }] },
      { email: a.email },
      { email: 'dry2@example.com', identities: [{ provider: 'google', subject: 'g-dry-1' }] },
      { email: 'DRY1@example.com' },
      { email: 'dry3@example.com', role: 'admin', email_verified: true },
    ].map((o) => JSON.stringify(o)).join('\n') + '\n';
    const file = write('dry.jsonl', lines);
    const before = dump(srv.dbPath);
    const dry = imp(['users', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dump(srv.dbPath), before, 'the dry run changed the database');
    const real = imp(['users', file]);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(dry.stdout, 'dry run: nothing was written\n' + real.stdout);
    const out = real.stdout.split('\n');
    assert.deepEqual(out.slice(0, 6), [
      'imported: 2', 'skipped: 3', 'refused: 0',
      'line 2: skipped: an account with this address exists',
      'line 3: skipped: line 1 of this file has the same google identity',
      'line 4: skipped: line 1 of this file has the same address',
    ]);
    // google is not configured on this server: said, with the setting.
    assert.match(real.stdout, /warning: 1 imported identity of provider "google": it is not configured \(GATEHOUSE_OIDC_GOOGLE_CLIENT_ID is not set\)/);
    assert.match(real.stdout, /note: 1 imported account has email_verified=false: the first emailed link/);
    assert.equal(sql(srv.dbPath, "SELECT COUNT(*) FROM users WHERE email LIKE 'dry_@example.com'"), '2');
    assert.equal(sql(srv.dbPath, "SELECT role FROM users WHERE email = 'dry3@example.com'"), 'admin');
    // The identity is in the store, linked to its account.
    assert.equal(sql(srv.dbPath, "SELECT u.email FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = 'google' AND i.subject = 'g-dry-1'"),
      'dry1@example.com');
    // Twice is harmless: everything is skipped, nothing changes.
    const mid = dump(srv.dbPath);
    const again = imp(['users', file]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.split('\n').slice(0, 3), ['imported: 0', 'skipped: 5', 'refused: 0']);
    assert.equal(dump(srv.dbPath), mid);
  });

  test('users: an imported TOTP secret keeps the authenticator (an 80-bit secret too)', async () => {
    // An Argon2id hash Gatehouse made, carried to another address.
    const donor = await signup(srv);
    const hash = sql(srv.dbPath, `SELECT password_hash FROM users WHERE email = '${donor.email}'`);
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DP'.slice(0, 16); // 10 bytes, as many apps made them
    const file = write('totp.jsonl', JSON.stringify({ email: 'totp@example.com', email_verified: true, password_hash: hash, totp_secret: secret.toLowerCase() }) + '\n');
    const r = imp(['users', file]);
    assert.equal(r.code, 0, r.stderr);
    // Sealed: the base32 secret is nowhere in the database.
    assert.ok(!dump(srv.dbPath).includes(secret));
    assert.equal(sql(srv.dbPath, "SELECT confirmed_at IS NOT NULL FROM mfa_totp t JOIN users u ON u.id = t.user_id WHERE u.email = 'totp@example.com'"), '1');
    const s = await signin('totp@example.com', donor.password);
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.mfa_required, true, 'the imported factor is asked for');
    assertError(await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool('GEZDGNBVGY3TQOJQ') } }), 401, 'invalid_code');
    const ok = await api(srv.url, 'POST', '/v1/signin/mfa', { json: { mfa_token: s.json.mfa_token, code: oathtool(secret, 1) } });
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.json.access_token);
  });

  test('authjs: the pg adapter schema in sqlite3, exported with sqlite3 -json: Google accounts become identities, tokens stay behind', async () => {
    const db = path.join(dir, 'authjs.db');
    // Auth.js's @auth/pg-adapter schema, as its documentation gives it.
    const schema = `
CREATE TABLE verification_token (identifier TEXT NOT NULL, expires TIMESTAMPTZ NOT NULL, token TEXT NOT NULL, PRIMARY KEY (identifier, token));
CREATE TABLE accounts (id SERIAL, "userId" INTEGER NOT NULL, type VARCHAR(255) NOT NULL, provider VARCHAR(255) NOT NULL,
  "providerAccountId" VARCHAR(255) NOT NULL, refresh_token TEXT, access_token TEXT, expires_at BIGINT, id_token TEXT,
  scope TEXT, session_state TEXT, token_type TEXT, PRIMARY KEY (id));
CREATE TABLE sessions (id SERIAL, "userId" INTEGER NOT NULL, expires TIMESTAMPTZ NOT NULL, "sessionToken" VARCHAR(255) NOT NULL, PRIMARY KEY (id));
CREATE TABLE users (id SERIAL, name VARCHAR(255), email VARCHAR(255), "emailVerified" TIMESTAMPTZ, image TEXT, PRIMARY KEY (id));
INSERT INTO users VALUES (1, 'Gina Google', 'gina@example.com', '2023-05-06 07:08:09.123+00', 'https://lh3.example/a.png');
INSERT INTO users VALUES (2, 'Ned', 'ned@example.com', NULL, NULL);
INSERT INTO users VALUES (3, 'No Mail', NULL, NULL, NULL);
INSERT INTO users VALUES (4, 'Hub', 'hub@example.com', '2023-01-01T00:00:00Z', NULL);
INSERT INTO accounts VALUES (1, 1, 'oidc', 'google', '109876543210987654321', NULL, 'ya29.SECRET-ACCESS-TOKEN', 1700000000, 'eyJSECRET-ID-TOKEN', 'openid email profile', NULL, 'bearer');
INSERT INTO accounts VALUES (2, 4, 'oauth', 'github', '4242', 'ghr_SECRET-REFRESH', 'gho_SECRET-ACCESS', NULL, NULL, 'read:user', NULL, 'bearer');
INSERT INTO accounts VALUES (3, 2, 'email', 'email', 'ned@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
`;
    execFileSync('sqlite3', [db], { input: schema });
    // The documented export: one command per table.
    const users = write('authjs-users.json', execFileSync('sqlite3', ['-json', db, 'SELECT * FROM users'], { encoding: 'utf8' }));
    const accounts = write('authjs-accounts.json', execFileSync('sqlite3', ['-json', db, 'SELECT * FROM accounts'], { encoding: 'utf8' }));
    const before = dump(srv.dbPath);
    const dry = imp(['authjs', '--users', users, '--accounts', accounts, '--dry-run']);
    assert.equal(dry.code, 1, dry.stderr);
    assert.equal(dump(srv.dbPath), before);
    const r = imp(['authjs', '--users', users, '--accounts', accounts]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.split('\n').slice(0, 4), ['imported: 3', 'skipped: 0', 'refused: 1', 'row 3: refused: no email address']);
    assert.equal(sql(srv.dbPath, "SELECT u.email || '|' || u.name || '|' || (CASE WHEN u.email_verified_at IS NOT NULL THEN 1 ELSE 0 END) || '|' || u.password_hash FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = 'google' AND i.subject = '109876543210987654321'"),
      'gina@example.com|Gina Google|1|!');
    assert.equal(sql(srv.dbPath, "SELECT subject FROM identities i JOIN users u ON u.id = i.user_id WHERE u.email = 'hub@example.com' AND i.provider = 'github'"), '4242');
    assert.equal(sql(srv.dbPath, "SELECT (CASE WHEN email_verified_at IS NULL THEN 1 ELSE 0 END) || '|' || (SELECT COUNT(*) FROM identities i WHERE i.user_id = users.id) FROM users WHERE email = 'ned@example.com'"), '1|0');
    assert.equal(sql(srv.dbPath, "SELECT details FROM audit_log WHERE action = 'user.imported' AND target = (SELECT id FROM users WHERE email = 'gina@example.com')"),
      '{"source":"authjs","format":"none"}');
    // The OAuth tokens are not imported anywhere.
    const after = dump(srv.dbPath);
    for (const t of ['SECRET-ACCESS-TOKEN', 'SECRET-ID-TOKEN', 'SECRET-REFRESH', 'SECRET-ACCESS']) assert.ok(!after.includes(t), t);
    assert.match(r.stdout, /provider "github": it is not configured/);
    // psql's JSON lines (row_to_json) read the same: a second run skips all.
    const lines = JSON.parse(fs.readFileSync(users, 'utf8')).map((o) => JSON.stringify(o)).join('\n') + '\n';
    const again = imp(['authjs', '--users', write('authjs-users.jsonl', lines), '--accounts', accounts]);
    assert.equal(again.code, 1);
    assert.deepEqual(again.stdout.split('\n').slice(0, 3), ['imported: 0', 'skipped: 3', 'refused: 1']);
  });

  test('supabase: auth.users and auth.identities rows: verified, names, Google identities, deleted users skipped', async () => {
    const pw = strongPassword();
    const hash = htpasswd(pw).replace(/^\$2y\$/, '$2a$'); // Supabase (GoTrue) writes $2a$
    const base = {
      instance_id: '00000000-0000-0000-0000-000000000000', aud: 'authenticated', role: 'authenticated',
      invited_at: null, confirmation_token: '', confirmation_sent_at: null, recovery_token: '', recovery_sent_at: null,
      email_change_token_new: '', email_change: '', email_change_sent_at: null, last_sign_in_at: '2024-06-01T10:00:00.123456+00:00',
      raw_app_meta_data: { provider: 'email', providers: ['email'] }, is_super_admin: null,
      updated_at: '2024-06-01T10:00:00.123456+00:00', phone: null, phone_confirmed_at: null, phone_change: '',
      phone_change_token: '', phone_change_sent_at: null, email_change_token_current: '', email_change_confirm_status: 0,
      banned_until: null, reauthentication_token: '', reauthentication_sent_at: null, is_sso_user: false, deleted_at: null,
      is_anonymous: false,
    };
    const users = [
      { ...base, id: '11111111-1111-4111-8111-111111111111', email: 'supa@example.com', encrypted_password: hash,
        email_confirmed_at: '2024-01-02T03:04:05.678901+00:00', confirmed_at: '2024-01-02T03:04:05.678901+00:00',
        raw_user_meta_data: { full_name: 'Supa Base', email_verified: true }, created_at: '2024-01-02T03:00:00.000001+00:00' },
      { ...base, id: '22222222-2222-4222-8222-222222222222', email: 'gsupa@example.com', encrypted_password: '',
        email_confirmed_at: '2024-02-02T03:04:05+00:00', raw_user_meta_data: { name: 'G Supa', sub: '555' },
        created_at: '2024-02-02T03:00:00+00:00' },
      { ...base, id: '33333333-3333-4333-8333-333333333333', email: null, phone: '15550001111', encrypted_password: '',
        email_confirmed_at: null, raw_user_meta_data: {}, created_at: '2024-03-02T03:00:00+00:00' },
      { ...base, id: '44444444-4444-4444-8444-444444444444', email: 'gone@example.com', encrypted_password: hash,
        email_confirmed_at: null, raw_user_meta_data: {}, created_at: '2024-03-02T03:00:00+00:00',
        deleted_at: '2024-04-01T00:00:00+00:00' },
    ];
    const identities = [
      { provider_id: '11111111-1111-4111-8111-111111111111', user_id: '11111111-1111-4111-8111-111111111111',
        identity_data: { sub: '11111111-1111-4111-8111-111111111111', email: 'supa@example.com' }, provider: 'email',
        last_sign_in_at: null, created_at: '2024-01-02T03:00:00+00:00', updated_at: '2024-01-02T03:00:00+00:00',
        email: 'supa@example.com', id: 'a1a1a1a1-0000-4000-8000-000000000001' },
      { provider_id: '555', user_id: '22222222-2222-4222-8222-222222222222',
        identity_data: { sub: '555', email: 'gsupa@example.com', email_verified: true, name: 'G Supa' }, provider: 'google',
        last_sign_in_at: null, created_at: '2024-02-02T03:00:00+00:00', updated_at: '2024-02-02T03:00:00+00:00',
        email: 'gsupa@example.com', id: 'a1a1a1a1-0000-4000-8000-000000000002' },
    ];
    // What psql -At -c "select row_to_json(u) from auth.users u" prints: one object a line.
    const uf = write('supabase-users.jsonl', users.map((o) => JSON.stringify(o)).join('\n') + '\n');
    const idf = write('supabase-identities.jsonl', identities.map((o) => JSON.stringify(o)).join('\n') + '\n');
    const r = imp(['supabase', '--users', uf, '--identities', idf]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.split('\n').slice(0, 5), [
      'imported: 2', 'skipped: 1', 'refused: 1',
      'row 3: refused: no email address (a phone-only or anonymous user)',
      'row 4: skipped: deleted in Supabase (deleted_at is set)',
    ]);
    assert.equal(sql(srv.dbPath, "SELECT name || '|' || (CASE WHEN email_verified_at IS NOT NULL THEN 1 ELSE 0 END) || '|' || created_at FROM users WHERE email = 'supa@example.com'"),
      'Supa Base|1|1704164400');
    assert.equal(sql(srv.dbPath, "SELECT u.email || '|' || u.name || '|' || u.password_hash FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = 'google' AND i.subject = '555'"),
      'gsupa@example.com|G Supa|!');
    assert.equal(sql(srv.dbPath, "SELECT COUNT(*) FROM identities WHERE provider = 'email'"), '0');
    assert.equal(sql(srv.dbPath, "SELECT COUNT(*) FROM users WHERE email = 'gone@example.com'"), '0');
    supabasePw = pw;
  });

  test('supabase: the $2a$ password signs in, and is rehashed', async () => {
    const pw = supabasePw;
    const ok = await signin('supa@example.com', pw);
    assert.equal(ok.status, 200, ok.text);
    assertError(await signin('supa@example.com', pw + '!'), 401, 'invalid_credentials');
    assert.match(sql(srv.dbPath, "SELECT password_hash FROM users WHERE email = 'supa@example.com'"), /^\$argon2id\$/);
    assert.equal((await signin('supa@example.com', pw)).status, 200);
  });

  test('usage errors and unreadable input exit 2 and write nothing', async () => {
    const before = dump(srv.dbPath);
    assert.equal(imp([]).code, 2);
    assert.equal(imp(['users']).code, 2);
    assert.equal(imp(['csv', 'x']).code, 2);
    assert.equal(imp(['users', 'a', 'b']).code, 2);
    assert.equal(imp(['authjs', write('x.json', '[]')]).code, 2);
    const missing = imp(['users', path.join(dir, 'nope.jsonl')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot be opened; nothing was imported/);
    const arr = imp(['users', write('arr.json', '[{"email":"arr@example.com"}]')]);
    assert.equal(arr.code, 2);
    assert.match(arr.stderr, /JSON array/);
    assert.equal(dump(srv.dbPath), before);
  });
});
