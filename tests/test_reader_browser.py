"""The reader page in Debian's Chromium against a real ``livefeed serve``.

Every wait is on an observable condition (Playwright ``expect``/``wait_for_*``), never a sleep.
Set ``LIVEFEED_SCREENSHOT=docs/reader.png`` to write the README screenshot from a real run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.media_support import press_room
from tests.reader_support import ROOT, ReaderSite, fixture_days

LIVE = ".lf-conn[data-state='live']"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("reader")).start()
    yield s
    s.close()


def new_slug(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def open_live(page: Page, site: ReaderSite, slug: str) -> None:
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")


async def timeline_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(
        """() => ({
            headings: [...document.querySelectorAll('.lf-days .lf-day-heading')]
                .map(h => h.textContent.trim()),
            bodies: [...document.querySelectorAll('.lf-days article.lf-entry .lf-body')]
                .map(b => b.textContent.replace(/\\s+/g, ' ').trim()),
            times: [...document.querySelectorAll('.lf-days article.lf-entry time')]
                .map(t => t.textContent.trim()),
        })"""
    )
    return state


async def entry_top(page: Page, selector: str) -> float:
    top: float = await page.evaluate(
        "s => document.querySelector(s).getBoundingClientRect().top", selector
    )
    return top


# -- the export, with and without JavaScript --------------------------------------------------


async def test_imported_export_with_js_off_and_on(
    chromium_browser: Browser, page: Page, site: ReaderSite
) -> None:
    slug = new_slug("fr")
    site.create_feed(slug, title="IXe Conférence de Moscou sur la sécurité internationale")
    site.import_fixture(slug)
    days = fixture_days()
    headings = [d.heading for d in days]
    bodies = [t for d in days for t in d.entries]

    context = await chromium_browser.new_context(java_script_enabled=False)
    try:
        nojs = await context.new_page()
        # Small pages so that reading it all needs the plain ?before= links.
        await nojs.goto(site.url(f"/feeds/{slug}?limit=10"))
        seen: dict[str, list[str]] = {"headings": [], "bodies": [], "times": []}
        while True:
            state = await timeline_state(nojs)
            for h in state["headings"]:
                if not seen["headings"] or seen["headings"][-1] != h:
                    seen["headings"].append(h)
            seen["bodies"] += state["bodies"]
            seen["times"] += state["times"]
            older = nojs.locator("a.lf-older")
            if not await older.count():
                break
            await older.click()
            await nojs.wait_for_load_state()
        assert seen["headings"] == headings
        assert seen["bodies"] == bodies
        assert set(seen["times"]) == {""}, "imported entries have no clock time"
    finally:
        await context.close()

    # JavaScript on: the first page, then older ones through the button, in place.
    await page.goto(site.url(f"/feeds/{slug}?limit=10"))
    await page.wait_for_selector(LIVE, state="attached")
    older_button = page.locator("button.lf-older")
    while await older_button.is_visible():
        count = await page.locator("article.lf-entry").count()
        await older_button.click()
        await expect(page.locator("article.lf-entry")).not_to_have_count(count)
    state = await timeline_state(page)
    assert state["headings"] == headings
    assert state["bodies"] == bodies
    assert set(state["times"]) == {""}
    assert "?before=" not in page.url, "older entries loaded without leaving the page"

    if target := os.environ.get("LIVEFEED_SCREENSHOT"):
        await make_screenshot(page, site, slug, ROOT / target)


async def make_screenshot(page: Page, site: ReaderSite, slug: str, path: Path) -> None:
    """The README picture: the imported blog with a live key event carrying a photo."""
    await site.patch_feed(
        slug, description="Ministres, militaires et experts réunis pour la 9e édition."
    )
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(LIVE, state="attached")
    async with site.client() as c:
        uploaded = await c.post(
            f"/api/feeds/{slug}/media",
            files={"file": ("salle.jpg", press_room(), "image/jpeg")},
            data={
                "alt": "La salle plénière vide, l'écran allumé au-dessus du pupitre",
                "caption": "La salle plénière après le départ de la délégation russe.",
                "credit": "Photo : Rédaction",
            },
        )
    assert uploaded.status_code == 201, uploaded.text
    entry = await site.post(
        slug,
        "Sergueï Lavrov quitte la salle : la **session plénière** est suspendue.",
        author="Rédaction",
        key_event=True,
        published_at="2021-06-24T17:42:00+02:00",
        media=[uploaded.json()["id"]],
    )
    await page.wait_for_selector(f"#entry-{entry['id']} figure img")
    await page.wait_for_function(
        "id => { const img = document.querySelector(`#entry-${id} figure img`);"
        " return img.complete && img.naturalWidth > 0; }",
        arg=entry["id"],
    )
    await page.set_viewport_size({"width": 1100, "height": 1300})
    # Freeze the arrival highlight out of the picture.
    await page.evaluate(
        """() => {
            document.querySelectorAll('.lf-fresh').forEach(n => n.classList.remove('lf-fresh'));
            window.scrollTo(0, 0);
        }"""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path))


# -- live changes -----------------------------------------------------------------------------


async def test_live_insert_edit_pin_key_event_delete_without_reload(
    page: Page, site: ReaderSite
) -> None:
    slug = new_slug("live")
    site.create_feed(slug, title="Election night", locale="en-GB", tz="Europe/London")
    first = await site.post(slug, "Polls are open.", published_at="2025-10-12T07:00:00+01:00")
    await open_live(page, site, slug)
    await page.evaluate("window.__sameDocument = true")

    entry = await site.post(
        slug, "Turnout is **high**.", author="Sam", published_at="2025-10-12T09:30:00+01:00"
    )
    node = page.locator(f"#entry-{entry['id']}")
    await expect(node).to_contain_text("Turnout is high.")
    await expect(node.locator("time")).to_have_text("09:30")
    await expect(node.locator(".lf-author")).to_have_text("Sam")
    await expect(page.locator(".lf-announcer")).to_contain_text("1 new update")
    assert await page.locator("article.lf-entry").first.get_attribute("id") == node_id(entry)

    await site.patch(slug, entry["id"], body="Turnout is *very* high.")
    await expect(node.locator(".lf-body")).to_have_text("Turnout is very high.")

    await site.patch(slug, first["id"], pinned=True)
    await expect(page.locator(f".lf-pinned #entry-{first['id']}")).to_be_visible()
    await expect(page.locator(f"#entry-{first['id']} .lf-badge-pinned")).to_be_visible()

    await site.patch(slug, entry["id"], key_event=True)
    summary = page.locator(f".lf-keyevents a[href='#entry-{entry['id']}']")
    await expect(summary).to_contain_text("Turnout is very high.")
    await expect(summary.locator(".lf-ke-when")).to_have_text("09:30")

    await site.patch(slug, first["id"], pinned=False)
    await expect(page.locator(f".lf-days #entry-{first['id']}")).to_be_visible()
    await expect(page.locator(".lf-pinned")).to_be_hidden()

    await site.delete(slug, entry["id"])
    await expect(node).to_have_count(0)
    await expect(page.locator(".lf-keyevents")).to_be_hidden()
    assert await page.evaluate("window.__sameDocument === true"), "the page was not reloaded"


def node_id(entry: dict[str, Any]) -> str:
    return f"entry-{entry['id']}"


async def test_live_day_heading_and_time_match_the_server(page: Page, site: ReaderSite) -> None:
    """A heading the browser creates is the one the server would have rendered."""
    slug = new_slug("newday")
    site.create_feed(slug, title="Nuit", locale="fr-FR", tz="Europe/Paris")
    await site.post(slug, "Veille.", published_at="2031-03-09T20:00:00+01:00")
    await open_live(page, site, slug)
    # 23:30 UTC on the 9th is 00:30 on Monday 10 March in Paris.
    entry = await site.post(slug, "Après minuit.", published_at="2031-03-09T23:30:00Z")
    await page.wait_for_selector(f"#entry-{entry['id']}")
    live = await timeline_state(page)
    assert live["headings"] == ["Lundi 10 mars", "Dimanche 9 mars"]
    assert live["times"] == ["00:30", "20:00"]
    live_meta = await entry_meta(page, entry["id"])
    await page.reload()
    await page.wait_for_selector(LIVE, state="attached")
    assert await timeline_state(page) == live
    assert await entry_meta(page, entry["id"]) == live_meta


async def entry_meta(page: Page, entry_id: int) -> dict[str, Any]:
    """What an entry's header says, whether the server or the browser wrote it."""
    meta: dict[str, Any] = await page.evaluate(
        """id => {
            const a = document.getElementById('entry-' + id);
            const t = a.querySelector('time');
            return {
                classes: [...a.classList].filter(c => c !== 'lf-fresh'),
                attrs: ['data-id', 'data-ts', 'data-day', 'data-has-time']
                    .map(n => a.getAttribute(n)),
                time: t.textContent,
                instant: Date.parse(t.getAttribute('datetime')),
                href: a.querySelector('.lf-permalink').getAttribute('href'),
                badges: [...a.querySelectorAll('.lf-badge')].map(b => [b.textContent, b.hidden]),
                author: [...a.querySelectorAll('.lf-author')].map(b => [b.textContent, b.hidden]),
                meta: a.querySelector('.lf-meta').textContent.replace(/\\s+/g, ' ').trim(),
            };
        }""",
        entry_id,
    )
    return meta


