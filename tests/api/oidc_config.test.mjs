// OpenID Connect provider settings at start (src/federation/providers_config.c):
// a wrong or unknown GATEHOUSE_OIDC_* setting stops the start with a message
// naming it, before anything listens; a right one starts, and the client
// secret appears in no output.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli, startServer, mkTempDir, assertNoSanitizerReport } from './lib/harness.mjs';

/** `gatehouse serve` that must refuse to start: {code, stderr}. */
function refused(env) {
  const r = runCli(['serve'], { env: { GATEHOUSE_DATA_DIR: mkTempDir('gatehouse-oidc-cfg-'), ...env } });
  assertNoSanitizerReport(r.stderr, 'gatehouse serve');
  return r;
}

describe('OpenID Connect provider settings', () => {
  const cases = [
    [{ GATEHOUSE_OIDC_GOOGLE_CLIENT_ID: 'c' }, 'GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET (or _CLIENT_SECRET_FILE) is required'],
    [{ GATEHOUSE_OIDC_ACME_CLIENT_ID: 'c' }, 'GATEHOUSE_OIDC_ACME_ISSUER is required'],
    [{ GATEHOUSE_OIDC_ACME_CLIENT_ID: 'c', GATEHOUSE_OIDC_ACME_ISSUER: 'http://idp.example.com' }, 'GATEHOUSE_OIDC_ACME_ISSUER must be an https:// URL'],
    [{ GATEHOUSE_OIDC_ACME_CLIENT_ID: 'c', GATEHOUSE_OIDC_ACME_ISSUER: 'https://idp.example.com', GATEHOUSE_OIDC_ACME_ISUER: 'https://x' },
      'GATEHOUSE_OIDC_ACME_ISUER is not a setting'],
    [{ GATEHOUSE_OIDC_APPLE_CLIENT_ID: 'com.example', GATEHOUSE_OIDC_APPLE_TEAM_ID: 'T', GATEHOUSE_OIDC_APPLE_KEY_ID: 'K',
      GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE: '/etc/hostname' }, 'GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE is not a usable EC P-256 private key'],
    [{ GATEHOUSE_OIDC_CLOCK_SKEW: '-1' }, 'GATEHOUSE_OIDC_CLOCK_SKEW must be an integer between 0 and 600'],
  ];
  for (const [env, msg] of cases) {
    test(`refused: ${msg}`, () => {
      const r = refused(env);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(msg), r.stderr);
    });
  }

  test('production: a loopback http issuer is refused', () => {
    const r = refused({
      GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY: 'a'.repeat(64), GATEHOUSE_ARGON2_MEMORY_KIB: '19456',
      GATEHOUSE_ARGON2_ITERATIONS: '2', GATEHOUSE_OIDC_ACME_CLIENT_ID: 'c', GATEHOUSE_OIDC_ACME_ISSUER: 'http://127.0.0.1:9',
    });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes('GATEHOUSE_OIDC_ACME_ISSUER must be an https:// URL without query or fragment'), r.stderr);
  });

  test('Google and Apple start; the secrets are in no output', async () => {
    const dir = mkTempDir('gatehouse-apple-');
    const key = path.join(dir, 'AuthKey.p8');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    fs.chmodSync(key, 0o600);
    const secret = 'GOCSPX-super-secret-value-1234';
    const srv = await startServer({
      env: {
        GATEHOUSE_OIDC_GOOGLE_CLIENT_ID: '123.apps.googleusercontent.com',
        GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET: secret,
        GATEHOUSE_OIDC_APPLE_CLIENT_ID: 'com.example.web',
        GATEHOUSE_OIDC_APPLE_TEAM_ID: 'TEAM123456',
        GATEHOUSE_OIDC_APPLE_KEY_ID: 'KEY1234567',
        GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE: key,
      },
    });
    try {
      const r = await fetch(`${srv.url}/healthz`);
      assert.equal(r.status, 200);
    } finally {
      await srv.stop();
    }
    const out = srv.stderr();
    assert.ok(!out.includes(secret), 'the client secret is logged');
    assert.ok(!out.includes('BEGIN PRIVATE KEY'), 'the Apple key is logged');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
