// @ts-check
/**
 * The composer's media tray: photos (file picker, drag and drop, paste) uploaded at once with
 * progress and cancel, link cards for video and social posts, and each photo's alt text,
 * caption and credit, sent with the entry as `media` refs.
 *
 * Alt text is required: publishing is refused with a clear message, focused on the empty
 * field, unless the reporter ticks "Decorative" (an empty alt on purpose). The tray of each
 * feed is kept on this device with the draft, so a reload loses no upload.
 */

import { statusOf } from "./api.js";
import { byId, input } from "./dom.js";
import { locale, t } from "./i18n.js";
import { DRAFT_PREFIX, load, save } from "./storage.js";

/** @typedef {import("./api.js").Api} Api */

/**
 * What the server answers for an upload or a card (README: Photos, video and social posts).
 * @typedef {{url: string, width: number, content_type: string}} Variant
 * @typedef {{id: number, kind: "image" | "card", url: string, width: number | null,
 *   height: number | null, alt: string | null, variants: Variant[], thumbnail: Variant[],
 *   card: {title: string | null, provider_name: string | null, playable: boolean} | null}} Media
 */

/**
 * One tray item. `media` is set once the upload (or card) is done.
 * @typedef {{key: number, name: string, preview: string, progress: number,
 *   status: "uploading" | "done" | "failed", error: string, xhr: XMLHttpRequest | null,
 *   media: Media | null, alt: string, decorative: boolean, caption: string, credit: string}} Item
 */

/** What an entry carries: a card's id, or a photo's id with its texts. */
/** @typedef {number | {id: number, alt: string, caption?: string, credit?: string}} MediaRef */

/**
 * An item of a published entry's `media`.
 * @typedef {{id: number, kind: "image" | "card", url: string, alt: string | null,
 *   caption: string | null, credit: string | null, card: {title: string | null} | null}} PublishedMedia
 */

/** The `media` of entry `e` (entries without media have none). @param {object} e @returns {PublishedMedia[]} */
export function entryMedia(e) {
  return /** @type {{media?: PublishedMedia[]}} */ (e).media || [];
}

/** Refs that publish `media` again exactly as it is (texts included). @param {PublishedMedia[]} media
 * @returns {MediaRef[]} */
export function refsOf(media) {
  return media.map((m) => {
    if (m.kind === "card") return m.id;
    /** @type {{id: number, alt: string, caption?: string, credit?: string}} */
    const ref = { id: m.id, alt: m.alt || "" };
    if (m.caption) ref.caption = m.caption;
    if (m.credit) ref.credit = m.credit;
    return ref;
  });
}

/** What a reporter calls a media item in a list. @param {PublishedMedia} m */
export function mediaLabel(m) {
  if (m.kind === "card") return t("media_link", { title: (m.card && m.card.title) || m.url });
  return t("media_photo", { alt: m.alt || m.caption || t("decorative_word") });
}

export const ACCEPTED = ["image/jpeg", "image/png", "image/gif", "image/webp"];

export const ALT_REQUIRED = t("alt_required");
export const STILL_UPLOADING = t("still_uploading");

/** @param {Variant[]} variants the smallest rendition, for the tray's thumbnail */
function smallest(variants) {
  return variants.length ? variants[0].url : "";
}

/** The refs an entry is published with; throws the message to show if one is not ready.
 * @param {Item[]} items @returns {MediaRef[]} */
export function mediaRefs(items) {
  /** @type {MediaRef[]} */
  const refs = [];
  for (const item of items) {
    if (item.status !== "done" || !item.media) throw new Error(STILL_UPLOADING);
    if (item.media.kind === "card") {
      refs.push(item.media.id);
      continue;
    }
    const alt = item.decorative ? "" : item.alt.trim();
    if (!alt && !item.decorative) throw new Error(ALT_REQUIRED);
    /** @type {{id: number, alt: string, caption?: string, credit?: string}} */
    const ref = { id: item.media.id, alt };
    if (item.caption.trim()) ref.caption = item.caption.trim();
    if (item.credit.trim()) ref.credit = item.credit.trim();
    refs.push(ref);
  }
  return refs;
}

