"""The studio's team work in Debian's Chromium against a real ``livefeed serve``: two people in
two browser contexts (a contributor and an editor) and a reader in a third. The contributor
writes and submits; the editor sees it arrive live, reviews, publishes and schedules; the
reader sees each update only once it is published — checked absent before.

No sleeps: every wait is on an observable condition (``expect``/``wait_for_*``).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.fixtures import unique_name
from tests.support.services import LivefeedServer

ENTRY = "article.lf-entry"
LIVE = ".lf-conn[data-state='live']"
ADMIN = {"Authorization": "Bearer test-admin-token"}

Factory = Callable[..., LivefeedServer]


PASSWORD = "correct horse battery"


async def new_feed(server: LivefeedServer, slug: str, title: str) -> None:
    """Create the feed ``slug`` with the admin token."""
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            server.url("/api/feeds"), json={"slug": slug, "title": title}, headers=ADMIN
        )
    assert created.status_code == 201, created.text


async def account(server: LivefeedServer, slug: str, email: str, name: str, role: str) -> None:
    """An account with a password and ``role`` on ``slug`` (made with the admin token)."""
    async with httpx.AsyncClient(timeout=10) as http:
        made = await http.post(
            server.url("/api/users"),
            json={"email": email, "display_name": name, "role": role, "password": PASSWORD},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        member = await http.put(
            server.url(f"/api/feeds/{slug}/members/{made.json()['id']}"),
            json={"role": role},
            headers=ADMIN,
        )
        assert member.status_code == 200, member.text


async def studio_for(context: BrowserContext, server: LivefeedServer, email: str) -> Page:
    """The studio, signed in with an account's email address and password (session cookie)."""
    page = await context.new_page()
    await page.goto(server.url("/studio"))
    await page.get_by_label("Email address").first.fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#sd-desk")).to_be_visible()
    await expect(page.locator("#sd-desk-conn")).to_have_attribute("data-state", "live")
    return page


async def test_contributor_submits_editor_publishes_reader_sees_it_only_then(
    chromium_browser: Browser, livefeed_factory: Factory
) -> None:
    server = livefeed_factory({"LIVEFEED_SCHEDULER_INTERVAL_SECONDS": "0.5"})
    slug = unique_name("desk")
    await new_feed(server, slug, "Vote night")
    await account(server, slug, "carla@example.org", "Carla Contributor", "contributor")
    await account(server, slug, "eddie@example.org", "Eddie Editor", "editor")

    contexts = [await chromium_browser.new_context() for _ in range(3)]
    try:
        contributor = await studio_for(contexts[0], server, "carla@example.org")
        editor = await studio_for(contexts[1], server, "eddie@example.org")
        # A contributor cannot publish: no Publish button, none on the desk either.
        await expect(contributor.locator("#sd-publish")).to_be_hidden()
        await expect(editor.locator("#sd-publish")).to_be_visible()
        reader = await contexts[2].new_page()
        await reader.goto(server.url(f"/feeds/{slug}"))
        await reader.wait_for_selector(LIVE, state="attached")
        reader_bodies = reader.locator(f"{ENTRY} .lf-body")

        # Presence: each sees both people in the console, themselves marked.
        for page, me in ((contributor, "Carla Contributor"), (editor, "Eddie Editor")):
            people = page.locator("#sd-presence-list li")
            await expect(people).to_have_count(2)
            await expect(page.locator("#sd-presence-list .is-self")).to_contain_text(me)

        # The contributor writes and submits for review.
        await contributor.locator("#sd-body").fill("The count is **delayed** in ward 3.")
        await contributor.get_by_role("button", name="Submit for review").first.click()
        await expect(contributor.locator("#sd-list-submitted li")).to_have_count(1)
        await expect(contributor.locator("#sd-compose-error")).to_be_empty()
        mine = contributor.locator("#sd-list-submitted li", has_text="The count is delayed")
        await expect(mine.get_by_role("button", name="Publish now")).to_have_count(0)

        # The editor sees it arrive in the review queue without reloading.
        queued = editor.locator("#sd-list-submitted li", has_text="The count is delayed")
        await expect(queued).to_have_count(1)
        # ... and the reader does not have it (the page is live: a published update arrives).
        await expect(reader_bodies).to_have_count(0)

        # The editor opens it in the editor: the contributor sees who is editing it.
        await queued.get_by_role("button", name="Edit").click()
        await expect(mine.locator(".sd-editing")).to_have_text("Being edited by Eddie Editor")
        await queued.get_by_label("Edit update").fill("The count is **delayed** in ward 3 and 4.")
        await queued.get_by_role("button", name="Save").click()
        await expect(mine.locator(".sd-editing")).to_be_hidden()
        await expect(mine).to_contain_text("ward 3 and 4")
        await expect(reader_bodies).to_have_count(0)

        # Publish: the reader sees it now, live; it leaves both desks.
        await queued.get_by_role("button", name="Publish now").click()
        await expect(reader_bodies.first).to_have_text("The count is delayed in ward 3 and 4.")
        await expect(editor.locator("#sd-list-submitted li")).to_have_count(0)
        await expect(contributor.locator("#sd-list-submitted li")).to_have_count(0)
        await expect(editor.locator("#sd-entries .sd-entry")).to_have_count(1)

        # Scheduled: submitted, then scheduled a few seconds ahead; the reader gets it only
        # when the scheduler publishes it.
        await contributor.locator("#sd-body").fill("Results expected at midnight.")
        await contributor.get_by_role("button", name="Submit for review").first.click()
        await expect(contributor.locator("#sd-compose-error")).to_be_empty()
        later = editor.locator("#sd-desk li", has_text="Results expected")
        await expect(later).to_have_count(1)
        await later.get_by_role("button", name="Schedule…").click()
        at = await editor.evaluate(
            """() => {
                const d = new Date(Date.now() + 4000);
                const p = (n) => String(n).padStart(2, "0");
                return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
                       `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
            }"""
        )
        await later.get_by_label("Publish at").fill(at)
        await later.get_by_role("button", name="Schedule", exact=True).click()
        await expect(contributor.locator("#sd-list-scheduled li")).to_have_count(1)
        assert await reader_bodies.count() == 1  # scheduled is not published
        await expect(reader_bodies.first).to_have_text(
            "Results expected at midnight.", timeout=20_000
        )
        await expect(contributor.locator("#sd-list-scheduled li")).to_have_count(0)
        await expect(reader_bodies).to_have_count(2)
    finally:
        for context in contexts:
            await context.close()


