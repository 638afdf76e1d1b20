"""Entries, paging and the change log: ``/api/feeds/{slug}/entries…`` and ``/changes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth import authenticate
from app.deps import PrincipalDep, StateDep, StoreDep, require
from app.events import Change, changes_page, reset_event
from app.openapi import errors
from app.permissions import Action, Principal, denial
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
from app.store import InvalidCursor, NotFound
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

PublisherDep = Annotated[Principal, Depends(require(Action.ENTRY_PUBLISH))]
DeleterDep = Annotated[Principal, Depends(require(Action.ENTRY_DELETE))]
RestorerDep = Annotated[Principal, Depends(require(Action.ENTRY_RESTORE))]
TeamViewDep = Annotated[Principal, Depends(require(Action.TEAM_VIEW))]
#: Fields of an edit that change the entry's content (not its status or pin).
CONTENT_FIELDS = frozenset({"body", "author", "key_event", "published_at", "media"})

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
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an entry. ``status`` defaults to ``published`` (readers see it at once), or to
    ``draft`` for someone who may only write drafts (a contributor); ``draft``,
    ``submitted`` and ``scheduled`` (with ``publish_at``) reach no reader. Rights:
    ``entry.publish`` to publish or schedule, ``entry.write_draft`` (+ ``entry.submit``) for
    a draft (submitted), ``entry.pin`` to pin. Written by an account, the entry records it
    (``author_id``) and its byline is the account's display name unless ``author`` is given."""
    _check_body_length(data.body, state.settings.max_entry_body_chars)
    if (
        "status" not in data.model_fields_set
        and not who.may(Action.ENTRY_PUBLISH, slug)
        and who.may(Action.ENTRY_WRITE_DRAFT, slug, owner_id=who.user_id)
    ):
        data = data.model_copy(update={"status": "draft"})
    needed = {
        "published": [Action.ENTRY_PUBLISH],
        "scheduled": [Action.ENTRY_PUBLISH],
        "draft": [Action.ENTRY_WRITE_DRAFT],
        "submitted": [Action.ENTRY_WRITE_DRAFT, Action.ENTRY_SUBMIT],
    }[data.status]
    if data.pinned:
        needed.append(Action.ENTRY_PIN)
    for action in needed:
        _check(who, action, slug, who.user_id)
    if who.user_id is not None and not data.author:
        data = data.model_copy(update={"author": who.name})
    entry, changes, replayed = await state.store.create_entry(
        slug, data, idempotency_key=idempotency_key, by=who.name, author_id=who.user_id
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
    who: PrincipalDep,
) -> Entry:
    """Edit fields and/or change ``status`` (409 for a move the lifecycle forbids). Rights:
    a published entry's content needs ``entry.edit_published``; an unpublished one's
    ``entry.write_draft`` (own) or ``entry.edit_unpublished_any``; to ``submitted``
    ``entry.submit`` (own); to ``published``/``scheduled`` or unpublishing
    ``entry.publish``; ``pinned`` ``entry.pin``."""
    if data.body is not None:
        _check_body_length(data.body, state.settings.max_entry_body_chars)
    await _authorize_edit(state, who, slug, entry_id, data)
    entry, changes = await state.store.update_entry(
        slug, entry_id, data, by=who.name, by_id=who.user_id
    )
    await _written(state, slug, entry, changes)
    return entry


async def _authorize_edit(
    state: AppState, who: Principal, slug: str, entry_id: int, data: EntryUpdate
) -> None:
    """403 naming the first right the edit needs and ``who`` lacks (see ``update_entry``)."""
    status, deleted, owner = await state.accounts.entry_owner(slug, entry_id)
    fields = {name for name in data.model_fields_set if getattr(data, name) is not None}
    live = status == PUBLISHED and not deleted
    target = data.status if data.status is not None and data.status != status else None
    if fields & CONTENT_FIELDS or (target == "draft" and not live):
        if live:
            _check(who, Action.ENTRY_EDIT_PUBLISHED, slug, owner)
        elif not who.may(Action.ENTRY_WRITE_DRAFT, slug, owner_id=owner):
            _check(who, Action.ENTRY_EDIT_UNPUBLISHED_ANY, slug, owner)
    if target == "submitted":
        _check(who, Action.ENTRY_SUBMIT, slug, owner)
    elif target in ("published", "scheduled") or (target == "draft" and live):
        _check(who, Action.ENTRY_PUBLISH, slug, owner)
    if data.pinned is not None:
        _check(who, Action.ENTRY_PIN, slug, owner)


