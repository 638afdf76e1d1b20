// @ts-check
/**
 * The admin's list of the open feed's reporter tokens, each with a Revoke button
 * (`GET /api/tokens?feed=…`, `DELETE /api/tokens/{id}`). Secrets are never listed: a token
 * is shown once, when it is created.
 */

import { byId, confirmDialog } from "./dom.js";
import { t } from "./i18n.js";

/** @typedef {import("./api.js").Api} Api */
/**
 * @typedef {{id: number, name: string, feed: string | null, created_at: string,
 *   expires_at: string | null, revoked_at: string | null, active: boolean}} TokenInfo
 */

/** "active", "revoked" or "expired" (the row's `data-state`). @param {TokenInfo} token */
export function tokenState(token) {
  if (token.revoked_at) return "revoked";
  return token.active ? "active" : "expired";
}

/** A token's state in the studio's language. @param {TokenInfo} token */
function stateLabel(token) {
  const state = tokenState(token);
  if (state === "revoked") return t("token_state_revoked");
  return state === "active" ? t("token_state_active") : t("token_state_expired");
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

  /** @param {TokenInfo} token */
  row(token) {
    const li = document.createElement("li");
    li.className = "sd-token-row";
    li.dataset.tokenId = String(token.id);
    li.dataset.state = tokenState(token);
    const label = document.createElement("span");
    label.textContent = `${token.name} · ${stateLabel(token)}`;
    li.append(label);
    if (token.active) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "sd-btn sd-btn-quiet";
      revoke.textContent = t("revoke");
      revoke.setAttribute("aria-label", t("revoke_label", { name: token.name }));
      revoke.addEventListener("click", () => this.revoke(token));
      li.append(revoke);
    }
    return li;
  }

  /** @param {TokenInfo} token */
  async revoke(token) {
    const ok = await confirmDialog(t("revoke_confirm", { name: token.name }), t("revoke"));
    if (!ok || !this.slug) return;
    try {
      await this.api.call("DELETE", `/api/tokens/${token.id}`);
    } catch (e) {
      byId("sd-tokens-error").textContent = this.api.explain(e);
      return;
    }
    await this.load(this.slug);
  }
}
