// Checks of docs/openapi.yaml against the code (tests/api/openapi.test.mjs)
// and against the error codes the servers logged during the API tests
// (tests/api/check_error_coverage.mjs, the last step of `make test`).

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, errorsFromLog } from './harness.mjs';

export { errorsFromLog };

export const OPENAPI_PATH = path.join(REPO_ROOT, 'docs', 'openapi.yaml');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function loadOpenapi(file = OPENAPI_PATH) {
  return parse(fs.readFileSync(file, 'utf8'));
}

/** The rows of GH_ERRORS in src/http/errors.h: [{code, status}] in order. */
export function errorTable(file = path.join(REPO_ROOT, 'src', 'http', 'errors.h')) {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const rows = [...text.matchAll(/\bX\(\s*\w+\s*,\s*"([a-z_]+)"\s*,\s*(\d{3})\s*,/g)]
    .map((m) => ({ code: m[1], status: Number(m[2]) }));
  if (rows.length < 20) throw new Error(`errors.h: only ${rows.length} rows of GH_ERRORS found`);
  return rows;
}

/**
 * The route table of src/http/routes.c: [{method, path}], path being the
 * route's name when it has one (the "/v1/sessions/*" route is named
 * "/v1/sessions/{id}"), which is also what the request log calls it.
 */
export function routeTable(file = path.join(REPO_ROOT, 'src', 'http', 'routes.c')) {
  const text = fs.readFileSync(file, 'utf8').replace(/\s+/g, ' ');
  const routes = [...text.matchAll(/\{\s*GH_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"([^"]+)"\s*,\s*(NULL|"([^"]+)")/g)]
    .map((m) => ({ method: m[1].toLowerCase(), path: m[4] ?? m[2] }));
  if (routes.length < 20) throw new Error(`routes.c: only ${routes.length} routes found; has its layout changed?`);
  return routes;
}

/** [{method, path}] of every operation in the description. */
export function describedRoutes(doc) {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const m of METHODS) if (item[m]) out.push({ method: m, path: p });
  }
  return out;
}

/** {status: [codes]} an operation lists (the enum under each error status). */
export function operationErrors(op) {
  const out = {};
  for (const [status, resp] of Object.entries(op.responses ?? {})) {
    const schema = resp?.content?.['application/json']?.schema;
    // a page's errors are HTML pages: their codes are listed in x-error-codes
    const codes = schema?.properties?.error?.properties?.code?.enum ?? resp?.['x-error-codes'];
    if (codes) out[status] = codes;
  }
  return out;
}

/**
 * The logged (method, route, error) triples the description does not
 * list: a routed request's code must be under its operation; a request
 * that reached no operation (route "unmatched", or a method the path does
 * not have: 405, a CORS preflight) must have a code of
 * x-unrouted-error-codes.
 */
export function uncoveredErrors(doc, triples) {
  const unrouted = new Set(doc['x-unrouted-error-codes'] ?? []);
  const missing = [];
  for (const t of triples) {
    // A path answering several methods with one operation (x-methods: the
    // gate) lists its codes once, under get.
    const item = doc.paths?.[t.route];
    const any = item?.['x-methods']?.includes(t.method.toUpperCase()) ? item.get : undefined;
    const op = item?.[t.method] ?? any;
    const listed = op ? Object.values(operationErrors(op)).flat() : [...unrouted];
    if (!listed.includes(t.error)) missing.push(t);
  }
  return missing;
}
