"""Reader pages: ``/`` (feed list), ``/feeds/{slug}`` (live timeline) and its Atom feed.

Pages are rendered once per cache key (:mod:`app.page_cache`: feed, rev, page parameters)
and answered from the cache after that, with ``ETag``/``304``. A feed's current rev comes
from :mod:`app.watched` (kept current by the hub), so a view of a cached page needs no
database read.

``render_timeline_page`` is the shared path for anything that shows a feed's timeline
(the reader page here; the chrome-less embed reuses it with its own template).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app import page_cache, timeline
from app.deps import SettingsDep, StateDep, StoreDep
from app.media.storage import media_csp
from app.page_cache import READER_TEMPLATE, cached_response
from app.schemas import MAX_ID, Entry, Feed
from app.state import AppState
from app.store import InvalidCursor, NotFound
from app.templating import (
    CSP,
    HTML_TYPE,
    frame_ancestors,
    not_found_page,
    reader_language_page,
    templates,
    unknown_feed_page,
)
from app.text import strip_forbidden
from app.timeline import DEFAULT_LIMIT, MAX_LIMIT
from app.watched import current_feed

ATOM_ENTRIES = 50
ATOM_TYPE = "application/atom+xml; charset=utf-8"

router = APIRouter(include_in_schema=False)


async def render_timeline_page(
    request: Request,
    state: AppState,
    slug: str,
    *,
    template: str,
    before: int | None = None,
    around: int | None = None,
    after: int | None = None,
    limit: int = DEFAULT_LIMIT,
    context: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A page showing one page of ``slug``'s timeline through ``template`` (gets ``tl``,
    ``url``, ``json_ld`` and ``context``); 404 page for an unknown feed or cursor.

    At most one cursor: ``before`` (older than that entry), ``around`` (that entry and older:
    a deep link's page) or ``after`` (the entries just newer than that one); see
    :meth:`app.store.Store.list_entries`."""
    cursors = [c for c in (before, around, after) if c is not None]
    if len(cursors) > 1:
        return reader_language_page(request, "one_cursor")
    first_page = not cursors
    store = state.store
    feed = await current_feed(state, slug)
    if feed is None:
        return unknown_feed_page(request, slug)
    extra = context or {}
    key_rev = feed.rev
    key = page_cache.timeline_key(
        template,
        slug,
        key_rev,
        before=before,
        limit=limit,
        context={**extra, "around": around, "after": after} if not first_page else extra,
    )

    async def build() -> tuple[bytes, bool]:
        nonlocal feed
        assert feed is not None
        try:
            page = await store.list_entries(
                slug, limit=limit, before=before, around=around, after=after
            )
        except InvalidCursor:
            no_page = timeline.strings(feed.locale)["no_such_page"]
            raise _NotFoundError(no_page.format(feed=feed.title)) from None
        if page.rev != feed.rev:
            # A change landed between the two reads: render coherent data, don't cache it.
            feed = await store.get_feed(slug) or feed
        pinned, key_events = (
            await store.highlights(slug, key_events=timeline.KEY_EVENT_LINKS)
            if first_page
            else (None, None)
        )
        tl = timeline.build_timeline(
            feed,
            page.entries,
            rev=page.rev,
            next_before=page.next_before,
            before=before,
            limit=limit,
            pinned_entry=pinned,
            key_event_entries=key_events,
            first_page=first_page,
            newer_after=page.newer_after,
        )
        public_url = state.settings.public_url
        url = timeline.feed_url(public_url, slug)
        ld = timeline.script_json(timeline.json_ld(feed, page.entries, public_url))
        image = timeline.og_image(page.entries, public_url)
        html = (
            templates()
            .get_template(template)
            .render(tl=tl, url=url, json_ld=ld, og_image=image, **extra)
        )
        # Text stored before control characters were refused must not break the page.
        return strip_forbidden(html).encode(), page.rev == feed.rev == key_rev

    page_headers = {"Content-Security-Policy": f"{CSP}; {frame_ancestors(feed)}", **(headers or {})}
    page_headers["Content-Security-Policy"] = media_csp(
        page_headers["Content-Security-Policy"], state.settings
    )
    try:
        return await cached_response(request, key, HTML_TYPE, build, page_headers)
    except _NotFoundError as exc:
        return not_found_page(str(exc), feed.locale)


