"""Reader pages: ``/`` (feed list), ``/feeds/{slug}`` (live timeline), its Atom feed, ``/static``.

Pages are rendered once per (feed, rev, page parameters) and kept in a small per-app LRU
cache; each response carries a weak ``ETag`` naming that key plus the asset version, and a
matching ``If-None-Match`` gets ``304``. Because every change to a feed takes a new ``rev``,
a cached page is never stale for its rev.

A feed's current rev comes from :mod:`app.watched` (kept current by the hub), so a view of
a cached page needs no database read; :class:`CachedPages` answers those before routing.

``render_timeline_page`` is the shared path for anything that shows a feed's timeline
(the reader page here; the chrome-less embed reuses it with its own template).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from app import timeline, watched
from app.api.deps import SettingsDep, StoreDep
from app.live import close_codes
from app.schemas import Entry, Feed
from app.state import AppState
from app.store import InvalidCursor, Store

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

DEFAULT_LIMIT = 30
MAX_LIMIT = 100
ATOM_ENTRIES = 50
CACHE_SIZE = 512

HTML_TYPE = "text/html; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

# Inline <script type="application/json|ld+json"> blocks are data, not scripts: CSP allows
# them. Entry HTML is sanitized server-side; images may come from anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "media-src 'self' https:; connect-src 'self'; frame-src https:; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)

router = APIRouter(include_in_schema=False)


# -- assets and templates ----------------------------------------------------------------------


@cache
def asset_version() -> str:
    """Digest of the static files and templates: busts browser caches and ETags on deploy."""
    digest = hashlib.sha256()
    for folder in (STATIC_DIR, TEMPLATES_DIR):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(WEB_DIR).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={asset_version()}"


@cache
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["static_url"] = static_url
    env.globals["default_limit"] = DEFAULT_LIMIT
    env.globals["livefeed_config"] = Markup(livefeed_config_json())
    return env


def livefeed_config_json() -> str:
    """What every page hands its live client in ``<script type="application/json"
    id="livefeed-config">``: the close-code table (:mod:`app.live.close_codes`)."""
    return timeline.script_json({"close_codes": close_codes.client_table()})


class StaticAssets(StaticFiles):
    """``/static``: versioned URLs (``?v=``) are immutable; bare ones revalidate soon."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
            )
        return response


def static_app() -> StaticAssets:
    """Mount at ``/static`` (``app.mount("/static", pages.static_app(), name="static")``)."""
    return StaticAssets(directory=STATIC_DIR)


# -- caching -----------------------------------------------------------------------------------

CacheKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered response: body plus the exact raw headers of its 200 and its 304."""

    body: bytes
    etag: bytes
    headers: list[tuple[bytes, bytes]]  # for the 200, without Content-Length
    not_modified_headers: list[tuple[bytes, bytes]]


class PageCache:
    """Bounded LRU of rendered pages keyed by (kind, slug, rev, page parameters)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[CacheKey, CachedPage] = OrderedDict()

    def get(self, key: CacheKey) -> CachedPage | None:
        page = self._items.get(key)
        if page is not None:
            self._items.move_to_end(key)
        return page

    def put(self, key: CacheKey, page: CachedPage) -> None:
        self._items[key] = page
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


async def current_feed(request: Request, store: Store, slug: str) -> Feed | None:
    """The feed at its current rev, from the hub-kept copy when there is one."""
    state: AppState | None = getattr(request.app.state, "livefeed", None)
    if state is None:
        return await store.get_feed(slug)
    return await watched.current_feed(state, slug)


def page_cache(request: Request) -> PageCache:
    """One cache per app (not per process): apps in one process may serve other databases."""
    state = request.app.state
    cached: PageCache | None = getattr(state, "page_cache", None)
    if cached is None:
        cached = PageCache()
        state.page_cache = cached
    return cached


def etag_for(key: CacheKey) -> str:
    raw = "|".join(str(part) for part in key) + "|" + asset_version()
    return 'W/"' + hashlib.blake2s(raw.encode(), digest_size=12).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag.removeprefix("W/") in tags


