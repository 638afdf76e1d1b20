"""RFC 6455 conformance of ``/ws/feeds/{slug}``, on both WebSocket engines.

Modelled on the Autobahn fuzzingclient case groups — handshake (§4), framing (1-4),
pings and pongs (2), fragmentation (5), UTF-8 (6), close handling (7), limits (9) — with
every byte hand-built on a raw socket (:mod:`tests.ws_support`) against a real
``livefeed serve`` process, once with ``LIVEFEED_WS_ENGINE=native`` and once with ``asgi``.

A case passes when the server does what the RFC requires: the right HTTP status or close
code, nothing written after its close frame, a close reason that is valid UTF-8 within
125 bytes, and the TCP connection closed after the closing handshake. Also here: the
native path's edge cases of issue 16 (oversized headers, bad request line, unmasked frame,
client ping, a client vanishing mid-open).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import psutil
import pytest

from tests.support.services import LivefeedServer, wait_until
from tests.ws_support import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawClient,
    build_frame,
    close_payload,
    handshake_request,
)

ENGINES = ["native", "asgi"]
MAX_MESSAGE = 4096
PER_MINUTE = 200
SEND_BUFFER = 64 * 1024


def _start(engine: str, **env: str) -> LivefeedServer:
    server = LivefeedServer(
        {
            "LIVEFEED_ADMIN_TOKEN": "test-admin-token",
            "LIVEFEED_WS_ENGINE": engine,
            "LIVEFEED_CLIENT_MAX_MESSAGE_BYTES": str(MAX_MESSAGE),
            "LIVEFEED_SEND_BUFFER_BYTES": str(SEND_BUFFER),
            "LIVEFEED_LOG_LEVEL": "warning",
            **env,
        }
    )
    return server.start()


def _stop_clean(server: LivefeedServer) -> None:
    log = server.log_text()
    server.close()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest) -> Iterator[LivefeedServer]:
    """A server per engine, shared by the module's cases (each opens its own connection)."""
    started = _start(
        request.param,
        LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE=str(PER_MINUTE),
        LIVEFEED_MAX_CONNECTIONS_PER_IP="1000",
    )
    yield started
    _stop_clean(started)


