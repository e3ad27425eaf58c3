// Issue 9, item 19: newcomer papercuts. Every command's --help prints help
// and exits 0 without reading the configuration or writing anything; the
// shutdown logs a final line; the README links every decision; `gatehouse
// version` prints the commit the binary was built from.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, runCli, mkTempDir, assertNoSanitizerReport, REPO_ROOT, BIN } from './lib/harness.mjs';

// Every way of asking for help, for every command of the usage text.
const HELP_ARGS = [
  ['serve', '--help'], ['serve', '-h'], ['migrate', '--help'], ['keys', '--help'], ['keys', 'list', '--help'],
  ['keys', 'rotate', '--signing', '--help'], ['keys', 'retire', 'abc', '-h'], ['users', '--help'],
  ['users', 'role', 'a@example.com', 'admin', '--help'], ['audit', '--help'], ['audit', 'verify', '--help'],
  ['audit', 'prune', '--before', '2020-01-01T00:00:00Z', '--help'], ['version', '--help'], ['help', 'serve'],
  ['help', 'keys'], ['help'], ['--help'], ['-h'], ['import', '--help'], ['import', 'users', 'f.jsonl', '--help'],
  ['backup', '--help'], ['backup', '/tmp/x', '-h'], ['restore', '--help'], ['restore', 'f.db', '--keep-sessions', '--help'],
];

describe('--help on every command (item 19)', () => {
  test('prints help, exits 0, reads no configuration and writes nothing', () => {
    const dir = mkTempDir();
    const data = path.join(dir, 'data'); // would be created by any real start
    for (const args of HELP_ARGS) {
      // a configuration that would stop any real start: help must not read it
      const r = runCli(args, {
        env: { GATEHOUSE_DATA_DIR: data, GATEHOUSE_ENV: 'production', GATEHOUSE_MASTER_KEY: 'not a key', GATEHOUSE_LISTEN: 'nonsense' },
      });
      assertNoSanitizerReport(r.stderr, `gatehouse ${args.join(' ')}`);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${args.join(' ')} writes nothing to stderr`);
      assert.match(r.stdout, /^usage: gatehouse /, args.join(' '));
      const cmd = args[0] === 'help' ? args[1] : args[0];
      if (cmd && !cmd.startsWith('-')) assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'), `${args.join(' ')} shows ${cmd}`);
      assert.equal(fs.existsSync(data), false, `${args.join(' ')} created nothing`);
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('serve --help shows serve only; an unknown command with --help is still an error', () => {
    const r = runCli(['serve', '--help']);
    assert.match(r.stdout, /^ {2}serve /m);
    assert.doesNotMatch(r.stdout, /^ {2}migrate /m);
    const u = runCli(['frobnicate', '--help']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
  });
});

describe('shutdown and version (item 19)', () => {
  test('the shutdown logs a final "gatehouse stopped" line', async () => {
    const srv = await startServer();
    await srv.stop();
    const lines = srv.stderrLines();
    const last = JSON.parse(lines.at(-1));
    assert.equal(last.msg, 'gatehouse stopped');
    assert.equal(last.level, 'info');
  });

  test('gatehouse version prints the commit it was built from', () => {
    const r = runCli(['version']);
    assert.equal(r.code, 0);
    const m = /^gatehouse \d+\.\d+\.\d+ \(commit ([^)]+)\)\nschema: migrations 1-\d+\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const git = spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' });
    if (git.status !== 0) {
      assert.equal(m[1], 'unknown', 'outside a git checkout');
      return;
    }
    // The binary under test is built from this checkout, possibly with edits
    // since (-dirty); it names HEAD unless it is older than the last commit.
    const built = fs.statSync(BIN).mtimeMs;
    const committed = Number(spawnSync('git', ['-C', REPO_ROOT, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).stdout) * 1000;
    if (built >= committed) assert.match(m[1], new RegExp(`^(.*-g)?${git.stdout.trim()}(-dirty)?$`), r.stdout);
    else assert.match(m[1], /^[0-9a-z.+-]+$/);
  });
});

describe('README links every decision (item 19)', () => {
  test('each docs/decisions/*.md is linked from README.md', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const dir = path.join(REPO_ROOT, 'docs', 'decisions');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.md'));
    assert.ok(files.length >= 10);
    const missing = files.filter((f) => !readme.includes(`](docs/decisions/${f})`));
    assert.deepEqual(missing, [], 'decisions not linked from README.md');
  });
});
