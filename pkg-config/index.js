// Consentry as an ES module: `import { init, isGranted, on } from 'consentry'`.
// Same API as window.consentry from the script tag. init(config) starts the
// consent core (pkg-config/core.js, put in below by `cargo xtask dist`), which
// imports the wasm next to this file only when the page needs it, so a
// bundler splits it off and a returning visitor never fetches it.

/*__CONSENTRY_CORE__*/

let started = null;
let published = null;

function domReady() {
  return new Promise((resolve) => {
    if (document.readyState !== 'loading') resolve();
    else document.addEventListener('DOMContentLoaded', () => resolve(), { once: true });
  });
}

let loading = null;
function loadWasm() {
  if (!loading) {
    loading = import('./consentry-core.js').then((m) =>
      m.default({ module_or_path: new URL('./consentry-core_bg.wasm', import.meta.url) }).then(() => m));
    // A failed load (offline, a blip) is tried again on the next need.
    loading.catch(() => { loading = null; });
  }
  return loading;
}

/**
 * Starts the widget with a site config object (see consentry.schema.json)
 * or its JSON text; resolves once it runs on the page (or has reported why not).
 */
export function init(config) {
  if (started) {
    console.error('consentry: init was already called; call reset() to ask again');
    return started;
  }
  const text = typeof config === 'string' ? config
    : config !== null && typeof config === 'object' ? JSON.stringify(config) : null;
  started = domReady().then(() => {
    // Not a config at all: the wasm says so, in the words of every config error.
    if (text === null) return loadWasm().then((m) => m.init(config));
    return consentryStart(text, loadWasm, (a) => { published = a; }, languageFiles(new URL('./', import.meta.url).href));
  }).catch(fail);
  return started;
}

function ready(name) {
  return (...args) => {
    if (!published) {
      console.error('consentry: not started yet: call init(config) first (' + name + ')');
      return null;
    }
    return published[name](...args);
  };
}

export const show = ready('show');
export const showPreferences = ready('showPreferences');
export const acceptAll = ready('acceptAll');
export const rejectAll = ready('rejectAll');
export const acceptCategories = ready('acceptCategories');
export const setLanguage = ready('setLanguage');
export const getConsent = ready('getConsent');
export const isGranted = (id) => (published ? published.isGranted(id) : false);
export const acceptedService = (id, category) => (published ? published.acceptedService(id, category) : false);
export const reset = ready('reset');
export const hide = ready('hide');
export const hidePreferences = ready('hidePreferences');
export const validConsent = () => (published ? published.validConsent() : false);
export const getConfig = ready('getConfig');
export const getUserPreferences = ready('getUserPreferences');
export const eraseCookies = ready('eraseCookies');
export const loadScript = ready('loadScript');

/** Calls callback(detail) on every change; returns a function that unsubscribes. */
export function on(event, callback) {
  if (!published) {
    console.error('consentry: not started yet: call init(config) first (on)');
    return () => {};
  }
  return published.on(event, callback);
}