def client(server: LivefeedServer, **kwargs: float | str) -> RawClient:
    return RawClient(server.host, server.port, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Handshake (RFC 6455 §4)
# ---------------------------------------------------------------------------------------


def test_valid_handshake_opens_the_stream(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()  # checks 101, Sec-WebSocket-Accept and the hello event
        assert c.still_open()


def test_wrong_version_gets_426_naming_version_13(server: LivefeedServer) -> None:
    with client(server) as c:
        response = c.handshake(version="8")
        assert response.status == 426, response
        assert response.header("sec-websocket-version") == "13"


@pytest.mark.parametrize(
    "key",
    [None, "not base64!", "c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="],
    ids=["missing", "not-base64", "not-16-bytes", "two-values"],
)
def test_bad_key_gets_400(server: LivefeedServer, key: str | None) -> None:
    with client(server) as c:
        response = c.handshake(key=key)
        assert response.status == 400, response


def test_duplicate_key_header_gets_400(server: LivefeedServer) -> None:
    with client(server) as c:
        response = c.handshake(extra=[("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==")])
        assert response.status == 400, response


def test_oversized_header_gets_431(server: LivefeedServer) -> None:
    with client(server) as c:
        response = c.handshake(extra=[("X-Padding", "a" * 9000)])
        assert response.status == 431, response


def test_bad_request_line_gets_400(server: LivefeedServer) -> None:
    with client(server) as c:
        c.send(b"GET /ws/feeds/demo HTTP/1.1 junk\x01\r\nUpgrade: websocket\r\n\r\n")
        response = c.read_response()
        assert response.status == 400, response


def test_slug_is_percent_decoded_exactly_once(server: LivefeedServer) -> None:
    # "dem%256F" is the slug "dem%6F" (decoded once); decoded twice it would be "demo".
    with client(server) as c:
        response = c.handshake("/ws/feeds/dem%256F")
        assert response.status == 101
        close = c.expect_close(4404)
        assert "dem%6F" in close.close_reason


def test_long_non_ascii_close_reason_is_cut_on_a_character_boundary(
    server: LivefeedServer,
) -> None:
    slug = "é" * 80  # the 4404 reason names it: far over 123 bytes of UTF-8
    with client(server) as c:
        response = c.handshake("/ws/feeds/" + quote(slug))
        assert response.status == 101
        close = c.expect_close(4404)  # decodes the reason as UTF-8
        assert close.close_reason.startswith("feed '" + "é" * 10)
        assert len(close.payload) <= 125


# ---------------------------------------------------------------------------------------
# Framing (Autobahn 1-4)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
@pytest.mark.parametrize("size", [0, 125, 126, MAX_MESSAGE])
def test_data_frames_within_limits_are_accepted(
    server: LivefeedServer, opcode: int, size: int
) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(opcode, b"*" * size)
        assert c.still_open()


def test_unmasked_frame_is_a_protocol_error(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_TEXT, b"hello", mask=False)
        c.expect_close(1002)


@pytest.mark.parametrize("rsv", [1, 2, 3, 4, 5, 6, 7])
def test_reserved_bits_are_a_protocol_error(server: LivefeedServer, rsv: int) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_TEXT, b"hello", rsv=rsv)
        c.expect_close(1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_a_protocol_error(server: LivefeedServer, opcode: int) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(opcode, b"")
        c.expect_close(1002)


# ---------------------------------------------------------------------------------------
# Pings and pongs (Autobahn 2)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125])
def test_ping_is_answered_with_the_same_payload(server: LivefeedServer, size: int) -> None:
    with client(server) as c:
        c.open()
        payload = bytes(range(size))
        c.send_frame(OP_PING, payload)
        frame = c.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PONG, payload)


def test_ping_over_125_bytes_is_a_protocol_error(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_PING, b"x" * 126)
        c.expect_close(1002)


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_fragmented_control_frame_is_a_protocol_error(server: LivefeedServer, opcode: int) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(opcode, b"", fin=False)
        c.expect_close(1002)


def test_unsolicited_pong_is_ignored(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_PONG, b"unsolicited")
        assert c.still_open()


# ---------------------------------------------------------------------------------------
# Fragmentation (Autobahn 5)
# ---------------------------------------------------------------------------------------


def test_fragmented_message_with_a_ping_between_fragments(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send(
            build_frame(OP_TEXT, b"frag", fin=False)
            + build_frame(OP_PING, b"mid")
            + build_frame(OP_CONT, b"ment", fin=False)
            + build_frame(OP_CONT, b"ed")
        )
        frame = c.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PONG, b"mid")
        assert c.still_open()


def test_orphan_continuation_is_a_protocol_error(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CONT, b"orphan")
        c.expect_close(1002)


def test_new_message_inside_a_fragmented_one_is_a_protocol_error(
    server: LivefeedServer,
) -> None:
    with client(server) as c:
        c.open()
        c.send(build_frame(OP_TEXT, b"one", fin=False) + build_frame(OP_TEXT, b"two"))
        c.expect_close(1002)


# ---------------------------------------------------------------------------------------
# UTF-8 (Autobahn 6)
# ---------------------------------------------------------------------------------------


def test_valid_utf8_text_is_accepted_even_split_inside_a_character(
    server: LivefeedServer,
) -> None:
    text = "κόσμε €😀".encode()
    with client(server) as c:
        c.open()
        c.send(
            build_frame(OP_TEXT, text[:2], fin=False)
            + build_frame(OP_CONT, text[2:9], fin=False)  # cuts "€" in two
            + build_frame(OP_CONT, text[9:])
        )
        assert c.still_open()


@pytest.mark.parametrize(
    "payload",
    [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        b"\xc0\xaf",
        b"\xff",
        b"a\xf4\x90\x80\x80",
    ],
    ids=["surrogate", "overlong", "invalid-byte", "over-max-codepoint"],
)
def test_invalid_utf8_text_closes_1007(server: LivefeedServer, payload: bytes) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_TEXT, payload)
        c.expect_close(1007)


