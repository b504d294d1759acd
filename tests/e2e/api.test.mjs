// The JS API a landing-page builder drives: window.consentry and the DOM events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, LANDING_CONFIG, banner, preferences, openBanner, consentCookie, waitInPage, waitReady, events, settle,
} from './helpers.mjs';

const newPage = useBrowser();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

test('consentry:ready fires once and getConsent() is null before any choice', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  const ready = await events(page, 'consentry:ready');
  assert.equal(ready.length, 1, 'one ready event');
  assert.equal(ready[0].detail, null, 'ready detail is the (absent) consent');
  assert.equal(await page.evaluate(() => window.consentry.getConsent()), null);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('analytics')), false);
  const api = await page.evaluate(() =>
    ['show', 'showPreferences', 'acceptAll', 'rejectAll', 'acceptCategories', 'getConsent', 'isGranted', 'on', 'reset',
      'setLanguage', 'acceptedService', 'hide', 'hidePreferences', 'validConsent', 'getConfig', 'getUserPreferences',
      'eraseCookies', 'loadScript']
      .filter((f) => typeof window.consentry[f] !== 'function'),
  );
  assert.deepEqual(api, [], 'every documented function exists');
});

test('acceptCategories grants exactly the listed categories', T, async (t) => {
  const { page, context } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => window.consentry.isGranted('analytics') === true);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('marketing')), false);
  await banner(page).waitFor({ state: 'hidden' });
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true);

  const consent = await page.evaluate(() => window.consentry.getConsent());
  assert.deepEqual([...consent.categories].sort(), ['analytics', 'necessary']);
  assert.equal(consent.revision, LANDING_CONFIG.revision);
  assert.match(consent.givenAt, ISO);
  assert.match(consent.expiresAt, ISO);
  const days = (Date.parse(consent.expiresAt) - Date.parse(consent.givenAt)) / 86400000;
  assert.ok(days > 180 && days < 185, `expires in about 6 months (${days.toFixed(1)} days)`);
  const cookie = await consentCookie(context);
  assert.equal(consent.receiptId, cookie.id, 'the same receipt id as the cookie');

  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.action, 'grant');
  assert.equal(change?.method, 'api');
  assert.deepEqual(change?.granted, ['analytics']);
});

test('on("change") calls back on every change until unsubscribed', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  await page.evaluate(() => {
    window.__calls = [];
    window.__off = window.consentry.on('change', (detail) => window.__calls.push(detail?.action ?? 'called'));
  });
  assert.equal(await page.evaluate(() => typeof window.__off), 'function', 'on() returns an unsubscribe function');
  await page.evaluate(() => window.consentry.acceptAll());
  await waitInPage(page, () => window.__calls.length === 1);
  await page.evaluate(() => window.__off());
  await page.evaluate(() => window.consentry.rejectAll());
  await waitInPage(page, () => window.consentry.isGranted('analytics') === false);
  await settle(page, 300);
  assert.equal(await page.evaluate(() => window.__calls.length), 1, 'not called after unsubscribing');
  assert.equal((await events(page, 'consentry:change')).length, 2, 'the DOM event still fires for both');
});

test('reset() forgets the choice and shows the banner again', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  await b.waitFor({ state: 'hidden' });
  await page.evaluate(() => window.consentry.reset());
  await b.waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => window.consentry.getConsent()), null);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('analytics')), false);
  assert.equal(await consentCookie(context), null, 'the consentry cookie is gone');
});

test('showPreferences() opens the preferences dialog, show() the banner', T, async (t) => {
  const { page } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  await b.waitFor({ state: 'hidden' });
  await page.evaluate(() => window.consentry.showPreferences());
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  await page.evaluate(() => window.consentry.show());
  await b.waitFor({ state: 'visible' });
});

test('strictly necessary counts as granted even before a choice', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('necessary')), true);
});

test('every choice is identified by a receipt id, in the cookie and in getConsent()', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  await b.waitFor({ state: 'hidden' });
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const cookie = await consentCookie(context);
  assert.match(cookie?.id ?? '', UUID, `receipt id in the cookie: ${cookie?.raw}`);
  assert.equal(await page.evaluate(() => window.consentry.getConsent().receiptId), cookie.id);
  const first = cookie.id;
  await page.evaluate(() => window.consentry.rejectAll());
  await waitInPage(page, () => window.consentry.isGranted('analytics') === false);
  const next = await consentCookie(context);
  assert.match(next.id ?? '', UUID);
  assert.notEqual(next.id, first, 'a withdrawal is a new receipt');
});

