"""The studio's private team channel: per feed, what its team sees live, in every process.

Contracts:

* **Private.** Frames go only to team connections joined here (:mod:`app.live.team`
  authenticates them and checks ``team.view``). Nothing here touches the hub, a feed's
  broker channel or the change log: between processes, team traffic rides the broker's
  notice channel (:meth:`app.brokers.base.Broker.publish_notice`), which no reader stream
  is fed from, so a reader of the feed never gets a team frame.
* **Frames** (JSON text; this module is their one owner):

  - ``{"type": "hello", "feed", "you": {"key", "name"}, "heartbeat"}`` — first, once;
  - ``{"type": "entry", "action", "entry"}`` — an unpublished entry changed (``action``:
    ``created``, ``updated``, ``submitted``, ``scheduled``, ``published``, ``unpublished``,
    ``deleted``, ``restored``); ``entry`` is the entry as the API returns it;
  - ``{"type": "presence", "members": [{"key", "name", "editing": [entry ids]}]}`` — who is
    in the feed's console now (one item per person, however many tabs), sent on join and
    whenever it changes;
  - ``{"type": "error", "detail"}`` — a client message that was not understood.

* **Loss.** Notices are fire-and-forget like every broker message. A studio refetches the
  unpublished entries whenever it (re)connects, so a missed ``entry`` frame is healed then;
  presence is re-read every ``interval`` seconds anyway.
* **Presence** expires: each process writes its members per feed (``livefeed:team:SLUG``,
  one field per process, :class:`app.presence.ProcessFields`) and refreshes them every
  ``interval``; a process that dies drops out ``3 × interval`` after its last write; a
  browser that dies drops out when its socket does (WebSocket pings every
  ``LIVEFEED_HEARTBEAT_SECONDS``).
* **Revocation** (:meth:`TeamChannel.revoke`): the connections of a session that ended or
  an account that was disabled are closed with 4401 in every process at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from app.brokers.base import Broker, BrokerUnavailable
from app.live.close_codes import TEAM_SIGNED_OUT
from app.presence import EXPIRY_INTERVALS, ProcessFields
from app.schemas import Entry

log = logging.getLogger(__name__)

#: What :meth:`TeamChannel.entry_changed` accepts as ``action``.
ENTRY_ACTIONS = frozenset(
    {
        "created",
        "updated",
        "submitted",
        "scheduled",
        "published",
        "unpublished",
        "deleted",
        "restored",
    }
)


def presence_key(feed: str) -> str:
    """Where processes' team members of ``feed`` meet (never a reader-count or feed key)."""
    return f"livefeed:team:{feed}"


@dataclass(frozen=True, slots=True)
class Member:
    """Who a team connection is."""

    #: Stable per person: ``user:ID`` for an account, ``token:NAME`` for a bearer token.
    key: str
    name: str
    user_id: int | None = None
    session_id: str | None = None


