"""The media library of a running app: upload → process → store → record.

Contract of :meth:`MediaLibrary.upload`: the image is processed in a worker thread (at most
:data:`PROCESSING_SLOTS` at once per process, which bounds memory), its media row is
recorded *before* any file is stored, and if storing fails the row and every file written
are removed again — a failed upload leaves nothing behind (should the storage refuse even
the deletes, the files have no row left, and ``livefeed media prune`` removes them).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.media.oembed import OEmbedResolver
from app.media.processing import ImageRejected, ProcessedImage, Rendition, process_image
from app.media.storage import MediaStorage
from app.schemas import MediaItem
from app.store import NewMedia, Store

log = logging.getLogger(__name__)

#: Images decoded at once per process (each can hold a few hundred MB while resizing).
PROCESSING_SLOTS = 2


class StorageFailed(Exception):
    """The storage backend refused or could not be reached (503)."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    media_removed: int
    files_removed: int


class MediaLibrary:
    def __init__(self, settings: Settings, store: Store, storage: MediaStorage) -> None:
        self.settings = settings
        self.store = store
        self.storage = storage
        self._slots = asyncio.Semaphore(PROCESSING_SLOTS)
        self.oembed = OEmbedResolver(settings)

    async def process(self, data: bytes) -> ProcessedImage:
        """Decode and re-encode ``data`` off the event loop (raises ImageRejected)."""
        async with self._slots:
            return await asyncio.to_thread(
                process_image, data, max_pixels=self.settings.max_image_pixels
            )

    async def store_renditions(
        self, renditions: list[Rendition], record: NewMedia, slug: str
    ) -> MediaItem:
        """Record ``record`` (renditions filled in here), then store the files."""
        base = secrets.token_hex(12)
        keys = [f"{base[:2]}/{base}/{r.width}.{r.extension}" for r in renditions]
        record.renditions[:] = [
            {
                "key": key,
                "url": self.storage.url(key),
                "width": r.width,
                "height": r.height,
                "content_type": r.content_type,
            }
            for key, r in zip(keys, renditions, strict=True)
        ]
        item = await self.store.create_media(slug, record)
        written: list[str] = []
        try:
            for key, rendition in zip(keys, renditions, strict=True):
                written.append(key)
                await self.storage.put(key, rendition.data, rendition.content_type)
        except Exception as exc:
            log.warning("storing media %d failed: %r; removing it", item.id, exc)
            await self.store.delete_media(item.id)
            try:
                await self.storage.delete(written)
            except Exception as cleanup:  # the storage is failing: prune removes the rest
                log.warning("could not remove media %d's files: %r", item.id, cleanup)
            raise StorageFailed(f"media storage failed: {type(exc).__name__}") from exc
        return item

    async def upload(
        self,
        slug: str,
        data: bytes,
        *,
        alt: str | None = None,
        caption: str | None = None,
        credit: str | None = None,
    ) -> MediaItem:
        """Process and store an uploaded image of feed ``slug``."""
        processed = await self.process(data)
        record = NewMedia(
            kind="image",
            renditions=[],
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            alt=alt,
            caption=caption or None,
            credit=credit or None,
        )
        return await self.store_renditions(processed.renditions, record, slug)

    async def add_link(self, slug: str, url: str) -> MediaItem:
        """Resolve ``url`` (oEmbed, once) and record its card; a provider that cannot be
        reached gives a plain link card, never an error."""
        resolved = await self.oembed.resolve(url)
        return await self.add_card(slug, resolved.card, resolved.thumbnail)

    async def add_card(self, slug: str, card: dict[str, Any], thumbnail: bytes | None) -> MediaItem:
        """Record a resolved link card; its thumbnail (if any, and if it is an image) is
        re-hosted through the same pipeline as uploads."""
        renditions: list[Rendition] = []
        if thumbnail is not None:
            try:
                renditions = (await self.process(thumbnail)).renditions
            except ImageRejected as exc:
                log.info("card thumbnail for %s dropped: %s", card.get("url"), exc)
        # The frame URL's secret part: card ids are sequential, and a card not yet published
        # must not be readable by counting.
        record = NewMedia(kind="card", renditions=[], card={**card, "key": secrets.token_hex(12)})
        return await self.store_renditions(renditions, record, slug)

    async def prune(self, grace: timedelta) -> PruneResult:
        """Remove media no entry carries (uploaded more than ``grace`` ago, so an upload
        about to be attached survives) and stored files no media row owns.

        Safe while the app runs: the stored files are listed *first*, and an upload records
        its row before it stores a file, so every file listed that has no row afterwards is
        an orphan (a crashed upload) or belonged to a row pruned here."""
        stored = set(await self.storage.keys())
        # The pruned rows' files are among ``stored - owned`` once the rows are gone.
        rows, _their_keys = await self.store.prune_media(datetime.now(UTC) - grace)
        owned = await self.store.media_keys()
        doomed = sorted(stored - owned)
        await self.storage.delete(doomed)
        return PruneResult(media_removed=rows, files_removed=len(doomed))
