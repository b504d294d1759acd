// Google Consent Mode v2, Microsoft UET and Microsoft Clarity, read where
// the vendors read them: the `dataLayer` (its `arguments` objects, in
// order), `window.uetq` and Clarity's queue. Before a choice, on Accept
// all, a partial choice, a withdrawal, and on a returning visit (where the
// loader's core says the default alone, without the wasm).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, banner, preferences, waitInPage, waitReady, landingConfig, widgetErrors,
} from './helpers.mjs';

const newPage = useBrowser();

const PAGE = '/vendors.html';
// A Google tag as gtag.js pages carry it, gated as the README says (basic
// mode), and the same for UET and Clarity: each notes that it ran.
const html = (head = '', body = GATED_TAG) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vendors</title>
${head}
${body}
</head><body><main><h1>Vendors</h1><p><a href="#" data-consentry-open>Cookie settings</a></p></main></body></html>`;

const GOOGLE_SNIPPET = `window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', 'tag loaded'); gtag('config', 'G-TEST');`;
const GATED_TAG = `<script type="text/plain" data-category="analytics">${GOOGLE_SNIPPET}</script>
<script src="/consentry.js" data-config="/vendors.config.json" defer></script>`;
// Consent Mode "advanced": the widget's tag first, without defer, then
// Google's tag, ungated.
const UNGATED_TAG = `<script src="/consentry.js" data-config="/vendors.config.json"></script>
<script>${GOOGLE_SNIPPET}</script>`;

const withMicrosoft = () => ({ ...landingConfig(), forms: undefined, microsoft: { uet: true, clarity: true } });