async def test_history_restore_deleted_restore_and_losing_access(
    chromium_browser: Browser, livefeed_factory: Factory
) -> None:
    """An editor restores an earlier version and a deleted update (the reader follows live);
    then an admin disables the editor, whose open studio is signed out at once (4401)."""
    server = livefeed_factory()
    slug = unique_name("hist")
    await new_feed(server, slug, "Court")
    await account(server, slug, "eddie@example.org", "Eddie Editor", "editor")
    contexts = [await chromium_browser.new_context() for _ in range(2)]
    try:
        editor = await studio_for(contexts[0], server, "eddie@example.org")
        reader = await contexts[1].new_page()
        await reader.goto(server.url(f"/feeds/{slug}"))
        await reader.wait_for_selector(LIVE, state="attached")
        reader_bodies = reader.locator(f"{ENTRY} .lf-body")

        await editor.locator("#sd-body").fill("The jury is out.")
        await editor.locator("#sd-publish").click()
        await expect(reader_bodies.first).to_have_text("The jury is out.")
        item = editor.locator("#sd-entries .sd-entry").first
        await item.get_by_role("button", name="Edit").click()
        await item.get_by_label("Edit update").fill("The jury is back.")
        await item.get_by_role("button", name="Save").click()
        await expect(reader_bodies.first).to_have_text("The jury is back.")

        # History: the earlier version, restored — readers get it live.
        await item.get_by_role("button", name="History").click()
        history = editor.locator("#sd-history")
        await expect(history.locator(".sd-history-item")).to_have_count(1)
        await expect(history.locator(".sd-history-item")).to_contain_text("The jury is out.")
        await history.get_by_role("button", name="Restore this version").click()
        await expect(history).to_be_hidden()
        await expect(reader_bodies.first).to_have_text("The jury is out.")

        # Delete, then restore from the desk's deleted updates.
        await item.get_by_role("button", name="Delete").click()
        await editor.locator("#sd-confirm").get_by_role("button", name="Delete").click()
        await expect(reader_bodies).to_have_count(0)
        await editor.locator("#sd-desk summary").click()
        deleted = editor.locator("#sd-list-deleted li")
        await expect(deleted).to_have_count(1)
        await deleted.get_by_role("button", name="Restore").click()
        await expect(reader_bodies.first).to_have_text("The jury is out.")
        await expect(deleted).to_have_count(0)

        # Disabled by an admin: the open studio is signed out at once, with a message.
        async with httpx.AsyncClient(timeout=10) as http:
            users = (await http.get(server.url("/api/users"), headers=ADMIN)).json()
            (eddie,) = [u["id"] for u in users if u["email"] == "eddie@example.org"]
            off = await http.patch(
                server.url(f"/api/users/{eddie}"), json={"disabled": True}, headers=ADMIN
            )
            assert off.status_code == 200, off.text
        await expect(editor.locator("#sd-signin")).to_be_visible()
        await expect(editor.locator("#sd-signin-error")).to_contain_text("session has ended")
    finally:
        for context in contexts:
            await context.close()


async def test_sign_out_everywhere_ends_the_other_devices_sessions(
    chromium_browser: Browser, livefeed_factory: Factory
) -> None:
    server = livefeed_factory()
    slug = unique_name("out")
    await new_feed(server, slug, "Out")
    await account(server, slug, "cara@example.org", "Cara", "contributor")
    contexts = [await chromium_browser.new_context() for _ in range(2)]
    try:
        laptop = await studio_for(contexts[0], server, "cara@example.org")
        phone = await studio_for(contexts[1], server, "cara@example.org")
        # A reload keeps the session (the cookie): the studio resumes signed in.
        await phone.reload()
        await expect(phone.locator("#sd-desk-conn")).to_have_attribute("data-state", "live")
        await laptop.get_by_role("button", name="Sign out everywhere").click()
        await expect(laptop.locator("#sd-signin-error")).to_have_text("Signed out on every device.")
        await expect(phone.locator("#sd-signin")).to_be_visible()
        await phone.reload()
        await expect(phone.locator("#sd-signin")).to_be_visible()
    finally:
        for context in contexts:
            await context.close()
