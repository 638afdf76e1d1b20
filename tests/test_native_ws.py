"""The native WebSocket path's own pieces: outgoing framing, proxy trust, hand-over,
keepalive and the flood limit (incoming frames are parsed by ``websockets``; see
``tests/test_ws_conformance.py``)."""

from __future__ import annotations

import os
import struct
from typing import Any

import pytest
import websockets
from websockets.frames import Frame, Opcode

from app.live.frames import OP_TEXT, close_frame, fit_close_reason, frame


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


@pytest.mark.parametrize("char", ["é", "€", "😀"])
def test_close_reason_is_cut_on_a_character_boundary(char: str) -> None:
    reason = "feed " + char * 100 + " not found"
    fitted = fit_close_reason(reason)
    assert reason.startswith(fitted)
    assert len(fitted.encode()) <= 123
    assert len(fitted.encode()) > 123 - len(char.encode())  # cut only the partial one
    data = close_frame(4404, reason)
    data[4:].decode()  # valid UTF-8: a browser would otherwise report 1006
    assert len(data) == 2 + 2 + len(fitted.encode())


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
        while '"type":"readers"' in str(event):  # a live reader count, not a change
            event = await asyncio.wait_for(live.recv(), 5)
        assert "still here" in str(event)
