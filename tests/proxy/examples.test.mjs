// The quickstarts' Gatehouse files work in the real binary:
// docs/examples/rules.yml loads and means what its comments say
// (`gatehouse rules test`, the quickstarts' way to check a rule, names the
// rule each kind of request meets), and docs/examples/gatehouse.env starts
// a production server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { runCli, mkTempDir, startServer } from '../api/lib/harness.mjs';
import { exampleEnv, RULES_FILE } from './lib/gate.mjs';

/** The line a rule is reported at: the first line of the list item that holds needle (or needle's own line outside the list). */
function ruleLine(needle) {
  const lines = fs.readFileSync(RULES_FILE, 'utf8').split('\n');
  let i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, needle);
  if (!/^\s/.test(lines[i])) return i + 1;
  while (!/^\s*- /.test(lines[i])) i--;
  return i + 1;
}

test('gatehouse rules test names the example rule each request meets', () => {
  const dir = mkTempDir();
  fs.chmodSync(dir, 0o700);
  const env = { ...exampleEnv(), GATEHOUSE_DATA_DIR: dir };
  try {
    const m = runCli(['migrate'], { env });
    assert.equal(m.code, 0, m.stderr);
    const cases = [
      ['GET', 'https://app.example.com/static/app.css', 'path: /static/', 'public'],
      ['POST', 'https://app.example.com/static/app.css', 'policy: signed_in', 'signed_in'],
      ['GET', 'https://app.example.com/admin/users', 'path: /admin', 'role'],
      ['GET', 'https://app.example.com/billing/invoices', 'path: /billing', 'mfa (a factor within 15 minutes)'],
      ['GET', 'https://app.example.com/dashboard', 'policy: signed_in', 'signed_in'],
      ['GET', 'https://admin.example.com/', 'default: deny', 'deny'],
    ];
    for (const [method, url, needle, policy] of cases) {
      const r = runCli(['rules', 'test', url, '--method', method], { env });
      assert.equal(r.code, 0, `${method} ${url}: ${r.stderr}`);
      const line = ruleLine(needle);
      assert.match(r.stdout, new RegExp(`^rule: line ${line} of .*rules\\.yml: ${policy.replace(/[()]/g, '\\$&')}`, 'm'),
        `${method} ${url}:\n${r.stdout}`);
    }
    const anon = runCli(['rules', 'test', 'https://app.example.com/billing'], { env });
    assert.match(anon.stdout, /an anonymous browser: 302 .*Location: https:\/\/auth\.example\.com\/signin\?rd=https/, anon.stdout);
    assert.match(anon.stdout, /an anonymous API client: 401/, anon.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('docs/examples/gatehouse.env starts a production server as the service does (migrate, then serve)', async () => {
  const dir = mkTempDir();
  fs.chmodSync(dir, 0o700);
  const key = `${dir}/master.key`;
  fs.writeFileSync(key, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  // every line of the file, with only its paths and address made local
  const env = {
    ...exampleEnv(),
    GATEHOUSE_ENV: 'production',
    GATEHOUSE_MASTER_KEY_FILE: key,
    GATEHOUSE_DATA_DIR: dir,
    GATEHOUSE_ARGON2_MEMORY_KIB: null, // the harness's cheap test values are refused in production
    GATEHOUSE_ARGON2_ITERATIONS: null,
  };
  let srv;
  try {
    const m = runCli(['migrate'], { env });
    assert.equal(m.code, 0, m.stderr);
    srv = await startServer({ dataDir: dir, env });
    const r = await fetch(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.doesNotMatch(srv.stderr(), /"level":"(warn|error)"/, `no warning at start:\n${srv.stderr()}`);
  } finally {
    await srv?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
