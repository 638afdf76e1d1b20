"""The native WebSocket protocol as a live stream's hub subscriber (``FeedSocketProtocol.
live``/``deliver``): one write of the pre-framed event per delivery, nothing the opening
covered, nothing once closing, and the send bound (4008) through the session."""

from __future__ import annotations

from typing import Any

from app.events import UNSEQUENCED
from app.hub import Event
from app.live.close_codes import CLOSE_SLOW_READER
from app.live.native_ws import FeedSocketProtocol


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.unsent = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return False


class FakeSession:
    limit_bytes = 1000

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


def live_protocol(covered: int) -> tuple[FeedSocketProtocol, FakeTransport, FakeSession]:
    protocol = FeedSocketProtocol(config=None, server_state=None, app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    session: Any = FakeSession()
    protocol.session = session
    assert protocol.live(session, covered) is protocol
    return protocol, transport, session


def event(rev: int) -> Event:
    return Event(rev, b'{"type":"entry","rev":%d}' % rev)


def test_each_event_is_one_write_of_its_frame_and_covered_revs_are_skipped() -> None:
    protocol, transport, _ = live_protocol(covered=4)
    for rev in (3, 4, 5):
        protocol.deliver(event(rev))
    readers = Event(UNSEQUENCED, b'{"type":"readers","count":2}')
    protocol.deliver(readers)
    assert transport.written == [event(5).ws_frame, readers.ws_frame]


def test_nothing_is_written_once_closing() -> None:
    protocol, transport, _ = live_protocol(covered=0)
    protocol._closing = True  # our close frame is out (see FeedSocketProtocol._flush)
    protocol.deliver(event(1))
    assert transport.written == []


def test_a_backlog_over_the_bound_closes_the_session_with_4008() -> None:
    protocol, transport, session = live_protocol(covered=0)
    protocol.deliver(event(1))
    transport.unsent = 1001
    protocol.deliver(event(2))
    assert [code for code, _reason in session.closes] == [CLOSE_SLOW_READER]
    assert len(transport.written) == 2


def test_the_hubs_close_goes_through_the_session() -> None:
    protocol, _, session = live_protocol(covered=0)
    protocol.close(1012, "restart")
    assert session.closes == [(1012, "restart")]
