// `cargo xtask bench`, the browser half: what each consent banner costs a
// visitor, measured in one headless Chromium, in one run, on one bare page,
// for Consentry (this build, target/dist/) and the two JavaScript banners the
// size table compares with. See issue 12 for why these figures.
//
// Run by `cargo xtask bench` after `cargo xtask dist`; by hand:
//   node xtask/bench/widget.mjs [--dist target/dist] [--modules target/bench-npm/node_modules] [--sizes FILE]
// CONSENTRY_BENCH_RUNS (default 9) sets the repetitions of the timed runs;
// CONSENTRY_CHROMIUM the browser (default /usr/bin/chromium).
//
// What is measured, and how:
// - Nothing touches the disk or the network once it starts: every file is read
//   once into memory and every request of the page is answered by a Playwright
//   route (`http://127.0.0.1:47913/`, where nothing listens). The collector's
//   API answers 503 (a collector that is down); its requests are not counted.
// - Bytes: the widget files the page requested (each route hit, distinct URLs),
//   brotli -q 11 (window 22) of each file on its own, summed. The sizes come
//   from `--sizes` (written by xtask with the encoder of the size table) and
//   fall back to node's zlib (marked *). The site's page, its config and the
//   API are not counted. (a) returning visitor: a choice stored (the cookies
//   and localStorage a real "Accept all" left, less the receipts waiting in
//   Consentry's journal, since the collector here is down: nothing pending),
//   the page loaded and then 1.5 s without a request; (a') the same on a page
//   with the form the demo's config names. (b) first visit until the
//   banner is shown: the files whose Resource Timing `startTime` is at or
//   before the moment "Accept all" became visible. (c) everything a visit can
//   load: banner, preferences opened from it, "Accept all" there, and for
//   Consentry the dialog reopened until "Download receipt" is offered, then
//   1.5 s without a request.
// - "Accept all" visible: `performance.now()` (from navigation start) at the
//   first DOM mutation or animation frame where a button or link whose text
//   is the label has a non-empty box and `checkVisibility()` (as Playwright's
//   "visible": an opacity fade-in is not waited for). Shadow roots are found by
//   wrapping `attachShadow` before any page script runs. 4x CPU throttle (CDP
//   `Emulation.setCPUThrottlingRate`), fresh context each run.
// - Returning visit: the same, with that stored state; the time is what the
//   gated `<script type="text/plain" data-category="analytics">` (Klaro:
//   `data-name="analytics"`) itself records with `performance.now()`.
// - The click: after the banner is shown and the page idle, a real mouse click
//   (CDP input, no Playwright hit-target hooks) at the centre of "Accept all";
//   its Event Timing entry (`type: 'event'`, `durationThreshold: 16`, name
//   `click`): no entry means under 16 ms. Long tasks: 'longtask' entries that
//   start before the banner is visible. Layout shift: the sum of 'layout-shift'
//   values without recent input, from navigation until after the click.
// - Runs are interleaved (run 1 of each banner, then run 2, ...), so a busy
//   machine slows all three alike. Medians, with min-max.
//
// The bench reports; it never judges a timing. It exits non-zero only when it
// could not measure (a banner never shown, a click without effect, a missing
// file), naming what failed.

import { chromium } from 'playwright-core';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zc } from 'node:zlib';
import { CHROMIUM_ARGS } from '../../tests/e2e/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');

/** Nothing listens here: every request is answered by a route. */
const ORIGIN = 'http://127.0.0.1:47913';
const THROTTLE = 4;
const RUNS = boundedInt(process.env.CONSENTRY_BENCH_RUNS, 9, 1, 25);
/** Per navigation and per wait for something a banner shows. */
const VISIBLE_TIMEOUT = 20_000;
const ACTION_TIMEOUT = 10_000;
/** "Idle": this long without a request, bounded by IDLE_MAX. */
const IDLE_QUIET = 1_500;
const IDLE_MAX = 8_000;


class HarnessError extends Error {}