class _NotFoundError(Exception):
    pass


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def feed_list(request: Request, store: StoreDep) -> Response:
    """Every feed, live ones first, most recently updated first within each group."""
    feeds = sorted(
        await store.list_feeds(),
        key=lambda f: (f.status != "live", -f.updated_at.timestamp()),
    )

    async def build() -> tuple[bytes, bool]:
        html = (
            templates()
            .get_template("index.html")
            .render(feeds=[_feed_card(f) for f in feeds], s=timeline.strings("en"))
        )
        return html.encode(), True

    return await cached_response(
        request, page_cache.index_key(feeds), HTML_TYPE, build, {"Content-Security-Policy": CSP}
    )


def _feed_card(feed: Feed) -> dict[str, Any]:
    zone = timeline.feed_zone(feed.timezone)
    updated: datetime = feed.updated_at.astimezone(zone)
    label = (
        timeline.day_heading(updated.date(), feed.locale)
        + " · "
        + timeline.clock_time(updated, zone, feed.locale)
    )
    return {
        "slug": feed.slug,
        "title": feed.title,
        "description": feed.description,
        "status": feed.status,
        "lang": timeline.html_lang(feed.locale),
        "s": timeline.strings(feed.locale),
        "updated_iso": updated.isoformat(timespec="seconds"),
        "updated_label": label,
    }


@router.api_route("/feeds/{slug}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def reader_page(
    request: Request,
    slug: str,
    state: StateDep,
    before: int | None = Query(
        None, ge=1, le=MAX_ID, description="Show entries older than this id"
    ),
    around: int | None = Query(
        None, ge=1, le=MAX_ID, description="Open the timeline at this entry (it and older)"
    ),
    after: int | None = Query(
        None, ge=1, le=MAX_ID, description="Show the entries just newer than this id"
    ),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    return await render_timeline_page(
        request,
        state,
        slug,
        template=READER_TEMPLATE,
        before=before,
        around=around,
        after=after,
        limit=limit,
    )


@router.api_route(
    "/feeds/{slug}/entries/{entry_id}", methods=["GET", "HEAD"], response_class=HTMLResponse
)
async def entry_page(request: Request, slug: str, entry_id: str, state: StateDep) -> Response:
    """One update's own page (cached per feed rev); 410 page linking to the feed for a
    deleted update, 404 page for an unknown feed or update."""
    feed = await current_feed(state, slug)
    if feed is None:
        return unknown_feed_page(request, slug)
    found: Feed = feed
    number = int(entry_id) if entry_id.isascii() and entry_id.isdigit() else 0
    no_update = timeline.strings(found.locale)["no_such_update"]
    if not 0 < number <= MAX_ID:
        return not_found_page(no_update.format(id=entry_id, feed=found.title), found.locale)

    async def build() -> tuple[bytes, bool]:
        try:
            entry = await state.store.get_public_entry(slug, number)
        except NotFound:
            raise _NotFoundError(no_update.format(id=number, feed=found.title)) from None
        if entry.deleted:
            raise _GoneError
        view = timeline.entry_page(found, entry, state.settings.public_url)
        html = templates().get_template("entry.html").render(p=view)
        # The page shows the feed as of its key's rev: keep it only if the update did not
        # change after that rev.
        return strip_forbidden(html).encode(), entry.rev <= found.rev

    csp = media_csp(f"{CSP}; {frame_ancestors(found)}", state.settings)
    try:
        return await cached_response(
            request,
            page_cache.entry_key(slug, found.rev, number),
            HTML_TYPE,
            build,
            {"Content-Security-Policy": csp},
        )
    except _NotFoundError as exc:
        return not_found_page(str(exc), found.locale)
    except _GoneError:
        html = (
            templates()
            .get_template("gone.html")
            .render(
                feed=found,
                feed_path=f"/feeds/{slug}",
                lang=timeline.html_lang(found.locale),
                dir=timeline.text_direction(found.locale),
                s=timeline.strings(found.locale),
            )
        )
        return HTMLResponse(html, status_code=410, headers={"Cache-Control": "no-cache"})


class _GoneError(Exception):
    pass


@router.api_route("/feeds/{slug}/atom.xml", methods=["GET", "HEAD"])
async def atom(request: Request, slug: str, state: StateDep, settings: SettingsDep) -> Response:
    feed = await current_feed(state, slug)
    if feed is None:
        return unknown_feed_page(request, slug)
    found: Feed = feed

    async def build() -> tuple[bytes, bool]:
        page = await state.store.list_entries(slug, limit=ATOM_ENTRIES)
        entries: Sequence[Entry] = page.entries
        return timeline.atom_feed(found, entries, settings.public_url), page.rev == found.rev

    return await cached_response(request, page_cache.atom_key(slug, found.rev), ATOM_TYPE, build)
