// The second layer: granular, informed choices, keyboard-usable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, LANDING_CONFIG, banner, preferences, openBanner, openPreferencesFromBanner,
  consentCookie, gatedState, waitInPage, settle, hasFocus, deepActiveElement, ANALYTICS_ON, events,
} from './helpers.mjs';

const newPage = useBrowser();

test('closing the preferences without choosing is not consent', T, async (t) => {
  const { page, context } = await newPage(t);
  await openBanner(page);
  const dlg = await openPreferencesFromBanner(page);
  assert.equal(await dlg.getAttribute('aria-modal'), 'true');
  await dlg.getByRole('button', { name: 'Close' }).click();
  await dlg.waitFor({ state: 'hidden' });
  await banner(page).waitFor({ state: 'visible' });
  await settle(page);
  assert.equal(await consentCookie(context), null, 'no cookie written');
  assert.equal((await gatedState(page)).analytics, undefined);
  assert.equal((await events(page, 'consentry:change')).length, 0, 'no change event');
});

test('every optional category starts unchecked; strictly necessary is always on', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  const dlg = await openPreferencesFromBanner(page);

  for (const cat of LANDING_CONFIG.categories) {
    const box = dlg.getByRole('checkbox', { name: cat.title, exact: true });
    assert.equal(await box.count(), 1, `one checkbox named "${cat.title}"`);
    if (cat.necessary) {
      assert.equal(await box.isChecked(), true, `${cat.title} is checked`);
      assert.equal(await box.isDisabled(), true, `${cat.title} cannot be toggled`);
    } else {
      assert.equal(await box.isChecked(), false, `${cat.title} starts unchecked`);
      assert.equal(await box.isEnabled(), true, `${cat.title} can be toggled`);
    }
  }
  assert.equal(await dlg.getByRole('checkbox').count(), LANDING_CONFIG.categories.length, 'one checkbox per category');
  await dlg.getByText('Always on').first().waitFor({ state: 'visible' });

  for (const name of ['Reject all', 'Accept all', 'Save choices']) {
    assert.ok(await dlg.getByRole('button', { name, exact: true }).isVisible(), `"${name}" in the dialog`);
  }
  const policy = dlg.getByRole('link', { name: 'Privacy policy' });
  assert.equal(await policy.getAttribute('href'), LANDING_CONFIG.privacyPolicyUrl);
});

test('each category lists its cookies in a table of name, provider, purpose and duration', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  const dlg = await openPreferencesFromBanner(page);

  const tables = dlg.getByRole('table');
  const withCookies = LANDING_CONFIG.categories.filter((c) => c.cookies?.length);
  assert.equal(await tables.count(), withCookies.length, 'one table per category with cookies');
  for (let i = 0; i < withCookies.length; i++) {
    const table = tables.nth(i);
    const headers = (await table.getByRole('columnheader').allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(headers, ['Name', 'Provider', 'Purpose', 'Duration'], `table ${i} headers`);
    const text = await table.innerText();
    for (const cookie of withCookies[i].cookies) {
      for (const field of ['name', 'provider', 'purpose', 'duration']) {
        assert.ok(text.includes(cookie[field]), `table ${i} shows ${field} "${cookie[field]}"`);
      }
    }
  }
});

test('turning on only Analytics and saving grants analytics and nothing else', T, async (t) => {
  const { page, context } = await newPage(t);
  await openBanner(page);
  const dlg = await openPreferencesFromBanner(page);
  await dlg.getByRole('checkbox', { name: 'Analytics', exact: true }).check();
  await dlg.getByRole('button', { name: 'Save choices', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });
  await banner(page).waitFor({ state: 'hidden' });

  await waitInPage(page, () => window.acmeAnalyticsLoaded === true);
  await settle(page);
  const state = await gatedState(page);
  assert.equal(state.status, ANALYTICS_ON);
  assert.equal(state.ads, undefined, 'marketing script not run');
  assert.equal(state.iframeSrc, null, 'video not loaded');
  const cookie = await consentCookie(context);
  assert.deepEqual([...cookie.c].sort(), ['analytics', 'necessary'], `stored: ${cookie.raw}`);
  const change = (await events(page, 'consentry:change')).at(-1)?.detail;
  assert.equal(change?.method, 'save_preferences');
  assert.equal(change?.action, 'grant');

  // Reopening shows the stored choice.
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const again = preferences(page);
  await again.waitFor({ state: 'visible' });
  assert.equal(await again.getByRole('checkbox', { name: 'Analytics', exact: true }).isChecked(), true);
  assert.equal(await again.getByRole('checkbox', { name: 'Marketing and embedded media', exact: true }).isChecked(), false);
});

test('Escape closes the preferences and focus returns to the button that opened them', T, async (t) => {
  const { page } = await newPage(t);
  const b = await openBanner(page);
  const customize = b.getByRole('button', { name: 'Customize', exact: true });
  await customize.focus();
  await page.keyboard.press('Enter');
  const dlg = preferences(page);
  await dlg.waitFor({ state: 'visible' });
  assert.ok(
    await dlg.evaluate((el) => {
      let deep = document.activeElement;
      while (deep?.shadowRoot?.activeElement) deep = deep.shadowRoot.activeElement;
      return el.contains(deep);
    }),
    `focus moves into the dialog, got ${JSON.stringify(await deepActiveElement(page))}`,
  );
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  await b.waitFor({ state: 'visible' });
  assert.ok(await hasFocus(customize), `focus back on "Customize", got ${JSON.stringify(await deepActiveElement(page))}`);
});

test('keyboard focus is trapped inside the preferences dialog', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  const dlg = await openPreferencesFromBanner(page);

  // The dialog's tabbable controls, in tree order.
  const count = await dlg.evaluate((dialog) => {
    const sel = 'a[href], summary, button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
    const list = [...dialog.querySelectorAll(sel)].filter(
      (el) => el.tabIndex >= 0 && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden',
    );
    window.__tabbables = list;
    return list.length;
  });
  assert.ok(count >= 5, `the dialog has its controls (found ${count})`);
  const focusedIndex = () =>
    page.evaluate(() => {
      let deep = document.activeElement;
      while (deep?.shadowRoot?.activeElement) deep = deep.shadowRoot.activeElement;
      return window.__tabbables.indexOf(deep);
    });

  await page.evaluate(() => window.__tabbables.at(-1).focus());
  await page.keyboard.press('Tab');
  assert.equal(await focusedIndex(), 0, `Tab from the last control goes to the first, got ${JSON.stringify(await deepActiveElement(page))}`);
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focusedIndex(), count - 1, `Shift+Tab from the first goes to the last, got ${JSON.stringify(await deepActiveElement(page))}`);

  // A full round never leaves the dialog.
  for (let i = 0; i < count + 2; i++) {
    await page.keyboard.press('Tab');
    assert.notEqual(await focusedIndex(), -1, `Tab #${i + 1} stays in the dialog, got ${JSON.stringify(await deepActiveElement(page))}`);
  }
});