function boundedInt(text, fallback, min, max) {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

function args() {
  const out = { dist: join(TARGET, 'dist'), modules: join(TARGET, 'bench-npm', 'node_modules'), sizes: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    if (!(key in out) || argv[i + 1] === undefined) throw new HarnessError(`usage: widget.mjs [--dist DIR] [--modules DIR] [--sizes FILE] (got ${argv[i]})`);
    out[key] = resolve(argv[i + 1]);
  }
  return out;
}

// --- files, read once -------------------------------------------------------

const TYPES = { js: 'text/javascript', mjs: 'text/javascript', wasm: 'application/wasm', css: 'text/css', json: 'application/json', html: 'text/html; charset=utf-8', svg: 'image/svg+xml' };
const typeOf = (path) => TYPES[path.split('.').pop()] ?? 'application/octet-stream';

/** Brotli sizes from xtask (`path<TAB>bytes` lines), so both tables agree to the byte. */
function readSizes(file) {
  const sizes = new Map();
  if (!file) return sizes;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [path, bytes] = line.split('\t');
    if (path && bytes) sizes.set(resolve(path), Number(bytes));
  }
  return sizes;
}

function makeFile(path, sizes) {
  const body = readFileSync(path);
  let brotli = sizes.get(path);
  const estimated = brotli === undefined;
  return {
    path,
    body,
    type: typeOf(path),
    get brotli() {
      brotli ??= brotliCompressSync(body, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_LGWIN]: 22 } }).length;
      return brotli;
    },
    estimated,
  };
}

/** Every file under `dir` (recursively) for which `keep(relativePath)` holds, by URL path under `prefix`. */
function serveDir(dir, prefix, keep, sizes) {
  const files = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const rel = relative(dir, full).split(sep).join('/');
      if (statSync(full).isDirectory()) walk(full);
      else if (keep(rel)) files.set(prefix + rel, makeFile(full, sizes));
    }
  };
  walk(dir);
  return files;
}

function installedVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

// --- the bare page and the three banners -----------------------------------

/**
 * The page every banner is measured on: a heading, some text, one gated
 * script. With `form`, also the demo's newsletter form, which the demo's
 * config names: a page with a consent form needs the form's checkboxes and
 * its receipts ready before the visitor submits, so it is measured apart
 * ((a') below), not as the bare page of the budgets.
 */
