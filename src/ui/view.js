// What the visitor sees of the widget: the banner, the preferences dialog
// and the reopen button, in one open shadow root so site CSS cannot break
// them (axe and screen readers still see them), the placeholders of blocked
// embeds, and the page's own `data-consentry-open` links. It only draws and reports clicks: the wasm
// (src/widget.rs) owns the consent state, says what to show, and gets every
// click back as a command through the one function `mount` was given.
//
// Written in JS because every DOM call made from Rust is a web-sys import
// with its own glue: this file is a fraction of what the same markup cost
// in the wasm (see the README's "What a page fetches").
//
// Site texts only ever go in as text (`textContent`, attribute values),
// never as markup (rule 12). Nothing goes in as markup at all, and styles
// only through constructed stylesheets: a page with a strict CSP (no inline
// styles, Trusted Types for scripts) runs the widget as it is.
//
// The consent checkboxes in the site's forms are here too (the second half
// of this file), and the page's browser calls are in src/page/io.js: two
// files, not one per part, because wasm-bindgen's test runner, which loads
// each file as its own module, stalls now and then on a page of many.

import { submitHeld } from '../page/io.js';

const FOCUSABLE = 'button:not([disabled]),input:not([disabled]),a[href]';

let model, send, host, root, banner, bannerGpc, room, dialog, reopen, back;

// The style of what the widget puts into the page itself, outside its
// shadow root (sizes known only on the page go through the CSSOM, which a
// CSP does not govern either): the room below the page's end, a blocked
// embed's placeholder, and the consent rows in the site's forms (the
// site's own CSS still applies to those; this only keeps the box, the
// label and the link on one readable line, and each box and link a target
// of 24 px at least, WCAG 2.2, 2.5.8: that much `!important`, which the
// site's own rules for its inputs must not undo).
const PAGE_CSS = '.consentry-room{position:absolute;left:0;width:1px}'
  + '.consentry-embed-placeholder{display:flex;flex-direction:column;align-items:center;justify-content:center;'
  + 'gap:12px;padding:16px;box-sizing:border-box;max-width:100%;text-align:center;'
  + 'background:#f3f4f6;color:#1f2937;border:1px solid #d1d5db;border-radius:8px;font:15px/1.5 system-ui,sans-serif}'
  + '.consentry-embed-placeholder p{margin:0}'
  + '.consentry-embed-placeholder button{font:600 15px/1.2 system-ui,sans-serif;padding:10px 18px;border-radius:8px;'
  + 'border:0;background:#1d4ed8;color:#fff;cursor:pointer;min-height:44px}'
  + '.consentry-purpose{display:flex;align-items:flex-start;gap:8px;margin:8px 0;flex-wrap:wrap;line-height:24px}'
  + '.consentry-purpose input{width:24px!important;height:24px!important;margin:0}.consentry-purpose label{flex:1 1 12rem}'
  + '.consentry-purpose a{display:inline-block;min-height:24px!important}'
  + '.consentry-error{flex-basis:100%;margin:2px 0 0;margin-inline-start:32px;color:#b91c1c;font-weight:600}';

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
  if (text != null) e.textContent = text;
  return e;
}

// A paragraph of site text followed by the privacy-policy link (rule 5).
function withPolicy(id, text) {
  const p = el('p', { id }, text);
  p.append(' ', el('a', { href: model.policy, rel: 'noopener' }, model.texts.privacyPolicy));
  return p;
}

// A button that sends `command` when clicked. A choice needs a person's
// click: a script's `click()` would otherwise be recorded as the visitor's
// `accept_all` (the JS API is there for site code, and its receipts say
// `api`).
function button(cls, label, command, arg) {
  const b = el('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', (e) => {
    if (command !== 'open' && command !== 'close' && !e.isTrusted) {
      console.warn('consentry: a scripted click on a consent button does nothing; call consentry.acceptAll(), rejectAll() or acceptCategories() (their receipts say "api")');
      return;
    }
    send(command, arg ? arg() : '');
  });
  return b;
}

// "Accept all" and "Reject all" share one class, so they cannot drift apart
// in prominence (rule 2).
function actions(list) {
  const div = el('div', { class: 'actions' });
  for (const [cls, label, command, arg] of list) div.append(button(cls, label, command, arg));
  return div;
}

