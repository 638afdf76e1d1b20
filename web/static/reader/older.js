// @ts-check
/**
 * "Older updates": the pager link becomes a button that loads the next older page in place
 * (the plain `?before=` link keeps working without JavaScript).
 */

import { plural } from "../lib/format.js";

/** @typedef {import("./timeline.js").Timeline} Timeline */

export class OlderPages {
  /** @param {Timeline} timeline */
  constructor(timeline) {
    this.tl = timeline;
    /** @type {HTMLButtonElement | null} */
    this.button = null;
    const link = timeline.root.querySelector(".lf-pager .lf-older");
    if (!link) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lf-older";
    button.textContent = link.textContent;
    link.replaceWith(button);
    this.button = button;
    button.addEventListener("click", () => this.load());
  }

  /** Show the button only while older pages exist. */
  sync() {
    if (this.button) this.button.hidden = this.tl.nextBefore === null;
  }

  async load() {
    const tl = this.tl;
    const button = this.button;
    if (!button || button.getAttribute("aria-busy") === "true" || tl.nextBefore === null) return;
    button.setAttribute("aria-busy", "true");
    const label = button.textContent;
    button.textContent = String(tl.cfg.strings.loading);
    tl.root.querySelector(".lf-pager-error")?.remove();
    const url = `${tl.cfg.api}/entries?limit=${tl.cfg.pageSize}&before=${tl.nextBefore}`;
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      /** @type {{entries: import("../lib/model.js").Entry[], next_before: number | null}} */
      const page = await response.json();
      /** @type {HTMLElement | null} */
      let first = null;
      let added = 0;
      tl.nextBefore = page.next_before;
      for (const e of page.entries) {
        const node = tl.appendOlder(e);
        if (!node) continue;
        first = first || node;
        added += 1;
      }
      tl.tidy();
      button.removeAttribute("aria-busy");
      button.textContent = label;
      this.sync();
      if (first) first.focus({ preventScroll: true });
      tl.announce(plural(tl.cfg, "entries_count", added));
      tl.emit();
    } catch {
      button.removeAttribute("aria-busy");
      button.textContent = label;
      const p = document.createElement("p");
      p.className = "lf-pager-error";
      p.setAttribute("role", "alert");
      p.textContent = String(tl.cfg.strings.load_failed);
      button.parentNode?.appendChild(p);
    }
  }
}
