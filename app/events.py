"""Live events: built and serialized once, at write time, then stored and sent verbatim.

The same bytes go into the change log (``changes`` table), over the broker, down every
WebSocket and SSE connection and into ``GET …/changes`` responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.schemas import Entry, Feed

EntryOp = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """One committed revision of a feed: what the hub fans out."""

    feed: str
    rev: int
    payload: bytes  # a complete JSON event object, UTF-8
    #: Wall-clock time (ns) the writer published it, for the latency metric; 0 = unknown.
    published_ns: int = field(default=0, compare=False)


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


def reset_event(rev: int) -> bytes:
    return b'{"type":"reset","rev":%d}' % rev
