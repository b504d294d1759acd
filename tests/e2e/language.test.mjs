// The visitor's language: the page's `<html lang>`, then the browser's,
// built-in texts fetched as one small file, the site's translations over
// them, right to left for Arabic and Hebrew, `setLanguage` without a
// reload, and receipts whose notice holds the words the visitor read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import {
  useBrowser, T, BASE, landingConfig, waitReady, widgetErrors, runAxe, assertNoViolations, consentCookie, settle,
  storedReceipt, payloadOf,
} from './helpers.mjs';

const newPage = useBrowser();

const LANG_DIR = new URL('../../src/lang/', import.meta.url);
const TEXTS = Object.fromEntries(
  readdirSync(LANG_DIR).filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, LANG_DIR), 'utf8'))]),
);
const DEMO_HTML = readFileSync(new URL('../../www/index.html', import.meta.url), 'utf8');
const PAGE = '/language-test.html';

/**
 * The demo page with `lang` on its <html> (none when null), and the demo
 * config changed by `edit`; logs the paths it fetches.
 */
async function pageIn(t, lang, { edit = () => {}, context = {} } = {}) {
  const p = await newPage(t, context);
  const html = lang === null ? DEMO_HTML.replace(/<html lang="en">/, '<html>') : DEMO_HTML.replace(/<html lang="en">/, `<html lang="${lang}">`);
  assert.ok(DEMO_HTML.includes('<html lang="en">'), 'the demo page starts with <html lang="en">');
  const config = landingConfig();
  edit(config);
  p.fetched = [];
  p.page.on('request', (r) => p.fetched.push(new URL(r.url()).pathname));
  await p.page.route(BASE + PAGE, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await p.page.route(BASE + '/consentry.config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(config) }));
  return p;
}

const bannerIn = (page, code) => page.getByRole('dialog', { name: TEXTS[code]?.bannerTitle ?? 'We value your privacy' });

async function show(p, code) {
  await p.page.goto(BASE + PAGE);
  const b = bannerIn(p.page, code);
  await b.waitFor({ state: 'visible' });
  return b;
}

/** What makes a button prominent (banner.test.mjs holds the English ones). */
const look = (locator) =>
  locator.evaluate((el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return {
      tag: el.tagName, className: el.className, font: `${s.fontSize} ${s.fontWeight} ${s.fontFamily}`,
      color: s.color, background: `${s.backgroundColor} ${s.backgroundImage}`, border: s.border,
      radius: s.borderRadius, padding: s.padding, height: r.height,
    };
  });

test('a page in German gets the German banner, equal buttons, and a receipt of the German words', T, async (t) => {
  const p = await pageIn(t, 'de');
  const b = await show(p, 'de');
  const de = TEXTS.de;
  const accept = b.getByRole('button', { name: de.acceptAll, exact: true });
  const reject = b.getByRole('button', { name: de.rejectAll, exact: true });
  assert.deepEqual(await look(reject), await look(accept), '"Alle ablehnen" as prominent as "Alle akzeptieren"');
  assert.ok(p.fetched.includes('/lang/de.json'), 'the German file was fetched');
  // With the hashes it is held to (Subresource Integrity, tests/e2e/csp.test.mjs).
  assert.deepEqual(p.fetched.filter((f) => f.startsWith('/lang/')), ['/lang/integrity.json', '/lang/de.json'],
    'and no other language');
  assert.ok(p.fetched.indexOf('/lang/integrity.json') < p.fetched.indexOf('/consentry.config.json'),
    `fetched beside the wasm, not after it: ${p.fetched.join(' ')}`);
  assert.equal(await p.page.locator('#consentry-root').getAttribute('lang'), 'de');
  await accept.click();
  const cookie = await consentCookie(p.context);
  const receipt = payloadOf((await storedReceipt(cookie.id)).jws);
  assert.equal(receipt.notice.language, 'de');
  const notice = await fetch(`${BASE}/v1/notices/${receipt.notice.sha256}`);
  assert.equal(notice.status, 200);
  const text = await notice.text();
  for (const key of ['acceptAll', 'rejectAll', 'bannerTitle']) {
    assert.ok(text.includes(JSON.stringify(de[key])), `the notice holds the German ${key}`);
  }
  assert.ok(!text.includes('"Accept all"'), 'and not the English');
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('the site\'s own German translation wins over the built-in text', T, async (t) => {
  const p = await pageIn(t, 'de-AT', { edit: (c) => { c.translations = { de: { acceptAll: 'Ja, alle' } }; } });
  const b = await show(p, 'de');
  assert.ok(await b.getByRole('button', { name: 'Ja, alle', exact: true }).isVisible());
  assert.ok(await b.getByRole('button', { name: TEXTS.de.rejectAll, exact: true }).isVisible());
});

test('the site\'s own texts given per language follow the language shown, and the notice holds them as shown', T, async (t) => {
  const p = await pageIn(t, 'de', {
    edit: (c) => {
      c.categories[1].title = { en: 'Analytics', de: 'Statistik' };
      c.categories[1].cookies[0].duration = { en: '1 year', de: '1 Jahr' };
      c.forms[0].purposes[1].label = { en: 'Product news by email', de: 'Produktneuheiten per E-Mail' };
    },
  });
  const b = await show(p, 'de');
  const label = p.page.locator('#newsletter-form label', { hasText: /Product news|Produktneuheiten/ });
  assert.equal(await label.textContent(), 'Produktneuheiten per E-Mail');
  await b.getByRole('button', { name: TEXTS.de.customize, exact: true }).click();
  const dialog = p.page.getByRole('dialog', { name: TEXTS.de.preferencesTitle });
  await dialog.waitFor({ state: 'visible' });
  assert.ok(await dialog.getByText('Statistik', { exact: true }).isVisible());
  assert.ok(await dialog.getByText('1 Jahr', { exact: true }).count() === 1);
  // English, and back: each language's own words, the form's label too.
  await p.page.evaluate(() => window.consentry.setLanguage('en'));
  const english = p.page.getByRole('dialog', { name: 'Privacy preferences' });
  await english.waitFor({ state: 'visible' });
  assert.ok(await english.getByText('Analytics', { exact: true }).isVisible());
  assert.equal(await label.textContent(), 'Product news by email');
  await p.page.evaluate(() => window.consentry.setLanguage('de'));
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await label.textContent(), 'Produktneuheiten per E-Mail');
  await dialog.getByRole('button', { name: TEXTS.de.save, exact: true }).click();
  const cookie = await consentCookie(p.context);
  const receipt = payloadOf((await storedReceipt(cookie.id)).jws);
  assert.equal(receipt.notice.language, 'de');
  const text = await (await fetch(`${BASE}/v1/notices/${receipt.notice.sha256}`)).text();
  for (const shown of ['Statistik', '1 Jahr', 'Produktneuheiten per E-Mail']) {
    assert.ok(text.includes(JSON.stringify(shown)), `the notice holds ${shown}`);
  }
  for (const unseen of ['"Analytics"', '"1 year"', '"Product news by email"']) {
    assert.ok(!text.includes(unseen), `and not ${unseen}`);
  }
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('without <html lang> the browser\'s language decides, region and all', T, async (t) => {
  const p = await pageIn(t, null, { context: { locale: 'pt-BR' } });
  await show(p, 'pt');
  assert.ok(p.fetched.includes('/lang/pt.json'));
});

test('Arabic lays out right to left', T, async (t) => {
  const p = await pageIn(t, 'ar');
  const b = await show(p, 'ar');
  assert.equal(await p.page.locator('#consentry-root').getAttribute('dir'), 'rtl');
  assert.equal(await b.evaluate((el) => getComputedStyle(el).direction), 'rtl');
  // The title starts at the right edge of the banner.
  const [title, box] = await Promise.all([
    b.getByRole('heading').evaluate((el) => { const r = document.createRange(); r.selectNodeContents(el); const x = r.getBoundingClientRect(); return { left: x.left, right: x.right }; }),
    b.evaluate((el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el); return { right: r.right - parseFloat(s.paddingRight), left: r.left + parseFloat(s.paddingLeft) }; }),
  ]);
  assert.ok(Math.abs(title.right - box.right) <= 2, `right-aligned: title ends at ${title.right}, box at ${box.right}`);
  assert.ok(title.left > box.left + 20, 'and not from the left');
});

test('setLanguage switches the banner and the dialog without a reload', T, async (t) => {
  const p = await pageIn(t, 'en');
  await show(p, 'en');
  await p.page.evaluate(() => window.consentry.setLanguage('fr'));
  const b = bannerIn(p.page, 'fr');
  await b.waitFor({ state: 'visible' });
  assert.equal(await p.page.getByRole('dialog', { name: 'We value your privacy' }).count(), 0);
  // The consent rows in the page's form speak French too (a form receipt records their texts).
  const rows = p.page.locator('#newsletter-form .consentry-purpose');
  const links = await rows.locator('a').allTextContents();
  assert.ok(links.length > 0 && links.every((l) => l === TEXTS.fr.privacyPolicy), `form links: ${links}`);
  const hints = await rows.locator('.consentry-error').allTextContents();
  assert.ok(hints.length > 0 && hints.every((h) => h === TEXTS.fr.formRequired), `form hints: ${hints}`);
  await b.getByRole('button', { name: TEXTS.fr.customize, exact: true }).click();
  await p.page.getByRole('dialog', { name: TEXTS.fr.preferencesTitle }).waitFor({ state: 'visible' });
  // With the dialog open, it is drawn again in the new language.
  await p.page.evaluate(() => window.consentry.setLanguage('es'));
  await p.page.getByRole('dialog', { name: TEXTS.es.preferencesTitle }).waitFor({ state: 'visible' });
  await p.page.evaluate(() => window.consentry.setLanguage('xx'));
  assert.ok(widgetErrors(p.consoleErrors).some((m) => m.includes('setLanguage("xx")')), p.consoleErrors.join('\n'));
});

test('a language file that cannot load leaves the banner in the default language, said on the console', T, async (t) => {
  const p = await pageIn(t, 'de');
  await p.page.route(BASE + '/lang/de.json', (route) => route.abort());
  await show(p, 'en');
  await waitReady(p.page);
  assert.ok(widgetErrors(p.consoleErrors).some((m) => m.includes('"de"')), p.consoleErrors.join('\n'));
});

test('while the texts of the page\'s language load, strictly necessary is granted and nothing else', T, async (t) => {
  const p = await pageIn(t, 'de');
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await p.page.route(BASE + '/lang/de.json', async (route) => { await held; await route.continue(); });
  await p.page.goto(BASE + PAGE);
  await p.page.waitForFunction(() => window.consentry, null, { timeout: 10_000 });
  assert.deepEqual(await p.page.evaluate(() => [window.consentry.isGranted('necessary'),
    window.consentry.isGranted('analytics'), window.consentry.isGranted('nope'), window.consentry.getConsent()]),
  [true, false, false, null]);
  release();
  await bannerIn(p.page, 'de').waitFor({ state: 'visible' });
  assert.equal(await p.page.evaluate(() => window.consentry.isGranted('necessary')), true);
});

test('every built-in language: banner and dialog axe-clean, every text present', { timeout: 180_000 }, async (t) => {
  for (const code of ['en', ...Object.keys(TEXTS)]) {
    const p = await pageIn(t, code);
    const b = await show(p, code);
    assertNoViolations(await runAxe(p.page), `in the ${code} banner`);
    await b.getByRole('button', { name: TEXTS[code]?.customize ?? 'Customize', exact: true }).click();
    await p.page.getByRole('dialog', { name: TEXTS[code]?.preferencesTitle ?? 'Privacy preferences' }).waitFor({ state: 'visible' });
    await settle(p.page, 400);
    assertNoViolations(await runAxe(p.page), `in the ${code} dialog`);
    assert.deepEqual(widgetErrors(p.consoleErrors), [], code);
    await p.context.close();
  }
});
