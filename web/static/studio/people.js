// @ts-check
/**
 * People (admins only): the accounts, their global role, their role on the open feed, and
 * disabling one (every session of it ends at once, in every process). Creating an account
 * gives a one-time link where the person sets a password (shown once). The server decides
 * every right; this panel only offers what an admin may do.
 */

import { byId, input } from "./dom.js";
import { t } from "./i18n.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./dom.js").Messages} Messages */
/**
 * @typedef {{id: number, email: string, display_name: string, role: string, disabled: boolean,
 *   feeds: Record<string, string>}} Person
 */

/** Roles a person may hold on one feed ("" = not a member). */
export const FEED_ROLES = ["", "contributor", "editor"];

export class PeoplePanel {
  /** @param {Api} api @param {Messages} messages */
  constructor(api, messages) {
    this.api = api;
    this.messages = messages;
    /** @type {string | null} */
    this.slug = null;
    /** @type {Person[]} */
    this.people = [];
  }

  /** Show the panel for feed `slug` (null or not an admin: hide it). @param {string | null} slug @param {boolean} admin */
  async open(slug, admin) {
    this.slug = slug;
    byId("sd-people").hidden = !admin || !slug;
    if (!admin || !slug) return;
    await this.load();
  }

  async load() {
    const error = byId("sd-people-error");
    try {
      this.people = (await this.api.call("GET", "/api/users")).data;
      error.textContent = "";
    } catch (err) {
      error.textContent = this.api.explain(err);
      return;
    }
    this.render();
  }

  render() {
    const slug = this.slug || "";
    const list = byId("sd-people-list");
    list.replaceChildren(
      ...this.people.map((p) => {
        const li = document.createElement("li");
        li.setAttribute("data-user", String(p.id));
        const who = document.createElement("span");
        who.className = "sd-person";
        who.textContent = `${p.display_name} <${p.email}> · ${t(`role_${p.role}`)}`;
        if (p.disabled) who.textContent += ` · ${t("people_disabled")}`;
        const label = document.createElement("label");
        label.textContent = t("people_role_here");
        const select = document.createElement("select");
        for (const role of FEED_ROLES) {
          const o = document.createElement("option");
          o.value = role;
          o.textContent = role ? t(`role_${role}`) : t("people_not_member");
          select.append(o);
        }
        select.value = p.feeds[slug] || "";
        select.disabled = p.role === "admin";
        select.addEventListener("change", () => void this.setRole(p, select.value));
        label.append(" ", select);
        const toggle = document.createElement("button");
        toggle.type = "button";
        toggle.className = "sd-btn sd-btn-small" + (p.disabled ? "" : " sd-btn-danger");
        toggle.textContent = p.disabled ? t("people_enable") : t("people_disable");
        toggle.addEventListener("click", () => void this.setDisabled(p, !p.disabled));
        li.append(who, " ", label, " ", toggle);
        return li;
      })
    );
  }

  /** @param {Person} person @param {string} role "" removes the membership */
  async setRole(person, role) {
    if (!this.slug) return;
    const path = `/api/feeds/${encodeURIComponent(this.slug)}/members/${person.id}`;
    try {
      if (role) await this.api.call("PUT", path, { role });
      else await this.api.call("DELETE", path);
      this.messages.toast(t("people_saved"));
    } catch (err) {
      byId("sd-people-error").textContent = this.api.explain(err);
    }
    await this.load();
  }

  /** @param {Person} person @param {boolean} disabled */
  async setDisabled(person, disabled) {
    try {
      await this.api.call("PATCH", `/api/users/${person.id}`, { disabled });
      this.messages.toast(disabled ? t("people_disabled_toast") : t("people_enabled_toast"));
    } catch (err) {
      byId("sd-people-error").textContent = this.api.explain(err);
    }
    await this.load();
  }

  /** The "Add a person" form: the account, then its role on the open feed. */
  async create() {
    const error = byId("sd-people-error");
    error.textContent = "";
    byId("sd-people-link-out").hidden = true;
    const email = input("sd-pp-email").value.trim();
    const name = input("sd-pp-name").value.trim();
    // The options' values are "role-NAME" (a page of another language must not carry the
    // English role words, even as attribute values).
    const role = /** @type {HTMLSelectElement} */ (byId("sd-pp-role")).value.replace(/^role-/, "");
    if (!email) {
      error.textContent = t("people_needs_email");
      return;
    }
    try {
      /** @type {Record<string, string>} */
      const body = { email, role };
      if (name) body.display_name = name;
      const created = (await this.api.call("POST", "/api/users", body)).data;
      if (this.slug && role !== "admin") {
        await this.api.call("PUT", `/api/feeds/${encodeURIComponent(this.slug)}/members/${created.id}`, { role });
      }
      input("sd-pp-email").value = "";
      input("sd-pp-name").value = "";
      if (created.reset_link) {
        input("sd-people-link").value = created.reset_link;
        byId("sd-people-link-out").hidden = false;
      }
      this.messages.toast(t("people_created", { name: created.display_name }));
    } catch (err) {
      error.textContent = this.api.explain(err);
    }
    await this.load();
  }

  bind() {
    byId("sd-people-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.create();
    });
  }
}
