"""Embeds over HTTP (in-process app, SQLite and PostgreSQL): /embed/{slug}, /embed.js, /oembed."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx

from app import templating
from app.config import Settings
from tests.conftest import ADMIN

PUBLIC = Settings().public_url  # the conftest app runs with the default LIVEFEED_PUBLIC_URL


def csp_directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    out: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


async def post(client: httpx.AsyncClient, slug: str, body: str) -> None:
    r = await client.post(f"/api/feeds/{slug}/entries", json={"body": body}, headers=ADMIN)
    assert r.status_code == 201, r.text


# -- /embed/{slug} -----------------------------------------------------------------------------


async def test_embed_page_is_the_chromeless_live_timeline(
    client: httpx.AsyncClient, feed: str
) -> None:
    for i in range(4):
        await post(client, feed, f"Update number {i}")
    r = await client.get(f"/embed/{feed}?limit=2&theme=dark")
    assert r.status_code == 200
    html = r.text
    assert "data-livefeed-timeline" in html  # the reader's partial
    version = templating.asset_version()
    assert f'<script type="module" src="/static/v/{version}/livefeed.js">' in html
    assert f'<script src="/static/v/{version}/embed.js" defer>' in html
    assert 'data-theme="dark"' in html
    assert html.count("<article") == 2 + 1  # two entries and the live-entry template
    assert "Update number 3" in html and "Update number 1" not in html
    assert "lf-site" not in html  # no site header
    assert "set-cookie" not in r.headers


async def test_embed_csp_allows_any_ancestor_by_default_and_nothing_third_party(
    client: httpx.AsyncClient, feed: str
) -> None:
    r = await client.get(f"/embed/{feed}")
    d = csp_directives(r)
    assert d["frame-ancestors"] == "*"
    for name in ("img-src", "media-src", "connect-src", "script-src", "style-src"):
        assert "https:" not in d[name] and "*" not in d[name], (name, d[name])
    # Only this origin's link-card frames (/cards/ID, app/cards.py): nothing third-party.
    assert d["frame-src"] == "'self'"
    assert "x-frame-options" not in r.headers


async def test_embed_csp_follows_allowed_origins(client: httpx.AsyncClient, feed: str) -> None:
    origins = ["https://news.example", "http://127.0.0.1:9999"]
    r = await client.patch(f"/api/feeds/{feed}", json={"allowed_origins": origins}, headers=ADMIN)
    assert r.status_code == 200, r.text
    r = await client.get(f"/embed/{feed}")
    assert csp_directives(r)["frame-ancestors"] == "'self' " + " ".join(origins)
    # Back to "anywhere".
    await client.patch(f"/api/feeds/{feed}", json={"allowed_origins": []}, headers=ADMIN)
    r = await client.get(f"/embed/{feed}")
    assert csp_directives(r)["frame-ancestors"] == "*"


async def test_embed_options_are_forgiving(client: httpx.AsyncClient, feed: str) -> None:
    r = await client.get(f"/embed/{feed}?limit=100000&theme=purple")
    assert r.status_code == 200
    assert "data-theme" not in r.text.split("<head>")[0]
    r = await client.get(f"/embed/{feed}?limit=0")
    assert r.status_code == 200


async def test_embed_unknown_feed_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/embed/no-such-feed")
    assert r.status_code == 404
    r = await client.get("/embed/Not_A_Slug")
    assert r.status_code == 404


# -- /embed.js ---------------------------------------------------------------------------------


async def test_loader_is_small_cacheable_and_revalidates(client: httpx.AsyncClient) -> None:
    r = await client.get("/embed.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) < 5 * 1024
    assert "max-age=" in r.headers["cache-control"]
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    etag = r.headers["etag"]
    again = await client.get("/embed.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert "set-cookie" not in r.headers
    # Dependency-free: nothing loaded from anywhere.
    assert not re.search(r"\bimport\b|require\(|https?://", r.text.split("*/", 1)[1])


# -- /oembed -----------------------------------------------------------------------------------


async def test_oembed_rich_response_with_the_snippet(client: httpx.AsyncClient, feed: str) -> None:
    url = f"{PUBLIC}/feeds/{feed}"
    r = await client.get("/oembed", params={"url": url, "format": "json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "rich"
    assert body["version"] == "1.0"
    assert body["title"] == "Conférence"
    assert body["provider_name"] == "livefeed"
    assert isinstance(body["width"], int) and isinstance(body["height"], int)
    assert body["html"] == (
        f'<div data-livefeed="{PUBLIC}/feeds/{feed}"></div>'
        f'<script async src="{PUBLIC}/embed.js"></script>'
    )
    # What the snippet names exists (tests/test_embeds_browser.py pastes it into a page).
    script = await client.get("/embed.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await client.get(f"/feeds/{feed}")).status_code == 200
    # Format defaults to JSON; maxwidth/maxheight are honoured.
    r = await client.get("/oembed", params={"url": url, "maxwidth": 320, "maxheight": 240})
    assert r.status_code == 200
    assert (r.json()["width"], r.json()["height"]) == (320, 240)


async def test_oembed_errors(client: httpx.AsyncClient, feed: str) -> None:
    ok = f"{PUBLIC}/feeds/{feed}"
    cases = {
        (f"{PUBLIC}/feeds/no-such-feed", "json"): 404,
        (f"{PUBLIC}/about", "json"): 404,
        (f"https://elsewhere.example/feeds/{feed}", "json"): 400,
        ("not a url", "json"): 400,
        (ok, "xml"): 422,
        (ok, "json"): 200,
        (f"{PUBLIC}/embed/{feed}", "json"): 200,
    }
    for (url, fmt), status in cases.items():
        r = await client.get("/oembed", params={"url": url, "format": fmt})
        assert r.status_code == status, (url, fmt, r.text)


# -- discovery on the reader page --------------------------------------------------------------


async def test_reader_page_links_its_oembed(client: httpx.AsyncClient, feed: str) -> None:
    r = await client.get(f"/feeds/{feed}")
    match = re.search(
        r'<link rel="alternate" type="application/json\+oembed"[^>]*href="([^"]+)"', r.text
    )
    assert match, "no oEmbed discovery link"
    href = match.group(1).replace("&amp;", "&")
    assert href == f"{PUBLIC}/oembed?url={quote(f'{PUBLIC}/feeds/{feed}', safe='/')}&format=json"
    path = href.removeprefix(PUBLIC)
    r = await client.get(path)
    assert r.status_code == 200 and r.json()["type"] == "rich"
