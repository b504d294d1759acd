// Shared setup for the end-to-end suite: one Chromium per test file, a fresh
// context (so fresh cookies) per test, console errors and page errors
// collected per page, and the few helpers every flow needs.
//
// Run: start the demo (www/ + target/dist/ served together), then
//   CONSENTRY_BASE_URL=http://127.0.0.1:8080 node --test tests/e2e/*.test.mjs

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './chromium.mjs';

export const BASE = (process.env.CONSENTRY_BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** Per Playwright action / wait. Navigation gets a little more. */
export const ACTION_TIMEOUT = 5_000;
export const NAV_TIMEOUT = 10_000;
/** Per test (node:test option). */
export const TEST_TIMEOUT = 30_000;
export const T = { timeout: TEST_TIMEOUT };

/** The config the demo serves, read from the source of truth. */
export const LANDING_CONFIG = JSON.parse(
  readFileSync(new URL('../../pkg-config/examples/landing.json', import.meta.url), 'utf8'),
);
/** A deep copy to modify in a test. */
export const landingConfig = () => structuredClone(LANDING_CONFIG);

export const BANNER_TITLE = 'We value your privacy';
export const PREFS_TITLE = 'Privacy preferences';
export const OPTIONAL_CATEGORY_IDS = LANDING_CONFIG.categories.filter((c) => !c.necessary).map((c) => c.id);


/**
 * Registers before/after hooks that launch and close one browser for the
 * calling test file. Returns `newPage(t, contextOptions)`.
 */
export function useBrowser() {
  let browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: process.env.CONSENTRY_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 20_000,
    });
  }, { timeout: 30_000 });
  after(async () => {
    await browser?.close();
  });

  /**
   * A fresh context + page. Closed automatically when test `t` ends.
   * Returns { context, page, consoleErrors, pageErrors, events }.
   */
  return async function newPage(t, contextOptions = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
    context.setDefaultTimeout(ACTION_TIMEOUT);
    context.setDefaultNavigationTimeout(NAV_TIMEOUT);
    // Record the widget's DOM events from the very start of every document.
    await context.addInitScript(() => {
      const log = (window.__consentryEvents = []);
      for (const type of ['consentry:ready', 'consentry:change', 'consentry:form']) {
        window.addEventListener(type, (e) => {
          let detail;
          try {
            detail = JSON.parse(JSON.stringify(e.detail ?? null));
          } catch {
            detail = String(e.detail);
          }
          log.push({ type, detail });
        });
      }
    });
    const page = await context.newPage();
    const consoleErrors = [];
    const pageErrors = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => pageErrors.push(String(err?.stack || err)));
    t.after(async () => {
      await context.close().catch(() => {});
    });
    return { context, page, consoleErrors, pageErrors };
  };
}

/** The first-layer banner, found as a visitor (or screen reader) finds it. */
export const banner = (page) => page.getByRole('dialog', { name: BANNER_TITLE });
/** The preferences dialog. */
export const preferences = (page) => page.getByRole('dialog', { name: PREFS_TITLE });

/** Opens `path` (default the landing page) and waits for the widget to have finished booting. */
export async function open(page, path = '/') {
  await page.goto(BASE + path, { waitUntil: 'load' });
  await waitReady(page);
}

/** Waits for the widget's `consentry:ready` event. */
export async function waitReady(page) {
  await page.waitForFunction(
    () => window.__consentryEvents?.some((e) => e.type === 'consentry:ready'),
    null,
    { timeout: NAV_TIMEOUT },
  );
}

/** Opens the landing page with no stored choice and returns the visible banner. */
export async function openBanner(page, path = '/') {
  await page.goto(BASE + path, { waitUntil: 'load' });
  const b = banner(page);
  await b.waitFor({ state: 'visible' });
  return b;
}

/** Opens the preferences dialog from the banner's "Customize" button. */
export async function openPreferencesFromBanner(page) {
  await banner(page).getByRole('button', { name: 'Customize', exact: true }).click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  return dlg;
}

/**
 * Parses the `consentry` cookie: `v=1&r=<rev>&t=<s>&e=<s>&c=<id>|<id>&id=<receipt>`.
 * Returns null when there is none, else { raw, v, r, t, e, c: string[], id }.
 */
export async function consentCookie(context) {
  const cookie = (await context.cookies(BASE)).find((c) => c.name === 'consentry');
  if (!cookie) return null;
  return parseConsentValue(cookie.value, cookie);
}

export function parseConsentValue(value, cookie = undefined) {
  const p = new URLSearchParams(value);
  const num = (k) => (p.has(k) ? Number(p.get(k)) : undefined);
  const c = p.get('c');
  return {
    raw: value,
    cookie,
    v: num('v'),
    r: num('r'),
    t: num('t'),
    e: num('e'),
    c: c ? c.split('|').filter(Boolean) : [],
    id: p.get('id'),
  };
}

