/*! Consentry loader: the one classic <script> a site pastes.
 *  <script src="/consentry.js" data-config="/consentry.config.json" defer></script>
 *  Reads the config (inline <script type="application/json" id="consentry-config">
 *  first, else data-config), starts the consent core (pkg-config/core.js, put in
 *  below by `cargo xtask dist`) and exposes window.consentry. The wasm
 *  (consentry-core.js next to this file) is fetched only when the page needs
 *  it. Any failure is one console error; the page goes on. */
(function () {
  var tag = document.currentScript;
  if (!tag || window.consentry) return;
  var base = new URL('.', tag.src).href;

  /*__CONSENTRY_CORE__*/

  function readConfig() {
    var inline = document.getElementById('consentry-config');
    if (inline) return Promise.resolve(inline.textContent);
    var url = tag.getAttribute('data-config');
    if (!url) {
      return Promise.reject(new Error('no config: add data-config="/consentry.config.json" to the script tag, ' +
        'or a <script type="application/json" id="consentry-config"> to the page'));
    }
    return fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error('could not load the config from ' + url + ' (HTTP ' + r.status + ')');
      return r.text();
    });
  }

  function domReady() {
    return new Promise(function (resolve) {
      if (document.readyState !== 'loading') resolve();
      else document.addEventListener('DOMContentLoaded', function () { resolve(); }, { once: true });
    });
  }

  var loading;
  function loadWasm() {
    if (!loading) {
      // Each file is held to the hash `cargo xtask dist` put here
      // (Subresource Integrity): the wasm by its fetch, the glue by a
      // modulepreload, whose checked module the import then takes (an
      // import() takes no integrity of its own).
      var glue = base + 'consentry-core.js';
      var preload = document.createElement('link');
      preload.rel = 'modulepreload';
      preload.href = glue;
      preload.integrity = '__CONSENTRY_SRI_CORE__';
      preload.nonce = pageNonce();
      document.head.appendChild(preload);
      // Fetched beside its glue (which carries the widget's JS: one
      // module), not after it: one round trip instead of two before the
      // banner.
      var wasm = fetch(base + 'consentry-core_bg.wasm', { integrity: '__CONSENTRY_SRI_WASM__' });
      wasm.catch(function () {}); // reported once, by the init that awaits it
      loading = import(glue).then(function (m) {
        return m.default({ module_or_path: wasm }).then(function () { return m; });
      });
      // A failed load (offline, a blip) is tried again on the next need.
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  earlyDefault();
  var languages = languageFiles(base, '__CONSENTRY_SRI_LANG__');

  // A first visit needs the wasm for sure, and most likely the texts of the
  // page's language: fetch them while the config loads.
  if (firstVisit()) {
    loadWasm().catch(function () {});
    var likely = likelyLanguage();
    if (likely) languages(likely).catch(function () {});
  }

  Promise.all([readConfig(), domReady()]).then(function (r) {
    return consentryStart(r[0], loadWasm, function (api) { window.consentry = api; }, languages);
  }).catch(fail);
})();
