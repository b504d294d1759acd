// Proof of consent, end to end: the visitor's browser signs a receipt for
// every grant, change and withdrawal, the real collector verifies, chains and
// countersigns it, and an independent JOSE implementation (npm `jose`) agrees
// with both signatures. Also: nothing is lost while the collector is down,
// forms carry their receipt id, and Global Privacy Control is recorded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import {
  BASE, T, useBrowser, openBanner, consentCookie, preferences, waitReady, runAxe, assertNoViolations, settle,
  storedReceipt,
} from './helpers.mjs';

const newPage = useBrowser();
const ADMIN = process.env.CONSENTRY_ADMIN_TOKEN;
const COLLECTOR_BIN = process.env.CONSENTRY_COLLECTOR_BIN;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const stored = storedReceipt;

/** Verifies a receipt JWS with jose, as a regulator would: no Consentry code involved. */
async function verifyIndependently(jws) {
  const header = jose.decodeProtectedHeader(jws);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.typ, 'consentry-receipt+jws');
  const key = await jose.importJWK(header.jwk, 'ES256');
  const { payload } = await jose.compactVerify(jws, key);
  const receipt = JSON.parse(new TextDecoder().decode(payload));
  assert.equal(receipt.subject.key, await jose.calculateJwkThumbprint(header.jwk, 'sha256'), 'subject.key is the key thumbprint');
  return receipt;
}

/** Verifies the collector's countersignature against its published JWKS. */
async function verifyCountersignature(stored, base = BASE) {
  const jwks = jose.createLocalJWKSet(await (await fetch(`${base}/.well-known/jwks.json`)).json());
  const { payload, protectedHeader } = await jose.compactVerify(stored.countersignature, jwks);
  assert.equal(protectedHeader.alg, 'EdDSA');
  const claims = JSON.parse(new TextDecoder().decode(payload));
  assert.equal(claims.receipt_id, stored.receipt_id);
  assert.equal(claims.chain_hash, stored.chain_hash);
  assert.equal(claims.seq, stored.seq);
  return claims;
}

test('accepting all produces a signed receipt the collector stores and anyone can verify', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const cookie = await consentCookie(context);
  assert.match(cookie.id, UUID);
  const s = await stored(cookie.id);
  const receipt = await verifyIndependently(s.jws);
  assert.equal(receipt.receipt_id, cookie.id);
  assert.equal(receipt.action, 'grant');
  assert.equal(receipt.method, 'accept_all');
  assert.equal(receipt.site, 'acme-landing');
  assert.deepEqual(receipt.purposes.map((p) => [p.id, p.granted]), [['necessary', true], ['analytics', true], ['marketing', true]]);
  assert.equal(receipt.context.page, BASE + '/', 'origin and path only');
  assert.match(receipt.notice.sha256, /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(receipt).includes('127.0.0.1:') || receipt.context.page.startsWith(BASE), 'no address but the page');
  for (const field of ['ip', 'ip_address', 'remote_addr']) assert.equal(receipt[field], undefined);
  await verifyCountersignature(s);
  // The exact texts the visitor saw are kept by their hash.
  const notice = await fetch(`${BASE}/v1/notices/${receipt.notice.sha256}`);
  assert.equal(notice.status, 200);
  assert.match(await notice.text(), /"acceptAll":"Accept all"/);
});

test('withdrawing produces a withdrawal receipt chained to the grant', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const first = (await consentCookie(context)).id;
  await stored(first);
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  await preferences(page).getByRole('button', { name: 'Reject all', exact: true }).click();
  const second = (await consentCookie(context)).id;
  assert.notEqual(second, first);
  const receipt = await verifyIndependently((await stored(second)).jws);
  assert.equal(receipt.action, 'withdraw');
  assert.equal(receipt.previous, first, "the visitor's history is a chain");
  assert.deepEqual(receipt.purposes.filter((p) => p.granted).map((p) => p.id), ['necessary']);
});

