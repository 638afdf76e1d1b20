"""Rendered pages kept per (page, feed, rev, parameters), conditional requests, and the ASGI
fast path that answers cached reader pages before routing.

Contracts:

* Every cache key is built here (:func:`timeline_key`, :func:`index_key`, :func:`atom_key`,
  :func:`entry_key`).
  A key names the feed's ``rev``; every change to a feed takes a new rev, so a cached page is
  never stale for its key, and a rendered page is kept only when the data it was built from
  is the data the key names.
* Each cached response carries a weak ``ETag`` derived from its key and the asset version;
  a matching ``If-None-Match`` gets ``304``.
* :class:`CachedPages` answers ``GET``/``HEAD /feeds/{slug}`` (no query) of a watched feed
  whose first page is cached for the watched rev — 200 with the cached bytes or 304 — with
  no routing, dependencies or database. It looks the page up with the same
  :func:`timeline_key` the reader route stores it under.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.schemas import Feed
from app.state import AppState
from app.templating import asset_version
from app.timeline import DEFAULT_LIMIT

CACHE_SIZE = 512
#: The reader page's template; the fast path serves its first page at the default size.
READER_TEMPLATE = "feed.html"

CacheKey = tuple[Any, ...]


def timeline_key(
    template: str,
    slug: str,
    rev: int,
    *,
    before: int | None = None,
    limit: int = DEFAULT_LIMIT,
    context: Mapping[str, Any] | None = None,
) -> CacheKey:
    """One page of a feed's timeline rendered through ``template`` at ``rev``."""
    return (template, slug, rev, before, limit, tuple(sorted((context or {}).items())))


def index_key(feeds: Iterable[Feed]) -> CacheKey:
    """The feed list, for these feeds (in display order) at their revs."""
    return ("index", *((f.slug, f.rev) for f in feeds))


def atom_key(slug: str, rev: int) -> CacheKey:
    return ("atom", slug, rev)


def entry_key(slug: str, rev: int, entry_id: int) -> CacheKey:
    """One update's own page, rendered while its feed was at ``rev``."""
    return ("entry", slug, rev, entry_id)


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered response: body plus the exact raw headers of its 200 and its 304."""

    body: bytes
    etag: bytes
    headers: list[tuple[bytes, bytes]]  # for the 200, without Content-Length
    not_modified_headers: list[tuple[bytes, bytes]]


class PageCache:
    """Bounded LRU of rendered pages."""

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


def cache_for(request: Request) -> PageCache:
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


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison) or is ``*``."""
    if if_none_match.strip() == b"*":
        return True
    tags = {t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")}
    return etag.removeprefix(b"W/") in tags


def not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    return etag_matches(header.encode("latin-1"), etag.encode("latin-1"))


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
    build: Callable[[], Awaitable[tuple[bytes, bool]]],
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
    cache = cache_for(request)
    cached = cache.get(key)
    if cached is not None:
        return Response(cached.body, media_type=media_type, headers=all_headers)
    body, cacheable = await build()
    response = Response(body, media_type=media_type, headers=all_headers)
    if cacheable:
        raw = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        cache.put(key, CachedPage(body, etag.encode(), raw, _headers_304(all_headers)))
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
        # Both are set once the app has started; before that, every request goes on.
        app_state: AppState | None = getattr(self.state, "livefeed", None)
        watcher = app_state.watched.get(slug) if app_state is not None else None
        if watcher is None:
            return None
        cache: PageCache | None = getattr(self.state, "page_cache", None)
        if cache is None:
            return None
        watcher.used = time.monotonic()
        page = cache.get(timeline_key(READER_TEMPLATE, slug, watcher.rev))
        if page is None:
            return None
        fresh = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                fresh = etag_matches(value, page.etag)
                break
        return page, fresh
