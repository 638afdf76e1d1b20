// @ts-check
/**
 * The studio: who is signed in, which feed is open, and the parts that show it. All state is
 * on this object or the parts it owns (`EntryList`, `Composer`, `FeedPanel`, the live client).
 */

import { pageCloseTable } from "../lib/close-policy.js";
import { LiveClient } from "../lib/live-client.js";
import { Api, offline, statusOf } from "./api.js";
import { Composer } from "./composer.js";
import { Messages, byId, button, confirmDialog, copyField, input, textarea } from "./dom.js";
import { TeamDesk } from "./desk.js";
import { PeoplePanel } from "./people.js";
import { EntryList } from "./entries.js";
import { FeedPanel, feedLabel } from "./feed-panel.js";
import { t, tn } from "./i18n.js";
import { TokenList } from "./tokens.js";
import { AUTHOR_KEY, FEED_KEY, TOKEN_KEY, load, save } from "./storage.js";

/** @typedef {import("../lib/model.js").Feed} Feed */
/**
 * `GET /api/whoami`: a token (admin, or a reporter of `feed`) or an account (`kind: "account"`,
 * its role per feed in `feeds`, its rights per feed, and the session's CSRF token).
 * @typedef {{is_admin: boolean, feed: string | null, name: string, kind?: string, role?: string,
 *   feeds?: Record<string, string>, rights?: Record<string, Record<string, string>>,
 *   csrf_token?: string | null}} WhoAmI
 */

export class Studio {
  constructor() {
    this.api = new Api();
    this.messages = new Messages();
    this.entries = new EntryList(this.api, this.messages);
    this.people = new PeoplePanel(this.api, this.messages);
    this.desk = new TeamDesk(this.api, this.messages, (entry) => this.entries.upsert(/** @type {any} */ (entry)));
    this.composer = new Composer(this.api, this.messages, (entry) => {
      // A draft or a submission goes to the team desk; a published update to the list.
      if (/** @type {any} */ (entry).status && /** @type {any} */ (entry).status !== "published") {
        this.desk.upsert(/** @type {any} */ (entry));
      } else this.entries.upsert(entry);
    });
    this.panel = new FeedPanel(this.api);
    this.tokens = new TokenList(this.api);
    /** @type {WhoAmI | null} */
    this.who = null;
    /** @type {Feed[]} */
    this.feeds = [];
    /** @type {Feed | null} */
    this.feed = null;
    /** @type {LiveClient | null} */
    this.live = null;
    this.closeTable = pageCloseTable(document);

    this.api.onUnauthorized = () =>
      this.signOut(this.isAccount ? t("session_ended") : t("token_expired"));
    this.desk.onSignedOut = () => this.signOut(this.isAccount ? t("session_ended") : t("token_expired"));
    this.entries.onFeed = (feed) => this.applyFeed(feed);
    this.entries.onFirstPage = () => this.followLive();
  }

  /**
   * May this person publish on feed `slug` (the team desk's review actions)? Bearer tokens
   * are the admin or an editor of their feed; the server decides in the end.
   * @param {string} slug
   */
  canPublish(slug) {
    const who = this.who;
    if (!who) return false;
    if (who.is_admin || who.feed === slug) return true;
    return this.may("entry.publish", slug);
  }

  /**
   * Does whoami say this person may do `action` on feed `slug` (the admin: everything)?
   * @param {string} action @param {string} slug
   */
  may(action, slug) {
    const who = this.who;
    if (!who) return false;
    if (who.is_admin) return true;
    return ((who.rights || {})[slug] || {})[action] === "allow";
  }

  get isAdmin() {
    return !!(this.who && this.who.is_admin);
  }

  // ---- sign in / out ------------------------------------------------------------------------

  /** Signed in with an account (the session cookie): a person, not a token. */
  get isAccount() {
    return !!(this.who && this.who.kind === "account");
  }