// A constructed stylesheet: `style-src` does not govern these, where it
// refuses an inline `<style>` or a `style` attribute.
// The sheet of what the widget puts into the page itself (placeholders,
// form rows, the room). A site that assigns document.adoptedStyleSheets
// wholesale drops it, so it is put back whenever one of them is drawn.
let pageSheet;
function pageStyled() {
  pageSheet = pageSheet || sheet(PAGE_CSS);
  const all = document.adoptedStyleSheets;
  if (!all.includes(pageSheet)) document.adoptedStyleSheets = [...all, pageSheet];
}

function sheet(css) {
  const s = new CSSStyleSheet();
  s.replaceSync(css);
  return s;
}

// Puts the widget's host on the page: `modelJson` is what the checked
// config gives the view (src/checked.rs `view_model`), `css` the widget's
// style with the site's colours, `core` what the loader's core hands the
// wasm (`shell`: the CSS the shadow root always needs, the core's own for
// its reopen button), `command` the wasm's handler. Returns what went
// wrong, or ''.
export function mount(modelJson, css, core, command) {
  if (!document.body) return 'the page has no <body> yet; load consentry.js with `defer`';
  model = JSON.parse(modelJson);
  send = command;
  host = el('div', { id: 'consentry-root', 'data-nosnippet': '' });
  speak();
  root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [sheet(((core && core.shell) || '') + css)];
  pageStyled();
  document.body.append(host);
  document.addEventListener('click', (e) => {
    const t = e.target;
    if (t && t.closest && t.closest('[data-consentry-open]')) {
      e.preventDefault();
      send('open', '');
    }
  });
  document.addEventListener('focusin', (e) => requestAnimationFrame(() => unhide(e.target)));
  return '';
}

// WCAG 2.2 "focus not obscured": the banner sits fixed over the bottom of
// the page, so an element of the page that gets focus under it is scrolled
// up above it (after the browser's own scrolling to it, hence the frame).
function unhide(target) {
  if (!banner || !(target instanceof Element) || target === host || !target.isConnected) return;
  const r = target.getBoundingClientRect();
  const top = banner.getBoundingClientRect().top;
  // Instant: a page's smooth scrolling would leave it hidden for a while.
  if (r.bottom > top - 8 && r.top < innerHeight) scrollBy({ top: r.bottom - top + 16, behavior: 'instant' });
}

// Room below the page's end, the banner's height, so that even the page's
// last links can scroll above it. Out of the flow (absolute, past the
// end), so nothing on the page moves.
function makeRoom() {
  room?.remove();
  if (!banner) return;
  pageStyled();
  room = el('div', { 'aria-hidden': 'true', class: 'consentry-room' });
  const s = room.style;
  s.top = document.documentElement.scrollHeight + 'px';
  s.height = banner.offsetHeight + 32 + 'px';
  document.body.append(room);
}

// The language of the texts, so screen readers pronounce them right and
// Arabic and Hebrew run right to left (the CSS uses logical properties).
function speak() {
  host.setAttribute('lang', model.lang);
  host.setAttribute('dir', model.dir);
}

// The same widget in other words (`setLanguage`): what is shown is drawn
// again from `modelJson`. Returns whether the dialog was open, for the wasm
// to open it again with the visitor's toggles.
export function retext(modelJson) {
  model = JSON.parse(modelJson);
  speak();
  if (banner) {
    hideBanner();
    showBanner(bannerGpc);
  }
  reopen?.setAttribute('aria-label', model.reopen);
  for (const [frame, box] of holders) {
    box.remove();
    holders.set(frame, placeholder(frame, frame.getAttribute('data-category')));
  }
  // The form rows too: a form's receipt records these texts as shown.
  for (const row of document.querySelectorAll('[data-consentry-form] .consentry-purpose')) {
    row.querySelector('a').textContent = model.texts.privacyPolicy;
    const hint = row.querySelector('.consentry-error');
    if (hint) hint.textContent = model.texts.formRequired;
  }
  // Their labels, which a site may give per language.
  model.forms.forEach((purposes, index) => {
    for (const [purpose, label] of purposes) {
      const text = document.getElementById(boxId(index, purpose))?.labels[0];
      if (text) text.textContent = label;
    }
  });
  return dialog != null;
}

