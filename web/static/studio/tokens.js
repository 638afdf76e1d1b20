// @ts-check
/**
 * The admin's list of the open feed's reporter tokens, each with a Revoke button
 * (`GET /api/tokens?feed=…`, `DELETE /api/tokens/{id}`). Secrets are never listed: a token
 * is shown once, when it is created.
 */

import { byId, confirmDialog } from "./dom.js";

/** @typedef {import("./api.js").Api} Api */
/**
 * @typedef {{id: number, name: string, feed: string | null, created_at: string,
 *   expires_at: string | null, revoked_at: string | null, active: boolean}} TokenInfo
 */

/** "active", "revoked" or "expired", for a row's label. @param {TokenInfo} t */
export function tokenState(t) {
  if (t.revoked_at) return "revoked";
  return t.active ? "active" : "expired";
}

export class TokenList {
  /** @param {Api} api */
  constructor(api) {
    this.api = api;
    /** @type {string | null} */
    this.slug = null;
  }

  /** Show the tokens of feed `slug` (admins only). @param {string} slug */
  async load(slug) {
    this.slug = slug;
    const list = byId("sd-tokens");
    const error = byId("sd-tokens-error");
    error.textContent = "";
    try {
      const res = await this.api.call("GET", `/api/tokens?feed=${encodeURIComponent(slug)}`);
      if (this.slug !== slug) return; // another feed was opened meanwhile
      /** @type {TokenInfo[]} */
      const tokens = res.data;
      list.replaceChildren(...tokens.map((t) => this.row(t)));
      byId("sd-tokens-empty").hidden = tokens.length > 0;
    } catch (e) {
      error.textContent = this.api.explain(e);
    }
  }

  /** @param {TokenInfo} t */
  row(t) {
    const li = document.createElement("li");
    li.className = "sd-token-row";
    li.dataset.tokenId = String(t.id);
    li.dataset.state = tokenState(t);
    const label = document.createElement("span");
    label.textContent = `${t.name} · ${tokenState(t)}`;
    li.append(label);
    if (t.active) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "sd-btn sd-btn-quiet";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke the token of ${t.name}`);
      revoke.addEventListener("click", () => this.revoke(t));
      li.append(revoke);
    }
    return li;
  }

  /** @param {TokenInfo} t */
  async revoke(t) {
    const ok = await confirmDialog(
      `Revoke the token of ${t.name}? Whoever uses it is signed out at once.`,
      "Revoke"
    );
    if (!ok || !this.slug) return;
    try {
      await this.api.call("DELETE", `/api/tokens/${t.id}`);
    } catch (e) {
      byId("sd-tokens-error").textContent = this.api.explain(e);
      return;
    }
    await this.load(this.slug);
  }
}
