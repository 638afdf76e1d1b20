// @ts-check
/**
 * Reader-facing text rules shared by the reader, the embed and the studio. Pure: no DOM.
 *
 * Each rule mirrors its server twin in `app/timeline.py`, and `web/tests/format.test.js` checks
 * it against cases the server itself produced (`tests/fixtures/js/format.json`, written by
 * `tests/unit/test_js_fixtures.py`), so the two cannot drift:
 *
 * - a day heading is the CLDR `dayPattern` applied with Babel's names, first letter upper-cased
 *   (`day_heading`); a clock time is `timePattern` (`clock_time`);
 * - plural messages pick their form with the locale's CLDR plural rule (`plural`);
 * - a headline is the entry's visible text cut at a word boundary (`headline`).
 */

/** Code points a headline keeps before it is cut (`app.timeline.HEADLINE_CHARS`). */
export const HEADLINE_CHARS = 110;

/**
 * What `app.timeline.client_locale` hands the browser.
 * @typedef {object} LocaleConfig
 * @property {string} locale BCP 47 tag, e.g. `fr-FR`
 * @property {string} timezone IANA zone of the feed
 * @property {string} dayPattern CLDR pattern of a day heading
 * @property {string} timePattern CLDR pattern of a clock time
 * @property {{wide: string[], abbreviated: string[]}} weekdays Monday first
 * @property {{wide: string[], abbreviated: string[]}} months January first
 * @property {[string, string]} dayPeriods AM, PM
 * @property {Record<string, string | Record<string, string>>} strings UI strings; plural
 *   messages are `{one: "...{n}...", other: "..."}`
 */

/**
 * Wall-clock fields of an instant in a zone. `wd` counts from Monday = 0, as Babel does.
 * @typedef {{y: number, M: number, d: number, H: number, m: number, s: number, wd: number}} Fields
 */

/** @param {number} n @param {number} width */
function pad(n, width) {
  return String(n).padStart(width, "0");
}

/** Formats instants exactly like the server's Babel output for one feed's locale and zone. */
export class Formatter {
  /** @param {LocaleConfig} cfg */
  constructor(cfg) {
    this.cfg = cfg;
    this.dtf = new Intl.DateTimeFormat("en-US", {
      timeZone: cfg.timezone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
    });
  }

  /**
   * Wall-clock fields of `date` in the feed's time zone.
   * @param {Date} date
   * @returns {Fields}
   */
  fields(date) {
    /** @type {Record<string, number>} */
    const out = {};
    for (const part of this.dtf.formatToParts(date)) {
      if (part.type !== "literal") out[part.type] = parseInt(part.value, 10);
    }
    const y = out.year;
    const M = out.month;
    const d = out.day;
    const wd = (new Date(Date.UTC(y, M - 1, d)).getUTCDay() + 6) % 7;
    return { y, M, d, H: out.hour % 24, m: out.minute, s: out.second, wd };
  }

  /**
   * Apply a CLDR date/time pattern (the subset Babel's day and short time patterns use).
   * @param {string} pattern
   * @param {Fields} f
   */
  pattern(pattern, f) {
    const c = this.cfg;
    let out = "";
    let i = 0;
    while (i < pattern.length) {
      const ch = pattern.charAt(i);
      if (ch === "'") {
        if (pattern.charAt(i + 1) === "'") {
          out += "'";
          i += 2;
          continue;
        }
        let j = i + 1;
        while (j < pattern.length) {
          if (pattern.charAt(j) === "'") {
            if (pattern.charAt(j + 1) === "'") {
              out += "'";
              j += 2;
              continue;
            }
            break;
          }
          out += pattern.charAt(j);
          j += 1;
        }
        i = j + 1;
        continue;
      }
      if (!/[A-Za-z]/.test(ch)) {
        out += ch;
        i += 1;
        continue;
      }
      let n = 1;
      while (pattern.charAt(i + n) === ch) n += 1;
      i += n;
      const h12 = f.H % 12 === 0 ? 12 : f.H % 12;
      switch (ch) {
        case "E":
        case "c":
        case "e":
          if (n >= 4) out += n === 5 ? c.weekdays.wide[f.wd].charAt(0) : c.weekdays.wide[f.wd];
          else out += c.weekdays.abbreviated[f.wd];
          break;
        case "d":
          out += pad(f.d, n);
          break;
        case "M":
        case "L":
          if (n >= 4) out += c.months.wide[f.M - 1];
          else if (n === 3) out += c.months.abbreviated[f.M - 1];
          else out += pad(f.M, n);
          break;
        case "y":
          out += n === 2 ? pad(f.y % 100, 2) : pad(f.y, n);
          break;
        case "H":
          out += pad(f.H, n);
          break;
        case "k":
          out += pad(f.H === 0 ? 24 : f.H, n);
          break;
        case "h":
          out += pad(h12, n);
          break;
        case "K":
          out += pad(f.H % 12, n);
          break;
        case "m":
          out += pad(f.m, n);
          break;
        case "s":
          out += pad(f.s, n);
          break;
        case "a":
        case "b":
        case "B":
          out += c.dayPeriods[f.H < 12 ? 0 : 1];
          break;
        default:
          break;
      }
    }
    return out;
  }

