"""What one running app holds, created in the lifespan (no import-time singletons)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from app.config import Settings
from app.hub import Hub
from app.store import Store


@dataclass(eq=False)
class AppState:
    settings: Settings
    store: Store
    hub: Hub
    #: Set when the process starts draining (SIGTERM): /readyz fails, live streams close.
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    #: Open live connections per client IP, for the per-IP cap.
    connections_by_ip: Counter[str] = field(default_factory=Counter)
