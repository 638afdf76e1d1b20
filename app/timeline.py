"""Reader-facing presentation of a feed: day groups, localized headings and times, JSON-LD, Atom.

Everything here is pure (no I/O) so the page router can cache its output per feed ``rev``.

Contracts the browser code relies on (``web/static/livefeed.js``):

* A day heading is ``day_pattern`` (a CLDR pattern) applied to the entry's date in the feed's
  time zone with Babel's *format* names, then its first letter upper-cased. ``client_locale``
  hands the same pattern and names to the browser so a heading created live is byte-identical
  to a server-rendered one (the browser's ``Intl`` data differs from Babel's CLDR snapshot).
* A clock time is ``time_pattern`` applied the same way, and is never shown for an entry whose
  ``has_time`` is false (imported entries whose export had no clock times).
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, match_skeleton
from markupsafe import Markup

from app import i18n
from app.media.html import eager as eager_media
from app.media.html import without_media
from app.schemas import Entry, Feed, MediaItem
from app.text import strip_forbidden

ATOM_NS = "http://www.w3.org/2005/Atom"
DEFAULT_LOCALE = "en_GB"
HEADLINE_CHARS = 110
#: The key-event list shows the newest this many key events of the whole feed (the browser
#: keeps the same bound when it adds key events live).
KEY_EVENT_LINKS = 20
DEFAULT_LIMIT = 30  # entries on one page of a timeline, unless the reader asks for another size
MAX_LIMIT = 100  # the most a reader may ask for

# -- locale ------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale:
    """``fr-FR``/``fr_FR``/``fr`` → Babel locale; unknown tags fall back to ``en_GB``."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


@lru_cache(maxsize=64)
def feed_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _widen(pattern: str) -> str:
    """Spell weekday and month names out in full in a CLDR pattern (quoted text untouched)."""
    parts = re.split(r"('(?:[^']|'')*')", pattern)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"E+|c+", "EEEE", parts[i])
        parts[i] = re.sub(r"M{3,}", "MMMM", parts[i])
    return "".join(parts)


@lru_cache(maxsize=64)
def day_pattern(tag: str) -> str:
    """The locale's "weekday day month" pattern: ``EEEE d MMMM`` for fr and en-GB."""
    loc = babel_locale(tag)
    skeletons = loc.datetime_skeletons
    best = match_skeleton("MMMMEEEEd", list(skeletons.keys()))
    if best is None:
        return "EEEE d MMMM"
    return _widen(skeletons[best].pattern)


@lru_cache(maxsize=64)
def time_pattern(tag: str) -> str:
    return str(babel_locale(tag).time_formats["short"].pattern)


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def day_heading(day: date, tag: str) -> str:
    """``Jeudi 24 juin`` (fr-FR), ``Sunday 12 October`` (en-GB)."""
    return capitalize_first(format_date(day, day_pattern(tag), locale=babel_locale(tag)))


def clock_time(moment: datetime, zone: tzinfo, tag: str) -> str:
    return format_time(
        moment.astimezone(zone), time_pattern(tag), tzinfo=zone, locale=babel_locale(tag)
    )


# -- UI strings --------------------------------------------------------------------------------


def strings(tag: str) -> dict[str, Any]:
    """The UI strings in the language of ``tag`` (:func:`app.i18n.ui_strings`)."""
    return i18n.ui_strings(tag)


def text_direction(tag: str) -> str:
    """``rtl`` or ``ltr`` for the feed's language (the pages' ``dir``)."""
    return i18n.text_direction(tag)


def html_lang(tag: str) -> str:
    loc = babel_locale(tag)
    return f"{loc.language}-{loc.territory}" if loc.territory else loc.language


def client_locale(tag: str, zone_name: str) -> dict[str, Any]:
    """What the browser needs to format headings and times exactly like :func:`day_heading`."""
    loc = babel_locale(tag)
    days = loc.days["format"]
    months = loc.months["format"]
    periods = loc.day_periods["format"]["abbreviated"]
    return {
        "locale": html_lang(tag),
        "timezone": zone_name,
        "dayPattern": day_pattern(tag),
        "timePattern": time_pattern(tag),
        # Monday first, as Babel (and ISO) number weekdays.
        "weekdays": {
            "wide": [days["wide"][i] for i in range(7)],
            "abbreviated": [days["abbreviated"][i] for i in range(7)],
        },
        "months": {
            "wide": [months["wide"][i] for i in range(1, 13)],
            "abbreviated": [months["abbreviated"][i] for i in range(1, 13)],
        },
        "dayPeriods": [periods.get("am", "AM"), periods.get("pm", "PM")],
        "strings": strings(tag),
    }