// The first layer: title, short text, policy link, three buttons. There is
// deliberately no close button: closing is not a choice (rule 3).
export function showBanner(gpc) {
  if (banner) return;
  bannerGpc = gpc;
  const t = model.texts;
  banner = el('section', {
    class: 'card banner', role: 'dialog', 'aria-modal': 'false',
    'aria-labelledby': 'cs-banner-title', 'aria-describedby': 'cs-banner-desc',
  });
  banner.append(el('h2', { id: 'cs-banner-title' }, t.bannerTitle), withPolicy('cs-banner-desc', t.bannerDescription));
  if (gpc) banner.append(el('p', { class: 'gpc' }, t.gpcHonoured));
  banner.append(actions([
    ['btn choice', t.acceptAll, 'accept'],
    ['btn choice', t.rejectAll, 'reject'],
    ['btn secondary', t.customize, 'open'],
  ]));
  root.append(banner);
  // After the banner is painted: measuring the page forces a layout, which
  // must not hold up the banner.
  requestAnimationFrame(() => setTimeout(makeRoom));
}

export function hideBanner() {
  banner?.remove();
  banner = null;
  room?.remove();
  room = null;
}

// The floating "Privacy settings" button: withdrawing must be as easy as
// granting (rule 4), so it is on every page once a choice exists (unless
// the site turned it off for its own `data-consentry-open` link).
export function showReopen() {
  if (reopen || model.reopen == null) return;
  reopen = button('reopen', null, 'open');
  reopen.setAttribute('aria-label', model.reopen);
  root.append(reopen);
}

export function hideReopen() {
  reopen?.remove();
  reopen = null;
}

// The second layer, a modal dialog: every category with its description and
// cookie table (rule 6), a toggle per optional category that is on only if
// `granted` (ids joined by ',') has it (rule 1), the visitor's latest
// receipt when `receipt` is not empty (what they agreed to, and the file
// that proves it), that Global Privacy Control was honoured when `gpc`,
// and the choice buttons. Focus stays inside; Escape
// closes; closing gives focus back to where it was.
export function openPreferences(granted, receipt, issuedAt, receiptGranted, receiptFile, gpc) {
  if (dialog) return;
  const active = document.activeElement;
  back = active && active === root.host ? root.activeElement : active;
  const t = model.texts;
  const on = granted.split(',');
  dialog = el('div', { class: 'overlay' });
  const card = el('div', {
    class: 'card prefs', role: 'dialog', 'aria-modal': 'true',
    'aria-labelledby': 'cs-prefs-title', 'aria-describedby': 'cs-prefs-desc',
  });
  const close = button('close', '\u00d7', 'close');
  close.setAttribute('aria-label', t.close);
  card.append(close, el('h2', { id: 'cs-prefs-title' }, t.preferencesTitle), withPolicy('cs-prefs-desc', t.preferencesDescription));
  if (gpc) card.append(el('p', { class: 'gpc' }, t.gpcHonoured));
  // A service's toggle sits under its category's (consent per service).
  const sections = {};
  for (const c of model.categories) {
    const s = category(c, c.necessary || on.includes(c.id));
    if (c.service_of) sections[c.service_of].append(s);
    else card.append((sections[c.id] = s));
  }
  if (receipt) {
    const allowed = model.categories.filter((c) => receiptGranted.split(',').includes(c.id)).map((c) => c.title);
    const summary = fill(t.receiptSummary, { id: receipt, date: issuedAt.slice(0, 10), allowed: allowed.join(', ') });
    const section = el('section', { class: 'cat receipt', 'aria-labelledby': 'cs-receipt-title' });
    section.append(
      el('h3', { id: 'cs-receipt-title' }, t.receiptTitle),
      el('p', {}, summary),
      el('a', {
        href: 'data:application/json;charset=utf-8,' + encodeURIComponent(receiptFile),
        download: 'consentry-receipt-' + receipt + '.json',
      }, t.receiptDownload),
    );
    card.append(section);
  }
  card.append(actions([
    ['btn choice', t.rejectAll, 'reject'],
    ['btn choice', t.acceptAll, 'accept'],
    ['btn secondary', t.save, 'save', selection],
  ]));
  card.addEventListener('keydown', keydown);
  card.addEventListener('change', (e) => {
    const box = e.target;
    const of = box.getAttribute('data-service-of');
    // A category's toggle sets all its services; theirs make it on, off
    // or mixed.
    if (!of) for (const s of services(box.getAttribute('data-category'))) s.checked = box.checked;
    mixed(of || box.getAttribute('data-category'));
  });
  dialog.append(card);
  root.append(dialog);
  for (const id in sections) mixed(id);
  close.focus();
}

