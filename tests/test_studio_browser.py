"""The reporter console in Debian's Chromium against a real ``livefeed serve``, with a reader
page open in another tab that must show every change live.

No sleeps: every wait is on an observable condition (``expect``/``wait_for_*``).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.async_api import Page, Route, expect

from tests.embed_support import Admin
from tests.support.fixtures import unique_name
from tests.support.services import LivefeedServer

ENTRY = "article.lf-entry"
LIVE = ".lf-conn[data-state='live']"

Factory = Callable[..., LivefeedServer]


async def sign_in(page: Page, server: LivefeedServer, token: str) -> None:
    await page.goto(server.url("/studio"))
    await page.get_by_label("Reporter or admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sd-app")).to_be_visible()
    await expect(page.locator("#sd-feed-title")).not_to_be_empty()


async def test_console_runs_a_live_blog_and_readers_see_each_change(
    page: Page, livefeed_factory: Factory
) -> None:
    server = livefeed_factory()
    admin = Admin(server)
    slug = unique_name("desk")

    # A wrong token gets a clear message; the admin token signs in.
    await page.goto(server.url("/studio"))
    await page.get_by_label("Reporter or admin token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sd-signin-error")).to_contain_text("not valid")
    await sign_in(page, server, "test-admin-token")
    await expect(page.locator("#sd-who-name")).to_have_text("Admin")

    # Admin: create the feed from the console; it becomes the current one.
    await page.get_by_label("Slug").fill(slug)
    await page.get_by_label("Title", exact=True).fill("City council vote")
    await page.get_by_label("Time zone").fill("Europe/Paris")
    await page.get_by_role("button", name="Create feed").click()
    await expect(page.locator("#sd-feed-title")).to_have_text("City council vote")
    await expect(page.get_by_label("Feed", exact=True)).to_have_value(slug)

    # The embed code offered is the oEmbed snippet.
    await page.get_by_text("Embed on another site").click()
    oembed = await admin.call("GET", f"/oembed?url={server.base_url}/feeds/{slug}&format=json")
    await expect(page.get_by_label("Embed code")).to_have_value(oembed["html"])

    # Admin: a reporter token for it, shown once, with a copy button that works.
    await page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=server.base_url
    )
    await page.get_by_label("Reporter’s name").fill("Jane Doe")
    await page.get_by_role("button", name="Create token").click()
    token_field = page.get_by_label("New token — shown once, copy it now")
    await expect(token_field).not_to_have_value("")
    token = await token_field.input_value()
    await page.get_by_role("button", name="Copy token").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == token
    async with httpx.AsyncClient(timeout=10) as http:
        who = await http.get(
            server.url("/api/whoami"), headers={"Authorization": f"Bearer {token}"}
        )
    # Today's fields are kept (accounts added more: kind, role, rights…).
    assert {key: who.json()[key] for key in ("is_admin", "feed", "name")} == {
        "is_admin": False,
        "feed": slug,
        "name": "Jane Doe",
    }

    # A reader has the feed open in another tab.
    reader = await page.context.new_page()
    await reader.goto(server.url(f"/feeds/{slug}"))
    await reader.wait_for_selector(LIVE, state="attached")
    reader_bodies = reader.locator(f"{ENTRY} .lf-body")

    # Compose with a live preview; Ctrl+Enter publishes.
    body = page.get_by_label("Text (Markdown)")
    await body.fill("The vote is **open**.")
    await expect(page.locator("#sd-preview strong")).to_have_text("open")
    await body.press("Control+Enter")
    await expect(reader_bodies.first).to_have_text("The vote is open.")
    await expect(body).to_have_value("")
    await expect(page.locator("#sd-entries .sd-entry")).to_have_count(1)

    # The button publishes too; a double click still posts once.
    await body.fill("Councillors are arriving.")
    await page.get_by_role("button", name="Publish").dblclick()
    await expect(reader_bodies.first).to_have_text("Councillors are arriving.")
    await expect(page.locator("#sd-entries .sd-entry")).to_have_count(2)
    assert [e["body"] for e in await admin.entries(slug)] == [
        "Councillors are arriving.",
        "The vote is **open**.",
    ]

    first_id = (await admin.entries(slug))[1]["id"]
    first = page.locator(f"#sd-entry-{first_id}")
    await expect(first).to_contain_text("The vote is open.")

    # Edit.
    await first.get_by_role("button", name="Edit").click()
    await first.get_by_label("Edit update").fill("The vote is **open** in the main chamber.")
    await first.get_by_role("button", name="Save").click()
    await expect(reader.locator(f"#entry-{first_id} .lf-body")).to_have_text(
        "The vote is open in the main chamber."
    )
    await expect(first.locator(".sd-entry-body")).to_have_text(
        "The vote is open in the main chamber."
    )

    # Pin, then key event.
    await first.get_by_role("button", name="Pin").click()
    await expect(reader.locator(f".lf-pinned #entry-{first_id}")).to_be_visible()
    await expect(first.get_by_role("button", name="Unpin")).to_have_attribute(
        "aria-pressed", "true"
    )
    await first.get_by_role("button", name="Key event").click()
    await expect(reader.locator(".lf-keyevents")).to_contain_text("main chamber")

    # Delete asks first; cancelling keeps the entry.
    second = page.locator("#sd-entries .sd-entry", has_text="Councillors are arriving.")
    dialog = page.locator("#sd-confirm")
    await second.get_by_role("button", name="Delete").click()
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(second).to_have_count(1)
    await second.get_by_role("button", name="Delete").click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(second).to_have_count(0)
    await expect(reader_bodies.filter(has_text="Councillors")).to_have_count(0)
    await expect(reader_bodies).to_have_count(1)

    # End the feed (confirmed); the reader is told; then reopen it.
    await page.get_by_role("button", name="End the live blog").click()
    await dialog.get_by_role("button", name="End live blog").click()
    await expect(reader.locator(".lf-ended")).to_be_visible()
    await expect(reader.locator(".lf-status[data-status]")).to_have_attribute(
        "data-status", "ended"
    )
    await expect(page.locator("#sd-feed-status")).to_have_text("Ended")
    await page.get_by_role("button", name="Reopen the live blog").click()
    await expect(page.locator("#sd-feed-status")).to_have_text("Live")
    assert (await admin.call("GET", f"/api/feeds/{slug}"))["status"] == "live"


async def test_reporter_drafts_survive_outages_and_never_post_twice(
    page: Page, livefeed_factory: Factory
) -> None:
    server = livefeed_factory({"LIVEFEED_MAX_ENTRY_BODY_CHARS": "200"})
    admin = Admin(server)
    slug = unique_name("beat")
    await admin.feed(slug, "Storm watch")
    other = unique_name("other")
    await admin.feed(other, "Someone else's feed")
    token = await admin.token(slug, "Sam")

    await sign_in(page, server, token)
    # A reporter token is scoped to its feed: no feed picker, no admin tools; as the editor
    # of its feed (feed.update) it may end it.
    await expect(page.locator("#sd-who-name")).to_have_text(f"Sam · {slug}")
    await expect(page.locator("#sd-feed-title")).to_have_text("Storm watch")
    await expect(page.get_by_label("Feed", exact=True)).to_be_hidden()
    await expect(page.locator("#sd-admin")).to_be_hidden()
    await expect(page.get_by_role("button", name="End the live blog")).to_be_enabled()
    await expect(page.locator("#sd-status-hint")).to_be_hidden()

    body = page.get_by_label("Text (Markdown)")
    error = page.locator("#sd-compose-error")
    publish = page.get_by_role("button", name="Publish")

    # Validation: nothing to publish; too long (the server's 413 detail is shown).
    await publish.click()
    await expect(error).to_have_text("Write something first.")
    await body.fill("x" * 250)
    await publish.click()
    await expect(error).to_contain_text("the limit is 200")

    # The draft survives a reload (and the token stays for the tab).
    await body.fill("Winds of 120 km/h on the coast.")
    await page.reload()
    await expect(page.locator("#sd-app")).to_be_visible()
    await expect(body).to_have_value("Winds of 120 km/h on the coast.")

    # Network down: a clear message, nothing lost.
    await page.context.set_offline(True)
    await publish.click()
    await expect(error).to_contain_text("Can’t reach the server")
    await expect(body).to_have_value("Winds of 120 km/h on the coast.")
    await page.context.set_offline(False)
    assert await admin.entries(slug) == []

    # The response is lost after the server stored the entry; the retry reuses the key.
    keys: list[str] = []

    async def lose_first_response(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()  # reaches the server...
            await route.abort("connectionreset")  # ...but the answer never arrives
        else:
            await route.continue_()

    entries_url = server.url(f"/api/feeds/{slug}/entries")
    await page.route(entries_url, lose_first_response)
    await publish.click()
    await expect(error).to_contain_text("Can’t reach the server")
    assert [e["body"] for e in await admin.entries(slug)] == ["Winds of 120 km/h on the coast."]
    # The reporter fixes a typo before retrying: still one entry, with the fixed text.
    await body.fill("Winds of 130 km/h on the coast.")
    await publish.click()
    await expect(body).to_have_value("")
    await expect(page.locator("#sd-entries .sd-entry")).to_have_count(1)
    await expect(page.locator("#sd-entries .sd-entry-body")).to_have_text(
        "Winds of 130 km/h on the coast."
    )
    await page.unroute(entries_url)
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [e["body"] for e in await admin.entries(slug)] == ["Winds of 130 km/h on the coast."]

    # The next draft gets a new key.
    await body.fill("Trains are cancelled.")
    await body.press("Control+Enter")
    await expect(page.locator("#sd-entries .sd-entry")).to_have_count(2)
    assert len(await admin.entries(slug)) == 2

    # A token that is no longer valid sends the reporter back to sign in, with the reason.
    await page.evaluate("sessionStorage.setItem('livefeed.studio.token', 'revoked-token')")
    await page.reload()
    await expect(page.locator("#sd-signin")).to_be_visible()
    await expect(page.locator("#sd-signin-error")).to_contain_text("not valid")
    assert await admin.entries(other) == []
