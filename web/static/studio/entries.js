// @ts-check
/**
 * The studio's list of published updates of the open feed: loaded by pages, kept current by
 * live events (other reporters' changes appear), with pin / key event / edit / delete actions.
 */

import { classify, newestFirst } from "../lib/model.js";

import { byId, confirmDialog } from "./dom.js";
import { t } from "./i18n.js";
import { entryMedia, mediaLabel, refsOf } from "./media.js";

const PAGE = 30;

/** @typedef {import("../lib/model.js").Entry} Entry */
/** @typedef {import("../lib/model.js").Feed} Feed */
/** @typedef {import("../lib/model.js").LiveEvent} LiveEvent */
/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./dom.js").Messages} Messages */

/**
 * The date and time shown next to an update in the studio (the reporter's view, not the
 * reader's: short month and day, and the clock time when the entry has one).
 * @param {Entry} e
 * @param {Feed} feed
 */
function when(e, feed) {
  const d = new Date(e.published_at);
  try {
    /** @type {Intl.DateTimeFormatOptions} */
    const opts = { timeZone: feed.timezone, day: "numeric", month: "short" };
    if (e.has_time !== false) {
      opts.hour = "2-digit";
      opts.minute = "2-digit";
    }
    return new Intl.DateTimeFormat(feed.locale, opts).format(d);
  } catch {
    return d.toLocaleString();
  }
}

export class EntryList {
  /**
   * @param {Api} api
   * @param {Messages} messages
   */
  constructor(api, messages) {
    this.api = api;
    this.messages = messages;
    /** @type {Feed | null} */
    this.feed = null;
    /** @type {Map<number, Entry>} */
    this.entries = new Map();
    /** The rev of the last change applied: the next `since`. */
    this.rev = 0;
    /** @type {number | null} */
    this.nextBefore = null;
    /** A feed event arrived. @type {(feed: Feed) => void} */
    this.onFeed = () => {};
    /** The first page was (re)loaded: the live stream may (re)start from `rev`. @type {() => void} */
    this.onFirstPage = () => {};
  }

  /** @param {string} [suffix] */
  path(suffix = "") {
    if (!this.feed) throw new Error("studio: no feed open");
    return `/api/feeds/${encodeURIComponent(this.feed.slug)}${suffix}`;
  }

  /** Show `feed`'s updates (nothing yet: the first page follows). @param {Feed | null} feed */
  open(feed) {
    this.feed = feed;
    this.entries = new Map();
    this.rev = feed ? feed.rev : 0;
    this.nextBefore = null;
  }

  /**
   * Load a page: the first (`before` null) or an older one. The first page sets the rev to
   * the server's when `fromServer` (after a `reset`, even when that is lower than ours).
   * @param {number | null} before
   * @param {{fromServer?: boolean}} [options]
   */
  async load(before, { fromServer = false } = {}) {
    if (!this.feed) return;
    const slug = this.feed.slug;
    const more = byId("sd-more");
    more.setAttribute("aria-busy", "true");
    try {
      const q = `?limit=${PAGE}${before ? `&before=${before}` : ""}`;
      const res = await this.api.call("GET", this.path(`/entries${q}`));
      if (!this.feed || this.feed.slug !== slug) return;
      /** @type {{entries: Entry[], rev: number, next_before: number | null}} */
      const page = res.data;
      for (const e of page.entries) {
        const known = this.entries.get(e.id);
        if (!known || known.rev < e.rev) this.entries.set(e.id, e);
      }
      this.nextBefore = page.next_before;
      if (!before) {
        this.rev = fromServer ? page.rev : Math.max(this.rev, page.rev);
        this.onFirstPage();
      }
      this.render();
    } catch (err) {
      this.messages.banner(this.api.explain(err));
    } finally {
      more.removeAttribute("aria-busy");
    }
  }

  /** Apply one live message. @param {LiveEvent} ev */
  handle(ev) {
    if (!this.feed) return;
    const what = classify(ev, this.rev);
    if (what === "reload") {
      // The server cannot serve our rev (ahead of it after a restore, or too far behind).
      this.entries = new Map();
      this.load(null, { fromServer: true });
      return;
    }
    if (what !== "apply") return;
    this.rev = ev.rev;
    if (ev.type === "entry" && ev.entry) {
      if (ev.op === "deleted") {
        this.entries.delete(ev.entry.id);
        this.render();
      } else {
        this.upsert(ev.entry);
      }
    } else if (ev.type === "feed" && ev.feed) {
      this.onFeed(ev.feed);
    }
  }

