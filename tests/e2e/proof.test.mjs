// Rule 8, end to end: a receipt is never lost and always says what the
// visitor saw — a form that posts to another site (a CRM on a second local
// port), a collector that is down or hidden behind a proxy's 404 page, a tab
// closed right after a choice, a receipt id someone else posts first, a
// script that clicks "Accept all", and two tabs of one visitor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import {
  BASE, T, useBrowser, openBanner, consentCookie, landingConfig, settle, waitReady, untilStored, payloadOf,
} from './helpers.mjs';

const newPage = useBrowser();
const ADMIN = process.env.CONSENTRY_ADMIN_TOKEN;
const RECEIPTS = `${BASE}/v1/receipts`;
const LONG = { timeout: 60_000 };

/** The receipt `id` of visitor key `key` at the collector. */
const stored = async (id, key) =>
  (await untilStored(`${RECEIPTS}/${id}` + (key ? `?key=${key}` : ''), `receipt ${id}`)).json();

/** The notice (every text shown) the collector keeps under `sha256`. */
const storedNotice = async (sha256) => (await untilStored(`${BASE}/v1/notices/${sha256}`, `notice ${sha256}`)).text();

/** The journal entries the widget keeps in localStorage (one line per field). */
async function journal(page) {
  return page.evaluate(() =>
    Object.entries(localStorage)
      .filter(([k]) => k.startsWith('consentry:entry:'))
      .map(([, v]) => {
        // One field per line, in src/outbox.rs `Entry::to_text` order.
        const [format, id, site, endpoint, , attempts, , , , , , jws] = v.split('\n');
        return { format, id, site, endpoint, attempts: Number(attempts), jws };
      }),
  );
}

/** A second origin that takes form posts, as a CRM would, and records them. */
async function startCrm(t) {
  const posts = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST') posts.push(Object.fromEntries(new URLSearchParams(body)));
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>Thanks</title><p>Thanks for signing up!</p>');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${server.address().port}/subscribe`, posts };
}