# -- day grouping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    entry: Entry
    day: date
    time_label: str | None
    datetime_attr: str
    headline: str
    #: At the top of the page (above the fold): its images load at once, not lazily.
    eager: bool = False
    #: "updated 14:32" in the feed's language and zone, for an edited entry; else None.
    edited_label: str | None = None
    edited_attr: str = ""

    @property
    def body_html(self) -> Markup:
        """The entry's sanitized HTML, media included, for the template."""
        return eager_media(self.entry.html) if self.eager else Markup(self.entry.html)


@dataclass
class DayGroup:
    day: date
    heading: str
    entries: list[EntryView] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.day.isoformat()


_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


def plain_text(html_fragment: str) -> str:
    """Visible text of sanitized entry HTML, whitespace collapsed."""
    text = _TAG_RE.sub(" ", html_fragment)
    return _SPACE_RE.sub(" ", html_lib.unescape(text)).strip()


def headline(entry: Entry, limit: int = HEADLINE_CHARS) -> str:
    """The entry's text (captions and cards left out), cut to ``limit`` characters."""
    text = plain_text(without_media(entry.html)) or entry.body.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.–—- ")
    return cut + "…"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as the browser's ``Date`` counts (``data-ts``)."""
    return round(moment.timestamp() * 1000)


def entry_view(entry: Entry, zone: tzinfo, tag: str) -> EntryView:
    local = entry.published_at.astimezone(zone)
    if entry.has_time:
        label: str | None = clock_time(entry.published_at, zone, tag)
        attr = local.isoformat(timespec="seconds")
    else:
        label = None
        attr = local.date().isoformat()  # a valid <time datetime>, without an invented time
    edited_label, edited_attr = None, ""
    if entry.edited_at is not None:
        edited_label = strings(tag)["updated"].format(time=clock_time(entry.edited_at, zone, tag))
        edited_attr = entry.edited_at.astimezone(zone).isoformat(timespec="seconds")
    return EntryView(
        entry,
        local.date(),
        label,
        attr,
        headline(entry),
        edited_label=edited_label,
        edited_attr=edited_attr,
    )


def group_by_day(entries: Iterable[Entry], zone: tzinfo, tag: str) -> list[DayGroup]:
    """Consecutive grouping of newest-first entries by their local day, headings localized."""
    groups: list[DayGroup] = []
    for entry in entries:
        view = entry_view(entry, zone, tag)
        if not groups or groups[-1].day != view.day:
            groups.append(DayGroup(view.day, day_heading(view.day, tag)))
        groups[-1].entries.append(view)
    return groups


# -- JSON-LD and Atom --------------------------------------------------------------------------


def feed_url(public_url: str, slug: str) -> str:
    return f"{public_url.rstrip('/')}/feeds/{slug}"


def entry_path(slug: str, entry_id: int) -> str:
    """The rooted URL of an update's own page (``/feeds/{slug}/entries/{id}``)."""
    return f"/feeds/{slug}/entries/{entry_id}"


def entry_url(public_url: str, slug: str, entry_id: int) -> str:
    """The absolute URL of an update's own page: its permalink everywhere."""
    return public_url.rstrip("/") + entry_path(slug, entry_id)


def around_path(slug: str, entry_id: int) -> str:
    """The deep link that opens the timeline at an update, whichever page it is on."""
    return f"/feeds/{slug}?around={entry_id}#entry-{entry_id}"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def json_ld(feed: Feed, entries: Sequence[Entry], public_url: str) -> dict[str, Any]:
    """schema.org ``LiveBlogPosting`` for the feed with one ``BlogPosting`` per entry."""
    url = feed_url(public_url, feed.slug)
    updates = [blog_posting(entry, public_url) for entry in entries]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": url,
        "url": url,
        "headline": feed.title,
        "description": feed.description or feed.title,
        "inLanguage": html_lang(feed.locale),
        "datePublished": _iso(feed.created_at),
        "dateModified": _iso(feed.updated_at),
        "coverageStartTime": _iso(feed.started_at or feed.created_at),
        "liveBlogUpdate": updates,
    }
    if feed.status == "ended":
        data["coverageEndTime"] = _iso(feed.ended_at or feed.updated_at)
    return data


def blog_posting(entry: Entry, public_url: str) -> dict[str, Any]:
    """schema.org ``BlogPosting`` of one update; its ``url`` is the update's own page."""
    update: dict[str, Any] = {
        "@type": "BlogPosting",
        "@id": entry_url(public_url, entry.feed, entry.id),
        "headline": headline(entry),
        "articleBody": plain_text(entry.html),
        "datePublished": _iso(entry.published_at),
        "dateModified": _iso(entry.updated_at),
        "url": entry_url(public_url, entry.feed, entry.id),
    }
    if entry.author:
        update["author"] = {"@type": "Person", "name": entry.author}
    images = [absolute_url(m.url, public_url) for m in entry.media if m.kind == "image"]
    if images:
        update["image"] = images
    return update


