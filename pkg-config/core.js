// The consent core, shared by the classic loader (consentry.js) and the npm
// module (index.js): `cargo xtask dist` puts this file into both.
//
// Most page views are a returning visitor's, who already chose: for them the
// core is the whole widget. It applies the stored choice (gated content, the
// vendors' consent calls, the reopen button, getConsent/isGranted/on)
// without loading the wasm, when the config text is the one the wasm checked
// on this browser before (the record src/checked.rs leaves), the `consentry`
// cookie holds a current choice for it, and the page needs nothing more (no
// blocked iframe to draw a placeholder for, no configured form, no receipt
// waiting). Anything else, and any click or API call that asks for more,
// loads the wasm, which then owns the choice; the page itself is always
// changed here (`apply`), for the wasm's choices too.

// Put in by `cargo xtask dist`: src/ui/shell.css, with src/ui/reopen.svg in
// it as a data: URL (a CSS mask, so no markup goes in: a strict CSP's
// Trusted Types refuse `innerHTML`).
var SHELL_CSS = '__CONSENTRY_SHELL_CSS__';
// The names the wasm uses (src/checked.rs, src/consent.rs);
// tests/e2e/core.test.mjs holds both to them.
var CHECKED = 'consentry:checked';
var COOKIE = 'consentry';

// Put in by `cargo xtask dist`: src/page/apply.js, what a choice does to
// the page (releaseGated, blockedFrames, watchInserted, tellVendors).
/*__CONSENTRY_APPLY__*/

// The one way the page is changed for a choice, the core's own and the
// wasm's (its `init` gets this function, in `forWasm`): the vendors hear first, so a
// Google tag released now finds its consent state in the dataLayer. The
// page's first `default` is said once (see `earlyDefault`).
var saidDefault = false;
function apply(plan, ids, first) {
  try {
    if (!(first && saidDefault)) tellVendors(plan, ids, first);
  } catch (e) {
    // The page's own gtag, uetq or clarity threw: the choice still stands
    // and its content is still released.
    fail("the page's gtag, uetq or clarity threw while told the choice: " + (e && e.message));
  }
  saidDefault = saidDefault || first;
  releaseGated(ids);
}
// What the wasm's `init` gets: `apply`, and the shell CSS its view draws
// the reopen button with (the core's own, fetched once).
var forWasm = { apply: apply, shell: SHELL_CSS };

// Consent Mode "advanced": Google's tags load ungated, so the classic
// loader, put before them without `defer`, says the default the moment it
// runs, from what the config this browser last checked asked for and the
// stored choice; nothing is released until the config is read.
function earlyDefault() {
  var last = checkedView(null);
  if (!last || !last.vendors || !last.vendors.advanced) return;
  var state = storedChoice();
  tellVendors(last.vendors, state && isCurrent(state, last) ? state.granted.join(',') : null, true);
  saidDefault = true;
}

function fail(e) {
  console.error('consentry: ' + (e && e.message ? e.message : e));
}

// Storage and cookies throw in sandboxed frames and some private modes.
function safe(f) {
  try {
    return f();
  } catch (e) {
    return null;
  }
}
function storage(f) {
  return safe(function () { return f(localStorage); });
}

// The view the wasm left for exactly this config text (for whichever text
// it last checked, when `text` is null), or null.
function checkedView(text) {
  return storage(function (s) {
    var r = JSON.parse(s.getItem(CHECKED));
    return r && (text === null || r.text === text) ? r.view : null;
  });
}

