/*! Consentry loader: the one classic <script> a site pastes.
 *  <script src="/consentry.js" data-config="/consentry.config.json" defer></script>
 *  Finds consentry-core.js and its wasm next to itself, reads the config (inline
 *  <script type="application/json" id="consentry-config"> first, else data-config),
 *  and exposes window.consentry. The config goes to the wasm as text, so JSON
 *  errors are reported by the same reader as every other config error. Any failure is one console error; the page goes on. */
(function () {
  var tag = document.currentScript;
  if (!tag || window.consentry) return;
  var base = new URL('.', tag.src).href;

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

  Promise.all([import(base + 'consentry-core.js'), readConfig(), domReady()]).then(function (r) {
    var core = r[0];
    return core.default({ module_or_path: base + 'consentry-core_bg.wasm' }).then(function () {
      window.consentry = {
        show: core.show,
        showPreferences: core.showPreferences,
        acceptAll: core.acceptAll,
        rejectAll: core.rejectAll,
        acceptCategories: core.acceptCategories,
        getConsent: core.getConsent,
        isGranted: core.isGranted,
        on: function (event, callback) {
          var id = core.on(event, callback);
          return function () { core.off(id); };
        },
        reset: core.reset
      };
      core.init(r[1]);
    });
  }).catch(function (e) {
    console.error('consentry: ' + (e && e.message ? e.message : e));
  });
})();