function barePage({ gate, head }, form = false) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bench page</title>
<script ${gate}>window.__benchGated = performance.now(); window.__benchReport && window.__benchReport('gated', window.__benchGated);</script>
${head}
</head>
<body>
<main>
<h1>A bare page</h1>
<p>One paragraph of text, so that a banner that pushes the page shows up as layout shift. Nothing else on this page loads anything.</p>
${form ? `<form id="newsletter-form" action="#" method="get">
<label for="newsletter-email">Email address</label>
<input id="newsletter-email" name="email" type="email" autocomplete="email">
<button type="submit">Subscribe</button>
</form>` : ''}
</main>
<footer><a href="/privacy.html">Privacy policy</a></footer>
</body>
</html>
`;
}

function banners({ dist, modules, sizes }) {
  const need = (path, what) => {
    if (!existsSync(path)) throw new HarnessError(`${path} is missing (${what})`);
    return path;
  };
  need(join(dist, 'consentry.js'), 'run `cargo xtask dist` first');
  const pinned = (name, version) => {
    const dir = join(modules, name);
    const found = installedVersion(dir);
    if (found !== version) {
      throw new HarnessError(`${name}@${version} is not installed in ${modules} (found ${found ?? 'nothing'}); \`cargo xtask bench\` installs it`);
    }
    return join(dir, 'dist');
  };
  const site = (entries) => new Map(entries.map(([url, path]) => [url, makeFile(need(path, 'the site config'), new Map())]));

  return [
    {
      id: 'consentry',
      name: 'consentry (this build)',
      // Everything `cargo xtask dist` puts next to the loader is the widget's,
      // so parts added later are served and counted without touching this list.
      widget: serveDir(dist, '/', (rel) => !rel.startsWith('npm/') && !rel.endsWith('.d.ts') && rel !== 'consentry.config.json', sizes),
      site: site([['/consentry.config.json', join(dist, 'consentry.config.json')]]),
      gate: 'type="text/plain" data-category="analytics"',
      head: '<script src="/consentry.js" data-config="/consentry.config.json" defer></script>',
      accept: 'Accept all',
      async everything(page) {
        await page.getByRole('button', { name: 'Customize', exact: true }).click();
        const prefs = page.getByRole('dialog', { name: 'Privacy preferences' });
        await prefs.waitFor({ state: 'visible' });
        await prefs.getByRole('button', { name: 'Accept all', exact: true }).click();
        await prefs.waitFor({ state: 'hidden' });
        await page.getByRole('button', { name: 'Privacy settings', exact: true }).click();
        await prefs.getByRole('link', { name: 'Download receipt' }).waitFor({ state: 'visible' });
        return 'banner, preferences, Accept all there, reopened until "Download receipt" is offered';
      },
    },
    {
      id: 'vanilla',
      name: 'vanilla-cookieconsent 3.1.0',
      widget: serveDir(pinned('vanilla-cookieconsent', '3.1.0'), '/vendor/vanilla-cookieconsent/', () => true, sizes),
      site: site([['/cookieconsent-config.js', join(HERE, 'vanilla-cookieconsent.config.js')]]),
      gate: 'type="text/plain" data-category="analytics"',
      head: [
        '<link rel="stylesheet" href="/vendor/vanilla-cookieconsent/cookieconsent.css">',
        '<script src="/vendor/vanilla-cookieconsent/cookieconsent.umd.js" defer></script>',
        '<script src="/cookieconsent-config.js" defer></script>',
      ].join('\n'),
      accept: 'Accept all',
      async everything(page) {
        await page.getByRole('button', { name: 'Customize', exact: true }).click();
        const prefs = page.locator('#cc-main .pm');
        await prefs.waitFor({ state: 'visible' });
        await prefs.getByRole('button', { name: 'Accept all', exact: true }).click();
        await prefs.waitFor({ state: 'hidden' });
        return 'banner, preferences, Accept all there (no receipts)';
      },
    },
    {
      id: 'klaro',
      name: 'klaro 0.7.22',
      widget: serveDir(pinned('klaro', '0.7.22'), '/vendor/klaro/', () => true, sizes),
      site: site([['/klaro-config.js', join(HERE, 'klaro.config.js')]]),
      gate: 'type="text/plain" data-type="application/javascript" data-name="analytics"',
      head: [
        '<script src="/klaro-config.js" defer></script>',
        '<script src="/vendor/klaro/klaro.js" data-klaro-config="klaroConfig" defer></script>',
      ].join('\n'),
      accept: 'Accept all',
      async everything(page) {
        await page.getByRole('link', { name: 'Customize', exact: true }).click();
        const prefs = page.locator('#klaro .cookie-modal');
        await prefs.waitFor({ state: 'visible' });
        await prefs.getByRole('button', { name: 'Accept all', exact: true }).click();
        await prefs.waitFor({ state: 'hidden' });
        return 'notice, modal, Accept all there (no receipts)';
      },
    },
  ].map((b) => ({ ...b, page: barePage(b), formPage: barePage(b, true) }));
}

// --- one fresh context ------------------------------------------------------

/** Runs before any page script: finds "Accept all" the moment it is visible, and keeps the performance entries. */
function instrument({ accept }) {
  const bench = (window.__bench = { visibleAt: null, clicks: [], longtasks: [], cls: 0, shifted: [], unsupported: [] });
  const report = (kind, value) => {
    try {
      window.__benchReport?.(kind, value);
    } catch {
      // The binding is only a signal; the value stays in window.__bench.
    }
  };
  const roots = [document];
  const observer = new MutationObserver(check);
  const watch = (node) => observer.observe(node, { childList: true, subtree: true, attributes: true, characterData: true });
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attachShadow.call(this, init);
    roots.push(root);
    if (bench.visibleAt === null) watch(root);
    return root;
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true });
  };
  function check() {
    if (bench.visibleAt !== null) return;
    for (const root of roots) {
      for (const el of root.querySelectorAll('button, a, [role="button"]')) {
        if (el.textContent.trim() === accept && shown(el)) {
          bench.visibleAt = performance.now();
          observer.disconnect();
          report('visible', bench.visibleAt);
          return;
        }
      }
    }
  }
  watch(document);
  let frames = 0;
  const frame = () => {
    check();
    if (bench.visibleAt === null && ++frames < 3600) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const observe = (type, options, each) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(each)).observe({ type, buffered: true, ...options });
    } catch {
      bench.unsupported.push(type);
    }
  };
  observe('event', { durationThreshold: 16 }, (e) => {
    if (e.name === 'click') bench.clicks.push(e.duration);
  });
  observe('longtask', {}, (e) => bench.longtasks.push({ start: e.startTime, duration: e.duration }));
  const describe = (node) =>
    !node ? '?' : node.nodeType !== 1 ? node.nodeName : node.localName + (node.id ? '#' + node.id : '') + (node.classList.length ? '.' + [...node.classList].join('.') : '');
  observe('layout-shift', {}, (e) => {
    if (e.hadRecentInput) return;
    bench.cls += e.value;
    for (const s of e.sources ?? []) if (!bench.shifted.includes(describe(s.node))) bench.shifted.push(describe(s.node));
  });
  performance.setResourceTimingBufferSize?.(1000);
}