// The `consentry` cookie read as ConsentState::decode reads it
// (src/consent.rs): anything malformed is no stored choice.
var ID = /^[A-Za-z0-9_-]{1,64}$/;
var MAX = { r: 4294967295n, t: 18446744073709551615n, e: 18446744073709551615n };
function decode(value) {
  var f = Object.create(null);
  var pairs = value.split('&');
  for (var i = 0; i < pairs.length; i++) {
    var at = pairs[i].indexOf('=');
    if (at < 0) return null;
    var k = pairs[i].slice(0, at);
    var v = pairs[i].slice(at + 1);
    if (MAX[k]) {
      if (!/^\+?[0-9]+$/.test(v) || BigInt(v.replace('+', '')) > MAX[k]) return null;
      v = Number(v.replace('+', ''));
    }
    f[k] = v;
  }
  if (f.v !== '1' || f.c === undefined || f.r === undefined || f.t === undefined || f.e === undefined) return null;
  var granted = f.c.split('|').filter(Boolean);
  var id = f.id === undefined ? '' : f.id;
  if (!granted.every(function (g) { return ID.test(g); }) || !/^[A-Za-z0-9-]*$/.test(id)) return null;
  return { granted: granted, revision: f.r, givenAt: f.t, expiresAt: f.e, receiptId: id };
}

// The page's cookies as `name=value` pairs ([] where cookies throw).
function cookiePairs() {
  return safe(function () { return document.cookie.split(';'); }) || [];
}

function storedChoice() {
  var pairs = cookiePairs();
  for (var i = 0; i < pairs.length; i++) {
    var p = pairs[i].trim();
    var at = p.indexOf('=');
    if (at < 0 || p.slice(0, at) !== COOKIE) continue;
    var state = null;
    try {
      state = decode(decodeURIComponent(p.slice(at + 1)));
    } catch (e) {
      // Not URI-encoded: as if absent, like the wasm.
    }
    if (state) return state;
  }
  return null;
}

// ConsentState::is_current: this revision, not expired (rule 9).
function isCurrent(state, view) {
  var now = Math.floor(Date.now() / 1000);
  return state.revision === view.revision && now < state.expiresAt && state.expiresAt > state.givenAt;
}

function needsWidget(view, state) {
  if (blockedFrames(state.granted.join(','))) return true;
  if (view.forms.some(function (s) { try { return document.querySelector(s); } catch (e) { return true; } })) return true;
  return view.receipts && storage(function (s) {
    if (s.getItem(view.migrated) === null) return true;
    for (var i = 0; i < s.length; i++) if (String(s.key(i)).indexOf(view.journal) === 0) return true;
    return false;
  }) !== false;
}

function iso(s) {
  return new Date(s * 1000).toISOString();
}

var widget = null;
var api = null;
// The config text this page started with, and that text parsed once and
// frozen (`pageConfig`).
var configText = null;
var parsedConfig;
// `consentry:ready`'s detail once it has been said on this page.
var readyDetail;
addEventListener('consentry:ready', function (e) { readyDetail = e.detail; });
// The wasm's start while it waits for the texts of the page's language
// (it waits for none in English): calls wait for it.
var starting = null;
// `languageFile(code)`: the text of lang/<code>.json next to the widget
// (set by consentryStart).
var languageFile = null;

