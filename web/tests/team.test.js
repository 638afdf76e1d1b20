// @ts-check
/** The studio's team desk and team channel: pure rules, and the client against a fake socket. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff } from "../static/lib/backoff.js";
import { actionsFor, placeOf, placed } from "../static/studio/desk.js";
import { SIGNED_OUT, TEAM_PROTOCOL, TeamChannel, editorsOf, presenceList, teamUrl } from "../static/studio/team.js";

/** @param {number} id @param {string} status @param {boolean} [deleted] */
const entry = (id, status, deleted = false) => ({ id, status, deleted, body: `e${id}` });

test("an entry's desk list follows its status; published leaves the desk", () => {
  assert.equal(placeOf(entry(1, "draft")), "draft");
  assert.equal(placeOf(entry(1, "submitted")), "submitted");
  assert.equal(placeOf(entry(1, "scheduled")), "scheduled");
  assert.equal(placeOf(entry(1, "published", true)), "deleted");
  assert.equal(placeOf(entry(1, "draft", true)), "deleted");
  assert.equal(placeOf(entry(1, "published")), null);
});

test("placing moves an entry between lists, newest first, never twice", () => {
  /** @type {Record<import("../static/studio/desk.js").Place, import("../static/studio/team.js").TeamEntry[]>} */
  let lists = { submitted: [], draft: [], scheduled: [], deleted: [] };
  lists = placed(lists, entry(1, "draft"));
  lists = placed(lists, entry(2, "draft"));
  assert.deepEqual(lists.draft.map((e) => e.id), [2, 1]);
  lists = placed(lists, entry(1, "submitted"));
  assert.deepEqual(lists.draft.map((e) => e.id), [2]);
  assert.deepEqual(lists.submitted.map((e) => e.id), [1]);
  lists = placed(lists, entry(1, "published"));
  assert.deepEqual(lists.submitted, []);
  assert.deepEqual(lists.draft.map((e) => e.id), [2]);
});

test("contributors submit; only editors publish, schedule, return to draft, restore", () => {
  assert.deepEqual(actionsFor("draft", false), ["edit", "submit", "delete"]);
  assert.deepEqual(actionsFor("submitted", false), ["edit", "delete"]);
  assert.deepEqual(actionsFor("deleted", false), []);
  assert.deepEqual(actionsFor("submitted", true), ["edit", "publish", "schedule", "to_draft", "delete"]);
  assert.deepEqual(actionsFor("draft", true), ["edit", "submit", "publish", "schedule", "delete"]);
  assert.deepEqual(actionsFor("deleted", true), ["restore"]);
});

test("who else is editing an entry, and the presence list with me first", () => {
  const members = [
    { key: "a", name: "Ana", editing: [3] },
    { key: "b", name: "Ben", editing: [3, 4] },
  ];
  assert.deepEqual(editorsOf(members, 3, "a"), ["Ben"]);
  assert.deepEqual(editorsOf(members, 4, "b"), []);
  assert.deepEqual(
    presenceList(members, "b").map((m) => [m.name, m.self]),
    [
      ["Ben", true],
      ["Ana", false],
    ]
  );
  assert.equal(teamUrl(new URL("https://live.example/studio"), "a b"), "wss://live.example/api/feeds/a%20b/team/live");
});

class FakeSocket {
  /** @type {FakeSocket[]} */
  static made = [];
  /** @param {string} url @param {string[]} protocols */
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 1;
    /** @type {string[]} */
    this.sent = [];
    /** @type {((ev: {data: string}) => void) | null} */
    this.onmessage = null;
    /** @type {((ev: {code: number}) => void) | null} */
    this.onclose = null;
    FakeSocket.made.push(this);
  }
  /** @param {string} data */
  send(data) {
    this.sent.push(data);
  }
  close() {}
  /** @param {unknown} frame */
  receive(frame) {
    if (this.onmessage) this.onmessage({ data: JSON.stringify(frame) });
  }
}

test("the client refetches on every connect, says again what it edits, stops on 4401", async () => {
  FakeSocket.made = [];
  /** @type {string[]} */
  const states = [];
  let refetches = 0;
  const channel = new TeamChannel({
    url: "ws://x/api/feeds/f/team/live",
    token: () => "lf_tok",
    onConnected: () => refetches++,
    onFrame: () => {},
    onState: (state) => states.push(state),
    WebSocketImpl: /** @type {any} */ (FakeSocket),
    backoff: new Backoff({ baseMs: 1, maxMs: 1, random: () => 0 }),
  });
  channel.start();
  const first = FakeSocket.made[0];
  assert.deepEqual(first.protocols, [TEAM_PROTOCOL, "livefeed-bearer.lf_tok"]);
  first.receive({ type: "hello", feed: "f", you: { key: "token:Ana", name: "Ana" }, heartbeat: 25 });
  assert.equal(refetches, 1);
  assert.equal(channel.selfKey, "token:Ana");
  channel.editing(7);
  assert.deepEqual(first.sent.map((s) => JSON.parse(s)), [{ type: "editing", entry: 7 }]);

  if (first.onclose) first.onclose({ code: 1012 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = FakeSocket.made[1];
  assert.ok(second, "reconnected");
  second.receive({ type: "hello", feed: "f", you: { key: "token:Ana", name: "Ana" }, heartbeat: 25 });
  assert.equal(refetches, 2, "refetched after the reconnect");
  assert.deepEqual(second.sent.map((s) => JSON.parse(s)), [{ type: "editing", entry: 7 }]);

  if (second.onclose) second.onclose({ code: SIGNED_OUT });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(FakeSocket.made.length, 2, "no reconnect after 4401");
  assert.equal(states.at(-1), "stopped");
});
