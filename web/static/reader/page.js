// @ts-check
/**
 * The parts of the reader page around a timeline: the connection indicator, and the feed's
 * header (title, description, live/ended badge) following `feed` events.
 */

import { part } from "./config.js";

/** @typedef {import("./config.js").TimelineConfig} TimelineConfig */
/** @typedef {import("../lib/live-client.js").LiveState} LiveState */

export class ConnectionIndicator {
  /**
   * @param {HTMLElement} root the timeline element (the indicator is inside it)
   * @param {TimelineConfig} cfg
   */
  constructor(root, cfg) {
    this.cfg = cfg;
    /** @type {HTMLElement} */
    this.el = part(root, ".lf-conn");
  }

  /**
   * Only trouble is worth the reader's attention; the feed's live badge covers the rest. A
   * stream the server refused for good (`stopped`) says why and stays shown.
   * @param {LiveState | "idle"} state
   * @param {string} [message]
   */
  show(state, message) {
    const s = this.cfg.strings;
    /** @type {Record<string, unknown>} */
    const text = {
      live: s.status_live,
      connecting: s.status_connecting,
      offline: s.status_offline,
      reconnecting: s.status_reconnecting,
      stopped: message || "",
    };
    this.el.setAttribute("data-state", state);
    part(this.el, ".lf-conn-text").textContent = String(text[state] || "");
    this.el.hidden = !(state === "offline" || state === "reconnecting" || state === "stopped");
  }
}

/**
 * Follow a `feed` event on the page: title, description and the live/ended badge.
 * @param {HTMLElement} root the timeline element
 * @param {TimelineConfig} cfg
 * @param {import("../lib/model.js").Feed} feed
 * @returns {string | null} the new page title, when it changed
 */
export function applyFeedHeader(root, cfg, feed) {
  /** @type {string | null} */
  let newTitle = null;
  const title = document.querySelector(".lf-title");
  if (feed.title && title && root.closest("main")) {
    title.textContent = feed.title;
    newTitle = feed.title;
  }
  const desc = document.querySelector(".lf-description");
  if (desc && typeof feed.description === "string") desc.textContent = feed.description;
  if (feed.status) {
    cfg.status = feed.status;
    const badge = document.querySelector(".lf-status[data-status]");
    if (badge) {
      badge.setAttribute("data-status", feed.status);
      badge.className = `lf-status lf-status-${feed.status}`;
      badge.textContent = String(feed.status === "live" ? cfg.strings.live : cfg.strings.ended);
    }
    /** @type {HTMLElement | null} */
    const ended = document.querySelector(".lf-ended");
    if (ended) ended.hidden = feed.status !== "ended";
  }
  return newTitle;
}
