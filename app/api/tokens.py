"""Stored tokens: list and revoke (admin only): ``/api/tokens…``.

Tokens are created per feed (``POST /api/feeds/{slug}/tokens``) or by the CLI. Revocation is
immediate in every process: each request reads its token from the database (no cache).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.deps import StoreDep, require
from app.openapi import errors
from app.permissions import Action, Principal
from app.schemas import MAX_ID, SLUG_PATTERN, TokenInfo

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

TokenManagerDep = Annotated[Principal, Depends(require(Action.TOKEN_MANAGE))]


@router.get("", response_model=list[TokenInfo], responses=errors(404))
async def list_tokens(
    store: StoreDep,
    _who: TokenManagerDep,
    feed: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, max_length=64, description="Only this feed's")
    ] = None,
) -> list[TokenInfo]:
    """Every stored token (never its secret), oldest first: admin tokens made by the CLI or
    on first start, and reporter tokens. ``LIVEFEED_ADMIN_TOKEN`` is configuration, not listed."""
    return await store.list_tokens(feed)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(
    store: StoreDep, _who: TokenManagerDep, token_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    """Revoke a token: from now on it gets 401 in every process. Revoking twice is a no-op."""
    await store.revoke_token(token_id)
    return Response(status_code=204)
