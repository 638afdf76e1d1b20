// @ts-check
/**
 * livefeed reader (and embed): keeps every server-rendered timeline
 * (`[data-livefeed-timeline]`) on the page live. An ES module, no build step.
 *
 * Wires three parts per timeline: the `Timeline` (applies events to the DOM), the shared
 * `LiveClient` (transports, reconnects, close-code policy) and the page around them. A feed
 * that ends stays connected, so reopening it resumes the page live.
 */

import { pageCloseTable } from "./lib/close-policy.js";
import { LiveClient } from "./lib/live-client.js";
import { OlderPages } from "./reader/older.js";
import { ConnectionIndicator, applyFeedHeader } from "./reader/page.js";
import { readConfig } from "./reader/config.js";
import { Timeline } from "./reader/timeline.js";

/**
 * @param {HTMLElement} root
 * @param {import("./lib/close-policy.js").CloseTable} closeTable
 */
function mount(root, closeTable) {
  const cfg = readConfig(root);
  const timeline = new Timeline(root, cfg);
  const older = new OlderPages(timeline);
  timeline.onPageReloaded = () => older.sync();
  if (!cfg.live) return timeline;
  const indicator = new ConnectionIndicator(root, cfg);
  const client = new LiveClient({
    ws: cfg.ws,
    sse: cfg.sse,
    changes: `${cfg.api}/changes`,
    rev: () => timeline.rev,
    onEvent: (ev) => timeline.handle(ev),
    onState: (state, message) => indicator.show(state, message),
    closeTable,
  });
  timeline.onReloadFailed = () => client.reconnectLater();
  timeline.onFeed = (feed) => {
    const title = applyFeedHeader(root, cfg, feed);
    if (title) {
      timeline.baseTitle = title;
      timeline.updateTitle();
    }
    if (feed.status === "ended") timeline.announce(String(cfg.strings.ended_notice));
  };
  client.start();
  return timeline;
}

function boot() {
  const closeTable = pageCloseTable(document);
  for (const root of document.querySelectorAll("[data-livefeed-timeline]")) {
    const el = /** @type {HTMLElement & {livefeed?: Timeline}} */ (root);
    if (!el.livefeed) el.livefeed = mount(el, closeTable);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
