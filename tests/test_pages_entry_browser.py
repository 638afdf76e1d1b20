"""Per-update pages and deep links in Chromium against a real ``livefeed serve``: a deep link
to an update on page 3 with JavaScript off and on, and an update page's social card."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from app.timeline import DEFAULT_LIMIT
from tests.reader_support import ReaderSite

PAGE_SIZE = DEFAULT_LIMIT  # what a shared link opens: the default page size


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("entry-pages")).start()
    yield s
    s.close()


async def timeline_of(site: ReaderSite, count: int) -> tuple[str, list[int]]:
    """A feed of ``count`` updates a minute apart; its slug and ids, newest first."""
    slug = f"deep-{secrets.token_hex(3)}"
    site.create_feed(slug, title="Deep links", locale="en-GB", tz="UTC")
    ids = []
    for n in range(count):
        entry = await site.post(
            slug, f"Update {n}.", published_at=f"2025-03-01T{8 + n // 60:02d}:{n % 60:02d}:00Z"
        )
        ids.append(entry["id"])
    return slug, ids[::-1]


async def shown_ids(page: Page) -> list[int]:
    ids: list[int] = await page.evaluate(
        "() => [...document.querySelectorAll('.lf-days article.lf-entry')].map(a => +a.dataset.id)"
    )
    return ids


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
async def test_deep_link_to_an_update_on_page_three(
    chromium_browser: Browser, site: ReaderSite, javascript: bool
) -> None:
    count = 3 * PAGE_SIZE + 2
    slug, newest_first = await timeline_of(site, count)
    index = 2 * PAGE_SIZE + 1  # the second update of page 3
    target = newest_first[index]
    context = await chromium_browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1000, "height": 700}
    )
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        # The way a shared link arrives: the update's own page, then "see it in the timeline".
        await page.goto(site.url(f"/feeds/{slug}/entries/{target}"))
        await expect(page.locator(f"#entry-{target}")).to_contain_text(
            f"Update {count - 1 - index}."
        )
        await page.locator("a.lf-in-timeline").click()
        await page.wait_for_url(f"**/feeds/{slug}?around={target}#entry-{target}")
        node = page.locator(f"#entry-{target}")
        await expect(node).to_be_in_viewport()
        assert (await shown_ids(page))[0] == target
        # Older from there: a plain link without JavaScript, loaded in place with it.
        await page.locator(".lf-pager .lf-older").click()
        older = page.locator(f"#entry-{newest_first[-1]}")
        if javascript:
            await expect(older).to_be_attached()
            assert f"around={target}" in page.url, "older updates load in place"
            assert (await shown_ids(page)) == newest_first[2 * PAGE_SIZE + 1 :]
        else:
            await page.wait_for_url(f"**/feeds/{slug}?before=*")
            await expect(older).to_be_attached()
            await page.go_back()
            await page.wait_for_url(f"**around={target}*")
        # Newer from there, page by page, up to the newest update.
        await page.goto(site.url(f"/feeds/{slug}?around={target}"))
        seen = await shown_ids(page)
        while await page.locator(".lf-pager .lf-newer-page").count():
            await page.locator(".lf-pager .lf-newer-page").click()
            await page.wait_for_url("**after=*")
            await expect(page.locator(".lf-days article.lf-entry").first).to_be_attached()
            seen = [*(await shown_ids(page)), *seen]
        assert seen[: 2 * PAGE_SIZE + 1] == newest_first[: 2 * PAGE_SIZE + 1]
        assert target in seen
    finally:
        await context.close()


async def test_update_page_social_card_read_in_the_browser(page: Page, site: ReaderSite) -> None:
    slug, newest_first = await timeline_of(site, 3)
    entry = await site.post(slug, "Breaking: **the vote passed** by 301 to 250.", author="Ana")
    await page.goto(site.url(f"/feeds/{slug}/entries/{entry['id']}"))
    card: dict[str, str] = await page.evaluate(
        """() => Object.fromEntries(
            [...document.head.querySelectorAll('meta[property], meta[name]')]
                .map(m => [m.getAttribute('property') || m.getAttribute('name'), m.content]))"""
    )
    url = site.url(f"/feeds/{slug}/entries/{entry['id']}")
    assert card["og:title"] == "Breaking: the vote passed by 301 to 250."
    assert card["og:description"] == card["og:title"]
    assert card["twitter:card"] == "summary" and card["og:type"] == "article"
    canonical = await page.locator("link[rel=canonical]").get_attribute("href")
    assert canonical == card["og:url"] == url
    assert await page.title() == f"{card['og:title']} — Deep links"
    # The page reads as one update, with the way into the live timeline.
    await expect(page.locator("article.lf-entry")).to_have_count(1)
    await page.locator("a.lf-newer").click()
    await page.wait_for_url(f"**/feeds/{slug}")
    await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible()
    assert (await shown_ids(page)) == [entry["id"], *newest_first]
