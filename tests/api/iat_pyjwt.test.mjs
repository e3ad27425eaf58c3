// Issue 9, item 17: no access token carries an iat after its signing time,
// not even right after a password change, so a standard library with no
// leeway accepts it: Debian's python3-jwt (PyJWT) raises
// ImmatureSignatureError for a future iat. Revocation stays exact: tokens
// issued before the change, even in the same second, are still refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import {
  startServer, api, signup, signin, me, refresh, sleep, assertError, decodePart,
} from './lib/harness.mjs';

// A PyJWT verifier started before the clock-sensitive part (Python's start
// takes longer than the second we test in): one token per line in, "ok" or
// the exception out.
const PY = `
import sys, json, jwt
jwks, iss, aud = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
keys = {k["kid"]: jwt.PyJWK(k, algorithm="ES256").key for k in jwks["keys"]}
print("ready", flush=True)
for line in sys.stdin:
    tok = line.strip()
    try:
        kid = jwt.get_unverified_header(tok)["kid"]
        jwt.decode(tok, keys[kid], algorithms=["ES256"], audience=aud, issuer=iss, leeway=0)
        print("ok", flush=True)
    except Exception as e:
        print("error %s: %s" % (type(e).__name__, e), flush=True)
`;

function pyjwt(jwks, iss, aud) {
  const child = spawn('/usr/bin/python3', ['-c', PY, JSON.stringify(jwks), iss, aud], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async ready() { assert.equal((await lines.next()).value, 'ready'); },
    async verify(tok) { child.stdin.write(`${tok}\n`); return (await lines.next()).value; },
    stop() { child.stdin.end(); child.kill(); },
  };
}

// Waits for the start of a wall-clock second, so what follows runs inside
// the same second as the password change.
async function secondStart() {
  while (Date.now() % 1000 > 50) await sleep(5);
}

describe('iat is never in the future (PyJWT, leeway 0)', () => {
  let srv; let py;
  before(async () => {
    srv = await startServer();
    const jwks = (await api(srv.url, 'GET', '/.well-known/jwks.json')).json;
    py = pyjwt(jwks, `http://${srv.listen}`, 'gatehouse');
    await py.ready();
  });
  after(async () => { py?.stop(); await srv?.stop(); });

  test('right after a password change, PyJWT accepts the new tokens; every token from before is refused by the server', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await signup(srv);
      const other = await signin(srv, a.email, a.password);
      assert.equal(await py.verify(a.access), 'ok', 'control: an ordinary token');
      const np = `a new passphrase right now ${round} zq`;
      await secondStart();
      const early = await signin(srv, a.email, a.password); // same second, before the change
      const ch = await api(srv.url, 'POST', '/v1/password', { json: { current_password: a.password, new_password: np }, token: a.access });
      assert.equal(ch.status, 204, ch.text);
      const r = await refresh(srv, a.refresh);
      assert.equal(r.status, 200, r.text);
      const s = await signin(srv, a.email, np);
      const fresh = [r.json.access_token, s.access];
      const results = [];
      for (const t of fresh) results.push(await py.verify(t));
      const nowS = Math.floor(Date.now() / 1000);
      assert.deepEqual(results, ['ok', 'ok'], 'PyJWT with leeway=0 accepts both');
      for (const t of fresh) assert.ok(decodePart(t, 1).iat <= nowS, `iat ${decodePart(t, 1).iat} is not after the time it was checked (${nowS})`);
      // the server accepts the new ones, and refuses every token issued before the change
      for (const t of fresh) assert.equal((await me(srv, t)).status, 200);
      for (const t of [a.access, other.access, early.access]) assertError(await me(srv, t), 401, 'invalid_token');
      assertError(await refresh(srv, other.refresh), 401, 'invalid_token', 'other sessions are revoked');
      // the caller's new token keeps working through a second change in the same second
      const r2 = await refresh(srv, r.json.refresh_token);
      const ch2 = await api(srv.url, 'POST', '/v1/password', { json: { current_password: np, new_password: `${np} again` }, token: r2.json.access_token });
      assert.equal(ch2.status, 204, ch2.text);
      for (const t of [r.json.access_token, r2.json.access_token, s.access]) assertError(await me(srv, t), 401, 'invalid_token', 'a second change ends them too');
      const r3 = await refresh(srv, r2.json.refresh_token);
      assert.equal(r3.status, 200, r3.text);
      assert.equal((await me(srv, r3.json.access_token)).status, 200);
      assert.equal(await py.verify(r3.json.access_token), 'ok');
    }
  });
});
