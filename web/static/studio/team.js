// @ts-check
/**
 * The studio's end of a feed's private team channel (`/api/feeds/{slug}/team/live`, README
 * "The team channel"): unpublished entries changing and who is in the console, live.
 *
 * - Credentials: the session cookie goes by itself; a bearer token is offered as the
 *   subprotocol `livefeed-bearer.TOKEN` (a browser cannot set headers on a WebSocket).
 * - Every (re)connect calls `onConnected`, which refetches the unpublished lists: a frame
 *   missed while disconnected is healed then.
 * - 4401 (signed out, account disabled) stops it for good; anything else reconnects with
 *   backoff and jitter, and says again which entry this person is editing.
 */

import { Backoff } from "../lib/backoff.js";

export const TEAM_PROTOCOL = "livefeed-team";
export const SIGNED_OUT = 4401;

/** @typedef {{key: string, name: string, editing: number[]}} Member */
/** @typedef {{id: number, status: string, deleted: boolean} & Record<string, any>} TeamEntry */
/**
 * @typedef {{type: "hello", feed: string, you: {key: string, name: string}, heartbeat: number}
 *   | {type: "entry", action: string, entry: TeamEntry}
 *   | {type: "presence", members: Member[]}
 *   | {type: "error", detail: string}} TeamFrame
 */
/** @typedef {"connecting" | "live" | "reconnecting" | "stopped"} TeamState */

/**
 * The names of the other people editing entry `id` (pure).
 * @param {Member[]} members
 * @param {number} id
 * @param {string | null} selfKey
 * @returns {string[]}
 */
export function editorsOf(members, id, selfKey) {
  return members.filter((m) => m.key !== selfKey && m.editing.includes(id)).map((m) => m.name);
}

/**
 * Everyone in the console, this person first and marked (pure).
 * @param {Member[]} members
 * @param {string | null} selfKey
 * @returns {{name: string, self: boolean, editing: number[]}[]}
 */
export function presenceList(members, selfKey) {
  const me = members.filter((m) => m.key === selfKey);
  const others = members.filter((m) => m.key !== selfKey);
  return [...me, ...others].map((m) => ({ name: m.name, self: m.key === selfKey, editing: m.editing }));
}

/**
 * The WebSocket URL of `slug`'s team channel, from the page's location.
 * @param {Location | URL} location
 * @param {string} slug
 */
export function teamUrl(location, slug) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/feeds/${encodeURIComponent(slug)}/team/live`;
}

export class TeamChannel {
  /**
   * @param {object} options
   * @param {string} options.url
   * @param {() => string | null} options.token a bearer token, or null (the session cookie)
   * @param {() => void} options.onConnected (re)connected: refetch what may have been missed
   * @param {(frame: TeamFrame) => void} options.onFrame
   * @param {(state: TeamState, code?: number) => void} options.onState
   * @param {typeof WebSocket} [options.WebSocketImpl]
   * @param {Backoff} [options.backoff]
   */
  constructor({ url, token, onConnected, onFrame, onState, WebSocketImpl, backoff }) {
    this.url = url;
    this.token = token;
    this.onConnected = onConnected;
    this.onFrame = onFrame;
    this.onState = onState;
    this.WebSocketImpl = WebSocketImpl || WebSocket;
    this.backoff = backoff || new Backoff({ baseMs: 500, maxMs: 15000 });
    /** @type {WebSocket | null} */
    this.ws = null;
    this.running = false;
    /** @type {number | null} the entry this person has open in an editor */
    this.editingId = null;
    /** @type {string | null} this person's presence key (from hello) */
    this.selfKey = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  start() {
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "studio closed");
  }

  connect() {
    if (!this.running) return;
    const token = this.token();
    const protocols = token ? [TEAM_PROTOCOL, `livefeed-bearer.${token}`] : [TEAM_PROTOCOL];
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url, protocols);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.onState(this.backoff.attempt ? "reconnecting" : "connecting");
    ws.onmessage = (ev) => {
      /** @type {TeamFrame} */
      let frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (frame.type === "hello") {
        this.selfKey = frame.you.key;
        this.backoff.reset();
        this.onState("live");
        if (this.editingId !== null) this.send({ type: "editing", entry: this.editingId });
        this.onConnected();
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return; // stopped, or replaced
      this.ws = null;
      if (ev.code === SIGNED_OUT) {
        this.running = false;
        this.onState("stopped", ev.code);
        return;
      }
      this.retry();
    };
  }

  retry() {
    if (!this.running) return;
    this.onState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.backoff.next());
  }

  /** This person opened entry `id`'s editor (null: closed it). @param {number | null} id */
  editing(id) {
    this.editingId = id;
    this.send({ type: "editing", entry: id });
  }

  /** @param {unknown} message */
  send(message) {
    const ws = this.ws;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(message));
  }
}
