// @ts-check
/** The timeline model: order, event classification, the key-event list. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { Formatter, headline } from "../static/lib/format.js";
import { KeyEvents, classify, isNewer, newestFirst } from "../static/lib/model.js";
import { fixture } from "./fixtures.js";

/** @typedef {import("../static/lib/model.js").Entry} Entry */

/** @param {Partial<Entry> & {id: number}} fields @returns {Entry} */
function entry(fields) {
  return {
    feed: "f",
    rev: 1,
    body: `entry ${fields.id}`,
    html: `<p>entry ${fields.id}</p>`,
    pinned: false,
    key_event: false,
    published_at: "2021-06-24T12:00:00+00:00",
    ...fields,
  };
}

/** @param {Entry} e */
const headlineOf = (e) => headline(e.html, e.body);

test("newest first by publication instant, then by id", () => {
  assert.ok(isNewer({ ts: 2, id: 1 }, { ts: 1, id: 9 }));
  assert.ok(isNewer({ ts: 1, id: 2 }, { ts: 1, id: 1 }));
  assert.ok(!isNewer({ ts: 1, id: 1 }, { ts: 1, id: 1 }));
  const list = newestFirst([
    entry({ id: 1, published_at: "2021-06-24T12:00:00Z" }),
    entry({ id: 3, published_at: "2021-06-24T11:00:00Z" }),
    entry({ id: 2, published_at: "2021-06-24T12:00:00Z" }),
    entry({ id: 4, published_at: "2021-06-24T13:00:00Z", deleted: true }),
  ]);
  assert.deepEqual(
    list.map((e) => e.id),
    [2, 1, 3]
  );
});

test("reset reloads whether the page is ahead of or behind the server", () => {
  assert.equal(classify({ type: "reset", rev: 3 }, 50), "reload"); // page ahead (restore)
  assert.equal(classify({ type: "reset", rev: 5000 }, 50), "reload"); // page far behind
  assert.equal(classify({ type: "reset", rev: 50 }, 50), "reload");
});

test("entry and feed events apply once, in rev order", () => {
  assert.equal(classify({ type: "entry", rev: 51 }, 50), "apply");
  assert.equal(classify({ type: "feed", rev: 51 }, 50), "apply");
  assert.equal(classify({ type: "entry", rev: 50 }, 50), "stale");
  assert.equal(classify({ type: "entry", rev: 7 }, 50), "stale");
  assert.equal(classify({ type: "hello", rev: 99 }, 50), "ignore");
});

test("the key-event list keeps the server's whole-feed list and follows changes", () => {
  const cases = fixture("key_events.json");
  const fmt = new Formatter(cases.config);
  /** @type {Entry[]} */
  const entries = cases.entries;
  // Built from the entries' events, the list is the server's: order, labels, headlines.
  const built = new KeyEvents([]);
  for (const e of entries) built.apply(e, headlineOf);
  assert.deepEqual(
    built.list().map((k) => ({ id: k.id, when: fmt.when(k.ts, k.hasTime), headline: k.headline, ts: k.ts })),
    cases.keyEvents
  );
  // Seeded from the rendered list (entries not on the page included), a change to one
  // entry touches only that one: nothing shrinks to what the page shows.
  const seeded = new KeyEvents(
    cases.keyEvents.map((/** @type {any} */ k) => ({ id: k.id, ts: k.ts, hasTime: true, headline: k.headline }))
  );
  const changed = entry({ id: 999, key_event: true, published_at: "2030-01-01T00:00:00Z", body: "New", html: "<p>New</p>" });
  assert.ok(seeded.apply(changed, headlineOf));
  assert.equal(seeded.list().length, cases.keyEvents.length + 1);
  assert.equal(seeded.list()[0].id, 999);
  assert.ok(seeded.apply({ ...changed, key_event: false }, headlineOf));
  assert.equal(seeded.list().length, cases.keyEvents.length);
  assert.ok(seeded.apply({ ...entries[0], deleted: true }, headlineOf));
  assert.ok(!seeded.list().some((k) => k.id === entries[0].id));
  assert.ok(!seeded.apply({ ...entries[0], deleted: true }, headlineOf), "no change twice");
});

test("the key-event list shows no more than the server's number of links", () => {
  const { limit } = fixture("key_events.json");
  const list = new KeyEvents([], limit);
  for (let id = 1; id <= limit + 5; id += 1) {
    const published_at = new Date(Date.UTC(2021, 5, 24, 0, id)).toISOString();
    list.apply(entry({ id, key_event: true, published_at }), headlineOf);
  }
  const shown = list.list();
  assert.equal(shown.length, limit);
  assert.equal(shown[0].id, limit + 5, "newest first");
  assert.equal(shown[limit - 1].id, 6, "the oldest beyond the bound are left out");
});
