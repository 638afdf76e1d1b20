"""Scheduled publishing across two processes, one of them restarted in between, as a reader
sees it in Debian's Chromium: two ``livefeed serve`` processes share one SQLite database and
Redis; the reader's page is on the second. Posts scheduled through the first stay off the
page until they fall due, and then each shows exactly once — when the writing process was
restarted before they fell due, and when the reader's own process was — without a reload.
Every wait is on an observable condition, never a sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.support.services import LivefeedServer

LIVE = ".lf-conn[data-state='live']"
#: Time between scheduling a round and its posts falling due: room for a restart and a
#: loaded CI machine, and for the page to be checked while they are still pending.
LEAD = timedelta(seconds=8)
PER_ROUND = 10


async def _schedule(
    http: httpx.AsyncClient, server: LivefeedServer, slug: str, body: str, at: datetime
) -> int:
    response = await http.post(
        server.url(f"/api/feeds/{slug}/entries"),
        json={"body": body, "status": "scheduled", "publish_at": at.isoformat()},
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "scheduled"
    return int(response.json()["id"])


async def _schedule_round(
    http: httpx.AsyncClient, server: LivefeedServer, slug: str, name: str
) -> tuple[list[int], datetime]:
    due = datetime.now(UTC) + LEAD
    ids = [await _schedule(http, server, slug, f"{name} {n}", due) for n in range(PER_ROUND)]
    assert datetime.now(UTC) < due, "the machine was too slow to schedule in time"
    return ids, due


async def _shows_each_once(page: Page, ids: list[int]) -> None:
    for entry_id in ids:
        # A duplicate would be a second article with the same id.
        await expect(page.locator(f"article#entry-{entry_id}")).to_have_count(1, timeout=30_000)


async def test_scheduled_posts_reach_a_reader_once_across_two_processes_and_restarts(
    page: Page,
    livefeed_factory: Callable[..., LivefeedServer],
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = {
        "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "LIVEFEED_REDIS_URL": redis_url,
        "LIVEFEED_SCHEDULER_INTERVAL_SECONDS": "0.2",
    }
    writer, readers_process = livefeed_factory(env), livefeed_factory(env)
    slug = "sched-browser"
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            writer.url("/api/feeds"),
            json={"slug": slug, "title": "Count night", "locale": "en-GB"},
            headers={"Authorization": f"Bearer {writer.admin_token}"},
        )
        assert created.status_code == 201, created.text
        await page.goto(readers_process.url(f"/feeds/{slug}"))
        await page.wait_for_selector(LIVE, state="attached")
        await page.evaluate("window.__sameDocument = true")
        articles = page.locator("article.lf-entry:not(template article)")

        # Round 1: scheduled through the writer, which is restarted before they fall due.
        first, due = await _schedule_round(http, writer, slug, "First count")
        await expect(articles).to_have_count(0)
        await asyncio.to_thread(writer.restart)
        assert datetime.now(UTC) < due + timedelta(seconds=30)
        await _shows_each_once(page, first)

        # Round 2: scheduled through the writer; the reader's own process restarts meanwhile,
        # so the page reconnects (1012) and resumes from where it was.
        second, due = await _schedule_round(http, writer, slug, "Second count")
        await expect(page.locator(f"article#entry-{second[0]}")).to_have_count(0)
        await asyncio.to_thread(readers_process.restart)
        await _shows_each_once(page, second)
        await page.wait_for_selector(LIVE, state="attached")

        await expect(articles).to_have_count(2 * PER_ROUND)
        assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        changes = await http.get(writer.url(f"/api/feeds/{slug}/changes"), params={"since": 0})
        created_ids: list[Any] = [
            e["entry"]["id"] for e in changes.json()["events"] if e.get("op") == "created"
        ]
        assert sorted(created_ids) == sorted(first + second), "each published exactly once"
