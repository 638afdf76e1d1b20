"""Live events: the one owner of the wire format, building *and* reading event bytes.

An event is built and serialized once, at write time; the same bytes then go into the
change log (``changes`` table), over the broker, down every WebSocket and SSE connection
and into ``GET …/changes`` responses. Everything that needs to know how those bytes are
laid out — an event's kind, the ``feed`` record inside a ``feed`` event, the broker's
message framing, the ``changes`` page body — asks this module; nothing else slices event
bytes by offset.

Event layout (JSON objects whose first member is ``type``, written by this module only)::

    {"type":"entry","op":"created|updated|deleted","rev":N,"entry":{…}}
    {"type":"feed","rev":N,"feed":{…}}
    {"type":"hello","feed":"SLUG","rev":N}
    {"type":"reset","rev":N}
    {"type":"readers","count":N}

``readers`` (the feed's live reader count, :mod:`app.presence`) is the one event without a
rev: it is not a change, never stored in the change log nor sent over the broker, and is
handed to live streams as rev 0 (:data:`UNSEQUENCED`), which readers must not resume from.

Broker message layout: ``b"REV TS_NS " + event`` — the rev and the publisher's wall clock
in ns (for the latency metric) as ASCII decimals, so receivers learn the rev without
parsing JSON. ``b"REV " + event`` (no timestamp) is still read: an event starts with
``{``, never a digit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from app.schemas import Entry, Feed

EntryOp = Literal["created", "updated", "deleted"]
EventKind = Literal["entry", "feed", "hello", "reset"]

_TYPE_PREFIX = b'{"type":"'
_FEED_MEMBER = b'"feed":{'


@dataclass(frozen=True, slots=True)
class Change:
    """One committed revision of a feed: what the hub fans out."""

    feed: str
    rev: int
    payload: bytes  # a complete JSON event object, UTF-8
    #: Wall-clock time (ns) the writer published it, for the latency metric; 0 = unknown.
    published_ns: int = field(default=0, compare=False)


class MalformedMessage(ValueError):
    """Bytes that are not an event or broker message in the layout this module writes."""


# -- building ------------------------------------------------------------------------------


def entry_event(op: EntryOp, entry: Entry) -> bytes:
    return b'{"type":"entry","op":"%s","rev":%d,"entry":%s}' % (
        op.encode(),
        entry.rev,
        entry.model_dump_json().encode(),
    )


def feed_event(feed: Feed) -> bytes:
    return b'{"type":"feed","rev":%d,"feed":%s}' % (feed.rev, feed.model_dump_json().encode())


def hello_event(feed: str, rev: int) -> bytes:
    return b'{"type":"hello","feed":"%s","rev":%d}' % (feed.encode(), rev)


#: The rev of an event that is not a change (``readers``): not ordered, never resumed from.
UNSEQUENCED = 0


def readers_event(count: int) -> bytes:
    """``{"type":"readers","count":N}``: how many readers the feed has live, all processes."""
    return b'{"type":"readers","count":%d}' % count


def reset_event(rev: int) -> bytes:
    return b'{"type":"reset","rev":%d}' % rev


def changes_page(rev: int, events: Iterable[bytes]) -> bytes:
    """The body of ``GET …/changes``: ``{"rev":REV,"events":[event, …]}``, events verbatim."""
    return b'{"rev":%d,"events":[%s]}' % (rev, b",".join(events))


def broker_message(change: Change) -> bytes:
    """``change`` as a broker message: ``b"REV TS_NS " + event`` (``TS_NS``: now, if the
    change carries no publish time)."""
    return b"%d %d " % (change.rev, change.published_ns or time.time_ns()) + change.payload


# -- reading -------------------------------------------------------------------------------


def event_kind(payload: bytes) -> str:
    """``entry``, ``feed``, ``hello`` or ``reset``: read from the fixed ``{"type":"…"``
    prefix every event starts with (no JSON parse)."""
    if not payload.startswith(_TYPE_PREFIX):
        raise MalformedMessage(f"not an event: {payload[:40]!r}")
    start = len(_TYPE_PREFIX)
    end = payload.find(b'"', start)
    if end < 0:
        raise MalformedMessage(f"unterminated event type: {payload[:40]!r}")
    return payload[start:end].decode()


def feed_record_json(payload: bytes) -> bytes:
    """The ``feed`` object (JSON) inside a ``{"type":"feed","rev":N,"feed":{…}}`` event."""
    if event_kind(payload) != "feed":
        raise MalformedMessage(f"not a feed event: {payload[:40]!r}")
    start = payload.find(_FEED_MEMBER)
    if start < 0 or not payload.endswith(b"}"):
        raise MalformedMessage(f"feed event without a feed record: {payload[:40]!r}")
    return payload[start + len(_FEED_MEMBER) - 1 : -1]


def parse_broker_message(feed: str, data: bytes) -> Change:
    """The :class:`Change` a broker message for ``feed`` carries (see the layout above)."""
    rev, _, payload = data.partition(b" ")
    published_ns = 0
    if payload[:1].isdigit():
        stamp, _, payload = payload.partition(b" ")
        try:
            published_ns = int(stamp)
        except ValueError:
            raise MalformedMessage(f"bad timestamp in broker message {data[:40]!r}") from None
    if payload[:1] != b"{":
        raise MalformedMessage(f"no event in broker message {data[:40]!r}")
    try:
        return Change(feed, int(rev), payload, published_ns)
    except ValueError:
        raise MalformedMessage(f"bad rev in broker message {data[:40]!r}") from None
