// The last step of `make test`: every (method, route, error code) the
// servers logged during the API tests (collected by lib/harness.mjs into
// GH_API_ERRORS_DIR, one file per test process) is listed for that route in
// docs/openapi.yaml. Usage: node check_error_coverage.mjs DIR

import fs from 'node:fs';
import path from 'node:path';
import { loadOpenapi, uncoveredErrors } from './lib/openapi_check.mjs';

const dir = process.argv[2] || process.env.GH_API_ERRORS_DIR;
if (!dir) {
  console.error('usage: node check_error_coverage.mjs DIR');
  process.exit(2);
}
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : [];
const seen = new Map();
for (const f of files) {
  for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
    if (line) seen.set(line, JSON.parse(line));
  }
}
const triples = [...seen.values()];
const missing = uncoveredErrors(loadOpenapi(), triples);
for (const t of missing) {
  console.error(`openapi.yaml does not list ${t.error} for ${t.method.toUpperCase()} ${t.route}, but a server answered it during the API tests`);
}
if (missing.length) process.exit(1);
if (!triples.length) {
  console.log('error coverage: no error codes in the request logs (the log line has no "error" field yet?)');
} else {
  console.log(`error coverage: ${triples.length} logged (route, method, error) triples, all in docs/openapi.yaml`);
}
