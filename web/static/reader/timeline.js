// @ts-check
/**
 * The live timeline of one feed on the reader page or in an embed: applies entry and feed
 * events to the server-rendered DOM in place, and reloads the first page on `reset`.
 *
 * - Each event is applied once: events whose rev is not above the page's are dropped, so
 *   sources can overlap; `reset` always reloads, whatever the page's rev (`model.classify`).
 * - A reader scrolled away from the top is never moved: new entries wait (out of layout)
 *   behind an "N new updates" button, and edits/deletions above the view are compensated.
 * - The key-event list is the whole feed's (seeded from the server's list), kept current by
 *   entry events — not rebuilt from the entries that happen to be on the page.
 *
 * Dispatches `livefeed:change` on the timeline element after every DOM change (embeds resize).
 */

import { Formatter, headline, plural } from "../lib/format.js";
import { KeyEvents, classify, isNewer } from "../lib/model.js";
import { part } from "./config.js";

const FRESH_MS = 2500;

/** @typedef {import("../lib/model.js").Entry} Entry */
/** @typedef {import("../lib/model.js").Feed} Feed */
/** @typedef {import("../lib/model.js").LiveEvent} LiveEvent */
/** @typedef {import("./config.js").TimelineConfig} TimelineConfig */

/** @param {Element} node */
function keyOf(node) {
  return { ts: Number(node.getAttribute("data-ts")), id: Number(node.getAttribute("data-id")) };
}

/** @param {Element} a @param {Element} b */
function nodeNewer(a, b) {
  return isNewer(keyOf(a), keyOf(b));
}

/**
 * Insert `node` among the entries of `container`, newest first.
 * @param {Element} container
 * @param {Element} node
 * @param {Element | null} [after] where to put it when the container has no entries yet
 */
function insertSorted(container, node, after) {
  const kids = container.querySelectorAll(":scope > article.lf-entry");
  for (const kid of kids) {
    if (kid !== node && nodeNewer(node, kid)) {
      container.insertBefore(node, kid);
      return;
    }
  }
  if (after && !kids.length) after.insertAdjacentElement("afterend", node);
  else container.appendChild(node);
}

/** @param {Element} node */
function flash(node) {
  node.classList.add("lf-fresh");
  window.setTimeout(() => node.classList.remove("lf-fresh"), FRESH_MS);
}

/**
 * The key events a server-rendered list shows (`_timeline.html`).
 * @param {ParentNode} nav
 * @returns {import("../lib/model.js").KeyEvent[]}
 */
function renderedKeyEvents(nav) {
  return Array.from(nav.querySelectorAll("li[data-id]"), (li) => ({
    id: Number(li.getAttribute("data-id")),
    ts: Number(li.getAttribute("data-ts")),
    hasTime: li.getAttribute("data-has-time") === "1",
    headline: li.querySelector(".lf-ke-text")?.textContent ?? "",
  }));
}

/** The headline of an entry, by the one rule (`format.headline`). @param {Entry} e */
const headlineOf = (e) => headline(e.html, e.body);