function expose(own, publish) {
  // `f(wasm)` now, or once the wasm runs on this page.
  function running(f) {
    if (widget && !starting) return f(widget);
    var later = (starting || own.hand()).then(function () { return f(widget); });
    later.catch(fail);
    return later;
  }
  function call(name) {
    return function () {
      var args = arguments;
      return running(function (w) { return w[name].apply(null, args); });
    };
  }
  api = {
    show: call('show'),
    showPreferences: call('showPreferences'),
    acceptAll: call('acceptAll'),
    rejectAll: call('rejectAll'),
    acceptCategories: call('acceptCategories'),
    // The wasm names the file a built-in language needs; its text goes back.
    setLanguage: function (code) {
      return Promise.resolve(running(function (w) {
        var file = w.setLanguage(code);
        return file && languageFile(file).then(function (text) { w.setLanguage(code, text); }, function (e) {
          fail('could not load the texts of "' + code + '" (' + e.message + ')');
        });
      }));
    },
    // While the wasm starts, the core's own answer (a returning visitor's
    // handover), else nothing is granted yet but what is strictly necessary.
    getConsent: function () { return widget && !starting ? widget.getConsent() : own ? own.consent() : null; },
    isGranted: function (id) {
      return widget && !starting ? widget.isGranted(id) : own ? own.isGranted(id)
        : categories().some(function (c) { return c.necessary && c.id === id; });
    },
    // Whether `id` is a service (of `category`, when given) that may run
    // now: the page's config names it, and isGranted (false for a config
    // the wasm refused).
    acceptedService: function (id, category) {
      var of = categories().filter(function (c) {
        return (c.services || []).some(function (s) { return s.id === id; });
      })[0];
      return !!of && (category === undefined || of.id === category) && api.isGranted(id);
    },
    // Nothing to hide where the core alone runs the page.
    hide: function () { if (widget) return call('hide')(); },
    hidePreferences: function () { if (widget) return call('hidePreferences')(); },
    validConsent: function () { return api.getConsent() !== null; },
    getConfig: pageConfig,
    getUserPreferences: userPreferences,
    eraseCookies: eraseNamedCookies,
    loadScript: loadNoncedScript,
    on: function (event, callback) {
      // `ready` (also when it has been said already) and `form` are the
      // window events' details.
      if (event === 'ready' || event === 'form') {
        var f = function (e) { callback(e.detail); };
        if (event === 'ready' && readyDetail !== undefined) Promise.resolve(readyDetail).then(callback);
        else addEventListener('consentry:' + event, f);
        return function () { removeEventListener('consentry:' + event, f); };
      }
      if (starting) {
        var off = null;
        var gone = false;
        starting.then(function () {
          if (!gone) off = api.on(event, callback);
        }).catch(fail);
        return function () {
          gone = true;
          if (off) off();
        };
      }
      if (widget) {
        var id = widget.on(event, callback);
        return function () { widget.off(id); };
      }
      return own.on(event, callback);
    },
    reset: call('reset')
  };
  publish(api);
}

// The config the page started with, read-only (the wasm checked it;
// null for text that is not JSON, which the wasm has reported): parsed on
// the first call that needs it, not on every one.
function pageConfig() {
  if (parsedConfig === undefined) {
    var config = safe(function () { return JSON.parse(configText); });
    parsedConfig = config && typeof config === 'object' ? frozen(config) : null;
  }
  return parsedConfig;
}

function categories() {
  var config = pageConfig();
  return config && Array.isArray(config.categories) ? config.categories : [];
}

function frozen(o) {
  Object.keys(o).forEach(function (k) { if (o[k] && typeof o[k] === 'object') frozen(o[k]); });
  return Object.freeze(o);
}

// The visitor's choice as vanilla-cookieconsent's getUserPreferences names
// it: services by category; before a choice nothing is accepted and
// `acceptType` is null.
function userPreferences() {
  var consent = api.getConsent();
  var on = consent ? consent.categories : [];
  var out = { acceptType: null, acceptedCategories: [], rejectedCategories: [], acceptedServices: {}, rejectedServices: {} };
  var some = false;
  categories().forEach(function (c) {
    var yes = function (id) { return c.necessary || on.indexOf(id) >= 0; };
    (yes(c.id) ? out.acceptedCategories : out.rejectedCategories).push(c.id);
    out.acceptedServices[c.id] = [];
    out.rejectedServices[c.id] = [];
    (c.services || []).forEach(function (s) {
      some = some || (!c.necessary && yes(s.id));
      (yes(s.id) ? out.acceptedServices : out.rejectedServices)[c.id].push(s.id);
    });
    some = some || (!c.necessary && yes(c.id));
  });
  if (consent) out.acceptType = !out.rejectedCategories.length ? 'all' : some ? 'custom' : 'necessary';
  return out;
}

