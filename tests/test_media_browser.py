"""Media in Chromium, against a real ``livefeed serve`` on each storage backend: photos on
the reader page (server-rendered and live inserts) and the embed, boxes reserved before the
bytes arrive, and link cards that contact the provider only after the reader's click."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, Request, Route, expect

from tests.media_support import (
    MediaBackend,
    OEmbedProvider,
    media_env,
    photo,
    png_with_alpha,
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


async def sign_in_to_feed(page: Page, server: LivefeedServer, slug: str) -> None:
    await page.goto(f"{server.base_url}/studio")
    await page.get_by_label("Reporter or admin token").fill(server.admin_token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sd-app")).to_be_visible()
    await page.get_by_label("Feed", exact=True).select_option(slug)
    await expect(page.get_by_label("Feed", exact=True)).to_have_value(slug)


async def test_studio_uploads_requires_alt_publishes_and_removes_media(
    page: Page,
    livefeed_factory: Callable[..., LivefeedServer],
    media_backend: MediaBackend,
) -> None:
    server = start_site(livefeed_factory, media_backend)
    await api(server, "POST", "/api/feeds", json={"slug": "desk", "title": "Desk"})
    await sign_in_to_feed(page, server, "desk")

    # File picker: two photos upload at once and show their thumbnails.
    await page.locator("#sd-media-file").set_input_files(
        [
            {"name": "gate.jpg", "mimeType": "image/jpeg", "buffer": photo(1200, 800, 1)},
            {"name": "logo.png", "mimeType": "image/png", "buffer": png_with_alpha()},
        ]
    )
    items = page.locator(".sd-media-item")
    await expect(items).to_have_count(2)
    await expect(page.locator(".sd-media-item.is-done")).to_have_count(2, timeout=20_000)
    for n in range(2):
        thumb = items.nth(n).locator("img.sd-media-thumb")
        await expect(thumb).to_have_attribute("src", re.compile(r"/(320|300)\.webp$"))

    # Publishing without alt text is refused, clearly, on the empty field.
    await page.locator("#sd-body").fill("From the gate")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#sd-compose-error")).to_contain_text("alt text")
    first_alt = items.nth(0).get_by_label("Alt text (what the photo shows)")
    await expect(first_alt).to_be_focused()
    await expect(first_alt).to_have_attribute("aria-invalid", "true")
    await first_alt.fill("Crowd at the gate")
    await items.nth(0).get_by_label("Caption").fill("Outside court")
    await items.nth(0).get_by_label("Credit").fill("AFP")
    await items.nth(1).get_by_label("Decorative (no alt text)").check()
    # The preview shows the update as readers will see it, photos and caption included.
    await expect(page.locator("#sd-preview figure.lf-image")).to_have_count(2)
    await expect(page.locator("#sd-preview .lf-caption")).to_have_text("Outside court")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#sd-compose-error")).to_be_empty()
    await expect(items).to_have_count(0)

    page_data = await api(server, "GET", "/api/feeds/desk/entries")
    entry = page_data["entries"][0]
    assert [(m["alt"], m["caption"], m["credit"]) for m in entry["media"]] == [
        ("Crowd at the gate", "Outside court", "AFP"),
        ("", None, None),
    ]
    studio_entry = page.locator(f"#sd-entry-{entry['id']}")
    await expect(studio_entry.locator("figure.lf-image")).to_have_count(2)

    # Remove one photo from the published entry.
    await studio_entry.get_by_role("button", name="Edit").click()
    await studio_entry.get_by_role("button", name="Remove Photo: decorative").click()
    await studio_entry.get_by_role("button", name="Save").click()
    await expect(studio_entry.locator("figure.lf-image")).to_have_count(1)
    entry = (await api(server, "GET", "/api/feeds/desk/entries"))["entries"][0]
    assert [m["alt"] for m in entry["media"]] == ["Crowd at the gate"]
    assert entry["media"][0]["caption"] == "Outside court", "edits keep the texts"
    assert "Traceback" not in server.log_text()


async def test_studio_paste_drop_progress_and_cancel(
    page: Page, livefeed_factory: Callable[..., LivefeedServer], tmp_path: Path
) -> None:
    backend = MediaBackend("local", {"media_dir": str(tmp_path / "media")}, None)
    server = start_site(livefeed_factory, backend)
    await api(server, "POST", "/api/feeds", json={"slug": "paste", "title": "Paste"})
    await sign_in_to_feed(page, server, "paste")
    b64 = base64.b64encode(photo(640, 480, 3)).decode()
    make_file = f"""name => new File([Uint8Array.from(atob("{b64}"), c => c.charCodeAt(0))],
        name, {{type: "image/jpeg"}})"""

    # Paste into the text, and drop onto the composer.
    await page.evaluate(
        f"""() => {{
        const dt = new DataTransfer(); dt.items.add(({make_file})("pasted.jpg"));
        document.getElementById("sd-body").dispatchEvent(
            new ClipboardEvent("paste", {{clipboardData: dt, bubbles: true, cancelable: true}}));
    }}"""
    )
    await page.evaluate(
        f"""() => {{
        const dt = new DataTransfer(); dt.items.add(({make_file})("dropped.jpg"));
        document.getElementById("sd-compose").dispatchEvent(
            new DragEvent("drop", {{dataTransfer: dt, bubbles: true, cancelable: true}}));
    }}"""
    )
    await expect(page.locator(".sd-media-item.is-done")).to_have_count(2, timeout=20_000)
    names = await page.locator(".sd-media-name").all_inner_texts()
    assert names == ["pasted.jpg", "dropped.jpg"]
    await expect(page.locator("#sd-body")).to_have_value("")  # the image is not pasted as text

    # A held-back upload shows its progress bar and can be cancelled: nothing is kept.
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        await held.wait()
        with contextlib.suppress(Exception):
            await route.continue_()

    await page.route("**/api/feeds/paste/media", hold)
    await page.locator("#sd-media-file").set_input_files(
        {"name": "slow.jpg", "mimeType": "image/jpeg", "buffer": photo(640, 480, 4)}
    )
    uploading = page.locator(".sd-media-item.is-uploading")
    await expect(uploading.locator("progress")).to_be_visible()
    await uploading.get_by_role("button", name="Cancel").click()
    await expect(page.locator(".sd-media-item")).to_have_count(2)
    held.set()
    await page.locator("#sd-body").fill("Two photos")
    for n in range(2):
        await page.locator(".sd-media-item").nth(n).get_by_label("Decorative (no alt text)").check()
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator(".sd-media-item")).to_have_count(0)
    entry = (await api(server, "GET", "/api/feeds/paste/entries"))["entries"][0]
    assert len(entry["media"]) == 2
    assert "Traceback" not in server.log_text()


async def test_choosing_the_open_feed_again_keeps_photos_uploading(
    page: Page, livefeed_factory: Callable[..., LivefeedServer], tmp_path: Path
) -> None:
    """Re-choosing the feed that is already open (a stray click, or a test driver selecting
    it) must not reopen it: reopening resets the composer and aborts photos in flight."""
    backend = MediaBackend("local", {"media_dir": str(tmp_path / "media")}, None)
    server = start_site(livefeed_factory, backend)
    await api(server, "POST", "/api/feeds", json={"slug": "again", "title": "Again"})
    await sign_in_to_feed(page, server, "again")
    release = asyncio.Event()

    async def hold_upload(route: Route, request: Request) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/api/feeds/again/media", hold_upload)
    await page.locator("#sd-media-file").set_input_files(
        [{"name": "gate.jpg", "mimeType": "image/jpeg", "buffer": photo(640, 480, 1)}]
    )
    await expect(page.locator(".sd-media-item.is-uploading")).to_have_count(1)
    await page.get_by_label("Feed", exact=True).select_option("again")
    # Whatever the change handler starts (a reopen reads the feed first) has its answer
    # once a request the page sends after it has been answered.
    await page.evaluate(
        "t => fetch('/api/feeds/again', {headers: {Authorization: 'Bearer ' + t}})",
        server.admin_token,
    )
    await page.evaluate("() => new Promise(r => setTimeout(r, 0))")
    release.set()
    await expect(page.locator(".sd-media-item.is-done")).to_have_count(1, timeout=20_000)
