"""``app/page_cache.py``: the cache key, the LRU, conditional requests and the ASGI fast path
— with a fake app state, no database and no server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fastapi import Request, Response
from starlette.types import Message, Receive, Scope, Send

from app import page_cache
from app.page_cache import (
    READER_TEMPLATE,
    CachedPage,
    CachedPages,
    PageCache,
    cached_response,
    etag_for,
    etag_matches,
    timeline_key,
)
from app.timeline import DEFAULT_LIMIT


def page(body: bytes = b"<html>page</html>", etag: bytes = b'W/"abc"') -> CachedPage:
    return CachedPage(
        body=body,
        etag=etag,
        headers=[(b"content-type", b"text/html; charset=utf-8"), (b"etag", etag)],
        not_modified_headers=[(b"etag", etag)],
    )


# -- the key -----------------------------------------------------------------------------------


def test_timeline_key_names_every_parameter_of_the_page() -> None:
    base = timeline_key("feed.html", "moscou", 7)
    variants = [
        timeline_key("embed.html", "moscou", 7),
        timeline_key("feed.html", "other", 7),
        timeline_key("feed.html", "moscou", 8),
        timeline_key("feed.html", "moscou", 7, before=12),
        timeline_key("feed.html", "moscou", 7, limit=DEFAULT_LIMIT + 1),
        timeline_key("feed.html", "moscou", 7, context={"theme": "dark"}),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_timeline_key_ignores_context_order_and_defaults_to_the_first_page() -> None:
    one = timeline_key("embed.html", "m", 1, context={"a": 1, "b": 2})
    other = timeline_key("embed.html", "m", 1, context={"b": 2, "a": 1})
    assert one == other
    assert timeline_key("feed.html", "m", 3) == timeline_key(
        "feed.html", "m", 3, before=None, limit=DEFAULT_LIMIT, context={}
    )


def test_etag_differs_per_key_and_is_weak() -> None:
    first = etag_for(timeline_key("feed.html", "m", 1))
    second = etag_for(timeline_key("feed.html", "m", 2))
    assert first != second
    assert first.startswith('W/"') and first.endswith('"')
    assert etag_for(timeline_key("feed.html", "m", 1)) == first


def test_etag_matching_is_weak_and_accepts_lists_and_star() -> None:
    etag = b'W/"abc"'
    assert etag_matches(b'W/"abc"', etag)
    assert etag_matches(b'"abc"', etag)
    assert etag_matches(b'"x", W/"abc" ,"y"', etag)
    assert etag_matches(b" * ", etag)
    assert not etag_matches(b'W/"abd"', etag)
    assert not etag_matches(b'"ab"', etag)


# -- the LRU -----------------------------------------------------------------------------------


def test_page_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = PageCache(size=2)
    cache.put(("a",), page(b"a"))
    cache.put(("b",), page(b"b"))
    assert cache.get(("a",)) is not None  # "a" is now the most recently used
    cache.put(("c",), page(b"c"))
    assert cache.get(("b",)) is None
    assert [cache.get(k) is not None for k in (("a",), ("c",))] == [True, True]


# -- cached_response ---------------------------------------------------------------------------


def make_request(app_state: SimpleNamespace, headers: dict[str, str] | None = None) -> Request:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/feeds/moscou",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "app": SimpleNamespace(state=app_state),
    }
    return Request(scope)


class Builder:
    def __init__(self, body: bytes, cacheable: bool = True) -> None:
        self.body = body
        self.cacheable = cacheable
        self.calls = 0

    async def __call__(self) -> tuple[bytes, bool]:
        self.calls += 1
        return self.body, self.cacheable


async def test_a_page_is_built_once_then_served_from_the_cache() -> None:
    state = SimpleNamespace()
    key = timeline_key("feed.html", "moscou", 4)
    build = Builder(b"<p>rev 4</p>")
    first = await cached_response(make_request(state), key, "text/html", build)
    second = await cached_response(make_request(state), key, "text/html", build)
    assert (first.status_code, first.body) == (200, b"<p>rev 4</p>")
    assert (second.status_code, second.body) == (200, b"<p>rev 4</p>")
    assert build.calls == 1
    assert first.headers["etag"] == second.headers["etag"] == etag_for(key)


async def test_a_page_built_from_moved_data_is_served_but_not_kept() -> None:
    state = SimpleNamespace()
    key = timeline_key("feed.html", "moscou", 4)
    build = Builder(b"<p>rev 5 leaked in</p>", cacheable=False)
    await cached_response(make_request(state), key, "text/html", build)
    await cached_response(make_request(state), key, "text/html", build)
    assert build.calls == 2
    assert page_cache.cache_for(make_request(state)).get(key) is None


async def test_a_matching_if_none_match_gets_304_without_building() -> None:
    state = SimpleNamespace()
    key = timeline_key("feed.html", "moscou", 4)
    build = Builder(b"never")
    response = await cached_response(
        make_request(state, {"If-None-Match": etag_for(key)}), key, "text/html", build
    )
    assert response.status_code == 304
    assert build.calls == 0


async def test_extra_headers_override_the_defaults() -> None:
    response: Response = await cached_response(
        make_request(SimpleNamespace()),
        ("index",),
        "text/html",
        Builder(b"x"),
        {"Cache-Control": "private", "Content-Security-Policy": "default-src 'none'"},
    )
    assert response.headers["cache-control"] == "private"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


# -- the ASGI fast path ------------------------------------------------------------------------


class Watcher:
    def __init__(self, rev: int) -> None:
        self.rev = rev
        self.used = 0.0


class Downstream:
    """The rest of the app: records that a request went on past the fast path."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"routed"})


