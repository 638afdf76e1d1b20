"""What a resuming stream is owed: the catch-up read behind every transport's session.

The lifecycle around it (attach first, hold live events, dedupe by rev) is
:class:`app.live.session.StreamSession`.
"""

from __future__ import annotations

from app.hub import Event
from app.store import Store


async def catch_up(
    store: Store, feed: str, since: int | None, current: int, catchup_max: int
) -> list[Event] | None:
    """What a stream opened at boundary rev ``current`` owes a client resuming from
    ``since``: the logged events in (since, current], in rev order — or None when the client
    must ``reset`` (since ahead of the feed, negative, or more than ``catchup_max`` behind).
    No ``since`` (or nothing missed) owes nothing."""
    if since is None or since == current:
        return []
    if since < 0 or since > current or current - since > catchup_max:
        return None
    _rev, events = await store.changes_since(feed, since, limit=current - since)
    return [Event(rev, payload) for rev, payload in events if rev <= current]
