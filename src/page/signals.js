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
