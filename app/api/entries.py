"""Entries, paging and the change log: ``/api/feeds/{slug}/entries…`` and ``/changes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.deps import (
    ReporterDep,
    StateDep,
    StoreDep,
    bearer,
    get_principal,
    require_reporter,
)
from app.events import Change, changes_page, reset_event
from app.openapi import errors
from app.schemas import (
    MAX_ID,
    MAX_REV,
    SLUG_PATTERN,
    ChangesPage,
    Entry,
    EntryCreate,
    EntryPage,
    EntryRevision,
    EntryUpdate,
    ScheduleRequest,
)
from app.state import AppState
from app.store import InvalidCursor, NotFound, Principal
from app.workflow import PUBLISHED, STATUSES

STATUS_LIST_PATTERN = r"^(%s)(,(%s))*$" % (("|".join((*STATUSES, "deleted")),) * 2)

router = APIRouter(prefix="/api/feeds/{slug}", tags=["entries"])

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]
EntryIdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[\x20-\x7e]+$",
        description="Retries with the same key return the first result, never a second entry.",
    ),
]

MAX_PAGE = 200
MAX_CHANGES = 1000


async def _written(state: AppState, slug: str, entry: Entry, changes: list[Change]) -> None:
    """After a committed entry write: hand the public changes to the hub (readers), then tell
    the team's listeners (``AppState.entry_listeners``) about the entry, whatever its status."""
    await state.hub.publish(changes)
    for listener in state.entry_listeners:
        await listener(slug, entry)


@router.post("/entries", status_code=201, response_model=Entry, responses=errors(409))
async def create_entry(
    slug: SlugPath,
    data: EntryCreate,
    state: StateDep,
    who: ReporterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an entry. ``status`` defaults to ``published`` (readers see it at once);
    ``draft``, ``submitted`` and ``scheduled`` (with ``publish_at``) reach no reader."""
    _check_body_length(data.body, state.settings.max_entry_body_chars)
    entry, changes, replayed = await state.store.create_entry(
        slug, data, idempotency_key=idempotency_key, by=who.name
    )
    if not replayed:
        await _written(state, slug, entry, changes)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(entry.model_dump(mode="json"), status_code=201, headers=headers)


@router.patch("/entries/{entry_id}", response_model=Entry, responses=errors(409))
async def update_entry(
    slug: SlugPath,
    entry_id: EntryIdPath,
    data: EntryUpdate,
    state: StateDep,
    who: ReporterDep,
) -> Entry:
    """Edit fields and/or change ``status`` (409 for a move the lifecycle forbids)."""
    if data.body is not None:
        _check_body_length(data.body, state.settings.max_entry_body_chars)
    entry, changes = await state.store.update_entry(slug, entry_id, data, by=who.name)
    await _written(state, slug, entry, changes)
    return entry


async def _move(
    state: AppState, slug: str, entry_id: int, data: EntryUpdate, who: Principal
) -> Entry:
    entry, changes = await state.store.update_entry(slug, entry_id, data, by=who.name)
    await _written(state, slug, entry, changes)
    return entry


@router.post("/entries/{entry_id}/submit", response_model=Entry, responses=errors(409))
async def submit_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: ReporterDep
) -> Entry:
    """Submit a draft (or take back a scheduled entry) for an editor's review."""
    return await _move(state, slug, entry_id, EntryUpdate(status="submitted"), who)


@router.post("/entries/{entry_id}/publish", response_model=Entry, responses=errors(409))
async def publish_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: ReporterDep
) -> Entry:
    """Publish now: readers see it (a ``created`` change). Publishing twice is a no-op."""
    return await _move(state, slug, entry_id, EntryUpdate(status=PUBLISHED), who)


@router.post("/entries/{entry_id}/schedule", response_model=Entry, responses=errors(409))
async def schedule_entry(
    slug: SlugPath,
    entry_id: EntryIdPath,
    data: ScheduleRequest,
    state: StateDep,
    who: ReporterDep,
) -> Entry:
    """Publish it by itself at ``publish_at`` (again: a new time). 409 if published."""
    update = EntryUpdate(status="scheduled", publish_at=data.publish_at)
    return await _move(state, slug, entry_id, update, who)


