// Gated scripts and embeds, and which stored choices count.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, banner, openBanner, consentCookie, gatedState, waitInPage, waitReady, settle,
  storedConsentCookie, acmeCookies, ANALYTICS_ON, ANALYTICS_WAITING, events, storedReceipt, payloadOf,
} from './helpers.mjs';

const newPage = useBrowser();
const VIDEO = 'iframe[title="Product tour video"]';

test('the video placeholder names its provider and "Allow and load" loads it', T, async (t) => {
  const { page, context, pageErrors } = await newPage(t);
  await openBanner(page);

  const placeholder = page.locator('.consentry-embed-placeholder');
  await placeholder.waitFor({ state: 'visible' });
  const text = await placeholder.innerText();
  assert.ok(text.includes('VideoHost'), `placeholder names the provider: ${JSON.stringify(text)}`);
  assert.ok(/marketing/i.test(text), `placeholder names the category: ${JSON.stringify(text)}`);
  assert.equal(await page.locator(VIDEO).getAttribute('src'), null);
  const placedBefore = await page.locator(VIDEO).evaluate(
    (iframe) => iframe.previousElementSibling?.classList.contains('consentry-embed-placeholder') ?? false,
  );
  assert.ok(placedBefore, 'the placeholder sits right before the iframe');

  await placeholder.getByRole('button', { name: 'Allow and load' }).click();
  await waitInPage(page, (sel) => document.querySelector(sel)?.getAttribute('src'), VIDEO);
  assert.ok((await page.locator(VIDEO).getAttribute('src')).endsWith('/embed/video.html'));
  assert.equal(await page.evaluate(() => window.consentry.isGranted('marketing')), true);
  const cookie = await consentCookie(context);
  assert.ok(cookie?.c.includes('marketing'), `marketing stored: ${cookie?.raw}`);
  assert.ok(!cookie.c.includes('analytics'), 'only the embed\'s category was granted');
  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.method, 'placeholder', 'the embed button is its own method');
  assert.deepEqual(change?.granted, ['marketing']);
  // And so says the receipt the collector keeps.
  assert.equal(payloadOf((await storedReceipt(cookie.id)).jws).method, 'placeholder');

  // The player itself is there and usable.
  const player = page.frameLocator(VIDEO);
  await player.getByRole('button', { name: 'Play video' }).click();
  await player.getByRole('button', { name: 'Pause' }).waitFor();
  assert.equal(await page.locator('.consentry-embed-placeholder').isVisible(), false, 'placeholder out of the way');
  assert.deepEqual(pageErrors, []);
});

test('an embed without data-provider is named by the host it would load from, in the page\'s language', T, async (t) => {
  const { page } = await newPage(t);
  const html = `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Embed</title>
<script src="/consentry.js" data-config="/embed.config.json" defer></script></head><body><main>
<iframe data-category="marketing" data-src="https://player.video.example/embed/1" title="Clip"></iframe></main></body></html>`;
  const config = { id: 'acme-landing', privacyPolicyUrl: '/privacy.html',
    categories: [{ id: 'necessary', title: 'Necessary', necessary: true }, { id: 'marketing', title: 'Marketing' }] };
  await page.route(BASE + '/embed-test.html', (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.route(BASE + '/embed.config.json', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(config) }));
  await page.goto(BASE + '/embed-test.html');
  const placeholder = page.locator('.consentry-embed-placeholder');
  await placeholder.waitFor({ state: 'visible' });
  const text = await placeholder.innerText();
  assert.ok(text.includes('player.video.example'), `names the host: ${JSON.stringify(text)}`);
  assert.ok(!/third party|This content/.test(text), `and says it in French: ${JSON.stringify(text)}`);
});

test('the marketing script runs only once per page, even when granted twice', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await page.evaluate(() => {
    window.__adsRuns = 0;
    const orig = Object.getOwnPropertyDescriptor(window, 'acmeAdsLoaded');
    if (!orig) {
      Object.defineProperty(window, 'acmeAdsLoaded', {
        configurable: true,
        get() { return window.__adsValue; },
        set(v) { window.__adsRuns++; window.__adsValue = v; },
      });
    }
  });
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.__adsRuns >= 1);
  await page.evaluate(() => window.consentry.acceptAll());
  await page.evaluate(() => window.consentry.acceptCategories(['marketing']));
  await settle(page);
  assert.equal(await page.evaluate(() => window.__adsRuns), 1);
});

test('a stored choice of the current revision is applied without asking', T, async (t) => {
  const { page, context } = await newPage(t);
  await context.addCookies([storedConsentCookie({ c: ['necessary', 'analytics'] })]);
  await page.goto(BASE + '/', { waitUntil: 'load' });
  await waitReady(page);
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true);
  await settle(page);
  assert.equal(await banner(page).count(), 0, 'no banner');
  const state = await gatedState(page);
  assert.equal(state.status, ANALYTICS_ON);
  assert.equal(state.ads, undefined);
  assert.equal(state.iframeSrc, null);
  const ready = (await events(page, 'consentry:ready'))[0]?.detail;
  assert.deepEqual([...(ready?.categories ?? [])].sort(), ['analytics', 'necessary'], 'ready carries the stored consent');
});

test('a choice made under an older policy revision asks again and is not applied', T, async (t) => {
  const { page, context } = await newPage(t);
  await context.addCookies([storedConsentCookie({ r: 0, c: ['necessary', 'analytics', 'marketing'] })]);
  await openBanner(page);
  await waitReady(page);
  await settle(page);
  const state = await gatedState(page);
  assert.equal(state.analytics, undefined, 'stale consent does not run analytics');
  assert.equal(state.ads, undefined);
  assert.equal(state.status, ANALYTICS_WAITING);
  assert.equal(await page.evaluate(() => window.consentry.getConsent()), null);
});

test('an expired choice asks again', T, async (t) => {
  const { page, context } = await newPage(t);
  const now = Math.floor(Date.now() / 1000);
  await context.addCookies([
    storedConsentCookie({ t: now - 200 * 86400, e: now - 3600, c: ['necessary', 'analytics', 'marketing'] }),
  ]);
  await openBanner(page);
  await waitReady(page);
  await settle(page);
  assert.equal((await gatedState(page)).analytics, undefined, 'expired consent does not run analytics');
  assert.equal(await page.evaluate(() => window.consentry.getConsent()), null);
});

test('a malformed consent cookie asks again without breaking the page', T, async (t) => {
  const { page, context, pageErrors } = await newPage(t);
  await context.addCookies([storedConsentCookie({ value: 'v=9&r=banana&c=%%%&&e=-' })]);
  await openBanner(page);
  await waitReady(page);
  await settle(page);
  assert.equal((await gatedState(page)).analytics, undefined);
  assert.deepEqual(pageErrors, []);
  // And the visitor can still answer.
  await banner(page).getByRole('button', { name: 'Reject all', exact: true }).click();
  await banner(page).waitFor({ state: 'hidden' });
  const cookie = await consentCookie(context);
  assert.deepEqual(cookie?.c, ['necessary']);
  assert.equal(cookie?.v, 1);
  assert.deepEqual(await acmeCookies(context), []);
});
