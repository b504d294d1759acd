// Consentry as an ES module: `import { init, isGranted, on } from 'consentry'`.
// Same API as window.consentry from the script tag; init(config) loads the wasm
// that sits next to this file, waits for the DOM, and starts the widget.
import load, * as core from './consentry-core.js';

let started = null;

function domReady() {
  return new Promise((resolve) => {
    if (document.readyState !== 'loading') resolve();
    else document.addEventListener('DOMContentLoaded', () => resolve(), { once: true });
  });
}

/** Starts the widget with a site config object (see consentry.schema.json). */
export function init(config) {
  started = started || load({ module_or_path: new URL('./consentry-core_bg.wasm', import.meta.url) });
  return started.then(domReady).then(() => core.init(config));
}

function ready(name) {
  return (...args) => {
    if (!started) {
      console.error('consentry: not started yet: call init(config) first (' + name + ')');
      return null;
    }
    return core[name](...args);
  };
}

export const show = ready('show');
export const showPreferences = ready('showPreferences');
export const acceptAll = ready('acceptAll');
export const rejectAll = ready('rejectAll');
export const acceptCategories = ready('acceptCategories');
export const getConsent = ready('getConsent');
export const isGranted = (id) => (started ? core.isGranted(id) : false);
export const reset = ready('reset');

/** Calls callback(detail) on every change; returns a function that unsubscribes. */
export function on(event, callback) {
  if (!started) {
    console.error('consentry: not started yet: call init(config) first (on)');
    return () => {};
  }
  const id = core.on(event, callback);
  return () => core.off(id);
}
