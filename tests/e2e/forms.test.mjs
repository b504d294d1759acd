// Consent checkboxes inside the site's own newsletter form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, LANDING_CONFIG, openBanner, waitReady, waitInPage, settle, hasFocus, events, deepActiveElement,
  widgetErrors,
} from './helpers.mjs';

const newPage = useBrowser();
const FORM = LANDING_CONFIG.forms[0];
const [REQUIRED, OPTIONAL] = FORM.purposes;
const THANKS = 'Thanks! Check your inbox to confirm.';
const REQUIRED_MESSAGE = 'Please tick this box to continue.';

async function openForm(t) {
  const ctx = await newPage(t);
  await openBanner(ctx.page);
  await waitReady(ctx.page);
  const form = ctx.page.locator(FORM.selector);
  await form.locator('.consentry-form-consent').waitFor();
  await form.getByRole('textbox', { name: 'Email address' }).fill('reader@example.com');
  return { ...ctx, form };
}

const status = (page) => page.locator('#newsletter-status').innerText();

test('the newsletter form gets one unchecked checkbox per purpose, each with a privacy policy link', T, async (t) => {
  const { page, form } = await openForm(t);
  const boxes = form.getByRole('checkbox');
  assert.equal(await boxes.count(), FORM.purposes.length);
  for (const purpose of FORM.purposes) {
    const box = form.getByRole('checkbox', { name: purpose.label, exact: true });
    assert.equal(await box.count(), 1, `a checkbox labelled "${purpose.label}"`);
    assert.equal(await box.isChecked(), false, `"${purpose.id}" starts unchecked`);
    assert.equal(await box.getAttribute('name'), `consentry_${purpose.id}`);
    assert.equal(await box.getAttribute('value'), 'yes');
    // Walk up from the checkbox to the nearest element holding a "Privacy policy" link: it must be this purpose's own row.
    const row = await box.evaluate((el) => {
      for (let n = el.parentElement; n && !n.matches('form'); n = n.parentElement) {
        const links = [...n.querySelectorAll('a')].filter((a) => a.textContent.trim() === 'Privacy policy');
        if (links.length) {
          return { checkboxes: n.querySelectorAll('input[type=checkbox]').length, href: links[0].getAttribute('href') };
        }
      }
      return null;
    });
    assert.ok(row, `a Privacy policy link next to "${purpose.id}"`);
    assert.equal(row.checkboxes, 1, `the link is in "${purpose.id}"'s own row`);
    assert.equal(row.href, LANDING_CONFIG.privacyPolicyUrl);
  }
  assert.equal(await form.getByRole('link', { name: 'Privacy policy' }).count(), FORM.purposes.length);
  const placedBeforeSubmit = await form.evaluate((f) => {
    const consent = f.querySelector('.consentry-form-consent');
    const submit = f.querySelector('button[type=submit], button:not([type]), input[type=submit]');
    return !!(consent && submit && consent.compareDocumentPosition(submit) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  assert.ok(placedBeforeSubmit, 'the consent block comes before the Subscribe button');
  assert.equal(await page.locator('.consentry-form-consent').count(), 1, 'injected once');
});

test('one config serves every page: a page without the configured form logs no error', T, async (t) => {
  const { page, consoleErrors } = await newPage(t);
  await openBanner(page, '/privacy.html');
  await waitReady(page);
  assert.equal(await page.locator('form').count(), 0, 'the privacy page has no form');
  assert.deepEqual(widgetErrors(consoleErrors), []);
});

test('submitting without the required tick is blocked with a message, and focus goes to the box', T, async (t) => {
  const { page, form } = await openForm(t);
  const url = page.url();
  await form.getByRole('button', { name: 'Subscribe' }).click();

  const alert = form.getByRole('alert').filter({ hasText: REQUIRED_MESSAGE });
  await alert.waitFor({ state: 'visible' });
  const box = form.getByRole('checkbox', { name: REQUIRED.label, exact: true });
  assert.equal(await box.getAttribute('aria-invalid'), 'true');
  assert.ok(await hasFocus(box), `focus on the required box, got ${JSON.stringify(await deepActiveElement(page))}`);
  await settle(page, 300);
  assert.ok(!(await status(page)).includes('Thanks'), 'the form was not sent');
  assert.equal(page.url(), url, 'no navigation');
  assert.equal((await events(page, 'consentry:form')).length, 0, 'no consentry:form event');

  // Ticking only the optional box still does not send it.
  await form.getByRole('checkbox', { name: OPTIONAL.label, exact: true }).check();
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await settle(page, 300);
  assert.ok(!(await status(page)).includes('Thanks'), 'still not sent without the required tick');
});

test('ticking the required box sends the form and reports each purpose', T, async (t) => {
  const { page, form } = await openForm(t);
  // A first blocked attempt, then the fix: the message goes away.
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await form.getByText(REQUIRED_MESSAGE).waitFor({ state: 'visible' });

  await form.getByRole('checkbox', { name: REQUIRED.label, exact: true }).check();
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await waitInPage(page, (thanks) => document.getElementById('newsletter-status')?.textContent === thanks, THANKS);
  await page.getByRole('status').filter({ hasText: THANKS }).waitFor({ state: 'visible' });
  assert.equal(await form.getByText(REQUIRED_MESSAGE).isVisible(), false, 'the message is gone');
  assert.notEqual(
    await form.getByRole('checkbox', { name: REQUIRED.label, exact: true }).getAttribute('aria-invalid'),
    'true',
    'the box is no longer invalid',
  );

  const sent = await events(page, 'consentry:form');
  assert.equal(sent.length, 1, 'one consentry:form event');
  assert.equal(sent[0].detail.form, FORM.selector);
  assert.deepEqual(
    sent[0].detail.purposes.map(({ id, granted }) => ({ id, granted })),
    [
      { id: 'newsletter', granted: true },
      { id: 'product-updates', granted: false },
    ],
  );
});

test('the optional box never blocks and is reported when ticked', T, async (t) => {
  const { page, form } = await openForm(t);
  await form.getByRole('checkbox', { name: REQUIRED.label, exact: true }).check();
  await form.getByRole('checkbox', { name: OPTIONAL.label, exact: true }).check();
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await waitInPage(page, (thanks) => document.getElementById('newsletter-status')?.textContent === thanks, THANKS);
  const sent = await events(page, 'consentry:form');
  assert.deepEqual(
    sent.at(-1).detail.purposes.map(({ id, granted }) => ({ id, granted })),
    [
      { id: 'newsletter', granted: true },
      { id: 'product-updates', granted: true },
    ],
  );
  assert.equal(await form.getByRole('alert').filter({ hasText: REQUIRED_MESSAGE }).count(), 0);
});
