// The first layer: what a visitor sees on a first visit, and the two
// one-click answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useBrowser, T, BASE, LANDING_CONFIG, BANNER_TITLE, banner, openBanner, consentCookie, acmeCookies,
  gatedState, ANALYTICS_WAITING, ANALYTICS_ON, ANALYTICS_OFF, waitInPage, waitReady, settle,
} from './helpers.mjs';

const newPage = useBrowser();

test('a first visit shows the banner with its title, text, privacy policy link and three choices', T, async (t) => {
  const { page, pageErrors } = await newPage(t);
  const b = await openBanner(page);

  assert.equal(await b.getAttribute('aria-modal'), 'false', 'the banner is not modal: the page stays usable');
  assert.ok((await b.innerText()).includes(BANNER_TITLE), 'the title is visible text');
  const text = await b.locator('p').first().innerText();
  assert.ok(text.trim().length > 20, `the banner explains itself in a paragraph, got ${JSON.stringify(text)}`);

  const policy = b.getByRole('link', { name: 'Privacy policy' });
  await policy.waitFor();
  assert.equal(await policy.getAttribute('href'), LANDING_CONFIG.privacyPolicyUrl);

  for (const name of ['Accept all', 'Reject all', 'Customize']) {
    assert.ok(await b.getByRole('button', { name, exact: true }).isVisible(), `"${name}" button is visible`);
  }
  assert.equal(await b.getByRole('button', { name: 'Close' }).count(), 0, 'no close button on the first layer');
  assert.deepEqual(pageErrors, []);
});

test('"Accept all" and "Reject all" have equal prominence', T, async (t) => {
  const { page } = await newPage(t);
  const b = await openBanner(page);
  const look = (locator) =>
    locator.evaluate((el) => {
      const s = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      const sides = ['Top', 'Right', 'Bottom', 'Left'];
      return {
        tag: el.tagName,
        className: el.className,
        fontSize: s.fontSize,
        fontWeight: s.fontWeight,
        fontFamily: s.fontFamily,
        color: s.color,
        backgroundColor: s.backgroundColor,
        backgroundImage: s.backgroundImage,
        border: sides.map((x) => `${s[`border${x}Width`]} ${s[`border${x}Style`]} ${s[`border${x}Color`]}`),
        borderRadius: s.borderRadius,
        padding: sides.map((x) => s[`padding${x}`]),
        opacity: s.opacity,
        textDecoration: s.textDecorationLine,
        height: r.height,
        width: r.width,
      };
    });
  const accept = await look(b.getByRole('button', { name: 'Accept all', exact: true }));
  const reject = await look(b.getByRole('button', { name: 'Reject all', exact: true }));
  const { width: wa, ...restA } = accept;
  const { width: wr, ...restR } = reject;
  assert.deepEqual(restR, restA, 'same element, class, size, weight, colours, border and padding');
  assert.ok(Math.abs(wa - wr) <= 1, `widths equal within 1px: accept ${wa}px, reject ${wr}px`);
  assert.ok(accept.height >= 24, `buttons are a usable size (height ${accept.height}px)`);
});

test('nothing optional runs before the visitor chooses', T, async (t) => {
  const { page, context } = await newPage(t);
  await openBanner(page);
  await waitReady(page);
  await settle(page);
  const state = await gatedState(page);
  assert.equal(state.analytics, undefined, 'analytics script has not run');
  assert.equal(state.ads, undefined, 'marketing script has not run');
  assert.equal(state.iframeSrc, null, 'the video iframe has no src');
  assert.equal(state.status, ANALYTICS_WAITING, 'neither the analytics nor the "!analytics" script ran');
  assert.deepEqual(await acmeCookies(context), [], 'no optional cookie was set');
  assert.equal(await consentCookie(context), null, 'no choice is stored yet');
  const placeholder = page.locator('.consentry-embed-placeholder');
  assert.equal(await placeholder.count(), 1, 'the video is behind one placeholder');
});

test('the page behind the banner stays usable', T, async (t) => {
  const { page } = await newPage(t);
  const b = await openBanner(page);

  await page.getByRole('link', { name: 'Start your free trial' }).click();
  await waitInPage(page, () => location.hash === '#pricing');

  const email = page.getByRole('textbox', { name: 'Email address' });
  await email.click();
  await page.keyboard.type('reader@example.com');
  assert.equal(await email.inputValue(), 'reader@example.com');
  assert.ok(await b.isVisible(), 'the banner is still there: using the page is not a choice');
});

