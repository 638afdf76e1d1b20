"""The entry lifecycle as a reader sees it, in Debian's Chromium against a real ``livefeed
serve``: a draft and a scheduled post stay off the open page until published (by the
editor, and by the scheduler), an edit shows "updated HH:MM" live, an unpublished or
deleted update disappears and a restored one comes back — all without a reload.
Every wait is on an observable condition, never a sleep."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from app.timeline import clock_time, feed_zone
from tests.reader_support import ReaderSite

LIVE = ".lf-conn[data-state='live']"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(
        tmp_path_factory.mktemp("workflow"), {"LIVEFEED_SCHEDULER_INTERVAL_SECONDS": "0.2"}
    ).start()
    yield s
    s.close()


async def call(site: ReaderSite, method: str, path: str, **kw: object) -> dict[str, object]:
    async with site.client() as c:
        r = await c.request(method, path, **kw)  # type: ignore[arg-type]
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else {}


async def test_reader_sees_only_published_work_live(page: Page, site: ReaderSite) -> None:
    slug = f"wf-{secrets.token_hex(3)}"
    site.create_feed(slug, title="Count", locale="en-GB", tz="Europe/London")
    base = f"/api/feeds/{slug}/entries"
    first = await site.post(slug, "Polls are open.")
    draft = await site.post(slug, "Exit poll (embargoed).", status="draft")
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    await page.evaluate("window.__sameDocument = true")
    articles = page.locator("article.lf-entry:not(template article)")
    await expect(page.locator(f"#entry-{first['id']}")).to_be_visible()
    assert "embargoed" not in await page.content()

    # Edits of the draft, a submission, a scheduled post: nothing shows.
    await site.patch(slug, int(str(draft["id"])), body="Exit poll: 52% (embargoed).")
    await call(site, "POST", f"{base}/{draft['id']}/submit")
    due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    timed = await site.post(slug, "Scheduled result.", status="scheduled", publish_at=due)
    # Then a published post arrives: the page is live, and still holds no draft.
    marker = await site.post(slug, "Counting starts.")
    await expect(page.locator(f"#entry-{marker['id']}")).to_be_visible()
    assert "embargoed" not in await page.content()

    # The scheduler publishes the scheduled post; the editor publishes the submission.
    await expect(page.locator(f"#entry-{timed['id']}")).to_contain_text("Scheduled result.")
    await call(site, "POST", f"{base}/{draft['id']}/publish")
    node = page.locator(f"#entry-{draft['id']}")
    await expect(node).to_contain_text("Exit poll: 52%")

    # An edit of the published update: "updated HH:MM" in the feed's zone, live.
    await expect(node.locator(".lf-edited")).to_be_hidden()
    edited = await site.patch(slug, int(str(draft["id"])), body="Exit poll: 53%.")
    when = clock_time(
        datetime.fromisoformat(str(edited["edited_at"])), feed_zone("Europe/London"), "en-GB"
    )
    await expect(node.locator(".lf-edited")).to_have_text(f"updated {when}")
    await expect(node.locator(".lf-body")).to_have_text("Exit poll: 53%.")

    # Unpublished: gone like a delete; deleted then restored: back.
    await call(site, "POST", f"{base}/{draft['id']}/unpublish")
    await expect(node).to_have_count(0)
    await site.delete(slug, int(str(first["id"])))
    await expect(page.locator(f"#entry-{first['id']}")).to_have_count(0)
    await call(site, "POST", f"{base}/{first['id']}/restore")
    await expect(page.locator(f"#entry-{first['id']}")).to_contain_text("Polls are open.")
    await expect(articles).to_have_count(3)  # first, timed, marker
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
