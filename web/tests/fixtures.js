// @ts-check
/** Reads the server-produced fixtures (`tests/fixtures/js/`, see `tests/js_fixtures.py`). */

import { readFileSync } from "node:fs";

/** @param {string} name @returns {any} */
export function fixture(name) {
  const url = new URL(`../../tests/fixtures/js/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf-8"));
}