class TeamSink(Protocol):
    """A team connection as the channel sees it; both calls must not block."""

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` (the connection bounds what it holds and closes itself past it)."""

    def close(self, code: int, reason: str) -> None: ...


class FieldStore(Protocol):
    """Where processes' presence meets (see :class:`app.presence.ProcessFields`)."""

    async def put(self, values: Mapping[str, str | None], ttl_seconds: float) -> None: ...

    async def live(self, keys: Sequence[str]) -> list[list[str]]: ...

    async def forget(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class LocalFields:
    """The in-process broker's case: this process is every process."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def put(self, values: Mapping[str, str | None], ttl_seconds: float) -> None:
        for key, value in values.items():
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = value

    async def live(self, keys: Sequence[str]) -> list[list[str]]:
        return [[self._values[key]] if key in self._values else [] for key in keys]

    async def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def close(self) -> None:
        return None


def field_store(redis_url: str | None) -> FieldStore:
    """Redis fields when the processes share a Redis, else this process's own."""
    return ProcessFields(redis_url) if redis_url else LocalFields()


def hello_frame(feed: str, member: Member, heartbeat_seconds: float) -> bytes:
    return _frame(
        {
            "type": "hello",
            "feed": feed,
            "you": {"key": member.key, "name": member.name},
            "heartbeat": heartbeat_seconds,
        }
    )


def error_frame(detail: str) -> bytes:
    return _frame({"type": "error", "detail": detail})


def _frame(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(slots=True)
class _Seat:
    member: Member
    editing: int | None = None


class TeamChannel:
    """One per app: this process's team connections per feed, and the notices between
    processes that keep every process's copy of each feed's team in step."""

    def __init__(self, broker: Broker, fields: FieldStore, interval: float) -> None:
        self.broker = broker
        self.fields = fields
        self.interval = interval
        #: Tells this process's own notices apart when the broker echoes them back.
        self.origin = uuid.uuid4().hex
        self._seats: dict[str, dict[TeamSink, _Seat]] = {}
        #: The last presence frame sent per feed (sent to each newcomer, and compared so an
        #: unchanged presence is not sent again).
        self._presence: dict[str, bytes] = {}
        self._reported: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False
        broker.on_notice(self._on_notice)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="team-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self.fields.forget([presence_key(feed) for feed in sorted(self._reported)])
        await self.fields.close()

    # -- connections ----------------------------------------------------------------------

    async def join(self, feed: str, member: Member, sink: TeamSink) -> None:
        """Add ``sink`` to ``feed``'s team: it gets the current presence now (once known),
        then every team frame of the feed until :meth:`leave`."""
        self._seats.setdefault(feed, {})[sink] = _Seat(member)
        known = self._presence.get(feed)
        if known is not None:
            sink.send(known)
        await self._presence_changed(feed)

    async def leave(self, feed: str, sink: TeamSink) -> None:
        seats = self._seats.get(feed)
        if seats is None or seats.pop(sink, None) is None:
            return
        if not seats:
            del self._seats[feed]
            self._presence.pop(feed, None)
        await self._presence_changed(feed)

    async def editing(self, feed: str, sink: TeamSink, entry_id: int | None) -> None:
        """``sink``'s person opened the editor of ``entry_id`` (None: closed it)."""
        seat = self._seats.get(feed, {}).get(sink)
        if seat is None or seat.editing == entry_id:
            return
        seat.editing = entry_id
        await self._presence_changed(feed)

    def members_here(self, feed: str) -> int:
        """Team connections of ``feed`` in this process."""
        return len(self._seats.get(feed, {}))

    # -- what the API layer calls ---------------------------------------------------------

    async def entry_changed(self, feed: str, action: str, entry: Mapping[str, Any]) -> None:
        """Tell ``feed``'s team, in every process, that an entry changed (see the module
        doc for ``action``). Call after the write committed. Never raises for the broker."""
        if action not in ENTRY_ACTIONS:
            raise ValueError(f"unknown team entry action {action!r}")
        frame = _frame({"type": "entry", "action": action, "entry": entry})
        self._send(feed, frame)
        await self._notify({"k": "frame", "f": feed, "frame": frame.decode()})

    async def on_entry(self, feed: str, entry: Entry) -> None:
        """An ``AppState.entry_listeners`` listener: every committed entry write (API and
        scheduler), drafts included, told to the feed's team. The action is what the entry
        is now: ``deleted``, else its status (a draft: ``updated``)."""
        if self.broker.in_process and not self._seats.get(feed):
            return  # this process is every process, and nobody of the team is connected
        status = str(entry.status)
        action = "deleted" if entry.deleted else ("updated" if status == "draft" else status)
        await self.entry_changed(feed, action, entry.model_dump(mode="json"))

    async def revoke(self, *, user_id: int | None = None, session_id: str | None = None) -> None:
        """Close, in every process, the team connections of ``session_id`` (it ended) or of
        every session of ``user_id`` (signed out everywhere, disabled, password reset)."""
        if user_id is None and session_id is None:
            raise ValueError("revoke needs a user_id or a session_id")
        self._revoke_here(user_id, session_id)
        await self._notify({"k": "revoke", "user": user_id, "session": session_id})

    # -- between processes ----------------------------------------------------------------

    async def _notify(self, notice: dict[str, Any]) -> None:
        if self.broker.in_process:
            return  # this process is every process, and has already acted
        notice["o"] = self.origin
        try:
            await self.broker.publish_notice(_frame(notice))
        except BrokerUnavailable as exc:
            log.warning("team notice not sent (%s): %s", notice.get("k"), exc)

    def _on_notice(self, payload: bytes) -> None:
        try:
            notice = json.loads(payload)
            if notice.get("o") == self.origin:
                return
            kind = notice["k"]
            if kind == "frame":
                self._send(str(notice["f"]), str(notice["frame"]).encode())
            elif kind == "presence":
                feed = str(notice["f"])
                if feed in self._seats:
                    self._background(self._refresh(feed))
            elif kind == "revoke":
                self._revoke_here(notice.get("user"), notice.get("session"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a malformed team notice: %s", exc)

    def _revoke_here(self, user_id: int | None, session_id: str | None) -> None:
        for seats in list(self._seats.values()):
            for sink, seat in list(seats.items()):
                member = seat.member
                if (user_id is not None and member.user_id == user_id) or (
                    session_id is not None and member.session_id == session_id
                ):
                    sink.close(TEAM_SIGNED_OUT.code, TEAM_SIGNED_OUT.reason)

    def _send(self, feed: str, frame: bytes) -> None:
        for sink in list(self._seats.get(feed, {})):
            sink.send(frame)

    # -- presence -------------------------------------------------------------------------

    async def _presence_changed(self, feed: str) -> None:
        """This process's members of ``feed`` changed: write them, push the merged list
        here, and have the other processes re-read it."""
        try:
            await self._report([feed])
            await self._refresh(feed)
        except (RedisError, OSError) as exc:
            self._paused(exc)
        await self._notify({"k": "presence", "f": feed})

    async def _report(self, feeds: Sequence[str]) -> None:
        values: dict[str, str | None] = {}
        for feed in feeds:
            seats = self._seats.get(feed)
            if seats:
                values[presence_key(feed)] = json.dumps(
                    [
                        {"key": s.member.key, "name": s.member.name, "editing": s.editing}
                        for s in seats.values()
                    ],
                    separators=(",", ":"),
                )
                self._reported.add(feed)
            elif feed in self._reported:
                values[presence_key(feed)] = None
                self._reported.discard(feed)
        if values:
            await self.fields.put(values, self.interval * EXPIRY_INTERVALS)

    async def _refresh(self, feed: str) -> None:
        """Read every process's members of ``feed`` and push them here if they changed."""
        lock = self._locks.setdefault(feed, asyncio.Lock())
        async with lock:  # pushes leave in the order of the reads
            if feed not in self._seats:
                self._locks.pop(feed, None)
                return
            (found,) = await self.fields.live([presence_key(feed)])
            frame = _frame({"type": "presence", "members": merge_members(found)})
            if self._presence.get(feed) != frame and feed in self._seats:
                self._presence[feed] = frame
                self._send(feed, frame)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                feeds = sorted(set(self._seats) | self._reported)
                await self._report(feeds)
                for feed in list(self._seats):
                    await self._refresh(feed)
                self._failing = False
            except (RedisError, OSError) as exc:
                self._paused(exc)

    def _paused(self, exc: Exception) -> None:
        if not self._failing:
            log.warning("team presence paused: %s", exc)
        self._failing = True

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            if isinstance(exc, RedisError | OSError):
                self._paused(exc)
            else:
                log.error("team presence refresh failed", exc_info=exc)


def merge_members(values: Sequence[str]) -> list[dict[str, Any]]:
    """Every process's seats (JSON lists from :meth:`TeamChannel._report`) as one item per
    person, sorted by name: ``{"key", "name", "editing": [entry ids, ascending]}``."""
    people: dict[str, dict[str, Any]] = {}
    for value in values:
        for seat in json.loads(value):
            person = people.setdefault(
                seat["key"], {"key": seat["key"], "name": seat["name"], "editing": set()}
            )
            if seat.get("editing") is not None:
                person["editing"].add(int(seat["editing"]))
    return [
        {**person, "editing": sorted(person["editing"])}
        for person in sorted(people.values(), key=lambda p: (p["name"].casefold(), p["key"]))
    ]
