"""Helpers for the live-delivery tests: a cluster of real ``livefeed serve`` processes, a
reader model that checks the per-connection guarantee, WebSocket/SSE readers that reconnect
with ``since``, and a writer workload (posts, edits, deletes, pins, feed changes).

The guarantee checked (README, "Live transports"), per connection: the first frame is
``hello``; every later ``rev`` is strictly greater than the one before (so no duplicates);
and across a reader's successive connections the revs it applies are exactly
``since+1, since+2, …`` — every rev is a logged change, so a gap is a lost change. Once the
writers stop, the timeline built from hello + catch-up + live must equal
``GET /api/feeds/{slug}/entries`` at the same rev.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.services import (
    LivefeedServer,
    PostgresServer,
    find_livefeed_executable,
    wait_until_async,
)
from tests.support.watch import ABRUPT, at_teardown, record_close
from tests.ws_support import handshake_request

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Short intervals keep the failure scenarios quick; the defaults are stated in the README.
BASE_ENV = {
    "LIVEFEED_STORE_POLL_SECONDS": "0.5",
    "LIVEFEED_RESYNC_SECONDS": "5",
    "LIVEFEED_LOG_LEVEL": "warning",
}

Factory = Callable[..., LivefeedServer]


# ---------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------


def migrate(database_url: str) -> None:
    exe = find_livefeed_executable()
    assert exe, "livefeed console script missing"
    env = {"LIVEFEED_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [exe, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class Cluster:
    """One or more ``livefeed serve`` processes sharing a database (and Redis, if several)."""

    kind: str  # "memory" (1 process, SQLite, in-process broker) | "redis" (2, PG + Redis)
    servers: list[LivefeedServer]
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    def url(self, i: int, path: str) -> str:
        return self.servers[i % len(self.servers)].base_url + path

    def ws_urls(self, first: int = 0) -> list[str]:
        n = len(self.servers)
        return [self.servers[(first + k) % n].ws_url for k in range(n)]

    async def create_feed(self, slug: str, **extra: Any) -> dict[str, Any]:
        response = await self.http.post(
            self.url(0, "/api/feeds"), json={"slug": slug, "title": slug, **extra}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def post(self, i: int, slug: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(
            self.url(i, f"/api/feeds/{slug}/entries"), json=fields, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def state(self, slug: str, i: int = 0) -> ApiState:
        """The API's view at one rev: every entries page and the feed, all at one rev."""
        for _ in range(50):
            feed = (await self.http.get(self.url(i, f"/api/feeds/{slug}"))).json()
            entries: list[dict[str, Any]] = []
            query = "limit=200"
            revs = {feed["rev"]}
            while True:
                page = await self.http.get(self.url(i, f"/api/feeds/{slug}/entries?{query}"))
                body = page.json()
                entries += body["entries"]
                revs.add(body["rev"])
                if body["next_before"] is None:
                    break
                query = f"limit=200&before={body['next_before']}"
            if len(revs) == 1:
                return ApiState(feed["rev"], entries, feed)
        raise AssertionError("the feed kept changing while reading its state")

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class ApiState:
    rev: int
    entries: list[dict[str, Any]]
    feed: dict[str, Any]


def start_cluster_for(
    request: Any, kind: str, factory: Factory, *, tmp_path: Any, env: dict[str, str] | None = None
) -> Cluster:
    """:func:`start_cluster`, with PostgreSQL and Redis from the test's fixtures (asked for
    only when ``kind`` is ``redis``, so a memory run needs neither service)."""
    if kind == "memory":
        return start_cluster("memory", factory, tmp_path=tmp_path, env=env)
    return start_cluster(
        "redis",
        factory,
        tmp_path=tmp_path,
        postgres=request.getfixturevalue("postgres_server"),
        redis_url=request.getfixturevalue("redis_url"),
        env=env,
    )