async def test_scrolled_reader_is_not_moved(page: Page, site: ReaderSite) -> None:
    slug = new_slug("scroll")
    site.create_feed(slug, title="Long day", locale="en-GB", tz="UTC")
    ids = []
    for i in range(20):
        e = await site.post(
            slug, f"Update {i}. " + "A fairly long paragraph of reporting. " * 6,
            published_at=f"2025-10-12T{8 + i // 4:02d}:{(i % 4) * 15:02d}:00Z",
        )  # fmt: skip
        ids.append(e["id"])
    await page.set_viewport_size({"width": 800, "height": 600})
    await open_live(page, site, slug)
    title = await page.title()
    anchor = f"#entry-{ids[10]}"
    await page.locator(anchor).scroll_into_view_if_needed()
    await page.evaluate(
        "s => window.scrollBy(0, document.querySelector(s).getBoundingClientRect().top - 100)",
        anchor,
    )
    before = await entry_top(page, anchor)

    news = await site.post(slug, "Breaking: result declared.")
    button = page.locator(".lf-new")
    await expect(button).to_be_visible()
    await expect(button).to_have_text("1 new update")
    await expect(page).to_have_title(f"(1) {title}")
    assert await entry_top(page, anchor) == before
    await expect(page.locator(f"#entry-{news['id']}")).to_be_hidden()

    # Edits and deletions above the reader do not move them either.
    await site.patch(slug, ids[15], body="Much longer now. " + "More detail was added. " * 40)
    await expect(page.locator(f"#entry-{ids[15]}")).to_contain_text("Much longer now.")
    assert abs(await entry_top(page, anchor) - before) < 1
    await site.delete(slug, ids[18])
    await expect(page.locator(f"#entry-{ids[18]}")).to_have_count(0)
    assert abs(await entry_top(page, anchor) - before) < 1

    second = await site.post(slug, "Second piece of news.")
    await expect(button).to_have_text("2 new updates")
    await expect(page).to_have_title(f"(2) {title}")
    assert abs(await entry_top(page, anchor) - before) < 1
    await site.delete(slug, second["id"])
    await expect(button).to_have_text("1 new update")

    # From the keyboard: focus the button, press Enter: the news shows and the view goes up.
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#entry-{news['id']}")).to_be_visible()
    await expect(button).to_be_hidden()
    await expect(page).to_have_title(title)
    await page.wait_for_function("() => window.scrollY < 400")
    await expect(page.locator(f"#entry-{news['id']}")).to_be_in_viewport()


