"""The studio in the user's language in Chromium (``Accept-Language``, then the chooser), and
the open feed's live reader count, updating as readers come and go."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from app.studio_strings import studio_strings
from tests.reader_support import ADMIN_TOKEN, ReaderSite

ENV = {"LIVEFEED_READERS_INTERVAL_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("studio-i18n"), env=ENV).start()
    yield s
    s.close()


async def test_studio_speaks_the_browsers_language_and_shows_the_live_reader_count(
    chromium_browser: Browser, site: ReaderSite, tmp_path: Path
) -> None:
    slug = "compteur"
    site.create_feed(slug, title="Direct", locale="fr-FR", tz="Europe/Paris")
    fr, de = studio_strings("fr"), studio_strings("de")
    studio = await chromium_browser.new_context(locale="fr-FR")  # Accept-Language: fr-FR
    readers = [await chromium_browser.new_context() for _ in range(2)]
    try:
        page = await studio.new_page()
        await page.goto(site.url("/studio"))
        assert await page.get_attribute("html", "lang") == "fr"
        # Words of the template and of the browser code alike come from the catalog.
        await page.get_by_label(fr["token_label"]).fill("pas-un-jeton")
        await page.get_by_role("button", name=fr["sign_in"], exact=True).click()
        await expect(page.locator("#sd-signin-error")).to_have_text(fr["token_invalid"])
        await page.get_by_label(fr["token_label"]).fill(ADMIN_TOKEN)
        await page.get_by_role("button", name=fr["sign_in"], exact=True).click()
        await expect(page.locator("#sd-app")).to_be_visible()

        # The studio's own live connection counts as one reader of the feed it has open.
        count = page.locator("#sd-readers")
        await expect(count).to_have_text("1 lecteur", timeout=15_000)
        reader_pages = []
        for context in readers:
            reader = await context.new_page()
            await reader.goto(site.url(f"/feeds/{slug}"))
            reader_pages.append(reader)
        await expect(count).to_have_text("3 lecteurs", timeout=15_000)
        await readers[1].close()
        await expect(count).to_have_text("2 lecteurs", timeout=15_000)

        # The chooser switches language (and is remembered over Accept-Language).
        await page.locator("#sd-lang").select_option("de")
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        await expect(page.get_by_role("button", name=de["sign_out"])).to_be_visible()
        await expect(count).to_have_text("2 Leser", timeout=15_000)
        assert "lang=" not in page.url
        await page.reload()
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        await page.screenshot(path=str(tmp_path / "studio-de.png"))
    finally:
        for context in (studio, *readers):
            with contextlib.suppress(Exception):
                await context.close()


async def test_arabic_studio_reads_right_to_left_without_overflow(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    site.create_feed("rtl-studio", title="تغطية", locale="ar-EG", tz="Africa/Cairo")
    ar = studio_strings("ar")
    context = await chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(site.url("/studio?lang=ar"))
        await page.get_by_label(ar["token_label"]).fill(ADMIN_TOKEN)
        await page.get_by_role("button", name=ar["sign_in"], exact=True).click()
        await expect(page.locator("#sd-app")).to_be_visible()
        assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        # Nothing pushes the console sideways (a hidden file input once did, in RTL only).
        width = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1], width
        side = await page.locator(".sd-side").bounding_box()
        work = await page.locator(".sd-work").bounding_box()
        assert side is not None and work is not None
        assert side["x"] > work["x"], "the settings column is on the right, where lines start"
    finally:
        await context.close()