test('the banner does not shift the page layout', T, async (t) => {
  const hero = (page) =>
    page.locator('#hero').evaluate((el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height };
    });
  const mainBox = (page) =>
    page.locator('main').evaluate((el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y + window.scrollY, width: r.width };
    });

  const without = await newPage(t);
  await without.page.route('**/consentry.js', (route) => route.abort());
  await without.page.goto(BASE + '/', { waitUntil: 'load' });
  const heroWithout = await hero(without.page);
  const mainWithout = await mainBox(without.page);
  assert.equal(await banner(without.page).count(), 0, 'control: no widget, no banner');

  const withWidget = await newPage(t);
  await openBanner(withWidget.page);
  await settle(withWidget.page, 300);
  assert.deepEqual(await hero(withWidget.page), heroWithout, 'hero box identical with and without the banner');
  assert.deepEqual(await mainBox(withWidget.page), mainWithout, 'main content not pushed around');
  const bodyMargins = await withWidget.page.evaluate(() => {
    const s = getComputedStyle(document.body);
    return [s.marginTop, s.paddingTop, s.paddingBottom, s.overflow];
  });
  assert.deepEqual(bodyMargins, ['0px', '0px', '0px', 'visible'], 'the widget does not pad or lock the body');
});

test('"Accept all" runs every category, stores the choice for 6 months and leaves a way back', T, async (t) => {
  const { page, context, pageErrors } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();

  await waitInPage(page, () => window.acmeAnalyticsLoaded === true && window.acmeAdsLoaded === true);
  await waitInPage(page, () => document.querySelector('iframe[title="Product tour video"]')?.getAttribute('src'));
  const state = await gatedState(page);
  assert.ok(state.iframeSrc.endsWith('/embed/video.html'), `iframe src set from data-src, got ${state.iframeSrc}`);
  assert.equal(state.status, ANALYTICS_ON);

  const cookie = await consentCookie(context);
  assert.ok(cookie, 'consentry cookie written');
  assert.equal(cookie.v, 1);
  assert.equal(cookie.r, LANDING_CONFIG.revision);
  for (const id of ['necessary', 'analytics', 'marketing']) assert.ok(cookie.c.includes(id), `c has ${id}: ${cookie.raw}`);
  const now = Date.now() / 1000;
  assert.ok(Math.abs(cookie.t - now) < 120, `t is now (t=${cookie.t}, now=${now})`);
  const days = (cookie.e - cookie.t) / 86400;
  assert.ok(days > 180 && days < 185, `lifetime about 6 months, got ${days.toFixed(2)} days`);
  assert.equal(cookie.cookie.path, '/');
  assert.equal(cookie.cookie.sameSite, 'Lax');
  const maxAgeDays = (cookie.cookie.expires - now) / 86400;
  assert.ok(maxAgeDays > 179 && maxAgeDays < 186, `cookie lives about 6 months, got ${maxAgeDays.toFixed(1)} days`);

  await b.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Privacy settings' }).waitFor({ state: 'visible' });

  await page.reload({ waitUntil: 'load' });
  await waitReady(page);
  await waitInPage(page, () => window.acmeAnalyticsLoaded === true && window.acmeAdsLoaded === true);
  await page.getByRole('button', { name: 'Privacy settings' }).waitFor({ state: 'visible' });
  assert.equal(await banner(page).count(), 0, 'no banner once the choice is stored');
  assert.equal((await gatedState(page)).status, ANALYTICS_ON);
  assert.deepEqual(pageErrors, []);
});

test('"Reject all" runs nothing optional, runs the "when refused" script and is remembered', T, async (t) => {
  const { page, context, pageErrors } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();

  await waitInPage(page, (off) => document.getElementById('analytics-status')?.textContent === off, ANALYTICS_OFF);
  await b.waitFor({ state: 'hidden' });
  await settle(page);
  const state = await gatedState(page);
  assert.equal(state.analytics, undefined);
  assert.equal(state.ads, undefined);
  assert.equal(state.iframeSrc, null);
  assert.deepEqual(await acmeCookies(context), []);
  const cookie = await consentCookie(context);
  assert.deepEqual(cookie?.c, ['necessary'], `only necessary stored: ${cookie?.raw}`);
  await page.getByRole('button', { name: 'Privacy settings' }).waitFor({ state: 'visible' });

  await page.reload({ waitUntil: 'load' });
  await waitReady(page);
  await waitInPage(page, (off) => document.getElementById('analytics-status')?.textContent === off, ANALYTICS_OFF);
  assert.equal(await banner(page).count(), 0, 'no banner once the refusal is stored');
  assert.equal((await gatedState(page)).analytics, undefined);
  assert.deepEqual(pageErrors, []);
});

test('Escape on the banner is not a choice', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).focus();
  await page.keyboard.press('Escape');
  await settle(page, 300);
  assert.ok(await b.isVisible(), 'banner still shown');
  assert.equal(await consentCookie(context), null);
});
