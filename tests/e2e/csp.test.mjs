// A page served with a strict Content-Security-Policy and Trusted Types
// (issue 15): the widget works with zero `securitypolicyviolation` events,
// in the policy the README gives ('self' only) and in its nonce variant
// ('strict-dynamic'); and Subresource Integrity: every file the loader
// fetches is held to the hash `cargo xtask dist` wrote into it, so a
// tampered one is refused and nothing gated runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, T, BASE, banner, preferences, waitInPage, waitReady, landingConfig, widgetErrors } from './helpers.mjs';

const newPage = useBrowser();

// The README's policy, word for word.
const STRICT = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
  + "connect-src 'self'; require-trusted-types-for 'script'";
const NONCE = 'cHJvb2Ytb2YtY29uc2VudA';
const NONCED = `default-src 'self'; script-src 'nonce-${NONCE}' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; `
  + "img-src 'self' data:; connect-src 'self'; require-trusted-types-for 'script'; trusted-types consentry";

// Gated content of every kind, none of it inline but the nonce page's own
// script; the tags' code is served from this origin.
const GATED = `<script type="text/plain" data-category="analytics" src="/csp/tag.js"></script>
<img alt="" data-category="analytics" data-src="/favicon.svg" id="pixel">
<link rel="stylesheet" data-category="analytics" data-href="/styles.css" id="style">
<iframe data-category="marketing" data-src="/csp/embed.html" title="Embedded page" width="320" height="180"></iframe>
<form id="newsletter-form" action="/csp/thanks" method="post"><input name="email" aria-label="Email"><button>Subscribe</button></form>`;