@router.post("/entries/{entry_id}/unpublish", response_model=Entry, responses=errors(409))
async def unpublish_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: ReporterDep
) -> Entry:
    """Back to ``draft``: readers see it go as if deleted."""
    return await _move(state, slug, entry_id, EntryUpdate(status="draft"), who)


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: ReporterDep
) -> Response:
    """Delete (readers see it disappear); ``POST …/restore`` brings it back."""
    changes = await state.store.delete_entry(slug, entry_id, by=who.name)
    if changes or state.entry_listeners:
        await _written(state, slug, await state.store.get_entry(slug, entry_id), changes)
    return Response(status_code=204)


@router.post("/entries/{entry_id}/restore", response_model=Entry, responses=errors(409))
async def restore_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: ReporterDep
) -> Entry:
    """Undelete an entry as it was (a published one reappears for readers); 409 if it is
    not deleted."""
    entry, changes = await state.store.restore_entry(slug, entry_id, by=who.name)
    await _written(state, slug, entry, changes)
    return entry


@router.get("/entries/{entry_id}/revisions", response_model=list[EntryRevision])
async def list_revisions(
    slug: SlugPath, entry_id: EntryIdPath, store: StoreDep, _who: ReporterDep
) -> list[EntryRevision]:
    """Earlier versions of the entry, oldest first (the current one is the entry itself)."""
    return await store.list_revisions(slug, entry_id)


@router.post("/entries/{entry_id}/revisions/{number}/restore", response_model=Entry)
async def restore_revision(
    slug: SlugPath,
    entry_id: EntryIdPath,
    number: Annotated[int, Path(ge=1, le=MAX_ID)],
    state: StateDep,
    who: ReporterDep,
) -> Entry:
    """Make that version current again: a new edit (readers get it live); the version it
    replaces is kept as the next revision."""
    entry, changes = await state.store.restore_revision(slug, entry_id, number, by=who.name)
    await _written(state, slug, entry, changes)
    return entry


@router.get("/entries/{entry_id}", response_model=Entry)
async def get_entry(slug: SlugPath, entry_id: EntryIdPath, store: StoreDep) -> Entry:
    """A published entry (404 for a deleted one, and for any entry readers may not see)."""
    entry = await store.get_public_entry(slug, entry_id)
    if entry.deleted:
        raise NotFound(f"entry {entry_id} was deleted")
    return entry


@router.get("/entries", response_model=EntryPage, responses=errors(400, 401, 403))
async def list_entries(
    slug: SlugPath,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_before of the previous page")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=STATUS_LIST_PATTERN,
            description="The team's lists (a feed token or the admin's): comma-separated "
            "draft, submitted, scheduled, published, deleted; most recently changed first, "
            "no paging. Without it: the published timeline, to anyone.",
        ),
    ] = None,
) -> EntryPage:
    if status is None:
        return await state.store.list_entries(slug, limit=limit, before=before)
    await require_reporter(slug, await get_principal(state, credentials))
    if before is not None:
        raise InvalidCursor("before does not go with status (the team's lists are not paged)")
    statuses = sorted(set(status.split(",")))
    return await state.store.list_team_entries(slug, statuses, limit=limit)


@router.get("/changes", response_model=ChangesPage)
async def list_changes(
    slug: SlugPath,
    store: StoreDep,
    since: Annotated[
        int, Query(ge=0, le=MAX_REV, description="The rev you have; events after it follow.")
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = MAX_CHANGES,
) -> Response:
    """Every change after ``since`` in rev order (at most ``limit``; then ``rev`` is the last
    one returned — ask again from there). A ``since`` ahead of the feed yields one ``reset``."""
    current, events = await store.changes_since(slug, since, limit=limit)
    if since > current:
        body = changes_page(current, [reset_event(current)])
    else:
        rev = events[-1][0] if len(events) == limit else current
        body = changes_page(rev, (payload for _rev, payload in events))
    return Response(body, media_type="application/json")


def _check_body_length(body: str, limit: int) -> None:
    if len(body) > limit:
        from fastapi import HTTPException

        raise HTTPException(413, f"entry body is {len(body)} characters; the limit is {limit}")
