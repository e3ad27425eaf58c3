import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, signin, me, assertError, uniqueEmail, strongPassword, rand,
  countRows, median, sql,
} from './lib/harness.mjs';

function assertTokenResponse(body, { withUser }) {
  assert.equal(typeof body.access_token, 'string');
  assert.equal(body.access_token.split('.').length, 3, 'access_token must be a JWS compact token');
  assert.equal(typeof body.refresh_token, 'string');
  assert.ok(body.refresh_token.length >= 20, 'refresh_token should be long and random');
  assert.notEqual(body.refresh_token, body.access_token);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 3600);
  if (withUser) {
    assert.equal(typeof body.user, 'object');
    assert.equal(typeof body.user.id, 'string');
    assert.ok(body.user.id.length > 0);
    assert.equal(typeof body.user.email, 'string');
    assert.ok(body.user.created_at !== undefined && body.user.created_at !== null, 'user.created_at present');
    assert.equal(body.user.password_hash, undefined, 'no hash in user object');
    assert.equal(body.user.password, undefined, 'no password in user object');
  }
}

describe('signup and signin', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  describe('signup', () => {
    test('returns 201 with user, token pair and Bearer type; the access token works on /v1/me', async () => {
      const email = uniqueEmail();
      const password = strongPassword();
      const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password } });
      assert.equal(r.status, 201, r.text);
      assert.match(r.headers.get('content-type') || '', /^application\/json/);
      assertTokenResponse(r.json, { withUser: true });
      assert.equal(r.json.user.email, email);
      const m = await me(srv, r.json.access_token);
      assert.equal(m.status, 200, m.text);
      assert.equal(m.json.id, r.json.user.id);
      assert.equal(m.json.email, email);
      assert.deepEqual(m.json.created_at, r.json.user.created_at);
      assert.equal(m.json.password_hash, undefined);
    });

    test('two users get distinct ids and distinct tokens', async () => {
      const a = await signup(srv);
      const b = await signup(srv);
      assert.notEqual(a.user.id, b.user.id);
      assert.notEqual(a.access, b.access);
      assert.notEqual(a.refresh, b.refresh);
    });

    test('email is trimmed and its domain lower-cased, local part kept as typed', async () => {
      const local = `Alice.Smith${rand(3)}`;
      const r = await api(srv.url, 'POST', '/v1/signup', {
        json: { email: `  ${local}@EXAMPLE.COM  `, password: strongPassword() },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.user.email, `${local}@example.com`);
    });

    test('uniqueness is case-insensitive on the whole address', async () => {
      const local = `Bob${rand(3)}`;
      const pw = strongPassword();
      await signup(srv, `${local}@Example.com`, pw);
      for (const variant of [`${local}@example.com`, `${local.toLowerCase()}@example.com`,
        `${local.toUpperCase()}@EXAMPLE.COM`, ` ${local}@example.com `]) {
        const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: variant, password: strongPassword() } });
        assertError(r, 409, 'email_taken', variant);
      }
    });

    test('duplicate email -> 409 email_taken and no second user row', async () => {
      const a = await signup(srv);
      const before = countRows(srv.dbPath, 'users');
      const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: a.email, password: strongPassword() } });
      assertError(r, 409, 'email_taken');
      assert.equal(countRows(srv.dbPath, 'users'), before);
      // the original password still works (the duplicate did not overwrite it)
      await signin(srv, a.email, a.password);
    });

    for (const bad of ['plainaddress', '@example.com', 'user@', 'us er@example.com', 'user@exa mple.com',
      'a@b@example.com', '', '   ']) {
      test(`invalid email ${JSON.stringify(bad)} -> 422 invalid_email`, async () => {
        const before = countRows(srv.dbPath, 'users');
        const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: bad, password: strongPassword() } });
        assertError(r, 422, 'invalid_email', bad);
        assert.equal(countRows(srv.dbPath, 'users'), before);
      });
    }

    test('overlong email (local part > 64, address > 254) -> 422 invalid_email', async () => {
      for (const e of [`${'a'.repeat(65)}@example.com`, `a@${'b'.repeat(250)}.com`, `${'c'.repeat(5000)}@example.com`]) {
        const r = await api(srv.url, 'POST', '/v1/signup', { json: { email: e, password: strongPassword() } });
        assertError(r, 422, 'invalid_email', `${e.length} chars`);
      }
    });

    test('10 concurrent signups with one email: exactly one 201, the rest 409 email_taken', async () => {
      const email = uniqueEmail();
      const rs = await Promise.all(Array.from({ length: 10 }, () =>
        api(srv.url, 'POST', '/v1/signup', { json: { email, password: strongPassword() } })));
      const statuses = rs.map((r) => r.status);
      assert.equal(statuses.filter((x) => x === 201).length, 1, `statuses ${statuses}`);
      for (const r of rs.filter((x) => x.status !== 201)) assertError(r, 409, 'email_taken');
      assert.equal(Number(sql(srv.dbPath, `SELECT count(*) FROM users WHERE lower(email) = lower('${email}');`)), 1);
    });
  });

  describe('password policy', () => {
    const weak = async (email, password, why) => {
      const before = countRows(srv.dbPath, 'users');
      const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password } });
      assertError(r, 422, 'weak_password', why);
      assert.equal(countRows(srv.dbPath, 'users'), before, 'no user row written for a refused signup');
      return r;
    };

    test('11-byte password is refused, a random 12-byte one is accepted', async () => {
      await weak(uniqueEmail(), 'Tq8#vR2!mZ4', '11 bytes');
      await signup(srv, uniqueEmail(), `Tq8#vR2!mZ4${'pqrstuvwxyz'[Math.floor(Math.random() * 11)]}`);
    });

    for (const pw of ['password1234', 'qwertyuiopas', 'aaaaaaaaaaaa', 'gatehouse2024!', 'Gatehouse123!', '123456789012']) {
      test(`common/weak password ${JSON.stringify(pw)} -> 422 weak_password`, async () => {
        await weak(uniqueEmail(), pw, pw);
      });
    }

    test('password built from the email local part -> 422 weak_password (and the email stays available)', async () => {
      const local = `zk${rand(4)}`; // random, so only a user-input-aware check can catch it
      const email = `${local}@example.com`;
      await weak(email, `${local}${local}12`, 'local part twice');
      await signup(srv, email, strongPassword());
    });

    test('weak_password message gives a reason (not empty)', async () => {
      const r = await weak(uniqueEmail(), 'password1234', 'common');
      assert.ok(r.json.error.message.length >= 5, r.text);
    });

    test('a long lowercase passphrase is accepted (no composition rules)', async () => {
      const a = await signup(srv, uniqueEmail(), 'violet tractor mango ceiling whisper');
      await signin(srv, a.email, 'violet tractor mango ceiling whisper');
    });

    test('leading/trailing spaces are kept: signing in without them fails', async () => {
      const core = strongPassword();
      const a = await signup(srv, uniqueEmail(), `  ${core}  `);
      await signin(srv, a.email, `  ${core}  `);
      for (const pw of [core, `  ${core}`, `${core}  `]) {
        const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: pw } });
        assertError(r, 401, 'invalid_credentials', JSON.stringify(pw));
      }
    });

    test('1024-byte password works (no truncation); 1025 bytes is refused', async () => {
      const long = (rand(600)).slice(0, 1024);
      assert.equal(Buffer.byteLength(long), 1024);
      const a = await signup(srv, uniqueEmail(), long);
      await signin(srv, a.email, long);
      const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: long.slice(0, 1023) } });
      assertError(r, 401, 'invalid_credentials', '1023-byte prefix');
      await weak(uniqueEmail(), long + 'x', '1025 bytes');
    });

    test('the length limit counts bytes, not characters (1024 chars / 1025 bytes refused)', async () => {
      const pw = rand(600).slice(0, 1023) + 'é';
      assert.equal(pw.length, 1024);
      assert.equal(Buffer.byteLength(pw), 1025);
      await weak(uniqueEmail(), pw, '1025 bytes, 1024 chars');
    });

    test('two 200-byte passwords differing only in the last byte are different passwords', async () => {
      const base = rand(150).slice(0, 199);
      const a = await signup(srv, uniqueEmail(), base + 'A');
      const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: a.email, password: base + 'B' } });
      assertError(r, 401, 'invalid_credentials');
      await signin(srv, a.email, base + 'A');
    });
  });

  describe('signin', () => {
    let acct;
    before(async () => { acct = await signup(srv); });

    test('returns 200 with the same shape as signup and a new session', async () => {
      const r = await api(srv.url, 'POST', '/v1/signin', { json: { email: acct.email, password: acct.password } });
      assert.equal(r.status, 200, r.text);
      assertTokenResponse(r.json, { withUser: true });
      assert.equal(r.json.user.id, acct.user.id);
      assert.equal(r.json.user.email, acct.email);
      assert.notEqual(r.json.refresh_token, acct.refresh);
      const m = await me(srv, r.json.access_token);
      assert.equal(m.status, 200);
      assert.equal(m.json.id, acct.user.id);
    });

    test('email lookup is case-insensitive and trims whitespace', async () => {
      const [local, domain] = acct.email.split('@');
      for (const e of [acct.email.toUpperCase(), `${local}@${domain.toUpperCase()}`, `  ${acct.email} `]) {
        const s = await signin(srv, e, acct.password);
        const m = await me(srv, s.access);
        assert.equal(m.json.id, acct.user.id, e);
      }
    });

    test('wrong password and unknown email -> 401 invalid_credentials with byte-identical bodies', async () => {
      const before = countRows(srv.dbPath, 'sessions');
      const wrong = await api(srv.url, 'POST', '/v1/signin', { json: { email: acct.email, password: acct.password + 'x' } });
      const unknown = await api(srv.url, 'POST', '/v1/signin', { json: { email: uniqueEmail(), password: acct.password } });
      assertError(wrong, 401, 'invalid_credentials');
      assertError(unknown, 401, 'invalid_credentials');
      assert.equal(wrong.text, unknown.text, 'bodies must be byte-identical');
      assert.equal(wrong.headers.get('content-type'), unknown.headers.get('content-type'));
      assert.equal(countRows(srv.dbPath, 'sessions'), before, 'no session for failed signins');
    });

    test('timing: unknown email costs about as much as a wrong password (hash is always computed)', async () => {
      const wrongT = [];
      const unknownT = [];
      const timeOne = async (email) => {
        const t0 = process.hrtime.bigint();
        const r = await api(srv.url, 'POST', '/v1/signin', { json: { email, password: 'not the password 123' } });
        const dt = Number(process.hrtime.bigint() - t0) / 1e6;
        assert.equal(r.status, 401);
        return dt;
      };
      // warm up both paths
      await timeOne(acct.email); await timeOne(uniqueEmail());
      for (let i = 0; i < 11; i++) {
        wrongT.push(await timeOne(acct.email));
        unknownT.push(await timeOne(uniqueEmail()));
      }
      const ratio = median(unknownT) / median(wrongT);
      assert.ok(ratio > 0.5 && ratio < 2.0,
        `median unknown-email ${median(unknownT).toFixed(1)} ms vs wrong-password ${median(wrongT).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
    });
  });
});
