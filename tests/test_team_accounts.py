"""The team channel with accounts against real ``livefeed serve`` processes: the session
cookie opens it (from this service's pages only), roles decide who may, and a disabled
account or an ended session is dropped at once in every process — by the revocation notice,
not the periodic re-check (which is set far beyond the wait here)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_support import Cluster, Factory, start_cluster_for
from tests.support.services import wait_until_async
from tests.support.watch import at_teardown, record_close
from tests.team_support import TeamClient, reporter_token, team_path

ADMIN = {"Authorization": "Bearer test-admin-token"}
PASSWORD = "correct horse battery"
# The re-check is a safety net: far beyond every wait below, so only the notice can pass.
ENV = {"LIVEFEED_READERS_INTERVAL_SECONDS": "0.5", "LIVEFEED_RESYNC_SECONDS": "120"}


async def person(cluster: Cluster, email: str, name: str, role: str, slug: str | None) -> int:
    """An account with a password (and a role on ``slug``); its id."""
    made = await cluster.http.post(
        cluster.url(0, "/api/users"),
        json={"email": email, "display_name": name, "role": role, "password": PASSWORD},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    user_id: int = made.json()["id"]
    if slug is not None:
        member = await cluster.http.put(
            cluster.url(0, f"/api/feeds/{slug}/members/{user_id}"),
            json={"role": role},
            headers=ADMIN,
        )
        assert member.status_code == 200, member.text
    return user_id


async def session_of(base_url: str, email: str) -> tuple[str, str]:
    """Sign in on one process: (session cookie value, CSRF token)."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{base_url}/api/session", json={"email": email, "password": PASSWORD}
        )
    assert response.status_code == 201, response.text
    return response.cookies["livefeed_session"], response.json()["csrf_token"]


class CookieMember:
    """A team WebSocket opened with the session cookie, as the studio page opens it."""

    def __init__(self, ws_url: str, base_url: str, slug: str, cookie: str) -> None:
        self.url = ws_url + team_path(slug)
        self.headers = {"Cookie": f"livefeed_session={cookie}", "Origin": base_url}
        self.close_code: int | None = None
        self.frames: list[str] = []
        self.closed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> CookieMember:
        self._ws = await connect(self.url, additional_headers=self.headers)
        self.frames.append(str(await self._ws.recv()))  # hello
        self._task = asyncio.create_task(self._read())
        at_teardown(self._task.cancel)  # the servers' shutdown is not this test's close
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                self.frames.append(str(message))
        except ConnectionClosed:
            pass
        rcvd = self._ws.protocol.close_rcvd
        self.close_code = rcvd.code if rcvd is not None else None
        record_close("cookie-member", self.url, self.close_code)
        self.closed.set()


@pytest.fixture
async def cluster(request: pytest.FixtureRequest, livefeed_factory: Factory, tmp_path: Path) -> Any:
    made = start_cluster_for(request, "redis", livefeed_factory, tmp_path=tmp_path, env=ENV)
    yield made
    await made.aclose()


async def test_the_session_cookie_opens_it_from_this_service_only(cluster: Cluster) -> None:
    slug = "cookies"
    await cluster.create_feed(slug)
    await cluster.create_feed("elsewhere")
    await person(cluster, "carla@example.org", "Carla", "contributor", slug)
    await person(cluster, "olga@example.org", "Olga", "editor", "elsewhere")
    a, b = cluster.servers
    carla, _ = await session_of(a.base_url, "carla@example.org")
    olga, _ = await session_of(a.base_url, "olga@example.org")

    async def status(cookie: str, origin: str) -> int:
        headers = {"Cookie": f"livefeed_session={cookie}", "Origin": origin}
        with pytest.raises(InvalidStatus) as refused:
            async with connect(b.ws_url + team_path(slug), additional_headers=headers):
                pass
        return refused.value.response.status_code

    # A page on another site riding Carla's cookie (cross-site WebSocket hijacking): 403.
    assert await status(carla, "https://evil.example") == 403
    assert await status("not-a-session", b.base_url) == 401
    assert await status(olga, b.base_url) == 403  # no role on this feed
    member = await CookieMember(b.ws_url, b.base_url, slug, carla).start()
    assert '"name":"Carla"' in member.frames[0]


@pytest.mark.close_codes(4401)
async def test_a_disabled_account_is_dropped_at_once_in_every_process(cluster: Cluster) -> None:
    slug = "disable"
    await cluster.create_feed(slug)
    user_id = await person(cluster, "dan@example.org", "Dan", "editor", slug)
    a, b = cluster.servers
    cookie, _ = await session_of(a.base_url, "dan@example.org")
    on_b = await CookieMember(b.ws_url, b.base_url, slug, cookie).start()
    on_a = await CookieMember(a.ws_url, a.base_url, slug, cookie).start()
    ana = await TeamClient(
        a.ws_url, slug, await reporter_token(cluster.http, a.base_url, slug, "Ana"), "ana"
    ).start()
    await wait_until_async(lambda: ana.names() == ["Ana", "Dan"], 20)

    response = await cluster.http.patch(
        cluster.url(0, f"/api/users/{user_id}"), json={"disabled": True}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    await asyncio.wait_for(asyncio.gather(on_a.closed.wait(), on_b.closed.wait()), 10)
    assert (on_a.close_code, on_b.close_code) == (4401, 4401)
    await wait_until_async(lambda: ana.names() == ["Ana"], 20)
    assert ana.close_code is None


@pytest.mark.close_codes(4401)
async def test_sign_out_drops_that_session_and_sign_out_everywhere_all(cluster: Cluster) -> None:
    slug = "signout"
    await cluster.create_feed(slug)
    await person(cluster, "eve@example.org", "Eve", "contributor", slug)
    a, b = cluster.servers
    first, csrf = await session_of(a.base_url, "eve@example.org")
    second, csrf2 = await session_of(a.base_url, "eve@example.org")
    third, _ = await session_of(a.base_url, "eve@example.org")
    one = await CookieMember(b.ws_url, b.base_url, slug, first).start()
    two = await CookieMember(b.ws_url, b.base_url, slug, second).start()
    three = await CookieMember(b.ws_url, b.base_url, slug, third).start()

    async with httpx.AsyncClient(timeout=10) as http:
        out = await http.delete(
            f"{a.base_url}/api/session",
            headers={"Cookie": f"livefeed_session={first}", "X-CSRF-Token": csrf},
        )
    assert out.status_code == 204, out.text
    await asyncio.wait_for(one.closed.wait(), 10)
    assert one.close_code == 4401
    assert not two.closed.is_set() and not three.closed.is_set()

    async with httpx.AsyncClient(timeout=10) as http:
        out = await http.post(
            f"{a.base_url}/api/session/logout-everywhere",
            headers={"Cookie": f"livefeed_session={second}", "X-CSRF-Token": csrf2},
        )
    assert out.status_code == 204, out.text
    await asyncio.wait_for(asyncio.gather(two.closed.wait(), three.closed.wait()), 10)
    assert (two.close_code, three.close_code) == (4401, 4401)