function pageHtml({ nonce, integrity = '', inline = '' } = {}) {
  const n = nonce ? ` nonce="${nonce}"` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strict CSP</title>
<script${n} src="/consentry.js" data-config="/csp/config.json"${integrity} defer></script>
</head><body><main><h1>Strict CSP</h1>${GATED}${inline}</main></body></html>`;
}

const TAG = "(window.ran = window.ran || []).push('tag');";

async function cspPage(t, { policy, html, config = landingConfig(), tamper = {} }) {
  const p = await newPage(t);
  const { page } = p;
  // Every violation the page reports, from the first moment of each
  // document, and the browser's own console lines about the policy.
  await p.context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
    });
  });
  p.policyLines = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Trusted Type/i.test(m.text())) p.policyLines.push(m.text());
  });
  await page.route(BASE + '/csp/page.html', (route) => route.fulfill({
    contentType: 'text/html', headers: { 'Content-Security-Policy': policy }, body: html,
  }));
  await page.route(BASE + '/csp/embed.html', (route) => route.fulfill({
    contentType: 'text/html', headers: { 'Content-Security-Policy': policy },
    body: '<!doctype html><html lang="en"><title>Embed</title><p>Embedded</p></html>',
  }));
  await page.route(BASE + '/csp/config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(config) }));
  await page.route(BASE + '/csp/*.js', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: TAG.replace('tag', new URL(route.request().url()).pathname) }));
  for (const [path, change] of Object.entries(tamper)) {
    await page.route(BASE + path, async (route) => {
      const response = await route.fetch();
      route.fulfill({ response, body: change(await response.body()) });
    });
  }
  return p;
}

// Polls `check` (in this process) until it is true, within 5 s.
async function until(check) {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(check(), 'waited 5 s for ' + check);
}

const violations = async (p) => ({
  events: await p.page.evaluate(() => window.__violations),
  console: p.policyLines,
});

// What shows that the constructed stylesheets apply: the banner is fixed at
// the bottom, the reopen button has its icon (a CSS mask), the blocked
// embed's placeholder and the form's consent row are laid out.
const styled = (page) => page.evaluate(() => {
  const root = document.getElementById('consentry-root').shadowRoot;
  const style = (el, prop, pseudo) => (el ? getComputedStyle(el, pseudo)[prop] : null);
  return {
    banner: style(root.querySelector('.banner'), 'position'),
    reopenIcon: style(root.querySelector('.reopen'), 'maskImage', '::before')?.startsWith('url("data:image/svg+xml') ?? null,
    placeholder: style(document.querySelector('.consentry-embed-placeholder'), 'display'),
    formRow: style(document.querySelector('.consentry-purpose'), 'display'),
  };
});

test("strict CSP, 'self' only: banner, choice, release, reopen and loadScript without one violation", T, async (t) => {
  const p = await cspPage(t, { policy: STRICT, html: pageHtml() });
  const { page } = p;
  await page.goto(BASE + '/csp/page.html');
  await banner(page).waitFor();
  await waitInPage(page, () => document.querySelector('.consentry-embed-placeholder') !== null);
  assert.deepEqual(await styled(page), { banner: 'fixed', reopenIcon: null, placeholder: 'flex', formRow: 'flex' },
    'the banner, the placeholder and the form row are styled under style-src \'self\'');
  assert.equal(await page.evaluate(() => window.ran), undefined, 'nothing gated runs before the choice');

  await banner(page).getByRole('button', { name: 'Accept all', exact: true }).click();
  await waitInPage(page, () => (window.ran || []).length > 0 && document.querySelector('iframe[src]'));
  assert.deepEqual(await page.evaluate(() => ({
    ran: window.ran,
    pixel: document.getElementById('pixel').getAttribute('src'),
    style: document.getElementById('style').getAttribute('href'),
    frame: document.querySelector('iframe[title="Embedded page"]').getAttribute('src'),
  })), { ran: ['/csp/tag.js'], pixel: '/favicon.svg', style: '/styles.css', frame: '/csp/embed.html' });
  assert.equal((await styled(page)).reopenIcon, true, 'the reopen button shows its icon');

  // Trusted Types: loadScript's URL goes through the policy `consentry`;
  // a data: URL is refused by it.
  await page.evaluate(() => window.consentry.loadScript('/csp/loaded.js'));
  assert.deepEqual(await page.evaluate(() => window.ran), ['/csp/tag.js', '/csp/loaded.js']);
  const refused = await page.evaluate(() => window.consentry.loadScript('data:text/javascript,alert(1)').then(() => 'loaded', (e) => e.message));
  assert.match(refused, /loadScript takes an http\(s\), relative or blob: URL, not data:text/);

  // A returning visit: the loader's core alone draws the reopen button,
  // once the collector has acknowledged the receipt (signed by WebCrypto,
  // kept in IndexedDB, posted under connect-src 'self').
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')), null,
    { timeout: 10_000 });
  await page.reload();
  await waitReady(page);
  await waitInPage(page, () => (window.ran || []).length > 0);
  assert.equal((await styled(page)).reopenIcon, true, "the core's reopen button has its icon too");
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    preferences(page).getByRole('link', { name: 'Download receipt' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^consentry-receipt-[0-9a-f-]{36}\.json$/);

  assert.deepEqual(await violations(p), { events: [], console: [] });
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('nonce and strict-dynamic: released inline scripts get the page nonce; the tag carries its integrity', T, async (t) => {
  const sums = await (await fetch(BASE + '/integrity.json')).json();
  const inline = `<script type="text/plain" data-category="analytics">(window.ran = window.ran || []).push('inline')</script>
<script type="text/plain" data-category="analytics" data-type="module">(window.ran = window.ran || []).push('module')</script>
<script type="text/plain" data-category="!marketing">(window.ran = window.ran || []).push('no marketing')</script>`;
  const p = await cspPage(t, {
    policy: NONCED,
    html: pageHtml({ nonce: NONCE, integrity: ` integrity="${sums['consentry.js']}"`, inline }),
  });
  const { page } = p;
  await page.goto(BASE + '/csp/page.html');
  await banner(page).waitFor();
  await page.evaluate(() => window.consentry.acceptCategories(['analytics']));
  await waitInPage(page, () => (window.ran || []).length >= 4);
  assert.deepEqual((await page.evaluate(() => window.ran)).sort(), ['/csp/tag.js', 'inline', 'module', 'no marketing']);
  await page.evaluate(() => window.consentry.loadScript('/csp/loaded.js'));
  assert.ok((await page.evaluate(() => window.ran)).includes('/csp/loaded.js'));
  assert.deepEqual(await violations(p), { events: [], console: [] });
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

// One changed byte in each file the loader fetches: the browser refuses it,
// the widget says so once, nothing gated runs, and the page goes on.
const flip = (body) => {
  const b = Buffer.from(body);
  b[b.length - 2] ^= 1;
  return b;
};
for (const path of ['/consentry-core.js', '/consentry-core_bg.wasm']) {
  test(`Subresource Integrity: a tampered ${path.slice(1)} is refused`, T, async (t) => {
    const p = await cspPage(t, { policy: STRICT, html: pageHtml(), tamper: { [path]: flip } });
    const { page } = p;
    await page.goto(BASE + '/csp/page.html');
    await until(() => widgetErrors(p.consoleErrors).length > 0);
    assert.equal(await banner(page).count(), 0, 'no banner from a file that is not the one built');
    assert.equal(await page.evaluate(() => window.ran), undefined, 'nothing gated runs');
    assert.equal(widgetErrors(p.consoleErrors).length, 1, widgetErrors(p.consoleErrors).join('\n'));
    assert.ok(p.consoleErrors.some((m) => /integrity/i.test(m)), "the browser names the integrity check");
  });
}

test('Subresource Integrity: a tampered language file is refused, and the banner speaks the default language', T, async (t) => {
  const p = await cspPage(t, {
    policy: STRICT,
    html: pageHtml().replace('lang="en"', 'lang="de"'),
    tamper: { '/lang/de.json': (body) => Buffer.from(String(body).replace('Alle akzeptieren', 'Alle ablehnen')) },
  });
  const { page } = p;
  await page.goto(BASE + '/csp/page.html');
  await banner(page).waitFor();
  assert.equal(await page.evaluate(() => document.getElementById('consentry-root').getAttribute('lang')), 'en');
  assert.match(widgetErrors(p.consoleErrors).join('\n'), /de/);
  assert.ok(p.consoleErrors.some((m) => /integrity/i.test(m)), "the browser names the integrity check");
});
