"""``/cards/{id}/{key}`` and ``…/player``: the click-to-load frame of a link card.

Entry HTML frames ``/cards/{id}/{key}`` (same origin, sandboxed without
``allow-same-origin``); the random ``key`` keeps cards not yet published from being read by
counting ids.
That page is ours alone — title, provider and the thumbnail re-hosted with the media — so
showing a card costs readers no third-party request, cookie or script. Its play link
navigates the frame to ``/cards/{id}/{key}/player``, which only then loads the provider's player;
that response carries a CSP ``sandbox`` of its own, so even opened directly it never runs
with this site's origin.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse
from markupsafe import escape

from app.deps import SettingsDep, StoreDep
from app.media.html import CARD_ALLOW, picture
from app.media.storage import media_base_url
from app.schemas import MediaItem
from app.store import Store

router = APIRouter(include_in_schema=False)

CardId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CardKey = Annotated[str, Path(min_length=1, max_length=64)]
CACHE = "public, max-age=300"
PLAYER_SANDBOX = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-presentation"
)

_STYLE = (
    "html,body{margin:0;height:100%;font:15px/1.4 system-ui,sans-serif;background:#111;"
    "color:#fff}a{color:inherit;text-decoration:none;display:block;height:100%;position:relative}"
    "picture,img{display:block;width:100%;height:100%;object-fit:cover;opacity:.75}"
    ".play{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;"
    "justify-content:center;gap:.5em;text-align:center;padding:1em;text-shadow:0 1px 3px #000}"
    ".btn{font-size:2.5em;line-height:1;background:rgba(0,0,0,.6);border-radius:50%;"
    "width:1.8em;height:1.8em;display:flex;align-items:center;justify-content:center}"
    "small{opacity:.85}iframe{border:0;width:100%;height:100%;display:block}"
)


def _page(body: str, title: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _origin(url: str) -> str:
    """``scheme://host:port`` of an absolute URL ("" for a rooted one): a CSP source with a
    path would match that path only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""


def _not_found() -> Response:
    return HTMLResponse(_page("<p>No such card.</p>", "Not found"), status_code=404)


async def _card(store: Store, card_id: int, key: str) -> tuple[MediaItem, dict[str, Any]] | None:
    found = await store.get_card(card_id)
    if found is None or not secrets.compare_digest(str(found[1].get("key", "")), key):
        return None
    return found


@router.get("/cards/{card_id}/{key}", response_class=HTMLResponse)
async def card_frame(
    card_id: CardId, key: CardKey, store: StoreDep, settings: SettingsDep
) -> Response:
    found = await _card(store, card_id, key)
    if found is None:
        return _not_found()
    item, _data = found
    assert item.card is not None
    title = item.card.title or item.card.url
    provider = item.card.provider_name or ""
    thumb = ""
    if item.thumbnail:
        thumb = picture(item.thumbnail, item.thumbnail[-1].content_type, "")
    body = (
        f'<a class="lf-play" href="/cards/{item.id}/{key}/player" title="Play">{thumb}'
        f'<span class="play"><span class="btn" aria-hidden="true">▶</span>'
        f"<strong>{escape(title)}</strong>"
        f"<small>{escape(provider)} · loads content from {escape(provider or 'the provider')}"
        "</small></span></a>"
    )
    csp = (
        f"default-src 'none'; img-src 'self' {_origin(settings.public_url)} "
        f"{_origin(media_base_url(settings))} data:; "
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    )
    return HTMLResponse(
        _page(body, title),
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": CACHE,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/cards/{card_id}/{key}/player", response_class=HTMLResponse)
async def card_player(card_id: CardId, key: CardKey, store: StoreDep) -> Response:
    found = await _card(store, card_id, key)
    if found is None:
        return _not_found()
    item, data = found
    player = data.get("player") or {}
    if "iframe" in player:
        body = (
            f'<iframe src="{escape(player["iframe"])}" allow="{CARD_ALLOW}" allowfullscreen '
            f'title="{escape(item.card.title if item.card and item.card.title else "player")}">'
            "</iframe>"
        )
    elif "html" in player:
        body = str(player["html"])  # the provider's own embed code, sandboxed below
    else:
        assert item.card is not None
        body = f'<a href="{escape(item.card.url)}" target="_blank" rel="noopener">Open</a>'
    return HTMLResponse(
        _page(body, "player"),
        headers={
            # Sandboxed even when opened directly: never this site's origin.
            "Content-Security-Policy": PLAYER_SANDBOX,
            "Cache-Control": CACHE,
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )
