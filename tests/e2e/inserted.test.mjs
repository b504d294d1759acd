// Content a tag manager, a single-page app or a CMS widget inserts after
// load: gated scripts, embeds, pixels and styles are held, shown a
// placeholder or released exactly like those present at load, before and
// after the choice, on a first visit (the wasm runs) and on a returning
// visit (the loader's core alone); a gated script runs once however often
// the page inserts or moves it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, T, BASE, banner, waitInPage, waitReady, landingConfig, widgetErrors } from './helpers.mjs';

const newPage = useBrowser();

const PAGE = '/inserted.html';
const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Inserted</title>
<script src="/consentry.js" data-config="/inserted.config.json" defer></script>
<script>
  // What a tag manager does: elements made and inserted by script.
  window.insertGated = (category, code) => {
    const s = document.createElement('script');
    s.type = 'text/plain';
    s.setAttribute('data-category', category);
    s.textContent = code;
    document.body.append(s);
    return s;
  };
  window.insertHtml = (markup) => {
    const d = document.createElement('div');
    d.innerHTML = markup;
    document.body.append(d);
    return d;
  };
</script>
</head><body><main><h1>Inserted</h1></main></body></html>`;

async function insertedPage(t) {
  const p = await newPage(t);
  p.fetched = [];
  p.page.on('request', (r) => p.fetched.push(new URL(r.url()).pathname));
  await p.page.route(BASE + PAGE, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  const config = { ...landingConfig(), forms: undefined };
  await p.page.route(BASE + '/inserted.config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(config) }));
  return p;
}

const MEDIA = `<img alt="" data-category="analytics" data-src="/favicon.svg" id="pixel">
<link rel="stylesheet" data-category="analytics" data-href="/styles.css" id="style">
<iframe data-category="marketing" data-src="/embed/video.html" title="Inserted video" width="320" height="180"></iframe>`;

const state = (page) => page.evaluate(() => ({
  ran: window.ran || [],
  pixel: document.getElementById('pixel')?.getAttribute('src') ?? null,
  style: document.getElementById('style')?.getAttribute('href') ?? null,
  frame: document.querySelector('iframe[title="Inserted video"]').getAttribute('src'),
  placeholder: document.querySelector('iframe[title="Inserted video"]').previousElementSibling
    ?.classList.contains('consentry-embed-placeholder') ?? false,
}));

test('content inserted before and after the choice is held, then released once', T, async (t) => {
  const p = await insertedPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).waitFor();
  await page.evaluate((media) => {
    window.kept = window.insertGated('analytics', "(window.ran = window.ran || []).push('early')");
    window.insertGated('marketing', "(window.ran = window.ran || []).push('marketing')");
    window.insertHtml(media);
  }, MEDIA);
  await waitInPage(page, () => document.querySelector('.consentry-embed-placeholder') !== null);
  assert.deepEqual(await state(page), { ran: [], pixel: null, style: null, frame: null, placeholder: true },
    'nothing inserted runs or loads before a choice; the embed gets its placeholder');

  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => (window.ran || []).length > 0);
  assert.deepEqual(await state(page), {
    ran: ['early'], pixel: '/favicon.svg', style: '/styles.css', frame: null, placeholder: true,
  }, 'analytics released; the marketing embed stays blocked');

  // After the choice: a new one runs at once; the original, inserted again
  // or moved, and a copy of it, never run twice.
  await page.evaluate(() => {
    window.insertGated('analytics', "(window.ran = window.ran || []).push('late')");
    document.body.append(window.kept);
    document.querySelector('main').append(window.kept);
    document.body.append(window.kept.cloneNode(true));
  });
  await waitInPage(page, () => window.ran.includes('late'));
  await page.waitForTimeout(200);
  assert.deepEqual((await state(page)).ran, ['early', 'late']);

  // Granting marketing through the embed's own button loads it.
  await page.getByRole('button', { name: 'Allow and load' }).click();
  await waitInPage(page, () => document.querySelector('iframe[title="Inserted video"]').getAttribute('src') !== null);
  const after = await state(page);
  assert.equal(after.frame, '/embed/video.html');
  assert.equal(after.placeholder, false);
  assert.deepEqual(after.ran, ['early', 'late', 'marketing']);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('a page that replaces document.adoptedStyleSheets does not leave later placeholders unstyled', T, async (t) => {
  const p = await insertedPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).waitFor();
  // What a site's own style code may do: its sheets only, the widget's gone.
  await page.evaluate((media) => {
    const own = new CSSStyleSheet();
    own.replaceSync('main{color:#111}');
    document.adoptedStyleSheets = [own];
    window.insertHtml(media);
  }, MEDIA);
  await waitInPage(page, () => document.querySelector('.consentry-embed-placeholder') !== null);
  const look = await page.evaluate(() => {
    const s = getComputedStyle(document.querySelector('.consentry-embed-placeholder'));
    return { display: s.display, sheets: document.adoptedStyleSheets.length };
  });
  assert.deepEqual(look, { display: 'flex', sheets: 2 }, 'the widget\'s page sheet is back, beside the site\'s');
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('a released script that takes a later one out of the page: that one never runs, the ones after it do', T, async (t) => {
  const p = await insertedPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).waitFor();
  await page.evaluate(() => {
    window.insertGated('analytics', "(window.ran = window.ran || []).push('remover'); document.getElementById('victim').remove()");
    window.insertGated('analytics', "(window.ran = window.ran || []).push('victim')").id = 'victim';
    window.insertGated('analytics', "(window.ran = window.ran || []).push('after')");
  });
  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => (window.ran || []).includes('after'));
  assert.deepEqual(await page.evaluate(() => window.ran), ['remover', 'after']);
  assert.deepEqual(p.pageErrors, []);
});

test('a returning visit: the core releases inserted content alone, and fetches the wasm only for a blocked embed', T, async (t) => {
  const p = await insertedPage(t);
  const { page } = p;
  await page.goto(BASE + PAGE);
  await banner(page).waitFor();
  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  p.fetched.length = 0;
  await page.reload();
  await waitReady(page);

  await page.evaluate(() => {
    window.insertGated('analytics', "(window.ran = window.ran || []).push('inserted')");
    window.insertGated('!marketing', "(window.ran = window.ran || []).push('no marketing')");
    window.insertGated('marketing', "(window.ran = window.ran || []).push('marketing')");
    window.insertHtml('<img alt="" data-category="analytics" data-src="/favicon.svg" id="pixel">');
  });
  await waitInPage(page, () => (window.ran || []).length >= 2);
  await page.waitForTimeout(200);
  const now = await page.evaluate(() => ({ ran: window.ran, pixel: document.getElementById('pixel').getAttribute('src') }));
  assert.deepEqual(now, { ran: ['inserted', 'no marketing'], pixel: '/favicon.svg' });
  assert.ok(!p.fetched.some((f) => /consentry-core/.test(f)), `the core alone so far: ${p.fetched.join(', ')}`);

  await page.evaluate(() => window.insertHtml('<iframe data-category="marketing" data-src="/embed/video.html" title="Inserted video"></iframe>'));
  await waitInPage(page, () => document.querySelector('.consentry-embed-placeholder') !== null);
  assert.ok(p.fetched.some((f) => /consentry-core/.test(f)), 'a blocked embed needs the wasm for its placeholder');
  assert.equal(await page.evaluate(() => document.querySelector('iframe').getAttribute('src')), null);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});
