"""What one running app holds, created in the lifespan (no import-time singletons)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.config import Settings
from app.hub import Hub
from app.schemas import Entry
from app.store import Store
from app.store.accounts import AccountStore

#: Called after every entry write the feed's team should see, drafts included:
#: ``listener(feed_slug, entry)`` (see ``AppState.entry_listeners``).
EntryListener = Callable[[str, Entry], Awaitable[None]]

if TYPE_CHECKING:
    from app.media.library import MediaLibrary
    from app.team import TeamChannel
    from app.watched import WatchedFeeds


@dataclass(eq=False)
class AppState:
    settings: Settings
    store: Store
    #: Users, memberships, sessions (app/store/accounts.py), on the store's engine.
    accounts: AccountStore
    hub: Hub
    #: Uploads and link cards (app/media/).
    media: MediaLibrary
    #: Feeds whose record and rev this process keeps current through the hub.
    watched: WatchedFeeds
    #: The studio's private team channel per feed (app/team.py).
    team: TeamChannel
    #: Set when the process starts draining (SIGTERM): /readyz fails, live streams close.
    draining: asyncio.Event
    #: Open live connections per client IP, for the per-IP cap (app.live.access).
    connections_by_ip: Counter[str] = field(default_factory=Counter)
    #: Open live connections of this process, for the live budget (app.live.access).
    live_connections: int = 0
    #: Told of every entry write after it commits, in any status (the API calls each after
    #: its write: app/api/entries.py). The team's private channel subscribes here; readers
    #: never do (what readers get is only the change log, through the hub).
    entry_listeners: list[EntryListener] = field(default_factory=list)
