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

/**
 * Every control the widget draws that is not a link inside a sentence, with
 * its size: WCAG 2.2's target size (2.5.8) wants 24 × 24 CSS px at least.
 */
async function smallTargets(page) {
  return page.evaluate(() => {
    const root = document.getElementById('consentry-root')?.shadowRoot;
    const controls = [
      ...(root ? root.querySelectorAll('button, input, a') : []),
      ...document.querySelectorAll('.consentry-form-consent input, .consentry-form-consent a, .consentry-embed-placeholder button'),
    ];
    return controls
      .filter((el) => !(el.tagName === 'A' && el.parentElement.tagName === 'P')) // inline in a sentence: exempt
      .map((el) => ({ html: el.outerHTML.slice(0, 80), ...el.getBoundingClientRect().toJSON() }))
      .filter((r) => r.width > 0 && (r.width < 24 || r.height < 24))
      .map((r) => `${r.html}: ${r.width}×${r.height}`);
  });
}

test('every control of the banner, the dialog, the form and the embeds is at least 24 × 24 px', T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await settle(page, 300);
  assert.deepEqual(await smallTargets(page), [], 'banner, form and embed placeholders');
  await openPreferencesFromBanner(page);
  await settle(page, 300);
  assert.deepEqual(await smallTargets(page), [], 'preferences dialog');
});

test('tabbing through the page under the banner, every focused element stays in view', T, async (t) => {
  const { page } = await newPage(t, { viewport: { width: 1280, height: 600 } });
  const b = await openBanner(page);
  await settle(page, 300);
  const seen = [];
  // Bounded: the demo page has a few dozen stops; the banner's are last.
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    // In view within a moment (the demo page scrolls smoothly): polled, 600 ms at most.
    const where = await page.evaluate(async () => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      if (el.id === 'consentry-root') return 'widget';
      const banner = document.getElementById('consentry-root').shadowRoot.querySelector('.banner');
      const inView = () => {
        const r = el.getBoundingClientRect();
        const top = banner ? banner.getBoundingClientRect().top : innerHeight;
        return r.bottom > 0 && r.top < Math.min(top, innerHeight) && r.right > 0 && r.left < innerWidth;
      };
      for (let i = 0; i < 30 && !inView(); i++) await new Promise((r) => setTimeout(r, 20));
      return { what: el.outerHTML.slice(0, 60), visible: inView() };
    });
    if (where === 'widget') break;
    if (where) seen.push(where);
  }
  assert.ok(seen.length >= 5, `tabbed through the page (${seen.length} stops)`);
  assert.deepEqual(seen.filter((s) => !s.visible).map((s) => s.what), [], 'focused elements hidden by the banner');
  assert.ok(await b.isVisible(), 'and the banner is still there');
});
