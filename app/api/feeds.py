"""Feeds and reporter tokens: ``/api/feeds…``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from app.deps import HubDep, StoreDep, require
from app.openapi import errors
from app.permissions import Action, Principal
from app.schemas import SLUG_PATTERN, Feed, FeedCreate, FeedUpdate, TokenCreate, TokenCreated

router = APIRouter(prefix="/api/feeds", tags=["feeds"])

FeedCreatorDep = Annotated[Principal, Depends(require(Action.FEED_CREATE))]
FeedUpdaterDep = Annotated[Principal, Depends(require(Action.FEED_UPDATE))]
TokenManagerDep = Annotated[Principal, Depends(require(Action.TOKEN_MANAGE))]

SlugPath = Path(pattern=SLUG_PATTERN, max_length=64, description="Feed slug")


@router.post("", status_code=201, response_model=Feed, responses=errors(409))
async def create_feed(data: FeedCreate, store: StoreDep, _who: FeedCreatorDep) -> Feed:
    return await store.create_feed(data)


@router.get("", response_model=list[Feed])
async def list_feeds(store: StoreDep) -> list[Feed]:
    return await store.list_feeds()


@router.get("/{slug}", response_model=Feed)
async def get_feed(store: StoreDep, slug: str = SlugPath) -> Feed:
    feed = await store.get_feed(slug)
    if feed is None:
        raise HTTPException(404, f"feed {slug!r} not found")
    return feed


@router.patch("/{slug}", response_model=Feed)
async def update_feed(
    data: FeedUpdate, store: StoreDep, hub: HubDep, _who: FeedUpdaterDep, slug: str = SlugPath
) -> Feed:
    feed, changes = await store.update_feed(slug, data)
    await hub.publish(changes)
    return feed


@router.post("/{slug}/tokens", status_code=201, response_model=TokenCreated)
async def create_token(
    store: StoreDep, _who: TokenManagerDep, data: TokenCreate | None = None, slug: str = SlugPath
) -> TokenCreated:
    """A reporter token for feed ``slug``, shown once; optional ``expires_at``."""
    data = data or TokenCreate()
    token, info = await store.create_token_record(slug, data.name, expires_at=data.expires_at)
    return TokenCreated(
        id=info.id, token=token, name=info.name, feed=slug, expires_at=info.expires_at
    )
