// The page's browser calls, as small functions the Rust side drives: the
// cookie jar (page/cookies.rs), events and callbacks (page/signals.rs),
// each in its section below (gated content is in page/apply.js, shared
// with the loader's core), and first the
// browser I/O the receipts need (page/courier.rs): the journal and small records (localStorage),
// the visitor's WebCrypto key (IndexedDB), signing, hashing, checking the
// collector's Ed25519 countersignature, the network, the Web Lock that keeps
// two tabs from signing one entry twice, beacons on pagehide, and sending a
// held form. Every decision (what to sign, what to keep, when to retry) is
// made in Rust (src/outbox.rs).
//
// Where IndexedDB or localStorage is unavailable (private mode, sandboxed
// iframe) everything falls back to memory for this page: receipts are still
// signed and sent, they just do not survive a reload (`persistent()` says so).

const memory = new Map();
let lasting = true;

function storage() {
  try {
    const s = window.localStorage;
    s.getItem('consentry');
    return s;
  } catch (e) {
    lasting = false;
    return null;
  }
}

// Records under `consentry:<kind>:<name>`: the journal, the latest receipt,
// the collector's keys.
export function recordGet(key) {
  const s = storage();
  try {
    if (s) return s.getItem(key);
  } catch (e) {
    // Unreadable now: as if absent.
  }
  return memory.has(key) ? memory.get(key) : null;
}

export function recordPut(key, text) {
  const s = storage();
  try {
    if (s) return void s.setItem(key, text);
  } catch (e) {
    // Full or refused: this page's memory keeps it.
    lasting = false;
  }
  memory.set(key, text);
}

export function recordDelete(key) {
  memory.delete(key);
  try {
    storage()?.removeItem(key);
  } catch (e) {
    // Nothing was stored there.
  }
}

// The texts of every record whose key starts with `prefix`.
export function recordsWith(prefix) {
  const out = [];
  for (const [k, v] of memory) if (k.startsWith(prefix)) out.push(v);
  try {
    const s = storage();
    for (let i = 0; s && i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(prefix) && !memory.has(k)) out.push(s.getItem(k));
    }
  } catch (e) {
    // No storage: memory is all there is.
  }
  return out;
}

export function persistent() {
  storage();
  return lasting && typeof indexedDB !== 'undefined';
}

// Resolves, once this tab holds the journal lock, to the function that
// releases it. Without Web Locks (an old browser) there is nothing to share.
export function lock() {
  if (!navigator.locks) return Promise.resolve(() => {});
  return new Promise((held) => {
    navigator.locks.request('consentry-journal', () => new Promise((release) => held(release)));
  });
}

// Each page's courier holds a Web Lock named after its page id for as long
// as the page lives, so a tab can tell a lease taken by a closed or reloaded
// page (send now) from one a live tab holds (leave it).
const PAGE = 'consentry-page:';
export function holdPage(id) {
  navigator.locks?.request(PAGE + id, () => new Promise(() => {}));
}

// The ids of the pages whose courier runs; null without Web Locks.
export function livePages() {
  if (!navigator.locks) return Promise.resolve(null);
  return navigator.locks.query().then(
    (s) => s.held.filter((l) => l.name.startsWith(PAGE)).map((l) => l.name.slice(PAGE.length)),
    () => null,
  );
}

// IndexedDB `consentry`: the visitor's keys; earlier releases also kept
// their outbox and latest receipt there (see `takeOld`).
const STORES = ['keys', 'outbox', 'receipts', 'notices'];
let opened;
function db() {
  opened = opened || new Promise((resolve) => {
    try {
      const req = indexedDB.open('consentry', 1);
      req.onupgradeneeded = () => STORES.forEach((s) => req.result.createObjectStore(s));
      req.onsuccess = () => resolve(req.result);
      req.onerror = req.onblocked = () => resolve(null);
    } catch (e) {
      resolve(null);
    }
  });
  return opened;
}

function idb(store, write, op) {
  return db().then((d) => d && new Promise((resolve, reject) => {
    const t = d.transaction(store, write ? 'readwrite' : 'readonly');
    const req = op(t.objectStore(store));
    t.oncomplete = () => resolve(req.result);
    t.onerror = t.onabort = () => reject(t.error);
  }));
}


