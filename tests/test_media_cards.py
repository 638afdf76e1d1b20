"""Link cards: resolved once through oEmbed (a provider served by the test on 127.0.0.1),
thumbnail re-hosted, click-to-load frame with no third-party reference, plain link when the
provider is unreachable, SSRF guard — both databases, both storage backends."""

from __future__ import annotations

import io
import re

import httpx
from PIL import Image

from app.config import Settings
from app.media.oembed import OEmbedResolver
from tests.conftest import ADMIN
from tests.media_support import GPS_IFD, SLUG, MediaBackend, OEmbedProvider, fetch


async def test_card_is_resolved_once_and_renders_without_third_party_requests(
    http: httpx.AsyncClient, media_backend: MediaBackend, oembed_provider: OEmbedProvider
) -> None:
    link = f"{oembed_provider.base}/watch/7"
    response = await http.post(f"/api/feeds/{SLUG}/cards", json={"url": link}, headers=ADMIN)
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["kind"] == "card" and card["url"] == link
    frame_url = card["card"].pop("frame_url")
    assert card["card"] == {
        "url": link,
        "title": "Press conference 7",
        "author_name": "Local TV",
        "provider_name": "LocalTube",
        "playable": True,
    }
    # /cards/ID/KEY: the id alone (sequential) opens nothing.
    assert re.fullmatch(rf"/cards/{card['id']}/[0-9a-f]{{24}}", frame_url), frame_url
    # Discovery page, oEmbed JSON, thumbnail: each fetched once, at write time.
    assert [p.split("?")[0] for p in oembed_provider.requests] == [
        "/watch/7",
        "/oembed",
        "/thumb.jpg",
    ]
    # The thumbnail went through the media pipeline: re-hosted here, metadata gone.
    assert card["thumbnail"], card
    for variant in card["thumbnail"]:
        assert oembed_provider.base not in variant["url"]
        data = (await fetch(http, variant["url"])).content
        assert not Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)
    assert len(media_backend.list_keys()) == len(card["thumbnail"])

    again = await http.post(f"/api/feeds/{SLUG}/cards", json={"url": link}, headers=ADMIN)
    assert again.status_code == 201
    assert len(oembed_provider.requests) == 3, "a second paste is answered from the cache"

    entry = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={"body": "Watch:", "media": [card["id"]]},
        headers=ADMIN,
    )
    assert entry.status_code == 201, entry.text
    html = entry.json()["html"]
    assert f'src="{frame_url}"' in html and "sandbox=" in html
    assert "allow-same-origin" not in html
    assert f'href="{link}"' in html  # the caption links to the post itself
    assert f"{oembed_provider.base}/player" not in html and "thumb.jpg" not in html

    frame = await http.get(frame_url)
    assert frame.status_code == 200
    assert oembed_provider.base not in frame.text, "the card frame references only us"
    assert f'href="{frame_url}/player"' in frame.text
    assert "Press conference 7" in frame.text
    assert "default-src 'none'" in frame.headers["content-security-policy"]

    player = await http.get(f"{frame_url}/player")
    assert player.status_code == 200
    assert f'src="{oembed_provider.base}/player/7"' in player.text
    assert player.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in player.headers["content-security-policy"]
    assert len(oembed_provider.requests) == 3, "serving the card never contacts the provider"
    assert (await http.get("/cards/999999/abc")).status_code == 404
    for guess in (f"/cards/{card['id']}/wrongkey", f"/cards/{card['id']}/wrongkey/player"):
        wrong = await http.get(guess)
        assert wrong.status_code == 404 and "Press conference" not in wrong.text


async def test_unreachable_provider_gives_a_plain_link_card(http: httpx.AsyncClient) -> None:
    link = "http://127.0.0.1:9/watch/gone"  # discard port: nothing listens
    response = await http.post(f"/api/feeds/{SLUG}/cards", json={"url": link}, headers=ADMIN)
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["card"]["playable"] is False and card["thumbnail"] == []
    entry = await http.post(
        f"/api/feeds/{SLUG}/entries", json={"body": "See", "media": [card["id"]]}, headers=ADMIN
    )
    html = entry.json()["html"]
    assert "lf-card-link" in html and f'href="{link}"' in html and "<iframe" not in html
    bad = await http.post(
        f"/api/feeds/{SLUG}/cards", json={"url": "ftp://example.org/x"}, headers=ADMIN
    )
    assert bad.status_code == 422


async def test_private_addresses_are_refused_by_default(oembed_provider: OEmbedProvider) -> None:
    resolver = OEmbedResolver(Settings())
    for url in (
        f"{oembed_provider.base}/watch/1",
        f"http://localhost:{oembed_provider.port}/watch/1",
        "http://10.0.0.1/watch/1",
        "http://[::1]/watch/1",
        "http://169.254.169.254/latest/meta-data/",
    ):
        resolved = await resolver.resolve(url)
        assert resolved.card == {"url": url, "playable": False}, url
        assert resolved.thumbnail is None
    assert oembed_provider.requests == [], "the guard refuses before connecting"