  /**
   * Sign in with an account: the server sets the session cookie and gives the CSRF token.
   * @param {string} email @param {string} password
   */
  async logIn(email, password) {
    const error = byId("sd-login-error");
    error.textContent = "";
    this.api.token = null;
    try {
      const res = await this.api.call("POST", "/api/session", { email, password });
      this.api.csrf = res.data.csrf_token;
    } catch (err) {
      const status = statusOf(err);
      error.textContent =
        status === 401 || status === 403 || status === 429
          ? /** @type {any} */ (err).detail
          : this.api.explain(err);
      byId("sd-password").focus();
      return;
    }
    input("sd-password").value = "";
    save("session", TOKEN_KEY, null);
    await this.signIn(null);
  }

  /**
   * Who is signed in (a token, or with `null` the session cookie), then open the console.
   * @param {string | null} token
   * @param {boolean} [quiet] restored from this tab (or a session still open): no message
   */
  async signIn(token, quiet = false) {
    this.api.token = token;
    let who;
    try {
      who = /** @type {WhoAmI} */ ((await this.api.call("GET", "/api/whoami")).data);
    } catch (err) {
      this.api.token = null;
      this.api.csrf = null;
      save("session", TOKEN_KEY, null);
      const status = statusOf(err);
      if (token === null && quiet) return; // no open session: the sign-in form stays
      if (quiet && status === 0) {
        byId("sd-signin-error").textContent = offline();
        return;
      }
      byId("sd-signin-error").textContent =
        status === 401 ? t("token_invalid") : this.api.explain(err);
      byId("sd-token").focus();
      return;
    }
    this.who = who;
    if (token === null) this.api.csrf = who.csrf_token || null;
    save("session", TOKEN_KEY, token);
    byId("sd-signin").hidden = true;
    byId("sd-app").hidden = false;
    byId("sd-who").hidden = false;
    byId("sd-who-name").textContent = this.isAccount
      ? `${who.name} · ${t(`role_${who.role || "contributor"}`)}`
      : who.is_admin
        ? t("admin")
        : `${who.name} · ${who.feed}`;
    byId("sd-signout-all").hidden = !this.isAccount;
    byId("sd-admin").hidden = !who.is_admin;
    byId("sd-origins-form").hidden = !who.is_admin;
    byId("sd-feed-field").hidden = !who.is_admin && Object.keys(who.feeds || {}).length < 2;
    try {
      await this.loadFeeds();
    } catch (err) {
      this.messages.banner(this.api.explain(err));
    }
    // Move to the composer unless the user has already gone somewhere else.
    const active = document.activeElement;
    if (!active || active === document.body || byId("sd-signin").contains(active)) {
      byId("sd-body").focus();
    }
  }

  /**
   * End the session on the server (an account), then sign out here.
   * @param {boolean} everywhere every session of the account, on every device
   */
  async endSession(everywhere) {
    if (this.isAccount) {
      try {
        await this.api.call(everywhere ? "POST" : "DELETE", everywhere ? "/api/session/logout-everywhere" : "/api/session");
      } catch (err) {
        if (statusOf(err) !== 401) {
          this.messages.banner(this.api.explain(err));
          return;
        }
      }
    }
    this.signOut(everywhere ? t("signed_out_everywhere") : t("signed_out"));
  }

  /** @param {string} message */
  signOut(message) {
    this.stopLive();
    this.api.token = null;
    this.api.csrf = null;
    this.who = null;
    this.feed = null;
    this.entries.open(null);
    this.desk.close();
    void this.people.open(null, false);
    save("session", TOKEN_KEY, null);
    byId("sd-app").hidden = true;
    byId("sd-who").hidden = true;
    byId("sd-conn").hidden = true;
    byId("sd-signin").hidden = false;
    input("sd-token").value = "";
    byId("sd-signin-error").textContent = message || "";
    byId("sd-token").focus();
  }

  // ---- feeds --------------------------------------------------------------------------------

