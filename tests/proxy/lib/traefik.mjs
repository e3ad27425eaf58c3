// Traefik is not in Debian, so its ForwardAuth middleware is modelled here,
// step by step after pkg/middlewares/auth/forward.go (Traefik v3), with the
// settings read from docs/examples/traefik/dynamic.yml:
//
// - the auth request is a GET to `address` carrying the client's headers,
//   only those named in authRequestHeaders when that list is set, then
//   X-Forwarded-For (the client's address alone, as trustForwardHeader is
//   false), X-Forwarded-Method, -Proto, -Host (the request's Host) and -Uri
//   (its path and query), set by Traefik over anything the client sent;
//   Go's client adds User-Agent and Accept-Encoding;
// - an answer outside 2xx goes back to the client as it is (status,
//   headers, Location, body);
// - on a 2xx, every client header named in authResponseHeaders or matching
//   authResponseHeadersRegex is removed, then the auth answer's headers so
//   named or matching are copied in, and the request goes to the app.
// The bytes sent to Gatehouse are built here exactly, over a raw socket.

import path from 'node:path';
import { EXAMPLES, APP_HOST, AUTH_HOST, rawExchange, substitute, parseYaml } from './proxies.mjs';
import fs from 'node:fs';

export const DYNAMIC = path.join(EXAMPLES, 'traefik', 'dynamic.yml');

/** Go's http.CanonicalHeaderKey for the names these tests use. */
function canonical(name) {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (m, p, c) => p + c.toUpperCase());
}

/** A Go RE2 pattern with a leading (?i) as a JavaScript RegExp. */
function goRegex(src) {
  return src.startsWith('(?i)') ? new RegExp(src.slice(4), 'i') : new RegExp(src);
}

function rawRequest(method, target, headers, body) {
  const lines = [`${method} ${target} HTTP/1.1`];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  lines.push('Connection: close', '', body ?? '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

const HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function traefikModel({ gatehousePort, appPort, clientIp = '127.0.0.1' }) {
  const text = substitute(fs.readFileSync(DYNAMIC, 'utf8'), [['127.0.0.1:8080', `127.0.0.1:${gatehousePort}`]], 'dynamic.yml');
  const cfg = parseYaml(text);
  const fa = cfg.http.middlewares.gatehouse.forwardAuth;
  const address = new URL(fa.address);
  if (address.hostname !== '127.0.0.1' || Number(address.port) !== gatehousePort) throw new Error(`forwardAuth address ${fa.address}`);
  const allowed = (fa.authRequestHeaders || []).map((h) => h.toLowerCase());
  const respNames = (fa.authResponseHeaders || []).map((h) => h.toLowerCase());
  const respRegex = fa.authResponseHeadersRegex ? goRegex(fa.authResponseHeadersRegex) : null;
  const copiesBack = (name) => respNames.includes(name.toLowerCase()) || (respRegex && respRegex.test(canonical(name)));

  /** What Traefik sends Gatehouse for a client request: [name, value] pairs. */
  function authHeaders({ method, host, path: uri, headers }) {
    let h = headers.filter(([k]) => !HOP.has(k.toLowerCase()) && k.toLowerCase() !== 'host');
    if (allowed.length) h = h.filter(([k]) => allowed.includes(k.toLowerCase()));
    const set = (name, value) => { h = h.filter(([k]) => k.toLowerCase() !== name.toLowerCase()); h.push([name, value]); };
    if (fa.trustForwardHeader) throw new Error('the model covers trustForwardHeader: false, as the example has it');
    set('X-Forwarded-For', clientIp);
    set('X-Forwarded-Method', method);
    set('X-Forwarded-Proto', 'https');
    set('X-Forwarded-Host', host);
    set('X-Forwarded-Uri', uri);
    return [['Host', address.host], ['User-Agent', 'Go-http-client/1.1'], ...h, ['Accept-Encoding', 'gzip']];
  }

  /** Sends Gatehouse the auth request for a client request; returns its parsed answer. */
  async function check(req, { localAddress } = {}) {
    const target = address.pathname + address.search;
    return rawExchange(gatehousePort, null, rawRequest('GET', target, authHeaders(req)), { localAddress });
  }

  /** A client request through the modelled Traefik (same shape as proxies.send). */
  async function send({ host = APP_HOST, method = 'GET', path: uri = '/', headers = [], body } = {}) {
    const list = Array.isArray(headers) ? headers : Object.entries(headers);
    const bare = host.replace(/:\d+$/, '').toLowerCase();
    const fwd = [['X-Forwarded-For', clientIp], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', host]];
    const pass = (port, hs) => rawExchange(port, null, rawRequest(method, uri, [['Host', host], ...hs.filter(([k]) => k.toLowerCase() !== 'host' && !/^x-forwarded-/i.test(k)), ...fwd], body));
    let r;
    if (bare === AUTH_HOST) {
      r = await pass(gatehousePort, list);
    } else if (bare === APP_HOST) {
      const a = await check({ method, host, path: uri, headers: list });
      if (a.status < 200 || a.status >= 300) {
        r = a;
      } else {
        const out = list.filter(([k]) => !copiesBack(k));
        const answer = a.rawHead.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
        for (const [k, v] of answer) if (copiesBack(k)) out.push([canonical(k), v]);
        r = await pass(appPort, out);
      }
    } else {
      r = { status: 404, headers: {}, rawHead: 'HTTP/1.1 404 Not Found', body: '404 page not found\n' };
    }
    let json = null;
    try { json = r.body ? JSON.parse(r.body) : null; } catch { json = null; }
    return { ...r, json, echo: r.headers['x-upstream'] === 'echo' ? json : null };
  }

  return { send, check, authHeaders, config: fa };
}