const services = (id) => dialog.querySelectorAll('input[data-service-of="' + id + '"]');

function mixed(id) {
  const boxes = [...services(id)];
  const on = boxes.filter((b) => b.checked).length;
  const box = dialog.querySelector('#cs-cat-' + id);
  if (!boxes.length || box.disabled) return;
  box.checked = on === boxes.length;
  box.indeterminate = on > 0 && on < boxes.length;
}

function category(c, granted) {
  const id = 'cs-cat-' + c.id;
  const section = el('section', { class: c.service_of ? 'cat service' : 'cat' });
  const head = el('div', { class: 'cat-head' });
  const label = el('label', { for: id });
  const input = el('input', { type: 'checkbox', id, 'data-category': c.id, 'data-service-of': c.service_of });
  if (c.description) input.setAttribute('aria-describedby', id + '-desc');
  input.checked = granted;
  input.disabled = c.necessary;
  label.append(input, c.title);
  head.append(label);
  if (c.necessary) head.append(el('span', { class: 'always' }, model.texts.alwaysOn));
  section.append(head);
  if (c.description) section.append(el('p', { id: id + '-desc' }, c.description));
  if (c.provider) section.append(el('p', {}, model.texts.cookieProvider + ': ' + c.provider));
  if (c.cookies.length) section.append(cookieTable(c));
  return section;
}

function cookieTable(c) {
  const t = model.texts;
  const table = el('table', { 'aria-label': c.title });
  const head = el('tr');
  for (const h of [t.cookieName, t.cookieProvider, t.cookiePurpose, t.cookieDuration]) head.append(el('th', { scope: 'col' }, h));
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  for (const cells of c.cookies) {
    const row = el('tr');
    for (const cell of cells) row.append(el('td', {}, cell));
    tbody.append(row);
  }
  table.append(thead, tbody);
  return table;
}

// The optional categories and services whose toggles are on, joined by ','
// (a mixed category's own is off).
function selection() {
  return [...dialog.querySelectorAll('input[data-category]')]
    .filter((i) => i.checked && !i.disabled)
    .map((i) => i.getAttribute('data-category'))
    .join(',');
}

function keydown(e) {
  if (e.key === 'Escape') {
    e.preventDefault();
    send('close', '');
  } else if (e.key === 'Tab') {
    // Tab and Shift+Tab cycle inside the dialog.
    const list = e.currentTarget.querySelectorAll(FOCUSABLE);
    if (!list.length) return;
    const first = list[0];
    const last = list[list.length - 1];
    const active = root.activeElement;
    const inside = active && e.currentTarget.contains(active);
    const to = e.shiftKey ? (active === first || !inside) && last : (active === last || !inside) && first;
    if (to) {
      e.preventDefault();
      to.focus();
    }
  }
}

// Closes the dialog; `refocus`: give focus back to where it was when the
// dialog opened, or to the reopen button when that is gone.
export function closePreferences(refocus) {
  if (!dialog) return;
  dialog.remove();
  dialog = null;
  const to = back && back.isConnected ? back : reopen;
  back = null;
  if (refocus && to) to.focus();
}

// Blocked embeds (rule 3): `<iframe data-category=… data-src=…>` stays
// empty behind a placeholder that names its provider and category, with a
// button that grants that category (or the service its `data-service`
// names, consent per service); once `granted` (ids joined by ',') has
// it, its placeholder goes and the loader's core loads it
// (src/page/apply.js).
const holders = new Map();
export function syncFrames(granted) {
  const on = granted ? granted.split(',') : [];
  for (const frame of document.querySelectorAll('iframe[data-category][data-src]')) {
    const cat = frame.getAttribute('data-service') || frame.getAttribute('data-category');
    if (on.includes(cat)) {
      frame.removeAttribute('hidden');
      holders.get(frame)?.remove();
      holders.delete(frame);
    } else if (!holders.has(frame)) {
      holders.set(frame, placeholder(frame, cat));
    }
  }
}