def test_invalid_utf8_in_a_later_fragment_closes_1007(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send(build_frame(OP_TEXT, b"valid", fin=False) + build_frame(OP_CONT, b"\xed\xa0\x80"))
        c.expect_close(1007)


def test_text_ending_inside_a_character_closes_1007(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_TEXT, "€".encode()[:2])
        c.expect_close(1007)


def test_binary_frames_are_not_checked_for_utf8(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_BINARY, b"\xff\xfe\xc0")
        assert c.still_open()


# ---------------------------------------------------------------------------------------
# Close handling (Autobahn 7)
# ---------------------------------------------------------------------------------------


def test_empty_close_is_answered_and_tcp_closed(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, b"")
        frame, _ = c.read_until_close()
        assert frame.close_code in (None, 1000)
        assert c.at_eof()


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999])
def test_valid_close_code_is_echoed(server: LivefeedServer, code: int) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, close_payload(code, b"bye"))
        frame, _ = c.read_until_close()
        assert frame.close_code == code
        assert c.at_eof()


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_invalid_close_code_is_a_protocol_error(server: LivefeedServer, code: int) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, close_payload(code))
        frame, _ = c.read_until_close()
        assert frame.close_code == 1002, (code, frame.close_code)
        assert c.at_eof()


def test_one_byte_close_payload_is_a_protocol_error(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, b"\x03")
        frame, _ = c.read_until_close()
        assert frame.close_code == 1002
        assert c.at_eof()


def test_close_reason_that_is_not_utf8_closes_1007(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, close_payload(1000, b"\xff\xfe"))
        frame, _ = c.read_until_close()
        assert frame.close_code == 1007
        assert c.at_eof()


def test_close_payload_over_125_bytes_is_a_protocol_error(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_CLOSE, close_payload(1000, b"r" * 124))
        frame, _ = c.read_until_close()
        assert frame.close_code == 1002
        assert c.at_eof()


