"""What a resuming stream is owed: the catch-up read behind every transport's session.

The lifecycle around it (attach first, hold live events, dedupe by rev) is
:class:`app.live.session.StreamSession`.
"""

from __future__ import annotations

from app.hub import Event, Hub


async def catch_up(
    hub: Hub, feed: str, since: int | None, current: int, catchup_max: int
) -> list[Event] | None:
    """What a stream the hub attached at boundary rev ``current`` owes a client resuming
    from ``since``: the events in (since, current], in rev order — or None when the client
    must ``reset`` (since ahead of the feed, negative, or more than ``catchup_max`` behind).
    No ``since`` (or nothing missed) owes nothing.

    The events come from the hub's per-feed window when it holds them (no database read),
    else from one store read shared by every reader of the feed (:mod:`app.catchup`).
    Raises :class:`app.catchup.CatchupOverloaded` when that read is over budget: the
    session closes with 1013 (SSE: 503 with ``Retry-After``)."""
    if since is None or since == current:
        return []
    if since < 0 or since > current or current - since > catchup_max:
        return None
    return await hub.catch_up(feed, since, current)
