// Headless Debian Chromium (/usr/bin/chromium) driven by playwright-core,
// with the checks every page of the browser tests passes:
//   - a console listener: any console error fails the test (Chromium's
//     "Failed to load resource" for a top-level page of ours that answered
//     an error status on purpose, a 401 or 422 page, is allowed; the same
//     message for a stylesheet or an image is not);
//   - CSP: Chromium's "Refused to ..." console messages, a
//     `securitypolicyviolation` listener put into every document by
//     context.addInitScript (reported to node at once and kept in
//     window.__ghCsp, read again by check()), and every top-level page of
//     ours must carry the page CSP header;
//   - page.on('pageerror') fails too.
// Problems are collected and thrown by check(), which every test calls at
// its end (and shot() calls for the pages it mirrors).
//
// shot(page, name) saves what the page shows now: a full-page PNG at
// desktop width (1280x800) from the page itself, and the same document
// (its current DOM, served again to a page of another context) at phone width (390x844, isMobile, deviceScaleFactor 2), in dark
// mode when asked, and through axe-core in a context with bypassCSP (the
// test's own contexts keep the CSP on). Files go to SHOTS_DIR
// (build/browser-shots/); lib/report.mjs writes the index and the
// accessibility summary from the fragments each test file leaves there.
//
// Playwright's own browser download is never used (it cannot work here).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../../api/lib/harness.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM = process.env.GH_CHROMIUM || '/usr/bin/chromium';
export const SHOTS_DIR = process.env.GH_BROWSER_SHOTS || path.join(REPO_ROOT, 'build', 'browser-shots');
export const CHROMIUM_ARGS = Object.freeze(['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run']);

export const DESKTOP = Object.freeze({ viewport: { width: 1280, height: 800 } });
export const PHONE = Object.freeze({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

/** The directives every page of ours must send (docs/api.md "Pages"). */
export const PAGE_CSP = Object.freeze(["default-src 'none'", "style-src 'self'", "img-src 'self' data:",
  "form-action 'self'", "frame-ancestors 'none'"]);

/** axe impacts that fail a test; the others are reported only. */
const FAILING_IMPACTS = new Set(['critical', 'serious']);

// Put into every document before its own content (CDP, so the page CSP does
// not apply to it): violations go to node at once and stay in window.__ghCsp.
function cspInitScript() {
  window.__ghCsp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    const v = { directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample };
    window.__ghCsp.push(v);
    try { window.__ghCspReport(v); } catch { /* the binding is not there in a mirror */ }
  }, true);
}

/**
 * Starts Chromium for one test file.
 * @param {object} o
 * @param {string} o.tag           prefix of this file's screenshot names ("account")
 * @param {string[]} o.ourOrigins  origins whose top-level pages must carry the page CSP
 * @param {string} [o.hostRules]   --host-resolver-rules (names of the nginx test to loopback)
 * @param {boolean} [o.ignoreHTTPSErrors] the nginx test's self-signed certificate
 */
