"""A team-channel client for process tests: records every frame, reports server closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.services import wait_until_async
from tests.support.watch import at_teardown, record_close


def team_path(slug: str) -> str:
    return f"/api/feeds/{slug}/team/live"


async def reporter_token(http: httpx.AsyncClient, base_url: str, slug: str, name: str) -> str:
    """A new reporter token of ``slug`` named ``name`` (made with the admin token)."""
    response = await http.post(
        f"{base_url}/api/feeds/{slug}/tokens",
        json={"name": name},
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


class TeamClient:
    """One team WebSocket: ``frames`` holds every frame received, parsed."""

    def __init__(self, ws_url: str, slug: str, token: str, name: str = "team") -> None:
        self.url = ws_url + team_path(slug)
        self.token = token
        self.name = name
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> TeamClient:
        self._ws = await connect(
            self.url, additional_headers={"Authorization": f"Bearer {self.token}"}
        )
        self._task = asyncio.create_task(self._read())
        at_teardown(self._task.cancel)
        await wait_until_async(lambda: self.of("hello"), 10)
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                self.frames.append(json.loads(message))
        except ConnectionClosed:
            pass
        rcvd = self._ws.protocol.close_rcvd
        self.close_code = rcvd.code if rcvd is not None else None
        record_close(self.name, self.url, self.close_code)
        self.closed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def members(self) -> list[dict[str, Any]] | None:
        """The last presence list received (None before any)."""
        presence = self.of("presence")
        return presence[-1]["members"] if presence else None

    def names(self) -> list[str] | None:
        members = self.members()
        return None if members is None else [m["name"] for m in members]

    def editing(self) -> dict[str, list[int]]:
        return {m["name"]: m["editing"] for m in self.members() or []}

    async def send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message))

    async def stop(self) -> None:
        """Leave (a client-side close: not reported as a server close)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._ws is not None:
            await self._ws.close()
