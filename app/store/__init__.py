"""Persistence: tables, migrations and the :class:`Store` that owns every query."""

from app.store.errors import Conflict, InvalidCursor, NotFound, StoreError
from app.store.store import ImportedEntry, Principal, Store

__all__ = [
    "Conflict",
    "ImportedEntry",
    "InvalidCursor",
    "NotFound",
    "Principal",
    "Store",
    "StoreError",
]
