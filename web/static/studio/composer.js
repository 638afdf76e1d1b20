// @ts-check
/**
 * The composer: a draft per feed saved on every keystroke, its preview, and publishing.
 *
 * A draft (text, pin, key event, and its Idempotency-Key) lives in localStorage per feed, so a
 * lost connection or a reload loses nothing. The key is minted with the draft and reused by
 * every retry until the server has accepted it: a double click or a retry after a lost
 * response never posts twice. If the draft was edited after a lost response, the replayed
 * entry is corrected with a PATCH.
 */

import { statusOf } from "./api.js";
import { MediaTray, entryMedia } from "./media.js";
import { byId, button, input, textarea } from "./dom.js";
import { t } from "./i18n.js";
import { AUTHOR_KEY, DRAFT_PREFIX, load, save, uuid } from "./storage.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./dom.js").Messages} Messages */
/** @typedef {import("../lib/model.js").Entry} Entry */
/** @typedef {import("./media.js").MediaRef} MediaRef */

/**
 * What is sent to create an entry.
 * @typedef {{body: string, pinned: boolean, key_event: boolean, author?: string, media?: MediaRef[], status?: string}} EntryPayload
 */

/**
 * A saved draft. `sent` is what was last sent with `key` while its outcome is unknown.
 * @typedef {{body: string, pinned: boolean, key_event: boolean, key: string, sent: EntryPayload | null}} Draft
 */

/** @param {MediaRef[] | undefined} refs */
function mediaIds(refs) {
  return (refs || []).map((r) => (typeof r === "number" ? r : r.id)).join(",");
}

/** @param {Entry} entry @param {EntryPayload} p */
function differs(entry, p) {
  return (
    entry.body !== p.body.trim() ||
    entryMedia(entry).map((m) => m.id).join(",") !== mediaIds(p.media) ||
    entry.pinned !== p.pinned ||
    entry.key_event !== p.key_event ||
    // No author sent: the byline is the server's (an account's display name), not a change.
    (p.author !== undefined && (entry.author || "") !== p.author)
  );
}

export class Composer {
  /**
   * @param {Api} api
   * @param {Messages} messages
   * @param {(entry: Entry) => void} onPublished the list shows it at once
   */
  constructor(api, messages, onPublished) {
    this.api = api;
    this.messages = messages;
    this.onPublished = onPublished;
    /** @type {string | null} slug of the open feed */
    this.slug = null;
    this.publishing = false;
    this.previewSeq = 0;
    /** @type {number | undefined} */
    this.previewTimer = undefined;
    /** Photos and link cards of the update being written. */
    this.tray = new MediaTray(api, () => this.schedulePreview(250));
  }

  /** @param {string} [slug] */
  draftKey(slug = this.slug || "") {
    return DRAFT_PREFIX + slug;
  }

