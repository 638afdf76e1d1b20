"""Media test support: a real S3-compatible server process, the storage-backend fixture,
and the image files the media tests upload (all made here, by Pillow, at test time).

``moto_server`` (from ``moto[server]``, a dev dependency) speaks the S3 HTTP API; it runs as
its own process on 127.0.0.1 and boto3 in the app talks to it over HTTP, exactly as it
would to AWS, MinIO or Garage. Loaded through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from app.config import Settings
from app.main import create_app
from app.store.engine import make_engine
from app.store.migrate import upgrade
from tests.support.fixtures import unique_name
from tests.support.services import (
    HOST,
    ServiceUnavailable,
    _Process,
    free_port,
)

ADMIN_TOKEN = "test-admin-token"  # as in tests/conftest.py
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
S3_KEY = "test-access-key"
S3_SECRET = "test-secret-key"


class MotoS3Server(_Process):
    """``moto_server`` on 127.0.0.1:<free port>: a real process speaking the S3 HTTP API."""

    name = "moto_server"

    def __init__(self) -> None:
        super().__init__()
        binary = Path(sys.executable).parent / "moto_server"
        if not binary.exists():
            found = shutil.which("moto_server")
            if found is None:
                raise ServiceUnavailable("moto_server is missing: pip install -e '.[dev]'")
            binary = Path(found)
        self.binary = str(binary)
        self.port = free_port()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="livefeed-moto-"))
        self.log_path = self.tmpdir / "moto.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoS3Server:
        if not self.is_running:
            self._spawn([self.binary, "-H", HOST, "-p", str(self.port)], cwd=self.tmpdir)
            self._wait_ready(self._answers, timeout, f"moto_server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            conn = HTTPConnection(HOST, self.port, timeout=1)
            conn.request("GET", "/")
            ok = conn.getresponse().status < 500
            conn.close()
            return ok
        except OSError:
            return False

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
        )

    def close(self) -> None:
        self._stop(15, timeout=5)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    server = MotoS3Server()
    try:
        server.start()
        yield server
    finally:
        server.close()


@dataclass
class MediaBackend:
    """One storage backend for a test: the settings that select it and a way to list what
    it holds, independent of the app."""

    name: str
    settings: dict[str, Any]
    list_keys: Any = field(repr=False)


@pytest.fixture(params=["local", "s3"])
def media_backend(request: pytest.FixtureRequest, tmp_path: Path) -> MediaBackend:
    """The local directory (default) and a bucket on a real S3-compatible server: the same
    tests run on both."""
    if request.param == "local":
        root = tmp_path / "media"

        def local_keys() -> list[str]:
            if not root.exists():
                return []
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

        return MediaBackend("local", {"media_dir": str(root)}, local_keys)
    server: MotoS3Server = request.getfixturevalue("s3_server")
    bucket = unique_name("media").replace("_", "-").lower()
    client = server.client()
    client.create_bucket(Bucket=bucket)
    # As an operator would: readers fetch objects anonymously (docs/deployment.md).
    client.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))

    def s3_keys() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    return MediaBackend(
        "s3",
        {
            "media_backend": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": server.url,
            "s3_access_key_id": S3_KEY,
            "s3_secret_access_key": S3_SECRET,
        },
        s3_keys,
    )


#: The feed the media_app/http fixtures create.
SLUG = "photos"


@pytest.fixture
async def media_app(
    database_url: str, media_backend: MediaBackend, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    engine = make_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        redis_url=None,
        max_upload_bytes=2 * 1024 * 1024,
        # The tests' own oEmbed provider runs on 127.0.0.1 (the SSRF guard refuses it otherwise).
        oembed_allow_private_hosts="127.0.0.1",
        **media_backend.settings,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(media_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=media_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/api/feeds", json={"slug": SLUG, "title": "Photos"}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        yield client


async def upload(
    http: httpx.AsyncClient,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    **fields: str,
) -> httpx.Response:
    return await http.post(
        f"/api/feeds/{SLUG}/media",
        files={"file": (filename, data, content_type)},
        data=fields,
        headers=ADMIN,
    )


async def fetch(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET a media URL: rooted at the app (local backend) or absolute (S3 server)."""
    if url.startswith("/"):
        return await http.get(url)
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)


def public_read_policy(bucket: str) -> str:
    import json

    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


def media_env(backend: MediaBackend) -> dict[str, str]:
    """``backend`` as LIVEFEED_* environment variables, for ``livefeed serve`` processes."""
    return {f"LIVEFEED_{k.upper()}": str(v) for k, v in backend.settings.items()}


# -- a local oEmbed provider ------------------------------------------------------------------


