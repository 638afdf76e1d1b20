// @ts-check
/** Reconnect delays and the close-code policy (the table is the server's, see close_codes). */

import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff } from "../static/shared/backoff.js";
import { decide } from "../static/shared/close-policy.js";

test("backoff doubles its cap up to the maximum, jittered within [cap/2, cap)", () => {
  const low = new Backoff({ baseMs: 1000, maxMs: 8000, random: () => 0 });
  assert.deepEqual(
    [low.next(), low.next(), low.next(), low.next(), low.next()],
    [500, 1000, 2000, 4000, 4000]
  );
  const mid = new Backoff({ baseMs: 1000, maxMs: 8000, random: () => 0.5 });
  assert.deepEqual(
    [mid.next(), mid.next(), mid.next(), mid.next(), mid.next()],
    [750, 1500, 3000, 6000, 6000]
  );
  mid.reset();
  assert.equal(mid.next(), 750);
});

/** @type {import("../static/shared/close-policy.js").CloseTable} */
const table = {
  "1012": { policy: "reconnect", delay_ms: [250, 2000] },
  "4008": { policy: "reconnect", delay_ms: [0, 0] },
  "1013": { policy: "retry_after", retry_after: 5 },
  "1008": { policy: "reconnect", delay_ms: null },
  "4404": { policy: "stop", message: "This live feed does not exist." },
  "4403": { policy: "stop", message: "This feed cannot be shown live on this site." },
};

test("stop codes stop with the server's message", () => {
  assert.deepEqual(decide(4404, table), { action: "stop", message: "This live feed does not exist." });
  assert.deepEqual(decide(4403, table), {
    action: "stop",
    message: "This feed cannot be shown live on this site.",
  });
});

test("reconnect codes wait within their range; retry_after never sooner than asked", () => {
  assert.deepEqual(decide(1012, table, () => 0), { action: "reconnect", delayMs: 250 });
  assert.deepEqual(decide(1012, table, () => 1), { action: "reconnect", delayMs: 2000 });
  assert.deepEqual(decide(4008, table, () => 0.5), { action: "reconnect", delayMs: 0 });
  assert.deepEqual(decide(1013, table, () => 0), { action: "reconnect", delayMs: 5000 });
  assert.deepEqual(decide(1013, table, () => 1), { action: "reconnect", delayMs: 7500 });
});

test("codes without a range, and codes the table does not list, back off", () => {
  assert.deepEqual(decide(1008, table), { action: "backoff" });
  assert.deepEqual(decide(1006, table), { action: "backoff" });
  assert.deepEqual(decide(1000, {}), { action: "backoff" });
});
