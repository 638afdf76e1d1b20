"""Live reader counts (``{"type":"readers","count":N}``): every process's readers summed
through Redis, pushed only when changed, decaying after a process is SIGKILLed; with the
in-process broker, one process's own count."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from websockets.asyncio.client import connect

from tests.live_support import Cluster, Factory, start_cluster, start_cluster_for
from tests.reader_support import ReaderSite
from tests.support.services import wait_until_async

INTERVAL = 0.5  # LIVEFEED_READERS_INTERVAL_SECONDS here: decay within ~4 intervals
ENV = {"LIVEFEED_READERS_INTERVAL_SECONDS": str(INTERVAL)}


class CountingReader:
    """A live connection that records every ``readers`` count it is sent, and checks that
    ``readers`` events carry no rev (SSE: no ``id:`` line) and never move its rev."""

    def __init__(self, url: str, *, sse: bool = False) -> None:
        self.url, self.sse = url, sse
        self.counts: list[int] = []
        self.revs: list[int] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> CountingReader:
        self.task = asyncio.create_task(self._sse() if self.sse else self._ws())
        return self

    def _event(self, data: str) -> None:
        event = json.loads(data)
        if event["type"] == "readers":
            assert set(event) == {"type", "count"}, event
            self.counts.append(event["count"])
        elif event["type"] == "entry":
            self.revs.append(event["rev"])

    async def _ws(self) -> None:
        with contextlib.suppress(Exception):
            async with connect(f"{self.url}?since=0") as ws:
                async for message in ws:
                    self._event(str(message))

    async def _sse(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            async with (
                httpx.AsyncClient(timeout=None) as client,
                client.stream("GET", self.url) as response,
            ):
                block: list[str] = []
                async for line in response.aiter_lines():
                    if line:
                        block.append(line)
                        continue
                    fields = dict(item.split(": ", 1) for item in block if ": " in item)
                    block = []
                    if fields.get("event") == "readers":
                        assert "id" not in fields, fields
                    if "data" in fields:
                        self._event(fields["data"])

    @property
    def count(self) -> int | None:
        return self.counts[-1] if self.counts else None

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def all_see(readers: list[CountingReader], count: int) -> None:
    await wait_until_async(lambda: all(r.count == count for r in readers), 20)


async def test_count_across_two_processes_and_after_one_is_killed(
    livefeed_factory: Factory, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cluster: Cluster = start_cluster_for(
        request, "redis", livefeed_factory, tmp_path=tmp_path, env=ENV
    )
    slug = "readers"
    await cluster.create_feed(slug)
    a, b = cluster.servers
    ws = f"/ws/feeds/{slug}"
    on_a = [CountingReader(a.ws_url + ws).start() for _ in range(3)]
    on_a.append(CountingReader(f"{a.base_url}/sse/feeds/{slug}", sse=True).start())
    on_b = [CountingReader(b.ws_url + ws).start() for _ in range(2)]
    everyone = on_a + on_b
    await all_see(everyone, 6)
    # A change still flows in rev order; the counts never took a rev.
    await cluster.post(0, slug, body="First.")
    await wait_until_async(lambda: all(r.revs for r in everyone), 20)
    for reader in everyone:
        assert reader.revs == sorted(set(reader.revs)), reader.revs
    # Only when it changes: a steady count is not sent again.
    sent = [len(r.counts) for r in everyone]
    await asyncio.sleep(INTERVAL * 6)
    assert [len(r.counts) for r in everyone] == sent
    # One reader leaves: everyone learns it.
    await on_b[1].stop()
    await all_see(everyone[:-1], 5)
    # B dies without saying so: its count decays from the total.
    b.kill()
    await all_see(on_a, 4)
    # The count is not a change: it is not in the log.
    async with httpx.AsyncClient(base_url=a.base_url) as http:
        changes = (await http.get(f"/api/feeds/{slug}/changes?since=0")).json()
    assert all(e["type"] != "readers" for e in changes["events"])
    for reader in everyone:
        await reader.stop()
    await cluster.aclose()


async def test_in_process_count_follows_connections(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    cluster = start_cluster("memory", livefeed_factory, tmp_path=tmp_path, env=ENV)
    slug = "solo"
    await cluster.create_feed(slug)
    (server,) = cluster.servers
    url = f"{server.ws_url}/ws/feeds/{slug}"
    first = CountingReader(url).start()
    await all_see([first], 1)
    others = [CountingReader(url).start() for _ in range(2)]
    await all_see([first, *others], 3)
    late = CountingReader(url).start()
    await all_see([first, *others, late], 4)
    assert late.counts[0] in (3, 4), "a reader that connects gets the count at once"
    for reader in others:
        await reader.stop()
    await all_see([first, late], 2)
    await first.stop()
    await late.stop()
    await cluster.aclose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("readers"), env=ENV).start()
    yield s
    s.close()


async def test_reader_page_shows_the_count_in_its_language(
    chromium_browser: Browser, site: ReaderSite
) -> None:
    slug = "lecteurs"
    site.create_feed(slug, title="Direct", locale="fr-FR", tz="Europe/Paris")
    contexts = [await chromium_browser.new_context() for _ in range(2)]
    try:
        first = await contexts[0].new_page()
        await first.goto(site.url(f"/feeds/{slug}"))
        shown = first.locator(".lf-readers")
        await expect(shown).to_have_text("1 lecteur", timeout=15_000)
        second = await contexts[1].new_page()
        await second.goto(site.url(f"/feeds/{slug}"))
        await expect(shown).to_have_text("2 lecteurs", timeout=15_000)
        await expect(second.locator(".lf-readers")).to_have_text("2 lecteurs", timeout=15_000)
        # Thousands in the feed's number format, the words from the catalog.
        await first.evaluate(
            "document.querySelector('[data-livefeed-timeline]').livefeed.showReaders(1234)"
        )
        await expect(shown).to_have_text("1\u202f234 lecteurs")
        await contexts[1].close()
        await expect(shown).to_have_text("1 lecteur", timeout=15_000)
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                await context.close()
