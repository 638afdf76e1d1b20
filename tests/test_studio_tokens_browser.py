"""The studio's token panel in Debian's Chromium against a real ``livefeed serve``: the admin
sees a feed's reporter tokens (never their secrets) and revokes one; the revoked token then
gets 401 from the API, and a studio signed in with it is signed out on its next call."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.async_api import Page, expect

from tests.embed_support import Admin
from tests.support.fixtures import unique_name
from tests.support.services import LivefeedServer
from tests.test_studio_browser import sign_in


async def test_admin_lists_and_revokes_a_reporter_token(
    page: Page, livefeed_factory: Callable[..., LivefeedServer]
) -> None:
    server = livefeed_factory()
    admin = Admin(server)
    slug = unique_name("tok")
    await admin.feed(slug, "Token desk")
    kept = await admin.call("POST", f"/api/feeds/{slug}/tokens", {"name": "Kept"}, status=201)
    gone = await admin.call("POST", f"/api/feeds/{slug}/tokens", {"name": "Leaked"}, status=201)

    await sign_in(page, server, "test-admin-token")
    await page.get_by_label("Feed", exact=True).select_option(slug)
    rows = page.locator("#sd-tokens .sd-token-row")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#sd-tokens")).not_to_contain_text(gone["token"])
    leaked = rows.filter(has_text="Leaked")
    await expect(leaked).to_have_attribute("data-state", "active")

    # Revoking asks first; cancelling keeps the token.
    dialog = page.locator("#sd-confirm")
    await leaked.get_by_role("button", name="Revoke").click()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(leaked).to_have_attribute("data-state", "active")
    await leaked.get_by_role("button", name="Revoke").click()
    await dialog.get_by_role("button", name="Revoke").click()
    await expect(leaked).to_have_attribute("data-state", "revoked")
    await expect(leaked.get_by_role("button", name="Revoke")).to_have_count(0)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        for token, status in ((gone["token"], 401), (kept["token"], 201)):
            r = await http.post(
                f"/api/feeds/{slug}/entries",
                json={"body": "after the revocation"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == status, (token, r.text)

    # A token created from the panel appears in the list at once.
    await page.get_by_label("Reporter’s name").fill("Fresh")
    await page.get_by_role("button", name="Create token").click()
    await expect(rows.filter(has_text="Fresh")).to_have_attribute("data-state", "active")
    assert "Traceback" not in server.log_text()
