// @ts-check
/**
 * The one reconnecting live client of the reader page, the embed and the studio.
 *
 * - Opens the feed's WebSocket with `since` = the rev the page holds; if a WebSocket never
 *   opens twice in a row on this page (or the browser has none), falls back to SSE, then to
 *   polling `changes?since=`. A transport that has worked once is kept through outages.
 * - After a close, does what the server's close-code table says (`close-policy.js`): reconnect
 *   after the given delay, back off with jitter, or stop and tell the reader why.
 * - Pauses on `offline`, resumes on `online`; a tab that becomes visible again catches up over
 *   HTTP (its socket may have died silently while it slept).
 *
 * The client does not interpret events: it hands each parsed message to `onEvent`, and the
 * owner (which holds the rev and applies or reloads) answers `rev()` when a `since` is needed.
 */

import { Backoff } from "./backoff.js";
import { decide } from "./close-policy.js";

/** Poll interval when polling is the transport (×4 in a background tab). */
export const POLL_MS = 5000;

/**
 * What the client is doing, for the page's connection indicator.
 * @typedef {"connecting" | "live" | "reconnecting" | "offline" | "stopped"} LiveState
 */

/** @typedef {"ws" | "sse" | "poll"} Transport */

/**
 * @typedef {object} LiveClientOptions
 * @property {string} ws WebSocket path of the feed (`/ws/feeds/{slug}`)
 * @property {string} sse SSE path (`/sse/feeds/{slug}`)
 * @property {string} changes change-log path (`/api/feeds/{slug}/changes`)
 * @property {() => number} rev the rev the owner holds: the next `since`
 * @property {(ev: import("./model.js").LiveEvent) => void} onEvent every parsed message
 * @property {(state: LiveState, message?: string) => void} onState
 * @property {import("./close-policy.js").CloseTable} closeTable
 * @property {Backoff} [backoff]
 */

export class LiveClient {
  /** @param {LiveClientOptions} options */
  constructor(options) {
    this.options = options;
    this.backoff = options.backoff || new Backoff();
    /** @type {Transport} */
    this.mode = "ws";
    /** Failed opens per transport, before it ever worked here. */
    this.failures = { ws: 0, sse: 0 };
    this.worked = { ws: false, sse: false };
    /** @type {number | undefined} */
    this.timer = undefined;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {EventSource | null} */
    this.es = null;
    this.running = false;
    this.connected = false;
    this.listening = false;
    /** @type {LiveState} */
    this.state = "connecting";
  }

  /** Connect, and follow the network and the tab's visibility until `stop()`. */
  start() {
    if (!this.listening) {
      this.listening = true;
      window.addEventListener("online", () => this.restart());
      window.addEventListener("offline", () => {
        if (!this.running) return;
        this.close();
        this.setState("offline");
      });
      document.addEventListener("visibilitychange", () => {
        if (document.hidden || !this.running) return;
        if (!this.connected) this.restart();
        else this.catchUp();
      });
      window.addEventListener("pagehide", () => this.close());
    }
    this.running = true;
    this.setState("connecting");
    this.connect();
  }

  /**
   * Stop for good (until `start()` again): no reconnect, no timer.
   * @param {string} [message] why, for the reader (a `stop` close code)
   */
  stop(message) {
    this.running = false;
    this.close();
    this.setState("stopped", message);
  }

  /** @param {LiveState} state @param {string} [message] */
  setState(state, message) {
    this.state = state;
    this.options.onState(state, message);
  }

  /** Drop the current transport without reconnecting. */
  close() {
    window.clearTimeout(this.timer);
    this.timer = undefined;
    this.connected = false;
    const ws = this.ws;
    if (ws) {
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
    }
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  /** Reconnect now (online again, tab awake, owner reloaded), trying the WebSocket first. */
  restart() {
    if (!this.running) return;
    this.close();
    this.backoff.reset();
    this.mode = "ws";
    this.failures = { ws: 0, sse: 0 };
    this.connect();
  }

  /** Drop the transport and reconnect after the next backoff delay (the owner's reload failed). */
  reconnectLater() {
    if (!this.running) return;
    this.close();
    this.schedule();
  }

  /**
   * Reconnect after `delay` ms, or after the next backoff delay.
   * @param {number} [delay]
   */
  schedule(delay) {
    if (!this.running) return;
    window.clearTimeout(this.timer);
    const wait = delay === undefined ? this.backoff.next() : delay;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, wait);
  }

