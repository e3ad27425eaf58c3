// The provider rotates its signing key (tests/api/lib/oidc_op.mjs
// rotateKey: the JWKS gains a key under a new kid): an ID token under the
// new kid makes Gatehouse fetch the JWKS again, at most once per
// FED_JWKS_MIN_REFRESH_S (60 s) per provider, so a stream of tokens with
// unknown kids cannot make it hammer the provider. Within that minute the
// token is refused (nothing changes); after it, the same kind of token is
// accepted with exactly one more fetch. Its own file: it waits a minute.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail, rand, sleep } from './lib/harness.mjs';
import { startWithOp } from './lib/oidc_op.mjs';
import { browserSignin, snapshot, assertRefused } from './lib/oidc_flow.mjs';

const MIN_REFRESH_S = 60;

test('key rotation: a new kid is fetched once the refresh interval allows, and then accepted', async () => {
  const env = await startWithOp('google');
  try {
    const { srv, op } = env;
    const sub = `g-${rand(6)}`;
    op.addUser({ sub, email: uniqueEmail(), email_verified: true });
    const warm = await browserSignin(srv, op, 'google', sub);
    assert.equal(warm.res.status, 303, 'the JWKS is fetched and cached');
    const warmAt = Date.now();
    const fetches = op.jwksFetches();
    assert.equal(fetches, 1);

    await op.rotateKey();
    const before = snapshot(srv);
    const early = await browserSignin(srv, op, 'google', sub, { beforeCallback: () => op.tamper('rotated_key') });
    assert.equal(op.tampered.at(-1).kind, 'rotated_key');
    assertRefused(srv, early.res, before, { status: 400, display: 'Google', what: 'a new kid within the refresh interval' });
    assert.equal(op.jwksFetches(), fetches, 'no fetch within the interval');

    await sleep(Math.max(0, warmAt + (MIN_REFRESH_S + 1) * 1000 - Date.now()));
    const n = op.jwksFetches();
    const late = await browserSignin(srv, op, 'google', sub, { beforeCallback: () => op.tamper('rotated_key') });
    assert.equal(late.res.status, 303, late.res.text.slice(0, 300));
    assert.ok(late.session, 'signed in with the rotated key');
    assert.equal(op.jwksFetches(), n + 1, 'one more JWKS fetch for the unknown kid');
    // the new key is cached now: no further fetch
    const again = await browserSignin(srv, op, 'google', sub, { beforeCallback: () => op.tamper('rotated_key') });
    assert.equal(again.res.status, 303);
    assert.equal(op.jwksFetches(), n + 1);
  } finally { await env.stop(); }
});
