// Gathers what each browser test file left in the screenshots directory
// (fragment-<file>.json, written by lib/browser.mjs) into:
//   index.md   which screenshot shows which page (name, URL, title, h1)
//   a11y.json  axe-core's findings per page
//   a11y.md    the same, readable: violations by impact, then what axe
//              could not decide alone ("incomplete", to check by eye)
// `make browser` runs it after the tests: node lib/report.mjs [DIR]

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHOTS_DIR } from './browser.mjs';

export function writeReport(dir = SHOTS_DIR) {
  const frags = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^fragment-.*\.json$/.test(f)).sort() : [];
  const pages = []; const a11y = [];
  for (const f of frags) {
    const d = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    if (d.tag === 'fixture') continue; // the harness's own bad pages
    pages.push(...d.pages);
    a11y.push(...d.a11y);
  }
  const idx = ['# Screenshots of the browser tests', '',
    'Each page at desktop width (1280x800, `.desktop.png`) and phone width (390x844 at 2x, `.phone.png`);',
    'some also in dark mode (`.dark.png`). The accessibility findings are in [a11y.md](a11y.md).', '',
    '| Screenshot | Page (h1) | URL |', '|---|---|---|'];
  for (const p of pages) {
    const files = Object.values(p.files).map((f) => `[${f.replace(`${p.name}.`, '')}](${f})`).join(' ');
    idx.push(`| ${p.name} ${files} | ${(p.h1 || []).join(' / ').replace(/\|/g, '\\|')} | \`${new URL(p.url).pathname}${new URL(p.url).search ? '?…' : ''}\` |`);
  }
  fs.writeFileSync(path.join(dir, 'index.md'), idx.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'a11y.json'), JSON.stringify(a11y, null, 1) + '\n');
  const order = ['critical', 'serious', 'moderate', 'minor'];
  const md = ['# Accessibility check (axe-core) of every page the browser tests visited', '',
    'A violation of impact critical or serious fails its test; the others are listed here.', ''];
  let total = 0;
  for (const a of a11y) {
    const v = [...a.violations].sort((x, y) => order.indexOf(x.impact) - order.indexOf(y.impact));
    total += v.length;
    md.push(`## ${a.name}: ${(a.h1 || []).join(' / ')}`, '', `\`${new URL(a.url).pathname}\``, '');
    if (!v.length) md.push('No violations.');
    for (const x of v) md.push(`- **${x.impact}** ${x.id}: ${x.help} (${x.nodes.map((n) => `\`${n.target}\``).join(', ')})`);
    if (a.incomplete.length) {
      md.push('', 'To check by eye (axe could not decide):');
      for (const x of a.incomplete) md.push(`- ${x.id}: ${x.help} (${x.nodes.length} element${x.nodes.length > 1 ? 's' : ''})`);
    }
    md.push('');
  }
  md.splice(3, 0, `${a11y.length} pages, ${total} violations in all.`, '');
  fs.writeFileSync(path.join(dir, 'a11y.md'), md.join('\n'));
  return { pages: pages.length, violations: total };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(process.argv[2] || SHOTS_DIR);
  const r = writeReport(dir);
  console.log(`browser: ${r.pages} pages shot (desktop, phone), ${r.violations} accessibility findings; screenshots, index.md and a11y.md in ${dir}/`);
}