async def test_offline_then_online_catches_up(page: Page, site: ReaderSite) -> None:
    slug = new_slug("offline")
    site.create_feed(slug, title="Train", locale="en-GB", tz="UTC")
    await site.post(slug, "Departure.")
    await open_live(page, site, slug)
    await page.context.set_offline(True)
    await page.wait_for_selector(".lf-conn[data-state='offline']", state="attached")
    missed = [await site.post(slug, f"Missed {i}.") for i in range(3)]
    await site.delete(slug, missed[0]["id"])
    await page.context.set_offline(False)
    await expect(page.locator(f"#entry-{missed[2]['id']}")).to_be_visible()
    await expect(page.locator(f"#entry-{missed[1]['id']}")).to_be_visible()
    await expect(page.locator(f"#entry-{missed[0]['id']}")).to_have_count(0)
    await page.wait_for_selector(LIVE, state="attached")
    state = await timeline_state(page)
    assert state["bodies"] == ["Missed 2.", "Missed 1.", "Departure."]


@pytest.mark.parametrize("missing", ["WebSocket", "WebSocket,EventSource"])
async def test_falls_back_to_sse_then_polling(
    chromium_browser: Browser, site: ReaderSite, missing: str
) -> None:
    slug = new_slug("fallback")
    site.create_feed(slug, title="Fallback", locale="en-GB", tz="UTC")
    context: BrowserContext = await chromium_browser.new_context()
    try:
        for name in missing.split(","):
            await context.add_init_script(f"delete window.{name};")
        page = await context.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        await open_live(page, site, slug)
        entry = await site.post(slug, "Delivered anyway.")
        await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible(timeout=15_000)
        assert sockets == []
    finally:
        await context.close()


