// Known open-redirect tricks, placed where a client controls them in the
// original request (its Host, its request target, headers it adds), and
// the check every answer must pass: a Location, if any, points at the
// sign-in or step-up page, and the rd= it carries names only the app's own
// hosts over https.

import assert from 'node:assert/strict';
import { APP_HOST, AUTH_HOST } from './proxies.mjs';

const utf8 = (s) => Buffer.from(s, 'utf8').toString('latin1'); // raw UTF-8 bytes on the wire

/** Tricks in the Host header (the request target stays /dashboard). */
export const HOST_TRICKS = [
  ['evil host', 'evil.com'],
  ['allowed name as a prefix', `${APP_HOST}.evil.com`],
  ['userinfo in Host', `${APP_HOST}@evil.com`],
  ['userinfo and port in Host', `${APP_HOST}:443@evil.com`],
  ['other port', `${APP_HOST}:8443`],
  ['IPv4 literal', '127.0.0.1'],
  ['IPv6 literal', '[::1]'],
  ['decimal IPv4', '2130706433'],
  ['trailing dot', `${APP_HOST}.`],
  ['evil host with trailing dot', 'evil.com.'],
  ['upper case', APP_HOST.toUpperCase()],
  ['unicode full stop in Host', utf8('app.example\u3002com')],
  ['unicode full stop to evil', utf8('evil\u3002com')],
  ['backslash in Host', `evil.com\\${APP_HOST}`],
  ['percent-encoded host', 'evil.com%2F.example.com'],
  ['homoglyph host', utf8('\u0430pp.example.com')],
];

/** Tricks in the request target (Host: app.example.com). */
export const URI_TRICKS = [
  ['scheme-relative //evil', '//evil.com/'],
  ['/\\evil', '/\\evil.com'],
  ['/\\/evil', '/\\/evil.com'],
  ['backslashes \\\\evil', '/\\\\evil.com/'],
  ['encoded slashes %2F%2F', '/%2F%2Fevil.com'],
  ['encoded backslashes %5C%5C', '/%5C%5Cevil.com'],
  ['double-encoded %252F', '/%252F%252Fevil.com'],
  ['CR/LF injection', '/%0d%0aLocation:%20https://evil.com'],
  ['tab before //', '/%09/evil.com'],
  ['NUL', '/%00//evil.com'],
  ['unicode dot in path', '/%E3%80%82evil.com'],
  ['raw unicode in path', utf8('/\u3002evil.com')],
  ['javascript: path', '/javascript:alert(1)'],
  ['data: path', '/data:text/html,%3Cscript%3Ealert(1)%3C/script%3E'],
  ['@ in path', '/@evil.com'],
  ['dot segments to //', '/..//evil.com'],
  ['encoded dot segments', '/%2e%2e/%2e%2e//evil.com'],
  ['semicolon path parameter', '/admin;@evil.com'],
  ['rd in the query', '/dashboard?rd=https://evil.com/&next=//evil.com'],
  ['fragment', '/dashboard#@evil.com'],
  ['absolute-form target', 'https://evil.com/'],
  ['absolute-form with userinfo', `https://${APP_HOST}@evil.com/`],
  ['absolute-form javascript:', 'javascript://%0aalert(1)'],
];

/** Tricks in headers a client adds to an ordinary request for /dashboard. */
export const HEADER_TRICKS = [
  ['X-Forwarded-Host', [['X-Forwarded-Host', 'evil.com']]],
  ['X-Forwarded-Uri', [['X-Forwarded-Uri', '//evil.com/']]],
  ['X-Forwarded-Proto', [['X-Forwarded-Proto', 'javascript']]],
  ['X-Original-URL', [['X-Original-URL', 'https://evil.com/']]],
  ['Forwarded host', [['Forwarded', 'host=evil.com;proto=https']]],
  ['X-Forwarded-Host and -Uri', [['X-Forwarded-Host', 'evil.com'], ['X-Forwarded-Uri', '/'], ['X-Forwarded-Method', 'GET'], ['X-Forwarded-Proto', 'https']]],
  ['X-Original-URL and -Method', [['X-Original-URL', 'https://evil.com/'], ['X-Original-Method', 'GET']]],
];

const BROWSER = [['Accept', 'text/html,application/xhtml+xml']];

/** Every trick as a client request {name, host, path, headers}. */
export function allTricks() {
  return [
    ...HOST_TRICKS.map(([name, host]) => ({ name: `Host: ${name}`, host, path: '/dashboard', headers: [['Host', host], ...BROWSER] })),
    ...URI_TRICKS.map(([name, p]) => ({ name: `URI: ${name}`, host: APP_HOST, path: p, headers: BROWSER })),
    ...HEADER_TRICKS.map(([name, hs]) => ({ name: `header: ${name}`, host: APP_HOST, path: '/dashboard', headers: [...BROWSER, ...hs] })),
  ];
}

/** A URL the gate may send a browser to: https on one of the example's own hosts. */
function ownUrl(u, what) {
  assert.ok(typeof u === 'string' && !/[\\\s\x00-\x1f\x7f]/.test(u), `${what}: no backslash, space or control character: ${JSON.stringify(u)}`);
  assert.match(u, /^https:\/\/[^/\\@]/, `${what}: absolute https: ${u}`);
  const url = new URL(u);
  assert.equal(url.protocol, 'https:', `${what}: ${u}`);
  assert.equal(url.username + url.password, '', `${what}: no userinfo: ${u}`);
  assert.ok(url.hostname === 'example.com' || url.hostname.endsWith('.example.com'), `${what}: a host of example.com: ${u}`);
  assert.ok(!url.pathname.startsWith('//'), `${what}: path does not start with //: ${u}`);
  return url;
}

/**
 * The check of one answer to a trick. The app never sees the request (no
 * session: no rule lets it through unless refused earlier), and a
 * Location, if any, is the sign-in or step-up page with an rd of our own.
 */
export function assertNoOpenRedirect(r, what) {
  assert.equal(r.echo, null, `${what}: the app was reached (${r.status})`);
  const loc = r.headers.location;
  if (loc === undefined) return;
  assert.ok([301, 302, 303, 307, 308, 401].includes(r.status), `${what}: Location on a ${r.status}`);
  const url = ownUrl(loc, `${what}: Location`);
  assert.ok([APP_HOST, AUTH_HOST].includes(url.host), `${what}: Location goes to the sign-in or step-up page: ${loc}`);
  const rds = url.searchParams.getAll('rd');
  assert.ok(rds.length <= 1, `${what}: one rd at most: ${loc}`);
  if (rds.length) {
    const rd = ownUrl(rds[0], `${what}: rd`);
    assert.equal(rd.host, APP_HOST, `${what}: rd returns to the app: ${rds[0]}`);
  }
}