def _check(who: Principal, action: Action, slug: str, owner: int | None) -> None:
    if not who.may(action, slug, owner_id=owner):
        raise HTTPException(403, denial(action, slug))


async def _move(
    state: AppState, slug: str, entry_id: int, data: EntryUpdate, who: Principal
) -> Entry:
    entry, changes = await state.store.update_entry(
        slug, entry_id, data, by=who.name, by_id=who.user_id
    )
    await _written(state, slug, entry, changes)
    return entry


@router.post("/entries/{entry_id}/submit", response_model=Entry, responses=errors(409))
async def submit_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: PrincipalDep
) -> Entry:
    """Submit a draft (or take back a scheduled entry) for an editor's review
    (``entry.submit``: a contributor, its own drafts)."""
    update = EntryUpdate(status="submitted")
    await _authorize_edit(state, who, slug, entry_id, update)
    return await _move(state, slug, entry_id, update, who)


@router.post("/entries/{entry_id}/publish", response_model=Entry, responses=errors(409))
async def publish_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: PublisherDep
) -> Entry:
    """Publish now: readers see it (a ``created`` change). Publishing twice is a no-op."""
    return await _move(state, slug, entry_id, EntryUpdate(status=PUBLISHED), who)


@router.post("/entries/{entry_id}/schedule", response_model=Entry, responses=errors(409))
async def schedule_entry(
    slug: SlugPath,
    entry_id: EntryIdPath,
    data: ScheduleRequest,
    state: StateDep,
    who: PublisherDep,
) -> Entry:
    """Publish it by itself at ``publish_at`` (again: a new time). 409 if published."""
    update = EntryUpdate(status="scheduled", publish_at=data.publish_at)
    return await _move(state, slug, entry_id, update, who)


@router.post("/entries/{entry_id}/unpublish", response_model=Entry, responses=errors(409))
async def unpublish_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: PublisherDep
) -> Entry:
    """Back to ``draft``: readers see it go as if deleted."""
    return await _move(state, slug, entry_id, EntryUpdate(status="draft"), who)


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: DeleterDep
) -> Response:
    """Delete (readers see it disappear); ``POST …/restore`` brings it back."""
    changes = await state.store.delete_entry(slug, entry_id, by=who.name)
    if changes or state.entry_listeners:
        await _written(state, slug, await state.store.get_entry(slug, entry_id), changes)
    return Response(status_code=204)


@router.post("/entries/{entry_id}/restore", response_model=Entry, responses=errors(409))
async def restore_entry(
    slug: SlugPath, entry_id: EntryIdPath, state: StateDep, who: RestorerDep
) -> Entry:
    """Undelete an entry as it was (a published one reappears for readers); 409 if it is
    not deleted."""
    entry, changes = await state.store.restore_entry(slug, entry_id, by=who.name)
    await _written(state, slug, entry, changes)
    return entry


@router.get("/entries/{entry_id}/revisions", response_model=list[EntryRevision])
async def list_revisions(
    slug: SlugPath, entry_id: EntryIdPath, store: StoreDep, _who: TeamViewDep
) -> list[EntryRevision]:
    """Earlier versions of the entry, oldest first (the current one is the entry itself)."""
    return await store.list_revisions(slug, entry_id)


@router.post("/entries/{entry_id}/revisions/{number}/restore", response_model=Entry)
async def restore_revision(
    slug: SlugPath,
    entry_id: EntryIdPath,
    number: Annotated[int, Path(ge=1, le=MAX_ID)],
    state: StateDep,
    who: RestorerDep,
) -> Entry:
    """Make that version current again: a new edit (readers get it live); the version it
    replaces is kept as the next revision."""
    entry, changes = await state.store.restore_revision(
        slug, entry_id, number, by=who.name, by_id=who.user_id
    )
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
    request: Request,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_before of the previous page")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=STATUS_LIST_PATTERN,
            description="The team's lists (needs team.view on the feed): comma-separated "
            "draft, submitted, scheduled, published, deleted; most recently changed first, "
            "no paging. Without it: the published timeline, to anyone.",
        ),
    ] = None,
) -> EntryPage:
    if status is None:
        return await state.store.list_entries(slug, limit=limit, before=before)
    found = await authenticate(request, state)
    if found is None:
        raise HTTPException(401, "sign in to list the team's entries")
    _check(found.principal, Action.TEAM_VIEW, slug, None)
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
        raise HTTPException(413, f"entry body is {len(body)} characters; the limit is {limit}")
