// docs/openapi.yaml describes the whole API (issue 10): it is a valid
// OpenAPI 3.1 document (a real validator from npm), every route of the
// route table is described and every described route exists, its error
// codes are exactly the error table's, each listed under the code's one
// status; and the error-coverage check (the last step of `make test`)
// works on hand-made request-log lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  OPENAPI_PATH, loadOpenapi, errorTable, routeTable, describedRoutes, operationErrors,
  errorsFromLog, uncoveredErrors,
} from './lib/openapi_check.mjs';

const key = (r) => `${r.method.toUpperCase()} ${r.path}`;

test('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const v = new Validator();
  const res = await v.validate(OPENAPI_PATH);
  assert.ok(res.valid, `openapi.yaml: ${JSON.stringify(res.errors, null, 2)}`);
  assert.equal(v.version, '3.1');
});

test('every route of src/http/routes.c is described, and every described route exists', () => {
  const routes = new Set(routeTable().map(key));
  const described = new Set(describedRoutes(loadOpenapi()).map(key));
  assert.deepEqual([...routes].filter((r) => !described.has(r)), [], 'routes missing from openapi.yaml');
  assert.deepEqual([...described].filter((r) => !routes.has(r)), [], 'openapi.yaml describes routes that do not exist');
});

test('ErrorCode is the error table, and each operation lists codes under their one status', () => {
  const doc = loadOpenapi();
  const table = errorTable();
  assert.deepEqual(doc.components.schemas.ErrorCode.enum, table.map((r) => r.code));
  const status = Object.fromEntries(table.map((r) => [r.code, r.status]));
  for (const c of doc['x-unrouted-error-codes']) assert.ok(status[c], `x-unrouted-error-codes: no code ${c}`);
  for (const { method, path } of describedRoutes(doc)) {
    const op = doc.paths[path][method];
    const errs = operationErrors(op);
    assert.ok(Object.keys(errs).length > 0, `${method} ${path} lists no error`);
    for (const [st, codes] of Object.entries(errs)) {
      for (const c of codes) {
        assert.equal(String(status[c]), st, `${method.toUpperCase()} ${path}: ${c} listed under ${st}, errors.h says ${status[c]}`);
      }
    }
    // every operation can fail inside the server, and one behind a session
    // can get invalid_token
    const all = Object.values(errs).flat();
    assert.ok(all.includes('internal_error'), `${method} ${path}: internal_error`);
    if (op.security?.length) assert.ok(all.includes('invalid_token'), `${method} ${path}: invalid_token`);
  }
});

test('error coverage: logged (route, method, error) triples not in openapi.yaml are found', () => {
  const doc = loadOpenapi();
  const log = [
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"a","method":"POST","route":"/v1/signin","status":401,"duration_ms":1.000,"error":"invalid_credentials"}',
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"b","method":"POST","route":"/v1/password","status":403,"duration_ms":1.000,"user_id":"u","error":"proof_failed"}',
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"c","method":"GET","route":"unmatched","status":404,"duration_ms":0.100,"error":"not_found"}',
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"d","method":"PUT","route":"/v1/me","status":405,"duration_ms":0.100,"error":"method_not_allowed"}',
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"e","method":"DELETE","route":"/v1/sessions/{id}","status":404,"duration_ms":0.100,"error":"not_found"}',
    '{"ts":"2026-12-03T16:00:00.000Z","level":"info","request_id":"f","method":"GET","route":"/v1/me","status":200,"duration_ms":0.100}',
    'gatehouse: listening on 127.0.0.1:8080',
    '{"level":"warn","msg":"not a request line"}',
  ].join('\n');
  const triples = errorsFromLog(log);
  assert.equal(triples.length, 5);
  assert.deepEqual(triples[0], { method: 'post', route: '/v1/signin', error: 'invalid_credentials' });
  assert.deepEqual(uncoveredErrors(doc, triples), []);
  const stale = errorsFromLog([
    '{"method":"POST","route":"/v1/password","status":403,"error":"invalid_credentials"}',
    '{"method":"GET","route":"/v1/me","status":409,"error":"email_taken"}',
    '{"method":"GET","route":"unmatched","status":401,"error":"invalid_token"}',
  ].join('\n'));
  assert.deepEqual(uncoveredErrors(doc, stale).map((t) => t.error), ['invalid_credentials', 'email_taken', 'invalid_token']);
});