  /** @param {string} [slug] @returns {Draft | null} */
  readDraft(slug) {
    const raw = load("local", this.draftKey(slug));
    try {
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  /** @param {Draft | null} d @param {string} [slug] */
  writeDraft(d, slug) {
    save("local", this.draftKey(slug), d ? JSON.stringify(d) : null);
  }

  /** Save the composer; the Idempotency-Key lives as long as the draft. @returns {Draft | null} */
  saveDraft() {
    const body = textarea("sd-body").value;
    const previous = this.readDraft();
    if (!body.trim()) {
      this.writeDraft(null);
      byId("sd-draft-state").textContent = "";
      return null;
    }
    /** @type {Draft} */
    const d = {
      body,
      pinned: input("sd-pinned").checked,
      key_event: input("sd-key").checked,
      key: previous && previous.key ? previous.key : uuid(),
      sent: previous && previous.sent ? previous.sent : null,
    };
    this.writeDraft(d);
    byId("sd-draft-state").textContent = t("draft_saved");
    return d;
  }

  /** Show the draft of feed `slug` (or an empty composer). @param {string | null} slug */
  open(slug) {
    this.slug = slug;
    this.tray.open(slug);
    this.restoreDraft();
  }

  restoreDraft() {
    const d = this.readDraft();
    textarea("sd-body").value = d ? d.body : "";
    input("sd-pinned").checked = !!(d && d.pinned);
    input("sd-key").checked = !!(d && d.key_event);
    input("sd-author").value = load("local", AUTHOR_KEY) || "";
    byId("sd-compose-error").textContent = "";
    byId("sd-draft-state").textContent = d ? t("draft_restored") : "";
    this.schedulePreview(0);
  }

  /** @param {number} delay */
  schedulePreview(delay) {
    window.clearTimeout(this.previewTimer);
    this.previewTimer = window.setTimeout(() => this.renderPreview(), delay);
  }

  async renderPreview() {
    const body = textarea("sd-body").value;
    const out = byId("sd-preview");
    const seq = ++this.previewSeq;
    const media = this.tray.previewRefs();
    if (!body.trim() && !media.length) {
      out.innerHTML = "";
      out.setAttribute("data-empty", t("preview_empty"));
      return;
    }
    out.removeAttribute("data-empty");
    try {
      /** @type {{body: string, feed?: string, media?: MediaRef[]}} */
      const draft = { body };
      if (media.length && this.slug) Object.assign(draft, { feed: this.slug, media });
      const res = await this.api.call("POST", "/api/preview", draft);
      if (seq !== this.previewSeq) return;
      out.classList.remove("is-stale");
      // Sanitized by the server with the same renderer as published entries.
      out.innerHTML = res.data.html;
    } catch (err) {
      if (seq !== this.previewSeq) return;
      out.classList.add("is-stale");
      if (statusOf(err) === 401) this.api.explain(err);
      else if (statusOf(err) === 413) byId("sd-compose-error").textContent = this.api.explain(err);
    }
  }

  /**
   * Send the update: published at once (no `status`), or kept for the team as a `draft` or
   * `submitted` for an editor's review (it then appears on the team desk, not to readers).
   * @param {"draft" | "submitted"} [status]
   */
  async publish(status) {
    const slug = this.slug;
    if (this.publishing || !slug) return;
    const error = byId("sd-compose-error");
    const d = this.saveDraft();
    if (!d) {
      error.textContent = t("write_first");
      byId("sd-body").focus();
      return;
    }
    error.textContent = "";
    /** @type {MediaRef[]} */
    let media;
    try {
      media = this.tray.refs();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      this.tray.focusProblem();
      return;
    }
    const author = input("sd-author").value.trim();
    save("local", AUTHOR_KEY, author || null);
    /** @type {EntryPayload} */
    const payload = { body: d.body, pinned: d.pinned, key_event: d.key_event };
    if (author) payload.author = author;
    if (media.length) payload.media = media;
    if (status) payload.status = status;
    // The server binds a key to its first body (another body → 409). After a lost response,
    // resend exactly what was sent, then bring the entry up to date with a PATCH.
    const first = d.sent || payload;
    d.sent = first;
    this.writeDraft(d);
    const publishButton = button("sd-publish");
    this.publishing = true;
    publishButton.disabled = true;
    publishButton.setAttribute("aria-busy", "true");
    publishButton.textContent = t("publishing");
    const base = `/api/feeds/${encodeURIComponent(slug)}`;
    try {
      const created = await this.api.call("POST", `${base}/entries`, first, { "Idempotency-Key": d.key });
      /** @type {Entry} */
      let entry = created.data;
      if (differs(entry, payload)) {
        entry = (await this.api.call("PATCH", `${base}/entries/${entry.id}`, payload)).data;
      }
      if (this.slug === slug) {
        textarea("sd-body").value = "";
        input("sd-pinned").checked = false;
        input("sd-key").checked = false;
        this.writeDraft(null);
        this.tray.clear();
        byId("sd-draft-state").textContent = "";
        this.renderPreview();
        this.onPublished(entry);
      } else {
        this.writeDraft(null, slug);
      }
      this.messages.toast(
        status === "draft" ? t("compose_saved_draft") : status === "submitted" ? t("compose_submitted") : t("published_toast")
      );
      byId("sd-body").focus();
    } catch (err) {
      error.textContent = this.api.explain(err);
      const status = statusOf(err);
      const kept = this.readDraft(slug);
      if (kept && status >= 400 && status < 500) {
        // Refused, so not stored: the next attempt may send the current text afresh.
        kept.sent = null;
        this.writeDraft(kept, slug);
      }
      if (status === 0) byId("sd-draft-state").textContent = t("draft_kept");
    } finally {
      this.publishing = false;
      publishButton.disabled = false;
      publishButton.removeAttribute("aria-busy");
      publishButton.textContent = t("publish");
    }
  }
}
