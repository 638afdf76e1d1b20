// @ts-check
/**
 * The team desk: the open feed's unpublished work, shared with its team and kept live by the
 * team channel (`team.js`) — drafts, the review queue (submitted), scheduled and deleted
 * updates — with the actions each person's role allows, who is in the console, and who is
 * editing what. Every list is refetched whenever the team channel (re)connects, so a change
 * missed while disconnected is healed then.
 */

import { byId } from "./dom.js";
import { t } from "./i18n.js";
import { statusOf } from "./api.js";
import { TeamChannel, editorsOf, presenceList, teamUrl } from "./team.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./dom.js").Messages} Messages */
/** @typedef {import("./team.js").TeamEntry} TeamEntry */
/** @typedef {import("./team.js").Member} Member */
/** @typedef {import("./team.js").TeamFrame} TeamFrame */
/** @typedef {"draft" | "submitted" | "scheduled" | "deleted"} Place */

/** Lists in the order the desk shows them. @type {Place[]} */
export const PLACES = ["submitted", "draft", "scheduled", "deleted"];

/**
 * Which desk list an entry belongs in; null once it is published (readers have it).
 * @param {{status: string, deleted: boolean}} entry
 * @returns {Place | null}
 */
export function placeOf(entry) {
  if (entry.deleted) return "deleted";
  if (entry.status === "draft" || entry.status === "submitted" || entry.status === "scheduled") {
    return entry.status;
  }
  return null;
}

/**
 * The actions offered on an entry of the desk (pure; the server decides in the end).
 * @param {Place} place
 * @param {boolean} canPublish an editor of the feed (or admin)
 * @returns {string[]}
 */
export function actionsFor(place, canPublish) {
  if (place === "deleted") return canPublish ? ["restore"] : [];
  /** @type {string[]} */
  const acts = ["edit"];
  if (place === "draft") acts.push("submit");
  if (canPublish) {
    acts.push("publish", "schedule");
    if (place !== "draft") acts.push("to_draft");
  }
  acts.push("delete");
  return acts;
}

/**
 * Move `entry` into `lists` (a copy): out of every list, then to the front of its own.
 * @param {Record<Place, TeamEntry[]>} lists
 * @param {TeamEntry} entry
 * @returns {Record<Place, TeamEntry[]>}
 */
export function placed(lists, entry) {
  /** @type {Record<string, TeamEntry[]>} */
  const out = {};
  for (const place of PLACES) out[place] = (lists[place] || []).filter((e) => e.id !== entry.id);
  const place = placeOf(entry);
  if (place) out[place] = [entry, ...out[place]];
  return /** @type {Record<Place, TeamEntry[]>} */ (out);
}

/** @returns {Record<Place, TeamEntry[]>} */
function emptyLists() {
  return { submitted: [], draft: [], scheduled: [], deleted: [] };
}

/** @param {string} iso */
function localTime(iso) {
  try {
    return new Date(iso).toLocaleString(document.documentElement.lang || undefined, {
      dateStyle: "short",
      timeStyle: "short",
    });
  } catch {
    return iso;
  }
}

/** Action key → its button label's string key. */
const ACTION_LABEL = {
  edit: "desk_edit",
  submit: "desk_submit",
  publish: "desk_publish_now",
  schedule: "desk_schedule",
  to_draft: "desk_to_draft",
  delete: "desk_delete",
  restore: "desk_restore",
};

export class TeamDesk {
  /**
   * @param {Api} api
   * @param {Messages} messages
   * @param {(entry: TeamEntry) => void} onPublished an entry left the desk for readers
   */
  constructor(api, messages, onPublished) {
    this.api = api;
    this.messages = messages;
    this.onPublished = onPublished;
    /** @type {string | null} */
    this.slug = null;
    this.canPublish = false;
    this.lists = emptyLists();
    /** @type {Member[]} */
    this.members = [];
    /** @type {TeamChannel | null} */
    this.channel = null;
    /** @type {number | null} the entry whose editor is open here */
    this.editingId = null;
    this.loadSeq = 0;
    /** The team channel closed with 4401: the session ended or the account was disabled. */
    this.onSignedOut = () => {};
  }

