"""Media upload → processing → storage → entries, on both databases and both storage
backends (a local directory and a real S3-compatible server process)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import ADMIN
from tests.media_support import (
    BLUE,
    GPS_IFD,
    RED,
    SLUG,
    MediaBackend,
    animated_gif,
    decompression_bomb,
    fetch,
    jpeg_with_gps_and_orientation,
    pdf_document,
    png_with_alpha,
    svg_with_script,
    upload,
)


async def test_jpeg_is_oriented_stripped_and_resized(
    http: httpx.AsyncClient, media_backend: MediaBackend
) -> None:
    original = jpeg_with_gps_and_orientation(800, 400)
    source = Image.open(io.BytesIO(original))
    assert source.getexif().get_ifd(GPS_IFD), "the test file must carry GPS to begin with"

    response = await upload(http, original, alt="Two colours", caption="Test", credit="AFP")
    assert response.status_code == 201, response.text
    item = response.json()
    # Orientation 6 applied: the 800×400 stored pixels display as 400×800.
    assert (item["width"], item["height"]) == (400, 800)
    assert item["content_type"] == "image/jpeg"
    widths = sorted({v["width"] for v in item["variants"]})
    assert widths == [320, 400]
    assert {v["content_type"] for v in item["variants"]} == {"image/webp", "image/jpeg"}
    assert item["url"] == next(
        v["url"]
        for v in item["variants"]
        if v["width"] == 400 and v["content_type"] == "image/jpeg"
    )

    for variant in item["variants"]:
        got = await fetch(http, variant["url"])
        assert got.status_code == 200, variant
        assert got.headers["content-type"] == variant["content_type"]
        assert "immutable" in got.headers["cache-control"]
        data = got.content
        assert data != original
        # No metadata at all: no APP1 (EXIF/XMP) segment, no comment, no GPS anywhere.
        decoded = Image.open(io.BytesIO(data))
        assert decoded.format in {"JPEG", "WEBP"}
        assert dict(decoded.getexif()) == {}
        assert not decoded.getexif().get_ifd(GPS_IFD)
        assert "exif" not in decoded.info and "xmp" not in decoded.info
        assert b"LeakyCam" not in data and b"secret newsroom note" not in data
        if decoded.format == "JPEG":
            assert b"\xff\xe1" not in data  # APP1 cannot occur in entropy-coded data
        decoded = decoded.convert("RGB")
        assert (decoded.width, decoded.height) == (variant["width"], variant["height"])
        top = decoded.getpixel((decoded.width // 2, decoded.height // 8))
        bottom = decoded.getpixel((decoded.width // 2, decoded.height * 7 // 8))
        assert _close(top, RED) and _close(bottom, BLUE), (top, bottom)
    # Exactly the listed renditions are stored (both formats of each width).
    assert len(media_backend.list_keys()) == len(item["variants"]) == 4


def _close(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


async def test_png_keeps_transparency_and_drops_text_chunks(http: httpx.AsyncClient) -> None:
    response = await upload(http, png_with_alpha(), filename="a.png", content_type="image/png")
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["content_type"] == "image/png"
    assert (item["width"], item["height"]) == (300, 200)
    for variant in item["variants"]:
        data = (await fetch(http, variant["url"])).content
        decoded = Image.open(io.BytesIO(data))
        assert "Author" not in decoded.info and b"reporter@example.org" not in data
        rgba = decoded.convert("RGBA")
        assert rgba.getpixel((1, 1))[3] == 0  # corner still transparent
        assert rgba.getpixel((rgba.width // 2, rgba.height // 2))[3] == 255


async def test_animated_gif_stays_animated(http: httpx.AsyncClient) -> None:
    response = await upload(http, animated_gif(3), filename="a.gif", content_type="image/gif")
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["content_type"] == "image/gif"
    assert {v["content_type"] for v in item["variants"]} == {"image/webp", "image/gif"}
    for variant in item["variants"]:
        decoded = Image.open(io.BytesIO((await fetch(http, variant["url"])).content))
        assert decoded.is_animated and decoded.n_frames == 3, variant


@pytest.mark.parametrize(
    ("make", "filename", "content_type", "status", "words"),
    [
        (decompression_bomb, "bomb.png", "image/png", 413, "pixels"),
        (pdf_document, "report.jpg", "image/jpeg", 415, "not a supported image"),
        (svg_with_script, "logo.svg", "image/svg+xml", 415, "not a supported image"),
        (lambda: b"just text, named like a photo", "x.jpg", "image/jpeg", 415, "not a supported"),
        (lambda: jpeg_with_gps_and_orientation()[:600], "cut.jpg", "image/jpeg", 422, "damaged"),
    ],
    ids=["bomb", "pdf-renamed-jpg", "svg-with-script", "text", "truncated-jpeg"],
)
async def test_bad_uploads_are_refused_and_leave_nothing(
    http: httpx.AsyncClient,
    media_backend: MediaBackend,
    make: Any,
    filename: str,
    content_type: str,
    status: int,
    words: str,
) -> None:
    response = await upload(http, make(), filename=filename, content_type=content_type)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert media_backend.list_keys() == []
    # Nor is there a media row an entry could attach.
    entry = await http.post(
        f"/api/feeds/{SLUG}/entries", json={"body": "x", "media": [1]}, headers=ADMIN
    )
    assert entry.status_code == 422
    assert "no upload 1" in entry.json()["detail"]


async def test_upload_over_the_limit_is_413(
    http: httpx.AsyncClient, media_backend: MediaBackend
) -> None:
    big = b"\xff\xd8" + b"\0" * (2 * 1024 * 1024 + 100)
    response = await upload(http, big)
    assert response.status_code == 413
    assert "LIVEFEED_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert media_backend.list_keys() == []


async def test_upload_needs_a_reporter_token_of_the_feed(http: httpx.AsyncClient) -> None:
    files = {"file": ("a.png", png_with_alpha(), "image/png")}
    assert (await http.post(f"/api/feeds/{SLUG}/media", files=files)).status_code == 401
    other = await http.post("/api/feeds", json={"slug": "other", "title": "O"}, headers=ADMIN)
    assert other.status_code == 201
    token = (await http.post("/api/feeds/other/tokens", json={}, headers=ADMIN)).json()["token"]
    response = await http.post(
        f"/api/feeds/{SLUG}/media", files=files, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    missing = await http.post(f"/api/feeds/{SLUG}/media", data={"alt": "x"}, headers=ADMIN)
    assert missing.status_code == 422 and "file" in missing.json()["detail"]


async def test_entry_carries_media_in_json_html_and_events(http: httpx.AsyncClient) -> None:
    first = (await upload(http, jpeg_with_gps_and_orientation(), alt="Red over blue")).json()
    second = (
        await upload(
            http, png_with_alpha(), filename="b.png", content_type="image/png", decorative="true"
        )
    ).json()
    response = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={
            "body": "Scene **now**",
            "media": [first["id"], {"id": second["id"], "caption": "Logo", "credit": "Me"}],
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert [m["id"] for m in entry["media"]] == [first["id"], second["id"]]
    assert entry["media"][0]["alt"] == "Red over blue"
    assert entry["media"][0]["variants"] == first["variants"]
    assert entry["media"][1]["caption"] == "Logo" and entry["media"][1]["alt"] == ""
    html = entry["html"]
    assert html.startswith("<p>Scene <strong>now</strong></p>")
    assert html.count("<figure") == 2
    assert f'src="{first["url"]}"' in html
    assert 'width="400" height="800"' in html and 'alt="Red over blue"' in html
    assert 'type="image/webp"' in html and "srcset=" in html and "sizes=" in html
    assert '<span class="lf-caption">Logo</span>' in html and "lf-credit" in html
    assert 'alt=""' in html

    changes = (await http.get(f"/api/feeds/{SLUG}/changes?since=0")).json()
    created = [e for e in changes["events"] if e["type"] == "entry"][-1]
    assert created["entry"]["media"] == entry["media"]
    assert created["entry"]["html"] == html

    # Edit: drop the first image, keep the second; the html follows.
    edited = await http.patch(
        f"/api/feeds/{SLUG}/entries/{entry['id']}",
        json={"media": [second["id"]]},
        headers=ADMIN,
    )
    assert edited.status_code == 200, edited.text
    assert [m["id"] for m in edited.json()["media"]] == [second["id"]]
    assert edited.json()["html"].count("<figure") == 1
    assert edited.json()["rev"] > entry["rev"]
    same = await http.patch(
        f"/api/feeds/{SLUG}/entries/{entry['id']}",
        json={"media": [second["id"]], "body": "Scene **now**"},
        headers=ADMIN,
    )
    assert same.json()["rev"] == edited.json()["rev"], "a no-op edit takes no revision"
    listed = (await http.get(f"/api/feeds/{SLUG}/entries")).json()["entries"][0]
    assert listed["media"] == edited.json()["media"]


async def test_entry_media_is_checked(http: httpx.AsyncClient) -> None:
    no_alt = await upload(http, png_with_alpha(), filename="a.png", content_type="image/png")
    assert no_alt.status_code == 201
    media_id = no_alt.json()["id"]
    response = await http.post(
        f"/api/feeds/{SLUG}/entries", json={"body": "x", "media": [media_id]}, headers=ADMIN
    )
    assert response.status_code == 422
    assert "alt text is required" in response.json()["detail"]
    ok = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={"body": "x", "media": [{"id": media_id, "alt": "Green square"}]},
        headers=ADMIN,
    )
    assert ok.status_code == 201, ok.text
    twice = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={"body": "x", "media": [{"id": media_id, "alt": "a"}, {"id": media_id, "alt": "b"}]},
        headers=ADMIN,
    )
    assert twice.status_code == 422 and "twice" in twice.json()["detail"]
    # Media belongs to its feed.
    await http.post("/api/feeds", json={"slug": "other", "title": "O"}, headers=ADMIN)
    foreign = await http.post(
        "/api/feeds/other/entries",
        json={"body": "x", "media": [{"id": media_id, "alt": "a"}]},
        headers=ADMIN,
    )
    assert foreign.status_code == 422 and "no upload" in foreign.json()["detail"]
    bad = await http.post(
        f"/api/feeds/{SLUG}/entries", json={"body": "x", "media": ["one"]}, headers=ADMIN
    )
    assert bad.status_code == 422


async def test_deleted_entry_drops_its_media_from_json(http: httpx.AsyncClient) -> None:
    item = (
        await upload(http, png_with_alpha(), filename="a.png", content_type="image/png", alt="a")
    ).json()
    created = await http.post(
        f"/api/feeds/{SLUG}/entries", json={"body": "x", "media": [item["id"]]}, headers=ADMIN
    )
    entry_id = created.json()["id"]
    assert (await http.delete(f"/api/feeds/{SLUG}/entries/{entry_id}", headers=ADMIN)).status_code
    changes = (await http.get(f"/api/feeds/{SLUG}/changes?since=0")).json()["events"]
    deleted = changes[-1]
    assert deleted["op"] == "deleted" and deleted["entry"]["media"] == []
    # The files stay until `livefeed media prune` (tests/test_media_prune.py).
    assert (await fetch(http, item["url"])).status_code == 200


async def test_large_rotated_jpeg_is_decoded_small_and_oriented(http: httpx.AsyncClient) -> None:
    """A 12 MP photo shot sideways: decoded at reduced scale (app/media/processing.py), still
    oriented, largest rendition 1600 px wide."""
    response = await upload(http, jpeg_with_gps_and_orientation(4000, 3000), alt="Big")
    assert response.status_code == 201, response.text
    item = response.json()
    assert (item["width"], item["height"]) == (1600, 2133)
    assert sorted({v["width"] for v in item["variants"]}) == [320, 640, 1024, 1600]
    decoded = Image.open(io.BytesIO((await fetch(http, item["url"])).content)).convert("RGB")
    assert _close(decoded.getpixel((800, 100)), RED) and _close(decoded.getpixel((800, 2000)), BLUE)


def _occupy(path: str) -> None:
    Path(path).write_bytes(b"not a directory")


async def test_storage_failure_is_503_and_keeps_nothing(
    http: httpx.AsyncClient, media_backend: MediaBackend, request: pytest.FixtureRequest
) -> None:
    if media_backend.name == "local":
        # The media directory cannot be created: a file stands where it should be.
        _occupy(media_backend.settings["media_dir"])
    else:
        client = request.getfixturevalue("s3_server").client()
        client.delete_bucket_policy(Bucket=media_backend.settings["s3_bucket"])
        client.delete_bucket(Bucket=media_backend.settings["s3_bucket"])
    response = await upload(http, png_with_alpha(), filename="a.png", content_type="image/png")
    assert response.status_code == 503, response.text
    assert "media storage failed" in response.json()["detail"]
    entry = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={"body": "x", "media": [{"id": 1, "alt": "a"}]},
        headers=ADMIN,
    )
    assert entry.status_code == 422 and "no upload 1" in entry.json()["detail"]


async def test_studio_preview_renders_draft_media(http: httpx.AsyncClient) -> None:
    item = (await upload(http, png_with_alpha(), filename="a.png", content_type="image/png")).json()
    draft = {"body": "Draft", "feed": SLUG, "media": [{"id": item["id"], "caption": "Cap"}]}
    response = await http.post("/api/preview", json=draft, headers=ADMIN)
    assert response.status_code == 200, response.text
    html = response.json()["html"]
    assert html.startswith("<p>Draft</p><figure")  # no alt yet is fine in a preview
    assert '<span class="lf-caption">Cap</span>' in html
    no_feed = await http.post(
        "/api/preview", json={"body": "x", "media": [item["id"]]}, headers=ADMIN
    )
    assert no_feed.status_code == 422 and "feed" in no_feed.json()["detail"]
    await http.post("/api/feeds", json={"slug": "other", "title": "O"}, headers=ADMIN)
    token = (await http.post("/api/feeds/other/tokens", json={}, headers=ADMIN)).json()["token"]
    foreign = await http.post(
        "/api/preview", json=draft, headers={"Authorization": f"Bearer {token}"}
    )
    assert foreign.status_code == 403
