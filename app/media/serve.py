"""``/media``: the local backend's files, served by the app when nginx is not in front.

Every key is written once and never changed, so responses are cacheable forever
(``Cache-Control: public, max-age=31536000, immutable``); ``nosniff`` keeps browsers to the
stored content type.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.media.storage import IMMUTABLE


class MediaFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def media_app(directory: str) -> MediaFiles:
    """Mount at ``/media``. The directory need not exist yet: the first upload creates it."""
    return MediaFiles(directory=directory, check_dir=False)
