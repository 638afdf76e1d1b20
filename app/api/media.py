"""Media uploads and link cards: ``POST /api/feeds/{slug}/media`` and ``…/cards``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, UploadFile

from app.deps import SettingsDep, StateDep, StoreDep, require
from app.media.library import StorageFailed
from app.media.processing import BrokenImage, ImageRejected, ImageTooLarge, UnsupportedImage
from app.permissions import Action, Principal
from app.schemas import SLUG_PATTERN, CleanStr, LinkCardCreate, MediaItem
from app.store import NotFound

router = APIRouter(prefix="/api/feeds/{slug}", tags=["media"])

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]
UploaderDep = Annotated[Principal, Depends(require(Action.MEDIA_UPLOAD))]
#: Path of the upload route, for the request-size middleware (LIVEFEED_MAX_UPLOAD_BYTES).
UPLOAD_PATH = r"/api/feeds/[^/]+/media"
#: Room for the multipart framing and the text fields around the file.
FORM_OVERHEAD_BYTES = 16 * 1024

_STATUS: dict[type[ImageRejected], int] = {
    UnsupportedImage: 415,
    ImageTooLarge: 413,
    BrokenImage: 422,
}


@router.post(
    "/media",
    status_code=201,
    response_model=MediaItem,
    responses={
        413: {"description": "file over LIVEFEED_MAX_UPLOAD_BYTES or too many pixels"},
        415: {"description": "not a JPEG, PNG, GIF or WebP image (SVG included)"},
        422: {"description": "damaged image data or invalid fields"},
        503: {"description": "the media storage failed; nothing was kept"},
    },
)
async def upload_media(
    slug: SlugPath,
    state: StateDep,
    store: StoreDep,
    settings: SettingsDep,
    _who: UploaderDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, GIF or WebP")],
    alt: Annotated[CleanStr | None, Form(max_length=1000)] = None,
    caption: Annotated[CleanStr | None, Form(max_length=1000)] = None,
    credit: Annotated[CleanStr | None, Form(max_length=200)] = None,
    decorative: Annotated[
        bool, Form(description='true: a purely decorative image, published with alt=""')
    ] = False,
) -> MediaItem:
    """Upload an image: it is decoded, auto-oriented, stripped of all metadata (GPS
    included) and re-encoded at several widths, WebP plus a JPEG/PNG/GIF fallback."""
    if await store.get_feed(slug) is None:
        raise NotFound(f"feed {slug!r} not found")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(
            413,
            f"file is over {settings.max_upload_bytes} bytes (LIVEFEED_MAX_UPLOAD_BYTES)",
        )
    if not data:
        raise HTTPException(422, "file: the upload is empty")
    try:
        return await state.media.upload(
            slug,
            data,
            alt="" if decorative else (alt or "").strip() or None,
            caption=(caption or "").strip() or None,
            credit=(credit or "").strip() or None,
        )
    except ImageRejected as exc:
        raise HTTPException(_STATUS[type(exc)], f"file: {exc}") from None
    except StorageFailed as exc:
        raise HTTPException(503, str(exc)) from None


@router.post(
    "/cards",
    status_code=201,
    response_model=MediaItem,
    responses={503: {"description": "the media storage failed; nothing was kept"}},
)
async def create_card(
    slug: SlugPath, data: LinkCardCreate, state: StateDep, store: StoreDep, _who: UploaderDep
) -> MediaItem:
    """Resolve a video or social-post link once (oEmbed) into a card (``kind: card``) to
    attach to entries like an image. An unreachable provider still gives a card: a link."""
    if not data.url.startswith(("http://", "https://")):
        raise HTTPException(422, "url: must start with http:// or https://")
    if await store.get_feed(slug) is None:
        raise NotFound(f"feed {slug!r} not found")
    try:
        return await state.media.add_link(slug, data.url)
    except StorageFailed as exc:
        raise HTTPException(503, str(exc)) from None