def test_nothing_is_answered_after_the_clients_close(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send(
            build_frame(OP_CLOSE, close_payload(1000))
            + build_frame(OP_PING, b"late")
            + build_frame(OP_TEXT, b"late")
        )
        frame, before = c.read_until_close()
        assert frame.close_code == 1000 and before == []
        assert c.at_eof()  # no pong after the close frame


# ---------------------------------------------------------------------------------------
# Limits (Autobahn 9, and the server's own bounds)
# ---------------------------------------------------------------------------------------


def test_message_over_the_size_limit_closes_1009(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        c.send_frame(OP_BINARY, b"x" * (MAX_MESSAGE + 1))
        c.expect_close(1009)


def test_fragmented_message_over_the_size_limit_closes_1009(server: LivefeedServer) -> None:
    with client(server) as c:
        c.open()
        half = b"x" * (MAX_MESSAGE // 2 + 1)
        c.send(build_frame(OP_BINARY, half, fin=False) + build_frame(OP_CONT, half))
        c.expect_close(1009)


@pytest.mark.parametrize(
    "opcodes", [(OP_TEXT,), (OP_PING,), (OP_TEXT, OP_PING)], ids=["messages", "pings", "mixed"]
)
def test_frame_flood_closes_1008(server: LivefeedServer, opcodes: tuple[int, ...]) -> None:
    """Messages and pings count against one limit: in the mixed flood neither kind alone
    is over ``PER_MINUTE`` (each is half of it plus 5), together they are."""
    with client(server) as c:
        c.open()
        flood = [build_frame(opcodes[i % len(opcodes)], b"hi") for i in range(PER_MINUTE + 10)]
        c.send(b"".join(flood))
        frame, before = c.read_until_close()
        assert frame.close_code == 1008
        # At most one pong per ping within the limit: the 1008 came in time.
        assert len(before) <= PER_MINUTE
        c.send_frame(OP_CLOSE, close_payload(1000))
        assert c.at_eof()


def test_flood_then_close_in_one_segment_ends_at_once(server: LivefeedServer) -> None:
    """Flood and the client's close in one read: the closing handshake completes at once
    (not after the heartbeat grace), and nothing follows the server's close frame."""
    with client(server, timeout=5) as c:
        c.open()
        c.send(
            b"".join(build_frame(OP_TEXT, b"hi") for _ in range(PER_MINUTE + 5))
            + build_frame(OP_CLOSE, close_payload(1000))
        )
        frame, _ = c.read_until_close()
        assert frame.close_code in (1000, 1008)
        assert c.at_eof()


def _rss_of(server: LivefeedServer) -> int:
    assert server.pid is not None
    process = psutil.Process(server.pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


@pytest.fixture(scope="module", params=ENGINES)
def unlimited_server(request: pytest.FixtureRequest) -> Iterator[LivefeedServer]:
    """No practical flood limit: only the send bound stands between a ping flood and RAM."""
    started = _start(request.param, LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE="100000000")
    yield started
    _stop_clean(started)


PING_FLOOD_BYTES = 24 * 1024 * 1024


def test_ping_flood_from_a_client_that_never_reads_is_bounded(
    unlimited_server: LivefeedServer,
) -> None:
    """24 MiB of 125-byte pings from a client that reads nothing: the pongs may not pile
    up in server memory past the send bound (``LIVEFEED_SEND_BUFFER_BYTES``, 64 KiB here)."""
    server = unlimited_server
    before = _rss_of(server)
    with client(server, timeout=30, rcvbuf=4096) as c:
        c.open()
        batch = build_frame(OP_PING, b"p" * 125) * 2048
        sent = 0
        try:
            while sent < PING_FLOOD_BYTES:
                c.send(batch)
                sent += len(batch)
        except OSError:
            pass  # cut off (4008 + abort) before everything was sent: fine
        growth = _rss_of(server) - before
    assert growth < 8 * 1024 * 1024, f"server grew by {growth / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------------------
# Connections that vanish
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def capped_server(request: pytest.FixtureRequest) -> Iterator[LivefeedServer]:
    started = _start(request.param, LIVEFEED_MAX_CONNECTIONS_PER_IP="2")
    yield started
    _stop_clean(started)


def _refused_before_upgrade(c: RawClient, status: int, path: str = "/ws/feeds/demo") -> None:
    """The handshake gets ``status`` with Retry-After, and the socket is closed at once."""
    if path.startswith("/ws/"):
        response = c.handshake(path)
    else:
        c.send(f"GET {path} HTTP/1.1\r\nHost: {c.host}\r\n\r\n".encode())
        response = c.read_response()
    assert response.status == status, response
    assert (response.header("retry-after") or "").isdigit(), response
    assert c.at_eof(), "the refused connection was held open"


def test_over_the_per_address_cap_is_refused_before_the_upgrade(
    capped_server: LivefeedServer,
) -> None:
    """Cap 2: a third live stream from the address gets 429 (WebSocket and SSE alike),
    while another address is still served."""
    server = capped_server
    with client(server) as first, client(server) as second:
        first.open()
        second.open()
        with client(server) as third:
            _refused_before_upgrade(third, 429)
        with client(server) as sse:
            _refused_before_upgrade(sse, 429, "/sse/feeds/demo")
        with client(server, source="127.0.0.2") as elsewhere:
            elsewhere.open()


@pytest.fixture(scope="module", params=ENGINES)
def budget_server(request: pytest.FixtureRequest) -> Iterator[LivefeedServer]:
    started = _start(request.param, LIVEFEED_MAX_LIVE_CONNECTIONS="3")
    yield started
    _stop_clean(started)


def test_over_the_process_live_budget_is_refused_with_503(budget_server: LivefeedServer) -> None:
    """Budget 3: the fourth live stream, from any address, gets 503 before the upgrade;
    plain HTTP (the reporter's side) is still served."""
    server = budget_server
    readers = [client(server, source=f"127.0.0.{n}") for n in (2, 3, 4)]
    try:
        for reader in readers:
            reader.open()
        with client(server, source="127.0.0.5") as late:
            _refused_before_upgrade(late, 503)
        with client(server, source="127.0.0.5") as late_sse:
            _refused_before_upgrade(late_sse, 503, "/sse/feeds/demo")
        assert httpx.get(server.url("/api/feeds/demo")).status_code == 200
    finally:
        for reader in readers:
            reader.close()

    def admitted_again() -> bool:
        with client(server) as again:
            return again.handshake().status == 101

    assert wait_until(admitted_again, timeout=15, message="a place freed")


def test_clients_vanishing_mid_open_release_their_place(capped_server: LivefeedServer) -> None:
    """Ten clients that send the upgrade and drop the socket before any answer: the per-IP
    cap of 2 still admits two readers afterwards (every counted place was given back)."""
    server = capped_server
    for _ in range(10):
        sock = socket.create_connection((server.host, server.port))
        sock.sendall(handshake_request(server.host, server.port, "/ws/feeds/demo"))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST, at once

    def two_readers_admitted() -> bool:
        with client(server) as first, client(server) as second:
            for c in (first, second):
                if c.handshake().status != 101:
                    return False
                frame = c.read_frame()
                if frame.opcode != OP_TEXT:
                    return False
            return True

    assert wait_until(two_readers_admitted, timeout=15, message="both places released")


# ---------------------------------------------------------------------------------------
# Nothing after the close frame, even when SIGTERM races the opening of streams
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_no_frame_follows_the_1012_when_sigterm_races_opening_streams(engine: str) -> None:
    """40 readers resume with ``since=0`` (a catch-up read each) while SIGTERM arrives: a
    reader gets hello/catch-up and then 1012, or 1012 alone — never a frame after the 1012
    (Chromium reports such a close as 1006)."""
    server = _start(engine, LIVEFEED_DRAIN_SECONDS="0")
    try:
        for n in range(30):
            with httpx.Client(base_url=server.base_url) as http:
                posted = http.post(
                    "/api/feeds/demo/entries",
                    json={"body": f"entry {n} " + "words " * 50},
                    headers={"Authorization": "Bearer test-admin-token"},
                )
                assert posted.status_code == 201, posted.text
        request = handshake_request(server.host, server.port, "/ws/feeds/demo?since=0")
        settled = [client(server, timeout=30) for _ in range(10)]
        for reader in settled:
            reader.open("/ws/feeds/demo?since=0")  # live before SIGTERM: 1012 for sure
        racing = [client(server, timeout=30) for _ in range(40)]
        for reader in racing:
            reader.send(request)
        # The first racer answered: the others are being opened (catch-up reads) now.
        first = racing[0].read_response()
        stopping = threading.Thread(target=server.terminate, args=(20,))
        stopping.start()
        closes: list[int | None] = []
        for reader in settled + racing:
            with reader:
                try:
                    response = first if reader is racing[0] else None
                    if reader not in settled and response is None:
                        response = reader.read_response()
                except (EOFError, ConnectionResetError):
                    continue  # not answered before the process stopped
                if response is not None and response.status != 101:
                    assert response.status == 503, response
                    continue
                frame, _before = reader.read_until_close()
                closes.append(frame.close_code)
                assert reader.at_eof(), f"bytes after the close frame: {bytes(reader.buffer)!r}"
        stopping.join()
        assert len(closes) >= len(settled)
        assert set(closes) == {1012}, closes
        log = server.log_text()
        assert "Traceback" not in log, log[-4000:]
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# A restart does not wait for readers that never answer the 1012
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_sigterm_does_not_wait_a_heartbeat_for_readers_that_never_answer_the_1012(
    engine: str,
) -> None:
    """Readers that never answer the close frame are cut shortly after their 1012, so the
    process exits long before its heartbeat (25 s) or shutdown timeout (30 s) — a restart
    under 10,000 readers is not held by their close handshakes."""
    server = _start(
        engine,
        LIVEFEED_DRAIN_SECONDS="0",
        LIVEFEED_HEARTBEAT_SECONDS="25",
        LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS="30",
    )
    try:
        readers = [client(server, timeout=40) for _ in range(3)]
        for reader in readers:
            reader.open()
        assert server.pid is not None
        os.kill(server.pid, signal.SIGTERM)
        wait_until(
            lambda: server.returncode is not None,
            timeout=12,
            message="the process exited well before its heartbeat and shutdown timeout",
        )
        for reader in readers:
            with reader:
                frame, _before = reader.read_until_close()
                assert frame.close_code == 1012
                assert reader.at_eof()  # we sent no close frame back: the server cut it
        log = server.log_text()
        assert "Traceback" not in log, log[-4000:]
    finally:
        server.close()
