"""Scheduled publishing: each process runs one :class:`Scheduler` task.

Contract: every ``interval`` seconds (``LIVEFEED_SCHEDULER_INTERVAL_SECONDS``), and once at
start, the task asks the store to publish the scheduled entries that are due
(:meth:`app.store.Store.publish_due`). The schedule lives only in the database, so an entry
due while every process was down is published by the first process to start. Each entry is
claimed by a conditional UPDATE in the transaction that logs it, so however many processes
run this at once, each entry is published exactly once. The changes are then fanned out like
any write (hub: this process's readers now, the broker the others'), and the team's
listeners are told. A database error skips one round (logged once per outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from app.hub import Hub
from app.state import EntryListener
from app.store import Store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, store: Store, hub: Hub, interval: float, listeners: Sequence[EntryListener]
    ) -> None:
        self.store = store
        self.hub = hub
        self.interval = interval
        self.listeners = listeners
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                self._failing = False
            except (SQLAlchemyError, OSError) as exc:
                if not self._failing:
                    log.warning("scheduled publishing paused: %s", exc)
                self._failing = True
            await asyncio.sleep(self.interval)

    async def tick(self) -> int:
        """Publish what is due now; return how many entries this process published."""
        published = await self.store.publish_due()
        for entry, changes in published:
            await self.hub.publish(changes)
            for listener in self.listeners:
                await listener(entry.feed, entry)
        return len(published)