/** Builds a cookie for context.addCookies() holding a stored choice. */
export function storedConsentCookie({ r = LANDING_CONFIG.revision ?? 1, t, e, c = ['necessary'], id = '3b0c3c8e-9a53-4a8f-9b43-0f2e8f7d1a55', value } = {}) {
  const now = Math.floor(Date.now() / 1000);
  t ??= now - 3600;
  e ??= now + 90 * 86400;
  return {
    name: 'consentry',
    value: value ?? `v=1&r=${r}&t=${t}&e=${e}&c=${c.join('|')}&id=${id}`,
    url: BASE + '/',
    expires: now + 365 * 86400,
    sameSite: 'Lax',
  };
}

/** Names of the cookies the page can see, sorted. */
export async function cookieNames(context) {
  return (await context.cookies(BASE)).map((c) => c.name).sort();
}

/** The demo's own (gated) cookies currently set. */
export async function acmeCookies(context) {
  return (await cookieNames(context)).filter((n) => n.startsWith('acme_') || n === 'VISITOR_INFO1_LIVE');
}

/** What the gated scripts and the iframe have done so far. */
export async function gatedState(page) {
  return page.evaluate(() => {
    const iframe = document.querySelector('iframe[title="Product tour video"]');
    return {
      analytics: window.acmeAnalyticsLoaded,
      ads: window.acmeAdsLoaded,
      iframeSrc: iframe ? iframe.getAttribute('src') : 'NO IFRAME',
      status: document.getElementById('analytics-status')?.textContent,
    };
  });
}

export const ANALYTICS_WAITING = 'Analytics: waiting for your choice';
export const ANALYTICS_ON = 'Analytics: on';
export const ANALYTICS_OFF = 'Analytics: off (you said no)';

/** Events recorded by the init script, optionally of one type. */
export async function events(page, type) {
  const all = await page.evaluate(() => window.__consentryEvents || []);
  return type ? all.filter((e) => e.type === type) : all;
}

/** Waits until `fn` (run in the page) returns truthy, within the action timeout. */
export function waitInPage(page, fn, arg) {
  return page.waitForFunction(fn, arg, { timeout: ACTION_TIMEOUT });
}

/** Waits for `ms` — only to let a widget that should do nothing prove it did nothing. */
export const settle = (page, ms = 500) => page.waitForTimeout(ms);

/** The element focused inside shadow roots, described for assertions. */
export async function deepActiveElement(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    if (!el) return null;
    return {
      tag: el.tagName.toLowerCase(),
      name: (el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\s+/g, ' '),
      inShadow: el.getRootNode() !== document,
    };
  });
}

/** True when `locator`'s element is the focused element of its own (shadow) root and its chain of hosts. */
export async function hasFocus(locator) {
  return locator.evaluate((el) => {
    let deep = document.activeElement;
    while (deep && deep.shadowRoot && deep.shadowRoot.activeElement) deep = deep.shadowRoot.activeElement;
    return deep === el;
  });
}

// --- axe-core ---------------------------------------------------------------

const require = createRequire(import.meta.url);
let axeSource;
/** Injects axe-core (from the repo's node_modules) and runs it on the whole document, shadow roots included. */
export async function runAxe(page, options = {}) {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ content: axeSource });
  }
  return page.evaluate(async (opts) => {
    const result = await window.axe.run(document, {
      resultTypes: ['violations'],
      iframes: false,
      ...opts,
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 200), summary: n.failureSummary })),
    }));
  }, options);
}

/** Asserts zero axe violations, printing them readably otherwise. */
export function assertNoViolations(violations, where) {
  if (violations.length === 0) return;
  const text = violations
    .map(
      (v) =>
        `- [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes
          .map((n) => `    at ${JSON.stringify(n.target)}\n      ${n.html}\n      ${(n.summary || '').replace(/\n/g, '\n      ')}`)
          .join('\n'),
    )
    .join('\n');
  assert.fail(`${violations.length} axe violation(s) ${where}:\n${text}`);
}

/**
 * Polls `url` until it answers 200 (bounded: `ms`), as the collector does
 * once a receipt or a notice has reached it; `what` names it in a failure.
 */
export async function untilStored(url, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await fetch(url).catch(() => null);
    if (r?.status === 200) return r;
    if (Date.now() > deadline) assert.fail(`${what} never reached the collector at ${url} (last: ${r?.status})`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** The collector's row for receipt `id`, once it has it. */
export const storedReceipt = async (id, base = BASE) =>
  (await untilStored(`${base}/v1/receipts/${id}`, `receipt ${id}`)).json();

/** The payload of a receipt's JWS, as JSON (no verification: see receipts.test.mjs for that). */
export const payloadOf = (jws) => JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8'));

/** Console errors emitted by the widget. */
export const widgetErrors = (consoleErrors) => consoleErrors.filter((m) => m.startsWith('consentry:'));
