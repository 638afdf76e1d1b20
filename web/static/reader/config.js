// @ts-check
/**
 * The reader's per-timeline configuration: `<script type="application/json" class="lf-config">`
 * inside `[data-livefeed-timeline]`, rendered by `app.timeline.build_timeline`.
 */

/**
 * @typedef {object} TimelineFields
 * @property {string} slug
 * @property {number} rev the rev the page was rendered at: where live updates resume
 * @property {"live" | "ended"} status
 * @property {boolean} live whether this page follows the feed (first page of a live feed)
 * @property {boolean} firstPage
 * @property {number} pageSize
 * @property {number | null} nextBefore cursor of the next older page, null on the last one
 * @property {string} title
 * @property {string} entryPath `/feeds/{slug}/entries/`: an update's page is this + its id
 * @property {string} aroundPath `/feeds/{slug}?around=`: the deep link to an update is this +
 *   `{id}#entry-{id}`
 * @property {string} api `/api/feeds/{slug}`
 * @property {string} ws `/ws/feeds/{slug}`
 * @property {string} sse `/sse/feeds/{slug}`
 * @property {number} keyEventLinks how many key events the list shows (newest first)
 */

/** @typedef {import("../lib/format.js").LocaleConfig & TimelineFields} TimelineConfig */

/**
 * @param {Element} root the `[data-livefeed-timeline]` element
 * @returns {TimelineConfig}
 */
export function readConfig(root) {
  const script = root.querySelector("script.lf-config");
  return JSON.parse((script && script.textContent) || "{}");
}

/**
 * `querySelector` that insists: the template always renders these parts.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {T}
 */
export function part(root, selector) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`livefeed: ${selector} missing from the timeline`);
  return /** @type {T} */ (el);
}