  /** @param {string} [preferred] slug to open */
  async loadFeeds(preferred) {
    const who = this.who;
    if (!who) return;
    const slugs = this.isAccount ? Object.keys(who.feeds || {}) : [who.feed || ""];
    /** @type {Feed[]} */
    const feeds = who.is_admin
      ? (await this.api.call("GET", "/api/feeds")).data
      : await Promise.all(
          slugs.map(async (slug) => (await this.api.call("GET", `/api/feeds/${encodeURIComponent(slug)}`)).data)
        );
    this.feeds = feeds;
    /** @type {HTMLSelectElement} */
    const select = byId("sd-feed");
    select.replaceChildren(
      ...feeds.map((f) => {
        const o = document.createElement("option");
        o.value = f.slug;
        o.textContent = feedLabel(f);
        return o;
      })
    );
    const want = preferred || load("session", FEED_KEY);
    const chosen = feeds.find((f) => f.slug === want) || feeds[0];
    if (!chosen) {
      this.panel.show(null, this.isAdmin);
      return;
    }
    select.value = chosen.slug;
    await this.openFeed(chosen);
  }

  /** @param {Feed} feed */
  async openFeed(feed) {
    this.stopLive();
    this.feed = feed;
    save("session", FEED_KEY, feed.slug);
    this.entries.open(feed);
    this.panel.show(feed, this.isAdmin);
    // Editors end and reopen their feeds too (feed.update); the hint says who can.
    const mayUpdate = this.may("feed.update", feed.slug);
    byId("sd-status-hint").hidden = mayUpdate;
    button("sd-status-toggle").disabled = !mayUpdate;
    if (this.isAdmin) void this.tokens.load(feed.slug);
    this.composer.open(feed.slug);
    this.desk.open(feed.slug, this.canPublish(feed.slug));
    // People are accounts: an admin account (or the admin token) manages them.
    void this.people.open(feed.slug, this.isAdmin && !!(this.who && this.who.kind));
    // A contributor writes drafts and submits them; only an editor publishes.
    byId("sd-publish").hidden = !this.canPublish(feed.slug);
    await this.entries.load(null);
  }

  /** A newer version of a feed (an API answer or a `feed` event). @param {Feed} feed */
  applyFeed(feed) {
    if (!this.feed || feed.slug !== this.feed.slug) return;
    this.feed = feed;
    this.entries.feed = feed;
    this.panel.show(feed, this.isAdmin);
  }

  /**
   * @param {Record<string, unknown>} fields
   * @param {HTMLElement | null} errorEl where a failure is shown (else the banner)
   */
  async patchFeed(fields, errorEl) {
    if (!this.feed) return false;
    try {
      const res = await this.api.call("PATCH", `/api/feeds/${encodeURIComponent(this.feed.slug)}`, fields);
      this.applyFeed(res.data);
      return true;
    } catch (err) {
      const text = this.api.explain(err);
      if (errorEl) errorEl.textContent = text;
      else this.messages.banner(text);
      return false;
    }
  }

  // ---- live updates of the list -------------------------------------------------------------

  /** (Re)start following the open feed from the list's rev. */
  followLive() {
    if (this.live && this.live.running) {
      this.live.restart();
      return;
    }
    const feed = this.feed;
    if (!feed || !this.api.token) return;
    const slug = encodeURIComponent(feed.slug);
    this.live = new LiveClient({
      ws: `/ws/feeds/${slug}`,
      sse: `/sse/feeds/${slug}`,
      changes: `/api/feeds/${slug}/changes`,
      rev: () => this.entries.rev,
      onEvent: (ev) => (ev.type === "readers" ? this.showReaders(ev.count) : this.entries.handle(ev)),
      onState: (state, message) => this.showConn(state, message),
      closeTable: this.closeTable,
    });
    this.live.start();
  }

  stopLive() {
    if (this.live) this.live.stop();
    this.live = null;
    this.showConn("idle");
    this.showReaders(undefined);
  }