export async function startBrowser({ tag, ourOrigins = [], hostRules, ignoreHTTPSErrors = false }) {
  const args = [...CHROMIUM_ARGS];
  if (hostRules) args.push(`--host-resolver-rules=${hostRules}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  const origins = new Set(ourOrigins.map((o) => new URL(o).origin));
  const pages = []; // the index fragment: one entry per shot
  const a11y = []; // axe findings per shot
  // Problems per context of the test (a failed test's leftovers never reach
  // the next one); the copies of shot() report into the shot page's list.
  const lists = new Map();
  const listOf = (page) => {
    const c = page.context();
    if (!lists.has(c)) lists.set(c, []);
    return lists.get(c);
  };
  let current = [];
  const copySink = { push: (x) => current.push(x) };
  const names = new Set();
  let mirrors = null;

  /** Attaches the listeners to a context; problems go to list. */
  async function watch(context, list, { mirror = false, label = 'test' } = {}) {
    if (!mirror) {
      await context.exposeBinding('__ghCspReport', (_src, v) => {
        list.push(`CSP violation: ${v.directive} blocked ${v.blocked || '(inline)'} at ${v.source}:${v.line} ${v.sample || ''}`);
      });
    }
    await context.addInitScript(cspInitScript);
    const docStatus = new Map(); // top-level URLs of ours -> status
    context.on('response', (res) => {
      const req = res.request();
      if (!req.isNavigationRequest() || req.frame().parentFrame()) return;
      const u = new URL(res.url());
      if (!origins.has(u.origin)) return;
      docStatus.set(res.url(), res.status());
      // a 303's body is never shown; a copy is served by shot() itself
      if ((res.status() >= 300 && res.status() < 400) || mirror) return;
      const csp = res.headers()['content-security-policy'] || '';
      const have = csp.split(';').map((d) => d.trim().replace(/\s+/g, ' '));
      // form-action may also name the origin of a checked rd (the 303 after
      // the form's POST goes there), and nothing else: no wildcard, no scheme
      const formAction = (d) => /^form-action 'self'( https?:\/\/[a-z0-9.-]+(:\d+)?)?$/.test(d);
      for (const d of PAGE_CSP) {
        const ok = d === "form-action 'self'" ? have.some(formAction) : have.includes(d);
        if (!ok) list.push(`${res.url()} (${res.status()}): the Content-Security-Policy lacks "${d}" (it is "${csp}")`);
      }
    });
    const attach = (page) => {
      page.on('console', (msg) => {
        const text = msg.text();
        const where = msg.location()?.url || '';
        if (msg.type() !== 'error' && !/Refused to /.test(text)) return;
        // a page of ours answered 4xx on purpose (a form error, the 401
        // page): the status is the test's to check, the console's line is noise
        const failedLoad = /^Failed to load resource: the server responded with a status of \d{3}/.test(text);
        if (failedLoad && docStatus.has(where) && docStatus.get(where) >= 400) return;
        // Chromium asks every origin for /favicon.ico by itself; the pages
        // name no icon (noted in the report, not a failure of a page)
        if (failedLoad && new URL(where || 'about:blank', 'http://x').pathname === '/favicon.ico') return;
        list.push(`console ${msg.type()} (${label} page) on ${page.url()}: ${text}${where ? ` (${where})` : ''}`);
      });
      page.on('pageerror', (e) => list.push(`page error (${label} page) on ${page.url()}: ${e.message}`));
    };
    context.on('page', attach);
    for (const p of context.pages()) attach(p);
  }

  /** A context of the test (desktop, CSP on) with every listener. */
  async function newContext(opts = {}) {
    const context = await browser.newContext({ ...DESKTOP, ignoreHTTPSErrors, ...opts });
    const list = [];
    lists.set(context, list);
    await watch(context, list);
    return context;
  }

  // One page in each copy context (phone, dark, axe), kept for the whole
  // file: a new context's first page costs seconds. Each serves the
  // document in `served` at its URL; its stylesheet and images load as usual.
  const served = { url: null, html: '' };
  async function mirrorPages() {
    if (mirrors) return mirrors;
    const make = async (opts, label) => {
      const c = await browser.newContext({ ...opts, ignoreHTTPSErrors });
      if (label) await watch(c, copySink, { mirror: true, label });
      else await c.addInitScript({ content: AXE_SOURCE });
      const p = await c.newPage();
      await p.route((u) => u.href === served.url, (route) => route.fulfill({
        status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: served.html,
      }));
      return p;
    };
    const [phone, dark, axe] = await Promise.all([make(PHONE, 'phone copy'),
      make({ ...DESKTOP, colorScheme: 'dark' }, 'dark copy'), make({ ...DESKTOP, bypassCSP: true }, null)]);
    mirrors = { phone, dark, axe };
    return mirrors;
  }

  /**
   * Screenshots of what page shows now (desktop from the page, phone and
   * optionally dark from a copy of its document) and axe-core's findings.
   * @returns the entry written to the index
   */
  async function shot(page, name, { dark = false } = {}) {
    const base = `${tag}-${name}`;
    if (names.has(base)) throw new Error(`shot name ${base} used twice`);
    names.add(base);
    await page.waitForLoadState('load');
    const url = page.url();
    const files = { desktop: `${base}.desktop.png`, phone: `${base}.phone.png` };
    await page.screenshot({ path: path.join(SHOTS_DIR, files.desktop), fullPage: true });
    const html = await page.content();
    const main = await page.evaluate(() => ({
      title: document.title,
      h1: [...document.querySelectorAll('h1')].map((h) => h.textContent.trim()),
      lang: document.documentElement.lang,
    }));
    // The copies are served without the CSP: the page itself was checked
    // with it, and Chromium reports an empty inline style in a document
    // that Playwright fulfils under a style-src CSP (not in the same
    // document fetched from the server).
    const m = await mirrorPages();
    current = listOf(page);
    served.url = url;
    served.html = html;
    const copy = async (p, file) => {
      await p.goto(url, { waitUntil: 'load' });
      await p.screenshot({ path: path.join(SHOTS_DIR, file), fullPage: true });
    };
    if (dark) files.dark = `${base}.dark.png`;
    const [result] = await Promise.all([
      (async () => {
        await m.axe.goto(url, { waitUntil: 'load' });
        return m.axe.evaluate(async () => {
          // eslint-disable-next-line no-undef
          const r = await axe.run(document, { resultTypes: ['violations', 'incomplete'] });
          const slim = (list) => list.map((v) => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary })),
          }));
          return { violations: slim(r.violations), incomplete: slim(r.incomplete), passes: r.passes.length };
        });
      })(),
      copy(m.phone, files.phone),
      dark ? copy(m.dark, files.dark) : null,
    ]);
    const entry = { name: base, url, ...main, files, a11y: result };
    pages.push({ name: base, url, ...main, files });
    a11y.push({ name: base, url, h1: main.h1, ...result });
    for (const v of result.violations) {
      if (FAILING_IMPACTS.has(v.impact)) {
        listOf(page).push(`accessibility (${v.impact}) on ${base} ${url}: ${v.id}: ${v.help}: ${v.nodes.map((n) => n.target).join(', ')}`);
      }
    }
    writeFragment();
    return entry;
  }

  function writeFragment() {
    const f = path.join(SHOTS_DIR, `fragment-${tag}.json`);
    fs.writeFileSync(f + '.tmp', JSON.stringify({ tag, pages, a11y }, null, 1));
    fs.renameSync(f + '.tmp', f);
  }

  /**
   * Throws every problem the contexts of these pages saw (and the CSP
   * reports kept in their documents), then forgets them. A last argument
   * { allow: RegExp } lets problems matching it through (named in the test,
   * which reports them with t.diagnostic); returns those.
   */
  async function check(...args) {
    const opts = args.length && !(typeof args.at(-1)?.context === 'function') ? args.pop() : {};
    const seen = new Set();
    const all = [];
    for (const p of args) {
      const list = listOf(p);
      if (!p.isClosed()) {
        const kept = await p.evaluate(() => window.__ghCsp || []).catch(() => []);
        for (const v of kept) {
          const line = `CSP violation: ${v.directive} blocked ${v.blocked || '(inline)'} at ${v.source}:${v.line} ${v.sample || ''}`;
          if (!list.includes(line)) list.push(line);
        }
      }
      if (seen.has(list)) continue;
      seen.add(list);
      all.push(...list.splice(0));
    }
    const bad = opts.allow ? all.filter((x) => !opts.allow.test(x)) : all;
    if (bad.length) throw new Error(`the browser saw ${bad.length} problem(s):\n  ${bad.join('\n  ')}`);
    return all.filter((x) => !bad.includes(x)); // the allowed ones, for the test to report
  }

  return {
    browser,
    newContext,
    shot,
    check,
    async close() {
      writeFragment();
      await browser.close();
    },
  };
}