def start_cluster(
    kind: str,
    factory: Factory,
    *,
    tmp_path: Any,
    postgres: PostgresServer | None = None,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Cluster:
    """``memory``: one process on SQLite; ``redis``: two processes on PostgreSQL + Redis."""
    full = {**BASE_ENV, **(env or {})}
    if kind == "memory":
        full["LIVEFEED_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/live.db"
        return Cluster(kind, [factory(full)])
    assert postgres is not None and redis_url is not None
    database_url = postgres.create_database()
    migrate(database_url)
    full |= {"LIVEFEED_DATABASE_URL": database_url, "LIVEFEED_REDIS_URL": redis_url}
    return Cluster(kind, [factory(full), factory(full)])


# ---------------------------------------------------------------------------------------
# The reader model
# ---------------------------------------------------------------------------------------


class RetryLater(OSError):
    """The server refused a stream for now (SSE 503): the reader reconnects, like a page."""


class Reset(Exception):
    """The server sent ``reset``: the client must reload over HTTP."""

    def __init__(self, rev: int) -> None:
        super().__init__(rev)
        self.rev = rev


def _order_key(entry: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(entry["published_at"]), entry["id"]


@dataclass
class ReaderModel:
    """A client's state, built only from events; refuses gaps, repeats and reordering."""

    slug: str
    rev: int = 0
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    feed: dict[str, Any] | None = None
    applied: int = 0
    payload_bytes: int = 0
    #: Size of each applied event's payload (JSON), by rev.
    event_bytes: dict[int, int] = field(default_factory=dict)

    def load(self, state: ApiState) -> None:
        self.rev = state.rev
        self.entries = {e["id"]: e for e in state.entries}
        self.feed = state.feed

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "reset":
            raise Reset(event["rev"])
        assert kind in {"entry", "feed"}, event
        rev = event["rev"]
        assert rev > self.rev, f"{self.slug}: rev {rev} again or out of order (have {self.rev})"
        assert rev == self.rev + 1, f"{self.slug}: revs {self.rev + 1}..{rev - 1} never arrived"
        self.rev = rev
        self.applied += 1
        if kind == "feed":
            assert event["feed"]["rev"] == rev
            self.feed = event["feed"]
            return
        entry = event["entry"]
        assert entry["rev"] == rev and entry["feed"] == self.slug, event
        if event["op"] == "deleted":
            assert entry["deleted"] is True
            self.entries.pop(entry["id"], None)
        else:
            assert entry["deleted"] is False
            self.entries[entry["id"]] = entry

    def timeline(self) -> list[dict[str, Any]]:
        return sorted(self.entries.values(), key=_order_key, reverse=True)

    def assert_matches(self, state: ApiState, who: str = "reader") -> None:
        assert self.rev == state.rev, f"{who}: at rev {self.rev}, the API at {state.rev}"
        mine = self.timeline()
        assert [e["id"] for e in mine] == [e["id"] for e in state.entries], who
        assert mine == state.entries, f"{who}: entries differ from the API at rev {state.rev}"
        if self.feed is not None:
            # Every change bumps the feed's rev and updated_at; a feed event carries the
            # rest (title, status…), which must match.
            def meta(feed: dict[str, Any]) -> dict[str, Any]:
                return {k: v for k, v in feed.items() if k not in {"rev", "updated_at"}}

            assert meta(self.feed) == meta(state.feed), f"{who}: feed differs from the API"


@dataclass
class ConnectionLog:
    url: str
    since: int
    hello_rev: int | None = None
    first_rev: int | None = None
    last_rev: int | None = None
    events: int = 0
    #: How the server ended it (tests.support.watch.ABRUPT: without a close code); None
    #: while open, or when the client ended it itself.
    close_code: int | None = None


class StreamChecker:
    """The per-connection half of the guarantee: hello first, then strictly increasing revs."""

    def __init__(self, log: ConnectionLog) -> None:
        self.log = log
        self.seen_hello = False

    def check(self, event: dict[str, Any]) -> None:
        if event["type"] == "hello":
            assert not self.seen_hello and self.log.events == 0, "hello must come first, once"
            self.seen_hello = True
            self.log.hello_rev = event["rev"]
            return
        assert self.seen_hello, f"{event['type']} before hello"
        rev = event["rev"]
        if self.log.last_rev is not None:
            assert rev > self.log.last_rev, (
                f"rev {rev} after {self.log.last_rev} on one connection ({self.log.url})"
            )
        if self.log.first_rev is None:
            self.log.first_rev = rev
        self.log.last_rev = rev
        self.log.events += 1


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------


class Reader:
    """Base: a background task that keeps a model up to date through reconnects."""

    def __init__(self, name: str, slug: str, urls: Sequence[str], *, since: int = 0) -> None:
        self.name = name
        self.slug = slug
        self.urls = list(urls)
        self.model = ReaderModel(slug, rev=since)
        self.connections: list[ConnectionLog] = []
        self.failure: BaseException | None = None
        self.allow_reset = False
        self.resets: list[int] = []
        #: How the client reloads after ``reset`` (the API state); required if resets are allowed.
        self.reload: Callable[[], Awaitable[ApiState]] | None = None
        self._stop = False
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> Reader:
        self._task = asyncio.create_task(self._run(), name=self.name)
        at_teardown(self._task.cancel)  # if the test ends without stop() (it failed)
        return self

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.raise_failure()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise AssertionError(f"{self.name} failed: {self.failure!r}") from self.failure

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._stop:
                url = self.urls[attempt % len(self.urls)]
                try:
                    await self._session(url)
                    attempt = 0  # a session ended normally: retry the preferred server first
                except (OSError, InvalidHandshake, httpx.TransportError, TimeoutError):
                    attempt += 1
                    await asyncio.sleep(0.05)  # reconnect backoff, not a wait for an event
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc

    async def _session(self, url: str) -> None:
        raise NotImplementedError

    def _closed_by_server(self, log: ConnectionLog, code: int | None) -> None:
        """The server ended this connection: keep the code (None: no close code) and report
        it to tests.support.watch, which fails the test unless it allows that code."""
        log.close_code = ABRUPT if code is None else code
        record_close(self.name, log.url, code)

    async def _reload(self) -> None:
        assert self.reload is not None, f"{self.name}: reset, and no way to reload"
        self.model.load(await self.reload())

    def _handle(self, checker: StreamChecker, event: dict[str, Any], nbytes: int) -> None:
        if event["type"] == "readers":
            # The live reader count (app/presence.py): not a change, no rev, nothing to apply.
            assert set(event) == {"type", "count"} and event["count"] >= 0, event
            return
        checker.check(event)
        if event["type"] == "hello":
            return
        self.model.payload_bytes += nbytes
        self.model.event_bytes[event["rev"]] = nbytes
        try:
            self.model.apply(event)
        except Reset as reset:
            assert self.allow_reset, f"{self.name}: unexpected reset at {reset.rev}"
            self.resets.append(reset.rev)
            raise

    async def wait_rev(self, rev: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        def done() -> bool:
            self.raise_failure()
            return self.model.rev >= rev

        await wait_until_async(done, timeout=timeout, message=f"{self.name} reaching rev {rev}")


class WsReader(Reader):
    """WebSocket reader. ``abort_every``: drop the TCP connection without a close frame after
    that many events, then resume with ``since``."""

    def __init__(self, *args: Any, abort_every: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.abort_every = abort_every
        self.ws: ClientConnection | None = None

    async def _session(self, url: str) -> None:
        log = ConnectionLog(url, self.model.rev)
        checker = StreamChecker(log)
        async with connect(
            f"{url}/ws/feeds/{self.slug}?since={self.model.rev}",
            open_timeout=5,
            ping_interval=None,
            max_size=None,
            proxy=None,
            compression=None,
        ) as ws:
            self.ws = ws
            self.connections.append(log)
            self.connected.set()
            try:
                async for message in ws:
                    assert isinstance(message, str)
                    self._handle(checker, json.loads(message), len(message))
                    if self.abort_every and log.events >= self.abort_every:
                        ws.transport.abort()  # no close frame: as a phone losing signal
                        return
            except ConnectionClosed as exc:
                self._closed_by_server(log, exc.rcvd.code if exc.rcvd is not None else None)
                return
            except Reset:
                await self._reload()
                return
            finally:
                self.ws = None
            self._closed_by_server(log, ws.close_code)


class SseReader(Reader):
    """Server-Sent Events reader; resumes with ``Last-Event-ID`` (or ``?since`` first)."""

    def __init__(self, *args: Any, use_query: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.use_query = use_query
        self.urls = [u.replace("ws://", "http://") for u in self.urls]
        self.heartbeats = 0

    async def _session(self, url: str) -> None:
        log = ConnectionLog(url, self.model.rev)
        checker = StreamChecker(log)
        target = f"{url}/sse/feeds/{self.slug}"
        headers = {"Accept": "text/event-stream"}
        if self.use_query:
            target += f"?since={self.model.rev}"
        else:
            headers["Last-Event-ID"] = str(self.model.rev)
        timeout = httpx.Timeout(5, read=None)
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", target, headers=headers) as response,
        ):
            if response.status_code == 503:
                # Refused by a draining (or over-budget) process: retry, as the page does.
                raise RetryLater(f"{target}: 503 {response.headers.get('retry-after')}")
            assert response.status_code == 200, response.status_code
            assert response.headers["content-type"].startswith("text/event-stream")
            self.connections.append(log)
            self.connected.set()
            fields: dict[str, str] = {}
            try:
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.heartbeats += 1
                        continue
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                        continue
                    if "data" not in fields:
                        fields = {}
                        continue
                    event = json.loads(fields["data"])
                    assert fields.get("event") == event["type"], fields
                    if event["type"] == "readers":
                        assert "id" not in fields, fields  # Last-Event-ID stays a rev
                    elif event["type"] != "hello":
                        assert int(fields["id"]) == event["rev"], fields
                    size = len(fields["data"])
                    fields = {}
                    self._handle(checker, event, size)
            except Reset:
                await self._reload()
                return
            except httpx.TransportError:
                pass  # cut mid-stream: no close code to record, as when the stream ends
            self._closed_by_server(log, None)


async def wait_all(readers: Sequence[Reader], rev: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    await asyncio.gather(*(r.wait_rev(rev, timeout) for r in readers))


async def assert_converged(
    cluster: Cluster,
    slug: str,
    readers: Sequence[Reader],
    timeout: float = 20.0,  # noqa: ASYNC109
    *,
    via: int = 0,
) -> ApiState:
    """Every reader reaches the API's rev and holds exactly the API's timeline there."""
    state = await cluster.state(slug, via)
    await wait_all(readers, state.rev, timeout)
    for reader in readers:
        reader.raise_failure()
        reader.model.assert_matches(state, reader.name)
    return state


# ---------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------


@dataclass
class WriteStats:
    created: int = 0
    edited: int = 0
    deleted: int = 0
    pinned: int = 0
    feed_changes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def writer(
    cluster: Cluster,
    server: int,
    slug: str,
    ops: int,
    *,
    seed: int,
    stats: WriteStats | None = None,
    pause: asyncio.Event | None = None,
) -> WriteStats:
    """``ops`` changes through server ``server``: creates, edits, deletes, pins, feed edits.

    It only edits and deletes its own entries, so writers running side by side never race
    on one entry; pins still touch other writers' entries (pinning unpins the others).
    """
    rng = random.Random(seed)
    stats = stats or WriteStats()
    mine: list[int] = []
    http = cluster.http

    def count(status: int) -> None:
        stats.statuses[status] = stats.statuses.get(status, 0) + 1

    for i in range(ops):
        if pause is not None:
            await pause.wait()
        base = cluster.url(server, f"/api/feeds/{slug}")
        roll = rng.random()
        if roll < 0.5 or len(mine) < 3:
            response = await http.post(
                base + "/entries",
                json={
                    "body": f"**w{server}** entry {i} ({seed}) " + "x" * rng.randint(0, 400),
                    "author": f"writer {server}",
                    "pinned": rng.random() < 0.1,
                    "key_event": rng.random() < 0.2,
                },
                headers=ADMIN,
            )
            assert response.status_code == 201, response.text
            mine.append(response.json()["id"])
            stats.created += 1
        elif roll < 0.7:
            response = await http.patch(
                f"{base}/entries/{rng.choice(mine)}",
                json={"body": f"edited by w{server} at op {i}"},
                headers=ADMIN,
            )
            assert response.status_code == 200, response.text
            stats.edited += 1
        elif roll < 0.8:
            response = await http.delete(
                f"{base}/entries/{mine.pop(rng.randrange(len(mine)))}", headers=ADMIN
            )
            assert response.status_code == 204, response.text
            stats.deleted += 1
        elif roll < 0.95:
            response = await http.patch(
                f"{base}/entries/{rng.choice(mine)}",
                json={"pinned": rng.random() < 0.7},
                headers=ADMIN,
            )
            assert response.status_code == 200, response.text
            stats.pinned += 1
        else:
            response = await http.patch(
                base, json={"title": f"title by w{server} at op {i}"}, headers=ADMIN
            )
            assert response.status_code == 200, response.text
            stats.feed_changes += 1
        count(response.status_code)
    return stats


# ---------------------------------------------------------------------------------------
# A reader that never reads
# ---------------------------------------------------------------------------------------


def open_raw_websocket(
    host: str,
    port: int,
    path: str,
    *,
    extra: list[tuple[str, str]] | None = None,
    receive_buffer: int | None = None,
) -> socket.socket:
    """Open a WebSocket on a plain socket (handshake done, 101 checked) and return the socket,
    for a peer the test drives byte by byte (or not at all). ``extra``: more request headers;
    ``receive_buffer``: the socket's SO_RCVBUF, set before connecting."""
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((host, port))
    sock.sendall(handshake_request(host, port, path, extra=extra))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def stalled_websocket(host: str, port: int, path: str) -> socket.socket:
    """Open a WebSocket (handshake done) and return the socket; the caller never reads it.

    A small receive buffer keeps the kernel from absorbing megabytes on the client side, so
    the server's own bound is what is tested.
    """
    return open_raw_websocket(host, port, path, receive_buffer=4096)
