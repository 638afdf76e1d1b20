"""The team channel (:mod:`app.team`) with fakes: two "processes" (two channels) joined by a
shared notice bus that the test can cut, and presence fields shared like Redis hashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from app.brokers.base import BrokerUnavailable, NoticeHandler
from app.team import LocalFields, Member, TeamChannel, merge_members


class NoticeBus:
    """What Redis is to the processes: every notice reaches every process (the sender
    included), unless ``down``."""

    def __init__(self) -> None:
        self.handlers: list[NoticeHandler] = []
        self.down = False
        self.sent: list[bytes] = []


class BusBroker:
    in_process = False
    connected = True

    def __init__(self, bus: NoticeBus) -> None:
        self.bus = bus

    def on_notice(self, handler: NoticeHandler) -> None:
        self.bus.handlers.append(handler)

    async def publish_notice(self, payload: bytes) -> None:
        if self.bus.down:
            raise BrokerUnavailable("bus down")
        self.bus.sent.append(payload)
        for handler in list(self.bus.handlers):
            handler(payload)


class InProcessBroker:
    in_process = True
    connected = True

    def __init__(self) -> None:
        self.published: list[bytes] = []

    def on_notice(self, handler: NoticeHandler) -> None:
        return None

    async def publish_notice(self, payload: bytes) -> None:
        self.published.append(payload)


class SharedFields:
    """Per-process fields in one dict, like the Redis hashes (no expiry needed here)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, str]] = {}

    def of(self, process: str) -> ProcessView:
        return ProcessView(self, process)


class ProcessView:
    def __init__(self, shared: SharedFields, process: str) -> None:
        self.shared, self.process = shared, process

    async def put(self, values: Mapping[str, str | None], ttl_seconds: float) -> None:
        for key, value in values.items():
            fields = self.shared.values.setdefault(key, {})
            if value is None:
                fields.pop(self.process, None)
            else:
                fields[self.process] = value

    async def live(self, keys: Sequence[str]) -> list[list[str]]:
        return [list(self.shared.values.get(key, {}).values()) for key in keys]

    async def forget(self, keys: Sequence[str]) -> None:
        await self.put(dict.fromkeys(keys), 0)

    async def close(self) -> None:
        return None


class Sink:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, frame: bytes) -> None:
        self.frames.append(json.loads(frame))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


ANA = Member("user:1", "Ana", user_id=1, session_id="s-ana")
BEN = Member("user:2", "Ben", user_id=2, session_id="s-ben")


def two_processes() -> tuple[NoticeBus, TeamChannel, TeamChannel]:
    bus, fields = NoticeBus(), SharedFields()
    a = TeamChannel(BusBroker(bus), fields.of("a"), interval=60)
    b = TeamChannel(BusBroker(bus), fields.of("b"), interval=60)
    return bus, a, b


ENTRY = {"id": 5, "status": "submitted", "body": "Draft"}


async def test_an_entry_change_reaches_the_team_in_every_process_once() -> None:
    _bus, a, b = two_processes()
    on_a, on_b, elsewhere = Sink(), Sink(), Sink()
    await a.join("f", ANA, on_a)
    await b.join("f", BEN, on_b)
    await b.join("g", BEN, elsewhere)
    await a.entry_changed("f", "submitted", ENTRY)
    await settle()
    expected = [{"type": "entry", "action": "submitted", "entry": ENTRY}]
    assert on_a.of("entry") == expected  # delivered here at once; its echo is dropped
    assert on_b.of("entry") == expected
    assert elsewhere.of("entry") == []  # another feed's team


async def test_without_the_notice_the_other_process_hears_nothing() -> None:
    """The cross-process path is the notice: with the bus down, only the writer's own
    process is told (the studio heals by refetching on reconnect)."""
    bus, a, b = two_processes()
    on_a, on_b = Sink(), Sink()
    await a.join("f", ANA, on_a)
    await b.join("f", BEN, on_b)
    bus.down = True
    await a.entry_changed("f", "created", ENTRY)  # logged, not raised
    await settle()
    assert len(on_a.of("entry")) == 1
    assert on_b.of("entry") == []


async def test_presence_is_merged_across_processes_per_person() -> None:
    _bus, a, b = two_processes()
    ana_tab1, ana_tab2, ben = Sink(), Sink(), Sink()
    await a.join("f", ANA, ana_tab1)
    await b.join("f", ANA, ana_tab2)
    await b.join("f", BEN, ben)
    await a.editing("f", ana_tab1, 9)
    await b.editing("f", ana_tab2, 4)
    await settle()
    want = [
        {"key": "user:1", "name": "Ana", "editing": [4, 9]},
        {"key": "user:2", "name": "Ben", "editing": []},
    ]
    for sink in (ana_tab1, ana_tab2, ben):
        assert sink.of("presence")[-1]["members"] == want
    await b.leave("f", ben)
    await settle()
    assert ana_tab1.of("presence")[-1]["members"] == want[:1]


async def test_revoke_closes_the_session_or_the_account_everywhere() -> None:
    _bus, a, b = two_processes()
    ana_a, ana_b, ben_b = Sink(), Sink(), Sink()
    other_session = Member("user:1", "Ana", user_id=1, session_id="s-ana-2")
    await a.join("f", ANA, ana_a)
    await b.join("f", other_session, ana_b)
    await b.join("f", BEN, ben_b)
    await a.revoke(session_id="s-ana")
    await settle()
    assert ana_a.closed is not None and ana_a.closed[0] == 4401
    assert ana_b.closed is None and ben_b.closed is None
    await a.revoke(user_id=1)
    await settle()
    assert ana_b.closed is not None and ana_b.closed[0] == 4401
    assert ben_b.closed is None


async def test_in_process_broker_sends_no_notices() -> None:
    broker = InProcessBroker()
    channel = TeamChannel(broker, LocalFields(), interval=60)
    sink = Sink()
    await channel.join("f", ANA, sink)
    await channel.entry_changed("f", "created", ENTRY)
    await channel.revoke(user_id=1)
    assert broker.published == []
    assert sink.of("entry") and sink.closed is not None


async def test_bad_calls_and_notices_are_refused_or_ignored() -> None:
    bus, a, _b = two_processes()
    with pytest.raises(ValueError):
        await a.entry_changed("f", "exploded", ENTRY)
    with pytest.raises(ValueError):
        await a.revoke()
    for handler in bus.handlers:
        handler(b"not json")
        handler(b'{"k": "frame"}')


def test_merge_members_sorts_by_name() -> None:
    values = [
        json.dumps([{"key": "b", "name": "zoe", "editing": None}]),
        json.dumps([{"key": "a", "name": "Ana", "editing": 2}]),
    ]
    assert [m["name"] for m in merge_members(values)] == ["Ana", "zoe"]