test('the preferences dialog shows the latest receipt and downloads it with the countersignature', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await stored(id);
  // The acknowledgement lands asynchronously: after the reload, wait (bounded)
  // until the widget has confirmed it, then open the dialog.
  await page.reload();
  await waitReady(page);
  await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('consentry:entry:')), null, { timeout: 10_000 });
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const dlg = preferences(page);
  await dlg.getByRole('heading', { name: 'Your consent receipt' }).waitFor();
  assert.match(await dlg.getByText(/^Receipt /).textContent(), new RegExp(id));
  await settle(page, 400);
  assertNoViolations(await runAxe(page), 'with the preferences open on a receipt');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    dlg.getByRole('link', { name: 'Download receipt' }).click(),
  ]);
  const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(file.receipt_id, id);
  const receipt = await verifyIndependently(file.receipt);
  assert.equal(receipt.method, 'reject_all');
  assert.ok(file.collector?.countersignature, `countersigned copy kept: ${JSON.stringify(file.collector)}`);
  await verifyCountersignature(file.collector);
  // The file carries its place in the site's transparency log, and an
  // auditor holding only the collector's public keys proves it is there.
  assert.match(file.collector.checkpoint ?? '', /^localhost\/consentry\/acme-landing\n\d+\n/);
  assert.ok(Array.isArray(file.collector.inclusion_proof), 'an inclusion proof');
  assert.equal(typeof file.collector.leaf_index, 'number');
  if (COLLECTOR_BIN && process.env.CONSENTRY_DATABASE_URL) {
    const dir = mkdtempSync(join(tmpdir(), 'consentry-receipt-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'receipt.json'), readFileSync(await download.path()));
    writeFileSync(join(dir, 'jwks.json'), await (await fetch(`${BASE}/.well-known/jwks.json`)).text());
    const out = spawnSync(COLLECTOR_BIN, ['verify', '--site', 'acme-landing', '--database', process.env.CONSENTRY_DATABASE_URL,
      '--jwks', join(dir, 'jwks.json'), '--receipt', join(dir, 'receipt.json')], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CONSENTRY_KEY_FILE: join(dir, 'no-key') } });
    assert.equal(out.status, 0, `verify --receipt: ${out.stdout}${out.stderr}`);
    const report = JSON.parse(out.stdout.trim().split('\n').pop());
    assert.deepEqual(report.saved.map((s) => s.ok), [true], out.stdout);
  }
});

test("a form's consent goes out with a receipt id the collector holds", T, async (t) => {
  const { page } = await newPage(t);
  await openBanner(page);
  await page.evaluate(() => {
    window.addEventListener('submit', (e) => {
      window.__sent = Object.fromEntries(new FormData(e.target));
    });
  });
  await page.getByLabel('Email address').fill('ada@example.com');
  await page.getByLabel(/Send me the ACME newsletter/).check();
  await page.getByRole('button', { name: 'Subscribe' }).click();
  const sent = await page.waitForFunction(() => window.__sent).then((h) => h.jsonValue());
  assert.match(sent.consentry_receipt_id, UUID);
  const receipt = await verifyIndependently((await stored(sent.consentry_receipt_id)).jws);
  assert.equal(receipt.method, 'form_submit');
  assert.equal(receipt.context.form, '#newsletter-form');
  assert.deepEqual(receipt.purposes.map((p) => [p.id, p.granted]), [['newsletter', true], ['product-updates', false]]);
  assert.ok(!JSON.stringify(receipt).includes('ada@example.com'), 'the email never goes into the receipt');
});

test('Global Privacy Control is honoured by Accept all and recorded in the receipt', T, async (t) => {
  const { page, context } = await newPage(t);
  await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const b = await openBanner(page);
  await b.getByText(/Global Privacy Control signal is honoured/).waitFor();
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const cookie = await consentCookie(context);
  assert.deepEqual(cookie.c, ['necessary', 'analytics'], 'marketing (gpc: true) stays refused');
  const receipt = await verifyIndependently((await stored(cookie.id)).jws);
  assert.equal(receipt.context.gpc, true);
  assert.equal(receipt.purposes.find((p) => p.id === 'marketing').granted, false);
  // The dialog says so too, and ticking marketing there still grants it.
  await page.getByRole('button', { name: 'Privacy settings' }).click();
  const dlg = preferences(page);
  await dlg.getByText(/Global Privacy Control signal is honoured/).waitFor();
  await dlg.getByRole('checkbox', { name: 'Marketing and embedded media', exact: true }).check();
  await dlg.getByRole('button', { name: 'Save choices', exact: true }).click();
  const next = await consentCookie(context);
  assert.notEqual(next.id, cookie.id);
  assert.deepEqual(next.c, ['necessary', 'analytics', 'marketing'], 'an explicit tick grants');
  const explicit = await verifyIndependently((await stored(next.id)).jws);
  assert.equal(explicit.method, 'save_preferences');
  assert.equal(explicit.context.gpc, true, 'recorded with the signal on');
  assert.equal(explicit.purposes.find((p) => p.id === 'marketing').granted, true);
});

