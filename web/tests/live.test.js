// @ts-check
/** Reconnect delays and the close-code policy (the table is the server's, see close_codes). */

import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff } from "../static/lib/backoff.js";
import { decide } from "../static/lib/close-policy.js";
import { fixture } from "./fixtures.js";

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

/**
 * The server's table (`app.live.close_codes.client_table`, as every page embeds it).
 * @type {import("../static/lib/close-policy.js").CloseTable}
 */
const table = fixture("close_codes.json");

test("4404 and 4403 stop, with the server's message for the reader", () => {
  for (const code of [4404, 4403]) {
    const row = table[String(code)];
    assert.equal(row.policy, "stop");
    assert.ok(row.message);
    assert.deepEqual(decide(code, table), { action: "stop", message: row.message });
  }
});

test("every code of the table gets a decision that follows its policy", () => {
  for (const [code, row] of Object.entries(table)) {
    for (const r of [0, 0.5, 0.999]) {
      const d = decide(Number(code), table, () => r);
      if (row.policy === "stop") {
        assert.deepEqual(d, { action: "stop", message: row.message }, code);
      } else if (row.policy === "retry_after") {
        assert.equal(d.action, "reconnect", code);
        const wait = Number(row.retry_after) * 1000;
        assert.ok(d.action === "reconnect" && d.delayMs >= wait && d.delayMs <= wait * 1.5, code);
      } else if (row.delay_ms) {
        const [low, high] = row.delay_ms;
        assert.ok(d.action === "reconnect" && d.delayMs >= low && d.delayMs <= high, code);
      } else {
        assert.deepEqual(d, { action: "backoff" }, code);
      }
    }
  }
});

test("a restart (1012) spreads reconnects over its range; a slow reader (4008) resumes at once", () => {
  assert.deepEqual(decide(1012, table, () => 0), { action: "reconnect", delayMs: table["1012"].delay_ms?.[0] });
  assert.deepEqual(decide(1012, table, () => 1), { action: "reconnect", delayMs: table["1012"].delay_ms?.[1] });
  assert.deepEqual(decide(4008, table, () => 0.5), { action: "reconnect", delayMs: 0 });
});

test("codes the table does not list back off (network drop 1006, normal 1000)", () => {
  assert.deepEqual(decide(1006, table), { action: "backoff" });
  assert.deepEqual(decide(1000, table), { action: "backoff" });
  assert.deepEqual(decide(4404, {}), { action: "backoff" });
});
