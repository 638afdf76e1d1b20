"""The slow-reader bound, per connection, at its documented size.

README: "a reader more than ``LIVEFEED_SEND_BUFFER_BYTES`` behind is closed with 4008 and
resumes with ``since``". Each test stalls readers (they never read; a 4 KiB receive buffer
keeps the client's kernel from absorbing the stream), publishes many times the bound, and
then, per stalled connection, measures what the server held for it in user space: every
byte the client receives once it reads again, minus what sat in the two kernels' socket
queues (read from ``/proc/net/tcp`` before draining). That must stay within the bound plus
one event (plus the transport's write high-water mark where the transport does its own
flow control). The heartbeat is pinned far away, so it is never what cuts a reader; the
cut is seen as close code 4008 (WebSocket) and in ``livefeed_slow_reader_disconnects_total``.
What the server dropped at the cut (the events after the last one the reader received, up
to the post after which the cut was counted) must be within the bound plus one event too.
Then each stalled reader resumes from the last rev it received and converges.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.live_support import (
    Cluster,
    Factory,
    Reader,
    SseReader,
    WsReader,
    assert_converged,
    stalled_websocket,
    start_cluster,
)
from tests.ops_support import scrape
from tests.support.services import wait_until_async

BOUND = 256 * 1024  # LIVEFEED_SEND_BUFFER_BYTES in these tests
#: uvloop's default write high-water mark: ASGI transports (SSE, WebSocket through uvicorn)
#: wait for the socket below it before taking the next batch; the native WebSocket checks
#: its own transport buffer against the bound, so it gets no such allowance.
TRANSPORT_HIGH_WATER = 64 * 1024
ENV = {
    "LIVEFEED_SEND_BUFFER_BYTES": str(BOUND),
    "LIVEFEED_HEARTBEAT_SECONDS": "600",  # never the heartbeat: only the bound cuts
    "LIVEFEED_MAX_ENTRY_BODY_CHARS": "120000",
    "LIVEFEED_MAX_REQUEST_BYTES": str(512 * 1024),
}
BODY = "Lorem ipsum dolor sit amet. " * 600  # ~17 KB of Markdown, ~35 KB per event
EVENT_MAX = 40 * 1024  # one event on the wire, framing included (checked below)


# ---------------------------------------------------------------------------------------
# Kernel socket queues and stalled clients
# ---------------------------------------------------------------------------------------


def _hex_addr(port: int) -> str:
    return f"0100007F:{port:04X}"  # 127.0.0.1, as /proc/net/tcp writes it


def kernel_queued(local_port: int, remote_port: int) -> tuple[int, int]:
    """(send queue, receive queue) in bytes of the 127.0.0.1 TCP socket local_port →
    remote_port, from /proc/net/tcp."""
    wanted = (_hex_addr(local_port), _hex_addr(remote_port))
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    raise AssertionError(f"no socket 127.0.0.1:{local_port} -> :{remote_port}")


@dataclass
class Stalled:
    """A reader that stopped reading; ``drain`` reads everything the server still sends."""

    kind: str  # "ws" | "sse"
    sock: socket.socket
    server_port: int
    received: bytearray = field(default_factory=bytearray)
    in_kernels: int = 0

    @property
    def client_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def measure_kernels(self) -> int:
        """Bytes in flight in the kernels now: the server socket's send queue plus the
        client socket's receive queue."""
        server_tx, _ = kernel_queued(self.server_port, self.client_port)
        _, client_rx = kernel_queued(self.client_port, self.server_port)
        self.in_kernels = server_tx + client_rx
        return self.in_kernels

    def drain(self, timeout: float = 20.0) -> None:
        """Read until the server ends the stream (close frame / end of response)."""
        self.sock.settimeout(timeout)
        while chunk := self.sock.recv(1 << 20):
            self.received += chunk
            if self.kind == "ws" and ws_messages(self.received)[1] is not None:
                break
        self.sock.close()

    @property
    def held_in_user_space(self) -> int:
        """What the server process itself buffered for this reader."""
        held = len(self.received) - self.in_kernels
        print(
            f"{self.kind} stalled reader: received {len(self.received)} B after the cut, "
            f"{self.in_kernels} B of it in kernel queues, {held} B held by the server"
        )
        return held


