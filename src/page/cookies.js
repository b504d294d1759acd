// `document.cookie` for src/page/cookies.rs, which decides what to read,
// write and delete. Cookies disabled or a sandboxed frame read as none.

export function cookies() {
  try {
    return document.cookie;
  } catch (e) {
    return '';
  }
}

export function setCookie(line) {
  try {
    document.cookie = line;
  } catch (e) {
    // Refused: nothing is stored, as if cookies were off.
  }
}
