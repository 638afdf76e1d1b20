"""Domain errors raised by the store; the API maps each to one HTTP status."""

from __future__ import annotations


class StoreError(Exception):
    """Base class; ``str(error)`` is a message fit for the client."""


class NotFound(StoreError):
    """Unknown feed or entry (404)."""


class Conflict(StoreError):
    """Duplicate slug or a reused Idempotency-Key with a different body (409)."""


class InvalidCursor(StoreError):
    """A paging cursor that does not name an entry of the feed (400)."""


class InvalidMedia(StoreError):
    """An entry names media it cannot carry: unknown id, repeated id, missing alt (422)."""