// Deletes the cookies named (an array of names, one name, or a RegExp) at
// `path` (default '/') and `domain` (default: host-only).
function eraseNamedCookies(names, path, domain) {
  var match = names instanceof RegExp ? function (n) { return names.test(n); }
    : function (n) { return [].concat(names).indexOf(n) >= 0; };
  cookiePairs().forEach(function (pair) {
    var name = pair.split('=')[0].trim();
    if (name && match(name)) {
      document.cookie = name + '=;max-age=0;path=' + (path || '/') + (domain ? ';domain=' + domain : '');
    }
  });
}

// Loads a script (resolves on load, rejects on error), with the nonce of
// the page's own scripts under a CSP that asks for one. In a browser with
// Trusted Types (which a CSP's `require-trusted-types-for 'script'`
// enforces) a string `src` goes through the widget's one policy,
// `consentry` (which a site's `trusted-types` must list), and only as an
// http(s) URL, a path or a blob: URL the page made: never a data: or
// javascript: URL, which would make any text of a string a script.
var policy = null;
function loadNoncedScript(src, attributes) {
  return new Promise(function (resolve, reject) {
    var s = document.createElement('script');
    Object.keys(attributes || {}).forEach(function (k) { s.setAttribute(k, attributes[k]); });
    s.nonce = pageNonce();
    s.onload = function () { resolve(); };
    s.onerror = function () { reject(new Error('consentry: loadScript could not load ' + src)); };
    if (window.trustedTypes && typeof src === 'string') {
      policy = policy || trustedTypes.createPolicy('consentry', {
        createScriptURL: function (url) {
          if (srcAllowed(url) || /^blob:/.test(url)) return url;
          throw new TypeError('consentry: loadScript takes an http(s), relative or blob: URL, not ' + url.slice(0, 40));
        }
      });
      src = policy.createScriptURL(src);
    }
    s.src = src;
    document.head.appendChild(s);
  });
}

// A returning visitor's page, run without the wasm until it is asked for.
function own(text, view, state, loadWasm, publish) {
  var host = null;
  var subs = [];
  var handing = null;
  function openLinks(e) {
    var t = e.target;
    if (t && t.closest && t.closest('[data-consentry-open]')) {
      e.preventDefault();
      api.showPreferences();
    }
  }
  var core = {
    consent: function () {
      return { categories: state.granted.slice(), revision: state.revision, givenAt: iso(state.givenAt),
        expiresAt: iso(state.expiresAt), receiptId: state.receiptId };
    },
    isGranted: function (id) {
      return view.necessary.indexOf(id) >= 0 || state.granted.indexOf(id) >= 0;
    },
    on: function (event, callback) {
      var sub = { f: callback, id: 0 };
      if (event !== 'change') {
        // The wasm says what is wrong, in its own words.
        core.hand().then(function (m) { m.on(event, callback); }).catch(fail);
        return function () {};
      }
      subs.push(sub);
      return function () {
        subs = subs.filter(function (s) { return s !== sub; });
        if (widget && sub.id) widget.off(sub.id);
      };
    },
    // Hands the page to the wasm: it reads the same cookie, draws its own
    // reopen button where ours was, and takes the callbacks.
    hand: function () {
      handing = handing || loadWasm().then(function (m) {
        var focused = host && document.activeElement === host;
        if (host) host.remove();
        document.removeEventListener('click', openLinks);
        widget = m;
        return run(m, m.init(text, true, forWasm)).then(function () {
          subs.forEach(function (s) { s.id = m.on('change', s.f); });
          var root = document.getElementById('consentry-root');
          var b = focused && root && root.shadowRoot && root.shadowRoot.querySelector('.reopen');
          if (b) b.focus();
          return m;
        });
      });
      handing.catch(function () { handing = null; });
      return handing;
    }
  };
  expose(core, publish);
  apply(view.vendors, state.granted.join(','), true);
  watchInserted(placeholders(core));
  if (view.reopen) {
    host = document.createElement('div');
    host.id = 'consentry-root';
    host.setAttribute('data-nosnippet', '');
    var root = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet: a strict CSP's `style-src` refuses inline
    // `<style>`, and does not govern these.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(SHELL_CSS + view.theme);
    root.adoptedStyleSheets = [sheet];
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'reopen';
    b.setAttribute('aria-label', view.reopen);
    b.addEventListener('click', function () { api.showPreferences(); });
    root.append(b);
    document.body.appendChild(host);
  }
  document.addEventListener('click', openLinks);
  window.dispatchEvent(new CustomEvent('consentry:ready', { detail: core.consent() }));
}