def stalled_sse(host: str, port: int, path: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    return sock


def ws_messages(data: bytes) -> tuple[list[dict[str, Any]], int | None]:
    """The complete (unmasked) server frames in ``data`` (what follows the handshake, which
    :func:`stalled_websocket` read): text messages and the close code."""
    messages: list[dict[str, Any]] = []
    pos = 0
    while pos + 2 <= len(data):
        opcode, length, header = data[pos] & 0x0F, data[pos + 1] & 0x7F, 2
        if length == 126:
            header, length = 4, int.from_bytes(data[pos + 2 : pos + 4])
        elif length == 127:
            header, length = 10, int.from_bytes(data[pos + 2 : pos + 10])
        if pos + header + length > len(data):
            break
        payload = data[pos + header : pos + header + length]
        if opcode == 0x8:
            return messages, int.from_bytes(payload[:2])
        if opcode == 0x1:
            message = json.loads(payload)
            if message["type"] != "readers":  # the live reader count: not a change, no rev
                messages.append(message)
        pos += header + length
    return messages, None


def sse_events(data: bytes) -> list[dict[str, Any]]:
    """Every complete SSE event (``data:`` JSON, hello first) in a chunked HTTP response,
    each checked against its ``id:``."""
    body = data.split(b"\r\n\r\n", 1)[1]
    unchunked = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        unchunked += body[:size]
        body = body[size + 2 :]
    events = []
    for block in bytes(unchunked).split(b"\n\n"):
        fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in fields:
            event = json.loads(fields[b"data"])
            if event["type"] == "readers":  # the live reader count: no rev, no id
                assert b"id" not in fields, block
                continue
            assert event["type"] == "hello" or event["rev"] == int(fields[b"id"]), block
            events.append(event)
    return events


def resumed_from(reader: Reader, received: list[dict[str, Any]]) -> Reader:
    """``reader``, its model built from what a stalled connection received (hello, then
    events), so that it resumes with since = the last rev it got."""
    hello, *events = received
    assert hello["type"] == "hello"
    reader.model.rev = hello["rev"]
    for event in events:
        reader.model.apply(event)
    return reader.start()


# ---------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------


@dataclass
class Flood:
    posted: range  # the revs posted
    cut_at: list[int]  # for each slow-reader cut counted, the rev whose post it followed


async def flood_until_cut(
    cluster: Cluster, slug: str, fast: list[Reader], transport: str, stalled: int
) -> Flood:
    """Post ~35 KB events (the fast readers keep up all along) until the server counted
    ``stalled`` slow-reader cuts on ``transport`` (the kernels' socket buffers absorb a few
    MB first), reading the count after each post."""
    revs: list[int] = []
    cut_at: list[int] = []
    while len(cut_at) < stalled:
        assert fast[0].model.payload_bytes < 64 * 2**20, "64 MB sent, the stalled readers never cut"
        entry = await cluster.post(0, slug, body=f"{len(revs)} {BODY}")
        revs.append(entry["rev"])
        try:
            await asyncio.gather(*(r.wait_rev(revs[-1], timeout=10) for r in fast))
        except TimeoutError:
            raise AssertionError([(r.name, r.model.rev) for r in fast]) from None
        cuts = int(await slow_reader_metric(cluster, transport))
        cut_at += [revs[-1]] * (cuts - len(cut_at))
    assert revs == list(range(revs[0], revs[-1] + 1))
    return Flood(range(revs[0], revs[-1] + 1), cut_at)


def assert_cut_at_the_bound(
    reader: Stalled, last_received: int, flood: Flood, sizes: dict[int, int], allowance: int
) -> None:
    """Per connection: what the server still held for the reader when it read again is
    within the bound (+ one event + the transport's allowance), and what it dropped at the
    cut — the events after the last one the reader got, up to the cut — is within the bound
    plus one event (the bound counts queued and in-flight bytes together)."""
    held = reader.held_in_user_space
    assert held <= BOUND + EVENT_MAX + allowance, (
        f"held {held} bytes for one reader "
        f"(bound {BOUND}, received {len(reader.received)}, in kernels {reader.in_kernels})"
    )
    dropped = min(
        sum(sizes[rev] for rev in range(last_received + 1, cut + 1))
        for cut in flood.cut_at
        if cut >= last_received
    )
    assert dropped <= BOUND + EVENT_MAX, f"{dropped} bytes were queued past the bound {BOUND}"


async def slow_reader_metric(cluster: Cluster, transport: str) -> float:
    samples = await scrape(cluster.http, cluster.servers[0].base_url)
    return samples[f'livefeed_slow_reader_disconnects_total{{transport="{transport}"}}']


@pytest.mark.parametrize("engine", ["native", "asgi"])
async def test_stalled_websocket_is_cut_at_its_bound_and_resumes(
    engine: str, livefeed_factory: Factory, tmp_path: Path
) -> None:
    cluster = start_cluster(
        "memory", livefeed_factory, tmp_path=tmp_path, env={**ENV, "LIVEFEED_WS_ENGINE": engine}
    )
    server = cluster.servers[0]
    slug = "slow-ws"
    await cluster.create_feed(slug)
    stalled = [
        Stalled("ws", stalled_websocket(server.host, server.port, f"/ws/feeds/{slug}"), server.port)
        for _ in range(3)
    ]
    fast: list[Reader] = [WsReader("fast-ws", slug, [server.ws_url]).start()]
    fast.append(SseReader("fast-sse", slug, [server.ws_url]).start())
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in fast))

    flood = await flood_until_cut(cluster, slug, fast, "websocket", len(stalled))
    posted = flood.posted
    allowance = 0 if engine == "native" else TRANSPORT_HIGH_WATER
    for reader in stalled:
        reader.measure_kernels()
        await asyncio.to_thread(reader.drain)
        messages, code = ws_messages(bytes(reader.received))
        assert code == 4008, f"ended with {code}, not the slow-reader close"
        assert messages[0]["type"] == "hello"
        revs = [m["rev"] for m in messages[1:]]
        assert revs == list(posted[: len(revs)]), "in order from the first, none missing"
        # The native engine writes the event that crosses the bound, then cuts; the queued
        # transports drop it with the rest of their queue.
        assert revs[-1] < posted[-1] or (engine == "native" and revs[-1] == posted[-1])
        assert max(len(json.dumps(m, ensure_ascii=False)) for m in messages) < EVENT_MAX - 16
        assert_cut_at_the_bound(reader, revs[-1], flood, fast[0].model.event_bytes, allowance)
    assert await slow_reader_metric(cluster, "websocket") == len(stalled)

    # Each resumes from the last rev it received, and converges with the API.
    for n in range(2):  # something to resume to, whatever each had received
        await cluster.post(0, slug, body=f"after the cut {n}")
    resumed = [
        resumed_from(WsReader(f"resumed{i}", slug, [server.ws_url]), ws_messages(r.received)[0])
        for i, r in enumerate(stalled)
    ]
    await assert_converged(cluster, slug, [*fast, *resumed])
    for reader, before in zip(resumed, stalled, strict=True):
        log = reader.connections[0]
        assert log.since > 0 and log.first_rev == log.since + 1, (log, len(before.received))
    for reader in [*fast, *resumed]:
        assert len(reader.connections) == 1
        await reader.stop()
    await cluster.aclose()


