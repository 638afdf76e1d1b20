"""Entries, paging and the change log: ``/api/feeds/{slug}/entries…`` and ``/changes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse

from app.deps import HubDep, ReporterDep, SettingsDep, StoreDep
from app.events import changes_page, reset_event
from app.openapi import errors
from app.schemas import (
    MAX_ID,
    MAX_REV,
    SLUG_PATTERN,
    ChangesPage,
    Entry,
    EntryCreate,
    EntryPage,
    EntryUpdate,
)
from app.store import NotFound

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


@router.post("/entries", status_code=201, response_model=Entry, responses=errors(409))
async def create_entry(
    slug: SlugPath,
    data: EntryCreate,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    _who: ReporterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    _check_body_length(data.body, settings.max_entry_body_chars)
    entry, changes = await store.create_entry(slug, data, idempotency_key=idempotency_key)
    await hub.publish(changes)
    headers = {} if changes else {"Idempotent-Replayed": "true"}
    return JSONResponse(entry.model_dump(mode="json"), status_code=201, headers=headers)


@router.patch("/entries/{entry_id}", response_model=Entry)
async def update_entry(
    slug: SlugPath,
    entry_id: EntryIdPath,
    data: EntryUpdate,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    _who: ReporterDep,
) -> Entry:
    if data.body is not None:
        _check_body_length(data.body, settings.max_entry_body_chars)
    entry, changes = await store.update_entry(slug, entry_id, data)
    await hub.publish(changes)
    return entry


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(
    slug: SlugPath, entry_id: EntryIdPath, store: StoreDep, hub: HubDep, _who: ReporterDep
) -> Response:
    await hub.publish(await store.delete_entry(slug, entry_id))
    return Response(status_code=204)


@router.get("/entries/{entry_id}", response_model=Entry)
async def get_entry(slug: SlugPath, entry_id: EntryIdPath, store: StoreDep) -> Entry:
    entry = await store.get_entry(slug, entry_id)
    if entry.deleted:
        raise NotFound(f"entry {entry_id} was deleted")
    return entry


@router.get("/entries", response_model=EntryPage, responses=errors(400))
async def list_entries(
    slug: SlugPath,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_before of the previous page")
    ] = None,
) -> EntryPage:
    return await store.list_entries(slug, limit=limit, before=before)


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
