"""Templates and static assets of the HTML pages (reader, embed, studio).

Contracts:

* :func:`templates` is the one Jinja2 environment (autoescaping HTML and XML); every template
  gets ``static_url(name)``, ``default_limit`` and ``livefeed_config`` (the JSON every
  page hands its live client).
* :func:`asset_version` digests ``web/static`` and ``web/templates``: a deploy that changes
  either changes every asset URL (``/static/v/VERSION/NAME``) and every page ``ETag``. The
  version is a path segment, not a query, so that the relative ``import``s of an ES module
  (``./lib/format.js``) resolve to the same version as the module that imports them.
* ``/static`` (:func:`static_app`): URLs of the current version are immutable for a year
  (as are the older ``?v=`` form); bare ones, and those naming another version (a page from
  before a deploy), are revalidated after five minutes.
* :data:`CSP` is the reader pages' Content-Security-Policy; other pages narrow it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app import i18n, timeline
from app.live import close_codes
from app.schemas import Feed
from app.timeline import DEFAULT_LIMIT

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

HTML_TYPE = "text/html; charset=utf-8"

# Inline <script type="application/json|ld+json"> blocks are data, not scripts: CSP allows
# them. Entry HTML is sanitized server-side; images may come from anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "media-src 'self' https:; connect-src 'self'; frame-src https:; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


def frame_ancestors(feed: Feed) -> str:
    """CSP ``frame-ancestors`` of a feed's pages (reader page and embed alike, so a site that
    may not embed a feed cannot frame its reader page instead): ``*`` for a feed embeddable
    anywhere, else the page's own origin plus the feed's ``allowed_origins``.

    ``X-Frame-Options`` cannot name other origins (``ALLOW-FROM`` is obsolete), so it is not
    sent: every current browser obeys ``frame-ancestors``."""
    origins = feed.allowed_origins
    if not origins or "*" in origins:
        return "frame-ancestors *"
    return "frame-ancestors 'self' " + " ".join(origins)


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


#: ``/static/v/<version>/<name>``: the first path segments of a versioned asset URL.
VERSIONED_PREFIX = "v/"


def static_url(name: str) -> str:
    """The immutable URL of ``web/static/<name>`` in this deploy."""
    return f"/static/{VERSIONED_PREFIX}{asset_version()}/{name}"


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
    env.globals["entry_path"] = timeline.entry_path
    env.globals["livefeed_config"] = livefeed_config
    return env


@cache
def livefeed_config(locale: str = "en") -> Markup:
    """``livefeed_config(lang)`` in a template: :func:`livefeed_config_json` as markup."""
    return Markup(livefeed_config_json(locale))


def livefeed_config_json(locale: str = "en") -> str:
    """What every page hands its live client in ``<script type="application/json"
    id="livefeed-config">``: the close-code table (:mod:`app.live.close_codes`), its
    messages in the page's language (``locale``)."""
    table = close_codes.client_table()
    for policy in table.values():
        if isinstance(policy["message"], str):
            policy["message"] = i18n.gettext(locale, policy["message"])
    return timeline.script_json({"close_codes": table})


def not_found_page(message: str, locale: str = "en") -> HTMLResponse:
    """The 404 page naming what was not found (never cached), its words in ``locale``."""
    html = (
        templates()
        .get_template("not_found.html")
        .render(
            message=message,
            s=timeline.strings(locale),
            lang=timeline.html_lang(locale),
            dir=timeline.text_direction(locale),
        )
    )
    return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-cache"})


def reader_language_page(request: Request, key: str, **fields: str) -> HTMLResponse:
    """A 404 page with no feed to take a language from (an unknown feed, a bad cursor mix):
    the reader UI string ``key`` in the reader's language (``Accept-Language``, else English),
    its ``{fields}`` filled."""
    language = i18n.accepted_language(request.headers.get("accept-language")) or "en"
    response = not_found_page(timeline.strings(language)[key].format(**fields), language)
    response.headers["Vary"] = "Accept-Language"
    return response


def unknown_feed_page(request: Request, slug: str) -> HTMLResponse:
    """The 404 page of a feed that does not exist, in the reader's language."""
    return reader_language_page(request, "no_such_feed", feed=slug)


class StaticAssets(StaticFiles):
    """``/static``: URLs of the current version are immutable; others revalidate soon."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        versioned = b"v=" in scope.get("query_string", b"")
        if path.startswith(VERSIONED_PREFIX):
            version, _, path = path[len(VERSIONED_PREFIX) :].partition("/")
            versioned = version == asset_version()
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
            )
        return response


def static_app() -> StaticAssets:
    """Mount at ``/static`` (``app.mount("/static", templating.static_app(), name="static")``)."""
    return StaticAssets(directory=STATIC_DIR)