def script_json(data: Any) -> str:
    """JSON safe to place inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def atom_feed(feed: Feed, entries: Sequence[Entry], public_url: str) -> bytes:
    """An Atom 1.0 document of ``entries`` (newest first); entry ids are stable tag-free URLs."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}", attrs)
        if text is not None:
            # Text stored before control characters were refused must not break the XML.
            el.text = strip_forbidden(text)
        return el

    url = feed_url(public_url, feed.slug)
    # xml:base resolves the rooted media URLs (/media/…) inside entry content.
    root = ET.Element(
        f"{{{ATOM_NS}}}feed", {"xml:lang": html_lang(feed.locale), "xml:base": f"{public_url}/"}
    )
    sub(root, "id", url)
    sub(root, "title", feed.title)
    if feed.description:
        sub(root, "subtitle", feed.description)
    newest = max([feed.updated_at, *(e.updated_at for e in entries)])
    sub(root, "updated", _iso(newest))
    sub(root, "link", rel="alternate", type="text/html", href=url)
    sub(root, "link", rel="self", type="application/atom+xml", href=f"{url}/atom.xml")
    sub(root, "generator", "livefeed")
    author = sub(root, "author")
    sub(author, "name", feed.title)
    for entry in entries:
        item = sub(root, "entry")
        sub(item, "id", f"{url}#entry-{entry.id}")
        sub(item, "title", headline(entry))
        link = entry_url(public_url, feed.slug, entry.id)
        sub(item, "link", rel="alternate", type="text/html", href=link)
        sub(item, "published", _iso(entry.published_at))
        sub(item, "updated", _iso(entry.updated_at))
        if entry.author:
            sub(sub(item, "author"), "name", entry.author)
        if entry.key_event:
            sub(item, "category", term="key-event")
        if entry.pinned:
            sub(item, "category", term="pinned")
        for media in entry.media:
            if media.kind == "image" and media.content_type:
                href = absolute_url(media.url, public_url)
                sub(item, "link", rel="enclosure", type=media.content_type, href=href)
        sub(item, "content", entry.html, type="html")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()


# -- the timeline as the templates see it ------------------------------------------------------


@dataclass(frozen=True)
class KeyEventLink:
    """One link of the key-event list; ``published_ms`` and ``has_time`` let the browser keep
    the list in order and format entries it adds the same way."""

    id: int
    when: str
    headline: str
    published_ms: int
    has_time: bool
    #: ``#entry-{id}`` when the update is on this page, else the deep link to it.
    href: str


@dataclass
class TimelineView:
    """Everything ``web/templates/_timeline.html`` renders; shared by the reader and embed pages."""

    feed: Feed
    groups: list[DayGroup]
    pinned: list[EntryView]
    key_events: list[KeyEventLink]
    rev: int
    before: int | None
    limit: int
    next_before: int | None
    live: bool
    lang: str
    s: dict[str, Any]
    config_json: str
    #: ``rtl`` for a right-to-left language, else ``ltr``.
    dir: str = "ltr"
    #: The feed's newest page (no cursor): the only one that follows the feed live.
    first_page: bool = True
    #: ``?after=`` cursor of the page above (``around``/``after`` pages with newer entries).
    newer_after: int | None = None

    @property
    def empty(self) -> bool:
        return not self.groups and not self.pinned

    def permalink(self, entry_id: int) -> str:
        """An update's permalink: its own page."""
        return entry_path(self.feed.slug, entry_id)


#: Entries at the top of a page whose images skip ``loading=lazy`` (likely above the fold).
EAGER_ENTRIES = 2


def _load_top_eagerly(pinned: list[EntryView], groups: list[DayGroup]) -> None:
    budget = EAGER_ENTRIES
    for views in (pinned, *(g.entries for g in groups)):
        for index, view in enumerate(views):
            if budget == 0:
                return
            views[index] = replace(view, eager=True)
            budget -= 1


def og_image(entries: Sequence[Entry], public_url: str) -> MediaItem | None:
    """The newest image among ``entries`` (newest first), with an absolute URL: the feed's
    OpenGraph image."""
    for entry in entries:
        for item in entry.media:
            if item.kind == "image":
                return item.model_copy(update={"url": absolute_url(item.url, public_url)})
    return None


def absolute_url(url: str, public_url: str) -> str:
    """``url`` made absolute against this server (media URLs may be rooted: ``/media/…``)."""
    return f"{public_url}{url}" if url.startswith("/") else url