class OEmbedProvider:
    """A video site on 127.0.0.1, served by the test itself: ``/watch/ID`` pages with oEmbed
    discovery, ``/oembed`` JSON, ``/thumb.jpg`` and ``/player/ID``. Records every request
    path, so tests can tell exactly when the provider was contacted."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        provider = self
        self.requests: list[str] = []
        self.thumbnail = jpeg_with_gps_and_orientation(640, 360)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                provider.requests.append(self.path)
                body, kind, status = provider.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def answer(self, path: str) -> tuple[bytes, str, int]:
        import json
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(path)
        if parts.path.startswith("/watch/"):
            video = parts.path.rsplit("/", 1)[1]
            oembed = f"{self.base}/oembed?url={self.base}/watch/{video}&amp;format=json"
            page = (
                f'<html><head><link rel="alternate" type="application/json+oembed" '
                f'href="{oembed}" title="x"></head><body>video {video}</body></html>'
            )
            return page.encode(), "text/html; charset=utf-8", 200
        if parts.path == "/oembed":
            url = parse_qs(parts.query)["url"][0]
            video = url.rsplit("/", 1)[1]
            data = {
                "version": "1.0",
                "type": "video",
                "title": f"Press conference {video}",
                "author_name": "Local TV",
                "provider_name": "LocalTube",
                "width": 640,
                "height": 360,
                "thumbnail_url": f"{self.base}/thumb.jpg",
                "html": f'<iframe width="640" height="360" src="{self.base}/player/{video}" '
                'frameborder="0" allowfullscreen></iframe>',
            }
            return json.dumps(data).encode(), "application/json", 200
        if parts.path == "/thumb.jpg":
            return self.thumbnail, "image/jpeg", 200
        if parts.path.startswith("/player/"):
            return b"<html><body><p id=player>PLAYING</p></body></html>", "text/html", 200
        return b"not found", "text/plain", 404

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def oembed_provider() -> Iterator[OEmbedProvider]:
    provider = OEmbedProvider()
    try:
        yield provider
    finally:
        provider.close()


# -- image files ----------------------------------------------------------------------------

RED = (220, 20, 20)
BLUE = (20, 20, 220)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps_and_orientation(width: int = 800, height: int = 400) -> bytes:
    """A JPEG whose stored pixels are red (left half) and blue (right half), tagged with
    EXIF orientation 6 (display rotated 90° clockwise: red on top, blue below), a GPS
    position, a camera make and a comment."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "LeakyCam"  # Make
    exif[GPS_IFD] = {
        1: "N",
        2: (48.0, 51.0, 24.0),
        3: "E",
        4: (2.0, 21.0, 3.0),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes(), comment=b"secret newsroom note")
    return out.getvalue()


def png_with_alpha(width: int = 300, height: int = 200) -> bytes:
    """A PNG, transparent except for an opaque green square in the middle, with a text chunk."""
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((0, 160, 0, 255), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "reporter@example.org")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def animated_gif(frames: int = 3, size: tuple[int, int] = (120, 80)) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def decompression_bomb(side: int = 20_000) -> bytes:
    """A tiny PNG (a few tens of KiB) that would decode to side² pixels (400 megapixels)."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def pdf_document() -> bytes:
    """A minimal PDF (to be uploaded under a .jpg name with an image/jpeg type)."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" '
        b'height="100"><script>alert(document.cookie)</script>'
        b'<rect width="100" height="100" fill="red"/></svg>'
    )


def photo(width: int, height: int, seed: int = 0) -> bytes:
    """A camera-like JPEG (noise plus gradients: realistic encode/decode cost)."""
    import random

    rng = random.Random(seed)
    small = Image.new("RGB", (64, 48))
    small.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64 * 48)]
    )
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def press_room(width: int = 1600, height: int = 900) -> bytes:
    """A drawn picture of a conference room (rows of seats, a lectern, a screen): a photo-like
    JPEG for the README screenshot."""
    from PIL import ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # warm wall fading into the floor
        shade = int(70 + 90 * y / height)
        draw.line([(0, y), (width, y)], fill=(shade + 40, shade + 20, shade))
    draw.rectangle(
        [width * 0.3, height * 0.12, width * 0.7, height * 0.45], fill=(28, 60, 120)
    )  # screen
    draw.rectangle([width * 0.46, height * 0.4, width * 0.54, height * 0.62], fill=(90, 50, 30))
    for row in range(5):  # seats, nearer rows larger
        y = height * (0.62 + row * 0.075)
        seat = 22 + row * 8
        for x in range(int(seat), width, int(seat * 2.2)):
            draw.rounded_rectangle(
                [x, y, x + seat * 1.6, y + seat], radius=6, fill=(120 - row * 10, 20, 30)
            )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()
