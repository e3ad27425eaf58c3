// The quickstarts show the very files the proxy tests run: each fenced
// block after an `<!-- example: <path> -->` line equals that file, byte for
// byte, and every file under docs/examples/ is shown by a quickstart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, EXAMPLES } from './lib/proxies.mjs';

const QUICKSTARTS = ['quickstart-nginx.md', 'quickstart-caddy.md', 'quickstart-traefik.md'];

function blocks(md) {
  const out = [];
  const re = /^<!-- example: (\S+) -->\n(`{3,})[^\n]*\n([\s\S]*?)^\2$/gm;
  for (let m; (m = re.exec(md));) out.push({ file: m[1], text: m[3] });
  return out;
}

function listFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test('each quickstart shows its example files verbatim', () => {
  const shown = new Set();
  for (const q of QUICKSTARTS) {
    const md = fs.readFileSync(path.join(REPO_ROOT, 'docs', q), 'utf8');
    const bs = blocks(md);
    assert.ok(bs.length >= 2, `${q} shows its examples (found ${bs.length})`);
    assert.equal(bs.length, (md.match(/<!-- example: /g) || []).length, `${q}: every marker is followed by a fenced block`);
    for (const b of bs) {
      const file = path.join(REPO_ROOT, b.file);
      assert.ok(fs.existsSync(file), `${q} names ${b.file}`);
      assert.equal(b.text, fs.readFileSync(file, 'utf8'), `${q}: the block for ${b.file} equals the file`);
      shown.add(path.resolve(file));
    }
    assert.match(md, /strip/i, `${q} says the proxy strips client-sent identity headers`);
    for (const v of ['GATEHOUSE_TRUSTED_PROXIES', 'GATEHOUSE_COOKIE_DOMAIN', 'GATEHOUSE_SIGNIN_URL', 'GATEHOUSE_ACCESS_RULES', '/signout?rd=', 'X-Gatehouse-User-Id']) {
      assert.ok(md.includes(v), `${q} mentions ${v}`);
    }
  }
  // Examples that belong to no proxy quickstart: the PostgreSQL roles script
  // (docs/postgresql.md links it; tests/api/pg_roles.test.mjs runs it as it is).
  const notProxy = new Set(['docs/examples/postgresql-roles.sql']);
  for (const f of listFiles(EXAMPLES)) {
    if (notProxy.has(path.relative(REPO_ROOT, f))) continue;
    assert.ok(shown.has(path.resolve(f)), `${path.relative(REPO_ROOT, f)} is shown by a quickstart`);
  }
});