let browser;

/** A fresh context on `banner`'s page: routes from memory, the instrument, signals from the page. */
async function visit(banner, { throttle = false, stored = null } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...(stored ? { storageState: stored } : {}) });
  context.setDefaultTimeout(ACTION_TIMEOUT);
  context.setDefaultNavigationTimeout(VISIBLE_TIMEOUT);
  const requests = [];
  const problems = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    const answer = (status, type, body) => route.fulfill({ status, headers: { 'content-type': type, 'cache-control': 'no-store' }, body }).catch(() => {});
    if (url.origin !== ORIGIN) {
      requests.push({ kind: 'other', path: url.href, at: Date.now() });
      return route.abort('blockedbyclient').catch(() => {});
    }
    const path = url.pathname;
    if (path === '/') return answer(200, TYPES.html, banner.page);
    if (path === '/form') return answer(200, TYPES.html, banner.formPage);
    const file = banner.widget.get(path);
    if (file) {
      requests.push({ kind: 'widget', path, at: Date.now() });
      return answer(200, file.type, file.body);
    }
    const own = banner.site.get(path);
    if (own) return answer(200, own.type, own.body);
    if (path.startsWith('/v1/') || path.startsWith('/.well-known/')) {
      requests.push({ kind: 'api', path, at: Date.now() });
      return answer(503, TYPES.json, '{"error":"unavailable"}');
    }
    if (path !== '/favicon.ico') requests.push({ kind: 'other', path, at: Date.now() });
    return answer(404, 'text/plain', 'not found');
  });
  const signals = new Map();
  const waiters = new Map();
  await context.exposeBinding('__benchReport', (_source, kind, value) => {
    if (!signals.has(kind)) signals.set(kind, { value, at: Date.now() });
    waiters.get(kind)?.();
  });
  await context.addInitScript(instrument, { accept: banner.accept });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(String(err?.message ?? err)));
  if (throttle) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
  }
  /** Resolves with the first report of `kind` from the page, or fails naming what never happened. */
  const signal = (kind, timeout, what) =>
    new Promise((resolveSignal, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(kind);
        resolveSignal(signals.get(kind));
      };
      const timer = setTimeout(() => {
        waiters.delete(kind);
        reject(new HarnessError(`${banner.name}: ${what} not within ${timeout / 1000} s${problems.length ? ` (page error: ${problems[0]})` : ''}`));
      }, timeout);
      if (signals.has(kind)) done();
      else waiters.set(kind, done);
    });
  const close = () => context.close().catch(() => {});
  return { context, page, requests, problems, signal, close };
}

/** Waits until no request for IDLE_QUIET ms (bounded by IDLE_MAX). */
async function idle(v) {
  const start = Date.now();
  for (let i = 0; i < IDLE_MAX / 100; i++) {
    const last = Math.max(start, ...v.requests.map((r) => r.at));
    if (Date.now() - last >= IDLE_QUIET) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lets the page finish what it started (a short pause, then an idle callback, bounded). */
async function settle(page) {
  await page.waitForTimeout(500);
  await page.evaluate(() => new Promise((r) => requestIdleCallback(r, { timeout: 2000 })));
}

/** Two frames and a little: Event Timing entries are queued after the next paint. */
async function afterPaint(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 300)))));
}

