"""Media on every server-rendered surface: reader page, embed, Atom, JSON-LD, OpenGraph —
both databases, both storage backends."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import httpx

from tests.conftest import ADMIN
from tests.media_support import SLUG, MediaBackend, jpeg_with_gps_and_orientation, upload

ATOM = "{http://www.w3.org/2005/Atom}"


async def publish_photos(http: httpx.AsyncClient, count: int) -> list[dict[str, object]]:
    """``count`` entries (oldest first), each with one photo; returns the entries."""
    made = []
    for n in range(count):
        item = (await upload(http, jpeg_with_gps_and_orientation(), alt=f"Photo {n}")).json()
        response = await http.post(
            f"/api/feeds/{SLUG}/entries",
            json={"body": f"Entry {n}", "media": [{"id": item["id"], "caption": f"Cap {n}"}]},
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


async def test_reader_page_embed_atom_json_ld_and_opengraph(
    http: httpx.AsyncClient, media_backend: MediaBackend
) -> None:
    entries = await publish_photos(http, 3)
    newest = entries[-1]
    newest_url = newest["media"][0]["url"]  # type: ignore[index]

    page = await http.get(f"/feeds/{SLUG}")
    assert page.status_code == 200
    html = page.text
    assert html.count('<figure class="lf-media lf-image">') == 3
    assert '<span class="lf-caption">Cap 2</span>' in html
    # The two newest entries (top of the page) load at once; the rest lazily.
    imgs = re.findall(r"<img [^>]*>", html)
    assert len(imgs) == 3
    assert ['loading="lazy"' in tag for tag in imgs] == [False, False, True]
    assert all('width="400" height="800"' in tag and "srcset=" in tag for tag in imgs)

    absolute = (
        newest_url if not newest_url.startswith("/") else f"http://127.0.0.1:8000{newest_url}"
    )
    assert f'<meta property="og:image" content="{absolute}">' in html
    assert '<meta property="og:image:alt" content="Photo 2">' in html
    csp = page.headers["content-security-policy"]
    if media_backend.name == "s3":
        origin = re.match(r"https?://[^/]+", newest_url)
        assert origin is not None and f"img-src {origin.group(0)} " in csp
    assert "frame-src 'self'" in csp

    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
    update = ld["liveBlogUpdate"][0]
    assert update["image"] == [absolute]

    embed = await http.get(f"/embed/{SLUG}")
    assert embed.status_code == 200
    assert embed.text.count('<figure class="lf-media lf-image">') == 3
    assert "frame-src 'self'" in embed.headers["content-security-policy"]

    atom = await http.get(f"/feeds/{SLUG}/atom.xml")
    root = ET.fromstring(atom.content)
    assert root.get("{http://www.w3.org/XML/1998/namespace}base") == "http://127.0.0.1:8000/"
    first = root.find(f"{ATOM}entry")
    assert first is not None
    enclosures = [link for link in first.findall(f"{ATOM}link") if link.get("rel") == "enclosure"]
    assert [(e.get("href"), e.get("type")) for e in enclosures] == [(absolute, "image/jpeg")]
    content = first.find(f"{ATOM}content")
    assert content is not None and "<figure" in (content.text or "")


async def test_feed_without_images_has_no_og_image(http: httpx.AsyncClient) -> None:
    await http.post(f"/api/feeds/{SLUG}/entries", json={"body": "Text only"}, headers=ADMIN)
    html = (await http.get(f"/feeds/{SLUG}")).text
    assert "og:image" not in html