def _headers(etag: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    headers.update(extra or {})
    return headers


async def cached_response(
    request: Request,
    key: CacheKey,
    media_type: str,
    build: Callable[[], Any],
    headers: dict[str, str] | None = None,
) -> Response:
    """304 on a matching ``If-None-Match``; else the cached body, else ``await build()``.

    ``build`` returns ``(body, cacheable)``; a body built from data that moved on while it
    was read (``cacheable`` false) is served but not kept.
    """
    etag = etag_for(key)
    all_headers = _headers(etag, headers)
    if not_modified(request, etag):
        return Response(status_code=304, headers=all_headers)
    store = page_cache(request)
    cached = store.get(key)
    if cached is not None:
        return Response(cached.body, media_type=media_type, headers=all_headers)
    body, cacheable = await build()
    response = Response(body, media_type=media_type, headers=all_headers)
    if cacheable:
        raw = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        store.put(key, CachedPage(body, etag.encode(), raw, _headers_304(all_headers)))
    return response


def _headers_304(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


class CachedPages:
    """Pure ASGI, outermost: a view of a watched feed's first page whose render for the
    current rev is cached is answered here — 200 with the cached bytes, or 304 — with no
    routing, no dependencies and no database. Everything else goes on to the app.

    Such hits are counted in ``/metrics`` like any request, but not access-logged: at
    thousands of views a second the log line would cost more than the answer.
    """

    PREFIX = "/feeds/"

    def __init__(
        self, app: ASGIApp, state: Any, on_hit: Callable[[int], None] | None = None
    ) -> None:
        self.app = app
        self.state = state  # the app's Starlette State: page_cache, livefeed
        self.on_hit = on_hit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hit = self._lookup(scope) if scope["type"] == "http" else None
        if hit is None:
            await self.app(scope, receive, send)
            return
        page, fresh = hit
        if fresh:
            await send(
                {"type": "http.response.start", "status": 304, "headers": page.not_modified_headers}
            )
            await send({"type": "http.response.body", "body": b""})
        else:
            headers = [*page.headers, (b"content-length", b"%d" % len(page.body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            body = b"" if scope["method"] == "HEAD" else page.body
            await send({"type": "http.response.body", "body": body})
        if self.on_hit is not None:
            self.on_hit(304 if fresh else 200)

    def _lookup(self, scope: Scope) -> tuple[CachedPage, bool] | None:
        path: str = scope["path"]
        if (
            scope["method"] not in ("GET", "HEAD")
            or scope["query_string"]
            or not path.startswith(self.PREFIX)
        ):
            return None
        slug = path[len(self.PREFIX) :]
        app_state: AppState | None = getattr(self.state, "livefeed", None)
        watcher = app_state.watched_feeds.get(slug) if app_state is not None else None
        if watcher is None:
            return None
        cache: PageCache | None = getattr(self.state, "page_cache", None)
        if cache is None:
            return None
        watcher.used = time.monotonic()
        page = cache.get(("feed.html", slug, watcher.rev, None, DEFAULT_LIMIT, ()))
        if page is None:
            return None
        fresh = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                tags = {t.strip().removeprefix(b"W/") for t in value.split(b",")}
                fresh = page.etag.removeprefix(b"W/") in tags or value.strip() == b"*"
                break
        return page, fresh


def not_found_page(message: str) -> HTMLResponse:
    html = templates().get_template("not_found.html").render(message=message)
    return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-cache"})


# -- rendering ---------------------------------------------------------------------------------


async def render_timeline_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    slug: str,
    *,
    template: str,
    before: int | None = None,
    limit: int = DEFAULT_LIMIT,
    context: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A page showing one page of ``slug``'s timeline through ``template`` (gets ``tl``,
    ``url``, ``json_ld`` and ``context``); 404 page for an unknown feed or cursor."""
    feed = await current_feed(request, store, slug)
    if feed is None:
        return not_found_page(f"No live blog called “{slug}”.")
    extra = context or {}
    key: CacheKey = (template, slug, feed.rev, before, limit, tuple(sorted(extra.items())))

    async def build() -> tuple[bytes, bool]:
        nonlocal feed
        assert feed is not None
        try:
            page = await store.list_entries(slug, limit=limit, before=before)
        except InvalidCursor:
            raise _NotFoundError(f"No such page of “{feed.title}”.") from None
        if page.rev != feed.rev:
            # A change landed between the two reads: render coherent data, don't cache it.
            feed = await store.get_feed(slug) or feed
        pinned, key_events = await store.highlights(slug) if before is None else (None, None)
        tl = timeline.build_timeline(
            feed,
            page.entries,
            rev=page.rev,
            next_before=page.next_before,
            before=before,
            limit=limit,
            pinned_entry=pinned,
            key_event_entries=key_events,
        )
        url = timeline.feed_url(settings.public_url, slug)
        ld = timeline.script_json(timeline.json_ld(feed, page.entries, settings.public_url))
        html = templates().get_template(template).render(tl=tl, url=url, json_ld=ld, **extra)
        return html.encode(), page.rev == feed.rev == key[2]

    try:
        return await cached_response(
            request, key, HTML_TYPE, build, {"Content-Security-Policy": CSP, **(headers or {})}
        )
    except _NotFoundError as exc:
        return not_found_page(str(exc))


class _NotFoundError(Exception):
    pass


# -- routes ------------------------------------------------------------------------------------


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def feed_list(request: Request, store: StoreDep) -> Response:
    """Every feed, live ones first, most recently updated first within each group."""
    feeds = sorted(
        await store.list_feeds(),
        key=lambda f: (f.status != "live", -f.updated_at.timestamp()),
    )
    key: CacheKey = ("index", *((f.slug, f.rev) for f in feeds))

    async def build() -> tuple[bytes, bool]:
        html = (
            templates()
            .get_template("index.html")
            .render(feeds=[_feed_card(f) for f in feeds], s=timeline.strings("en"))
        )
        return html.encode(), True

    return await cached_response(request, key, HTML_TYPE, build, {"Content-Security-Policy": CSP})


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
    store: StoreDep,
    settings: SettingsDep,
    before: int | None = Query(None, ge=1, description="Show entries older than this id"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    return await render_timeline_page(
        request, store, settings, slug, template="feed.html", before=before, limit=limit
    )


@router.api_route("/feeds/{slug}/atom.xml", methods=["GET", "HEAD"])
async def atom(request: Request, slug: str, store: StoreDep, settings: SettingsDep) -> Response:
    feed = await current_feed(request, store, slug)
    if feed is None:
        return not_found_page(f"No live blog called “{slug}”.")
    found: Feed = feed
    key: CacheKey = ("atom", slug, feed.rev)

    async def build() -> tuple[bytes, bool]:
        page = await store.list_entries(slug, limit=ATOM_ENTRIES)
        entries: Sequence[Entry] = page.entries
        return timeline.atom_feed(found, entries, settings.public_url), page.rev == found.rev

    return await cached_response(request, key, ATOM_TYPE, build)
