"""Persistence: tables, migrations and the :class:`Store` that owns every query."""

from app.store.errors import Conflict, InvalidCursor, InvalidMedia, NotFound, StoreError
from app.store.store import ImportedEntry, NewMedia, Principal, Store

__all__ = [
    "Conflict",
    "ImportedEntry",
    "InvalidCursor",
    "InvalidMedia",
    "NewMedia",
    "NotFound",
    "Principal",
    "Store",
    "StoreError",
]
