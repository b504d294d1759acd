// Consent per service: a category may list services, each with its own
// toggle under the category in the dialog; `data-service` content needs that
// service; a refused service's cookies go; the receipt and the notice hold
// every service; an embed's button grants its one service.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, banner, preferences, waitInPage, landingConfig, widgetErrors, storedReceipt, payloadOf,
  cookieNames,
} from './helpers.mjs';

const newPage = useBrowser();

const PAGE = '/services.html';
const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Services</title>
<script type="text/plain" data-category="marketing" data-service="youtube">(window.ran = window.ran || []).push('youtube')</script>
<script type="text/plain" data-category="marketing" data-service="adnet">(window.ran = window.ran || []).push('adnet')</script>
<script type="text/plain" data-category="marketing">(window.ran = window.ran || []).push('marketing')</script>
<script src="/consentry.js" data-config="/services.config.json" defer></script>
</head><body><main><h1>Services</h1><p><a href="#" data-consentry-open>Cookie settings</a></p>
<iframe data-category="marketing" data-service="youtube" data-src="/embed/video.html" title="Clip" width="320" height="180"></iframe>
</main></body></html>`;

function servicesConfig() {
  const config = { ...landingConfig(), forms: undefined };
  const marketing = config.categories.find((c) => c.id === 'marketing');
  marketing.services = [
    { id: 'youtube', name: 'YouTube', provider: 'Google Ireland', purpose: 'Plays the product videos.',
      cookies: [{ name: 'yt_pref', provider: 'Google', purpose: 'Player settings', duration: '8 months' }] },
    { id: 'adnet', name: 'AdNet', provider: 'AdNet Ltd', purpose: 'Measures our ads.',
      cookies: [{ name: 'adnet_id', provider: 'AdNet', purpose: 'Ad measurement', duration: '1 year' }] },
  ];
  return config;
}

async function servicesPage(t) {
  const p = await newPage(t);
  await p.page.route(BASE + PAGE, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await p.page.route(BASE + '/services.config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(servicesConfig()) }));
  return p;
}

const boxes = (dialog) => dialog.locator('input[type=checkbox]').evaluateAll((list) =>
  list.map((b) => [b.getAttribute('data-category'), b.checked, b.indeterminate]));

test('one service of a category: its content runs, the rest stays blocked, its refused sibling loses its cookies', T, async (t) => {
  const p = await servicesPage(t);
  const { page, context } = p;
  await page.goto(BASE + PAGE);
  await banner(page).getByRole('button', { name: 'Customize' }).click();
  const dialog = preferences(page);
  assert.deepEqual(await boxes(dialog), [
    ['necessary', true, false], ['analytics', false, false], ['marketing', false, false],
    ['youtube', false, false], ['adnet', false, false],
  ], 'every service starts unchecked, under its category');
  await dialog.getByRole('checkbox', { name: 'YouTube', exact: true }).check();
  assert.deepEqual((await boxes(dialog)).slice(2), [
    ['marketing', false, true], ['youtube', true, false], ['adnet', false, false],
  ], 'some services on: the category shows mixed');
  await dialog.getByRole('button', { name: 'Save choices' }).click();

  await waitInPage(page, () => document.querySelector('iframe').getAttribute('src') !== null);
  const state = await page.evaluate(() => ({
    ran: window.ran,
    youtube: window.consentry.acceptedService('youtube'),
    youtubeOfMarketing: window.consentry.acceptedService('youtube', 'marketing'),
    youtubeOfAnalytics: window.consentry.acceptedService('youtube', 'analytics'),
    adnet: window.consentry.acceptedService('adnet'),
    marketing: window.consentry.isGranted('marketing'),
    categories: window.consentry.getConsent().categories,
  }));
  assert.deepEqual(state, {
    ran: ['youtube'], youtube: true, youtubeOfMarketing: true, youtubeOfAnalytics: false, adnet: false,
    marketing: false, categories: ['necessary', 'youtube'],
  });
  // The receipt has every service, granted or refused, and the notice the
  // texts they were shown with.
  const id = await page.evaluate(() => window.consentry.getConsent().receiptId);
  const receipt = payloadOf((await storedReceipt(id)).jws);
  const purposes = Object.fromEntries(receipt.purposes.map((x) => [x.id, x.granted]));
  assert.deepEqual(purposes, { necessary: true, analytics: false, marketing: false, youtube: true, adnet: false });
  const notice = await (await fetch(`${BASE}/v1/notices/${receipt.notice.sha256}`)).json();
  const youtube = notice.categories.find((c) => c.id === 'youtube');
  assert.deepEqual(
    [youtube.title, youtube.description, youtube.provider, youtube.service_of],
    ['YouTube', 'Plays the product videos.', 'Google Ireland', 'marketing'],
  );

  // The category's toggle sets all of its services.
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await dialog.getByRole('checkbox', { name: /^Marketing/ }).check();
  assert.deepEqual((await boxes(dialog)).slice(2), [
    ['marketing', true, false], ['youtube', true, false], ['adnet', true, false],
  ]);
  await dialog.getByRole('button', { name: 'Save choices' }).click();
  await waitInPage(page, () => window.ran.length === 3);
  assert.deepEqual(await page.evaluate(() => window.ran), ['youtube', 'adnet', 'marketing']);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('marketing')), true);

  // Refusing one service again deletes its cookies, not its sibling's.
  await context.addCookies([
    { name: 'adnet_id', value: '1', url: BASE },
    { name: 'yt_pref', value: '1', url: BASE },
  ]);
  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await dialog.getByRole('checkbox', { name: 'AdNet', exact: true }).uncheck();
  assert.deepEqual((await boxes(dialog)).slice(2, 3), [['marketing', false, true]]);
  await dialog.getByRole('button', { name: 'Save choices' }).click();
  await waitInPage(page, () => !window.consentry.acceptedService('adnet'));
  const names = await cookieNames(context);
  assert.ok(!names.includes('adnet_id'), 'the refused service\'s cookie is deleted');
  assert.ok(names.includes('yt_pref'), 'the granted service\'s cookie stays');
  assert.equal(await page.evaluate(() => window.consentry.isGranted('marketing')), false);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('an embed\'s button grants its one service, named by the service\'s provider; a returning visit keeps it without the wasm', T, async (t) => {
  const p = await servicesPage(t);
  const { page } = p;
  const fetched = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto(BASE + PAGE);
  const holder = page.locator('.consentry-embed-placeholder');
  await holder.waitFor();
  assert.match(await holder.innerText(), /Google Ireland/);
  assert.match(await holder.innerText(), /YouTube/);
  await holder.getByRole('button', { name: 'Allow and load' }).click();
  await waitInPage(page, () => document.querySelector('iframe').getAttribute('src') !== null);
  const consent = await page.evaluate(() => window.consentry.getConsent());
  assert.deepEqual(consent.categories, ['necessary', 'youtube']);
  const receipt = payloadOf((await storedReceipt(consent.receiptId)).jws);
  assert.equal(receipt.method, 'placeholder');
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));

  fetched.length = 0;
  await page.reload();
  await waitInPage(page, () => document.querySelector('iframe').getAttribute('src') !== null);
  const back = await page.evaluate(() => ({
    ran: window.ran, youtube: window.consentry.acceptedService('youtube', 'marketing'),
    adnet: window.consentry.acceptedService('adnet'),
  }));
  assert.deepEqual(back, { ran: ['youtube'], youtube: true, adnet: false });
  assert.ok(!fetched.some((f) => /consentry-core/.test(f)), `the core alone: ${fetched.join(', ')}`);
});