// --- the scenarios ------------------------------------------------------------

/** Distinct widget files of `requests`, with their brotli sizes. */
function filesOf(banner, paths) {
  return [...new Set(paths)].sort().map((path) => ({ path, file: banner.widget.get(path) }));
}
const total = (files) => files.reduce((sum, f) => sum + f.file.brotli, 0);

/** (b) and (c) in one first visit, unthrottled; returns the state it leaves (cookies, localStorage), for the returning visits. */
async function firstVisitBytes(banner) {
  const v = await visit(banner);
  try {
    const visible = v.signal('visible', VISIBLE_TIMEOUT, '"Accept all" visible');
    await v.page.goto(ORIGIN + '/', { waitUntil: 'commit' });
    const shown = await visible;
    const steps = await banner.everything(v.page);
    await v.signal('gated', ACTION_TIMEOUT, 'the gated script running after "Accept all"');
    await idle(v);
    const page = await v.page.evaluate(() => ({
      visibleAt: window.__bench.visibleAt,
      started: performance.getEntriesByType('resource').map((e) => [new URL(e.name).pathname, e.startTime]),
    }));
    const startedAt = new Map();
    for (const [path, start] of page.started) startedAt.set(path, Math.min(start, startedAt.get(path) ?? Infinity));
    const widget = v.requests.filter((r) => r.kind === 'widget');
    // A request Resource Timing does not show is judged by when the route saw it.
    const beforeBanner = widget.filter((r) => (startedAt.has(r.path) ? startedAt.get(r.path) <= page.visibleAt : r.at <= shown.at));
    const repeated = widget.length - new Set(widget.map((r) => r.path)).size;
    const state = await v.context.storageState();
    if (state.cookies.length === 0) throw new HarnessError(`${banner.name}: no cookie stored after "Accept all"`);
    const stored = {
      cookies: state.cookies,
      origins: state.origins.map((o) => ({ ...o, localStorage: o.localStorage.filter((e) => !e.name.startsWith('consentry:entry:')) })),
    };
    return {
      shown: filesOf(banner, beforeBanner.map((r) => r.path)),
      everything: filesOf(banner, widget.map((r) => r.path)),
      steps,
      repeated,
      stored,
      others: v.requests.filter((r) => r.kind === 'other').map((r) => r.path),
      api: [...new Set(v.requests.filter((r) => r.kind === 'api').map((r) => r.path))],
      problems: v.problems,
    };
  } finally {
    await v.close();
  }
}

/** (a): the stored choice, the page (`/`, or `/form` for (a')) loaded, then idle. */
async function returningBytes(banner, stored, path = '/') {
  const v = await visit(banner, { stored });
  try {
    await v.page.goto(ORIGIN + path, { waitUntil: 'load' });
    await v.signal('gated', VISIBLE_TIMEOUT, 'on a returning visit, the gated script');
    await idle(v);
    if (await v.page.evaluate(() => window.__bench.visibleAt !== null)) {
      throw new HarnessError(`${banner.name}: the returning visitor was shown the banner (the stored choice was not taken)`);
    }
    return { files: filesOf(banner, v.requests.filter((r) => r.kind === 'widget').map((r) => r.path)), problems: v.problems };
  } finally {
    await v.close();
  }
}

/** One throttled first visit: "Accept all" visible, long tasks until then, the click, layout shift. */
async function timedFirstVisit(banner) {
  const v = await visit(banner, { throttle: true });
  try {
    const visible = v.signal('visible', VISIBLE_TIMEOUT, '"Accept all" visible at 4x throttle');
    await v.page.goto(ORIGIN + '/', { waitUntil: 'commit' });
    await visible;
    await settle(v.page);
    const button = v.page.getByRole('button', { name: banner.accept, exact: true }).filter({ visible: true }).first();
    const box = await button.boundingBox();
    if (!box) throw new HarnessError(`${banner.name}: "Accept all" has no box to click`);
    const gated = v.signal('gated', ACTION_TIMEOUT, 'the gated script running after the click on "Accept all"');
    await v.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await gated;
    await afterPaint(v.page);
    const m = await v.page.evaluate(() => window.__bench);
    const before = m.longtasks.filter((t) => t.start < m.visibleAt);
    return {
      visible: m.visibleAt,
      // The slowest `click` entry; none at all means under the 16 ms threshold.
      click: m.clicks.length ? Math.max(...m.clicks) : null,
      longCount: before.length,
      longest: before.length ? Math.max(...before.map((t) => t.duration)) : 0,
      cls: m.cls,
      shifted: m.shifted,
      unsupported: m.unsupported,
    };
  } finally {
    await v.close();
  }
}