  /**
   * Show feed `slug`'s desk and follow its team channel (null: close it).
   * @param {string | null} slug
   * @param {boolean} canPublish
   */
  open(slug, canPublish) {
    this.close();
    this.slug = slug;
    this.canPublish = canPublish;
    byId("sd-desk").hidden = !slug;
    if (!slug) return;
    this.channel = new TeamChannel({
      url: teamUrl(window.location, slug),
      token: () => this.api.token,
      onConnected: () => void this.load(),
      onFrame: (frame) => this.handle(frame),
      onState: (state, code) => {
        this.showState(state, code);
        if (state === "stopped") this.onSignedOut();
      },
    });
    this.channel.start();
  }

  close() {
    if (this.channel) this.channel.stop();
    this.channel = null;
    this.slug = null;
    this.lists = emptyLists();
    this.members = [];
    this.editingId = null;
    this.render();
  }

  /** @param {import("./team.js").TeamState} state @param {number} [code] */
  showState(state, code) {
    const el = byId("sd-desk-conn");
    el.setAttribute("data-state", state);
    el.textContent =
      state === "live" ? t("desk_live") : state === "stopped" && code === 4401 ? t("desk_signed_out") : t("desk_reconnecting");
  }

  /** Refetch every list (on each (re)connect of the channel). */
  async load() {
    const slug = this.slug;
    if (!slug) return;
    const seq = ++this.loadSeq;
    const base = `/api/feeds/${encodeURIComponent(slug)}/entries`;
    try {
      const [open, deleted] = await Promise.all([
        this.api.call("GET", `${base}?status=draft,submitted,scheduled&limit=200`),
        this.api.call("GET", `${base}?status=deleted&limit=200`),
      ]);
      if (seq !== this.loadSeq || slug !== this.slug) return;
      let lists = emptyLists();
      for (const entry of [...deleted.data.entries].reverse()) lists = placed(lists, entry);
      for (const entry of [...open.data.entries].reverse()) lists = placed(lists, entry);
      this.lists = lists;
      byId("sd-desk-error").textContent = "";
      this.render();
    } catch (err) {
      if (seq === this.loadSeq) byId("sd-desk-error").textContent = this.api.explain(err);
    }
  }

  /** @param {TeamFrame} frame */
  handle(frame) {
    if (frame.type === "entry") this.upsert(frame.entry);
    else if (frame.type === "presence") {
      this.members = frame.members;
      this.renderPresence();
    }
  }

  /** An entry as the API or the channel returned it. @param {TeamEntry} entry */
  upsert(entry) {
    if (!this.slug || (entry.feed && entry.feed !== this.slug)) return;
    const wasHere = PLACES.some((p) => this.lists[p].some((e) => e.id === entry.id));
    this.lists = placed(this.lists, entry);
    if (!placeOf(entry) && wasHere) this.onPublished(entry);
    this.render();
  }

  render() {
    for (const place of PLACES) {
      const list = byId(`sd-list-${place}`);
      const entries = this.lists[place];
      // An entry with a form open here (its editor, its schedule) keeps it: a frame that
      // arrives meanwhile re-renders the others only.
      /** @type {Map<number, Element>} */
      const keep = new Map();
      for (const form of list.querySelectorAll("form:not([hidden])")) {
        const li = form.closest("[data-id]");
        if (li) keep.set(Number(li.getAttribute("data-id")), li);
      }
      list.replaceChildren(...entries.map((e) => keep.get(e.id) || this.item(e, place)));
      byId(`sd-count-${place}`).textContent = entries.length ? `(${entries.length})` : "";
      byId(`sd-empty-${place}`).hidden = entries.length > 0;
    }
    this.renderPresence();
  }

