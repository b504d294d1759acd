// The npm package as a TypeScript project gets it: `npm pack` of
// target/dist/npm, installed from the tarball into a fresh project, its
// typed usage checked by `tsc --noEmit` (strict, moduleResolution
// "bundler"), a config the schema refuses rejected by the compiler, and the
// ESM build imported by a browser page with no bundler.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBrowser, T, BASE, banner, landingConfig, widgetErrors } from './helpers.mjs';

const newPage = useBrowser();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/.bin/tsc');
const NPM_DIR = join(ROOT, 'target/dist/npm');

let project;
before(() => {
  assert.ok(existsSync(join(NPM_DIR, 'package.json')), 'run `cargo xtask dist` first');
  project = mkdtempSync(join(tmpdir(), 'consentry-npm-'));
  const packed = execFileSync('npm', ['pack', NPM_DIR, '--pack-destination', project, '--silent'], { encoding: 'utf8' })
    .trim().split('\n').pop();
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'typed-site', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(project, packed)],
    { cwd: project, stdio: 'pipe', timeout: 60_000 });
  const options = {
    strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022',
    lib: ['es2022', 'dom'], types: [],
  };
  for (const name of ['usage', 'bad']) {
    writeFileSync(join(project, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: options, files: [`${name}.ts`] }));
  }
}, { timeout: 90_000 });

const tsc = (name) => spawnSync(TSC, ['-p', `tsconfig.${name}.json`], { cwd: project, encoding: 'utf8', timeout: 60_000 });

test('the package type-checks a typed use of the whole API, strict, with moduleResolution "bundler"', { timeout: 90_000 }, () => {
  writeFileSync(join(project, 'usage.ts'), `
import { init, on, getConsent, isGranted, acceptedService, acceptCategories, setLanguage, reset,
  hide, hidePreferences, validConsent, getConfig, getUserPreferences, eraseCookies, loadScript,
  type ConsentryConfig, type ConsentChange } from 'consentry';

const config: ConsentryConfig = {
  id: 'acme',
  privacyPolicyUrl: '/privacy',
  categories: [
    { id: 'necessary', title: 'Necessary', necessary: true },
    { id: 'marketing', title: 'Marketing', services: [{ id: 'youtube', name: 'YouTube', provider: 'Google' }] },
  ],
  consentMode: { mode: 'basic', region: ['ES'], waitForUpdate: 500 },
  microsoft: { clarity: true },
  translations: { de: { acceptAll: 'Alle akzeptieren' } },
};
await init(config);
const off: () => void = on('change', (c: ConsentChange) => {
  const action: 'grant' | 'update' | 'withdraw' = c.action;
  console.log(action, c.granted.length, c.categories[0]);
});
off();
const consent = getConsent();
if (consent) console.log(consent.receiptId.toUpperCase(), consent.revision + 1);
const yes: boolean = isGranted('marketing') && acceptedService('youtube', 'marketing');
acceptCategories(['marketing']);
await setLanguage('fr');
reset();
window.consentry?.showPreferences();
hide();
hidePreferences();
const prefs = getUserPreferences();
const kind: 'all' | 'necessary' | 'custom' | null = prefs.acceptType;
console.log(kind, prefs.acceptedServices['marketing']?.length, validConsent(), getConfig()?.id);
eraseCookies(/^_ga/, '/');
eraseCookies(['a', 'b']);
await loadScript('/tag.js', { async: '' });
on('ready', (c) => console.log(c?.categories));
on('form', (f) => console.log(f.form, f.purposes[0]?.granted, f.receiptId));
addEventListener('consentry:change', (e) => console.log(e.detail.method, yes));

// A config the schema refuses does not compile.
// @ts-expect-error id must be a string
await init({ id: 42, privacyPolicyUrl: '/p', categories: [{ id: 'a', title: 'A' }] });
// @ts-expect-error unknown fields are errors
await init({ id: 'a', privacyPolicyUrl: '/p', categories: [{ id: 'a', title: 'A' }], colour: 'red' });
// @ts-expect-error mode is basic or advanced
await init({ id: 'a', privacyPolicyUrl: '/p', categories: [{ id: 'a', title: 'A' }], consentMode: { mode: 'full' } });
// @ts-expect-error on takes a callback of a change
on('change', (n: number) => n);
const read = getConfig();
// @ts-expect-error getConfig() is read-only
if (read) read.id = 'other';
`);
  const r = tsc('usage');
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('init({ id: 42 }) is a type error that names the field', { timeout: 90_000 }, () => {
  writeFileSync(join(project, 'bad.ts'), "import { init } from 'consentry';\nawait init({ id: 42 });\n");
  const r = tsc('bad');
  assert.notEqual(r.status, 0, 'tsc must refuse it');
  assert.match(r.stdout, /bad\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/, r.stdout);
});

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

test('the installed ESM build runs in a browser page with no bundler', T, async (t) => {
  const pkg = join(project, 'node_modules/consentry');
  const p = await newPage(t);
  const config = { ...landingConfig(), forms: undefined, endpoint: undefined };
  await p.page.route(BASE + '/typed-site/**', (route) => {
    const path = new URL(route.request().url()).pathname.replace('/typed-site/node_modules/consentry/', '');
    if (route.request().url().endsWith('/typed-site/')) {
      return route.fulfill({ contentType: 'text/html', body: `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Typed site</title></head><body><main><h1>Typed site</h1></main>
<script type="module">
  import { init, getConsent } from './node_modules/consentry/index.js';
  await init(${JSON.stringify(config)});
  window.started = getConsent() === null;
</script></body></html>` });
    }
    const file = join(pkg, path);
    if (!file.startsWith(pkg) || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ contentType: TYPES[extname(file)] || 'application/octet-stream', body: readFileSync(file) });
  });
  await p.page.goto(BASE + '/typed-site/');
  await banner(p.page).getByRole('button', { name: 'Accept all', exact: true }).waitFor();
  assert.equal(await p.page.evaluate(() => window.started), true);
  assert.deepEqual(widgetErrors(p.consoleErrors), []);
});

test('cleanup', () => {
  rmSync(project, { recursive: true, force: true });
});
