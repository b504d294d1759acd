// How every browser run of this repository launches Debian's Chromium: the
// end-to-end suite and `cargo xtask bench` (xtask/bench/widget.mjs) alike,
// so a timing in the bench is taken in the browser the tests use. No
// `node:test` here: the bench imports it.

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
