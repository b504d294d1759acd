// Keyboard and screen-reader users get the same choices: zero axe-core
// violations in every state, light and dark, and no motion when reduced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, openBanner, openPreferencesFromBanner, runAxe, assertNoViolations, waitReady, settle,
} from './helpers.mjs';

const newPage = useBrowser();

for (const colorScheme of ['light', 'dark']) {
  test(`the banner has no axe violations (${colorScheme})`, T, async (t) => {
    const { page } = await newPage(t, { colorScheme });
    await openBanner(page);
    await waitReady(page);
    await settle(page, 400); // let any entrance transition finish: axe measures colours
    assertNoViolations(await runAxe(page), `with the banner shown (${colorScheme})`);
  });

  test(`the preferences dialog has no axe violations (${colorScheme})`, T, async (t) => {
    const { page } = await newPage(t, { colorScheme });
    await openBanner(page);
    await openPreferencesFromBanner(page);
    await settle(page, 400);
    assertNoViolations(await runAxe(page), `with the preferences open (${colorScheme})`);
  });
}

test('the newsletter form with its consent checkboxes has no axe violations, also after a blocked submit', T, async (t) => {
  const { page } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  await b.waitFor({ state: 'hidden' });
  const form = page.locator('#newsletter-form');
  await form.locator('.consentry-form-consent').waitFor();
  await settle(page, 300);
  assertNoViolations(await runAxe(page), 'on the page with the form checkboxes and the reopen button');

  await form.getByRole('textbox', { name: 'Email address' }).fill('reader@example.com');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await form.getByRole('alert').first().waitFor();
  assertNoViolations(await runAxe(page, { include: [['#newsletter-form']] }), 'in the form showing its error');
});

test('the privacy policy page and the video player have no axe violations', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page, '/privacy.html');
  await settle(page, 300);
  assertNoViolations(await runAxe(page), 'on the privacy policy page');
  await page.goto(BASE + '/embed/video.html');
  assertNoViolations(await runAxe(page), 'in the video player');
});

test('with reduced motion the banner appears without transition or animation', T, async (t) => {
  const { page } = await newPage(t, { reducedMotion: 'reduce' });
  const b = await openBanner(page);
  const motion = await b.evaluate((el) => {
    const out = [];
    // The banner and the widget's own wrappers up to its shadow root.
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const s = getComputedStyle(n);
      out.push({
        el: n.tagName.toLowerCase() + (n.className ? '.' + String(n.className).split(' ').join('.') : ''),
        transition: s.transitionDuration,
        animation: s.animationName === 'none' ? '0s' : s.animationDuration,
      });
    }
    return out;
  });
  const zero = (v) => v.split(',').every((d) => parseFloat(d) === 0);
  for (const m of motion) {
    assert.ok(zero(m.transition), `${m.el} transition-duration ${m.transition}`);
    assert.ok(zero(m.animation), `${m.el} animation-duration ${m.animation}`);
  }
});