// Replaces `{name}` in a site text; an unknown name stays as written, so a
// typo is visible rather than silently dropped.
export function fill(template, values) {
  return template.replace(/\{([^{}]*)\}/g, (all, name) => (Object.hasOwn(values, name) ? values[name] : all));
}

function hostOf(src) {
  try {
    return new URL(src, location.href).hostname;
  } catch (e) {
    return location.hostname;
  }
}

function placeholder(frame, cat) {
  const t = model.texts;
  const c = model.categories.find((c) => c.id === cat);
  // Without a `data-provider`, the service's provider or the host the frame
  // would load from names it: a name in any language, where a fallback
  // phrase would be English.
  const provider = frame.getAttribute('data-provider') ?? c?.provider ?? hostOf(frame.getAttribute('data-src'));
  pageStyled();
  const box = el('div', { class: 'consentry-embed-placeholder', role: 'group', 'aria-label': provider });
  // The frame's own size, through the CSSOM (which a CSP does not govern).
  for (const a of ['width', 'height']) {
    const v = frame.getAttribute(a);
    if (v && /^[0-9]+$/.test(v)) box.style[a] = v + 'px';
  }
  const load = button(null, t.embedLoad, 'grant', () => cat);
  box.append(el('p', {}, fill(t.embedBlocked, { provider, category: c ? c.title : cat })), load);
  frame.setAttribute('hidden', '');
  frame.before(box);
  return box;
}

// --- Form consent --------------------------------------------------------

// The consent checkboxes in the site's own forms, the DOM half of
// src/ui/forms.rs: the boxes, their listeners (which ticks are the
// visitor's, a required purpose blocking the submit, a native submission
// held for its receipt), and what goes out with the form's data. Rust reads
// the config and writes every receipt (`submitted`). In JS, not web-sys,
// because each web-sys call costs wasm and glue. Site texts go through
// `textContent`, never `innerHTML` (rule 12).


// A form's data taken again this soon with the same choices is the same
// submission (a site that reads `new FormData(form)` before sending it, a
// held submission sent on): it carries the same receipt.
const SAME_SUBMISSION_MS = 2000;
// The longest a native submission waits for its receipt to be signed and
// handed to the network; past it the form goes, and the journal sends the
// receipt from the site's next page.
const HOLD_MS = 300;

function setInvalid(box, invalid) {
  const id = box.getAttribute('id');
  if (id === null) return;
  const errId = id + '-error';
  const error = document.getElementById(errId);
  if (invalid) {
    box.setAttribute('aria-invalid', 'true');
    box.setAttribute('aria-describedby', errId);
    error?.removeAttribute('hidden');
  } else {
    box.removeAttribute('aria-invalid');
    box.removeAttribute('aria-describedby');
    error?.setAttribute('hidden', '');
  }
}

// The checkbox of `purpose` in `config.forms[index]` (`retext` finds it).
const boxId = (index, purpose) => 'consentry-' + index + '-' + purpose;