export class Timeline {
  /**
   * @param {HTMLElement} root the `[data-livefeed-timeline]` element
   * @param {TimelineConfig} cfg
   */
  constructor(root, cfg) {
    this.root = root;
    this.cfg = cfg;
    this.fmt = new Formatter(cfg);
    /** The rev of the last change applied: the next `since`. */
    this.rev = cfg.rev;
    this.nextBefore = cfg.nextBefore;
    /** @type {HTMLElement} */
    this.days = part(root, ".lf-days");
    /** @type {HTMLElement} */
    this.pinned = part(root, ".lf-pinned");
    /** @type {HTMLElement} */
    this.empty = part(root, ".lf-empty");
    /** @type {HTMLButtonElement} */
    this.newButton = part(root, ".lf-new");
    this.announcer = part(root, ".lf-announcer");
    /** @type {HTMLElement} */
    this.keyNav = part(root, ".lf-keyevents");
    /** @type {HTMLTemplateElement} */
    this.template = part(root, "template.lf-entry-template");
    /** @type {HTMLElement[]} entries waiting behind the "new updates" button */
    this.pending = [];
    this.unseenWhileHidden = 0;
    this.baseTitle = document.title;
    /** @type {LiveEvent[] | null} events buffered while a reset reload is in flight */
    this.resetting = null;
    this.keyEvents = new KeyEvents(renderedKeyEvents(this.keyNav), cfg.keyEventLinks);
    /** Called after a reset reload failed: the owner reconnects. @type {() => void} */
    this.onReloadFailed = () => {};

    this.newButton.addEventListener("click", () => this.revealPending(true));
    window.addEventListener(
      "scroll",
      () => {
        if (this.pending.length && this.atTop()) this.revealPending(false);
      },
      { passive: true }
    );
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) {
        this.unseenWhileHidden = 0;
        this.updateTitle();
      }
    });
  }

  emit() {
    this.root.dispatchEvent(new CustomEvent("livefeed:change", { bubbles: true }));
  }

  /** The reader sees the top of the timeline: new entries may appear in place. */
  atTop() {
    const first = this.pinned.hidden ? this.days : this.pinned;
    return first.getBoundingClientRect().top >= -8 || window.scrollY <= 0;
  }

  /** @param {number} id @returns {HTMLElement | null} */
  find(id) {
    return this.root.querySelector(`article.lf-entry[data-id="${id}"]`);
  }

  /**
   * Run `mutate` without moving what the reader is looking at: remember where the first
   * entry visible at the top of the viewport is, then scroll by however far it moved.
   * @param {() => void} mutate
   * @param {Element} [skip] an element about to disappear (not an anchor)
   */
  keepView(mutate, skip) {
    if (this.atTop()) {
      mutate();
      return;
    }
    /** @type {Element | null} */
    let anchor = null;
    let before = 0;
    const list = this.root.querySelectorAll("article.lf-entry:not(.lf-pending), .lf-day-heading");
    for (const el of list) {
      if (skip && (el === skip || skip.contains(el))) continue;
      const r = el.getBoundingClientRect();
      if (r.bottom > 0 && r.height > 0) {
        anchor = el;
        before = r.top;
        break;
      }
    }
    mutate();
    if (anchor && anchor.isConnected) {
      const delta = anchor.getBoundingClientRect().top - before;
      if (Math.abs(delta) >= 0.5) window.scrollBy(0, delta);
    }
  }

  /**
   * Write entry `e` into an `article.lf-entry` node.
   * @param {HTMLElement} node
   * @param {Entry} e
   */
  fill(node, e) {
    const date = new Date(e.published_at);
    const f = this.fmt.fields(date);
    const hasTime = e.has_time !== false;
    node.id = `entry-${e.id}`;
    node.setAttribute("data-id", String(e.id));
    node.setAttribute("data-rev", String(e.rev));
    node.setAttribute("data-ts", String(date.getTime()));
    node.setAttribute("data-day", this.fmt.dayKey(f));
    node.setAttribute("data-has-time", hasTime ? "1" : "0");
    node.classList.toggle("is-pinned", !!e.pinned);
    node.classList.toggle("is-key", !!e.key_event);
    // The permalink is the update's own page (`app.timeline.entry_path`).
    part(node, ".lf-permalink").setAttribute("href", `${this.cfg.entryPath}${e.id}`);
    const t = part(node, "time");
    t.setAttribute("datetime", hasTime ? e.published_at : this.fmt.dayKey(f));
    t.textContent = hasTime ? this.fmt.time(f) : "";
    /** @type {HTMLElement} */ (part(node, ".lf-badge-pinned")).hidden = !e.pinned;
    /** @type {HTMLElement} */ (part(node, ".lf-badge-key")).hidden = !e.key_event;
    /** @type {HTMLElement} */
    const author = part(node, ".lf-author");
    author.textContent = e.author || "";
    author.hidden = !e.author;
    // "updated 14:32": the server's words (`strings.updated`), the time as the page shows times.
    // Not a <time>: the entry's one <time> is its publication time.
    /** @type {HTMLElement} */
    const edited = part(node, ".lf-edited");
    edited.setAttribute("data-edited-at", e.edited_at || "");
    edited.textContent = e.edited_at ? this.fmt.updated(this.fmt.fields(new Date(e.edited_at))) : "";
    edited.hidden = !e.edited_at;
    // `html` is sanitized by the server (app/render.py): safe to insert as-is.
    part(node, ".lf-body").innerHTML = e.html;
    return node;
  }

  /** @param {Entry} e */
  render(e) {
    const skeleton = /** @type {HTMLElement} */ (this.template.content.firstElementChild);
    return this.fill(/** @type {HTMLElement} */ (skeleton.cloneNode(true)), e);
  }

  /** The day section of `node`, created (with its heading) when missing. @param {Element} node */
  daySection(node) {
    const key = node.getAttribute("data-day") || "";
    /** @type {Element | null} */
    let before = null;
    for (const section of this.days.querySelectorAll(":scope > .lf-day")) {
      const k = section.getAttribute("data-day") || "";
      if (k === key) return section;
      if (k < key) {
        before = section;
        break;
      }
    }
    const f = this.fmt.fields(new Date(Number(node.getAttribute("data-ts"))));
    const section = document.createElement("section");
    const id = `day-${this.cfg.slug}-${key}`;
    section.className = "lf-day";
    section.setAttribute("data-day", key);
    section.setAttribute("aria-labelledby", id);
    const h = document.createElement("h2");
    h.className = "lf-day-heading";
    h.id = id;
    h.textContent = this.fmt.heading(f);
    section.appendChild(h);
    this.days.insertBefore(section, before);
    return section;
  }

  /** Whether `node` sorts past the oldest loaded entry while older pages exist. @param {Element} node */
  beyondLoaded(node) {
    if (this.nextBefore === null || this.nextBefore === undefined) return false;
    const all = this.days.querySelectorAll("article.lf-entry");
    const last = all[all.length - 1];
    return !!last && last !== node && nodeNewer(last, node);
  }

  /** Put `node` where it belongs: pinned slot (first page) or its day; false if not loaded. @param {HTMLElement} node */
  place(node) {
    if (node.classList.contains("is-pinned") && this.cfg.firstPage) {
      insertSorted(this.pinned, node);
      this.pinned.hidden = false;
      return true;
    }
    if (this.beyondLoaded(node)) return false;
    const section = this.daySection(node);
    insertSorted(section, node, section.querySelector(".lf-day-heading"));
    return true;
  }

  /** Load an older page's entry into its day (older pages keep pinned entries in place). @param {Entry} e */
  appendOlder(e) {
    if (this.find(e.id)) return null;
    const node = this.render(e);
    const section = this.daySection(node);
    insertSorted(section, node, section.querySelector(".lf-day-heading"));
    return node;
  }

  tidy() {
    for (const section of this.days.querySelectorAll(":scope > .lf-day")) {
      const visible = section.querySelector("article.lf-entry:not(.lf-pending)");
      if (!section.querySelector("article.lf-entry")) section.remove();
      else section.classList.toggle("lf-pending-day", !visible);
    }
    this.pinned.hidden = !this.pinned.querySelector("article.lf-entry:not(.lf-pending)");
    this.empty.hidden = !!this.root.querySelector("article.lf-entry:not(.lf-pending)");
  }

  renderKeyEvents() {
    const list = part(this.keyNav, ".lf-keyevents-list");
    const items = this.keyEvents.list();
    const frag = document.createDocumentFragment();
    for (const k of items) {
      const li = document.createElement("li");
      li.setAttribute("data-id", String(k.id));
      li.setAttribute("data-ts", String(k.ts));
      li.setAttribute("data-has-time", k.hasTime ? "1" : "0");
      const link = document.createElement("a");
      // On this page: jump to it; elsewhere: the deep link that opens the timeline there.
      link.href = this.find(k.id) ? `#entry-${k.id}` : `${this.cfg.aroundPath}${k.id}#entry-${k.id}`;
      const when = document.createElement("span");
      when.className = "lf-ke-when";
      when.textContent = this.fmt.when(k.ts, k.hasTime);
      const text = document.createElement("span");
      text.className = "lf-ke-text";
      text.textContent = k.headline;
      link.append(when, " ", text);
      li.appendChild(link);
      frag.appendChild(li);
    }
    this.keepView(() => {
      list.replaceChildren(frag);
      this.keyNav.hidden = items.length === 0;
    });
  }

  /** @param {string} text */
  announce(text) {
    // Re-set so that repeated identical messages are announced again.
    this.announcer.textContent = "";
    window.setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  updateTitle() {
    const n = this.pending.length + this.unseenWhileHidden;
    document.title = n ? `(${n}) ${this.baseTitle}` : this.baseTitle;
  }

  updateButton() {
    const n = this.pending.length;
    this.newButton.hidden = n === 0;
    if (n) this.newButton.textContent = plural(this.cfg, "new_updates", n);
    this.updateTitle();
  }

  /** @param {boolean} jump scroll to the newest of them and focus it */
  revealPending(jump) {
    const nodes = this.pending.filter((n) => n.isConnected);
    this.pending = [];
    for (const n of nodes) {
      n.classList.remove("lf-pending");
      flash(n);
    }
    this.tidy();
    this.updateButton();
    if (jump) {
      const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      /** @type {HTMLElement} */
      const target = nodes.length ? nodes.sort((a, b) => (nodeNewer(a, b) ? -1 : 1))[0] : this.days;
      const top = this.root.getBoundingClientRect().top + window.scrollY - 16;
      window.scrollTo({ top: Math.max(0, top), behavior: reduce ? "auto" : "smooth" });
      target.focus({ preventScroll: true });
    }
    this.emit();
  }

  // ---- applying events ----------------------------------------------------------------------

  /** Apply one live message (any transport). @param {LiveEvent} ev */
  handle(ev) {
    if (!ev || !ev.type || ev.type === "hello") return;
    if (ev.type === "readers") {
      // Not a change (no rev): how many readers follow the feed live, all processes.
      this.showReaders(Number(ev.count));
      return;
    }
    if (this.resetting) {
      this.resetting.push(ev);
      return;
    }
    const what = classify(ev, this.rev);
    if (what === "reload") {
      this.reload();
      return;
    }
    if (what !== "apply") return;
    this.rev = ev.rev;
    if (ev.type === "entry" && ev.entry) {
      if (ev.op === "deleted" || ev.entry.deleted) this.remove(ev.entry.id);
      else this.upsert(ev.entry, ev.op === "created");
      if (this.keyEvents.apply(ev.op === "deleted" ? { ...ev.entry, deleted: true } : ev.entry, headlineOf)) {
        this.renderKeyEvents();
      }
    } else if (ev.type === "feed" && ev.feed) {
      this.onFeed(ev.feed);
    }
    this.emit();
  }

  /**
   * "1 234 lecteurs": the count in the feed's number format, the words from the page.
   * @param {number} n
   */
  showReaders(n) {
    const el = this.root.querySelector(".lf-readers");
    if (!(el instanceof HTMLElement) || !Number.isFinite(n)) return;
    const shown = new Intl.NumberFormat(this.cfg.locale).format(n);
    el.textContent = plural(this.cfg, "readers_count", n, shown);
    el.setAttribute("data-count", String(n));
  }

  /** Called with every `feed` event (the page header follows it). @param {Feed} _feed */
  onFeed(_feed) {}

  /** @param {Entry} e @param {boolean} created */
  upsert(e, created) {
    const existing = this.find(e.id);
    if (existing) {
      if (Number(existing.getAttribute("data-rev")) > e.rev) return;
      this.keepView(() => {
        const wasPending = existing.classList.contains("lf-pending");
        this.fill(existing, e);
        if (!this.place(existing)) {
          existing.remove();
          if (wasPending) this.dropPending(existing);
        }
        this.tidy();
      });
      return;
    }
    const node = this.render(e);
    if (!created) {
      // An edit to an entry this page had not shown (e.g. just beyond a page boundary).
      this.keepView(() => {
        if (this.place(node)) this.tidy();
      });
      return;
    }
    if (this.atTop() && !this.pending.length) {
      if (!this.place(node)) return;
      flash(node);
      this.tidy();
      if (document.hidden) this.unseenWhileHidden += 1;
      this.updateTitle();
      this.announce(`${plural(this.cfg, "announce_new", 1)}: ${headlineOf(e)}`);
      return;
    }
    node.classList.add("lf-pending");
    if (!this.place(node)) return;
    this.pending.push(node);
    this.tidy();
    this.updateButton();
    this.announce(plural(this.cfg, "announce_new", this.pending.length));
  }

  /** @param {HTMLElement} node */
  dropPending(node) {
    this.pending = this.pending.filter((n) => n !== node);
    this.updateButton();
  }

  /** @param {number} id */
  remove(id) {
    const node = this.find(id);
    if (!node) return;
    this.keepView(() => {
      node.remove();
      this.tidy();
    }, node);
    if (node.classList.contains("lf-pending")) this.dropPending(node);
  }

  /**
   * `reset`: the server cannot bring this page's rev up to date (it is ahead of the feed after
   * a restore, or too far behind). Reload the first page and key events over HTTP and take the
   * server's rev as ours — even when it is lower. Events arriving meanwhile are replayed after.
   */
  async reload() {
    if (this.resetting) return;
    this.resetting = [];
    try {
      const response = await fetch(`${this.cfg.api}/entries?limit=${this.cfg.pageSize}`, {
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      /** @type {{entries: Entry[], rev: number, next_before: number | null}} */
      const page = await response.json();
      const keyPage = await this.fetchKeyEvents();
      this.keepView(() => {
        this.pinned.replaceChildren();
        this.days.replaceChildren();
        this.pending = [];
        this.nextBefore = page.next_before;
        for (const e of page.entries) this.place(this.render(e));
        this.tidy();
        this.updateButton();
        this.onPageReloaded();
      });
      this.keyEvents = new KeyEvents(keyPage, this.cfg.keyEventLinks);
      this.renderKeyEvents();
      this.rev = page.rev;
    } catch {
      this.resetting = null;
      this.onReloadFailed();
      return;
    }
    const queued = this.resetting || [];
    this.resetting = null;
    for (const ev of queued) this.handle(ev);
    this.emit();
  }

  /**
   * The whole feed's key events as the server lists them now: this page's URL fetched afresh
   * (it is the first page, since it is live), its key-event list read back.
   * @returns {Promise<import("../lib/model.js").KeyEvent[]>}
   */
  async fetchKeyEvents() {
    const response = await fetch(window.location.href, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const nav = doc.querySelector(`[data-livefeed-timeline][data-slug="${this.cfg.slug}"] .lf-keyevents`);
    return nav ? renderedKeyEvents(nav) : [];
  }

  /** Called after a reset replaced the first page (the pager resyncs). */
  onPageReloaded() {}
}
