// Withdrawing is as easy as granting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, banner, preferences, openBanner, consentCookie, waitInPage, acmeCookies, events, hasFocus,
  deepActiveElement, open,
} from './helpers.mjs';

const newPage = useBrowser();
const GATED_COOKIES = ['VISITOR_INFO1_LIVE', 'acme_ads', 'acme_session_1', 'acme_visitor'];

test('after "Accept all", "Privacy settings" then "Reject all" withdraws and deletes the optional cookies', T, async (t) => {
  const { page, context, pageErrors } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true && window.acmeAdsLoaded === true);
  // The video host sets its cookie when the iframe loads.
  await waitInPage(page, () => document.cookie.includes('VISITOR_INFO1_LIVE='));
  assert.deepEqual(await acmeCookies(context), GATED_COOKIES, 'the gated code set its cookies');
  // Another member of the `acme_session_*` family must go too.
  await page.evaluate(() => {
    document.cookie = 'acme_session_2=x; path=/';
  });

  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  assert.equal(await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).isChecked(), true, 'shows the stored grant');
  assert.equal(await dlg.getByRole('checkbox', { name: 'Marketing and embedded media', exact: true }).isChecked(), true);
  await dlg.getByRole('button', { name: 'Reject all', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });

  await waitInPage(page, () => !document.cookie.includes('acme_'));
  assert.deepEqual(await acmeCookies(context), [], 'every cookie of the withdrawn categories is deleted');
  const cookie = await consentCookie(context);
  assert.deepEqual(cookie?.c, ['necessary'], `only necessary remains: ${cookie?.raw}`);

  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.action, 'withdraw');
  assert.equal(change?.method, 'reject_all');
  assert.deepEqual([...(change?.refused ?? [])].sort(), ['analytics', 'marketing']);
  assert.deepEqual(change?.categories, ['necessary']);
  assert.equal(await page.evaluate(() => window.consentry.isGranted('analytics')), false);
  assert.equal(await banner(page).count(), 0, 'a withdrawal is a choice: no banner');
  assert.deepEqual(pageErrors, []);
});

test('the footer "Cookie settings" link opens the preferences, and focus returns to it', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  const link = page.getByRole('contentinfo').getByRole('link', { name: 'Cookie settings' });
  // By keyboard: before a choice the banner may cover the very bottom of the page.
  await link.focus();
  await page.keyboard.press('Enter');
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  assert.ok(!page.url().endsWith('#'), 'the link did not navigate');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  assert.ok(await hasFocus(link), `focus back on the link, got ${JSON.stringify(await deepActiveElement(page))}`);
});

test('the footer link works after a choice too, and changing one category is an update', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  await b.waitFor({ state: 'hidden' });

  await page.getByRole('contentinfo').getByRole('link', { name: 'Cookie settings' }).click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).check();
  await dlg.getByRole('button', { name: 'Save choices', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true);
  const cookie = await consentCookie(context);
  assert.deepEqual([...cookie.c].sort(), ['analytics', 'necessary']);
  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.action, 'update');
  assert.deepEqual(change?.granted, ['analytics']);
});

test('the privacy policy page has the same way back to the settings', T, async (t) => {
  const { page } = await newPage(t);
  await open(page, '/privacy.html');
  await banner(page).waitFor({ state: 'visible' });
  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  // The policy text's own "cookie settings" link opens them as well.
  await page.getByRole('main').getByRole('link', { name: 'cookie settings' }).click();
  await dlg.waitFor({ state: 'visible' });
  assert.equal(await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).isChecked(), true);
});