def build_timeline(
    feed: Feed,
    entries: Sequence[Entry],
    *,
    rev: int,
    next_before: int | None,
    before: int | None,
    limit: int,
    pinned_entry: Entry | None = None,
    key_event_entries: Sequence[Entry] | None = None,
    first_page: bool | None = None,
    newer_after: int | None = None,
) -> TimelineView:
    """Lay out one page of newest-first ``entries``.

    On the first page (no cursor: ``first_page``, by default ``before is None``) pinned
    entries leave their day and sit on top; on other pages they stay in place. The page is
    live only when it is the first one and the feed has not ended; ``rev`` is what the
    browser resumes from. ``newer_after`` is the cursor of the page above, if any.
    """
    zone = feed_zone(feed.timezone)
    tag = feed.locale
    if first_page is None:
        first_page = before is None
    if first_page and pinned_entry is not None and all(e.id != pinned_entry.id for e in entries):
        entries = [pinned_entry, *entries]
    pinned = [entry_view(e, zone, tag) for e in entries if e.pinned and first_page]
    rest = [e for e in entries if not (e.pinned and first_page)]
    groups = group_by_day(rest, zone, tag)
    _load_top_eagerly(pinned, groups)
    on_page = {e.id for e in entries}
    key_sources = (
        [entry_view(e, zone, tag) for e in key_event_entries]
        if key_event_entries is not None
        else [*pinned, *(v for g in groups for v in g.entries)]
    )
    key_events = [
        KeyEventLink(
            v.entry.id,
            v.time_label or day_heading(v.day, tag),
            v.headline,
            epoch_ms(v.entry.published_at),
            v.entry.has_time,
            f"#entry-{v.entry.id}" if v.entry.id in on_page else around_path(feed.slug, v.entry.id),
        )
        for v in sorted(
            key_sources,
            key=lambda v: (v.entry.published_at, v.entry.id),
            reverse=True,
        )
        if v.entry.key_event
    ][:KEY_EVENT_LINKS]
    live = first_page and feed.status == "live"
    config = {
        "slug": feed.slug,
        "rev": rev,
        "status": feed.status,
        "live": live,
        "firstPage": first_page,
        "pageSize": limit,
        "nextBefore": next_before,
        "title": feed.title,
        "entryPath": entry_path(feed.slug, 0).removesuffix("0"),
        "aroundPath": f"/feeds/{feed.slug}?around=",
        "api": f"/api/feeds/{feed.slug}",
        "ws": f"/ws/feeds/{feed.slug}",
        "sse": f"/sse/feeds/{feed.slug}",
        "keyEventLinks": KEY_EVENT_LINKS,
        **client_locale(tag, feed.timezone),
    }
    return TimelineView(
        feed=feed,
        groups=groups,
        pinned=pinned,
        key_events=key_events,
        rev=rev,
        before=before,
        limit=limit,
        next_before=next_before,
        live=live,
        lang=html_lang(tag),
        s=strings(tag),
        config_json=script_json(config),
        dir=text_direction(tag),
        first_page=first_page,
        newer_after=newer_after,
    )


# -- one update's own page ---------------------------------------------------------------------

#: Characters of an update's text in its social card and meta description.
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class EntryPageView:
    """Everything ``web/templates/entry.html`` renders for one update."""

    feed: Feed
    view: EntryView
    day_heading: str
    headline: str
    excerpt: str
    url: str
    feed_url: str
    feed_path: str
    around_path: str
    image: MediaItem | None
    json_ld: str
    lang: str
    s: dict[str, Any]
    dir: str


def entry_page(feed: Feed, entry: Entry, public_url: str) -> EntryPageView:
    """One (not deleted) update's page: its card (text excerpt, its first image), canonical
    URL, JSON-LD (the feed's ``LiveBlogPosting`` holding this update's ``BlogPosting``)."""
    zone = feed_zone(feed.timezone)
    view = replace(entry_view(entry, zone, feed.locale), eager=True)
    text = plain_text(without_media(entry.html)) or entry.body.strip()
    return EntryPageView(
        feed=feed,
        view=view,
        day_heading=day_heading(view.day, feed.locale),
        headline=headline(entry),
        excerpt=headline(entry, EXCERPT_CHARS) if text else feed.title,
        url=entry_url(public_url, feed.slug, entry.id),
        feed_url=feed_url(public_url, feed.slug),
        feed_path=f"/feeds/{feed.slug}",
        around_path=around_path(feed.slug, entry.id),
        image=og_image([entry], public_url),
        json_ld=script_json(json_ld(feed, [entry], public_url)),
        lang=html_lang(feed.locale),
        s=strings(feed.locale),
        dir=text_direction(feed.locale),
    )
