// The consent checkboxes in the site's own forms, the DOM half of
// src/ui/forms.rs: the boxes, their listeners (which ticks are the
// visitor's, a required purpose blocking the submit, a native submission
// held for its receipt), and what goes out with the form's data. Rust reads
// the config and writes every receipt (`submitted`). In JS, not web-sys,
// because each web-sys call costs wasm and glue. Site texts go through
// `textContent`, never `innerHTML` (rule 12).

// wasm-bindgen copies both snippets into one folder keeping their paths, so
// this is the same module (same URL, one instance) the glue loads; called
// from here, a held form needs no round trip through Rust.
import { submitHeld } from '../page/io.js';

// Light-DOM styles: the site's own CSS still applies; these only keep the
// box, the label and the link on one readable line.
const ROW_STYLE = 'display:flex;align-items:flex-start;gap:8px;margin:8px 0;flex-wrap:wrap';
const ERROR_STYLE = 'flex-basis:100%;margin:2px 0 0 28px;color:#b91c1c;font-weight:600';

// A form's data taken again this soon with the same choices is the same
// submission (a site that reads `new FormData(form)` before sending it, a
// held submission sent on): it carries the same receipt.
const SAME_SUBMISSION_MS = 2000;
// The longest a native submission waits for its receipt to be signed and
// handed to the network; past it the form goes, and the journal sends the
// receipt from the site's next page.
const HOLD_MS = 300;

// An element with attributes (set in this order) and, if given, its text.
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

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
  if (!form) return 'matches no form on this page';
  if (form.tagName !== 'FORM') return 'must match a <form> element';

  const block = el('div', { class: 'consentry-form-consent', 'data-consentry-form': '' });
  for (const [purpose, label, required] of purposes) {
    const id = 'consentry-' + index + '-' + purpose;
    const row = el('div', { class: 'consentry-purpose', style: ROW_STYLE });
    const attrs = {
      type: 'checkbox',
      id,
      name: 'consentry_' + purpose,
      value: 'yes',
      'data-purpose': purpose,
      style: 'width:20px;height:20px;margin:2px 0 0',
    };
    if (required) {
      attrs['data-required'] = '';
      attrs['aria-required'] = 'true';
    }
    row.append(
      el('input', attrs),
      el('label', { for: id, style: 'flex:1 1 12rem' }, label),
      el('a', { href: policyUrl, rel: 'noopener' }, policyText),
    );
    if (required) {
      const error = { id: id + '-error', class: 'consentry-error', role: 'alert', style: ERROR_STYLE, hidden: '' };
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