// Starts the widget on this page with the config `text`: the core alone
// for a returning visitor it can serve, else the wasm (`loadWasm()`
// resolves to its started glue module). `publish(api)` gets the JS API
// before anything is said on the page.
function consentryStart(text, loadWasm, publish, languageFiles) {
  languageFile = languageFiles;
  configText = text;
  var view = checkedView(text);
  var state = view && storedChoice();
  if (state && isCurrent(state, view) && !needsWidget(view, state)) return Promise.resolve(own(text, view, state, loadWasm, publish));
  watchInserted(placeholders(null));
  return loadWasm().then(function (m) {
    widget = m;
    expose(null, publish);
    return run(m, m.init(text, false, forWasm));
  });
}

// What an embed inserted later, and left blocked, needs: the wasm's
// placeholder (drawn at its start when it is not running yet; `own` hands
// the page to it).
function placeholders(own) {
  return function () {
    if (widget && !starting) widget.drawPlaceholders();
    else if (own && !widget) own.hand().catch(fail);
  };
}

// What the wasm's init gave: nothing when it runs already, else the code
// of the page's language file, whose text (or why it did not come) it
// starts with.
function run(m, file) {
  if (!file) return Promise.resolve();
  starting = languageFile(file).then(function (text) { m.resume(text); }, function (e) {
    m.resume(undefined, String(e && e.message ? e.message : e));
  }).then(function () { starting = null; });
  return starting;
}

// Fetches lang/<code>.json under `base` once per page (again after a
// failure). With `sums`, the integrity of lang/integrity.json (the classic
// loader's), each file is held to the hash that file gives it.
function languageFiles(base, sums) {
  var got = {};
  var hashes = sums ? null : Promise.resolve({});
  function text(path, integrity) {
    return fetch(base + path, { integrity: integrity || '' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status + ' for ' + path);
      return r.text();
    });
  }
  return function (code) {
    var file = code + '.json';
    if (!got[code]) {
      hashes = hashes || text('lang/integrity.json', sums).then(JSON.parse);
      got[code] = hashes.then(function (h) { return text('lang/' + file, h[file]); });
      got[code].catch(function () {
        delete got[code];
        if (sums) hashes = null;
      });
    }
    return got[code];
  };
}

// Put in by `cargo xtask dist`: the built-in languages that have a file
// (src/lang/; English is in the wasm).
var LANGUAGE_FILES = '__CONSENTRY_LANGUAGE_FILES__'.split(',');

// The file the wasm will most likely ask for, to fetch beside it: the first
// of the page's languages (as src/language.rs reads them) that is built in.
// Only a guess (the config may force another): the wasm decides.
function likelyLanguage() {
  var tags = [document.documentElement.lang].concat(navigator.languages || [navigator.language]);
  for (var i = 0; i < tags.length; i++) {
    var primary = String(tags[i] || '').toLowerCase().split(/[-_]/)[0];
    if (primary === 'en') return null;
    if (LANGUAGE_FILES.indexOf(primary) >= 0) return primary;
  }
  return null;
}

// Whether this browser has no stored choice at all: then the wasm is
// needed for sure, and worth fetching while the config loads.
function firstVisit() {
  return !safe(function () { return document.cookie.indexOf(COOKIE + '=') >= 0; });
}
