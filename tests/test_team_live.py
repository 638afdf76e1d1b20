"""The studio's private team channel (``/api/feeds/{slug}/team/live``) against real
``livefeed serve`` processes: one process on SQLite with the in-process broker, and two on
PostgreSQL + Redis with the members split between them."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.live_support import (
    Cluster,
    Factory,
    open_raw_websocket,
    start_cluster,
    start_cluster_for,
)
from tests.support.services import wait_until_async
from tests.support.watch import ABRUPT
from tests.team_support import TeamClient, reporter_token, team_path

INTERVAL = 0.5  # LIVEFEED_READERS_INTERVAL_SECONDS: team presence is refreshed at this pace
ENV = {"LIVEFEED_READERS_INTERVAL_SECONDS": str(INTERVAL), "LIVEFEED_RESYNC_SECONDS": "1"}


@pytest.fixture(params=["memory", "redis"])
async def cluster(request: pytest.FixtureRequest, livefeed_factory: Factory, tmp_path: Path) -> Any:
    made = start_cluster_for(request, request.param, livefeed_factory, tmp_path=tmp_path, env=ENV)
    yield made
    await made.aclose()


async def two_members(cluster: Cluster, slug: str) -> tuple[TeamClient, TeamClient]:
    """Ana on the first process, Ben on the last (the other one, with Redis)."""
    first, last = cluster.servers[0], cluster.servers[-1]
    ana = await reporter_token(cluster.http, first.base_url, slug, "Ana")
    ben = await reporter_token(cluster.http, first.base_url, slug, "Ben")
    return (
        await TeamClient(first.ws_url, slug, ana, "ana").start(),
        await TeamClient(last.ws_url, slug, ben, "ben").start(),
    )


async def test_refused_before_the_upgrade(cluster: Cluster) -> None:
    await cluster.create_feed("door")
    await cluster.create_feed("other")
    server = cluster.servers[0]
    other = await reporter_token(cluster.http, server.base_url, "other", "Olga")

    async def status(slug: str, headers: dict[str, str]) -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.ws_url + team_path(slug), additional_headers=headers):
                pass
        return refused.value.response.status_code

    assert await status("door", {}) == 401
    assert await status("door", {"Authorization": "Bearer lf_not-a-token"}) == 401
    assert await status("door", {"Authorization": f"Bearer {other}"}) == 403
    assert await status("nope", {"Authorization": "Bearer test-admin-token"}) == 404
    # The bearer token offered as a subprotocol (how a browser sends it) is accepted, and
    # the studio's protocol is the one chosen.
    async with connect(
        server.ws_url + team_path("other"),
        subprotocols=["livefeed-team", f"livefeed-bearer.{other}"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "livefeed-team"
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["you"]["name"] == "Olga"


async def test_presence_and_editing_reach_the_other_member_live(cluster: Cluster) -> None:
    slug = "room"
    await cluster.create_feed(slug)
    ana, ben = await two_members(cluster, slug)
    for member in (ana, ben):
        await wait_until_async(lambda m=member: m.names() == ["Ana", "Ben"], 20)  # type: ignore[misc]

    await ana.send({"type": "editing", "entry": 7})
    await wait_until_async(lambda: ben.editing().get("Ana") == [7], 20)
    await ana.send({"type": "editing", "entry": None})
    await wait_until_async(lambda: ben.editing().get("Ana") == [], 20)

    await ben.stop()
    await wait_until_async(lambda: ana.names() == ["Ana"], 20)


async def write(cluster: Cluster, i: int, method: str, path: str, **body: Any) -> Any:
    response = await cluster.http.request(
        method,
        cluster.url(i, path),
        json=body or None,
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_unpublished_work_reaches_the_team_live_in_every_process(cluster: Cluster) -> None:
    """Each write of an unpublished entry is pushed to every member as it happens — on the
    other process too — with no refetch (the members never reconnect here)."""
    slug = "newsroom"
    await cluster.create_feed(slug)
    ana, ben = await two_members(cluster, slug)
    base = f"/api/feeds/{slug}/entries"
    draft = await write(cluster, 0, "POST", base, body="Draft one.", status="draft")
    entry = f"{base}/{draft['id']}"
    await write(cluster, 0, "PATCH", entry, body="Draft one, edited.")
    await write(cluster, 0, "POST", f"{entry}/submit")
    await write(cluster, 0, "POST", f"{entry}/publish")
    await write(cluster, 0, "DELETE", entry)
    await write(cluster, 0, "POST", f"{entry}/restore")
    want = [
        ("updated", "draft", "Draft one."),
        ("updated", "draft", "Draft one, edited."),
        ("submitted", "submitted", "Draft one, edited."),
        ("published", "published", "Draft one, edited."),
        ("deleted", "published", ""),  # a deleted entry carries no text
        ("published", "published", "Draft one, edited."),
    ]
    for member in (ana, ben):
        await wait_until_async(lambda m=member: len(m.of("entry")) == len(want), 20)  # type: ignore[misc]
        got = [(f["action"], f["entry"]["status"], f["entry"]["body"]) for f in member.of("entry")]
        assert got == want
        assert all(f["entry"]["id"] == draft["id"] for f in member.of("entry"))
        assert len(member.of("hello")) == 1  # no reconnect: every frame came live


async def test_a_reader_of_the_feed_never_gets_a_team_frame(cluster: Cluster) -> None:
    slug = "private"
    await cluster.create_feed(slug)
    reader_frames: list[dict[str, Any]] = []

    async def read(url: str) -> None:
        async with connect(url) as ws:
            async for message in ws:
                reader_frames.append(json.loads(message))

    readers = [
        asyncio.create_task(read(f"{server.ws_url}/ws/feeds/{slug}?since=0"))
        for server in cluster.servers
    ]
    try:
        await wait_until_async(lambda: len(reader_frames) >= len(readers), 20)  # their hellos
        ana, ben = await two_members(cluster, slug)
        await ana.send({"type": "editing", "entry": 3})
        await wait_until_async(lambda: ben.editing().get("Ana") == [3], 20)
        base = f"/api/feeds/{slug}/entries"
        secret = await write(cluster, 0, "POST", base, body="Secret draft.", status="draft")
        await write(cluster, 0, "POST", f"{base}/{secret['id']}/submit")
        await wait_until_async(lambda: len(ben.of("entry")) == 2, 20)
        await cluster.post(0, slug, body="Public.")  # readers are live and get this one
        await wait_until_async(
            lambda: sum(f["type"] == "entry" for f in reader_frames) == len(readers), 20
        )
        assert "Secret draft" not in json.dumps(reader_frames)
        team_types = {"presence", "error"}
        assert not [f for f in reader_frames if f["type"] in team_types], reader_frames
        assert not [f for f in reader_frames if "members" in f or "you" in f], reader_frames
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


@pytest.mark.close_codes(4401)
async def test_a_revoked_token_is_dropped_from_the_channel(cluster: Cluster) -> None:
    slug = "revoke"
    await cluster.create_feed(slug)
    ana, ben = await two_members(cluster, slug)
    tokens = await cluster.http.get(
        cluster.url(0, f"/api/tokens?feed={slug}"),
        headers={"Authorization": "Bearer test-admin-token"},
    )
    (ben_id,) = [t["id"] for t in tokens.json() if t["name"] == "Ben"]
    response = await cluster.http.delete(
        cluster.url(0, f"/api/tokens/{ben_id}"),
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert response.status_code == 204
    await asyncio.wait_for(ben.closed.wait(), 20)
    assert ben.close_code == 4401
    await wait_until_async(lambda: ana.names() == ["Ana"], 20)
    assert ana.close_code is None


@pytest.mark.close_codes(1008)
async def test_a_flooding_member_is_closed_with_1008(cluster: Cluster) -> None:
    slug = "flood"
    await cluster.create_feed(slug)
    ana, _ben = await two_members(cluster, slug)
    await ana.send({"type": "hello?"})
    await wait_until_async(lambda: ana.of("error"), 10)
    for _ in range(130):  # over LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE (120)
        if ana.closed.is_set():
            break
        await ana.send({"type": "ping"})
    await asyncio.wait_for(ana.closed.wait(), 20)
    assert ana.close_code == 1008


@pytest.mark.close_codes(ABRUPT)
async def test_presence_of_a_killed_process_expires(
    livefeed_factory: Factory, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    made = start_cluster_for(request, "redis", livefeed_factory, tmp_path=tmp_path, env=ENV)
    try:
        slug = "expiry"
        await made.create_feed(slug)
        ana, ben = await two_members(made, slug)
        await wait_until_async(lambda: ana.names() == ["Ana", "Ben"], 20)
        made.servers[1].kill()  # Ben's process dies without a word: no leave, no notice
        await asyncio.wait_for(ben.closed.wait(), 20)
        await wait_until_async(lambda: ana.names() == ["Ana"], 20)
    finally:
        await made.aclose()


def silent_member(server: Any, slug: str, token: str) -> socket.socket:
    """A team member whose browser died: the handshake is done, then it never reads or answers
    a ping again (its TCP connection stays open)."""
    return open_raw_websocket(
        "127.0.0.1", server.port, team_path(slug), extra=[("Authorization", f"Bearer {token}")]
    )


async def test_a_member_whose_browser_died_drops_out_of_presence(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    """Presence of a browser that vanished without closing (no close frame, socket open) is
    dropped once it misses the WebSocket ping (LIVEFEED_HEARTBEAT_SECONDS, here 1 s)."""
    made = start_cluster(
        "memory",
        livefeed_factory,
        tmp_path=tmp_path,
        env={**ENV, "LIVEFEED_HEARTBEAT_SECONDS": "1"},
    )
    try:
        slug = "ghost"
        await made.create_feed(slug)
        server = made.servers[0]
        ana = await TeamClient(
            server.ws_url, slug, await reporter_token(made.http, server.base_url, slug, "Ana")
        ).start()
        ghost_token = await reporter_token(made.http, server.base_url, slug, "Ghost")
        ghost = await asyncio.to_thread(silent_member, server, slug, ghost_token)
        try:
            await wait_until_async(lambda: ana.names() == ["Ana", "Ghost"], 20)
            await wait_until_async(lambda: ana.names() == ["Ana"], 20)
        finally:
            ghost.close()
    finally:
        await made.aclose()
