"""Reporter console: the ``/studio`` page and the two API calls only it needs.

The page is static (no feed data in it): ``web/static/studio.js`` signs in with a bearer token
kept in ``sessionStorage`` and talks to the public API. ``GET /api/whoami`` tells it what the
token may do; ``POST /api/preview`` renders a draft exactly as it will be published.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app import i18n
from app.auth import csrf_token
from app.deps import PrincipalDep, SettingsDep, StoreDep
from app.media.storage import media_csp
from app.openapi import errors
from app.permissions import Action, denial
from app.render import entry_html, render_markdown_off_loop
from app.schemas import AccountRole, CleanText, MediaItem, MediaList, Slug
from app.studio_strings import studio_config, studio_strings
from app.templating import CSP, templates
from app.timeline import script_json

router = APIRouter()

#: The reader CSP, plus: never framed (clickjacking a publish button), no referrer.
STUDIO_CSP = CSP + "; frame-ancestors 'none'"


class WhoAmI(BaseModel):
    is_admin: bool
    feed: str | None = Field(
        description="The feed a reporter token writes to; null for anyone else."
    )
    name: str = Field(description="The account's display name, or the token's name.")
    kind: Literal["admin_token", "feed_token", "account"]
    role: AccountRole = Field(
        description="Global role: admin for the admin token, editor for a reporter token."
    )
    user_id: int | None = Field(description="The account's id; null for a bearer token.")
    email: str | None = None
    display_name: str | None = Field(description="The account's display name (byline).")
    feeds: dict[str, AccountRole] = Field(
        description="Role per feed slug (an admin has admin on every feed, not listed)."
    )
    rights: dict[str, dict[str, Literal["allow", "own"]]] = Field(
        description="Per feed of ``feeds``: each action allowed (``own``: on own entries)."
    )
    csrf_token: str | None = Field(
        description="Signed in with the session cookie: send it as X-CSRF-Token on every "
        "unsafe request. Null for a bearer token."
    )


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(max_length=1_000_000), CleanText]
    feed: Slug | None = Field(default=None, description="The feed the media belongs to.")
    media: MediaList = Field(default_factory=list, description="As on an entry; needs feed.")


class PreviewResponse(BaseModel):
    html: str = Field(description="Sanitized HTML, as readers will see it.")


@router.get("/api/whoami", response_model=WhoAmI, tags=["studio"])
async def whoami(request: Request, principal: PrincipalDep) -> WhoAmI:
    """Who is signed in — the admin token, a reporter token of one feed, or an account — with
    its roles, rights per feed and (session cookie) CSRF token. 401 if nobody."""
    session: str | None = getattr(request.state, "livefeed_session", None)
    feeds = {slug: principal.role_on(slug) or role for slug, role in principal.feed_roles.items()}
    return WhoAmI(
        is_admin=principal.is_admin,
        feed=principal.feed,
        name=principal.name,
        kind=principal.kind.value,
        role=principal.role.value,
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.name if principal.user_id is not None else None,
        feeds={slug: role.value for slug, role in feeds.items()},
        rights={slug: principal.rights(slug) for slug in feeds},
        csrf_token=None if session is None else csrf_token(session),
    )


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
        if not who.may(Action.ENTRY_WRITE_DRAFT, data.feed):
            raise HTTPException(403, denial(Action.ENTRY_WRITE_DRAFT, data.feed))
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
            # same-origin, not no-referrer: under no-referrer a browser sends the studio's
            # own POSTs with "Origin: null", which the session's CSRF check refuses.
            "Referrer-Policy": "same-origin",
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
