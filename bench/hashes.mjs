// Sign-in cost of each imported password-hash format beside Argon2id
// (docs/password-formats.md, "Timing"). Run from the repository root after
// `make build-release JOBS=2`:   node bench/hashes.mjs [N]
// 1. bench_hash_time (bench/hash_time.c): median verification time per
//    format, single thread, at realistic costs made by the tools the
//    formats come from (htpasswd -B, passlib, argon2-cffi, hashlib).
// 2. A release server at the default Argon2id (19456 KiB, t=2) with one user
//    per format: median sign-in time (N each, default 15) for a wrong
//    password per format and for an unknown address, first with the padding
//    measured before the imports (Argon2id only), then after a restart
//    (the padding follows the slowest family present). PHASES=after: only the
//    second; SKIP_VERIFY=1: no bench_hash_time table.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
process.env.GATEHOUSE_BIN ||= path.join(ROOT, 'build', 'release', 'gatehouse');
const { startServer, api, sql, median, rand } = await import(path.join(ROOT, 'tests', 'api', 'lib', 'harness.mjs'));

const N = Number(process.argv[2] || 15);
const PW = `bench p4ssword ${rand(3)}`;
const A2 = { GATEHOUSE_ARGON2_MEMORY_KIB: '19456', GATEHOUSE_ARGON2_ITERATIONS: '2' };

function run(cmd, args, input) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 600000, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

const py = `
import sys, json, hashlib, base64, os, bcrypt
from passlib.hash import bcrypt as pb, scrypt, django_pbkdf2_sha256, argon2
pw = sys.argv[1]
d = hashlib.sha256(pw.encode()).digest()
print(json.dumps([
  ['bcrypt cost 10 (htpasswd)', None],
  ['bcrypt cost 12 (passlib)', pb.using(rounds=12).hash(pw)],
  ['bcrypt_sha256_hex cost 12', '{bcrypt_sha256_hex}' + bcrypt.hashpw(d.hex().encode(), bcrypt.gensalt(12)).decode()],
  ['argon2id m=65536,t=3,p=4', argon2.using(type='ID', rounds=3, memory_cost=65536, parallelism=4).hash(pw)],
  ['argon2i m=4096,t=3,p=1', argon2.using(type='I', rounds=3, memory_cost=4096, parallelism=1).hash(pw)],
  ['scrypt ln=16,r=8,p=1 (passlib)', scrypt.hash(pw)],
  ['scrypt ln=14,r=8,p=1', scrypt.using(rounds=14).hash(pw)],
  ['pbkdf2_sha256 600000 (Django 4.2)', django_pbkdf2_sha256.using(rounds=600000).hash(pw)],
]))
`;
const list = JSON.parse(run('/usr/bin/python3', ['-c', py, PW]));
list[0][1] = run('htpasswd', ['-nbB', '-C', '10', 'u', PW]).trim().split(':')[1];

if (!process.env.SKIP_VERIFY) {
  console.log(`== verification, median of 9 wrong-password checks, one thread (ms) ==`);
  run('cmake', ['--build', path.join(ROOT, 'build', 'release'), '--target', 'bench_hash_time', '-j', '2']);
  process.stdout.write(run(path.join(ROOT, 'build', 'release', 'bench_hash_time'), ['19456', '2'],
    list.map(([n, h]) => `${n}\t${PW}\t${h}\n`).join('')));
}

async function timed(srv, email, password) {
  const t0 = process.hrtime.bigint();
  const r = await api(srv.url, 'POST', '/v1/signin', { json: { email, password } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 401) throw new Error(`expected 401, got ${r.status} ${r.text}`);
  return ms;
}

// Per format, its wrong-password sign-ins alternate with unknown-address
// ones, so each pair of medians comes from the same stretch of time (the
// machine's load moves, and the padding follows it).
async function measure(srv, users, label) {
  console.log(`\n== sign-in, median of ${N} (ms): ${label} ==`);
  console.log(`${'format'.padEnd(36)} ${'wrong pw'.padStart(9)} ${'unknown'.padStart(9)} ${'unknown-wrong'.padStart(14)}`);
  const all = [];
  for (const u of users) {
    const wrong = [];
    const unknown = [];
    for (let i = 0; i < N; i++) {
      wrong.push(await timed(srv, u.email, `${PW}-wrong`));
      unknown.push(await timed(srv, `nobody-${rand(4)}@example.com`, `${PW}-wrong`));
    }
    all.push(...unknown);
    const w = median(wrong);
    const x = median(unknown);
    console.log(`${u.name.padEnd(36)} ${w.toFixed(1).padStart(9)} ${x.toFixed(1).padStart(9)} ${(x - w).toFixed(1).padStart(14)}`);
  }
  console.log(`${'(all unknown-address sign-ins)'.padEnd(36)} ${''.padStart(9)} ${median(all).toFixed(1).padStart(9)}`);
}

let srv = await startServer({ env: A2 });
const users = [{ name: 'argon2id (configured)', email: `a2-${rand(4)}@example.com` }];
const sign = async (email) => {
  const r = await api(srv.url, 'POST', '/v1/signup', { json: { email, password: PW } });
  if (r.status !== 201) throw new Error(`signup: ${r.status} ${r.text}`);
  return r.json.user.id;
};
await sign(users[0].email);
for (const [name, h] of list) {
  const email = `u-${rand(4)}@example.com`;
  const id = await sign(email);
  sql(srv.dbPath, `UPDATE users SET password_hash = '${h.replace(/'/g, "''")}' WHERE id = '${id}';`);
  users.push({ name, email });
}
// PHASES=after skips the first measurement (a loaded machine makes it long).
if (process.env.PHASES !== 'after') await measure(srv, users, 'padding measured before the imports (Argon2id only)');
const dataDir = srv.dataDir;
await srv.stop();
srv = await startServer({ env: A2, dataDir });
for (let i = 0; i < 200 && !/sign-in padding: [1-9]/.test(srv.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
const line = srv.stderr().split('\n').find((l) => l.includes('sign-in padding'));
console.log(`\nserver: ${line ? line.replace(/^.*sign-in padding/, 'sign-in padding') : '(no padding line)'}`);
await measure(srv, users, 'after a restart: padded to the slowest family present');
await srv.stop();