async function vendorPage(t, { config = withMicrosoft(), head = '', body = GATED_TAG } = {}) {
  const p = await newPage(t);
  p.fetched = [];
  p.page.on('request', (r) => p.fetched.push(new URL(r.url()).pathname));
  await p.page.route(BASE + PAGE, (route) => route.fulfill({ contentType: 'text/html', body: html(head, body) }));
  await p.page.route(BASE + '/vendors.config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(config) }));
  return p;
}

/** What each vendor has been told so far, in order. */
function told(page) {
  return page.evaluate(() => ({
    dataLayer: (window.dataLayer || []).map((a) => ({
      // gtag.js reads `arguments` objects only: a plain array is ignored.
      args: Object.prototype.toString.call(a) === '[object Arguments]',
      call: Array.from(a),
    })),
    uetq: window.uetq ? Array.from(window.uetq) : null,
    clarity: window.clarity && window.clarity.q ? window.clarity.q.map((a) => Array.from(a)) : null,
  }));
}

const gtagCalls = (t) => t.dataLayer.map((e) => e.call);
const types = (ad, analytics) => ({
  ad_storage: ad, ad_user_data: ad, ad_personalization: ad, analytics_storage: analytics,
  // The demo has no functional or preferences category: nothing grants them.
  functionality_storage: 'denied', personalization_storage: 'denied', security_storage: 'granted',
});
const DENIED = types('denied', 'denied');
const GRANTED = types('granted', 'granted');
const GOOGLE_TAG = [['js', 'tag loaded'], ['config', 'G-TEST']];

test('before a choice every vendor hears a denied default, and the gated Google tag waits', T, async (t) => {
  const p = await vendorPage(t);
  await p.page.goto(BASE + PAGE);
  await banner(p.page).waitFor();
  const now = await told(p.page);
  assert.ok(now.dataLayer.every((e) => e.args), 'dataLayer holds arguments objects, as gtag() pushes them');
  assert.deepEqual(gtagCalls(now), [['consent', 'default', { ...DENIED, wait_for_update: 500 }]]);
  assert.deepEqual(now.uetq, ['consent', 'default', { ad_storage: 'denied' }]);
  assert.deepEqual(now.clarity, [['consentv2', { ad_Storage: 'denied', analytics_Storage: 'denied' }]]);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('Accept all, a partial choice and a withdrawal each send an update before any tag runs', T, async (t) => {
  const p = await vendorPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.dataLayer.length >= 4);
  let now = await told(page);
  assert.deepEqual(gtagCalls(now), [
    ['consent', 'default', { ...DENIED, wait_for_update: 500 }],
    ['consent', 'update', GRANTED],
    ...GOOGLE_TAG,
  ], 'the update comes before the released Google tag');
  assert.deepEqual(now.uetq.slice(3), ['consent', 'update', { ad_storage: 'granted' }]);
  assert.deepEqual(now.clarity[1], ['consentv2', { ad_Storage: 'granted', analytics_Storage: 'granted' }]);

  // Partial: analytics only.
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  const dialog = preferences(page);
  await dialog.getByRole('checkbox', { name: /Marketing/ }).uncheck();
  await dialog.getByRole('button', { name: 'Save choices' }).click();
  await waitInPage(page, () => window.dataLayer.length >= 5);
  now = await told(page);
  assert.deepEqual(gtagCalls(now)[4], ['consent', 'update', types('denied', 'granted')]);
  assert.deepEqual(now.uetq.slice(6), ['consent', 'update', { ad_storage: 'denied' }]);
  assert.deepEqual(now.clarity[2], ['consentv2', { ad_Storage: 'denied', analytics_Storage: 'granted' }]);

  // Withdrawal: Reject all.
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await preferences(page).getByRole('button', { name: 'Reject all', exact: true }).click();
  await waitInPage(page, () => window.dataLayer.length >= 6);
  now = await told(page);
  assert.deepEqual(gtagCalls(now)[5], ['consent', 'update', DENIED]);
  assert.equal(now.dataLayer.length, 6, 'the Google tag ran once');
  assert.deepEqual(now.uetq.slice(9), ['consent', 'update', { ad_storage: 'denied' }]);
  assert.deepEqual(now.clarity[3], ['consentv2', { ad_Storage: 'denied', analytics_Storage: 'denied' }]);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('a returning visit says a default that already carries the stored choice, before the tag, without the wasm', T, async (t) => {
  const p = await vendorPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  p.fetched.length = 0;
  await page.reload();
  await waitReady(page);
  await waitInPage(page, () => (window.dataLayer || []).length >= 3);
  const now = await told(page);
  assert.ok(!p.fetched.some((f) => /consentry-core/.test(f)), `the core alone: ${p.fetched.join(', ')}`);
  assert.deepEqual(gtagCalls(now), [['consent', 'default', GRANTED], ...GOOGLE_TAG]);
  assert.deepEqual(now.uetq, ['consent', 'default', { ad_storage: 'granted' }]);
  assert.deepEqual(now.clarity, [['consentv2', { ad_Storage: 'granted', analytics_Storage: 'granted' }]]);
});

test('the page\'s own gtag is used, the settings of consentMode are sent, and consentMode false sends nothing', T, async (t) => {
  const config = withMicrosoft();
  config.microsoft = undefined;
  config.consentMode = {
    map: { analytics_storage: ['analytics', 'marketing'] }, region: ['ES', 'US-CA'], waitForUpdate: 800,
    adsDataRedaction: true, urlPassthrough: true,
  };
  const own = '<script>window.dataLayer = []; window.viaPage = 0; function gtag(){ window.viaPage++; dataLayer.push(arguments); }</script>';
  const p = await vendorPage(t, { config, head: own });
  await p.page.goto(BASE + PAGE);
  await banner(p.page).waitFor();
  const now = await told(p.page);
  assert.deepEqual(gtagCalls(now), [
    ['consent', 'default', { ...DENIED, wait_for_update: 800, region: ['ES', 'US-CA'] }],
    ['set', 'ads_data_redaction', true],
    ['set', 'url_passthrough', true],
  ]);
  assert.equal(await p.page.evaluate(() => window.viaPage), 3, 'every call went through the page\'s gtag');
  assert.equal(now.uetq, null, 'UET is off unless the config turns it on');
  await banner(p.page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(p.page, () => window.dataLayer.length >= 4);
  assert.deepEqual(gtagCalls(await told(p.page))[3], ['consent', 'update', GRANTED]);

  const off = withMicrosoft();
  off.microsoft = undefined;
  off.consentMode = false;
  const q = await vendorPage(t, { config: off });
  await q.page.goto(BASE + PAGE);
  await banner(q.page).waitFor();
  assert.deepEqual(await told(q.page), { dataLayer: [], uetq: null, clarity: null }, 'no dataLayer is made');
});

test('advanced mode: from the second view on, the loader says the default before Google\'s ungated tag, once', T, async (t) => {
  const config = withMicrosoft();
  config.microsoft = undefined;
  config.consentMode = { mode: 'advanced' };
  const p = await vendorPage(t, { config, body: UNGATED_TAG });
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).getByRole('button', { name: 'Reject all', exact: true }).click();
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  await page.reload();
  await banner(page).waitFor({ state: 'detached' });
  await waitReady(page);
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await preferences(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.dataLayer.length >= 4);
  await page.waitForTimeout(200);
  assert.deepEqual(gtagCalls(await told(page)), [
    ['consent', 'default', DENIED],
    ...GOOGLE_TAG,
    ['consent', 'update', GRANTED],
  ], 'the stored refusal before the tag, no second default, then the new choice');
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('a page whose gtag throws still gets its gated content released, and the error named', T, async (t) => {
  const config = withMicrosoft();
  config.microsoft = undefined;
  const own = "<script>window.gtag = function () { throw new Error('broken gtag'); };</script>";
  const p = await vendorPage(t, { config, head: own });
  await p.page.goto(BASE + PAGE);
  await banner(p.page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(p.page, () => (window.dataLayer || []).length >= 2);
  assert.deepEqual(gtagCalls(await told(p.page)), GOOGLE_TAG, 'the gated Google tag ran');
  const errors = widgetErrors(p.consoleErrors);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.ok(errors.every((e) => /gtag, uetq or clarity threw while told the choice: broken gtag/.test(e)), errors.join('\n'));
});

test('a bad consentMode is one console error naming the field, and nothing runs', T, async (t) => {
  const config = withMicrosoft();
  config.consentMode = { map: { analytics_storage: ['stats'] } };
  const p = await vendorPage(t, { config });
  await p.page.goto(BASE + PAGE);
  await waitInPage(p.page, () => document.readyState === 'complete');
  await waitInPage(p.page, () => true);
  await p.page.waitForTimeout(300);
  const errors = widgetErrors(p.consoleErrors);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /consentMode\.map\.analytics_storage\[0\]: names no category/);
  assert.deepEqual(await told(p.page), { dataLayer: [], uetq: null, clarity: null });
});
