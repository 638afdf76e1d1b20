"""Readers see a discreet "updated 14:32" on edited updates, in the feed's language and time
zone: the reader page, the embed and the update's own page (server-rendered; the live
insert is tests/test_workflow_browser.py)."""

from __future__ import annotations

import re
from datetime import datetime

import httpx

from app.timeline import clock_time, feed_zone
from tests.conftest import ADMIN


def edited_marks(html: str) -> list[str]:
    """The text of every "updated" mark (the live template's empty one included)."""
    return re.findall(r'<span class="lf-edited"[^>]*>([^<]*)</span>', html)


async def test_edited_entries_say_when_on_every_page(client: httpx.AsyncClient, feed: str) -> None:
    fresh = await client.post(f"/api/feeds/{feed}/entries", json={"body": "fresh"}, headers=ADMIN)
    edited = await client.post(f"/api/feeds/{feed}/entries", json={"body": "v1"}, headers=ADMIN)
    fresh_id, edited_id = fresh.json()["id"], edited.json()["id"]
    page = (await client.get(f"/feeds/{feed}")).text
    # Never edited: each entry's mark (and the live template's) is there, empty and hidden.
    assert edited_marks(page) == ["", "", ""]
    assert page.count('class="lf-edited" data-edited-at="" hidden') == 3

    changed = await client.patch(
        f"/api/feeds/{feed}/entries/{edited_id}", json={"body": "v2"}, headers=ADMIN
    )
    edited_at = datetime.fromisoformat(changed.json()["edited_at"])
    # The feed is fr-FR in Europe/Paris.
    expected = f"mis à jour à {clock_time(edited_at, feed_zone('Europe/Paris'), 'fr-FR')}"
    for path in (f"/feeds/{feed}", f"/embed/{feed}", f"/feeds/{feed}/entries/{edited_id}"):
        html = (await client.get(path)).text
        assert expected in edited_marks(html), (path, edited_marks(html))
        assert f'data-edited-at="{edited_at.isoformat(timespec="seconds")}">' in html, path
    alone = (await client.get(f"/feeds/{feed}/entries/{fresh_id}")).text
    assert "mis à jour" not in alone


async def test_update_page_is_gone_while_deleted_and_back_after_restore(
    client: httpx.AsyncClient, feed: str
) -> None:
    entry = (
        await client.post(f"/api/feeds/{feed}/entries", json={"body": "back"}, headers=ADMIN)
    ).json()
    draft = (
        await client.post(
            f"/api/feeds/{feed}/entries", json={"body": "wip", "status": "draft"}, headers=ADMIN
        )
    ).json()
    page = f"/feeds/{feed}/entries/{entry['id']}"
    assert (await client.get(page)).status_code == 200
    assert (
        await client.delete(f"/api/feeds/{feed}/entries/{entry['id']}", headers=ADMIN)
    ).status_code == 204
    gone = await client.get(page)
    assert gone.status_code == 410 and "back" not in gone.text
    restored = await client.post(f"/api/feeds/{feed}/entries/{entry['id']}/restore", headers=ADMIN)
    assert restored.status_code == 200
    again = await client.get(page)
    assert again.status_code == 200 and "back" in again.text
    never = await client.get(f"/feeds/{feed}/entries/{draft['id']}")
    assert never.status_code == 404 and "wip" not in never.text