  /** `YYYY-MM-DD` of the local day (the `data-day` of sections and entries). @param {Fields} f */
  dayKey(f) {
    return `${pad(f.y, 4)}-${pad(f.M, 2)}-${pad(f.d, 2)}`;
  }

  /** The day heading, e.g. `Jeudi 24 juin` (`app.timeline.day_heading`). @param {Fields} f */
  heading(f) {
    const s = this.pattern(this.cfg.dayPattern, f);
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /** The clock time, e.g. `17:42` (`app.timeline.clock_time`). @param {Fields} f */
  time(f) {
    return this.pattern(this.cfg.timePattern, f);
  }

  /**
   * An edited entry's mark, e.g. `mis à jour à 14:32` (`app.timeline.entry_view`): the
   * `updated` string with the clock time of the edit.
   * @param {Fields} f
   */
  updated(f) {
    const words = this.cfg.strings.updated;
    return (typeof words === "string" ? words : "{time}").replace("{time}", this.time(f));
  }

  /**
   * What a key-event link shows as its time: the clock time, or the day heading for an entry
   * without one (`app.timeline.build_timeline`).
   * @param {number} ts epoch milliseconds
   * @param {boolean} hasTime
   */
  when(ts, hasTime) {
    const f = this.fields(new Date(ts));
    return hasTime ? this.time(f) : this.heading(f);
  }
}

/**
 * A plural message with `{n}` filled in (`app.timeline.plural`).
 * @param {LocaleConfig} cfg
 * @param {string} key
 * @param {number} n
 * @param {string} [shown] how the count is written (default: plain digits)
 */
export function plural(cfg, key, n, shown = String(n)) {
  const forms = /** @type {Record<string, string>} */ (cfg.strings[key]);
  let form = "other";
  try {
    form = new Intl.PluralRules(cfg.locale).select(n);
  } catch {
    form = n === 1 ? "one" : "other";
  }
  return (forms[form] || forms.other).replace("{n}", shown);
}

/** @type {Record<string, string>} */
const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/**
 * Decode the character references a sanitizer emits (numeric, and the few named ones).
 * @param {string} text
 */
function unescapeHtml(text) {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref) => {
    if (ref.charAt(0) === "#") {
      const hex = ref.charAt(1) === "x" || ref.charAt(1) === "X";
      const code = parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

/** Whitespace as Python's `re` `\s` and `str.strip()` see it (JS `\s` differs: U+FEFF). */
const WS = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACE = new RegExp(`[${WS}]+`, "g");
const EDGE_SPACE = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");

/**
 * Visible text of sanitized entry HTML, whitespace collapsed (`app.timeline.plain_text`).
 * @param {string} html
 */
export function plainText(html) {
  return unescapeHtml(html.replace(/<[^>]+>/g, " ")).replace(SPACE, " ").replace(/^ | $/g, "");
}

/** Where an entry's media begins in its HTML (`app.media.html.MEDIA_START`). */
const MEDIA_START = /<(?:figure|p) class="lf-media/;

/**
 * An entry's HTML without its media: what its headline is taken from
 * (`app.media.html.without_media`).
 * @param {string} html
 */
export function withoutMedia(html) {
  const found = MEDIA_START.exec(html);
  return found ? html.slice(0, found.index) : html;
}

/** Characters stripped from the end of a cut headline (`rstrip(",;:.–—- ")`). */
const HEADLINE_TAIL = /[,;:.\u2013\u2014\- ]+$/;

/**
 * An entry's headline: its text up to `limit` code points, cut at the last space and trimmed
 * of trailing punctuation, with an ellipsis (`app.timeline.headline`).
 * @param {string} html the sanitized HTML of the entry
 * @param {string} [body] its Markdown source, used when the HTML has no text
 * @param {number} [limit]
 */
export function headline(html, body = "", limit = HEADLINE_CHARS) {
  const text = plainText(withoutMedia(html)) || body.replace(EDGE_SPACE, "");
  const chars = Array.from(text);
  if (chars.length <= limit) return text;
  let cut = chars.slice(0, limit).join("");
  const space = cut.lastIndexOf(" ");
  if (space >= 0) cut = cut.slice(0, space);
  return cut.replace(HEADLINE_TAIL, "") + "\u2026";
}