  /** @param {TeamEntry} entry @param {Place} place @returns {HTMLElement} */
  item(entry, place) {
    const tpl = /** @type {HTMLTemplateElement} */ (byId("sd-desk-tpl"));
    const li = /** @type {HTMLElement} */ (tpl.content.firstElementChild?.cloneNode(true));
    li.setAttribute("data-id", String(entry.id));
    li.setAttribute("data-status", entry.deleted ? "deleted" : entry.status);
    /** @type {HTMLElement} */ (li.querySelector(".sd-desk-status")).textContent = t(`status_${place}`);
    /** @type {HTMLElement} */ (li.querySelector(".sd-desk-author")).textContent = entry.author || "";
    const when = /** @type {HTMLElement} */ (li.querySelector(".sd-desk-when"));
    when.textContent =
      place === "scheduled" && entry.publish_at
        ? t("desk_publishes_at", { time: localTime(entry.publish_at) })
        : localTime(entry.updated_at);
    // Sanitized by the server with the same renderer as published entries.
    /** @type {HTMLElement} */ (li.querySelector(".sd-desk-body")).innerHTML = entry.html;
    const actions = /** @type {HTMLElement} */ (li.querySelector(".sd-desk-actions"));
    for (const act of actionsFor(place, this.canPublish)) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = act === "delete" ? "sd-btn sd-btn-small sd-btn-danger" : "sd-btn sd-btn-small";
      b.setAttribute("data-desk", act);
      b.textContent = t(/** @type {Record<string, string>} */ (ACTION_LABEL)[act]);
      b.addEventListener("click", () => void this.act(entry, act, li));
      actions.append(b);
    }
    this.markEditors(li, entry.id);
    return li;
  }

  /** @param {HTMLElement} li @param {number} id */
  markEditors(li, id) {
    const marker = /** @type {HTMLElement | null} */ (li.querySelector(".sd-editing"));
    if (!marker) return;
    const names = editorsOf(this.members, id, this.channel ? this.channel.selfKey : null);
    const text = names.length ? t("desk_is_editing", { names: names.join(", ") }) : "";
    // Only when it changed: the published list's observer sees every write here.
    if (marker.hidden !== !names.length) marker.hidden = !names.length;
    if (marker.textContent !== text) marker.textContent = text;
  }

  renderPresence() {
    const list = byId("sd-presence-list");
    const self = this.channel ? this.channel.selfKey : null;
    list.replaceChildren(
      ...presenceList(this.members, self).map((m) => {
        const li = document.createElement("li");
        li.textContent = m.self ? t("presence_you", { name: m.name }) : m.name;
        if (m.self) li.className = "is-self";
        return li;
      })
    );
    for (const li of document.querySelectorAll("#sd-desk [data-id], #sd-entries [data-id]")) {
      const id = Number(li.getAttribute("data-id"));
      let marker = /** @type {HTMLElement | null} */ (li.querySelector(".sd-editing"));
      if (!marker) {
        marker = document.createElement("p");
        marker.className = "sd-editing";
        marker.hidden = true;
        li.prepend(marker);
      }
      this.markEditors(/** @type {HTMLElement} */ (li), id);
    }
  }

  /**
   * @param {TeamEntry} entry
   * @param {string} act
   * @param {HTMLElement} li
   */
  async act(entry, act, li) {
    if (!this.slug) return;
    const base = `/api/feeds/${encodeURIComponent(this.slug)}/entries/${entry.id}`;
    const error = /** @type {HTMLElement} */ (li.querySelector(".sd-desk-error"));
    error.textContent = "";
    if (act === "edit") return this.openEditor(entry, li);
    if (act === "schedule") return this.openSchedule(entry, li);
    /** @type {Record<string, [string, string, unknown, string]>} */
    const calls = {
      submit: ["POST", `${base}/submit`, undefined, "desk_done_submitted"],
      publish: ["POST", `${base}/publish`, undefined, "desk_done_published"],
      to_draft: ["PATCH", base, { status: "draft" }, "desk_done_to_draft"],
      delete: ["DELETE", base, undefined, "desk_done_deleted"],
      restore: ["POST", `${base}/restore`, undefined, "desk_done_restored"],
    };
    const call = calls[act];
    if (!call) return;
    await this.send(call[0], call[1], call[2], call[3], error);
  }

  /**
   * @param {string} method @param {string} path @param {unknown} body @param {string} done
   * @param {HTMLElement} error
   */
  async send(method, path, body, done, error) {
    try {
      const res = await this.api.call(method, path, body);
      if (res.data && typeof res.data === "object" && "id" in res.data) this.upsert(res.data);
      else if (method === "DELETE") await this.load();
      this.messages.toast(t(done));
      return true;
    } catch (err) {
      error.textContent = statusOf(err) === 409 ? t("desk_conflict", { detail: /** @type {any} */ (err).detail }) : this.api.explain(err);
      return false;
    }
  }

  /** @param {TeamEntry} entry @param {HTMLElement} li */
  openEditor(entry, li) {
    const form = /** @type {HTMLFormElement} */ (li.querySelector(".sd-desk-editor"));
    const text = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
    text.value = entry.body;
    form.hidden = false;
    text.focus();
    this.editingId = entry.id;
    if (this.channel) this.channel.editing(entry.id);
    const closeEditor = () => {
      form.hidden = true;
      this.editingId = null;
      if (this.channel) this.channel.editing(null);
      this.render();
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      if (!this.slug) return;
      const path = `/api/feeds/${encodeURIComponent(this.slug)}/entries/${entry.id}`;
      const error = /** @type {HTMLElement} */ (li.querySelector(".sd-desk-error"));
      if (await this.send("PATCH", path, { body: text.value }, "desk_done_saved", error)) closeEditor();
    };
    /** @type {HTMLButtonElement} */ (form.querySelector("[data-cancel]")).onclick = closeEditor;
  }

  /** @param {TeamEntry} entry @param {HTMLElement} li */
  openSchedule(entry, li) {
    const form = /** @type {HTMLFormElement} */ (li.querySelector(".sd-desk-schedule"));
    const when = /** @type {HTMLInputElement} */ (form.querySelector("input"));
    form.hidden = false;
    when.focus();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const error = /** @type {HTMLElement} */ (li.querySelector(".sd-desk-error"));
      const at = when.value ? new Date(when.value) : null;
      if (!at || Number.isNaN(at.getTime())) {
        error.textContent = t("desk_schedule_pick");
        return;
      }
      if (!this.slug) return;
      const path = `/api/feeds/${encodeURIComponent(this.slug)}/entries/${entry.id}/schedule`;
      if (await this.send("POST", path, { publish_at: at.toISOString() }, "desk_done_scheduled", error)) {
        form.hidden = true;
      }
    };
  }

  /**
   * Follow the published list (`#sd-entries`, `entries.js`): its inline editor tells the team
   * who is editing which published update, its markers show who else is, and its History
   * buttons open the revisions.
   */
  bind() {
    const list = byId("sd-entries");
    new MutationObserver(() => {
      const open = list.querySelector(".sd-entry.is-editing");
      const id = open ? Number(open.getAttribute("data-id")) : null;
      const deskEditing = this.editingId !== null && !!document.querySelector(`#sd-desk [data-id="${this.editingId}"] .sd-desk-editor:not([hidden])`);
      if (!deskEditing && this.channel && this.channel.editingId !== id) this.channel.editing(id);
      this.renderPresence();
    }).observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
    list.addEventListener("click", (ev) => {
      const target = /** @type {Element} */ (ev.target);
      const b = target.closest("button[data-history]");
      const li = b && b.closest(".sd-entry");
      if (li) void this.openHistory(Number(li.getAttribute("data-id")));
    });
  }

  /** The earlier versions of published entry `id`, each with Restore. @param {number} id */
  async openHistory(id) {
    if (!this.slug) return;
    const base = `/api/feeds/${encodeURIComponent(this.slug)}/entries/${id}`;
    const dialog = /** @type {HTMLDialogElement} */ (byId("sd-history"));
    const list = byId("sd-history-list");
    const error = byId("sd-history-error");
    error.textContent = "";
    list.replaceChildren();
    if (!dialog.open) dialog.showModal();
    try {
      /** @type {{number: number, body: string, html: string, written_at: string, written_by: string | null}[]} */
      const versions = (await this.api.call("GET", `${base}/revisions`)).data;
      byId("sd-history-empty").hidden = versions.length > 0;
      const tpl = /** @type {HTMLTemplateElement} */ (byId("sd-history-tpl"));
      list.replaceChildren(
        ...[...versions].reverse().map((v) => {
          const li = /** @type {HTMLElement} */ (tpl.content.firstElementChild?.cloneNode(true));
          li.setAttribute("data-number", String(v.number));
          /** @type {HTMLElement} */ (li.querySelector(".sd-history-meta")).textContent = t("history_version", {
            n: v.number,
            time: localTime(v.written_at),
            who: v.written_by || "—",
          });
          // Sanitized by the server.
          /** @type {HTMLElement} */ (li.querySelector(".sd-history-body")).innerHTML = v.html;
          /** @type {HTMLButtonElement} */ (li.querySelector("button")).addEventListener("click", async () => {
            try {
              await this.api.call("POST", `${base}/revisions/${v.number}/restore`);
              dialog.close();
              this.messages.toast(t("history_restored", { n: v.number }));
            } catch (err) {
              error.textContent = this.api.explain(err);
            }
          });
          return li;
        })
      );
    } catch (err) {
      error.textContent = this.api.explain(err);
    }
  }
}
