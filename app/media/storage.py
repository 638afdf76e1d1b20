"""Where media files live: one interface, a local directory (default) or an S3 bucket.

Keys are flat, content-named paths like ``ab/cdef….webp``: written once, never changed,
so they are served with ``Cache-Control: public, max-age=31536000, immutable``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from app.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

IMMUTABLE = "public, max-age=31536000, immutable"


class MediaStorage(Protocol):
    """Stores immutable files by key and tells readers where to fetch them."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (complete or not at all)."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Remove ``keys``; missing ones are ignored."""
        ...

    async def keys(self) -> list[str]:
        """Every stored key."""
        ...

    def url(self, key: str) -> str:
        """The URL readers fetch ``key`` from (absolute, or rooted at this app: ``/media/…``)."""
        ...


class LocalStorage:
    """A directory on disk, served by the app at ``/media`` (or directly by nginx)."""

    def __init__(self, root: Path, public_url: str = "/media") -> None:
        self.root = root.resolve()
        self.public_url = public_url.rstrip("/")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"bad media key {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a reader (or nginx) never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def delete(self, keys: list[str]) -> None:
        def _delete() -> None:
            for key in keys:
                self._path(key).unlink(missing_ok=True)

        await asyncio.to_thread(_delete)

    async def keys(self) -> list[str]:
        def _walk() -> list[str]:
            if not self.root.is_dir():
                return []
            return sorted(
                str(p.relative_to(self.root))
                for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )

        return await asyncio.to_thread(_walk)

    def url(self, key: str) -> str:
        return f"{self.public_url}/{key}"


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Garage, Ceph…) through boto3, off the loop."""

    def __init__(self, client: S3Client, bucket: str, public_url: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.public_url = public_url.rstrip("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType=content_type,
            CacheControl=IMMUTABLE,
        )

    async def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self.prefix + key} for key in keys[start : start + 1000]]
            await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},  # type: ignore[typeddict-item]
            )

    async def keys(self) -> list[str]:
        def _list() -> list[str]:
            found: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return sorted(found)

        return await asyncio.to_thread(_list)

    def url(self, key: str) -> str:
        return f"{self.public_url}/{self.prefix}{key}"


def media_base_url(settings: Settings) -> str:
    """Where readers fetch media from: ``LIVEFEED_MEDIA_PUBLIC_URL``, else ``/media`` (local)
    or the bucket's path-style URL on its endpoint (S3)."""
    if settings.media_public_url is not None:
        return settings.media_public_url
    if settings.media_backend == "local":
        return "/media"
    endpoint = settings.s3_endpoint_url or f"https://s3.{settings.s3_region}.amazonaws.com"
    return f"{endpoint}/{settings.s3_bucket}"


def media_csp(csp: str, settings: Settings) -> str:
    """``csp`` (a page's Content-Security-Policy) widened for media: images from the media
    origin when it is another one, and link-card frames from this origin (``/cards/…``)."""
    base = media_base_url(settings)
    if base.startswith(("http://", "https://")):
        parts = urlsplit(base)
        csp = csp.replace("img-src ", f"img-src {parts.scheme}://{parts.netloc} ", 1)
    csp = csp.replace("frame-src 'none'", "frame-src 'self'")
    if "frame-src 'self'" not in csp:
        csp = csp.replace("frame-src ", "frame-src 'self' ", 1)
    return csp


def make_storage(settings: Settings) -> MediaStorage:
    """The backend ``LIVEFEED_MEDIA_BACKEND`` names, configured from ``settings``."""
    if settings.media_backend == "local":
        return LocalStorage(Path(settings.media_dir), media_base_url(settings))
    import boto3
    from botocore.config import Config

    if not settings.s3_bucket:
        raise ValueError("LIVEFEED_S3_BUCKET is required with LIVEFEED_MEDIA_BACKEND=s3")
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )
    return S3Storage(client, settings.s3_bucket, media_base_url(settings), settings.s3_prefix)
