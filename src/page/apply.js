// What a choice does to the page, owned by the consent core
// (pkg-config/core.js, into which `cargo xtask dist` puts this file): on a
// returning visitor's page the core runs it alone; where the wasm runs, the
// wasm decides and sends each decision to the core's `apply` (its `page`
// argument to `init`), so the page is changed by one copy of this code on
// every page. Plain ES5 with `export`, which the core drops (the wasm's
// tests import it as a module).
//
// - Gated content (rule 3): `<script type="text/plain" data-category>`,
//   `<iframe data-category data-src>` embeds, `<img data-category
//   data-src>` pixels and `<link data-category data-href>` run or load once
//   their category is granted (or, with `data-service`, that service:
//   consent per service); `data-category="!id"` once it is refused.
//   Nothing runs before a choice. A blocked embed's placeholder is the
//   wasm's (src/ui/view.js).
// - Content inserted after load (by a tag manager, a single-page app, a CMS
//   widget) is treated the same, by one MutationObserver.
// - The vendors' consent APIs (Google Consent Mode v2, Microsoft UET and
//   Clarity) are told from the plan src/vendors.rs makes of the config.

var GATED = 'script[type="text/plain"][data-category],'
  + 'iframe[data-category][data-src],img[data-category][data-src],link[data-category][data-href]';
var GATED_FRAMES = 'iframe[data-category][data-src]';

// The granted category ids joined by ',' (the wasm's `id_list`), or null
// before a choice: what content inserted later is held to.
var allowedNow = null;
var watcher = null;

// What `el` needs: its `data-service` (consent per service), else its
// `data-category`; `!id` for "once refused".
function allows(on, el) {
  var need = el.getAttribute('data-service') || el.getAttribute('data-category');
  return need.charAt(0) === '!' ? on.indexOf(need.slice(1)) < 0 : on.indexOf(need) >= 0;
}