test('a browser without Global Privacy Control is recorded as sending none, and one set to false as false', T, async (t) => {
  for (const signal of [undefined, false]) {
    const { page, context } = await newPage(t);
    if (signal === false) {
      await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => false }));
    }
    const b = await openBanner(page);
    assert.equal(await b.getByText(/Global Privacy Control/).count(), 0, 'nothing honoured to say');
    await b.getByRole('button', { name: 'Accept all', exact: true }).click();
    const cookie = await consentCookie(context);
    assert.deepEqual(cookie.c, ['necessary', 'analytics', 'marketing']);
    const receipt = await verifyIndependently((await stored(cookie.id)).jws);
    assert.equal(receipt.context.gpc, signal, `gpc ${signal}`);
    assert.equal('gpc' in receipt.context, signal !== undefined);
    await context.close();
  }
});

test('a tampered receipt is refused and a replayed one is stored once', T, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  const s = await stored(id);
  const post = (body) => fetch(`${BASE}/v1/receipts`, { method: 'POST', body, headers: { 'content-type': 'text/plain', origin: BASE } });
  const replay = await post(s.jws);
  assert.equal(replay.status, 200, 'a duplicate is acknowledged, not stored again');
  const replayed = await replay.json();
  assert.equal(replayed.seq, s.seq);
  assert.equal(replayed.countersignature, s.countersignature);
  const [h, p, sig] = s.jws.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  payload.purposes[1].granted = false;
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
  const refused = await post(tampered);
  assert.ok(refused.status >= 400 && refused.status < 500, `tampered: ${refused.status}`);
  assert.ok((await refused.json()).error, 'a JSON error names the reason');
});

test('the site owner exports the receipts as NDJSON and CSV', { ...T, skip: !ADMIN && 'CONSENTRY_ADMIN_TOKEN not set' }, async (t) => {
  const { page, context } = await newPage(t);
  const b = await openBanner(page);
  await b.getByRole('button', { name: 'Reject all', exact: true }).click();
  const id = (await consentCookie(context)).id;
  await stored(id);
  const auth = { authorization: `Bearer ${ADMIN}` };
  assert.equal((await fetch(`${BASE}/v1/export?site=acme-landing&format=ndjson`)).status, 401, 'no token, no export');
  const ndjson = await (await fetch(`${BASE}/v1/export?site=acme-landing&format=ndjson`, { headers: auth })).text();
  const rows = ndjson.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.some((r) => r.receipt_id === id), 'the receipt is in the NDJSON export');
  const csv = await (await fetch(`${BASE}/v1/export?site=acme-landing&format=csv`, { headers: auth })).text();
  assert.ok(csv.split('\n')[0].includes('receipt_id'), 'CSV has a header row');
  assert.ok(csv.includes(id), 'the receipt is in the CSV export');
  const audit = await (await fetch(`${BASE}/v1/audit?site=acme-landing`, { headers: auth })).json();
  assert.equal(audit.ok, true, JSON.stringify(audit));
});

/** A free port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts a collector of this test's own (so it can be stopped), serving the demo too. */
async function startCollector(dir, port) {
  const child = spawn(COLLECTOR_BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--static', join(ROOT, 'www'), '--static', join(ROOT, 'target/dist')], {
    env: {
      ...process.env,
      CONSENTRY_DATABASE_URL: `sqlite://${join(dir, 'receipts.db')}`,
      CONSENTRY_SITES: join(dir, 'sites.toml'),
      CONSENTRY_KEY_FILE: join(dir, 'collector.key'),
    },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail('the test collector did not start');
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function stopCollector(child) {
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((res) => setTimeout(res, 5_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

test('a choice made while the collector is down reaches it once it is back', { ...T, timeout: 60_000, skip: !COLLECTOR_BIN && 'CONSENTRY_COLLECTOR_BIN not set' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'consentry-e2e-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'sites.toml'), `[sites.acme-landing]\norigins = ["${base}"]\nretention_days = 30\n`);
  let collector = await startCollector(dir, port);
  t.after(async () => {
    await stopCollector(collector);
    rmSync(dir, { recursive: true, force: true });
  });
  const { page, context } = await newPage(t);
  await page.goto(base + '/');
  const b = page.getByRole('dialog', { name: 'We value your privacy' });
  await b.waitFor();
  await stopCollector(collector);
  await b.getByRole('button', { name: 'Accept all', exact: true }).click();
  // Cookies are per host, not per port: the demo's helper reads this one too.
  const id = (await consentCookie(context)).id;
  assert.match(id, UUID);
  // Give the widget time to fail at least once against the stopped collector.
  await page.waitForTimeout(1_500);
  collector = await startCollector(dir, port);
  // The outbox retries on its own (backoff) and on `online`; no reload needed.
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  const s = await stored(id, base);
  const receipt = await verifyIndependently(s.jws);
  assert.equal(receipt.method, 'accept_all');
});
