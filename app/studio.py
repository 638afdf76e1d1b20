"""Reporter console: the ``/studio`` page and the two API calls only it needs.

The page is static (no feed data in it): ``web/static/studio.js`` signs in with a bearer token
kept in ``sessionStorage`` and talks to the public API. ``GET /api/whoami`` tells it what the
token may do; ``POST /api/preview`` renders a draft exactly as it will be published.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app import i18n
from app.deps import PrincipalDep, SettingsDep, StoreDep
from app.media.storage import media_csp
from app.openapi import errors
from app.render import entry_html, render_markdown_off_loop
from app.schemas import CleanText, MediaItem, MediaList, Slug
from app.studio_strings import studio_config, studio_strings
from app.templating import CSP, templates
from app.timeline import script_json

router = APIRouter()

#: The reader CSP, plus: never framed (clickjacking a publish button), no referrer.
STUDIO_CSP = CSP + "; frame-ancestors 'none'"


class WhoAmI(BaseModel):
    is_admin: bool
    feed: str | None = Field(description="The feed a reporter token writes to; null for admin.")
    name: str


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(max_length=1_000_000), CleanText]
    feed: Slug | None = Field(default=None, description="The feed the media belongs to.")
    media: MediaList = Field(default_factory=list, description="As on an entry; needs feed.")


class PreviewResponse(BaseModel):
    html: str = Field(description="Sanitized HTML, as readers will see it.")


@router.get("/api/whoami", response_model=WhoAmI, tags=["studio"])
async def whoami(principal: PrincipalDep) -> WhoAmI:
    """What the bearer token is: the admin, or a reporter of one feed. 401 if invalid."""
    return WhoAmI(is_admin=principal.is_admin, feed=principal.feed, name=principal.name)


@router.post("/api/preview", response_model=PreviewResponse, tags=["studio"], responses=errors(404))
async def preview(
    data: PreviewRequest, who: PrincipalDep, settings: SettingsDep, store: StoreDep
) -> PreviewResponse:
    """Render a draft — Markdown and media — the way a published entry is rendered. 413 past
    the entry size limit; media needs ``feed`` (a feed the token may write to; 404 when no
    such feed exists, since ``feed`` is in the body the route cannot derive it)."""
    limit = settings.max_entry_body_chars
    if len(data.body) > limit:
        raise HTTPException(413, f"entry body is {len(data.body)} characters; the limit is {limit}")
    media: list[MediaItem] = []
    if data.media:
        if data.feed is None:
            raise HTTPException(422, "feed: required to preview media")
        if not who.is_admin and who.feed != data.feed:
            raise HTTPException(403, f"this token cannot write to feed {data.feed!r}")
        media = await store.preview_media(data.feed, data.media)
    return PreviewResponse(html=entry_html(await render_markdown_off_loop(data.body), media))


#: The cookie that keeps the language picked in the studio's chooser (``?lang=``).
LANGUAGE_COOKIE = "livefeed_lang"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@router.api_route("/studio", methods=["GET", "HEAD"], include_in_schema=False)
async def studio_page(
    request: Request,
    settings: SettingsDep,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> Response:
    """The console in the user's language: ``?lang=`` (the chooser; remembered in a cookie),
    else the language cookie, else ``Accept-Language``, else English."""
    picked = lang if lang in i18n.LANGUAGES else None
    language = i18n.choose_language(
        picked or request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    html = (
        templates()
        .get_template("studio.html")
        .render(
            public_url=settings.public_url,
            lang=language,
            dir=i18n.text_direction(language),
            s=studio_strings(language),
            studio_config=script_json(studio_config(language)),
            languages=i18n.language_names(),
        )
    )
    response = HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": media_csp(STUDIO_CSP, settings),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Vary": "Accept-Language, Cookie",
        },
    )
    if picked:
        response.set_cookie(
            LANGUAGE_COOKIE,
            picked,
            max_age=LANGUAGE_COOKIE_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.public_url.startswith("https://"),
        )
    return response