test('the API vanilla-cookieconsent users know: hide, hidePreferences, validConsent, getConfig, getUserPreferences', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  const before = await page.evaluate(() => ({
    valid: window.consentry.validConsent(),
    prefs: window.consentry.getUserPreferences(),
    config: window.consentry.getConfig(),
    frozen: Object.isFrozen(window.consentry.getConfig().categories[0]),
  }));
  assert.equal(before.valid, false);
  assert.deepEqual(before.prefs, {
    acceptType: null, acceptedCategories: ['necessary'], rejectedCategories: ['analytics', 'marketing'],
    acceptedServices: { necessary: [], analytics: [], marketing: [] },
    rejectedServices: { necessary: [], analytics: [], marketing: [] },
  });
  assert.equal(before.config.id, LANDING_CONFIG.id);
  assert.equal(before.frozen, true, 'getConfig() is read-only');

  await page.evaluate(() => window.consentry.hide());
  await banner(page).waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => window.consentry.validConsent()), false, 'hiding is no choice');
  await page.evaluate(() => window.consentry.showPreferences());
  await preferences(page).waitFor();
  await page.evaluate(() => window.consentry.hidePreferences());
  await preferences(page).waitFor({ state: 'detached' });

  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  const after = await page.evaluate(() => ({ valid: window.consentry.validConsent(), prefs: window.consentry.getUserPreferences() }));
  assert.equal(after.valid, true);
  assert.equal(after.prefs.acceptType, 'custom');
  assert.deepEqual(after.prefs.acceptedCategories, ['necessary', 'analytics']);
  await page.evaluate(() => window.consentry.acceptAll());
  assert.equal(await page.evaluate(() => window.consentry.getUserPreferences().acceptType), 'all');
  await page.evaluate(() => window.consentry.rejectAll());
  assert.equal(await page.evaluate(() => window.consentry.getUserPreferences().acceptType), 'necessary');
});

test('eraseCookies, loadScript, and on("ready") and on("form")', T, async (t) => {
  const { page, context } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  await page.evaluate(() => {
    document.cookie = 'tracker_a=1;path=/';
    document.cookie = 'tracker_b=1;path=/';
    document.cookie = 'keep_me=1;path=/';
    window.consentry.eraseCookies(/^tracker_/);
  });
  let names = (await context.cookies()).map((c) => c.name);
  assert.ok(!names.includes('tracker_a') && !names.includes('tracker_b') && names.includes('keep_me'), names.join());
  await page.evaluate(() => window.consentry.eraseCookies('keep_me'));
  names = (await context.cookies()).map((c) => c.name);
  assert.ok(!names.includes('keep_me'), names.join());

  const loaded = await page.evaluate(async () => {
    const url = URL.createObjectURL(new Blob(['window.loadedByApi = (window.loadedByApi || 0) + 1'], { type: 'text/javascript' }));
    await window.consentry.loadScript(url, { 'data-test': 'yes' });
    const failed = await window.consentry.loadScript('/no-such-script.js').then(() => 'loaded', (e) => e.message);
    return { ran: window.loadedByApi, attribute: document.querySelector('script[data-test="yes"]') !== null, failed };
  });
  assert.deepEqual(loaded, { ran: 1, attribute: true, failed: 'consentry: loadScript could not load /no-such-script.js' });

  // `ready` was said before this subscription: it still hears it, once.
  const ready = await page.evaluate(() => new Promise((resolve) => {
    window.consentry.on('ready', (detail) => resolve({ detail }));
  }));
  assert.deepEqual(ready, { detail: null });
  await page.evaluate(() => {
    window.forms = [];
    window.consentry.on('form', (d) => window.forms.push(d.purposes.map((p) => p.id)));
  });
  const spec = LANDING_CONFIG.forms[0];
  const form = page.locator(spec.selector);
  await form.locator('.consentry-form-consent').waitFor();
  await form.getByRole('textbox', { name: 'Email address' }).fill('reader@example.com');
  await form.getByRole('checkbox', { name: spec.purposes[0].label, exact: true }).check();
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await waitInPage(page, () => window.forms.length > 0);
  assert.deepEqual(await page.evaluate(() => window.forms), [spec.purposes.map((p) => p.id)]);
});
