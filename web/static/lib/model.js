// @ts-check
/**
 * The data the pages show, as plain values: entries as the API and live events carry them,
 * their order, and the key-event list. Pure: no DOM.
 *
 * Ordering is the server's (`ORDER BY published_at DESC, id DESC`): newest first by
 * publication instant, then by id.
 */

/**
 * An entry as `GET /api/feeds/{slug}/entries` and `entry` events carry it.
 * @typedef {object} Entry
 * @property {number} id
 * @property {string} feed
 * @property {number} rev
 * @property {string} body Markdown source
 * @property {string} html sanitized by the server: safe to insert as-is
 * @property {string | null} [author]
 * @property {boolean} pinned
 * @property {boolean} key_event
 * @property {string} published_at ISO 8601
 * @property {boolean} [has_time] false for imported entries without a clock time
 * @property {boolean} [deleted]
 * @property {string | null} [edited_at] ISO 8601: the last edit of the published entry, if any
 */

/**
 * A feed as `GET /api/feeds/{slug}` and `feed` events carry it.
 * @typedef {object} Feed
 * @property {string} slug
 * @property {string} title
 * @property {string} [description]
 * @property {"live" | "ended"} status
 * @property {number} rev
 * @property {string} locale
 * @property {string} timezone
 * @property {string[]} [allowed_origins]
 */

/**
 * One message of a live stream (`hello`, `entry`, `feed`, `reset`).
 * @typedef {object} LiveEvent
 * @property {"hello" | "entry" | "feed" | "reset" | "readers"} type
 * @property {number} rev (none on `readers`: not a change)
 * @property {number} [count] `readers`: live readers of the feed, every process
 * @property {"created" | "updated" | "deleted"} [op]
 * @property {Entry} [entry]
 * @property {Feed} [feed]
 */

/** Where an entry sorts: publication instant (epoch ms), then id. @typedef {{ts: number, id: number}} SortKey */

/**
 * True when `a` sorts before `b` (is newer).
 * @param {SortKey} a
 * @param {SortKey} b
 */
export function isNewer(a, b) {
  return a.ts !== b.ts ? a.ts > b.ts : a.id > b.id;
}

/** @param {Entry} e @returns {SortKey} */
export function sortKey(e) {
  return { ts: Date.parse(e.published_at), id: e.id };
}

/**
 * Newest-first copy of `entries`, without deleted ones.
 * @template {Entry} T
 * @param {Iterable<T>} entries
 * @returns {T[]}
 */
export function newestFirst(entries) {
  return Array.from(entries)
    .filter((e) => !e.deleted)
    .sort((a, b) => (isNewer(sortKey(a), sortKey(b)) ? -1 : 1));
}

/**
 * How an event relates to the rev a client holds.
 *
 * - `reset`: always `reload` — the server could not serve the client's `since` (ahead of the
 *   feed after a database restore, or too far behind), whatever the client's rev;
 * - an event whose rev is not above the client's is `stale` (already applied: sources overlap);
 * - anything else is `apply`; `hello` and unknown types are `ignore`.
 * @param {LiveEvent} ev
 * @param {number} rev
 * @returns {"reload" | "stale" | "apply" | "ignore"}
 */
export function classify(ev, rev) {
  if (!ev || typeof ev !== "object") return "ignore";
  if (ev.type === "reset") return "reload";
  if (ev.type !== "entry" && ev.type !== "feed") return "ignore";
  if (typeof ev.rev !== "number") return "ignore";
  return ev.rev <= rev ? "stale" : "apply";
}

/**
 * One link of the key-event list.
 * @typedef {object} KeyEvent
 * @property {number} id
 * @property {number} ts epoch ms of publication
 * @property {boolean} hasTime
 * @property {string} headline
 */

/**
 * The feed's key events, newest first, at most `limit` (the server's `KEY_EVENT_LINKS`).
 * Seeded with the whole feed's list as the server rendered it (not just the entries on the
 * page), then kept current by live entry events: an entry that is (still) a key event is added
 * or updated, one that stopped being one or was deleted is removed. Entries the page never
 * loaded keep their place. (One the server would list after a removal from a full list is not
 * known here until the next reload: the list is then one shorter than the server's.)
 */
export class KeyEvents {
  /** @param {KeyEvent[]} seed @param {number} [limit] */
  constructor(seed, limit = Infinity) {
    /** @type {Map<number, KeyEvent>} */
    this.byId = new Map(seed.map((k) => [k.id, k]));
    this.limit = limit;
  }

  /**
   * Follow one entry change; returns whether the list changed.
   * @param {Entry} entry
   * @param {(e: Entry) => string} headlineOf
   */
  apply(entry, headlineOf) {
    if (entry.deleted || !entry.key_event) return this.byId.delete(entry.id);
    const next = {
      id: entry.id,
      ts: Date.parse(entry.published_at),
      hasTime: entry.has_time !== false,
      headline: headlineOf(entry),
    };
    const known = this.byId.get(entry.id);
    this.byId.set(entry.id, next);
    return (
      !known ||
      known.ts !== next.ts ||
      known.hasTime !== next.hasTime ||
      known.headline !== next.headline
    );
  }

  /** @param {number} id */
  remove(id) {
    return this.byId.delete(id);
  }

  /** @returns {KeyEvent[]} newest first */
  list() {
    const all = Array.from(this.byId.values()).sort((a, b) => (isNewer(a, b) ? -1 : 1));
    return all.slice(0, this.limit);
  }
}
