// @ts-check
/**
 * Browser storage that never throws: the token in `sessionStorage` (this tab only), drafts
 * and the author's name in `localStorage`. Quota or privacy modes degrade to "not kept".
 */

export const TOKEN_KEY = "livefeed.studio.token";
export const FEED_KEY = "livefeed.studio.feed";
export const AUTHOR_KEY = "livefeed.studio.author";
export const DRAFT_PREFIX = "livefeed.studio.draft.";

/** @typedef {"session" | "local"} StorageKind */

/** @param {StorageKind} kind @returns {Storage | null} */
function area(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null;
  }
}

/** @param {StorageKind} kind @param {string} key */
export function load(kind, key) {
  const s = area(kind);
  return s ? s.getItem(key) : null;
}

/**
 * @param {StorageKind} kind
 * @param {string} key
 * @param {string | null} value null removes
 */
export function save(kind, key, value) {
  const s = area(kind);
  if (!s) return;
  try {
    if (value === null) s.removeItem(key);
    else s.setItem(key, value);
  } catch {
    /* quota or privacy mode: the draft then lives in the page only */
  }
}

/** A random UUID (the Idempotency-Key of a draft). */
export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
