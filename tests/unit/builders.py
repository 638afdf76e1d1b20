"""Plain records for unit tests: a feed and its entries, with every field a reader sees."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.schemas import Entry, Feed

T0 = datetime(2021, 6, 24, 7, 30, tzinfo=UTC)


def make_feed(slug: str = "moscou", **fields: Any) -> Feed:
    data: dict[str, Any] = {
        "slug": slug,
        "title": "Conférence de Moscou",
        "description": "",
        "locale": "fr-FR",
        "timezone": "Europe/Paris",
        "status": "live",
        "rev": 1,
        "created_at": T0,
        "updated_at": T0,
        "started_at": T0,
        "ended_at": None,
        "allowed_origins": [],
    }
    data.update(fields)
    return Feed.model_validate(data)


def make_entry(entry_id: int, published_at: datetime, body: str = "", **fields: Any) -> Entry:
    text = body or f"Entry {entry_id}"
    data: dict[str, Any] = {
        "id": entry_id,
        "feed": "moscou",
        "rev": entry_id,
        "published_at": published_at,
        "updated_at": published_at,
        "author": None,
        "body": text,
        "html": f"<p>{text}</p>",
        "pinned": False,
        "key_event": False,
        "deleted": False,
        "has_time": True,
    }
    data.update(fields)
    return Entry.model_validate(data)
