"""Persistence: tables, migrations and the :class:`Store` that owns every query."""

from app.store.errors import Conflict, InvalidCursor, InvalidMedia, NotFound, StoreError
from app.store.store import ImportedEntry, NewMedia, Store, TokenOwner

__all__ = [
    "Conflict",
    "ImportedEntry",
    "InvalidCursor",
    "InvalidMedia",
    "NewMedia",
    "NotFound",
    "Store",
    "StoreError",
    "TokenOwner",
]
