"""Watched feeds: a hub-fed copy of each served feed, dropped when nobody uses it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app import watched
from tests.conftest import ADMIN


async def test_watcher_follows_changes_and_is_forgotten_when_idle(
    app: FastAPI, client: httpx.AsyncClient, feed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = app.state.livefeed
    first = await watched.current_feed(state, feed)
    assert first is not None and first.rev == 0
    assert feed in state.watched
    assert state.hub.subscriber_count(feed) == 0  # a watcher is not a reader

    await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"}, headers=ADMIN)
    await client.patch(f"/api/feeds/{feed}", json={"title": "Renamed"}, headers=ADMIN)
    now = await watched.current_feed(state, feed)
    assert now is not None and now.rev == 2 and now.title == "Renamed"
    assert await watched.current_feed(state, "no-such-feed") is None

    # Idle past the bound, with no readers: the next sweep detaches it from the hub.
    monkeypatch.setattr(state.watched, "idle_seconds", 0.0)
    monkeypatch.setattr(state.watched, "sweep_seconds", 0.0)
    other = await client.post("/api/feeds", json={"slug": "other", "title": "o"}, headers=ADMIN)
    assert other.status_code == 201
    await watched.current_feed(state, "other")
    assert feed not in state.watched
    assert feed not in state.hub._channels
    # And comes back, current, on the next lookup.
    again = await watched.current_feed(state, feed)
    assert again is not None and again.rev == 2