export class MediaTray {
  /**
   * @param {Api} api
   * @param {() => void} [onChange] called when what the preview shows may have changed
   */
  constructor(api, onChange = () => {}) {
    this.api = api;
    this.onChange = onChange;
    /** @type {string | null} */
    this.slug = null;
    /** @type {Item[]} */
    this.items = [];
    this.nextKey = 1;
    this.list = byId("sd-media-list");
  }

  /** Wire the picker, the drop zone, paste into the text and link cards. */
  bind() {
    const picker = input("sd-media-file");
    picker.addEventListener("change", () => {
      this.addFiles(picker.files ? [...picker.files] : []);
      picker.value = "";
    });
    const zone = byId("sd-compose");
    zone.addEventListener("dragover", (ev) => {
      if (ev.dataTransfer && [...ev.dataTransfer.types].includes("Files")) {
        ev.preventDefault();
        zone.classList.add("is-dropping");
      }
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("is-dropping"));
    zone.addEventListener("drop", (ev) => {
      zone.classList.remove("is-dropping");
      if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
      ev.preventDefault();
      this.addFiles([...ev.dataTransfer.files]);
    });
    byId("sd-body").addEventListener("paste", (ev) => {
      const files = ev.clipboardData ? [...ev.clipboardData.files] : [];
      if (!files.length) return;
      ev.preventDefault();
      this.addFiles(files);
    });
    byId("sd-link-add").addEventListener("click", () => this.addLink());
    input("sd-link").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.addLink();
      }
    });
  }

  storageKey(slug = this.slug || "") {
    return `${DRAFT_PREFIX}${slug}:media`;
  }

  /** Show feed `slug`'s tray (what was uploaded and not yet published). @param {string | null} slug */
  open(slug) {
    for (const item of this.items) if (item.xhr) item.xhr.abort();
    this.slug = slug;
    this.items = [];
    const raw = slug ? load("local", this.storageKey(slug)) : null;
    try {
      /** @type {Item[]} */
      const kept = raw ? JSON.parse(raw) : [];
      for (const item of kept) this.items.push({ ...item, key: this.nextKey++, xhr: null });
    } catch {
      this.items = [];
    }
    this.render();
  }

  persist() {
    this.onChange();
    if (!this.slug) return;
    const done = this.items
      .filter((i) => i.status === "done")
      .map((i) => ({ ...i, xhr: null, preview: i.media ? smallest(i.media.variants.length ? i.media.variants : i.media.thumbnail) : "" }));
    save("local", this.storageKey(), done.length ? JSON.stringify(done) : null);
  }

  /** Refs of what is ready, texts as typed so far: for the preview (never throws). */
  previewRefs() {
    this.readFields();
    return this.items
      .filter((i) => i.status === "done" && i.media)
      .map((i) => {
        const m = /** @type {Media} */ (i.media);
        if (m.kind === "card") return m.id;
        /** @type {{id: number, alt: string, caption?: string, credit?: string}} */
        const ref = { id: m.id, alt: i.decorative ? "" : i.alt.trim() };
        if (i.caption.trim()) ref.caption = i.caption.trim();
        if (i.credit.trim()) ref.credit = i.credit.trim();
        return ref;
      });
  }

  /** The refs to publish with (throws the message to show when not ready). */
  refs() {
    this.readFields();
    return mediaRefs(this.items);
  }

  /** Focus the first item that stops publishing, and mark it. */
  focusProblem() {
    for (const item of this.items) {
      const li = this.list.querySelector(`[data-key="${item.key}"]`);
      if (!li) continue;
      const alt = /** @type {HTMLInputElement | null} */ (li.querySelector(".sd-alt"));
      if (item.status === "uploading") {
        /** @type {HTMLElement | null} */ (li.querySelector(".sd-media-cancel"))?.focus();
        return;
      }
      if (alt && !item.decorative && !item.alt.trim()) {
        alt.setAttribute("aria-invalid", "true");
        alt.focus();
        return;
      }
    }
  }

  clear() {
    this.items = [];
    this.persist();
    this.render();
  }

  /** @param {File[]} files */
  addFiles(files) {
    if (!this.slug) return;
    for (const file of files) {
      /** @type {Item} */
      const item = {
        key: this.nextKey++,
        name: file.name,
        preview: "",
        progress: 0,
        status: "uploading",
        error: "",
        xhr: null,
        media: null,
        alt: "",
        decorative: false,
        caption: "",
        credit: "",
      };
      this.items.push(item);
      if (!ACCEPTED.includes(file.type)) {
        item.status = "failed";
        item.error = t("not_a_photo", { name: file.name });
        continue;
      }
      item.preview = URL.createObjectURL(file);
      this.upload(item, file, this.slug);
    }
    this.render();
  }

  /** @param {Item} item @param {File} file @param {string} slug */
  upload(item, file, slug) {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", `/api/feeds/${encodeURIComponent(slug)}/media`);
    if (this.api.token) xhr.setRequestHeader("Authorization", `Bearer ${this.api.token}`);
    xhr.setRequestHeader("Accept-Language", locale);
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      item.progress = Math.round((ev.loaded / ev.total) * 100);
      const bar = /** @type {HTMLProgressElement | null} */ (
        this.list.querySelector(`[data-key="${item.key}"] progress`)
      );
      if (bar) bar.value = item.progress;
    });
    xhr.addEventListener("load", () => {
      item.xhr = null;
      if (xhr.status === 201) {
        item.media = JSON.parse(xhr.responseText);
        item.status = "done";
      } else {
        item.status = "failed";
        let detail = t("upload_failed", { status: xhr.status });
        try {
          const answer = JSON.parse(xhr.responseText);
          detail = answer.message || answer.detail || detail;
        } catch {
          /* not JSON: keep the status */
        }
        item.error = `${item.name}: ${detail}`;
      }
      this.persist();
      this.render();
    });
    xhr.addEventListener("error", () => {
      item.xhr = null;
      item.status = "failed";
      item.error = t("upload_unreached", { name: item.name });
      this.render();
    });
    xhr.addEventListener("abort", () => {
      item.xhr = null;
      this.remove(item.key);
    });
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  }

  async addLink() {
    const field = input("sd-link");
    const url = field.value.trim();
    const error = byId("sd-compose-error");
    if (!this.slug || !url) return;
    if (!/^https?:\/\//.test(url)) {
      error.textContent = t("paste_full_link");
      return;
    }
    /** @type {Item} */
    const item = {
      key: this.nextKey++, name: url, preview: "", progress: 0, status: "uploading", error: "",
      xhr: null, media: null, alt: "", decorative: true, caption: "", credit: "",
    };
    this.items.push(item);
    this.render();
    try {
      const res = await this.api.call("POST", `/api/feeds/${encodeURIComponent(this.slug)}/cards`, { url });
      item.media = res.data;
      item.status = "done";
      field.value = "";
    } catch (err) {
      item.status = "failed";
      item.error = `${url}: ${this.api.explain(err)}`;
      if (statusOf(err) === 401) this.api.explain(err);
    }
    this.persist();
    this.render();
  }

  /** @param {number} key */
  remove(key) {
    const item = this.items.find((i) => i.key === key);
    if (item && item.xhr) {
      item.xhr.abort(); // its abort handler removes it
      return;
    }
    this.items = this.items.filter((i) => i.key !== key);
    this.persist();
    this.render();
  }

  /** Copy what the reporter typed into the items. */
  readFields() {
    for (const item of this.items) {
      const li = this.list.querySelector(`[data-key="${item.key}"]`);
      if (!li) continue;
      /** @param {string} sel */
      const field = (sel) => /** @type {HTMLInputElement | null} */ (li.querySelector(sel));
      item.alt = field(".sd-alt")?.value ?? item.alt;
      item.decorative = field(".sd-decorative")?.checked ?? item.decorative;
      item.caption = field(".sd-caption")?.value ?? item.caption;
      item.credit = field(".sd-credit")?.value ?? item.credit;
    }
  }

  render() {
    this.readFields();
    this.list.replaceChildren(...this.items.map((item) => this.renderItem(item)));
    byId("sd-media").classList.toggle("has-items", this.items.length > 0);
  }

  /** @param {Item} item */
  renderItem(item) {
    const li = document.createElement("li");
    li.className = `sd-media-item is-${item.status}`;
    li.dataset.key = String(item.key);
    const isCard = item.media ? item.media.kind === "card" : item.name.startsWith("http");
    const thumbUrl = item.media
      ? smallest(item.media.variants.length ? item.media.variants : item.media.thumbnail)
      : item.preview;
    const thumb = document.createElement("img");
    thumb.className = "sd-media-thumb";
    thumb.alt = "";
    if (thumbUrl) thumb.src = thumbUrl;
    li.append(thumb);
    const body = document.createElement("div");
    body.className = "sd-media-fields";
    li.append(body);
    const id = `sd-media-${item.key}`;
    /** @param {string} label @param {string} cls @param {string} value @param {boolean} [required] */
    const text = (label, cls, value, required = false) => {
      const wrap = document.createElement("label");
      wrap.className = "sd-media-field";
      wrap.htmlFor = `${id}-${cls}`;
      wrap.textContent = label;
      const field = document.createElement("input");
      field.id = `${id}-${cls}`;
      field.className = cls;
      field.value = value;
      field.maxLength = cls === "sd-credit" ? 200 : 1000;
      if (required) field.required = true;
      field.addEventListener("input", () => {
        field.removeAttribute("aria-invalid");
        this.readFields();
        this.persist();
      });
      wrap.append(field);
      return wrap;
    };
    const title = document.createElement("p");
    title.className = "sd-media-name";
    title.textContent =
      isCard && item.media && item.media.card
        ? `${item.media.card.title || item.name} · ${item.media.card.provider_name || (item.media.card.playable ? "" : t("plain_link"))}`
        : item.name;
    body.append(title);
    if (item.status === "uploading") {
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = item.progress;
      bar.setAttribute("aria-label", t("uploading_named", { name: item.name }));
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "sd-btn sd-media-cancel";
      cancel.textContent = t("cancel");
      cancel.addEventListener("click", () => this.remove(item.key));
      body.append(bar, cancel);
    }
    if (item.status === "failed") {
      const error = document.createElement("p");
      error.className = "sd-error";
      error.setAttribute("role", "alert");
      error.textContent = item.error;
      body.append(error);
    }
    if (!isCard && item.status !== "failed") {
      const alt = text(t("alt_text"), "sd-alt", item.alt, !item.decorative);
      const decorative = document.createElement("label");
      decorative.className = "sd-check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "sd-decorative";
      box.checked = item.decorative;
      box.addEventListener("change", () => {
        this.readFields();
        this.persist();
        this.render();
      });
      decorative.append(box, " ", t("decorative_check"));
      body.append(alt, decorative, text(t("caption"), "sd-caption", item.caption), text(t("credit"), "sd-credit", item.credit));
      const altField = /** @type {HTMLInputElement} */ (alt.querySelector("input"));
      altField.disabled = item.decorative;
    }
    if (item.status !== "uploading") {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "sd-btn sd-btn-quiet sd-media-remove";
      remove.textContent = t("remove");
      remove.setAttribute("aria-label", t("remove_named", { name: item.name }));
      remove.addEventListener("click", () => this.remove(item.key));
      body.append(remove);
    }
    return li;
  }
}
