"""Embeds on other sites: ``/embed/{slug}`` (the chrome-less timeline), ``/embed.js`` (the
loader for the README's embed snippet) and ``/oembed`` (discovery for CMSes).

Contracts:

* ``/embed/{slug}`` renders the reader's timeline partial and live client through
  :func:`app.pages.render_timeline_page`, so it behaves exactly like the reader page. Its
  ``Content-Security-Policy`` carries ``frame-ancestors`` built from the feed's
  ``allowed_origins`` (``*`` when the list is empty), and allows no request to any other
  origin (``img-src``/``media-src``/``connect-src`` are ``'self'``): an embed never makes a
  third-party request on behalf of the host page's readers, and never sets a cookie.
* The frame posts ``{"type": "livefeed:height", "height": N}`` to its parent whenever its
  content changes size; the loader resizes only the iframe whose ``contentWindow`` sent it,
  and only when ``event.origin`` is the livefeed origin named in the snippet.
* ``/oembed?url=PUBLIC_URL/feeds/SLUG&format=json`` answers a ``rich`` oEmbed 1.0 object
  whose ``html`` is the snippet; 400 for a URL of another site, 404 for an unknown feed,
  501 for any format other than JSON.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app import pages
from app.deps import SettingsDep, StateDep, StoreDep
from app.openapi import errors
from app.page_cache import not_modified
from app.schemas import MAX_ID, is_valid_slug
from app.templating import STATIC_DIR, frame_ancestors, unknown_feed_page
from app.timeline import MAX_LIMIT

router = APIRouter(tags=["embeds"])

EMBED_JS = STATIC_DIR / "embed.js"
DEFAULT_EMBED_LIMIT = 20
OEMBED_WIDTH = 600
OEMBED_HEIGHT = 800

#: The reader CSP narrowed to this origin only; ``frame-ancestors`` is appended per feed.
EMBED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; font-src 'self'; connect-src 'self'; frame-src 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)

Theme = Literal["auto", "light", "dark"]


def snippet(public_url: str, slug: str) -> str:
    """The embed code shown in the README ("Pages"), byte for byte."""
    base = public_url.rstrip("/")
    return (
        f'<div data-livefeed="{base}/feeds/{slug}"></div>'
        f'<script async src="{base}/embed.js"></script>'
    )


# -- /embed/{slug} -----------------------------------------------------------------------------


@router.api_route(
    "/embed/{slug}", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
async def embed_page(
    request: Request,
    slug: str,
    state: StateDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: int = DEFAULT_EMBED_LIMIT,
    theme: str = "auto",
) -> Response:
    """The timeline without site chrome, for the loader's iframe.

    ``limit`` is clamped to 1…``MAX_LIMIT`` and an unknown ``theme`` means ``auto``:
    a typo in a third party's snippet still shows the feed.
    """
    feed = await state.store.get_feed(slug) if is_valid_slug(slug) else None
    if feed is None:
        return unknown_feed_page(request, slug)
    chosen: Theme = theme if theme in ("light", "dark") else "auto"  # type: ignore[assignment]
    response = await pages.render_timeline_page(
        request,
        state,
        slug,
        template="embed.html",
        before=before,
        after=after,
        limit=max(1, min(limit, MAX_LIMIT)),
        context={"theme": chosen},
        headers={
            "Content-Security-Policy": f"{EMBED_CSP}; {frame_ancestors(feed)}",
            "Referrer-Policy": "no-referrer",
            # Whether this may be framed differs per feed: shared caches must not mix feeds'
            # answers up, and the policy must be re-read after the admin changes it.
            "Cache-Control": "no-cache",
        },
    )
    return response


# -- /embed.js ---------------------------------------------------------------------------------


@cache
def _loader() -> tuple[bytes, str]:
    body = EMBED_JS.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@router.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
async def embed_js(request: Request) -> Response:
    """The loader. Its URL is fixed in snippets pasted on other sites, so it cannot be
    versioned: browsers may use it for an hour, then revalidate (ETag → 304)."""
    body, etag = _loader()
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=3600, stale-while-revalidate=86400",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


# -- /oembed -----------------------------------------------------------------------------------


def _slug_from_url(url: str, public_url: str) -> str:
    """The feed slug named by ``url`` (a reader or embed URL under ``public_url``).

    400 if ``url`` is not a page of this site, 404 if it is one but names no feed page.
    """
    target = urlsplit(url.strip())
    base = urlsplit(public_url)
    same_site = (
        target.scheme.lower() == base.scheme.lower()
        and target.netloc.lower() == base.netloc.lower()
    )
    if not same_site:
        raise HTTPException(400, f"{url!r} is not a page of {public_url}")
    prefix = base.path.rstrip("/")
    path = target.path
    if prefix:
        if not path.startswith(prefix + "/"):
            raise HTTPException(400, f"{url!r} is not a page of {public_url}")
        path = path[len(prefix) :]
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] in ("feeds", "embed") and is_valid_slug(parts[1]):
        return parts[1]
    raise HTTPException(404, "no embeddable live blog at this URL")


@router.get("/oembed", responses=errors(400, 404))
async def oembed(
    store: StoreDep,
    settings: SettingsDep,
    url: Annotated[str, Query(min_length=1, max_length=2000, description="A reader page URL")],
    # A 4xx, not the 501 of the oEmbed spec: no server error for a client's choice.
    format: Annotated[Literal["json"], Query(description="Only json is served")] = "json",
    maxwidth: Annotated[int | None, Query(ge=1)] = None,
    maxheight: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    """oEmbed 1.0 ``rich`` response for a live blog: its ``html`` is the embed snippet."""
    slug = _slug_from_url(url, settings.public_url)
    feed = await store.get_feed(slug)
    if feed is None:
        raise HTTPException(404, f"feed {slug!r} not found")
    width = min(OEMBED_WIDTH, maxwidth) if maxwidth else OEMBED_WIDTH
    height = min(OEMBED_HEIGHT, maxheight) if maxheight else OEMBED_HEIGHT
    body: dict[str, Any] = {
        "type": "rich",
        "version": "1.0",
        "title": feed.title,
        "provider_name": "livefeed",
        "provider_url": settings.public_url + "/",
        "html": snippet(settings.public_url, slug),
        "width": width,
        "height": height,
        "cache_age": 3600,
    }
    return JSONResponse(
        body,
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