  /**
   * The open feed's live reader count (every process; a `readers` event), in the studio's
   * language and number format; hidden while no count is known.
   * @param {number | undefined} n
   */
  showReaders(n) {
    const el = byId("sd-readers");
    const known = typeof n === "number" && Number.isFinite(n);
    el.hidden = !known;
    el.textContent = known ? tn("readers_count", n) : "";
    el.setAttribute("data-count", known ? String(n) : "");
  }

  /** @param {import("../lib/live-client.js").LiveState | "idle"} state @param {string} [message] */
  showConn(state, message) {
    const el = byId("sd-conn");
    el.hidden = state === "idle" || state === "connecting";
    el.setAttribute("data-state", state);
    /** @type {Record<string, string>} */
    const text = {
      live: t("conn_live"),
      reconnecting: t("conn_reconnecting"),
      offline: t("conn_offline"),
      stopped: message || t("conn_stopped"),
    };
    /** @type {HTMLElement} */ (el.querySelector(".sd-conn-text")).textContent = text[state] || "";
  }

  // ---- wiring -------------------------------------------------------------------------------

  boot() {
    // The language chooser reloads the page in the language picked (no button needed).
    byId("sd-lang-apply").hidden = true;
    byId("sd-lang").addEventListener("change", () => {
      /** @type {HTMLFormElement} */ (byId("sd-lang-form")).requestSubmit();
    });
    if (new URLSearchParams(window.location.search).has("lang")) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    byId("sd-signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const token = input("sd-token").value.trim();
      if (!token) {
        byId("sd-signin-error").textContent = t("token_missing");
        byId("sd-token").focus();
        return;
      }
      byId("sd-signin-error").textContent = "";
      const submit = button("sd-signin-submit");
      submit.disabled = true;
      await this.signIn(token);
      submit.disabled = false;
    });
    byId("sd-signout").addEventListener("click", () => void this.endSession(false));
    byId("sd-signout-all").addEventListener("click", () => void this.endSession(true));
    byId("sd-login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const email = input("sd-email").value.trim();
      const password = input("sd-password").value;
      if (!email || !password) {
        byId("sd-login-error").textContent = t("login_missing");
        return;
      }
      const submit = button("sd-login-submit");
      submit.disabled = true;
      await this.logIn(email, password);
      submit.disabled = false;
    });
    byId("sd-banner-close").addEventListener("click", () => this.messages.banner(""));
    byId("sd-feed").addEventListener("change", async () => {
      const slug = /** @type {HTMLSelectElement} */ (byId("sd-feed")).value;
      if (!this.feeds.some((f) => f.slug === slug)) return;
      // Choosing the feed that is already open changes nothing: reopening it would reset
      // the composer and abort photos still uploading.
      if (this.feed && this.feed.slug === slug) return;
      try {
        const res = await this.api.call("GET", `/api/feeds/${encodeURIComponent(slug)}`);
        await this.openFeed(res.data);
      } catch (err) {
        this.messages.banner(this.api.explain(err));
      }
    });
    byId("sd-status-toggle").addEventListener("click", async () => {
      if (!this.feed) return;
      const ending = this.feed.status === "live";
      const ok = ending
        ? await confirmDialog(t("end_confirm"), t("end_live_blog"))
        : true;
      if (!ok) return;
      if (await this.patchFeed({ status: ending ? "ended" : "live" }, null)) {
        this.messages.toast(ending ? t("ended_toast") : t("reopened_toast"));
      }
    });

    const body = textarea("sd-body");
    body.addEventListener("input", () => {
      this.composer.saveDraft();
      this.composer.schedulePreview(250);
    });
    for (const id of ["sd-pinned", "sd-key"]) {
      byId(id).addEventListener("change", () => this.composer.saveDraft());
    }
    byId("sd-author").addEventListener("change", () => {
      save("local", AUTHOR_KEY, input("sd-author").value.trim() || null);
    });
    byId("sd-compose").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.composer.publish();
    });
    byId("sd-save-draft").addEventListener("click", () => this.composer.publish("draft"));
    byId("sd-submit").addEventListener("click", () => this.composer.publish("submitted"));
    this.desk.bind();
    this.people.bind();
    this.composer.tray.bind();
    byId("sd-compose").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        this.composer.publish();
      }
    });
    byId("sd-entries").addEventListener("click", (ev) => {
      const target = /** @type {Element} */ (ev.target);
      const b = /** @type {HTMLElement | null} */ (target.closest("button[data-act]"));
      const li = b && b.closest(".sd-entry");
      if (!b || !li) return;
      this.entries.act(Number(li.getAttribute("data-id")), b.getAttribute("data-act") || "", b);
    });
    byId("sd-more").addEventListener("click", () => {
      if (this.entries.nextBefore) this.entries.load(this.entries.nextBefore);
    });
    for (const b of document.querySelectorAll("[data-copy]")) {
      b.addEventListener("click", () => {
        const field = /** @type {HTMLInputElement} */ (byId(b.getAttribute("data-copy") || ""));
        copyField(field, /** @type {HTMLElement} */ (b), this.messages);
      });
    }

    byId("sd-origins-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const origins = textarea("sd-origins").value.split(/[\s,]+/).filter(Boolean);
      byId("sd-origins-error").textContent = "";
      if (await this.patchFeed({ allowed_origins: origins }, byId("sd-origins-error"))) {
        this.messages.toast(origins.length ? t("origins_some") : t("origins_any"));
      }
    });
    byId("sd-newfeed-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = byId("sd-newfeed-error");
      err.textContent = "";
      const data = {
        slug: input("sd-nf-slug").value.trim(),
        title: input("sd-nf-title").value.trim(),
        description: input("sd-nf-description").value.trim(),
        locale: input("sd-nf-locale").value.trim() || "en-GB",
        timezone: input("sd-nf-timezone").value.trim() || "UTC",
      };
      if (!data.slug || !data.title) {
        err.textContent = t("feed_needs");
        return;
      }
      try {
        const res = await this.api.call("POST", "/api/feeds", data);
        input("sd-nf-slug").value = "";
        input("sd-nf-title").value = "";
        input("sd-nf-description").value = "";
        this.messages.toast(t("feed_created", { title: res.data.title }));
        await this.loadFeeds(res.data.slug);
      } catch (e) {
        err.textContent =
          statusOf(e) === 409 ? t("slug_taken", { detail: /** @type {any} */ (e).detail }) : this.api.explain(e);
      }
    });
    byId("sd-token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = byId("sd-token-error");
      err.textContent = "";
      byId("sd-token-out").hidden = true;
      const name = input("sd-tk-name").value.trim();
      if (!name) {
        err.textContent = t("token_needs_name");
        return;
      }
      if (!this.feed) return;
      try {
        const res = await this.api.call("POST", `/api/feeds/${encodeURIComponent(this.feed.slug)}/tokens`, { name });
        const out = input("sd-token-value");
        out.value = res.data.token;
        byId("sd-token-out").hidden = false;
        input("sd-tk-name").value = "";
        void this.tokens.load(this.feed.slug);
        out.focus();
        out.select();
      } catch (e) {
        err.textContent = this.api.explain(e);
      }
    });

    window.addEventListener("offline", () => {
      this.messages.banner(t("offline_banner"));
    });
    window.addEventListener("online", () => this.messages.banner(""));
    // Another tab changed this feed's draft: follow it.
    window.addEventListener("storage", (ev) => {
      if (ev.key === this.composer.draftKey() && document.activeElement !== body) {
        this.composer.restoreDraft();
      }
    });

    const token = load("session", TOKEN_KEY);
    if (token) this.signIn(token, true);
    else {
      // A session may still be open (the cookie): resume it, else the sign-in form.
      byId("sd-email").focus();
      void this.signIn(null, true);
    }
  }
}