def fast_path(rev: int = 3) -> tuple[CachedPages, Downstream, SimpleNamespace, list[int]]:
    watchers = {"moscou": Watcher(rev)}
    app_state = SimpleNamespace(livefeed=SimpleNamespace(watched=watchers), page_cache=PageCache())
    downstream = Downstream()
    hits: list[int] = []
    return CachedPages(downstream, app_state, on_hit=hits.append), downstream, app_state, hits


async def call(
    app: Any, path: str = "/feeds/moscou", method: str = "GET", query: bytes = b"", **headers: str
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"]


async def test_fast_path_serves_the_cached_first_page_at_the_watched_rev() -> None:
    app, downstream, state, hits = fast_path(rev=3)
    cached = page(b"<html>rev 3</html>")
    state.page_cache.put(timeline_key(READER_TEMPLATE, "moscou", 3), cached)
    status, headers, body = await call(app)
    assert (status, body) == (200, b"<html>rev 3</html>")
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"etag"] == cached.etag
    assert downstream.calls == 0
    assert hits == [200]


async def test_fast_path_answers_304_and_empty_head() -> None:
    app, downstream, state, hits = fast_path(rev=3)
    cached = page(b"<html>rev 3</html>", etag=b'W/"r3"')
    state.page_cache.put(timeline_key(READER_TEMPLATE, "moscou", 3), cached)
    status, _, body = await call(app, if_none_match='W/"r3"')
    assert (status, body) == (304, b"")
    status, headers, body = await call(app, method="HEAD")
    assert (status, body) == (200, b"")
    assert headers[b"content-length"] == str(len(cached.body)).encode()
    status, _, _ = await call(app, if_none_match='W/"r2"')
    assert status == 200
    assert downstream.calls == 0
    assert hits == [304, 200, 200]


async def test_fast_path_never_serves_a_page_of_an_older_rev() -> None:
    app, downstream, state, hits = fast_path(rev=3)
    state.page_cache.put(timeline_key(READER_TEMPLATE, "moscou", 3), page())
    state.livefeed.watched["moscou"].rev = 4  # the hub delivered a change
    status, _, body = await call(app)
    assert (status, body) == (299, b"routed")
    assert downstream.calls == 1
    assert hits == []


async def test_fast_path_passes_everything_else_on() -> None:
    app, downstream, state, hits = fast_path(rev=3)
    state.page_cache.put(timeline_key(READER_TEMPLATE, "moscou", 3), page())
    state.page_cache.put(timeline_key(READER_TEMPLATE, "other", 3), page())
    await call(app, query=b"before=5")  # not the first page
    await call(app, method="POST")
    await call(app, path="/feeds/other")  # cached, but not watched: rev unknown
    await call(app, path="/feeds/moscou/atom.xml")
    await call(app, path="/api/feeds/moscou")
    assert downstream.calls == 5
    assert hits == []


async def test_fast_path_before_start_up_passes_on() -> None:
    downstream = Downstream()
    app = CachedPages(downstream, SimpleNamespace())
    status, _, _ = await call(app)
    assert status == 299
