// Gated scripts (rule 3): the site marks them `type="text/plain"
// data-category="…"`; nothing of a category runs before that category is
// granted, and `data-category="!id"` runs only once it is refused. The
// loader's core (pkg-config/core.js) releases them the same way on a
// returning visitor's page; tests/e2e/core.test.mjs holds the two together.

// Runs every gated script `granted` (category ids joined by ',') allows.
// A `type="text/plain"` script never runs, even if its type is changed
// later, so a fresh element takes its place; `data-type="module"` keeps a
// gated module a module.
export function releaseScripts(granted) {
  const on = granted ? granted.split(',') : [];
  // Collected first: running one script may add or remove others.
  const due = [...document.querySelectorAll('script[type="text/plain"][data-category]')].filter((s) => {
    const c = s.getAttribute('data-category');
    return c[0] === '!' ? !on.includes(c.slice(1)) : on.includes(c);
  });
  for (const old of due) {
    const s = document.createElement('script');
    for (const a of old.attributes) {
      if (a.name === 'data-type') s.setAttribute('type', a.value);
      else if (a.name !== 'type') s.setAttribute(a.name, a.value);
    }
    // Keep execution order close to the author's intent.
    if (old.hasAttribute('src')) s.async = false;
    else s.text = old.textContent;
    old.replaceWith(s);
  }
}