  connect() {
    if (!this.running) return;
    if (navigator.onLine === false) {
      this.setState("offline");
      return; // the `online` event resumes
    }
    if (this.mode === "ws" && !("WebSocket" in window)) this.mode = "sse";
    if (this.mode === "sse" && !("EventSource" in window)) this.mode = "poll";
    if (this.mode === "ws") this.openWs();
    else if (this.mode === "sse") this.openSse();
    else this.poll();
  }

  /** @param {string} path */
  url(path) {
    const url = new URL(path, window.location.href);
    url.searchParams.set("since", String(this.options.rev()));
    return url;
  }

  /**
   * Count a failed open of `mode`; after two on a page where it never worked, move on to the
   * next transport. Returns whether it moved on.
   * @param {"ws" | "sse"} mode
   */
  fellBack(mode) {
    if (this.worked[mode]) return false; // it worked here: failures are outages, retry it
    this.failures[mode] += 1;
    if (this.failures[mode] < 2) return false;
    this.mode = mode === "ws" ? "sse" : "poll";
    this.backoff.reset();
    return true;
  }

  /** @param {string} data */
  deliver(data) {
    let ev;
    try {
      ev = JSON.parse(data);
    } catch {
      return; // not ours
    }
    if (ev && ev.type === "hello") this.backoff.reset();
    this.options.onEvent(ev);
  }

  /** @param {Transport} mode */
  opened(mode) {
    this.connected = true;
    if (mode !== "poll") {
      this.worked[mode] = true;
      this.failures[mode] = 0;
    }
    this.setState("live");
  }

  openWs() {
    const url = this.url(this.options.ws);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let opened = false;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(url.toString());
    } catch {
      this.fellBack("ws");
      this.schedule(0);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.opened("ws");
    };
    ws.onmessage = (msg) => this.deliver(String(msg.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      if (!this.running) return;
      this.afterClose(ev.code, opened);
    };
  }

  /**
   * The server (or the network) closed the WebSocket: follow the close-code table.
   * @param {number} code
   * @param {boolean} opened whether the socket had opened
   */
  afterClose(code, opened) {
    const decision = decide(code, this.options.closeTable);
    if (decision.action === "stop") {
      this.stop(decision.message);
      return;
    }
    if (!opened && this.fellBack("ws")) {
      this.schedule(0);
      return;
    }
    this.schedule(decision.action === "reconnect" ? decision.delayMs : undefined);
  }

  openSse() {
    const es = new EventSource(this.url(this.options.sse).toString());
    let opened = false;
    this.es = es;
    es.onopen = () => {
      opened = true;
      this.backoff.reset();
      this.opened("sse");
    };
    /** @param {MessageEvent} msg */
    const onMessage = (msg) => this.deliver(String(msg.data));
    for (const name of ["entry", "feed", "reset", "hello", "readers", "message"]) {
      es.addEventListener(name, onMessage);
    }
    es.onerror = () => {
      // Reconnection is ours, not EventSource's: our backoff, and the `since` we hold now.
      if (this.es !== es) return;
      es.close();
      this.es = null;
      this.connected = false;
      if (!this.running) return;
      if (!opened && this.fellBack("sse")) this.schedule(0);
      else this.schedule();
    };
  }

  /** Fetch and hand over the changes after the owner's rev. */
  async fetchChanges() {
    const response = await fetch(this.url(this.options.changes).toString(), { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    /** @type {{rev: number, events: import("./model.js").LiveEvent[]}} */
    const body = await response.json();
    for (const ev of body.events || []) this.options.onEvent(ev);
  }

  /** One-off catch-up over HTTP (a tab waking up); the live transport stays as it is. */
  catchUp() {
    this.fetchChanges().catch(() => {
      /* the live transport catches up when it reconnects */
    });
  }

  async poll() {
    try {
      await this.fetchChanges();
    } catch {
      this.connected = false;
      this.schedule();
      return;
    }
    if (!this.running || this.mode !== "poll") return;
    this.backoff.reset();
    this.opened("poll");
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.poll(), document.hidden ? POLL_MS * 4 : POLL_MS);
  }
}
