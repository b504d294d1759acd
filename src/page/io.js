// The browser I/O the receipts need, as small promise-returning functions
// the Rust side (page/outbox.rs) drives: IndexedDB, the visitor's WebCrypto
// key, signing, hashing, the network, and a synchronous journal. Every
// decision (what to sign, when to retry, what to keep) is made in Rust.
//
// Where IndexedDB or localStorage is unavailable (private mode, sandboxed
// iframe) everything falls back to memory for this page: receipts are still
// signed and sent, they just do not survive a reload.

const STORES = ['keys', 'outbox', 'receipts', 'notices'];
const memory = new Map(STORES.map((s) => [s, new Map()]));
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

function run(store, write, op) {
  return db().then((d) => {
    if (!d) return op(memory.get(store), true);
    return new Promise((resolve, reject) => {
      const t = d.transaction(store, write ? 'readwrite' : 'readonly');
      const req = op(t.objectStore(store), false);
      t.oncomplete = () => resolve(req && req.result);
      t.onerror = t.onabort = () => reject(t.error);
    });
  });
}

export function idbGet(store, key) {
  return run(store, false, (s) => s.get(key));
}

export function idbPut(store, key, value) {
  if (store === 'outbox') inFlight.set(key, value);
  return run(store, true, (s, mem) => (mem ? void s.set(key, value) : s.put(value, key)));
}

export function idbDelete(store, key) {
  if (store === 'outbox') inFlight.delete(key);
  return run(store, true, (s) => void s.delete(key));
}

export function idbAll(store) {
  return run(store, false, (s, mem) => (mem ? [...s.values()] : s.getAll())).then((all) => {
    if (store === 'outbox') all.forEach((v) => inFlight.set(v.id, v));
    return all;
  });
}

// Outbox entries this page knows of, so `beaconAll` can run synchronously in
// `pagehide`, where nothing asynchronous is allowed to finish.
const inFlight = new Map();

export function beaconAll() {
  for (const v of inFlight.values()) {
    try {
      navigator.sendBeacon(v.endpoint, new Blob([v.jws], { type: 'text/plain' }));
    } catch (e) {
      // Beacons are best effort; the entry stays in the outbox for the next page.
    }
  }
}

// The visitor's key for this site: made once, private half non-extractable,
// kept in IndexedDB (a CryptoKey survives structured cloning without ever
// being exported).
export async function visitorKey(site) {
  if (!globalThis.crypto || !crypto.subtle) throw new Error('receipts need a secure (https) page: crypto.subtle is unavailable');
  let pair = await idbGet('keys', site).catch(() => undefined);
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await idbPut('keys', site, pair).catch(() => undefined);
  }
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

// Resolves to [status, body]; status 0 means the network failed.
export function post(url, body) {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' }, credentials: 'omit', keepalive: true })
    .then((r) => r.text().then((t) => [r.status, t]), () => [0, '']);
}

// The journal: receipts written down synchronously at the moment of the
// choice (a form may navigate away right after), signed later.
const journalMemory = new Map();
const PREFIX = 'consentry:journal:';

function storage() {
  try {
    return window.localStorage;
  } catch (e) {
    return null;
  }
}

export function journalPut(id, text) {
  try {
    storage().setItem(PREFIX + id, text);
  } catch (e) {
    journalMemory.set(id, text);
  }
}

export function journalDelete(id) {
  journalMemory.delete(id);
  try {
    storage().removeItem(PREFIX + id);
  } catch (e) {
    // Nothing was stored there.
  }
}

// [[id, text], …]
export function journalAll() {
  const out = [...journalMemory.entries()];
  try {
    const s = storage();
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(PREFIX)) out.push([k.slice(PREFIX.length), s.getItem(k)]);
    }
  } catch (e) {
    // No storage: the memory journal is all there is.
  }
  return out;
}
