// The pages' look and branding (docs/api.md "Pages", decision 0034): the
// brand colour generated into the stylesheet (a bad one stops the start),
// the logo at /assets/logo (content type, cache, its own CSP, the size cap
// and kind checked at start), an operator's stylesheet replacing ours, the
// error pages' words (429 with the wait, 401 keeping the page) and /denied.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, api, signup, mkTempDir, markVerified } from './lib/harness.mjs';
import { req, cookiesOf, totpCode } from './lib/browser.mjs';

const PUBLIC = 'https://auth.example.test';
const SAME = { Origin: PUBLIC };
const SIGNIN_URL = 'https://app.example.test/login';
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";
const ASSET_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox";
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#0a7d5a"/><script>alert(1)</script></svg>\n';
// a 1x1 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

function tempFile(name, content) {
  const dir = mkTempDir('gatehouse-look-');
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

/** Starting fails, and the message names what is wrong. */
async function refusesToStart(env, re) {
  await assert.rejects(startServer({ env }), (e) => {
    assert.match(e.message, /server exited during startup/);
    assert.match(e.message, re);
    return true;
  });
}

/** How pages_wait_words puts a Retry-After of s seconds. */
function waitWords(s) {
  if (s <= 0) return 'Try again in a moment.';
  for (const [secs, one, many] of [[86400, 'day', 'days'], [3600, 'hour', 'hours'], [60, 'minute', 'minutes']]) {
    if (s >= 2 * secs || s === secs) {
      const n = Math.ceil(s / secs);
      return `Try again in ${n} ${n === 1 ? one : many}.`;
    }
  }
  return `Try again in ${s} ${s === 1 ? 'second' : 'seconds'}.`;
}

describe('the built-in look', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { GATEHOUSE_PUBLIC_URL: PUBLIC, GATEHOUSE_COOKIE_DOMAIN: 'example.test', GATEHOUSE_BRAND: 'Acme', GATEHOUSE_SIGNIN_URL: SIGNIN_URL } }); });
  after(async () => { await srv?.stop(); });

  test('the layout: lang, viewport, "<page> - <brand>", the brand in a header, the card, a footer; no logo, no inline style', async () => {
    const r = await req(srv, 'GET', '/step-up/done');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-security-policy'], PAGE_CSP);
    assert.match(r.text, /^<!doctype html>\n<html lang="en">/);
    assert.match(r.text, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(r.text, /<title>Confirmed - Acme<\/title>/);
    assert.match(r.text, /<header class="site">\n<p class="brand">Acme<\/p>\n<\/header>\n<main class="card">/);
    assert.match(r.text, /<\/main>\n<footer class="site">/);
    assert.ok(!r.text.includes('/assets/logo'));
    assert.ok(!/style=|<style|<script/.test(r.text));
  });

  test('the stylesheet: the built-in blue, both schemes, every class; no logo configured is a JSON 404', async () => {
    const css = await req(srv, 'GET', '/assets/gatehouse.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'public, max-age=300');
    assert.match(css.text, /^:root\{color-scheme:light dark;--bg:#f3f4f6;/);
    assert.match(css.text, /--accent:#1f5fbf;--accent-fg:#ffffff;/);
    assert.match(css.text, /@media \(prefers-color-scheme:dark\)/);
    for (const c of ['p.lead', '.alert', '.notice', '.field', 'p.hint', 'input[type=email]', 'button.secondary', 'button.danger',
      'a.button', '.actions', '.links', '.divider', 'section', '.codes', '.secret', 'img.qr', 'table.sessions', '.tag', 'form.inline', '.muted']) {
      assert.ok(css.text.includes(c), `styles ${c}`);
    }
    assert.ok(css.text.length < 12 * 1024, `a few KB (${css.text.length})`);
    const logo = await req(srv, 'GET', '/assets/logo');
    assert.equal(logo.status, 404);
    assert.equal(logo.json?.error?.code, 'not_found');
  });

  test('/denied: 403, "You don\'t have access", Go back to the checked rd and sign in with another account through /signout', async () => {
    const rd = 'https://app.example.test/home?x=1';
    const r = await req(srv, 'GET', `/denied?rd=${encodeURIComponent(rd)}`);
    assert.equal(r.status, 403);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['content-security-policy'], PAGE_CSP);
    assert.match(r.text, /<title>You don&#39;t have access - Acme<\/title>/);
    assert.match(r.text, /<h1>You don't have access<\/h1>/);
    assert.ok(r.text.includes('<a class="button" href="https://app.example.test/home?x=1">Go back</a>'), r.text);
    assert.ok(r.text.includes(`href="${PUBLIC}/signout?rd=${encodeURIComponent(rd)}">Sign in with another account</a>`), r.text);
    for (const evil of ['https://evil.example/', 'javascript:alert(1)', '//evil.example/x']) {
      const e = await req(srv, 'GET', `/denied?rd=${encodeURIComponent(evil)}`);
      assert.equal(e.status, 403);
      assert.ok(!e.text.includes('Go back'), `refused rd ${evil}: no Go back`);
      assert.ok(!/evil|javascript/.test(e.text), `refused rd ${evil} is not echoed`);
      assert.ok(e.text.includes(`href="${PUBLIC}/signout">Sign in with another account</a>`));
    }
    const bare = await req(srv, 'GET', '/denied');
    assert.equal(bare.status, 403);
    assert.ok(!bare.text.includes('Go back'));
  });

  test('an unknown page for a browser is a "Page not found" page; the API\'s 404s stay JSON', async () => {
    const html = { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const r = await req(srv, 'GET', '/acount?x=1', { headers: html });
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['content-security-policy'], PAGE_CSP);
    assert.match(r.text, /<title>Page not found - Acme<\/title>/);
    assert.match(r.text, /<h1>Page not found<\/h1>/);
    for (const [p, h] of [['/acount', {}], ['/v1/nope', html], ['/.well-known/nope', html]]) {
      const j = await req(srv, 'GET', p, { headers: h });
      assert.equal(j.status, 404, p);
      assert.equal(j.json?.error?.code, 'not_found', `${p}: JSON`);
    }
    const post = await req(srv, 'POST', '/acount', { headers: html, form: { a: '1' } });
    assert.equal(post.status, 404);
    assert.equal(post.json?.error?.code, 'not_found', 'a POST keeps the JSON 404');
  });

  test('401 without an rd: the sign-in link brings the person back to this page', async () => {
    const r = await req(srv, 'GET', '/step-up');
    assert.equal(r.status, 401);
    assert.match(r.text, /<h1>You are not signed in<\/h1>/);
    assert.ok(r.text.includes(`href="${SIGNIN_URL}?rd=${encodeURIComponent(`${PUBLIC}/step-up`)}">Sign in</a>`), r.text);
  });

  test('429: "Too many attempts" with the wait of Retry-After in words', async () => {
    const a = await signup(srv);
    markVerified(srv, a.user.id);
    const b = await api(srv.url, 'POST', '/v1/mfa/totp', { token: a.access });
    const c = await api(srv.url, 'POST', '/v1/mfa/totp/confirm', { token: a.access, json: { code: await totpCode(b.json.secret) } });
    assert.equal(c.status, 200, c.text);
    const s1 = await req(srv, 'POST', '/v1/signin', { json: { email: a.email, password: a.password, mode: 'cookie' }, headers: SAME });
    const s2 = await req(srv, 'POST', '/v1/signin/mfa', { json: { mfa_token: s1.json.mfa_token, code: c.json.backup_codes[0], mode: 'cookie' }, headers: SAME });
    assert.equal(s2.status, 200, s2.text);
    const k = cookiesOf(s2);
    const cookie = `__Secure-gh_session=${k['__Secure-gh_session'].value}; __Secure-gh_csrf=${k['__Secure-gh_csrf'].value}`;
    let r;
    for (let i = 0; i < 10; i++) {
      r = await req(srv, 'POST', '/step-up', { form: { csrf: k['__Secure-gh_csrf'].value, code: '000000' }, cookie, headers: SAME });
      if (r.status === 429) break;
      assert.equal(r.status, 422, r.text);
    }
    assert.equal(r.status, 429, 'the MFA budget runs out');
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.text, /<h1>Too many attempts<\/h1>/);
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait > 0, `Retry-After ${r.headers['retry-after']}`);
    assert.ok(r.text.includes(`You have tried this too many times. ${waitWords(wait)}</p>`), r.text);
    assert.ok(!r.text.includes('<code>'), 'no request id on a 4xx');
  });
});

describe('branding from configuration', () => {
  test('GATEHOUSE_BRAND_COLOR goes into the stylesheet, with a readable text colour on it', async () => {
    const srv = await startServer({ env: { GATEHOUSE_BRAND_COLOR: '#FFD400' } });
    try {
      const css = await req(srv, 'GET', '/assets/gatehouse.css');
      assert.match(css.text, /--accent:#ffd400;--accent-fg:#000000;/);
      // yellow does not read on white: links keep the text colour there, and take it on dark
      assert.match(css.text, /^:root\{[^}]*--link:#1b1f27;/);
      assert.match(css.text, /@media \(prefers-color-scheme:dark\)\{:root\{[^}]*--link:#ffd400;/);
    } finally { await srv.stop(); }
  });

  test('a bad GATEHOUSE_BRAND_COLOR stops the start, naming it', async () => {
    for (const bad of ['red', '#fff', '#12345g', '#1f5fbf;}', ' #1f5fbf', 'rgb(1,2,3)']) {
      await refusesToStart({ GATEHOUSE_BRAND_COLOR: bad }, /GATEHOUSE_BRAND_COLOR must be a colour written #rrggbb/);
    }
  });

  test('an SVG logo: served as an image with its own CSP (no script runs opened directly), cacheable; shown beside the name', async () => {
    const file = tempFile('logo.svg', SVG);
    const srv = await startServer({ env: { GATEHOUSE_BRAND_LOGO: file, GATEHOUSE_BRAND: 'Acme' } });
    try {
      const r = await req(srv, 'GET', '/assets/logo');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'image/svg+xml');
      assert.equal(r.headers['content-security-policy'], ASSET_CSP);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['cache-control'], 'public, max-age=300');
      assert.equal(r.text, SVG);
      fs.writeFileSync(file, '<svg>changed</svg>');
      assert.equal((await req(srv, 'GET', '/assets/logo')).text, SVG, 'read once at start');
      const page = await req(srv, 'GET', '/signout/done');
      assert.match(page.text, /<p class="brand"><img src="\/assets\/logo" alt="" height="36">Acme<\/p>/);
      assert.equal((await req(srv, 'POST', '/assets/logo')).status, 405);
    } finally { await srv.stop(); }
  });

  test('a PNG logo: image/png, the same bytes', async () => {
    const srv = await startServer({ env: { GATEHOUSE_BRAND_LOGO: tempFile('Logo.PNG', PNG) } });
    try {
      const r = await fetch(`${srv.url}/assets/logo`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), PNG);
    } finally { await srv.stop(); }
  });

  test('a logo that is missing, too big, of another kind or not what its name says stops the start', async () => {
    await refusesToStart({ GATEHOUSE_BRAND_LOGO: '/nonexistent/logo.png' }, /GATEHOUSE_BRAND_LOGO: cannot read \/nonexistent\/logo\.png/);
    const big = Buffer.concat([PNG, Buffer.alloc(256 * 1024 + 1 - PNG.length)]);
    await refusesToStart({ GATEHOUSE_BRAND_LOGO: tempFile('big.png', big) }, /GATEHOUSE_BRAND_LOGO: .*big\.png must hold 1 to 262144 bytes \(it has 262145\)/);
    await refusesToStart({ GATEHOUSE_BRAND_LOGO: tempFile('logo.gif', 'GIF89a') }, /GATEHOUSE_BRAND_LOGO must name a \.png or \.svg file/);
    await refusesToStart({ GATEHOUSE_BRAND_LOGO: tempFile('logo.png', SVG) }, /GATEHOUSE_BRAND_LOGO: .*logo\.png is not a PNG file/);
    await refusesToStart({ GATEHOUSE_BRAND_LOGO: tempFile('logo.svg', PNG) }, /GATEHOUSE_BRAND_LOGO: .*logo\.svg is not a SVG file/);
    // exactly at the cap is fine
    const srv = await startServer({ env: { GATEHOUSE_BRAND_LOGO: tempFile('cap.png', Buffer.concat([PNG, Buffer.alloc(256 * 1024 - PNG.length)])) } });
    await srv.stop();
  });

  test('GATEHOUSE_PAGES_CSS replaces the built-in stylesheet (and the brand colour with it); a missing file stops the start', async () => {
    const own = '/* ours */\nbody{background:#fafafa}\n.alert{color:#900}\n';
    const srv = await startServer({ env: { GATEHOUSE_PAGES_CSS: tempFile('site.css', own), GATEHOUSE_BRAND_COLOR: '#0a7d5a' } });
    try {
      const css = await req(srv, 'GET', '/assets/gatehouse.css');
      assert.equal(css.status, 200);
      assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
      assert.equal(css.text, own);
      const page = await req(srv, 'GET', '/step-up/done');
      assert.match(page.text, /<link rel="stylesheet" href="\/assets\/gatehouse.css">/);
    } finally { await srv.stop(); }
    await refusesToStart({ GATEHOUSE_PAGES_CSS: '/nonexistent/site.css' }, /GATEHOUSE_PAGES_CSS: cannot read \/nonexistent\/site\.css/);
    await refusesToStart({ GATEHOUSE_PAGES_CSS: tempFile('bad.css', Buffer.from([0x62, 0xff, 0x00])) }, /GATEHOUSE_PAGES_CSS: .*bad\.css is not UTF-8 text/);
  });
});
