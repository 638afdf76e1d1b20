// @ts-check
/** Typed lookups of the studio's elements (`web/templates/studio.html`), and its messages. */

import { t } from "./i18n.js";

/**
 * The element with `id`, which the studio page always has.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`studio: #${id} missing from the page`);
  return /** @type {T} */ (el);
}

/** @param {string} id @returns {HTMLInputElement} */
export const input = (id) => byId(id);

/** @param {string} id @returns {HTMLTextAreaElement} */
export const textarea = (id) => byId(id);

/** @param {string} id @returns {HTMLButtonElement} */
export const button = (id) => byId(id);

/** Short-lived confirmations ("Published.") and the dismissable banner for problems. */
export class Messages {
  constructor() {
    /** @type {number | undefined} */
    this.toastTimer = undefined;
  }

  /** @param {string} text */
  toast(text) {
    const el = byId("sd-toast");
    el.textContent = text;
    el.classList.add("is-shown");
    window.clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => el.classList.remove("is-shown"), 4000);
  }

  /** @param {string} text empty hides the banner */
  banner(text) {
    byId("sd-banner-text").textContent = text || "";
    byId("sd-banner").hidden = !text;
  }
}

/**
 * Ask before something destructive; resolves true when confirmed.
 * @param {string} text
 * @param {string} okLabel
 * @returns {Promise<boolean>}
 */
export function confirmDialog(text, okLabel) {
  /** @type {HTMLDialogElement} */
  const dialog = byId("sd-confirm");
  byId("sd-confirm-text").textContent = text;
  byId("sd-confirm-ok").textContent = okLabel;
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  return new Promise((resolve) => {
    if (typeof dialog.showModal !== "function") {
      resolve(window.confirm(text));
      return;
    }
    dialog.returnValue = "cancel";
    dialog.addEventListener(
      "close",
      () => {
        if (opener && opener.isConnected && opener.focus) opener.focus();
        resolve(dialog.returnValue === "ok");
      },
      { once: true }
    );
    dialog.showModal();
    byId("sd-confirm-cancel").focus();
  });
}

/**
 * Copy a field's value to the clipboard and say so on `trigger`.
 * @param {HTMLInputElement | HTMLTextAreaElement} field
 * @param {HTMLElement} trigger
 * @param {Messages} messages
 */
export function copyField(field, trigger, messages) {
  const done = () => {
    const label = trigger.textContent;
    trigger.textContent = t("copied");
    messages.toast(t("copied_toast"));
    window.setTimeout(() => {
      trigger.textContent = label;
    }, 1500);
  };
  const fallback = () => {
    field.select();
    if (document.execCommand("copy")) done();
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, fallback);
  } else {
    fallback();
  }
}
