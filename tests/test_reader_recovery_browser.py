"""The live client (reader page, and the studio that shares it) recovering in Debian's Chromium
against a real ``livefeed serve``.

Each test forces one recovery path of ``web/static/lib/live-client.js`` and the reader's
``Timeline`` and checks what the reader sees, and how it got there (which requests the page
made). Waits are on observable conditions; where a test must show that something does *not*
happen later (no reconnect), it fast-forwards the page's own clock (Playwright's fake timers)
past every delay the client could have scheduled, instead of sleeping.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, Response, expect

from tests.ops_support import NginxProxy
from tests.reader_support import ADMIN_TOKEN, ReaderSite

LIVE = ".lf-conn[data-state='live']"
STOPPED = ".lf-conn[data-state='stopped']"

#: Counts WebSocket constructions in the page (Playwright's events arrive asynchronously).
COUNT_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  if (!Native) return;
  window.__sockets = 0;
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets += 1; }
  };
})();
"""


def new_slug(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[ReaderSite]:
    """A server of its own: these tests restore its database."""
    s = ReaderSite(tmp_path).start()
    yield s
    assert "Traceback" not in s.server.log_text(), s.server.log_text()[-4000:]
    s.close()


@pytest.fixture
def small_catchup_site(tmp_path: Path) -> Iterator[ReaderSite]:
    """A server that serves at most 3 events of catch-up: further behind, readers get reset."""
    s = ReaderSite(tmp_path, {"LIVEFEED_CATCHUP_MAX_EVENTS": "3"}).start()
    yield s
    assert "Traceback" not in s.server.log_text(), s.server.log_text()[-4000:]
    s.close()


async def bodies(page: Page) -> list[str]:
    texts: list[str] = await page.locator("article.lf-entry .lf-body").all_inner_texts()
    return [t.strip() for t in texts]


async def key_events(page: Page) -> list[str]:
    texts: list[str] = await page.locator(".lf-keyevents-list .lf-ke-text").all_inner_texts()
    return [t.strip() for t in texts]


def first_page_request(slug: str):  # type: ignore[no-untyped-def]
    return lambda r: f"/api/feeds/{slug}/entries?limit=" in r.url and "before=" not in r.url


# -- reset ------------------------------------------------------------------------------------


async def test_reset_when_the_page_is_ahead_after_a_database_restore(
    page: Page, site: ReaderSite, tmp_path: Path
) -> None:
    slug = new_slug("ahead")
    site.create_feed(slug, title="Restore", locale="en-GB", tz="UTC")
    await site.post(slug, "Kept.", key_event=True)
    backup = tmp_path / "backup.db"
    site.snapshot(backup)  # the feed at rev 1
    await site.post(slug, "Lost one.", key_event=True)
    await site.post(slug, "Lost two.")
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    assert await bodies(page) == ["Lost two.", "Lost one.", "Kept."]
    assert await key_events(page) == ["Lost one.", "Kept."]

    # The server comes back at rev 1; the page holds rev 3: ahead of the feed.
    # The page's next try comes within its largest backoff delay (30 s) of the restart.
    async with page.expect_request(first_page_request(slug), timeout=90_000):
        site.restore(backup)
    await expect(page.locator("article.lf-entry .lf-body")).to_have_text(["Kept."])
    await expect(page.locator(".lf-keyevents-list .lf-ke-text")).to_have_text(["Kept."])
    await page.wait_for_selector(LIVE, state="attached")

    # The feed goes on from rev 2, which the page had already seen before the restore: it
    # must take the server's rev as its own, or it would drop the next changes as old.
    after = await site.post(slug, "After the restore.", key_event=True)
    await expect(page.locator(f"#entry-{after['id']}")).to_be_visible()
    assert await bodies(page) == ["After the restore.", "Kept."]
    assert await key_events(page) == ["After the restore.", "Kept."]


async def test_reset_when_the_page_is_too_far_behind(
    page: Page, small_catchup_site: ReaderSite
) -> None:
    site = small_catchup_site
    slug = new_slug("behind")
    site.create_feed(slug, title="Far behind", locale="en-GB", tz="UTC")
    await site.post(slug, "Before.")
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    await page.context.set_offline(True)
    await page.wait_for_selector(".lf-conn[data-state='offline']", state="attached")
    missed = [await site.post(slug, f"Missed {i}.") for i in range(5)]
    await site.delete(slug, missed[0]["id"])
    # Six changes behind, the server will not replay them (at most 3): it says reset, and
    # the page reloads its first page instead of waiting for events that never come.
    async with page.expect_request(first_page_request(slug)):
        await page.context.set_offline(False)
    await expect(page.locator(f"#entry-{missed[4]['id']}")).to_be_visible()
    await page.wait_for_selector(LIVE, state="attached")
    assert await bodies(page) == ["Missed 4.", "Missed 3.", "Missed 2.", "Missed 1.", "Before."]
    later = await site.post(slug, "Live again.")
    await expect(page.locator(f"#entry-{later['id']}")).to_be_visible()


# -- transports -------------------------------------------------------------------------------


async def test_sse_fallback_is_a_real_event_stream(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    slug = new_slug("sse")
    site.create_feed(slug, title="SSE", locale="en-GB", tz="UTC")
    context = await chromium_browser.new_context()
    try:
        await context.add_init_script("delete window.WebSocket;")
        page = await context.new_page()
        streams: list[Response] = []
        polls: list[Request] = []
        page.on(
            "response",
            lambda r: (
                streams.append(r)
                if r.headers.get("content-type", "").startswith("text/event-stream")
                else None
            ),
        )
        page.on("request", lambda r: polls.append(r) if "/changes?since=" in r.url else None)
        await page.goto(site.url(f"/feeds/{slug}"))
        await page.wait_for_selector(LIVE, state="attached")
        entry = await site.post(slug, "Over SSE.")
        await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible()
        assert [r.url.split("?")[0] for r in streams] == [site.url(f"/sse/feeds/{slug}")]
        assert "since=0" in streams[0].url
        assert polls == [], "delivered by the event stream, not by polling the change log"
    finally:
        await context.close()


async def test_polling_fallback_polls_the_change_log(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    slug = new_slug("poll")
    site.create_feed(slug, title="Polling", locale="en-GB", tz="UTC")
    context = await chromium_browser.new_context()
    try:
        await context.add_init_script("delete window.WebSocket; delete window.EventSource;")
        page = await context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        await page.goto(site.url(f"/feeds/{slug}"))
        await page.wait_for_selector(LIVE, state="attached")
        async with page.expect_request(lambda r: "/changes?since=1" in r.url, timeout=20_000):
            entry = await site.post(slug, "Polled.")
        await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible()
        polled = [u for u in requests if f"/api/feeds/{slug}/changes?since=" in u]
        assert polled[0].endswith("since=0") and polled[-1].endswith("since=1")
        assert not [u for u in requests if "/sse/" in u or "/ws/" in u]
    finally:
        await context.close()


# -- the feed's life --------------------------------------------------------------------------


async def test_reopened_feed_resumes_live_on_an_open_page(page: Page, site: ReaderSite) -> None:
    slug = new_slug("reopen")
    site.create_feed(slug, title="Half time", locale="en-GB", tz="UTC")
    await site.post(slug, "First half.")
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    await site.patch_feed(slug, status="ended")
    await expect(page.locator(".lf-ended")).to_be_visible()
    await expect(page.locator(".lf-status")).to_have_text("Ended")
    await site.patch_feed(slug, status="live")
    await expect(page.locator(".lf-status")).to_have_text("Live")
    await expect(page.locator(".lf-ended")).to_be_hidden()
    entry = await site.post(slug, "Second half.")
    await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible()


async def test_key_events_of_the_whole_feed_survive_a_live_change(
    page: Page, site: ReaderSite
) -> None:
    """The server lists key events from the whole feed, not just the page: a live change to
    one entry must not shrink the list to the key events that happen to be on the page."""
    slug = new_slug("keys")
    site.create_feed(slug, title="Keys", locale="en-GB", tz="UTC")
    await site.post(slug, "Old key event.", key_event=True)
    for i in range(4):
        await site.post(slug, f"Filler {i}.")
    await page.goto(site.url(f"/feeds/{slug}?limit=2"))
    await page.wait_for_selector(LIVE, state="attached")
    assert await key_events(page) == ["Old key event."]
    assert "Old key event." not in await bodies(page)  # not on this page
    new = await site.post(slug, "New key event.", key_event=True)
    await expect(page.locator(f"#entry-{new['id']}")).to_be_visible()
    await expect(page.locator(".lf-keyevents-list .lf-ke-text")).to_have_text(
        ["New key event.", "Old key event."]
    )
    await site.patch(slug, new["id"], key_event=False)
    await expect(page.locator(".lf-keyevents-list .lf-ke-text")).to_have_text(["Old key event."])


# -- codes that stop --------------------------------------------------------------------------


async def test_unknown_feed_4404_stops_retrying_and_says_so(
    page: Page, site: ReaderSite, tmp_path: Path
) -> None:
    backup = tmp_path / "before-the-feed.db"
    site.snapshot(backup)
    slug = new_slug("gone")
    site.create_feed(slug, title="Gone", locale="en-GB", tz="UTC")
    await page.clock.install()
    await page.add_init_script(COUNT_SOCKETS)
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    # Restored from before the feed existed: the stream is refused with 4404.
    site.restore(backup)
    # The page's next try comes within its largest backoff delay (30 s) of the restart.
    await page.wait_for_selector(STOPPED, state="attached", timeout=90_000)
    await expect(page.locator(".lf-conn")).to_be_visible()
    await expect(page.locator(".lf-conn-text")).to_have_text("This live feed does not exist.")
    opened = await page.evaluate("window.__sockets")
    # Past every delay the client could have scheduled (backoff caps at 30 s): no new socket.
    await page.clock.run_for(120_000)
    assert await page.evaluate("window.__sockets") == opened
    await expect(page.locator(STOPPED)).to_have_count(1)


async def test_refused_origin_4403_stops_retrying_and_says_so(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    slug = new_slug("partner")
    site.create_feed(slug, title="Partners only", locale="en-GB", tz="UTC")
    await site.patch_feed(slug, allowed_origins=["https://partner.example"])
    # The reader page through deploy/nginx.conf, whose WebSocket location here also stamps
    # another site's Origin on the handshake (Chromium would send the page's own): the real
    # server refuses the stream with 4403, as it does for a page on a site not allowed.
    upstream = f"127.0.0.1:{site.server.port}"
    nginx = NginxProxy([upstream, upstream])
    conf = nginx.dir / "livefeed.conf"
    marker = "    location /ws/ {\n"
    text = conf.read_text()
    assert marker in text
    forged = '        proxy_set_header Origin "https://elsewhere.example";\n'
    conf.write_text(text.replace(marker, marker + forged, 1))
    context = await chromium_browser.new_context()
    try:
        nginx.start()
        page = await context.new_page()
        await page.clock.install()
        await page.add_init_script(COUNT_SOCKETS)
        await page.goto(f"{nginx.base_url}/feeds/{slug}")
        await page.wait_for_selector(STOPPED, state="attached", timeout=30_000)
        await expect(page.locator(".lf-conn")).to_be_visible()
        await expect(page.locator(".lf-conn-text")).to_have_text(
            "This feed cannot be shown live on this site."
        )
        opened = await page.evaluate("window.__sockets")
        await page.clock.run_for(120_000)
        assert await page.evaluate("window.__sockets") == opened
    finally:
        await context.close()
        nginx.close()


async def test_studio_list_follows_a_reset_after_a_database_restore(
    page: Page, site: ReaderSite, tmp_path: Path
) -> None:
    """The studio shares the reader's live client: after a restore its list is reloaded,
    and it takes the server's (lower) rev so the next changes are not dropped as old."""
    slug = new_slug("desk")
    site.create_feed(slug, title="Desk", locale="en-GB", tz="UTC")
    await site.post(slug, "Kept.")
    backup = tmp_path / "backup.db"
    site.snapshot(backup)
    await site.post(slug, "Lost one.")
    await site.post(slug, "Lost two.")
    await page.goto(site.url("/studio"))
    await page.get_by_label("Reporter or admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Feed", exact=True).select_option(slug)
    entries = page.locator("#sd-entries .sd-entry-body")
    await expect(entries).to_have_text(["Lost two.", "Lost one.", "Kept."])
    await page.wait_for_selector("#sd-conn[data-state='live']", state="attached")

    # The page's next try comes within its largest backoff delay (30 s) of the restart.
    async with page.expect_request(first_page_request(slug), timeout=90_000):
        site.restore(backup)
    await expect(entries).to_have_text(["Kept."])
    await page.wait_for_selector("#sd-conn[data-state='live']", state="attached")
    # From here on the stream carries the changes: no further reload (a studio that kept
    # its old rev would be told `reset` on every reconnect, reloading over and over).
    reloads: list[str] = []
    page.on("request", lambda r: reloads.append(r.url) if first_page_request(slug)(r) else None)
    after = await site.post(slug, "After the restore.")
    assert after["rev"] == 2  # a rev the studio had seen before the restore
    await expect(entries).to_have_text(["After the restore.", "Kept."])
    assert reloads == []
