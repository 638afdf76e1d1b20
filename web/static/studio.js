// @ts-check
/**
 * livefeed studio: the reporter console at /studio. An ES module, no build step.
 *
 * - The token lives in sessionStorage (this tab only). A 401 anywhere signs out with a clear
 *   message; the draft stays.
 * - Drafts survive outages and never post twice (`studio/composer.js`).
 * - The entries list follows the feed through the shared live client, resuming from the last
 *   rev after a disconnect (`studio/entries.js`, `lib/live-client.js`).
 */

import { Studio } from "./studio/app.js";

const studio = new Studio();
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => studio.boot());
else studio.boot();