const pageKeys = new Map();

// The visitor's key for this site: made once, private half non-extractable,
// kept in IndexedDB (a CryptoKey survives structured cloning without ever
// being exported); without IndexedDB, one key for this page.
export async function visitorKey(site) {
  if (!globalThis.crypto || !crypto.subtle) throw new Error('receipts need a secure (https) page: crypto.subtle is unavailable');
  let pair = pageKeys.get(site) || (await idb('keys', false, (s) => s.get(site)).catch(() => undefined));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await idb('keys', true, (s) => s.put(pair, site)).catch(() => undefined);
  }
  pageKeys.set(site, pair);
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, x: jwk.x, y: jwk.y };
}

const utf8 = (text) => new TextEncoder().encode(text);

export async function sign(privateKey, text) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, utf8(text)));
}


export async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)));
}

// Resolves to [status, body]; status 0 means no answer (offline, CORS, DNS).
// `keepalive`: a request started as the page goes away still completes.
export function post(url, body) {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' }, credentials: 'omit', keepalive: true })
    .then((r) => r.text().then((t) => [r.status, t]), () => [0, '']);
}

// Checks a countersignature with the collector's Ed25519 key `kid` from its
// JWKS at `url` (kept; fetched again when it lacks `kid`, after a key
// rotation): true or false, or null where WebCrypto has no Ed25519.
export async function verifyCountersignature(url, kid, signature, input) {
  const find = (text) => {
    try {
      return JSON.parse(text).keys.find((k) => k.kid === kid && k.kty === 'OKP' && k.crv === 'Ed25519');
    } catch (e) {
      return undefined;
    }
  };
  const kept = 'consentry:jwks:' + url;
  let jwk = find(recordGet(kept));
  if (!jwk) {
    const r = await fetch(url, { credentials: 'omit' }).catch(() => null);
    const text = r && r.ok ? await r.text() : '';
    jwk = find(text);
    if (jwk) recordPut(kept, text);
  }
  if (!jwk) return false;
  let key;
  try {
    key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    return e && e.name === 'NotSupportedError' ? null : false;
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, utf8(input));
}

const OLD_JOURNAL = 'consentry:journal:';

// What releases before this one kept in IndexedDB and localStorage:
// [unsigned receipt texts, [[endpoint, jws], …], the download file of the
// site's latest receipt]. Read first, cleared (`clearOld`) only once the
// courier has journaled all of it.
export async function takeOld(site) {
  const s = storage();
  const texts = [];
  for (let i = 0; s && i < s.length; i++) {
    const k = s.key(i);
    if (k && k.startsWith(OLD_JOURNAL)) texts.push(s.getItem(k));
  }
  const outbox = (await idb('outbox', false, (o) => o.getAll()).catch(() => null)) || [];
  const latest = await idb('receipts', false, (o) => o.get(site)).catch(() => undefined);
  return [texts, outbox.map((v) => [v.endpoint, v.jws]), latest && latest.file];
}

export async function clearOld() {
  const s = storage();
  const keys = [];
  for (let i = 0; s && i < s.length; i++) {
    const k = s.key(i);
    if (k && k.startsWith(OLD_JOURNAL)) keys.push(k);
  }
  keys.forEach((k) => s.removeItem(k));
  await idb('outbox', true, (o) => o.clear()).catch(() => undefined);
  await idb('receipts', true, (o) => o.clear()).catch(() => undefined);
}

// [[endpoint, jws], …] to beacon on pagehide, where nothing asynchronous may
// finish; set by the courier after every round.
let beacons = [];
export function setBeacons(list) {
  beacons = list;
}

addEventListener('pagehide', () => {
  for (const [url, jws] of beacons) {
    try {
      navigator.sendBeacon(url, new Blob([jws], { type: 'text/plain' }));
    } catch (e) {
      // Best effort: the entry stays in the journal for the next page.
    }
  }
});