  /** An entry as the server now has it (an API answer or an event). @param {Entry} e */
  upsert(e) {
    if (!e || (this.feed && e.feed !== this.feed.slug)) return;
    const known = this.entries.get(e.id);
    if (known && known.rev > e.rev) return;
    if (e.deleted) {
      this.entries.delete(e.id);
    } else {
      if (e.pinned) {
        // The server keeps a single pinned entry; mirror it until the events arrive.
        for (const other of this.entries.values()) {
          if (other.id !== e.id && other.pinned) other.pinned = false;
        }
      }
      this.entries.set(e.id, e);
    }
    this.render();
  }

  /**
   * Write entry `e` into a list item (a new one from the template when `node` is missing).
   * @param {Entry} e
   * @param {HTMLElement} [node]
   */
  renderEntry(e, node) {
    /** @type {HTMLTemplateElement} */
    const tpl = byId("sd-entry-tpl");
    const item =
      node || /** @type {HTMLElement} */ (/** @type {HTMLElement} */ (tpl.content.firstElementChild).cloneNode(true));
    /** @param {string} sel @returns {HTMLElement} */
    const q = (sel) => /** @type {HTMLElement} */ (item.querySelector(sel));
    item.id = `sd-entry-${e.id}`;
    item.setAttribute("data-id", String(e.id));
    item.classList.toggle("is-pinned", !!e.pinned);
    item.classList.toggle("is-key", !!e.key_event);
    const time = /** @type {HTMLTimeElement} */ (q("time"));
    time.dateTime = e.published_at;
    time.textContent = this.feed ? when(e, this.feed) : "";
    const author = q(".sd-entry-author");
    author.textContent = e.author || "";
    author.hidden = !e.author;
    q(".lf-badge-pinned").hidden = !e.pinned;
    q(".lf-badge-key").hidden = !e.key_event;
    if (!item.classList.contains("is-editing")) {
      // `html` is sanitized by the server (app/render.py).
      q(".sd-entry-body").innerHTML = e.html;
    }
    const pin = q('[data-act="pin"]');
    pin.setAttribute("aria-pressed", e.pinned ? "true" : "false");
    pin.textContent = e.pinned ? t("unpin") : t("pin");
    q('[data-act="key"]').setAttribute("aria-pressed", e.key_event ? "true" : "false");
    const excerpt = e.body.length > 40 ? `${e.body.slice(0, 40)}…` : e.body;
    for (const b of item.querySelectorAll("[data-act]")) {
      b.setAttribute("aria-label", `${b.textContent}: ${excerpt}`);
    }
    return item;
  }

  render() {
    const list = byId("sd-entries");
    const items = newestFirst(this.entries.values());
    const active = document.activeElement;
    const focused = active && active.closest ? active.closest(".sd-entry") : null;
    /** @type {Map<number, HTMLElement>} */
    const keep = new Map();
    for (const n of list.querySelectorAll(":scope > .sd-entry")) {
      keep.set(Number(n.getAttribute("data-id")), /** @type {HTMLElement} */ (n));
    }
    const nodes = items.map((e) => {
      const node = this.renderEntry(e, keep.get(e.id));
      keep.delete(e.id);
      return node;
    });
    for (const n of keep.values()) n.remove();
    // Re-order in place (moving nodes keeps an editor's focus and text).
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    if (focused && !focused.isConnected) byId("sd-body").focus();
    const empty = byId("sd-empty");
    empty.hidden = items.length > 0;
    empty.textContent = t("nothing_published");
    byId("sd-count").textContent = items.length
      ? `(${items.length}${this.nextBefore ? "+" : ""})`
      : "";
    byId("sd-more").hidden = !this.nextBefore;
  }