async def test_ended_feed_says_so_and_stops(page: Page, site: ReaderSite) -> None:
    slug = new_slug("ended")
    site.create_feed(slug, title="Match", locale="en-GB", tz="UTC")
    await site.post(slug, "Kick-off.")
    await open_live(page, site, slug)
    await site.patch_feed(slug, status="ended")
    await expect(page.locator(".lf-ended")).to_be_visible()
    await expect(page.locator(".lf-status")).to_have_text("Ended")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.reload()
    await expect(page.locator(".lf-ended")).to_have_text("This live blog has ended.")
    config = json.loads(await page.locator("script.lf-config").text_content() or "{}")
    assert config["live"] is False
    await page.wait_for_load_state("networkidle")
    assert sockets == []


def luminance(css_rgb: str) -> float:
    """WCAG relative luminance of a computed ``rgb(r, g, b)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_rgb)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


async def test_narrow_screen_dark_scheme_and_reduced_motion(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    slug = new_slug("mobile")
    site.create_feed(slug, title="A rather long headline for a small phone screen", tz="UTC")
    await site.post(slug, "https://example.org/" + "a-very-long-unbroken-url-" * 8)
    context = await chromium_browser.new_context(
        viewport={"width": 360, "height": 740}, color_scheme="dark", reduced_motion="reduce"
    )
    try:
        page = await context.new_page()
        await open_live(page, site, slug)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        colors = await page.evaluate(
            "() => [getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.body).color]"
        )
        # The dark scheme is in effect: a dark background, light text, readable contrast.
        background, text = (luminance(c) for c in colors)
        assert background < 0.05 < 0.5 < text, colors
        assert (text + 0.05) / (background + 0.05) >= 7, f"contrast below WCAG AAA: {colors}"
        entry = await site.post(slug, "Arrives without animation.")
        node = page.locator(f"#entry-{entry['id']}")
        await expect(node).to_have_class("lf-entry lf-fresh")
        assert await node.evaluate("n => getComputedStyle(n).animationName") == "none"
    finally:
        await context.close()


async def test_server_restart_reconnects_and_resumes(page: Page, site: ReaderSite) -> None:
    slug = new_slug("restart")
    site.create_feed(slug, title="Restart", locale="en-GB", tz="UTC")
    await site.post(slug, "Before the restart.")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await open_live(page, site, slug)
    assert len(sockets) == 1 and sockets[0].endswith("?since=1")
    site.server.restart()
    entry = await site.post(slug, "After the restart.")
    await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible(timeout=30_000)
    # Back on a WebSocket (a transport that worked is not given up for an outage),
    # resumed from the rev the page had reached.
    assert sockets[-1].startswith(site.server.ws_url) and "since=1" in sockets[-1]
    assert (await timeline_state(page))["bodies"] == ["After the restart.", "Before the restart."]


async def test_background_tab_catches_up_when_it_wakes(page: Page, site: ReaderSite) -> None:
    """A tab that slept with a socket that silently stopped delivering (events dropped on
    the way) shows what it missed as soon as it becomes visible again."""
    slug = new_slug("wake")
    site.create_feed(slug, title="Night shift", locale="en-GB", tz="UTC")
    await site.post(slug, "Before sleep.")
    asleep = {"value": False}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda message: None if asleep["value"] else ws.send(message))

    await page.route_web_socket("**/ws/feeds/**", relay)
    await open_live(page, site, slug)
    await page.evaluate(
        """() => {
            window.__hidden = true;
            Object.defineProperty(document, 'hidden',
                {configurable: true, get: () => window.__hidden});
            Object.defineProperty(document, 'visibilityState', {configurable: true,
                get: () => (window.__hidden ? 'hidden' : 'visible')});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    asleep["value"] = True
    missed = await site.post(slug, "While you slept.")
    # The socket is still open but dropped the event: nothing shows while the tab sleeps.
    await expect(page.locator(f"#entry-{missed['id']}")).to_have_count(0)
    # Waking is what brings it: the page asks the change log over HTTP.
    async with page.expect_request(lambda r: "/changes?since=" in r.url) as asked:
        await page.evaluate(
            "() => { window.__hidden = false;"
            " document.dispatchEvent(new Event('visibilitychange')); }"
        )
    assert f"/api/feeds/{slug}/changes" in (await asked.value).url
    await expect(page.locator(f"#entry-{missed['id']}")).to_be_visible()
    state = await timeline_state(page)
    assert state["bodies"] == ["While you slept.", "Before sleep."]
