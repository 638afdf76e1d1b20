"""The first page of a long feed still shows its pinned entry and its key events."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN


async def test_old_pinned_entry_and_key_events_reach_the_first_page(
    client: httpx.AsyncClient, feed: str
) -> None:
    url = f"/api/feeds/{feed}/entries"
    pinned = (
        await client.post(url, json={"body": "Le programme", "pinned": True}, headers=ADMIN)
    ).json()
    key = (
        await client.post(url, json={"body": "Ouverture", "key_event": True}, headers=ADMIN)
    ).json()
    for n in range(40):
        assert (
            await client.post(url, json={"body": f"entrée {n}"}, headers=ADMIN)
        ).status_code == 201

    html = (await client.get(f"/feeds/{feed}")).text
    pinned_section = re.search(r'<section class="lf-pinned".*?</section>', html, re.S)
    assert pinned_section is not None
    assert f'id="entry-{pinned["id"]}"' in pinned_section.group(0)
    assert "Le programme" in pinned_section.group(0)
    # The key event is 40 entries down, off the first page, yet linked from the summary.
    assert f'href="#entry-{key["id"]}"' in html or f"#entry-{key['id']}" in html
    # The pinned entry appears once, on top, not again in its day.
    assert html.count(f'id="entry-{pinned["id"]}"') == 1