// Sends a form whose native submission the widget held back while it signed
// the form's receipt: once `handed` settles or after `ms`, whichever is
// first. The site's submit handlers already ran, so `submit()` (which runs
// none) is right; the submitter's name/value and its form* overrides are
// carried over as a native submission would.
export function submitHeld(form, submitter, handed, ms) {
  let sent = false;
  const go = () => {
    if (sent) return;
    sent = true;
    const restore = [];
    let extra = null;
    if (submitter) {
      if (submitter.name) {
        extra = document.createElement('input');
        extra.type = 'hidden';
        extra.name = submitter.name;
        extra.value = submitter.value;
        form.appendChild(extra);
      }
      for (const a of ['action', 'method', 'enctype', 'target']) {
        if (!submitter.hasAttribute('form' + a)) continue;
        restore.push([a, form.getAttribute(a)]);
        form.setAttribute(a, submitter.getAttribute('form' + a));
      }
    }
    try {
      HTMLFormElement.prototype.submit.call(form);
    } finally {
      extra?.remove();
      for (const [a, v] of restore) v === null ? form.removeAttribute(a) : form.setAttribute(a, v);
    }
  };
  Promise.race([handed, new Promise((r) => setTimeout(r, ms))]).then(go, go);
}

// --- The cookie jar ----------------------------------------

// `document.cookie` for src/page/cookies.rs, which decides what to read,
// write and delete. Cookies disabled or a sandboxed frame read as none.

export function cookies() {
  try {
    return document.cookie;
  } catch (e) {
    return '';
  }
}

export function setCookie(line) {
  try {
    document.cookie = line;
  } catch (e) {
    // Refused: nothing is stored, as if cookies were off.
  }
}

// --- The loader's core ----------------------------------------

// Sends a decision to the core's `apply` (src/page/gating.rs): false when it
// threw (it reports a vendor function of the page that throws itself).
export function tellCore(core, plan, ids, first) {
  try {
    if (core) core.apply(plan, ids === undefined ? null : ids, first);
    return true;
  } catch (e) {
    return false;
  }
}

// --- What the site hears ----------------------------------------

// What the site hears: `consentry:*` events on `window` and the callbacks
// registered with `consentry.on('change', …)`, which this module keeps.
// The wasm says what happened as JSON (src/page/signals.rs); times come as
// Unix seconds and leave as ISO strings, as the loader's core gives them.

const callbacks = new Map();
let next = 1;

export function subscribe(f) {
  callbacks.set(next, f);
  return next++;
}

export function unsubscribe(id) {
  callbacks.delete(id);
}

export function detail(json) {
  const d = JSON.parse(json);
  for (const k of ['givenAt', 'expiresAt']) if (d && k in d) d[k] = new Date(d[k] * 1000).toISOString();
  return d;
}

// Dispatches `event` with the detail `json`, then (`change`) calls every
// callback registered now. A callback that throws is the site's bug:
// reported, never allowed to stop the widget or the other callbacks.
export function announce(event, json, change) {
  const d = detail(json);
  const now = [...callbacks.values()];
  dispatchEvent(new CustomEvent(event, { detail: d }));
  if (!change) return;
  for (const f of now) {
    try {
      f(d);
    } catch (e) {
      console.error("consentry: an on('change') callback threw:", e);
    }
  }
}

// What the wasm reads of the page, in one call (each browser call made from
// Rust is an import with its own glue): origin, path, host, protocol, user
// agent and Global Privacy Control (`true`, `false`, or '' when the browser
// has none), one per line (src/page/signals.rs `PageFacts`).
export function pageFacts() {
  const gpc = navigator.globalPrivacyControl;
  return [location.origin, location.pathname, location.hostname, location.protocol, navigator.userAgent,
    typeof gpc === 'boolean' ? gpc : ''].join('\n');
}

// 16 bytes of `crypto.getRandomValues` (which, unlike `randomUUID`, also
// works on plain-http pages) as 32 hex digits; '' without it.
export function randomHex() {
  try {
    return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => (b + 256).toString(16).slice(1)).join('');
  } catch (e) {
    return '';
  }
}

export function later(callback, ms) {
  setTimeout(callback, ms);
}

export function onOnline(callback) {
  addEventListener('online', () => callback());
}

// The page's languages, best first (src/language.rs picks among them):
// `<html lang>`, then the browser's, joined by ','.
export function pageLanguages() {
  const nav = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return [document.documentElement.lang, ...nav].filter(Boolean).join(',');
}
