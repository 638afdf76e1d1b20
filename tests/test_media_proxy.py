"""deploy/nginx.conf and media: uploads larger than the general body cap pass the proxy, and
nginx serves the media directory itself (it still does with the app stopped)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.media_support import photo
from tests.ops_support import NginxProxy
from tests.support.services import LivefeedServer


@pytest.fixture
def media_dir() -> Iterator[Path]:
    """nginx's workers run as nobody: the media directory must be reachable by them, as in
    the compose volume (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="livefeed-media-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_nginx_serves_uploaded_media_directly(tmp_path: Path, media_dir: Path) -> None:
    app = LivefeedServer(
        {
            "LIVEFEED_ADMIN_TOKEN": ADMIN_TOKEN,
            "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/lf.db",
            "LIVEFEED_MEDIA_DIR": str(media_dir),
        }
    )
    with app:
        proxy = NginxProxy([f"127.0.0.1:{app.port}"] * 2, media_root=media_dir)
        proxy.start()
        try:
            async with httpx.AsyncClient(base_url=proxy.base_url, timeout=30) as http:
                created = await http.post(
                    "/api/feeds", json={"slug": "proxied", "title": "P"}, headers=ADMIN
                )
                assert created.status_code == 201, created.text
                big = photo(3000, 2000)
                assert len(big) > 1024 * 1024, "must exceed the proxy's general 1m body cap"
                uploaded = await http.post(
                    "/api/feeds/proxied/media",
                    files={"file": ("big.jpg", big, "image/jpeg")},
                    data={"alt": "noise"},
                    headers=ADMIN,
                )
                assert uploaded.status_code == 201, uploaded.text
                url = uploaded.json()["url"]
                assert url.startswith("/media/")
                app.stop()
                served = await http.get(url)
                assert served.status_code == 200, proxy.error_log.read_text()[-2000:]
                assert served.headers["content-type"] == "image/jpeg"
                assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
                assert served.content == (media_dir / url.removeprefix("/media/")).read_bytes()
                assert (await http.get("/media/00/none/320.jpg")).status_code == 404
        finally:
            proxy.close()