/** One throttled returning visit: when the gated script runs. */
async function timedReturn(banner, stored) {
  const v = await visit(banner, { throttle: true, stored });
  try {
    const gated = v.signal('gated', VISIBLE_TIMEOUT, 'on a returning visit at 4x throttle, the gated script');
    await v.page.goto(ORIGIN + '/', { waitUntil: 'commit' });
    return (await gated).value;
  } finally {
    await v.close();
  }
}

// --- printing ---------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${Math.round(x)}`;
const spread = (xs, f = ms) => `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function printTable(title, head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  const line = (cells) => cells.map((c, i) => (i === 0 ? pad(c, widths[i]) : lpad(c, widths[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

/** A run that could not measure `banner`: its reason on one line; anything but a wait that ran out is a bug here, and stops the bench. */
function unmeasured(banner, err) {
  if (err instanceof HarnessError) return err.message;
  if (err?.name === 'TimeoutError') return `${banner.name}: ${String(err.message).split('\n')[0]}`;
  throw err;
}

const short = (path) => path.split('/').pop();
const star = (f) => (f.file.estimated ? '*' : '');

// --- main ---------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const opts = args();
  const list = banners({ ...opts, sizes: readSizes(opts.sizes) });
  browser = await chromium.launch({
    executablePath: process.env.CONSENTRY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  const failures = [];
  const notes = [];
  try {
    console.log(`\nbench: the widget in a browser (headless Chromium ${browser.version()}, page and files from memory, ${RUNS} runs per timing)`);

    // Bytes, unthrottled (what is fetched does not depend on the CPU).
    const bytes = new Map();
    for (const b of list) {
      try {
        const first = await firstVisitBytes(b);
        const back = await returningBytes(b, first.stored);
        const withForm = await returningBytes(b, first.stored, '/form');
        bytes.set(b.id, { ...first, returning: back.files, returningForm: withForm.files });
        for (const p of [...first.problems, ...back.problems]) notes.push(`${b.name}: page error: ${p}`);
        if (first.others.length) notes.push(`${b.name}: requests outside the widget's files, answered 404/blocked: ${[...new Set(first.others)].join(', ')}`);
        if (first.repeated) notes.push(`${b.name}: ${first.repeated} widget request(s) repeated a URL (counted once, as a browser cache would serve it)`);
        if (first.api.length) notes.push(`${b.name}: collector API (answered 503, not counted): ${first.api.join(', ')}`);
      } catch (err) {
        failures.push(unmeasured(b, err));
      }
    }
    const cell = (id, key) => {
      const r = bytes.get(id);
      return r ? `${total(r[key])} (${r[key].length})` : 'n/a';
    };
    printTable(
      'bytes the page fetched for the widget: brotli -q 11 per file, summed (files)',
      ['scenario', ...list.map((b) => b.name)],
      [
        ['(a) returning visitor, loaded and idle', ...list.map((b) => cell(b.id, 'returning'))],
        ["(a') the same on a page with the configured form", ...list.map((b) => cell(b.id, 'returningForm'))],
        ['(b) first visit, until the banner is shown', ...list.map((b) => cell(b.id, 'shown'))],
        ['(c) everything a visit can load', ...list.map((b) => cell(b.id, 'everything'))],
      ],
    );
    for (const b of list) {
      const r = bytes.get(b.id);
      if (!r) continue;
      const inA = new Set(r.returning.map((f) => f.path));
      const inB = new Set(r.shown.map((f) => f.path));
      console.log(`  ${b.name}, (c) = ${r.steps}:`);
      for (const f of r.everything) {
        const where = ['a', 'b', 'c'].filter((s) => (s === 'a' ? inA.has(f.path) : s === 'b' ? inB.has(f.path) : true)).join('');
        console.log(`    ${pad(short(f.path), 28)} ${lpad(f.file.brotli + star(f), 7)}  ${where}`);
      }
      for (const f of r.returning.filter((f) => !r.everything.some((e) => e.path === f.path))) {
        console.log(`    ${pad(short(f.path), 28)} ${lpad(f.file.brotli + star(f), 7)}  a only`);
      }
    }
    if ([...bytes.values()].some((r) => r.everything.some(star))) notes.push('* brotli size by node zlib (a file xtask did not measure)');

    // Timings, interleaved, each run a fresh context at 4x throttle.
    const storedOf = (b) => bytes.get(b.id)?.stored;
    const timed = new Map(list.map((b) => [b.id, { first: [], back: [] }]));
    const failed = new Set();
    const attempt = async (b, fn) => {
      if (failed.has(b.id)) return;
      try {
        await fn();
      } catch (err) {
        failed.add(b.id);
        failures.push(unmeasured(b, err));
      }
    };
    for (let run = 0; run < RUNS; run++) {
      for (const b of list) await attempt(b, async () => timed.get(b.id).first.push(await timedFirstVisit(b)));
    }
    for (let run = 0; run < RUNS; run++) {
      for (const b of list) {
        if (!storedOf(b)) continue;
        await attempt(b, async () => timed.get(b.id).back.push(await timedReturn(b, storedOf(b))));
      }
    }
    const col = (b, f) => {
      const t = timed.get(b.id);
      return t.first.length ? f(t) : 'n/a';
    };
    const clickCell = (t) => {
      const xs = t.first.map((r) => r.click ?? 0);
      const show = (x) => (x < 16 ? '<16' : ms(x));
      return `${show(median(xs))} (${show(Math.min(...xs))}-${show(Math.max(...xs))})`;
    };
    printTable(
      `timings, headless Chromium at ${THROTTLE}x CPU throttle, median (min-max) of ${RUNS} fresh contexts`,
      ['', ...list.map((b) => b.name)],
      [
        ['"Accept all" visible, ms from navigation', ...list.map((b) => col(b, (t) => spread(t.first.map((r) => r.visible))))],
        ['returning visit: gated script runs, ms', ...list.map((b) => (timed.get(b.id).back.length ? spread(timed.get(b.id).back) : 'n/a'))],
        ['click on "Accept all": Event Timing, ms', ...list.map((b) => col(b, clickCell))],
        ['long tasks >50 ms until visible: count', ...list.map((b) => col(b, (t) => spread(t.first.map((r) => r.longCount))))],
        ['  longest of them, ms (0: none)', ...list.map((b) => col(b, (t) => spread(t.first.map((r) => r.longest))))],
        ['layout shift (CLS sum)', ...list.map((b) => col(b, (t) => spread(t.first.map((r) => r.cls), (x) => x.toFixed(3))))],
      ],
    );
    const [us, them] = [timed.get('consentry'), timed.get('vanilla')];
    const ratio = (a, b) => (a.length && b.length ? (median(a) / median(b)).toFixed(2) : 'n/a');
    console.log(
      `ratio consentry / vanilla-cookieconsent (goal <= 1.00): "Accept all" visible ${ratio(us.first.map((r) => r.visible), them.first.map((r) => r.visible))}, ` +
        `returning visit gated script ${ratio(us.back, them.back)}`,
    );
    for (const b of list) {
      const shifted = [...new Set(timed.get(b.id).first.flatMap((r) => r.shifted))];
      if (shifted.length) notes.push(`${b.name}: layout shift moved ${shifted.join(', ')}`);
    }
    const unsupported = new Set([...timed.values()].flatMap((t) => t.first.flatMap((r) => r.unsupported)));
    if (unsupported.size) notes.push(`this Chromium does not report: ${[...unsupported].join(', ')} (those rows read as none)`);
  } finally {
    await browser.close().catch(() => {});
  }
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`browser bench: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length) {
    throw new HarnessError(`could not measure:\n  ${failures.join('\n  ')}`);
  }
}

main().catch((err) => {
  console.error(`\nwidget bench: ${err instanceof HarnessError ? err.message : err?.stack ?? err}`);
  process.exit(1);
});
