// @ts-check
/**
 * The studio's words. Every string comes from the page: `app/studio_strings.py` renders them,
 * in the user's language, into `<script type="application/json" id="sd-strings">`; none is
 * written in the studio's JavaScript.
 *
 * - `t(key, vars)`: the message `key`, each `{name}` filled from `vars`.
 * - `tn(key, n, vars)`: a plural message, its form picked by the language's CLDR plural rule
 *   (`Intl.PluralRules`, as the reader page does), `{n}` written as a localized number.
 * - A key missing from the page is shown as the key itself (and logged): the test suite
 *   checks that every key used here exists (`tests/test_i18n_studio.py`).
 */

import { plural } from "../lib/format.js";

/** @typedef {{locale: string, strings: Record<string, string | Record<string, string>>}} StudioWords */

/** @returns {StudioWords} */
function readWords() {
  const el = typeof document === "undefined" ? null : document.getElementById("sd-strings");
  try {
    return JSON.parse((el && el.textContent) || "");
  } catch {
    return { locale: "en", strings: {} };
  }
}

const words = readWords();

/** The studio's language (a BCP 47 tag). */
export const locale = words.locale;

/**
 * @param {string} text
 * @param {Record<string, string | number>} vars
 */
function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/**
 * The message `key` in the studio's language.
 * @param {string} key
 * @param {Record<string, string | number>} [vars] values of its `{name}` placeholders
 */
export function t(key, vars = {}) {
  const text = words.strings[key];
  if (typeof text !== "string") {
    if (typeof document !== "undefined") console.error(`studio: no string ${key}`);
    return key;
  }
  return fill(text, vars);
}

/**
 * The plural message `key` for `n`, `{n}` as a number in the studio's language.
 * @param {string} key
 * @param {number} n
 * @param {Record<string, string | number>} [vars] values of its other placeholders
 */
export function tn(key, n, vars = {}) {
  if (!words.strings[key] || typeof words.strings[key] === "string") {
    console.error(`studio: no plural string ${key}`);
    return `${key} ${n}`;
  }
  let shown = String(n);
  try {
    shown = new Intl.NumberFormat(locale).format(n);
  } catch {
    /* an unknown locale: plain digits */
  }
  const cfg = /** @type {import("../lib/format.js").LocaleConfig} */ (/** @type {unknown} */ (words));
  return fill(plural(cfg, key, n, shown), vars);
}