// An http(s) URL, a path, or `./` and `../`: what `is_http_url` in
// src/config.rs accepts for the config's URLs, plus relative paths (the
// wasm tests in src/page/gating.rs hold the two to the same cases).
export function srcAllowed(src) {
  if (/^\.\.?\//.test(src)) return true;
  if (src.trim() !== src || /[\x00-\x20\x7f]/.test(src)) return false;
  if (/^https?:\/\//i.test(src)) return !/^https?:\/\/(\/|$)/i.test(src);
  return /^\/(?![\/\\])/.test(src);
}

// The nonce of the page's own scripts (the widget's tag's among them) under
// a CSP that asks for one, or ''. The browser hides it from the attribute,
// not from `.nonce`.
export function pageNonce() {
  var s = document.querySelector('script[nonce]');
  return s ? s.nonce : '';
}

// A gated script runs as itself: its type set (`data-type="module"` keeps
// a gated module a module), then taken out and put back where it was,
// which has the browser run it as it runs the page's own markup. So a
// strict CSP lets it, with the page's nonce, and Trusted Types see the text
// the page wrote, not one the widget set. Having run, the browser never
// runs that element again, however often the page inserts or moves it (or
// clones it); and its type keeps it out of `GATED`.
function runScript(s) {
  // One that a script released before it took out of the page stays out.
  if (!s.parentNode) return;
  var type = s.getAttribute('data-type');
  if (type) s.setAttribute('type', type);
  else s.removeAttribute('type');
  if (!s.nonce) s.nonce = pageNonce();
  // Keep execution order close to the author's intent.
  if (s.hasAttribute('src')) s.async = false;
  s.parentNode.insertBefore(s, s.nextSibling);
}

function loadUrl(el, attr) {
  var url = el.getAttribute('data-' + attr);
  el.removeAttribute('data-' + attr);
  if (srcAllowed(url)) el.setAttribute(attr, url);
  else console.error('consentry: ' + el.localName + ' data-' + attr + ' must be an http(s) or relative URL; not loaded');
}

// Runs and loads every gated element `ids` (granted ids joined by ',', or
// null before a choice) allows, and holds what is inserted later to it.
export function releaseGated(ids) {
  allowedNow = ids === undefined ? null : ids;
  if (allowedNow === null) return;
  var on = allowedNow ? allowedNow.split(',') : [];
  // Collected first: running one script may add or remove others.
  var due = [].filter.call(document.querySelectorAll(GATED), function (el) {
    return allows(on, el);
  });
  due.forEach(function (el) {
    if (el.localName === 'script') runScript(el);
    else loadUrl(el, el.localName === 'link' ? 'href' : 'src');
  });
}

function holds(node, selector) {
  return node.nodeType === 1 && (node.matches(selector) || node.querySelector(selector) !== null);
}

// Whether an embed stays blocked under `ids` (as `releaseGated` takes
// them): the wasm must draw its placeholder.
export function blockedFrames(ids) {
  var on = ids ? ids.split(',') : [];
  return [].some.call(document.querySelectorAll(GATED_FRAMES), function (f) {
    return ids === null || !allows(on, f);
  });
}

// Watches the page for gated content inserted from now on, released as
// `releaseGated` last allowed; an embed that stays blocked calls
// `onFrame()` (the wasm draws its placeholder).
export function watchInserted(onFrame) {
  if (watcher || typeof MutationObserver === 'undefined') return;
  watcher = new MutationObserver(function (records) {
    var gated = false;
    var frames = false;
    records.forEach(function (r) {
      [].forEach.call(r.addedNodes, function (n) {
        gated = gated || holds(n, GATED);
        frames = frames || holds(n, GATED_FRAMES);
      });
    });
    if (gated) releaseGated(allowedNow);
    if (frames && blockedFrames(allowedNow)) onFrame();
  });
  watcher.observe(document.documentElement, { childList: true, subtree: true });
}

// Tells the vendors the consent `ids` (as `releaseGated` takes them) means
// for the `plan` (src/vendors.rs; JSON text or the parsed object): the
// `default` once per page (`first`), before any gated tag can run, then an
// `update` on every choice and withdrawal. Google's calls go through the
// page's `gtag` when there is one, else into `dataLayer` exactly as gtag.js
// defines `gtag`, so they work with gtag.js, Tag Manager, or neither loaded
// yet; the Microsoft queues are made as their own snippets make them.
export function tellVendors(plan, ids, first) {
  if (!plan) return;
  if (typeof plan === 'string') plan = JSON.parse(plan);
  var on = ids ? ids.split(',') : [];
  var w = window;
  function state(types) {
    var s = {};
    Object.keys(types).forEach(function (t) {
      var need = types[t];
      var yes = need === true || (ids !== null && need !== false && need.every(function (c) { return on.indexOf(c) >= 0; }));
      s[t] = yes ? 'granted' : 'denied';
    });
    return s;
  }
  if (plan.gtag) {
    var gtag = typeof w.gtag === 'function' ? w.gtag : function () {
      (w.dataLayer = w.dataLayer || []).push(arguments);
    };
    var s = state(plan.gtag);
    if (first) {
      if (ids === null) s.wait_for_update = plan.wait;
      if (plan.region) s.region = plan.region;
      gtag('consent', 'default', s);
      Object.keys(plan.set || {}).forEach(function (k) { gtag('set', k, plan.set[k]); });
      // A default for some regions only: the visitor's stored choice holds
      // wherever they are.
      if (plan.region && ids !== null) gtag('consent', 'update', state(plan.gtag));
    } else {
      gtag('consent', 'update', s);
    }
  }
  if (plan.uet) (w.uetq = w.uetq || []).push('consent', first ? 'default' : 'update', state(plan.uet));
  if (plan.clarity) {
    w.clarity = w.clarity || function () { (w.clarity.q = w.clarity.q || []).push(arguments); };
    w.clarity('consentv2', state(plan.clarity));
  }
}
