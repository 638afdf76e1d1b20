"""The native WebSocket path's own pieces: framing, masking, proxy trust, hand-over."""

from __future__ import annotations

import os
import struct
from typing import Any

import pytest
import websockets
from websockets.frames import Frame, Opcode

from app.live.frames import OP_TEXT, close_frame, frame
from app.live.native_ws import _accept_key, _trusted, _unmask


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_frames_parse_back_with_the_reference_parser(size: int) -> None:
    payload = os.urandom(size)
    data = frame(OP_TEXT, payload)
    # websockets' own parser, reading what a client would receive.
    from websockets.streams import StreamReader

    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        parsed: Frame = done.value
    assert parsed.opcode == Opcode.TEXT and parsed.fin and parsed.data == payload


def test_close_frame_carries_code_and_a_bounded_reason() -> None:
    data = close_frame(4008, "x" * 500)
    assert data[0] == 0x88
    assert struct.unpack("!H", data[2:4])[0] == 4008
    assert len(data) <= 2 + 125


def test_unmask_is_xor_with_the_repeated_key() -> None:
    mask = b"\x01\x02\x03\x04"
    payload = bytes(range(11))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert _unmask(masked, mask) == payload
    assert _unmask(b"", mask) == b""


def test_accept_key_matches_rfc_6455_example() -> None:
    assert _accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_forwarded_for_is_trusted_only_from_configured_proxies() -> None:
    assert _trusted("127.0.0.1", "127.0.0.1")
    assert _trusted("10.1.2.3", "10.0.0.0/8, 127.0.0.1")
    assert not _trusted("8.8.8.8", "10.0.0.0/8")
    assert _trusted("8.8.8.8", "*")
    assert not _trusted("not-an-ip", "127.0.0.1")


async def test_other_websocket_paths_are_handed_to_the_app(livefeed_factory: Any) -> None:
    server = livefeed_factory()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{server.ws_url}/ws/not-a-feed-path"):
            pass
    assert refused.value.response.status_code == 403
    # And a feed stream on the same server still works, and closes cleanly.
    async with websockets.connect(f"{server.ws_url}/ws/feeds/demo") as ws:
        assert '"hello"' in str(await ws.recv())
    assert ws.close_code == 1000 and ws.protocol.close_rcvd is not None


async def test_heartbeat_drops_silent_peers_and_keeps_answering_ones(
    livefeed_factory: Any,
) -> None:
    """A peer that answers nothing is pinged after one quiet heartbeat and dropped after
    the next; a client that answers pings (as browsers do) stays connected."""
    import asyncio
    import time

    from tests.live_support import stalled_websocket

    server = livefeed_factory(env={"LIVEFEED_HEARTBEAT_SECONDS": "0.5"})
    async with websockets.connect(f"{server.ws_url}/ws/feeds/demo", ping_interval=None) as live:
        assert '"hello"' in str(await live.recv())
        silent = stalled_websocket(server.host, server.port, "/ws/feeds/demo")
        silent.settimeout(10)
        started = time.monotonic()

        def read_until_dropped() -> bytes:
            received = b""
            try:
                while chunk := silent.recv(65536):
                    received += chunk
            except ConnectionResetError:
                pass
            return received

        # In a thread: the event loop must stay free to answer the live client's pings.
        received = await asyncio.to_thread(read_until_dropped)
        dropped_after = time.monotonic() - started
        assert b"\x89\x02lf" in received  # the server's ping reached the silent peer
        assert dropped_after < 5, dropped_after
        # The answering client outlived several heartbeats and still gets live events.
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        import httpx

        async with httpx.AsyncClient(base_url=server.base_url) as http:
            posted = await http.post(
                "/api/feeds/demo/entries", json={"body": "still here"}, headers=headers
            )
            assert posted.status_code == 201
        event = await asyncio.wait_for(live.recv(), 5)
        assert "still here" in str(event)


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = b"\x11\x22\x33\x44"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def test_flood_then_close_in_one_segment_still_completes_the_close(
    livefeed_factory: Any,
) -> None:
    """A flood and the client's own close frame arriving in one read: the server says 1008
    and still sees the client's close, so the connection ends at once (not after the
    heartbeat grace)."""
    import asyncio
    import time

    from tests.live_support import stalled_websocket

    server = livefeed_factory(env={"LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE": "3"})
    sock = stalled_websocket(server.host, server.port, "/ws/feeds/demo")
    sock.sendall(
        b"".join(_client_frame(0x1, b"hi") for _ in range(10))
        + _client_frame(0x8, struct.pack("!H", 1000))
    )
    sock.settimeout(10)
    started = time.monotonic()

    def read_all() -> bytes:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data

    data = await asyncio.to_thread(read_all)
    assert time.monotonic() - started < 5
    assert b"\x88" in data and struct.pack("!H", 1008) in data
