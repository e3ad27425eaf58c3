// Issue 9, item 2: how many audit rows one client writes with a flood of
// made-up tokens to POST /v1/magic-link/verify, /v1/email/verify and
// /v1/password/reset (round robin, CONNS parallel loops, DURATION_MS).
// Modes: "defaults" (the real link_ip budget and the real failure-row
// bound), "rows-only" (link_ip raised out of reach: the aggregation alone).
// Usage: node bench/audit_flood.mjs [binary] (default build/release/gatehouse);
// env DURATION_MS=15000, CONNS=16, MODES=defaults,rows-only.
import crypto from 'node:crypto';
import path from 'node:path';

const bin = path.resolve(process.argv[2] || 'build/release/gatehouse');
process.env.GATEHOUSE_BIN = bin; // read by the harness when it loads
const { startServer, api, sql } = await import('../tests/api/lib/harness.mjs');
const DURATION = Number(process.env.DURATION_MS || 15000);
const CONNS = Number(process.env.CONNS || 16);
const MODES = (process.env.MODES || 'defaults,rows-only').split(',');
const tok = () => crypto.randomBytes(32).toString('base64url');
const routes = [
  ['/v1/magic-link/verify', () => ({ token: tok() })],
  ['/v1/email/verify', () => ({ token: tok() })],
  ['/v1/password/reset', () => ({ token: tok(), new_password: 'correct horse battery staple x' })],
];
const envOf = {
  defaults: { GATEHOUSE_LIMIT_LINK_IP: null, GATEHOUSE_AUDIT_FAILURE_ROWS: null },
  'rows-only': { GATEHOUSE_AUDIT_FAILURE_ROWS: null },
};

for (const mode of MODES) {
  const srv = await startServer({ env: envOf[mode] });
  const rows = () => Number(sql(srv.dbPath, 'SELECT count(*) FROM audit_log;'));
  const before = rows();
  const counts = {};
  let i = 0;
  const end = Date.now() + DURATION;
  await Promise.all(Array.from({ length: CONNS }, async () => {
    while (Date.now() < end) {
      const [p, body] = routes[i++ % 3];
      const r = await api(srv.url, 'POST', p, { json: body() });
      counts[r.status] = (counts[r.status] || 0) + 1;
    }
  }));
  const during = rows() - before;
  await srv.stop();
  const after = rows() - before;
  const size = Number(sql(srv.dbPath, 'SELECT coalesce(sum(length(details) + length(ip) + length(user_agent) + 150), 0) FROM audit_log;'));
  console.log(`${path.relative(process.cwd(), bin)} ${mode}: ${DURATION / 1000} s, ${CONNS} conns, replies ${JSON.stringify(counts)}; audit rows written ${during} during the flood, ${after} after shutdown (~${Math.round(size / 1024)} KiB)`);
}
