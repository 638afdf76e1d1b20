"""Media in Chromium, against a real ``livefeed serve`` on each storage backend: photos on
the reader page (server-rendered and live inserts) and the embed, boxes reserved before the
bytes arrive, and link cards that contact the provider only after the reader's click."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import Page, Request

from tests.media_support import (
    MediaBackend,
    OEmbedProvider,
    media_env,
    photo,
)
from tests.support.services import LivefeedServer, wait_until_async

LIVE = ".lf-conn[data-state='live']"


def start_site(factory: Callable[..., LivefeedServer], backend: MediaBackend) -> LivefeedServer:
    env = {**media_env(backend), "LIVEFEED_OEMBED_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}
    return factory(env)


async def api(server: LivefeedServer, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.request(method, path, headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def loaded_images(page: Page, scope: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(
        """scope => [...document.querySelectorAll(scope + ' .lf-media img')].map(img => ({
            complete: img.complete, natural: img.naturalWidth, src: img.currentSrc,
            width: img.getBoundingClientRect().width,
            height: img.getBoundingClientRect().height,
            lazy: img.loading === 'lazy',
            caption: img.closest('figure').querySelector('figcaption')?.textContent ?? '',
        }))""",
        scope,
    )
    return found


async def test_photo_on_reader_live_and_server_rendered_and_embed(
    page: Page,
    livefeed_factory: Callable[..., LivefeedServer],
    media_backend: MediaBackend,
) -> None:
    server = start_site(livefeed_factory, media_backend)
    await api(server, "POST", "/api/feeds", json={"slug": "pics", "title": "Pics"})
    await page.goto(f"{server.base_url}/feeds/pics")
    await page.wait_for_selector(LIVE, state="attached")

    item = await api(
        server,
        "POST",
        "/api/feeds/pics/media",
        files={"file": ("scene.jpg", photo(1600, 1200), "image/jpeg")},
        data={"alt": "The scene", "caption": "At the gate", "credit": "AFP"},
    )
    await api(
        server,
        "POST",
        "/api/feeds/pics/entries",
        json={"body": "Live photo", "media": [item["id"]]},
    )

    async def live_image_loaded() -> list[dict[str, Any]] | None:
        images = await loaded_images(page, ".lf-days")
        return images if images and images[0]["complete"] and images[0]["natural"] else None

    images = await wait_until_async(live_image_loaded, timeout=15, message="live photo loaded")
    assert "At the gate" in images[0]["caption"] and "AFP" in images[0]["caption"]
    # Rendered at the column width with the photo's 4:3 ratio.
    assert abs(images[0]["height"] - images[0]["width"] * 0.75) < 2, images[0]
    if media_backend.name == "s3":
        assert images[0]["src"].startswith(media_backend.settings["s3_endpoint_url"])
    assert ".webp" in images[0]["src"], "Chromium picks the WebP source"

    # Server-rendered: the same figure, the top entry's image not lazy.
    await page.reload()
    images = await wait_until_async(live_image_loaded, timeout=15, message="photo after reload")
    assert images[0]["lazy"] is False

    # The embed shows it too.
    await page.goto(f"{server.base_url}/embed/pics")
    images = await wait_until_async(live_image_loaded, timeout=15, message="photo in embed")
    assert "At the gate" in images[0]["caption"]
    assert "Traceback" not in server.log_text()


async def test_photo_box_is_reserved_before_it_loads(
    page: Page,
    livefeed_factory: Callable[..., LivefeedServer],
    media_backend: MediaBackend,
) -> None:
    """With every image request held back, the figure already has the photo's height:
    nothing below it moves when the bytes arrive."""
    server = start_site(livefeed_factory, media_backend)
    await api(server, "POST", "/api/feeds", json={"slug": "boxes", "title": "Boxes"})
    item = await api(
        server,
        "POST",
        "/api/feeds/boxes/media",
        files={"file": ("tall.jpg", photo(900, 1600), "image/jpeg")},
        data={"alt": "Tall"},
    )
    await api(
        server, "POST", "/api/feeds/boxes/entries", json={"body": "Tall", "media": [item["id"]]}
    )
    await page.route("**/*.{jpg,webp}", lambda route: route.abort())
    await page.goto(f"{server.base_url}/feeds/boxes")
    images = await loaded_images(page, ".lf-days")
    assert images[0]["natural"] == 0, "the image must not have loaded"
    ratio = images[0]["height"] / images[0]["width"]
    assert abs(ratio - 1600 / 900) < 0.01, images[0]


async def test_card_loads_nothing_third_party_until_clicked(
    page: Page,
    livefeed_factory: Callable[..., LivefeedServer],
    media_backend: MediaBackend,
    oembed_provider: OEmbedProvider,
) -> None:
    server = start_site(livefeed_factory, media_backend)
    await api(server, "POST", "/api/feeds", json={"slug": "video", "title": "Video"})
    card = await api(
        server, "POST", "/api/feeds/video/cards", json={"url": f"{oembed_provider.base}/watch/7"}
    )
    assert card["card"]["playable"] is True
    await api(
        server, "POST", "/api/feeds/video/entries", json={"body": "Watch", "media": [card["id"]]}
    )
    resolved = len(oembed_provider.requests)

    to_provider: list[str] = []

    def record(request: Request) -> None:
        if request.url.startswith(oembed_provider.base):
            to_provider.append(request.url)

    page.on("request", record)
    await page.goto(f"{server.base_url}/feeds/video")
    frame = page.frame_locator("iframe.lf-card-frame")
    await frame.locator("a.lf-play").wait_for()
    assert "Press conference 7" in await frame.locator("a.lf-play").inner_text()
    thumb = frame.locator("img")

    async def thumb_loaded() -> bool:
        return bool(await thumb.evaluate("img => img.complete && img.naturalWidth > 0"))

    await wait_until_async(thumb_loaded, timeout=10, message="the re-hosted thumbnail shows")
    assert to_provider == [] and len(oembed_provider.requests) == resolved
    assert await page.context.cookies(oembed_provider.base) == []

    await frame.locator("a.lf-play").click()
    player = frame.frame_locator("iframe")
    await player.locator("#player").wait_for()
    assert await player.locator("#player").inner_text() == "PLAYING"
    assert [u.removeprefix(oembed_provider.base) for u in to_provider] == ["/player/7"]
    assert "Traceback" not in server.log_text()