  /**
   * A click on one of an update's buttons.
   * @param {number} id
   * @param {string} act `edit`, `delete`, `pin` or `key`
   * @param {HTMLElement} trigger
   */
  async act(id, act, trigger) {
    const e = this.entries.get(id);
    if (!e) return;
    if (act === "edit") {
      this.startEdit(id);
      return;
    }
    if (act === "delete") {
      const ok = await confirmDialog(t("delete_confirm"), t("delete"));
      if (!ok) return;
      try {
        await this.api.call("DELETE", this.path(`/entries/${id}`));
        this.entries.delete(id);
        this.render();
        this.messages.toast(t("deleted_toast"));
        byId("sd-body").focus();
      } catch (err) {
        this.messages.banner(this.api.explain(err));
      }
      return;
    }
    const fields = act === "pin" ? { pinned: !e.pinned } : { key_event: !e.key_event };
    trigger.setAttribute("aria-busy", "true");
    try {
      const res = await this.api.call("PATCH", this.path(`/entries/${id}`), fields);
      this.upsert(res.data);
      this.messages.toast(
        act === "pin"
          ? res.data.pinned
            ? t("pinned_toast")
            : t("unpinned_toast")
          : res.data.key_event
            ? t("key_toast")
            : t("unkey_toast")
      );
    } catch (err) {
      this.messages.banner(this.api.explain(err));
    } finally {
      trigger.removeAttribute("aria-busy");
    }
  }

  /** Edit an update in place. @param {number} id */
  startEdit(id) {
    const node = document.getElementById(`sd-entry-${id}`);
    const e = this.entries.get(id);
    if (!node || !e || node.classList.contains("is-editing")) return;
    node.classList.add("is-editing");
    const body = /** @type {HTMLElement} */ (node.querySelector(".sd-entry-body"));
    body.replaceChildren();
    const label = document.createElement("label");
    label.className = "sd-label";
    label.textContent = t("edit_update");
    label.htmlFor = `sd-edit-${id}`;
    const area = document.createElement("textarea");
    area.id = `sd-edit-${id}`;
    area.className = "sd-edit";
    area.rows = Math.min(12, Math.max(3, e.body.split("\n").length + 1));
    area.value = e.body;
    const error = document.createElement("p");
    error.className = "sd-error";
    error.setAttribute("role", "alert");
    const row = document.createElement("div");
    row.className = "sd-edit-actions";
    const save = document.createElement("button");
    save.type = "button";
    save.className = "sd-btn sd-btn-primary sd-btn-small";
    save.textContent = t("save");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "sd-btn sd-btn-small";
    cancel.textContent = t("cancel");
    row.append(save, cancel);
    const media = entryMedia(e);
    const kept = new Set(media.map((m) => m.id));
    const mediaList = document.createElement("ul");
    mediaList.className = "sd-edit-media";
    mediaList.setAttribute("aria-label", t("photos_links"));
    for (const m of media) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = mediaLabel(m);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "sd-btn sd-btn-small sd-btn-quiet";
      remove.textContent = t("remove");
      remove.setAttribute("aria-label", t("remove_named", { name: mediaLabel(m) }));
      remove.addEventListener("click", () => {
        kept.delete(m.id);
        li.remove();
        area.focus();
      });
      li.append(name, " ", remove);
      mediaList.append(li);
    }
    body.append(label, area, ...(media.length ? [mediaList] : []), error, row);
    area.focus();

    const finish = () => {
      node.classList.remove("is-editing");
      const current = this.entries.get(id);
      if (current) this.renderEntry(current, node);
      /** @type {HTMLElement | null} */
      const editButton = node.querySelector('[data-act="edit"]');
      if (editButton) editButton.focus();
    };
    const submit = async () => {
      if (!area.value.trim()) {
        error.textContent = t("empty_update");
        return;
      }
      save.disabled = true;
      save.setAttribute("aria-busy", "true");
      try {
        /** @type {{body: string, media?: import("./media.js").MediaRef[]}} */
        const fields = { body: area.value };
        if (media.length) fields.media = refsOf(media.filter((m) => kept.has(m.id)));
        const res = await this.api.call("PATCH", this.path(`/entries/${id}`), fields);
        this.entries.set(id, res.data);
        finish();
        this.render();
        this.messages.toast(t("saved_toast"));
      } catch (err) {
        save.disabled = false;
        save.removeAttribute("aria-busy");
        error.textContent = this.api.explain(err);
      }
    };
    save.addEventListener("click", submit);
    cancel.addEventListener("click", finish);
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        submit();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        finish();
      }
    });
  }
}

