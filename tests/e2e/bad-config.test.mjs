// A broken config tells the site owner exactly which field to fix, and the
// page keeps working with everything optional still blocked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, banner, landingConfig, gatedState, settle, widgetErrors, acmeCookies, ANALYTICS_WAITING,
  ACTION_TIMEOUT, waitInPage, waitReady,
} from './helpers.mjs';

const newPage = useBrowser();
const THANKS = 'Thanks! Check your inbox to confirm.';

/** Loads the landing page with the config replaced by `body` (an object is sent as JSON). */
async function loadWithConfig(t, body, { status = 200 } = {}) {
  const ctx = await newPage(t);
  const { page } = ctx;
  await page.route('**/consentry.config.json', (route) =>
    route.fulfill({
      status,
      contentType: 'application/json',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  const firstError = page
    .waitForEvent('console', { predicate: (m) => m.type() === 'error' && m.text().startsWith('consentry:'), timeout: ACTION_TIMEOUT })
    .catch(() => null);
  await page.goto(BASE + '/', { waitUntil: 'load' });
  await firstError;
  await settle(page, 600); // anything else the widget would do, it has done by now
  return ctx;
}

/** The widget refused the config: one clear error, no banner, nothing gated released, page intact. */
async function assertRefused(ctx, ...needles) {
  const { page, context, consoleErrors, pageErrors } = ctx;
  const errors = widgetErrors(consoleErrors);
  assert.equal(errors.length, 1, `exactly one consentry error, got ${JSON.stringify(consoleErrors)}`);
  for (const needle of needles) {
    assert.ok(errors[0].includes(needle), `error names ${JSON.stringify(needle)}: ${JSON.stringify(errors[0])}`);
  }
  assert.deepEqual(pageErrors, [], 'no uncaught exception reaches the page');
  assert.equal(await banner(page).count(), 0, 'no banner');
  const state = await gatedState(page);
  assert.equal(state.analytics, undefined, 'analytics stays blocked');
  assert.equal(state.ads, undefined, 'marketing stays blocked');
  assert.equal(state.iframeSrc, null, 'video stays blocked');
  assert.equal(state.status, ANALYTICS_WAITING, 'no "!analytics" script either: nobody refused');
  assert.deepEqual(await acmeCookies(context), []);
  return errors[0];
}

test('a duplicate category id is named by its path; the page and its form keep working', T, async (t) => {
  const config = landingConfig();
  config.categories[2].id = config.categories[1].id;
  const ctx = await loadWithConfig(t, config);
  const error = await assertRefused(ctx, 'config.categories[2].id', 'duplicate');
  assert.ok(error.startsWith('consentry: config.categories[2].id:'), error);
  assert.equal(ctx.consoleErrors.length, 1, `no other console error: ${JSON.stringify(ctx.consoleErrors)}`);

  const { page } = ctx;
  const form = page.locator('#newsletter-form');
  assert.equal(await form.getByRole('checkbox').count(), 0, 'no consent checkboxes from a refused config');
  await form.getByRole('textbox', { name: 'Email address' }).fill('reader@example.com');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await waitInPage(page, (thanks) => document.getElementById('newsletter-status')?.textContent === thanks, THANKS);
});

test('a javascript: privacy policy URL is refused', T, async (t) => {
  const config = landingConfig();
  config.privacyPolicyUrl = 'javascript:alert(1)';
  await assertRefused(await loadWithConfig(t, config), 'config.privacyPolicyUrl');
});

test('a consent lifetime above 13 months is refused', T, async (t) => {
  const config = landingConfig();
  config.lifetimeMonths = 14;
  await assertRefused(await loadWithConfig(t, config), 'config.lifetimeMonths');
});

test('an unknown field is named', T, async (t) => {
  const config = landingConfig();
  config.colour = 'red';
  await assertRefused(await loadWithConfig(t, config), 'colour');
});

test('a field of the wrong type is named', T, async (t) => {
  const config = landingConfig();
  config.revision = 'two';
  await assertRefused(await loadWithConfig(t, config), 'revision');
});

test('a missing privacy policy URL is named', T, async (t) => {
  const config = landingConfig();
  delete config.privacyPolicyUrl;
  await assertRefused(await loadWithConfig(t, config), 'privacyPolicyUrl');
});

// A selector that matches no form on this page is no error (one config
// serves every page: tests/e2e/forms.test.mjs); one that is not CSS, or
// that matches something else than a form, is.
test('a form selector that is not valid CSS, or matches no <form>, is reported, and the banner still works', T, async (t) => {
  const config = landingConfig();
  config.forms[0].selector = 'form[';
  config.forms.push({ selector: 'main', purposes: [{ id: 'offers', label: 'Send me offers' }] });
  const { page, consoleErrors, pageErrors } = await loadWithConfig(t, config);
  const errors = widgetErrors(consoleErrors);
  assert.deepEqual(errors, [
    'consentry: config.forms[0].selector: is not a valid CSS selector',
    'consentry: config.forms[1].selector: must match a <form> element',
  ]);
  assert.deepEqual(pageErrors, []);
  await waitReady(page);
  const b = banner(page);
  await b.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#newsletter-form').getByRole('checkbox').count(), 0);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true);
});

test('invalid JSON is reported', T, async (t) => {
  const ctx = await loadWithConfig(t, '{"id": "acme-landing", "categories": [');
  await assertRefused(ctx);
});

test('a config that cannot be fetched is reported', T, async (t) => {
  const ctx = await loadWithConfig(t, 'Not found', { status: 404 });
  const { page, consoleErrors, pageErrors } = ctx;
  const errors = widgetErrors(consoleErrors);
  assert.equal(errors.length, 1, `one consentry error, got ${JSON.stringify(consoleErrors)}`);
  assert.deepEqual(pageErrors, []);
  assert.equal(await banner(page).count(), 0);
  assert.equal((await gatedState(page)).analytics, undefined);
});

test('site texts are shown as text, never as HTML', T, async (t) => {
  const config = landingConfig();
  const title = 'Cookies? <img src=x onerror="window.pwned=1"> <b>really</b>';
  config.texts = { bannerTitle: title };
  let imageRequested = false;
  const ctx = await newPage(t);
  const { page, pageErrors } = ctx;
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/x') imageRequested = true;
  });
  await page.route('**/consentry.config.json', (route) =>
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(config) }),
  );
  await page.goto(BASE + '/', { waitUntil: 'load' });
  const b = page.getByRole('dialog', { name: title });
  await b.waitFor({ state: 'visible' });
  assert.ok((await b.innerText()).includes(title), 'the markup is shown literally');
  assert.equal(await b.locator('img, b').count(), 0, 'no element was created from the text');
  await settle(page, 500);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(imageRequested, false, 'no image was requested');
  assert.deepEqual(pageErrors, []);
});
