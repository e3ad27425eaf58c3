// Imported password hashes (docs/password-formats.md): hashes made by tools
// Gatehouse did not write (htpasswd from apache2-utils; Debian's python3
// with passlib, python3-bcrypt, python3-argon2 and hashlib) are put into the
// users table as an import would store them; each user signs in with the
// original password, the hash becomes Argon2id at the configured parameters
// with a password.rehashed audit row, and the sign-in works again. A wrong
// password fails for each format and changes nothing. (Firebase scrypt needs
// the vault to seal its signer key: tests/unit/credentials/test_legacy_hash.c.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, api, signup, signin, me, assertError, sql, rand } from './lib/harness.mjs';

const PY = '/usr/bin/python3'; // Debian's, with python3-passlib/-bcrypt/-argon2

function pyHashes(pw) {
  const script = `
import sys, json, hashlib, base64, os, bcrypt
from passlib.hash import bcrypt as pb, scrypt, django_pbkdf2_sha256, argon2
pw = sys.argv[1]
d = hashlib.sha256(pw.encode()).digest()
b = lambda x: base64.b64encode(x).decode().rstrip('=')
salt = os.urandom(16)
dsalt = base64.b64encode(os.urandom(9)).decode().replace('+', 'x').replace('/', 'y')
out = {
  'bcrypt_2a': pb.using(ident='2a', rounds=4).hash(pw),
  'bcrypt_2b': pb.using(ident='2b', rounds=5).hash(pw),
  'argon2id_p2': argon2.using(type='ID', rounds=2, memory_cost=256, parallelism=2).hash(pw),
  'argon2i_t1': argon2.using(type='I', rounds=1, memory_cost=512, parallelism=1).hash(pw),
  'argon2i_p4': argon2.using(type='I', rounds=3, memory_cost=256, parallelism=4).hash(pw),
  'scrypt_passlib': scrypt.using(rounds=10, block_size=8, parallelism=1).hash(pw),
  'scrypt_hashlib': '$scrypt$ln=9,r=8,p=2$%s$%s' % (b(salt), b(hashlib.scrypt(pw.encode(), salt=salt, n=512, r=8, p=2, dklen=32))),
  'django_passlib': django_pbkdf2_sha256.using(rounds=2000).hash(pw),
  'django_hashlib': 'pbkdf2_sha256$3000$%s$%s' % (dsalt, base64.b64encode(hashlib.pbkdf2_hmac('sha256', pw.encode(), dsalt.encode(), 3000)).decode()),
  'bcrypt_sha256_hex': bcrypt.hashpw(d.hex().encode(), bcrypt.gensalt(4)).decode(),
  'bcrypt_sha256_base64': bcrypt.hashpw(base64.b64encode(d), bcrypt.gensalt(4)).decode(),
}
print(json.dumps(out))
`;
  const r = spawnSync(PY, ['-c', script, pw], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `python3 (passlib) failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function htpasswdB(pw) {
  const r = spawnSync('htpasswd', ['-nbB', '-C', '5', 'u', pw], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `htpasswd failed: ${r.stderr}`);
  return r.stdout.trim().split(':')[1];
}

// What the import stores (legacy_hash_import): the bcrypt-over-SHA-256
// variants get our self-describing prefix; the rest are stored as given.
const CASES = [
  ['htpasswd -B', 'bcrypt', (h, hp) => hp],
  ['passlib bcrypt $2a$', 'bcrypt', (h) => h.bcrypt_2a],
  ['passlib bcrypt $2b$', 'bcrypt', (h) => h.bcrypt_2b],
  ['argon2-cffi Argon2id p=2', 'argon2id', (h) => h.argon2id_p2],
  ['argon2-cffi Argon2i t=1', 'argon2i', (h) => h.argon2i_t1],
  ['argon2-cffi Argon2i p=4', 'argon2i', (h) => h.argon2i_p4],
  ['passlib scrypt', 'scrypt', (h) => h.scrypt_passlib],
  ['hashlib scrypt (PHC form)', 'scrypt', (h) => h.scrypt_hashlib],
  ['passlib Django PBKDF2', 'pbkdf2_sha256', (h) => h.django_passlib],
  ['hashlib Django PBKDF2', 'pbkdf2_sha256', (h) => h.django_hashlib],
  ['bcrypt over SHA-256 hex', 'bcrypt_sha256_hex', (h) => `{bcrypt_sha256_hex}${h.bcrypt_sha256_hex}`],
  ['bcrypt over SHA-256 base64', 'bcrypt_sha256_base64', (h) => `{bcrypt_sha256_base64}${h.bcrypt_sha256_base64}`],
];

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

describe('imported password hashes: sign-in, rehash to Argon2id, audit', () => {
  let srv;
  let hashes;
  let htp;
  const pw = `Imported p4ss ${rand(4)} horse`;
  before(async () => {
    srv = await startServer();
    hashes = pyHashes(pw);
    htp = htpasswdB(pw);
  });
  after(async () => { await srv?.stop(); });

  const hashOf = (id) => sql(srv.dbPath, `SELECT password_hash FROM users WHERE id = ${q(id)};`);
  const rehashRows = (id) => sql(srv.dbPath,
    `SELECT details FROM audit_log WHERE action = 'password.rehashed' AND target = ${q(id)} ORDER BY id;`)
    .split('\n').filter(Boolean);

  for (const [what, format, pick] of CASES) {
    test(`${what}: wrong password fails, the original signs in, is rehashed once, signs in again`, async () => {
      const a = await signup(srv);
      const stored = pick(hashes, htp);
      sql(srv.dbPath, `UPDATE users SET password_hash = ${q(stored)} WHERE id = ${q(a.user.id)};`);

      // a wrong password (and the old Gatehouse one) fails and changes nothing
      for (const wrong of [`${pw}x`, pw.slice(0, -1), a.password, pw.toUpperCase()]) {
        assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: wrong } }),
          401, 'invalid_credentials', `${what}: wrong password`);
      }
      assert.equal(hashOf(a.user.id), stored, 'a failed sign-in leaves the hash alone');
      assert.deepEqual(rehashRows(a.user.id), []);

      // the original password signs in; the hash is now Argon2id at the configured parameters
      const s = await signin(srv, a.email, pw);
      assert.equal((await me(srv, s.access)).status, 200);
      const now = hashOf(a.user.id);
      assert.match(now, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/, `${what}: rehashed`);
      const rows = rehashRows(a.user.id);
      assert.equal(rows.length, 1, 'one password.rehashed row');
      assert.deepEqual(JSON.parse(rows[0]), { from: format, to: 'argon2id' });

      // it signs in again, without another rehash; a wrong one still fails
      const s2 = await signin(srv, a.email, pw);
      assert.equal((await me(srv, s2.access)).status, 200);
      assert.equal(hashOf(a.user.id), now);
      assert.equal(rehashRows(a.user.id).length, 1);
      assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: `${pw}x` } }),
        401, 'invalid_credentials');
    });
  }

  test('a hash of a format Gatehouse does not know never signs in and is never replaced', async () => {
    for (const alien of ['$1$saltsalt$qjXMvbEw8oaL.CzflDugX/', '5f4dcc3b5aa765d61d8327deb882cf99',
      '{bcrypt_sha256_hex}garbage', '!', '', `$2b$05$${'A'.repeat(53)}`]) {
      const a = await signup(srv);
      sql(srv.dbPath, `UPDATE users SET password_hash = ${q(alien)} WHERE id = ${q(a.user.id)};`);
      for (const p of [pw, alien, a.password]) {
        assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: p } }),
          401, 'invalid_credentials', `hash ${alien}`);
      }
      assert.equal(hashOf(a.user.id), alien);
      assert.deepEqual(rehashRows(a.user.id), []);
    }
  });

  test('the same imported hash in two rows: the bcrypt-over-SHA-256 prefix is needed (plain bcrypt of the password fails)', async () => {
    const a = await signup(srv);
    sql(srv.dbPath, `UPDATE users SET password_hash = ${q(hashes.bcrypt_sha256_hex)} WHERE id = ${q(a.user.id)};`);
    assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: pw } }),
      401, 'invalid_credentials', 'undeclared pre-hash');
    const b = await signup(srv);
    sql(srv.dbPath, `UPDATE users SET password_hash = ${q(`{bcrypt_sha256_base64}${hashes.bcrypt_sha256_hex}`)} WHERE id = ${q(b.user.id)};`);
    assertError(await api(srv.url, 'POST', '/v1/signin', { json: { email: b.email, password: pw } }),
      401, 'invalid_credentials', 'the other variant');
  });
});
