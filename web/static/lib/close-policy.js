// @ts-check
/**
 * What the client does after the server closes a live stream with a code. The table is the
 * server's (`app.live.close_codes.client_table`), read from the page's
 * `<script type="application/json" id="livefeed-config">`; codes it does not list (1000, 1001,
 * 1006 on a network failure, …) get the normal backoff. Pure.
 */

/**
 * One row of the server's table.
 * @typedef {object} ClosePolicyRow
 * @property {string} [name]
 * @property {string} [reason]
 * @property {"reconnect" | "retry_after" | "stop"} policy
 * @property {[number, number] | null} [delay_ms] random delay range; null: normal backoff
 * @property {number | null} [retry_after] seconds, for `retry_after`
 * @property {string | null} [message] for `stop`: what the reader is told
 */

/** @typedef {Record<string, ClosePolicyRow>} CloseTable */

/**
 * The decision: stop with a message, reconnect after a fixed delay, or back off as usual.
 * @typedef {{action: "stop", message: string}
 *   | {action: "reconnect", delayMs: number}
 *   | {action: "backoff"}} CloseDecision
 */

/**
 * @param {number} code the close code (WebSocket `CloseEvent.code`)
 * @param {CloseTable} table
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {CloseDecision}
 */
export function decide(code, table, random = Math.random) {
  const row = table[String(code)];
  if (!row) return { action: "backoff" };
  if (row.policy === "stop") {
    return { action: "stop", message: row.message || row.reason || `closed (${code})` };
  }
  if (row.policy === "retry_after") {
    const base = Math.max(0, row.retry_after ?? 0) * 1000;
    // Not sooner than asked; spread over up to half as long again.
    return { action: "reconnect", delayMs: base + random() * (base / 2) };
  }
  if (row.delay_ms) {
    const [low, high] = row.delay_ms;
    return { action: "reconnect", delayMs: low + random() * (high - low) };
  }
  return { action: "backoff" };
}

/**
 * The close-code table of this page, or an empty one (every code backs off) without it.
 * @param {Document} doc
 * @returns {CloseTable}
 */
export function pageCloseTable(doc) {
  const el = doc.getElementById("livefeed-config");
  if (!el || !el.textContent) return {};
  try {
    const config = JSON.parse(el.textContent);
    return config && typeof config.close_codes === "object" && config.close_codes
      ? config.close_codes
      : {};
  } catch {
    return {};
  }
}
