// @ts-check
// The studio's media rules (web/static/studio/media.js): what an entry is published with.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ALT_REQUIRED, STILL_UPLOADING, mediaRefs, refsOf } from "../static/studio/media.js";

/** @typedef {import("../static/studio/media.js").Item} Item */

/** @param {number} id @param {Partial<Item>} [fields] @returns {Item} */
function photo(id, fields = {}) {
  return {
    key: id, name: `p${id}.jpg`, preview: "", progress: 100, status: "done", error: "", xhr: null,
    media: { id, kind: "image", url: `/media/${id}.jpg`, width: 10, height: 10, alt: null, variants: [], thumbnail: [], card: null },
    alt: "", decorative: false, caption: "", credit: "",
    ...fields,
  };
}

test("photos need alt text unless marked decorative", () => {
  assert.throws(() => mediaRefs([photo(1)]), { message: ALT_REQUIRED });
  assert.throws(() => mediaRefs([photo(1, { alt: "   " })]), { message: ALT_REQUIRED });
  assert.deepEqual(mediaRefs([photo(1, { alt: " Crowd " }), photo(2, { decorative: true, alt: "ignored" })]), [
    { id: 1, alt: "Crowd" },
    { id: 2, alt: "" },
  ]);
});

test("caption and credit travel with the ref; cards go by id", () => {
  const card = photo(3);
  card.media = { id: 3, kind: "card", url: "https://v", width: null, height: null, alt: null, variants: [], thumbnail: [], card: null };
  assert.deepEqual(mediaRefs([photo(1, { alt: "a", caption: " Gate ", credit: "AFP" }), card]), [
    { id: 1, alt: "a", caption: "Gate", credit: "AFP" },
    3,
  ]);
});

test("nothing is published while an upload runs or failed", () => {
  assert.throws(() => mediaRefs([photo(1, { status: "uploading", media: null })]), { message: STILL_UPLOADING });
  assert.throws(() => mediaRefs([photo(1, { status: "failed", media: null })]), { message: STILL_UPLOADING });
});

test("an entry's media is republished exactly (edit keeps texts)", () => {
  assert.deepEqual(
    refsOf([
      { id: 1, kind: "image", url: "/m/1", alt: "", caption: "c", credit: null, card: null },
      { id: 2, kind: "card", url: "https://v", alt: null, caption: null, credit: null, card: { title: "T" } },
    ]),
    [{ id: 1, alt: "", caption: "c" }, 2],
  );
});
