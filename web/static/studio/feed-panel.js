// @ts-check
/**
 * The open feed's card: status, title, reader link, end/reopen, the embed code (from the
 * server's oEmbed answer, so it is `app.embeds.snippet` byte for byte) and allowed origins.
 */

import { byId, textarea } from "./dom.js";
import { t } from "./i18n.js";

/** @typedef {import("../lib/model.js").Feed} Feed */
/** @typedef {import("./api.js").Api} Api */

/** The public base URL the server renders into the studio page. */
export function publicUrl() {
  /** @type {HTMLMetaElement | null} */
  const meta = document.querySelector('meta[name="livefeed-public-url"]');
  return (meta && meta.content) || window.location.origin;
}

/** @param {Feed} f */
export function feedLabel(f) {
  return f.status === "ended"
    ? t("feed_label_ended", { title: f.title, slug: f.slug })
    : `${f.title} (${f.slug})`;
}

export class FeedPanel {
  /** @param {Api} api */
  constructor(api) {
    this.api = api;
    /** slug whose embed code is shown (fetched once per feed) */
    this.snippetFor = "";
  }

  /**
   * @param {Feed | null} feed
   * @param {boolean} isAdmin
   */
  show(feed, isAdmin) {
    byId("sd-feedcard").hidden = !feed;
    byId("sd-compose").hidden = !feed;
    if (!feed) {
      byId("sd-entries").replaceChildren();
      const empty = byId("sd-empty");
      empty.hidden = false;
      empty.textContent = isAdmin ? t("no_feeds") : "";
      return;
    }
    const badge = byId("sd-feed-status");
    badge.className = `lf-status lf-status-${feed.status}`;
    badge.textContent = feed.status === "live" ? t("live") : t("ended");
    byId("sd-feed-title").textContent = feed.title;
    byId("sd-feed-meta").textContent = `${feed.slug} · ${feed.locale} · ${feed.timezone}`;
    const reader = `${publicUrl()}/feeds/${feed.slug}`;
    /** @type {HTMLAnchorElement} */ (byId("sd-reader-link")).href = reader;
    byId("sd-status-toggle").textContent =
      feed.status === "live" ? t("end_blog") : t("reopen_blog");
    textarea("sd-origins").value = (feed.allowed_origins || []).join("\n");
    const option = byId("sd-feed").querySelector(`option[value="${feed.slug}"]`);
    if (option) option.textContent = feedLabel(feed);
    if (this.snippetFor !== feed.slug) {
      this.snippetFor = feed.slug;
      textarea("sd-snippet").value = "";
      this.loadSnippet(feed.slug, reader);
    }
  }

  /**
   * The embed code as the server writes it (`GET /oembed`, whose `html` is the snippet).
   * @param {string} slug
   * @param {string} reader the feed's public reader URL
   */
  async loadSnippet(slug, reader) {
    try {
      const res = await this.api.call("GET", `/oembed?format=json&url=${encodeURIComponent(reader)}`);
      if (this.snippetFor === slug) textarea("sd-snippet").value = res.data.html;
    } catch {
      if (this.snippetFor === slug) this.snippetFor = ""; // try again when shown next
    }
  }
}
