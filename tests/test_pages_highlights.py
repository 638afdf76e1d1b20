"""The first page of a long feed still shows its pinned entry and its key events."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN


async def test_old_pinned_entry_and_key_events_reach_the_first_page(
    client: httpx.AsyncClient, feed: str
) -> None:
    url = f"/api/feeds/{feed}/entries"
    pinned = (
        await client.post(url, json={"body": "Le programme", "pinned": True}, headers=ADMIN)
    ).json()
    key = (
        await client.post(url, json={"body": "Ouverture", "key_event": True}, headers=ADMIN)
    ).json()
    for n in range(40):
        assert (
            await client.post(url, json={"body": f"entrée {n}"}, headers=ADMIN)
        ).status_code == 201

    html = (await client.get(f"/feeds/{feed}")).text
    pinned_section = re.search(r'<section class="lf-pinned".*?</section>', html, re.S)
    assert pinned_section is not None
    assert f'id="entry-{pinned["id"]}"' in pinned_section.group(0)
    assert "Le programme" in pinned_section.group(0)
    # The key event is 40 entries down, off the first page, yet linked from the summary.
    assert f'href="#entry-{key["id"]}"' in html or f"#entry-{key['id']}" in html
    # The pinned entry appears once, on top, not again in its day.
    assert html.count(f'id="entry-{pinned["id"]}"') == 1


async def test_watched_page_follows_every_change_without_rereading(
    client: httpx.AsyncClient, feed: str
) -> None:
    """After the first view the page's rev comes from the hub: each change must still show."""
    url = f"/api/feeds/{feed}/entries"
    first = await client.get(f"/feeds/{feed}")
    etag = first.headers["ETag"]
    assert (await client.get(f"/feeds/{feed}", headers={"If-None-Match": etag})).status_code == 304

    created = (await client.post(url, json={"body": "Nouvelle entrée"}, headers=ADMIN)).json()
    page = await client.get(f"/feeds/{feed}", headers={"If-None-Match": etag})
    assert page.status_code == 200 and "Nouvelle entrée" in page.text
    assert page.headers["ETag"] != etag

    await client.patch(f"{url}/{created['id']}", json={"body": "Entrée corrigée"}, headers=ADMIN)
    assert "Entrée corrigée" in (await client.get(f"/feeds/{feed}")).text

    await client.patch(f"/api/feeds/{feed}", json={"title": "Titre changé"}, headers=ADMIN)
    assert "Titre changé" in (await client.get(f"/feeds/{feed}")).text

    await client.delete(f"{url}/{created['id']}", headers=ADMIN)
    assert "Entrée corrigée" not in (await client.get(f"/feeds/{feed}")).text


async def test_cached_page_answers_exactly_like_the_rendered_one(
    client: httpx.AsyncClient, feed: str
) -> None:
    await client.post(f"/api/feeds/{feed}/entries", json={"body": "Une"}, headers=ADMIN)
    rendered = await client.get(f"/feeds/{feed}")  # renders, caches, starts watching
    cached = await client.get(f"/feeds/{feed}")  # answered by page_cache.CachedPages
    assert cached.content == rendered.content
    # Same headers, bar the request id: cache hits write no log line to correlate.
    rendered_headers = {k: v for k, v in rendered.headers.items() if k != "x-request-id"}
    assert dict(cached.headers) == rendered_headers
    head = await client.head(f"/feeds/{feed}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(rendered.content))
    etag = rendered.headers["ETag"]
    for header in (etag, f'"other", {etag}', "*"):
        assert (
            await client.get(f"/feeds/{feed}", headers={"If-None-Match": header})
        ).status_code == 304
    stale = await client.get(f"/feeds/{feed}", headers={"If-None-Match": 'W/"stale"'})
    assert stale.status_code == 200 and stale.content == rendered.content
    # Query strings (older pages, other limits) always go through the app.
    older = await client.get(f"/feeds/{feed}?limit=5")
    assert older.status_code == 200 and older.headers["ETag"] != etag