/** A landing page of the site whose newsletter form posts to `action`. */
function formPage(action, bannerTitle) {
  const config = landingConfig();
  config.texts = { ...config.texts, bannerTitle };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign up</title>
<script type="application/json" id="consentry-config">${JSON.stringify(config)}</script>
<script src="/consentry.js" defer></script></head>
<body><main><h1>Sign up</h1>
<form id="newsletter-form" action="${action}" method="post">
  <label for="email">Email address</label> <input id="email" name="email" type="email">
  <button type="submit" name="list" value="weekly">Subscribe</button>
</form></main></body></html>`;
}

/** Serves `html` at `path` on the site's own origin (the widget files stay real). */
async function servePage(page, path, html) {
  await page.route(BASE + path, (route) => route.fulfill({ contentType: 'text/html', body: html }));
}

async function signUp(page, path) {
  await page.goto(BASE + path);
  await waitReady(page);
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel(/Send me the ACME newsletter/).check();
  await Promise.all([page.waitForURL(/\/subscribe$/), page.getByRole('button', { name: 'Subscribe' }).click()]);
}

test('a form that posts to a CRM on another origin still delivers its receipt, with no second page of the site', LONG, async (t) => {
  const crm = await startCrm(t);
  const { page, context } = await newPage(t);
  const started = [];
  context.on('request', (r) => r.method() === 'POST' && started.push(r.url()));
  await servePage(page, '/signup', formPage(crm.url, 'We value your privacy'));
  await signUp(page, '/signup');
  assert.equal(crm.posts.length, 1, 'the form was sent once');
  assert.ok(
    started.indexOf(RECEIPTS) !== -1 && started.indexOf(RECEIPTS) < started.indexOf(crm.url),
    `the receipt is handed to the network before the form leaves: ${JSON.stringify(started)}`,
  );
  const sent = crm.posts[0];
  assert.equal(sent.email, 'ada@example.com');
  assert.equal(sent.list, 'weekly', "the submitter's name and value go with the form");
  assert.equal(sent.consentry_newsletter, 'yes');
  assert.match(sent.consentry_receipt_key, /^[A-Za-z0-9_-]{43}$/, 'the visitor key names the receipt with its id');
  // The visitor is on the CRM's page now: the receipt must already be on its way.
  const s = await stored(sent.consentry_receipt_id, sent.consentry_receipt_key);
  const receipt = payloadOf(s.jws);
  assert.equal(receipt.receipt_id, sent.consentry_receipt_id);
  assert.equal(receipt.subject.key, sent.consentry_receipt_key);
  assert.equal(receipt.method, 'form_submit');
  assert.equal(receipt.context.page, BASE + '/signup');
  assert.deepEqual(receipt.purposes.map((p) => [p.id, p.granted]), [['newsletter', true], ['product-updates', false]]);
});

test('a form sent while the collector is unreachable is delivered later with the texts of the form page', LONG, async (t) => {
  const crm = await startCrm(t);
  const { page, context } = await newPage(t);
  await servePage(page, '/signup', formPage(crm.url, 'Before you sign up'));
  await context.route(`${BASE}/v1/**`, (route) => route.abort('connectionrefused'));
  await signUp(page, '/signup');
  const { consentry_receipt_id: id, consentry_receipt_key: key } = crm.posts[0];
  await context.unroute(`${BASE}/v1/**`);
  // Later, a page of the site whose banner says something else.
  const later = await context.newPage();
  await servePage(later, '/other', formPage(crm.url, 'A different banner'));
  await later.goto(BASE + '/other');
  const receipt = payloadOf((await stored(id, key)).jws);
  assert.equal(receipt.context.page, BASE + '/signup', 'the page where the choice was made');
  const notice = await storedNotice(receipt.notice.sha256);
  assert.match(notice, /"bannerTitle":"Before you sign up"/, 'the texts the visitor saw');
  assert.doesNotMatch(notice, /A different banner/);
});

test('an endpoint that answers 404 with a proxy page for a while loses nothing', LONG, async (t) => {
  const { page, context } = await newPage(t);
  const answered = [];
  await context.route(RECEIPTS, (route) => {
    answered.push(404);
    return route.fulfill({ status: 404, contentType: 'text/html', body: '<html><body>Not Found</body></html>' });
  });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  const deadline = Date.now() + 5_000;
  while (answered.length < 2 && Date.now() < deadline) await settle(page, 200);
  assert.ok(answered.length >= 2, `retried after the 404 (${answered.length} tries)`);
  assert.equal((await journal(page)).length, 1, 'still in the journal');
  assert.ok(
    consoleErrors.some((m) => m.includes('answered 404') && m.includes('kept')),
    `one console error names the cause: ${JSON.stringify(consoleErrors)}`,
  );
  await context.unroute(RECEIPTS);
  const receipt = payloadOf((await stored(id)).jws);
  assert.equal(receipt.method, 'accept_all');
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')), null, { timeout: 15_000 });
});

test('a tab closed right after a choice sends its receipt by beacon', LONG, async (t) => {
  const { page, context } = await newPage(t);
  // Ordinary delivery fails; only the beacon on pagehide can get through.
  await context.route(RECEIPTS, (route) => route.abort('connectionrefused'));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await page.waitForFunction(
    () => Object.values(localStorage).some((v) => v.startsWith('consentry-entry-1\n') && v.split('\n')[11]),
    null,
    { timeout: 5_000 },
  );
  await page.close({ runBeforeUnload: true });
  const receipt = payloadOf((await stored(id)).jws);
  assert.equal(receipt.method, 'reject_all');
});

test('a receipt left behind is delivered from the next page, with no online event', LONG, async (t) => {
  const { page, context } = await newPage(t);
  await context.route(`${BASE}/v1/**`, (route) => route.abort('connectionrefused'));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await page.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')));
  // Leaving without a beacon getting through either.
  await page.goto('about:blank');
  await context.unroute(`${BASE}/v1/**`);
  const next = await context.newPage();
  await next.goto(BASE + '/privacy.html');
  const receipt = payloadOf((await stored(id)).jws);
  assert.equal(receipt.method, 'accept_all');
});

test('a send left unanswered by a tab that is gone is taken up and confirmed at once by the next page', LONG, async (t) => {
  const { page, context } = await newPage(t);
  // Nothing of the first tab gets through: its POST never answers, and no
  // beacon leaves (this test is about the lease, not the beacon).
  await context.addInitScript(() => {
    Navigator.prototype.sendBeacon = () => true;
  });
  // The first tab's POSTs are held unanswered, then dropped; later ones go through.
  let hold = true;
  const held = [];
  await context.route(RECEIPTS, (route) => (hold ? held.push(route) : route.continue()));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  // Signed, and taken for sending by this tab (a lease with its page id).
  await page.waitForFunction(() =>
    Object.values(localStorage).some((v) => {
      const f = v.split('\n');
      return f[0] === 'consentry-entry-1' && f[11] && f[9];
    }),
  );
  // The tab dies mid-send: its main thread stops (as a crash or a killed
  // process would), so it never hears the POST fail and never ends its lease.
  page.evaluate(() => {
    for (;;);
  }).catch(() => {});
  await new Promise((res) => setTimeout(res, 200));
  await page.close();
  await Promise.all(held.map((r) => r.abort().catch(() => {})));
  hold = false;
  const started = Date.now();
  const next = await context.newPage();
  await next.goto(BASE + '/privacy.html');
  // (Its keepalive POST may still have reached the collector after the tab
  // died; what the lease decides is whether the next page confirms the
  // receipt and clears the journal now, or only after 20 s.)
  await next.waitForFunction(
    () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')),
    null,
    { timeout: Math.max(1, started + 8_000 - Date.now()) },
  );
  assert.equal(payloadOf((await stored(id)).jws).method, 'accept_all');
});

test("a receipt id another key posts first still stores the visitor's receipt", { ...LONG, skip: !ADMIN && 'CONSENTRY_ADMIN_TOKEN not set' }, async (t) => {
  const { page, context } = await newPage(t);
  await context.route(RECEIPTS, (route) => route.abort('connectionrefused'));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await page.waitForFunction(() => Object.values(localStorage).some((v) => v.startsWith('consentry-entry-1\n') && v.split('\n')[11]));
  const [{ jws: visitorJws }] = await journal(page);
  const visitor = payloadOf(visitorJws);

  // The squatter saw the id (cookie, form field, a released script) and posts first.
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
  const jwk = await jose.exportJWK(publicKey);
  const squat = structuredClone(visitor);
  squat.subject.key = await jose.calculateJwkThumbprint(jwk, 'sha256');
  squat.purposes = squat.purposes.map((p) => ({ ...p, granted: p.id === 'necessary' }));
  const squatJws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(squat)))
    .setProtectedHeader({ alg: 'ES256', typ: 'consentry-receipt+jws', jwk })
    .sign(privateKey);
  const posted = await fetch(RECEIPTS, { method: 'POST', body: squatJws, headers: { 'content-type': 'text/plain', origin: BASE } });
  assert.equal(posted.status, 201, 'the squatter is stored under its own key');

  await context.unroute(RECEIPTS);
  const s = await stored(id, visitor.subject.key);
  assert.equal(s.jws, visitorJws, "the visitor's exact bytes");
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')), null, { timeout: 15_000 });
  const ndjson = await (await fetch(`${BASE}/v1/export?site=acme-landing&format=ndjson`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const rows = ndjson.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.receipt_id === id);
  assert.equal(rows.length, 2, 'two receipts share the id, one per key');
  assert.ok(rows.some((r) => r.jws === visitorJws), "the export holds the visitor's JWS");
});

test('a scripted click on "Accept all" is not the visitor\'s choice', T, async (t) => {
  const { page, context } = await newPage(t);
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const b = await openBanner(page);
  await page.evaluate(() => {
    const root = document.getElementById('consentry-root').shadowRoot;
    [...root.querySelectorAll('button')].find((x) => x.textContent === 'Accept all').click();
  });
  await settle(page, 300);
  assert.equal(await consentCookie(context), null, 'no choice was stored');
  assert.equal(await b.isVisible(), true, 'the banner still asks');
  assert.deepEqual(await journal(page), [], 'no receipt was written');
  assert.ok(warnings.some((w) => w.includes('acceptAll()')), `a warning points to the JS API: ${JSON.stringify(warnings)}`);
  // The API is the way for site code, and its receipts say so.
  await page.evaluate(() => window.consentry.acceptAll());
  const receipt = payloadOf((await stored((await consentCookie(context)).id)).jws);
  assert.equal(receipt.method, 'api');
});

test('a box a script ticks is neither granted in the receipt nor sent with the form', LONG, async (t) => {
  const crm = await startCrm(t);
  const { page } = await newPage(t);
  await servePage(page, '/signup', formPage(crm.url, 'We value your privacy'));
  await page.goto(BASE + '/signup');
  await waitReady(page);
  await page.getByLabel(/Send me the ACME newsletter/).check();
  await page.evaluate(() => {
    document.querySelector('input[data-purpose="product-updates"]').checked = true;
  });
  await Promise.all([page.waitForURL(/\/subscribe$/), page.getByRole('button', { name: 'Subscribe' }).click()]);
  const sent = crm.posts[0];
  assert.equal(sent['consentry_product-updates'], undefined, 'the scripted tick is left out of the data');
  const receipt = payloadOf((await stored(sent.consentry_receipt_id, sent.consentry_receipt_key)).jws);
  assert.deepEqual(receipt.purposes.map((p) => [p.id, p.granted]), [['newsletter', true], ['product-updates', false]]);
});

test('with the site open in two tabs, one choice is signed once and stored once', { ...LONG, skip: !ADMIN && 'CONSENTRY_ADMIN_TOKEN not set' }, async (t) => {
  const { page, context } = await newPage(t);
  // Signing takes 300 ms in both tabs, so the other tab surely looks at the
  // journal while this one signs: only the journal lock keeps it from
  // signing the same entry too.
  await context.addInitScript(() => {
    const sign = SubtleCrypto.prototype.sign;
    SubtleCrypto.prototype.sign = async function (...args) {
      await new Promise((r) => setTimeout(r, 300));
      return sign.apply(this, args);
    };
  });
  const other = await context.newPage();
  await other.goto(BASE + '/privacy.html');
  await waitReady(other);
  // The other tab's courier wakes the moment the entry is written.
  await other.evaluate(() =>
    addEventListener('storage', (e) => e.key?.startsWith('consentry:entry:') && dispatchEvent(new Event('online'))),
  );
  const statuses = [];
  context.on('response', (r) => r.url() === RECEIPTS && statuses.push(r.status()));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await stored(id);
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')), null, { timeout: 15_000 });
  await settle(page, 1_000);
  assert.ok(!statuses.includes(409), `never signed twice (statuses: ${statuses})`);
  const ndjson = await (await fetch(`${BASE}/v1/export?site=acme-landing&format=ndjson`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const rows = ndjson.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.receipt_id === id);
  assert.equal(rows.length, 1, 'one stored receipt');
});

test('without localStorage or IndexedDB the receipt of this page is still signed and sent, and the console says it cannot survive a reload', LONG, async (t) => {
  const { page, context } = await newPage(t);
  await context.addInitScript(() => {
    Object.defineProperty(window, 'localStorage', {
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
    delete window.indexedDB;
  });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const receipt = payloadOf((await stored((await consentCookie(context)).id)).jws);
  assert.equal(receipt.method, 'accept_all');
  const said = consoleErrors.filter((m) => m.includes('cannot survive a reload'));
  assert.equal(said.length, 1, `one console line: ${JSON.stringify(consoleErrors)}`);
});

test('without crypto.getRandomValues the choice applies but no receipt is made (never an all-zero id)', T, async (t) => {
  const { page, context } = await newPage(t);
  await context.addInitScript(() => {
    Crypto.prototype.getRandomValues = () => {
      throw new Error('no randomness here');
    };
  });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const cookie = await consentCookie(context);
  assert.deepEqual(cookie.c, ['necessary', 'analytics', 'marketing'], 'the choice itself is kept');
  assert.ok(!cookie.id || !/^0{8}-/.test(cookie.id), `no all-zero id: ${cookie.id}`);
  assert.deepEqual(await journal(page), [], 'no receipt');
  assert.ok(consoleErrors.some((m) => m.includes('getRandomValues')), JSON.stringify(consoleErrors));
});

/** JSON with sorted keys: RFC 8785 for receipts (strings, whole numbers, booleans). */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

test('receipts an earlier release left in its IndexedDB outbox and journal are delivered, not dropped', LONG, async (t) => {
  const golden = JSON.parse(readFileSync(new URL('../../crates/receipt/testdata/valid.payload.json', import.meta.url), 'utf8'));
  const now = Date.now();
  const receipt = (id) => ({
    ...structuredClone(golden),
    receipt_id: id,
    issued_at: new Date(now - 60_000).toISOString(),
    expires_at: new Date(now + 90 * 86_400_000).toISOString(),
    context: { ...golden.context, page: BASE + '/' },
  });
  // Signed and waiting in the old IndexedDB outbox.
  const signedId = crypto.randomUUID();
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
  const jwk = await jose.exportJWK(publicKey);
  const signedPayload = receipt(signedId);
  signedPayload.subject.key = await jose.calculateJwkThumbprint(jwk, 'sha256');
  const signedJws = await new jose.CompactSign(new TextEncoder().encode(canonical(signedPayload)))
    .setProtectedHeader({ alg: 'ES256', typ: 'consentry-receipt+jws', jwk })
    .sign(privateKey);
  // Written down but never signed, in the old localStorage journal.
  const writtenId = crypto.randomUUID();
  const written = receipt(writtenId);
  written.subject.key = '-'.repeat(43);
  written.notice.sha256 = '-'.repeat(64);

  const { page } = await newPage(t);
  await servePage(page, '/old-release', '<!doctype html><title>An earlier release</title><p>No widget here.</p>');
  await page.goto(BASE + '/old-release');
  await page.evaluate(
    async ({ signedId, signedJws, writtenId, writtenText, endpoint }) => {
      localStorage.setItem('consentry:journal:' + writtenId, writtenText);
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('consentry', 1);
        req.onupgradeneeded = () => ['keys', 'outbox', 'receipts', 'notices'].forEach((s) => req.result.createObjectStore(s));
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      await new Promise((resolve, reject) => {
        const tx = db.transaction('outbox', 'readwrite');
        tx.objectStore('outbox').put({ id: signedId, endpoint, jws: signedJws, attempts: 3, due: 0 }, signedId);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { signedId, signedJws, writtenId, writtenText: canonical(written), endpoint: RECEIPTS },
  );
  await page.goto(BASE + '/');
  await waitReady(page);
  assert.equal((await stored(signedId)).jws, signedJws, 'the signed receipt, byte for byte');
  const signedLater = payloadOf((await stored(writtenId)).jws);
  assert.equal(signedLater.receipt_id, writtenId);
  assert.match(signedLater.notice.sha256, /^[0-9a-f]{64}$/);
  await page.waitForFunction(
    () => !Object.keys(localStorage).some((k) => k.startsWith('consentry:journal:') || k.startsWith('consentry:entry:')),
    null,
    { timeout: 15_000 },
  );
  const left = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const req = indexedDB.open('consentry', 1);
        req.onsuccess = () => {
          const all = req.result.transaction('outbox').objectStore('outbox').getAll();
          all.onsuccess = () => resolve(all.result.length);
        };
      }),
  );
  assert.equal(left, 0, 'the old outbox is emptied once its receipts are journaled');
});
