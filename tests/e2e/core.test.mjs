// The consent core (pkg-config/core.js, in the classic loader and the npm
// module): a returning visitor's page applies the stored choice without
// fetching the wasm, and anything more hands the page over to the wasm with
// nothing lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  useBrowser, T, BASE, banner, preferences, events, waitInPage, waitReady, hasFocus, deepActiveElement,
  widgetErrors, settle, landingConfig,
} from './helpers.mjs';

const newPage = useBrowser();
const VECTORS = JSON.parse(readFileSync(new URL('../vectors/consent-cookie.json', import.meta.url), 'utf8'));

// A bare page: gated scripts, a settings link, no iframe, no form; its
// config is the demo's without the form (a configured form the page lacks
// is reported, see bad-config.test.mjs).
const BARE = '/core-bare.html';
const bareHtml = (extra = '') => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bare</title>
<script type="text/plain" data-category="analytics">(window.ran = window.ran || []).push('analytics')</script>
<script type="text/plain" data-category="!analytics">(window.ran = window.ran || []).push('!analytics')</script>
<script type="text/plain" data-category="marketing">(window.ran = window.ran || []).push('marketing')</script>
<script src="/consentry.js" data-config="/bare.config.json" defer></script>
</head><body><main><h1>Bare</h1><p><a href="#" data-consentry-open>Cookie settings</a></p>${extra}</main></body></html>`;
const BARE_CONFIG = JSON.stringify({ ...landingConfig(), forms: undefined }, null, 2);

// The widget's files past the loader: any of them fetched means the wasm ran.
const WASM_PART = /\/(consentry-core\.js|consentry-core_bg\.wasm|snippets\/.*\.js)$/;

/**
 * A page that serves the bare page (with `extra` in its body) and its config
 * (`config`, text), and logs the paths it fetches (routing also turns the
 * cache off).
 */
async function barePage(t, { config = BARE_CONFIG, extra = '' } = {}) {
  const p = await newPage(t);
  p.fetched = [];
  p.page.on('request', (r) => p.fetched.push(new URL(r.url()).pathname));
  p.extra = extra;
  await p.page.route(BASE + BARE, (route) => route.fulfill({ contentType: 'text/html', body: bareHtml(p.extra) }));
  p.config = config;
  await p.page.route(BASE + '/bare.config.json', (route) => route.fulfill({ contentType: 'application/json', body: p.config }));
  return p;
}

const wasmFetched = (p) => p.fetched.some((path) => WASM_PART.test(path));

/** Visits the bare page, accepts all, and waits until the receipt is delivered. */
async function chooseOnce(p) {
  await p.page.goto(BASE + BARE);
  await banner(p.page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(p.page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  return p.page.evaluate(() => window.consentry.getConsent());
}

async function revisit(p) {
  p.fetched.length = 0;
  await p.page.reload();
  await waitReady(p.page);
}

/** A returning visitor on the bare page: chose once (Accept all), then came back. */
async function returningPage(t) {
  const p = await barePage(t);
  await chooseOnce(p);
  await revisit(p);
  return p;
}

test('a returning visitor gets the stored choice applied by the loader alone, the wasm never fetched', T, async (t) => {
  const p = await barePage(t);
  const { page } = p;
  const chosen = await chooseOnce(p);
  assert.ok(wasmFetched(p), 'the first visit runs the wasm');
  await revisit(p);

  assert.ok(!wasmFetched(p), `a returning visit fetched: ${p.fetched.join(', ')}`);
  assert.deepEqual(await page.evaluate(() => window.ran), ['analytics', 'marketing'], 'granted scripts ran, in order');
  assert.deepEqual(await page.evaluate(() => window.consentry.getConsent()), chosen, 'getConsent as the wasm gave it');
  assert.deepEqual(await page.evaluate(() => [window.consentry.isGranted('analytics'),
    window.consentry.isGranted('necessary'), window.consentry.isGranted('nope')]), [true, true, false]);
  const ready = await events(page, 'consentry:ready');
  assert.equal(ready.length, 1);
  assert.deepEqual(ready[0].detail, chosen);
  await page.getByRole('button', { name: 'Privacy settings' }).waitFor({ state: 'visible' });
  assert.equal(await banner(page).count(), 0);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
  assert.deepEqual(p.pageErrors, []);
});

test('the reopen button hands the page to the wasm: the dialog opens, callbacks move over, focus comes back', T, async (t) => {
  const p = await returningPage(t);
  const { page } = p;
  await page.evaluate(() => {
    window.calls = [];
    const dropped = window.consentry.on('change', (d) => window.calls.push('dropped:' + d.action));
    window.consentry.on('change', (d) => window.calls.push('kept:' + d.action));
    dropped();
  });
  const reopen = page.getByRole('button', { name: 'Privacy settings' });
  await reopen.click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  assert.ok(wasmFetched(p), 'the dialog is the wasm\'s');
  assert.equal(await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).isChecked(), true, 'shows the stored grant');
  await dlg.getByRole('button', { name: 'Reject all', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });

  assert.deepEqual(await page.evaluate(() => window.calls), ['kept:withdraw']);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('analytics')), false);
  assert.equal((await events(page, 'consentry:ready')).length, 1, 'ready is said once per page');
  assert.equal(await page.getByRole('button', { name: 'Privacy settings' }).count(), 1, 'one reopen button');
  assert.ok(await hasFocus(reopen), `focus back on the reopen button, got ${JSON.stringify(await deepActiveElement(page))}`);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('the page\'s "Cookie settings" link and the JS API hand over too', T, async (t) => {
  const p = await returningPage(t);
  const { page } = p;
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await preferences(page).waitFor({ state: 'visible' });
  assert.ok(!page.url().endsWith('#'), 'the link did not navigate');

  await revisit(p);
  await page.evaluate(() => window.consentry.rejectAll());
  await waitInPage(page, () => window.consentry.isGranted('analytics') === false);
  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.method, 'api');
  assert.equal(change?.action, 'withdraw');
});

test('the core reads the consentry cookie as the wasm does (tests/vectors/consent-cookie.json)', { timeout: 120_000 }, async (t) => {
  const p = await barePage(t);
  const { page } = p;
  await page.goto(BASE + BARE); // the wasm checks the config once
  await banner(page).waitFor({ state: 'visible' });
  // and the courier has looked for receipts of earlier releases.
  await waitInPage(page, () => localStorage.getItem('consentry:migrated') !== null);
  const cases = [
    ...VECTORS.cases.map((c) => ({ ...c, cookie: encodeURIComponent(c.value) })),
    { name: 'as the wasm writes it, not URI-encoded', cookie: VECTORS.cases[0].value, current: true, state: VECTORS.cases[0].state },
    { name: 'not URI-decodable', cookie: '%E0%A4%A', current: false },
  ];
  for (const c of cases) {
    await page.evaluate((cookie) => {
      document.cookie = 'consentry=' + cookie + ';path=/';
    }, c.cookie);
    await revisit(p);
    const got = await page.evaluate(() => window.consentry.getConsent());
    if (c.current) {
      const s = c.state;
      assert.deepEqual(got, {
        categories: s.granted, revision: s.revision, givenAt: new Date(s.given_at * 1000).toISOString(),
        expiresAt: new Date(s.expires_at * 1000).toISOString(), receiptId: s.receipt_id,
      }, c.name);
      assert.ok(!wasmFetched(p), `${c.name}: the core applied it`);
    } else {
      assert.equal(got, null, c.name);
      assert.ok(wasmFetched(p), `${c.name}: the wasm asks again`);
    }
  }
});

test('a changed config is read and checked again: a bad one logs its error on a returning visit', T, async (t) => {
  const p = await barePage(t);
  const { page } = p;
  const chosen = await chooseOnce(p);
  p.config = BARE_CONFIG + '\n';
  await revisit(p);
  assert.ok(wasmFetched(p), 'a config text not checked on this browser goes to the wasm');
  assert.deepEqual(await page.evaluate(() => window.consentry.getConsent()), chosen);
  await revisit(p);
  assert.ok(!wasmFetched(p), 'and once checked, the core applies it');

  const bad = JSON.parse(BARE_CONFIG);
  bad.categories[1].id = 'not an id';
  p.config = JSON.stringify(bad);
  p.consoleErrors.length = 0;
  p.fetched.length = 0;
  await page.reload();
  for (let i = 0; i < 50 && widgetErrors(p.consoleErrors).length === 0; i++) await page.waitForTimeout(100);
  await settle(page);
  const errors = widgetErrors(p.consoleErrors);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /categories\[1\]\.id/);
  assert.equal(await page.evaluate(() => window.ran), undefined, 'nothing gated runs under a bad config');
});

test('receipts waiting in the journal make a returning visit load the wasm, until they are delivered', T, async (t) => {
  const p = await barePage(t);
  const { page } = p;
  // The collector is down at the choice: the receipt waits in the journal.
  await page.route(BASE + '/v1/receipts', (route) => route.abort());
  await page.goto(BASE + BARE);
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  await revisit(p);
  assert.ok(wasmFetched(p), 'a waiting receipt brings the courier');
  await page.unroute(BASE + '/v1/receipts');
  await revisit(p);
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  await revisit(p);
  assert.ok(!wasmFetched(p), 'once delivered, the core alone');
});

test('a configured form or a blocked iframe on the page makes a returning visit load the wasm; a granted one loads without it', T, async (t) => {
  // The demo's config, form included, on the bare page without the form.
  const p = await barePage(t, { config: JSON.stringify(landingConfig()) });
  const { page } = p;
  await chooseOnce(p);
  await revisit(p);
  assert.ok(!wasmFetched(p), 'no form, no iframe: the core alone');
  p.extra = '<form id="newsletter-form" action="#"><input name="email"><button>Subscribe</button></form>';
  await revisit(p);
  assert.ok(wasmFetched(p), 'the form needs its checkboxes and its receipts');
  await page.getByRole('checkbox').first().waitFor({ state: 'attached' });
  p.extra = '<iframe data-category="marketing" data-src="/embed/video.html" title="Video"></iframe>';
  await revisit(p);
  await waitInPage(page, () => document.querySelector('iframe').getAttribute('src') === '/embed/video.html');
  assert.ok(!wasmFetched(p), 'a granted iframe is loaded by the core alone');
  assert.equal((await events(page, 'consentry:ready')).length, 1);
  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => window.consentry.isGranted('marketing') === false);
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  await revisit(p);
  await page.locator('.consentry-embed-placeholder').waitFor();
  assert.ok(wasmFetched(p), 'a blocked iframe needs the wasm for its placeholder');
  assert.equal(await page.evaluate(() => document.querySelector('iframe').getAttribute('src')), null);
});

test('once the banner is shown, "Customize" works offline: nothing it needs is fetched later', T, async (t) => {
  const p = await barePage(t);
  const { page, context } = p;
  await page.goto(BASE + BARE);
  const b = banner(page);
  await b.waitFor({ state: 'visible' });
  await context.setOffline(true);
  p.fetched.length = 0;
  await b.getByRole('button', { name: 'Customize', exact: true }).click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).check();
  await dlg.getByRole('button', { name: 'Save choices', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => window.consentry.isGranted('analytics')), true);
  assert.ok(!wasmFetched(p), `fetched after the banner: ${p.fetched.join(', ')}`);
  assert.deepEqual(p.pageErrors, []);
});

test('the npm module runs the same core: a returning visit imports no wasm', T, async (t) => {
  const p = await newPage(t);
  const { page } = p;
  const fetched = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>npm</title>
<script type="text/plain" data-category="analytics">(window.ran = window.ran || []).push('analytics')</script>
<script type="module">
import { init, getConsent, isGranted, on } from '/npm/index.js';
window.npm = { getConsent, isGranted, on, init };
await init(${BARE_CONFIG});
window.npmStarted = true;
</script></head><body><main><h1>npm</h1></main></body></html>`;
  await page.route(BASE + '/npm-page.html', (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.goto(BASE + '/npm-page.html');
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.npm.isGranted('analytics') === true);
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  const chosen = await page.evaluate(() => window.npm.getConsent());
  assert.ok(fetched.some((f) => f.endsWith('/npm/consentry-core_bg.wasm')), 'the first visit runs the wasm');

  fetched.length = 0;
  await page.reload();
  await waitInPage(page, () => window.npmStarted === true);
  assert.ok(!fetched.some((f) => /\/npm\/(consentry-core|snippets\/)/.test(f)), `a returning visit fetched: ${fetched.join(', ')}`);
  assert.deepEqual(await page.evaluate(() => window.npm.getConsent()), chosen);
  assert.deepEqual(await page.evaluate(() => window.ran), ['analytics']);
  await page.getByRole('button', { name: 'Privacy settings' }).waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => typeof window.consentry), 'undefined', 'the module sets no global');
  p.consoleErrors.length = 0;
  await page.evaluate(() => window.npm.init({}));
  assert.deepEqual(widgetErrors(p.consoleErrors), ['consentry: init was already called; call reset() to ask again']);
  assert.deepEqual(p.pageErrors, []);
});

test('a handover that fails to load the wasm (offline) is tried again on the next click', T, async (t) => {
  const p = await returningPage(t);
  const { page } = p;
  await page.route(BASE + '/consentry-core_bg.wasm', (route) => route.abort());
  const reopen = page.getByRole('button', { name: 'Privacy settings' });
  await reopen.click();
  for (let i = 0; i < 50 && widgetErrors(p.consoleErrors).length === 0; i++) await page.waitForTimeout(100);
  assert.equal(widgetErrors(p.consoleErrors).length, 1, 'the failure is said once');
  assert.equal(await preferences(page).count(), 0);
  await page.unroute(BASE + '/consentry-core_bg.wasm');
  await reopen.click();
  await preferences(page).waitFor({ state: 'visible' });
});