async def test_stalled_sse_stream_is_cut_at_its_bound_and_resumes(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    cluster = start_cluster("memory", livefeed_factory, tmp_path=tmp_path, env=ENV)
    server = cluster.servers[0]
    slug = "slow-sse"
    await cluster.create_feed(slug)
    stalled = [
        Stalled("sse", stalled_sse(server.host, server.port, f"/sse/feeds/{slug}"), server.port)
        for _ in range(3)
    ]
    fast: list[Reader] = [WsReader("fast-ws", slug, [server.ws_url]).start()]
    fast.append(SseReader("fast-sse", slug, [server.ws_url]).start())
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in fast))

    flood = await flood_until_cut(cluster, slug, fast, "sse", len(stalled))
    posted = flood.posted
    for reader in stalled:
        reader.measure_kernels()
        await asyncio.to_thread(reader.drain)
        revs = [event["rev"] for event in sse_events(bytes(reader.received))[1:]]
        assert revs == list(posted[: len(revs)]), "in order from the first, none missing"
        assert revs[-1] < posted[-1], "the stream ended before the end of the flood"
        assert bytes(reader.received).endswith(b"0\r\n\r\n"), "a complete chunked response"
        sizes = fast[0].model.event_bytes
        assert_cut_at_the_bound(reader, revs[-1], flood, sizes, TRANSPORT_HIGH_WATER)

    assert await slow_reader_metric(cluster, "sse") == len(stalled)
    for n in range(2):  # something to resume to, whatever each had received
        await cluster.post(0, slug, body=f"after the cut {n}")
    resumed = [
        resumed_from(SseReader(f"resumed{i}", slug, [server.ws_url]), sse_events(bytes(r.received)))
        for i, r in enumerate(stalled)
    ]
    await assert_converged(cluster, slug, [*fast, *resumed])
    for reader, before in zip(resumed, stalled, strict=True):
        log = reader.connections[0]
        assert log.since > 0 and log.first_rev == log.since + 1, (log, len(before.received))
    for reader in [*fast, *resumed]:
        assert len(reader.connections) == 1
        await reader.stop()
    await cluster.aclose()


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The state (``/proc/net/tcp`` hex: ``01`` established) of the 127.0.0.1 TCP socket
    local_port → remote_port, or None once the kernel holds no such socket."""
    wanted = (_hex_addr(local_port), _hex_addr(remote_port))
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                return fields[3]
    return None


async def test_an_sse_reader_that_never_reads_is_cut_a_heartbeat_after_its_end(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    """A stalled SSE reader, cut at its bound, that never reads again: the server cannot
    finish the response into a full socket, so after one heartbeat (2 s here) it resets
    the connection instead of holding the socket and the reader's place in the per-address
    cap until the client goes. Without the cut the server's socket stayed established."""
    heartbeat = 2.0
    env = {**ENV, "LIVEFEED_HEARTBEAT_SECONDS": str(heartbeat)}
    cluster = start_cluster("memory", livefeed_factory, tmp_path=tmp_path, env=env)
    server = cluster.servers[0]
    slug = "never-reads"
    await cluster.create_feed(slug)
    stalled = Stalled(
        "sse", stalled_sse(server.host, server.port, f"/sse/feeds/{slug}"), server.port
    )
    fast: list[Reader] = [WsReader("fast-ws", slug, [server.ws_url]).start()]
    await wait_until_async(fast[0].connected.is_set, 10)
    await flood_until_cut(cluster, slug, fast, "sse", 1)
    assert tcp_state(server.port, stalled.client_port) == "01", "held open right after the cut"

    def server_side_gone() -> bool:
        return tcp_state(server.port, stalled.client_port) is None

    await wait_until_async(server_side_gone, heartbeat + 10)
    with pytest.raises(ConnectionResetError):
        stalled.sock.settimeout(10)
        while stalled.sock.recv(1 << 20):
            pass
    stalled.sock.close()
    await fast[0].stop()
    await cluster.aclose()
