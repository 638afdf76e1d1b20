"""The entry lifecycle, sole owner of its rules: which statuses exist, which moves between
them are allowed, and which of them readers may see.

::

    draft ⇄ submitted ──▶ published ──(unpublish)──▶ draft
      │  ╲      │            ▲
      │   ╲     ▼            │
      └────▶ scheduled ──────┘   (at publish_at, by the scheduler; or "publish now")

* Only ``published`` (and not deleted) entries reach readers (the store's ``_public()``
  filter, on every reader query). Every other status is the team's: writing it logs no
  public change and takes no feed rev.
* ``scheduled`` carries ``publish_at``; scheduling again moves it; ``draft`` or
  ``submitted`` takes it back.
* ``published → draft`` (unpublish) removes the entry from readers like a delete.
* Nothing goes from ``published`` to ``submitted`` or ``scheduled``: unpublish first.
"""

from __future__ import annotations

from typing import Final, get_args

from app.schemas import EntryStatus

STATUSES: Final[tuple[EntryStatus, ...]] = get_args(EntryStatus)
PUBLISHED: Final = "published"

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    "draft": frozenset({"draft", "submitted", "scheduled", "published"}),
    "submitted": frozenset({"draft", "submitted", "scheduled", "published"}),
    "scheduled": frozenset({"draft", "submitted", "scheduled", "published"}),
    "published": frozenset({"published", "draft"}),
}


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow (the API answers 409)."""


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed (staying in
    a status is allowed: a no-op, or a new ``publish_at`` for ``scheduled``)."""
    if target not in _ALLOWED.get(current, frozenset()):
        hint = " (unpublish it to draft first)" if current == PUBLISHED else ""
        raise IllegalTransition(f"an entry cannot go from {current} to {target}{hint}")