// Inserts the checkboxes into the form `spec` names: the JSON text of
// [selector, index in config.forms, privacy policy url, its link text, the
// required message, [[purpose id, label, required], …]]. `submitted(selector,
// purposesJson)` writes the receipt of the form's data and returns [id, key],
// [id] or null; `submitted(selector)` returns the promise that settles once
// it is handed to the network, or null. Returns why the form cannot be
// attached, or undefined.
export function attach(spec, submitted) {
  const [selector, index, policyUrl, policyText, requiredText, purposes] = JSON.parse(spec);
  let form;
  try {
    form = document.querySelector(selector);
  } catch (e) {
    return 'is not a valid CSS selector';
  }
  // One config serves every page of a site: a page without this form is
  // no error.
  if (!form) return;
  if (form.tagName !== 'FORM') return 'must match a <form> element';

  pageStyled();
  const block = el('div', { class: 'consentry-form-consent', 'data-consentry-form': '' });
  for (const [purpose, label, required] of purposes) {
    const id = boxId(index, purpose);
    const row = el('div', { class: 'consentry-purpose' });
    const attrs = {
      type: 'checkbox',
      id,
      name: 'consentry_' + purpose,
      value: 'yes',
      'data-purpose': purpose,
    };
    if (required) {
      attrs['data-required'] = '';
      attrs['aria-required'] = 'true';
    }
    row.append(
      el('input', attrs),
      el('label', { for: id }, label),
      el('a', { href: policyUrl, rel: 'noopener' }, policyText),
    );
    if (required) {
      const error = { id: id + '-error', class: 'consentry-error', role: 'alert', hidden: '' };
      row.append(el('p', error, requiredText));
    }
    block.append(row);
  }
  const submit = form.querySelector('button[type=submit],input[type=submit],button:not([type])');
  if (submit) submit.before(block);
  else form.append(block);

  // Each purpose as the visitor last set it by a trusted input event.
  const ticks = new Map();
  // [purposes JSON, receipt, time] of the last data taken from this form.
  let last;
  // The window listener of the last submit (see below).
  let hold;
  let warned = false;

  const boxes = () => form.querySelectorAll('input[data-purpose]');
  // Whether the visitor ticked this box themselves (a script's `checked =
  // true` fires no event, so it never counts).
  const ticked = (box) => box.checked && ticks.get(box.dataset.purpose) === true;

  // The receipt for the form's current choices: the one of this submission
  // if it was just made, else a new one.
  const receiptFor = () => {
    const choices = [];
    for (const box of boxes()) choices.push([box.dataset.purpose, ticked(box)]);
    const text = JSON.stringify(choices);
    const now = Date.now();
    if (last && last[0] === text && now - last[2] < SAME_SUBMISSION_MS) return last[1];
    const receipt = submitted(selector, text);
    const detail = { form: selector, purposes: choices.map(([id, granted]) => ({ id, granted })) };
    if (receipt) detail.receiptId = receipt[0];
    dispatchEvent(new CustomEvent('consentry:form', { detail }));
    last = [text, receipt, now];
    return receipt;
  };

  // Capture phase, so a required purpose stops the submit before the
  // site's own handlers see it.
  form.addEventListener(
    'submit',
    (e) => {
      const missing = [];
      for (const box of boxes()) if (box.hasAttribute('data-required') && !ticked(box)) missing.push(box);
      if (missing.length) {
        e.preventDefault();
        e.stopImmediatePropagation();
        for (const box of missing) setInvalid(box, true);
        missing[0].focus();
        return;
      }
      // Added now, a window listener runs after every handler the site has,
      // wherever and whenever it registered them: it holds the submission
      // only if none of them took the form over.
      removeEventListener('submit', hold);
      hold = (e) => {
        // Prevented: the site sends the data itself (its `new FormData`
        // gets the receipt) or not at all.
        if (e.target !== form || e.defaultPrevented || !receiptFor()) return;
        const handed = submitted(selector);
        if (!handed) return;
        // A form posting to a CRM leaves the site for good, and its receipt
        // must not stay behind in this page: sent on at most HOLD_MS later.
        e.preventDefault();
        submitHeld(form, e.submitter, handed, HOLD_MS);
      };
      addEventListener('submit', hold, { once: true });
    },
    true,
  );

  // Whenever the form's data is taken to be sent — a native submit,
  // `requestSubmit()`, `submit()`, or site code's `new FormData(form)` —
  // its receipt goes into that data: `consentry_receipt_id` and
  // `consentry_receipt_key` (the visitor's key: together they name this
  // receipt and no other), so the site can link its record to the signed
  // proof. A box a script ticked is taken out: the data never says "yes"
  // where the receipt cannot.
  form.addEventListener('formdata', (e) => {
    const data = e.formData;
    if (!(data instanceof FormData)) return;
    let scripted = false;
    for (const box of boxes()) {
      if (box.checked && !ticked(box)) {
        data.delete(box.name);
        scripted = true;
      }
    }
    if (scripted && !warned) {
      warned = true;
      console.warn(
        "consentry: a consent box ticked by a script is not the visitor's consent; it was left out of the form's data",
      );
    }
    const receipt = receiptFor();
    if (receipt) {
      data.set('consentry_receipt_id', receipt[0]);
      if (receipt.length > 1) data.set('consentry_receipt_key', receipt[1]);
    }
  });

  // Only a person's tick is consent; ticking a required box clears its
  // message at once.
  form.addEventListener('change', (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement)) return;
    const purpose = box.dataset.purpose;
    if (purpose === undefined) return;
    if (e.isTrusted) ticks.set(purpose, box.checked);
    if (box.hasAttribute('data-required') && box.checked) setInvalid(box, false);
  });
}
